rule check_runs:
    # Every run's record, judged: fails (one line per failed run, exit 1) while any run failed,
    # so Snakemake's exit status stays non-zero, and marks those runs to be redone by the next
    # invocation. The aggregates do not wait for it: they include the failed runs.
    input:
        expand(layout.RECORD, run=RUNS),
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
