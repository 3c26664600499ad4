rule collect_benchmarks:
    # One table for the workflow, one row per run (failed runs included): parameters, commit, run
    # config, end reason and cause, wall/CPU time, the warden's peak, Snakemake's benchmark
    # columns, the simulation's timers; the report's page of failed runs, and its page of
    # commits compared (the runs' data directories, made by the same jobs as their records).
    # The parameters come through the records (a run whose results/params/<run>.json changed is
    # redone, so its record is newer): the parameter files are not inputs of their own.
    input:
        records=expand(layout.RECORD, run=RUNS),
    output:
        csv=report(
            layout.TABLE_CSV,
            caption="../workflow/report/benchmarks_csv.rst",
            category="Benchmarks",
            labels={"table": "benchmarks.csv (download)"},
        ),
        h5=layout.TABLE_H5,
        html=report(
            layout.TABLE_HTML,
            caption="../workflow/report/benchmarks.rst",
            category="Benchmarks",
            labels={"table": "one row per run"},
        ),
        # The failed runs: cause, where their files are kept, their kept figures.
        failures=report(
            layout.FAILURES_HTML,
            caption="../workflow/report/failures.rst",
            category="Failures",
            labels={"page": "failed runs"},
        ),
        # Did the results change? Each simulation/param set at two commits: both runs' time
        # and memory, and whether their outputs are identical (file by file, the datasets that
        # differ); one line when no simulation lists two commits.
        commits=report(
            layout.COMMITS_HTML,
            caption="../workflow/report/commits.rst",
            category="Commits",
            labels={"page": "did the results change?"},
        ),
        commits_csv=layout.COMMITS_CSV,
    log:
        layout.log(layout.COLLECT_BENCHMARKS, layout.COLLECT_BENCHMARKS),
    conda:
        "../workflow/envs/simwarden.yaml"
    resources:
        **job_resources(mem_mb=500, runtime=5),
    params:
        runs=list(RUNS),
    script:
        "../scripts/collect_benchmarks.py"


rule plot_summary:
    # Wall time and peak memory of every run, coloured by why it ended: an SVG drawn with the
    # standard library from the CSV (bars up to 60 runs, a scatter above). Called through
    # shell: and the lean entry point simwarden.jobs (script: and matplotlib would cost ~1 s).
    input:
        layout.TABLE_CSV,
    output:
        report(
            layout.SUMMARY_PLOT,
            caption="../workflow/report/summary.rst",
            category="Benchmarks",
            labels={"plot": "wall time and peak memory per run"},
        ),
    log:
        layout.log(layout.PLOT_SUMMARY, layout.PLOT_SUMMARY),
    conda:
        "../workflow/envs/simwarden.yaml"
    resources:
        **job_resources(mem_mb=500, runtime=5),
    params:
        # The interpreter that runs the job (untracked, as run_simulation's).
        python=UntrackedText(JOB_PYTHON),
    shell:
        "{params.python:q} -m simwarden.jobs plot_summary {input:q} {output:q} 2> {log:q}"
