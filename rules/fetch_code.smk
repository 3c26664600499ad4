rule fetch_code:
    # The repository at the pinned commit, from the shared, locked cache. The provenance file
    # names the checkout; every later rule reads the code through it.
    output:
        "results/code/provenance.json",
    params:
        url=REPOSITORY,
        ref=config["commit"],
        cache_dir=config.get("cache_dir"),
    log:
        "logs/fetch_code/fetch_code.log",
    benchmark:
        "benchmarks/fetch_code/fetch_code.tsv"
    resources:
        **job_resources(mem_mb=500, runtime=30),
    script:
        "../scripts/fetch_code.py"
