rule fetch_code:
    # The repository at the pinned commit, from the shared, locked cache. The provenance file
    # names the checkout; every later rule reads the code through it.
    output:
        layout.PROVENANCE,
    log:
        layout.log(layout.FETCH_CODE, layout.FETCH_CODE),
    benchmark:
        layout.benchmark(layout.FETCH_CODE, layout.FETCH_CODE)
    conda:
        "../workflow/envs/simwarden.yaml"
    resources:
        **job_resources(mem_mb=500, runtime=30),
    params:
        url=REPOSITORY,
        ref=COMMIT,
        cache_dir=config.get("cache_dir"),
    script:
        "../scripts/fetch_code.py"
