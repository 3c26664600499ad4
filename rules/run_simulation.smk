rule run_simulation:
    # The simulation under the warden: memory (resources.mem_mb) and time limits enforced,
    # the tree stopped and reaped on a breach (exit 137 for memory, so retries: with an
    # attempt-scaled mem_mb in the profile gets more memory), a record of why it ended.
    input:
        params="results/params/{run}.json",
        code="results/code/provenance.json",
    output:
        data=directory("results/runs/{run}/data"),
        record="results/runs/{run}/record.json",
        samples="results/runs/{run}/samples.tsv",
        # Every matplotlib figure of a Python simulation, saved at its end with provenance.
        figures=report(
            directory("results/figures/{run}"),
            patterns=["png/{name}.png"],
            caption="../workflow/report/figure.rst",
            category="Figures",
            subcategory="{run}",
            labels={"figure": "{name}"},
        ),
    params:
        runner=config["runner"],
        figure_formats=config["figure_formats"],
        run_config=config["run_config"],
    log:
        "logs/run_simulation/{run}.log",
    benchmark:
        "benchmarks/run_simulation/{run}.tsv"
    retries: config["run_config"]["retries"]
    resources:
        mem_mb=lambda w, attempt: config["run_config"]["mem_mb"] * attempt,
        runtime=lambda w: config["run_config"]["runtime_min"],
        # The executor plugin (2.8) runs a rule's retries inside the same SLURM job
        # (snakemake-executor-plugin-slurm#284): ask for the last attempt's budget.
        mem_mb_per_cpu=slurm_mem_mb_per_cpu(
            (config["run_config"]["retries"] + 1) * config["run_config"]["mem_mb"]
        ),
    script:
        "../scripts/run_simulation.py"
