rule validate_params:
    # One parameter set (YAML, JSON or CamStim .cfg) with its sweep values laid over it,
    # checked against the schema with every error reported at once, defaults filled.
    input:
        params=lambda w: RUNS[w.run].param_file,
        code=layout.PROVENANCE,
    output:
        layout.PARAMS,
    log:
        layout.log(layout.VALIDATE_PARAMS),
    benchmark:
        layout.benchmark(layout.VALIDATE_PARAMS)
    conda:
        "../workflow/envs/simwarden.yaml"
    resources:
        **job_resources(mem_mb=200, runtime=5),
    params:
        overrides=lambda w: RUNS[w.run].overrides,
        schema=config["param_schema"],
    script:
        "../scripts/validate_params.py"
