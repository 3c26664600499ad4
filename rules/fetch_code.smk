rule fetch_code:
    # One repository at one commit, from the shared, locked cache: one job per checkout (code
    # id), shared by every run of that repository and commit. Its file names the checkout;
    # every later rule reads the code through it.
    output:
        layout.CODE,
    log:
        layout.log(layout.FETCH_CODE, "{code}"),
    benchmark:
        layout.benchmark(layout.FETCH_CODE, "{code}")
    conda:
        "../workflow/envs/simwarden.yaml"
    resources:
        **job_resources(mem_mb=500, runtime=30),
    params:
        url=lambda w: CHECKOUTS[w.code].repository,
        ref=lambda w: CHECKOUTS[w.code].ref,
        cache_dir=config.get("cache_dir"),
        # Who needs this checkout, named when the commit cannot be fetched. Not tracked (an
        # object Snakemake does not store): another simulation of the same commit reruns nothing.
        checkout=lambda w: CHECKOUTS[w.code],
    script:
        "../scripts/fetch_code.py"
