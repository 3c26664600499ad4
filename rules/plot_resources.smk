rule plot_resources:
    # Memory and CPU over time from the warden's samples, with the limit drawn in and the end
    # reason marked: the first thing to look at when a run was slow or stopped.
    input:
        record=layout.RECORD,
        samples=layout.SAMPLES,
    output:
        report(
            layout.RESOURCES_PLOT,
            caption="../workflow/report/resources.rst",
            category="Resources",
            labels={"run": "{run}", "plot": "memory and CPU"},
        ),
    log:
        layout.log(layout.PLOT_RESOURCES),
    conda:
        "../workflow/envs/simwarden.yaml"
    resources:
        **job_resources(mem_mb=300, runtime=5),
    script:
        "../scripts/plot_resources.py"
