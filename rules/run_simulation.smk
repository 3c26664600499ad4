

rule run_simulation:
    # The simulation under the warden: memory (resources.mem_mb) and time limits enforced,
    # the tree stopped and reaped on a breach, a record of why it ended. A stop for a reason in
    # run_config.retry_on exits 137 (memory) or 124 (timeout) and is retried with the budget x
    # attempt; any other failure, or the last attempt's, is final: its files are kept in
    # results/failed/{run}/, the job writes the failure record and ends well, so the aggregates
    # include it, and check_runs fails the workflow. Called through shell: and the lean entry
    # point simwarden.jobs (script: would cost ~0.1 s of imports per job).
    input:
        # Validated when the Snakefile is parsed (or by validate_params after fetch_code): a
        # file rewritten only when its content changed.
        params=layout.PARAMS,
        # The checkout (results/code/<code id>.json); the run's own environment
        # (runner.environment), when it names one, so a run without one gets no new job; the
        # rerun marker of a run whose last attempt failed, so the next invocation redoes
        # exactly such runs.
        run_files=run_inputs,
    output:
        data=directory(layout.DATA),
        record=layout.RECORD,
        samples=layout.SAMPLES,
        # Every matplotlib figure of a Python simulation, saved at its end with provenance. A
        # simulation at several commits: one subcategory per run without its @commit
        # (model/small), each figure labelled by commit, so both commits' raster sit together.
        figures=report(
            directory(layout.FIGURES),
            patterns=["png/{name}.png"],
            caption="../workflow/report/figure.rst",
            category="Figures",
            subcategory=lambda w: RUNS[w.run].figure_group,
            labels=lambda w: RUNS[w.run].figure_labels(w.name),
        ),
        # Memory and CPU over time from the samples, with the limit drawn in and the end reason
        # marked: drawn by this job after the run's last attempt (an SVG, stdlib only).
        plot=report(
            layout.RESOURCES_PLOT,
            caption="../workflow/report/resources.rst",
            category="Resources",
            labels={"run": "{run}", "plot": "memory and CPU"},
        ),
    log:
        layout.log(layout.RUN_SIMULATION),
    benchmark:
        layout.benchmark(layout.RUN_SIMULATION)
    retries: RUN_CONFIG.retries
    conda:
        "../workflow/envs/simwarden.yaml"
    resources:
        mem_mb=presigned(lambda w, attempt: RUN_CONFIG.mem_mb * attempt),
        runtime=presigned(lambda w, attempt: RUN_CONFIG.runtime_for(attempt)),
        # Snakemake's attempt (1, 2, ...) for the job: the record and the kept attempts
        # (results/failed/{run}/attempt-N) are named by it. Executors pass it on untouched (the
        # slurm plugin builds sbatch flags from known resources only; the job's Snakemake gets
        # --attempt).
        attempt=presigned(lambda w, attempt: attempt),
        # The executor plugin (2.8) runs a rule's retries inside the same SLURM job
        # (snakemake-executor-plugin-slurm#284): ask for the last attempt's budget.
        mem_mb_per_cpu=slurm_mem_mb_per_cpu(
            (RUN_CONFIG.retries + 1) * RUN_CONFIG.mem_mb
        ),
    params:
        # This run's runner (a glob member's script filled in).
        runner=run_attribute(RUNS, "runner"),
        # Which simulation, parameter set and commit (as the config names it): the record's
        # context, the table's columns.
        simulation=run_attribute(RUNS, "simulation"),
        param_set=run_attribute(RUNS, "param_set"),
        ref=run_attribute(RUNS, "ref"),
        figure_formats=config["figure_formats"],
        # The section as written, without the keys that only watch a run (notify, stop_file,
        # the disk and host guards, stall_timeout): Snakemake tracks it, so a changed value of
        # what shapes a run reruns the runs, and a new recipient does not.
        run_config=tracked_run_config(config["run_config"]),
        # The interpreter that runs the job: this Snakemake's, or the conda environment's
        # (untracked: which link to the same interpreter ran Snakemake is no reason to rerun).
        python=UntrackedText(JOB_PYTHON),
        # Everything the job needs, as one JSON argument made when the job starts (untracked:
        # the params above are what Snakemake tracks; so another profile alone reruns nothing).
        job=lambda w, input: JobArgument(lambda: job_fields(w.run, input)),
    shell:
        "{params.python:q} -m simwarden.jobs run_simulation {params.job:q}"
        " --mem-mb {resources.mem_mb} --runtime {resources.runtime}"
        " --attempt {resources.attempt}"
