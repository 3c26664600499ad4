rule check_runs:
    # Every run's record, judged: fails (one line per failed run, exit 1) while any run failed,
    # so Snakemake's exit status stays non-zero, and marks those runs to be redone by the next
    # invocation. It runs after the table (which includes the failed runs), the table made
    # from every record standing in for them: a failed job's error block lists one input, not
    # every record of a 10,000-run sweep twice (its start, its error).
    input:
        table=layout.TABLE_CSV,
        # While a parameter set is refused (the file is rewritten at every parse then): so that
        # check_runs runs again and fails, also for a run kept as it was (not run again).
        refused=([layout.PARAMS_ERRORS] if os.path.exists(layout.PARAMS_ERRORS) else []),
    output:
        layout.RUNS_OK,
    log:
        layout.log(layout.CHECK_RUNS, layout.CHECK_RUNS),
    benchmark:
        layout.benchmark(layout.CHECK_RUNS, layout.CHECK_RUNS)
    localrule: True
    conda:
        "../workflow/envs/simwarden.yaml"
    resources:
        **job_resources(mem_mb=200, runtime=5),
    params:
        runs=list(RUNS),
    script:
        "../scripts/check_runs.py"
