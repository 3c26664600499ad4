"""Rule run_simulation: one simulation under the warden."""

import sys

from simwarden.pipeline.scripting import guarded
from simwarden.pipeline.steps import SimulationJob, run_simulation

snakemake = snakemake  # noqa: F821, PLW0127 - injected by Snakemake

with guarded(snakemake.log[0], append=True):
    code = run_simulation(
        SimulationJob(
            run=snakemake.wildcards.run,
            params_file=snakemake.input.params,
            code=snakemake.input.code,
            record=snakemake.output.record,
            samples=snakemake.output.samples,
            outdir=snakemake.output.data,
            figures_dir=snakemake.output.figures,
            figure_formats=tuple(snakemake.params.figure_formats),
            log=snakemake.log[0],
            runner=snakemake.params.runner,
            run_config=snakemake.params.run_config,
            mem_mb=snakemake.resources.mem_mb,
            runtime_min=snakemake.resources.runtime,
            # The attempt number, read back from the attempt-scaled memory budget.
            attempt=snakemake.resources.mem_mb // snakemake.params.run_config["mem_mb"],
        )
    )
sys.exit(code)
