rule collect_benchmarks:
    # One table for the workflow, one row per run: parameters, commit, run config, end reason,
    # wall/CPU time, the warden's peak, Snakemake's benchmark columns, the simulation's timers.
    input:
        records=expand("results/runs/{run}/record.json", run=RUNS),
        params=expand("results/params/{run}.json", run=RUNS),
    output:
        csv=report(
            "results/benchmarks.csv",
            caption="../workflow/report/benchmarks_csv.rst",
            category="Benchmarks",
            labels={"table": "benchmarks.csv (download)"},
        ),
        h5="results/benchmarks.h5",
        html=report(
            "results/benchmarks.html",
            caption="../workflow/report/benchmarks.rst",
            category="Benchmarks",
            labels={"table": "one row per run"},
        ),
    params:
        runs=list(RUNS),
    log:
        "logs/collect_benchmarks/collect_benchmarks.log",
    resources:
        **job_resources(mem_mb=500, runtime=5),
    script:
        "../scripts/collect_benchmarks.py"


rule plot_summary:
    # Wall time and peak memory of every run, coloured by why it ended.
    input:
        "results/benchmarks.csv",
    output:
        report(
            "results/plots/summary.png",
            caption="../workflow/report/summary.rst",
            category="Benchmarks",
            labels={"plot": "wall time and peak memory per run"},
        ),
    log:
        "logs/plot_summary/plot_summary.log",
    resources:
        **job_resources(mem_mb=500, runtime=5),
    script:
        "../scripts/plot_summary.py"
