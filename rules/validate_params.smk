from simwarden.pipeline.validation import (
    ParamSource,
    ValidationPlan,
    validate_when_parsed,
)

# What each run's parameters are made of. Validated here, when the Snakefile is parsed, for
# every run whose schema can be read now (its results/params/<run>.json is then a source file,
# rewritten only when its content changes, so exactly the edited runs are redone); the rest
# (a schema in a checkout not fetched yet) by the validate_params job below. A refused set's
# file holds its problems: its run fails saying them, the others go on. Only the main Snakemake
# process writes (a dry run and simwarden status too: the files are derived, and written only
# when they change); a job's own Snakemake (SLURM) sees the same pending runs.
VALIDATION = ValidationPlan(
    {
        run: ParamSource(
            param_file=plan.param_file,
            overrides=plan.overrides,
            schema=plan.schema,
            code=layout.for_code(layout.CODE, plan.code),
        )
        for run, plan in RUNS.items()
    }
)
PENDING_VALIDATION = (
    validate_when_parsed(VALIDATION)
    if workflow.is_main_process
    else VALIDATION.pending()
)


rule validate_params:
    # The parameter sets of runs whose schema is in a checkout fetched by this invocation (the
    # first run, a new commit): every set (YAML, JSON or CamStim .cfg) with its sweep values
    # laid over it, checked against its schema with every error of every run reported at once,
    # defaults filled. One job for all of them, after fetch_code.
    input:
        VALIDATION.inputs(PENDING_VALIDATION),
    output:
        [layout.for_run(layout.PARAMS, run) for run in PENDING_VALIDATION],
    log:
        layout.log(layout.VALIDATE_PARAMS, layout.VALIDATE_PARAMS),
    benchmark:
        layout.benchmark(layout.VALIDATE_PARAMS, layout.VALIDATE_PARAMS)
    conda:
        "../workflow/envs/simwarden.yaml"
    resources:
        **job_resources(mem_mb=500, runtime=10),
    params:
        # Not tracked (Snakemake does not serialise them): a run is pending only while its
        # file is missing or its code file is to be made, so the job runs for those anyway.
        plan=VALIDATION,
        runs=UntrackedText(" ".join(PENDING_VALIDATION)),
    script:
        "../scripts/validate_params.py"
