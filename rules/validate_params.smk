rule validate_params:
    # One parameter set (YAML, JSON or CamStim .cfg) with its sweep values laid over it,
    # checked against the schema with every error reported at once, defaults filled. A
    # simulation without param sets gets {} (its schema's defaults, when it has a schema).
    input:
        params=param_files,
        code=code_file,
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
        schema=lambda w: RUNS[w.run].schema,
    script:
        "../scripts/validate_params.py"
