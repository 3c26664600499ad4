# Environments some runs' runner.environment names, keyed by env id (none: no build_env job).
ENVS = PLAN.envs


rule build_env:
    # A simulation's own virtual environment: one job per checkout and runner.environment,
    # shared by every run of them. The environment itself is built once per content hash in
    # the shared cache (pipeline.envs); its file names the interpreter and the packages.
    input:
        code=lambda w: layout.for_code(layout.CODE, ENVS[w.env].code),
    output:
        layout.ENV,
    log:
        layout.log(layout.BUILD_ENV, "{env}"),
    benchmark:
        layout.benchmark(layout.BUILD_ENV, "{env}")
    wildcard_constraints:
        env=layout.CODE_PATTERN,
    conda:
        "../workflow/envs/simwarden.yaml"
    resources:
        **job_resources(mem_mb=1000, runtime=30),
    params:
        environment=lambda w: ENVS[w.env].environment,
        cache_dir=config.get("cache_dir"),
    script:
        "../scripts/build_env.py"
