rule validate_params:
    # One parameter set (YAML, JSON or CamStim .cfg) with its sweep values laid over it,
    # checked against the schema with every error reported at once, defaults filled.
    input:
        params=lambda w: RUNS[w.run].param_file,
        code="results/code/provenance.json",
    output:
        "results/params/{run}.json",
    params:
        overrides=lambda w: RUNS[w.run].overrides,
        schema=config["param_schema"],
    log:
        "logs/validate_params/{run}.log",
    benchmark:
        "benchmarks/validate_params/{run}.tsv"
    resources:
        **job_resources(mem_mb=200, runtime=5),
    script:
        "../scripts/validate_params.py"
