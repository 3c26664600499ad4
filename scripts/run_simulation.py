"""Rule run_simulation: one simulation under the warden."""

import sys

from simwarden.pipeline.envs import env_id_of, env_python
from simwarden.pipeline.job import SimulationJob, run_simulation
from simwarden.pipeline.scripting import guarded
from simwarden.results.figures import autosave_env

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
            figure_env=autosave_env,
            log=snakemake.log[0],
            runner=snakemake.params.runner,
            simulation=snakemake.params.simulation,
            param_set=snakemake.params.param_set,
            ref=snakemake.params.ref,
            run_config=snakemake.params.checked_run_config,  # parsed in rules/common.smk
            run_config_section=snakemake.params.run_config,  # recorded for reproduce
            config_files=snakemake.params.config_files.paths,
            mem_mb=snakemake.resources.mem_mb,
            runtime_min=snakemake.resources.runtime,
            attempt=snakemake.resources.attempt,  # Snakemake's own, from the rule's resources
            python=env_python(snakemake.input.env),  # None: no runner.environment
            env_id=env_id_of(snakemake.input.env),
        )
    )
sys.exit(code)
