rule plot_resources:
    # Memory and CPU over time from the warden's samples, with the limit drawn in and the end
    # reason marked: the first thing to look at when a run was slow or stopped.
    input:
        record="results/runs/{run}/record.json",
        samples="results/runs/{run}/samples.tsv",
    output:
        report(
            "results/plots/{run}.resources.png",
            caption="../workflow/report/resources.rst",
            category="Resources",
            labels={"run": "{run}", "plot": "memory and CPU"},
        ),
    log:
        "logs/plot_resources/{run}.log",
    resources:
        **job_resources(mem_mb=300, runtime=5),
    script:
        "../scripts/plot_resources.py"
