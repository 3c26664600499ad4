# Shared helpers: the checks that must pass before any job starts, the run config and the run plan.
import os
import sys

import snakemake

from simwarden.core.errors import UserError
from simwarden.pipeline import layout
from simwarden.pipeline.attempts import failed_runs
from simwarden.pipeline.config import (
    ConfigFiles,
    RunConfig,
    check_config,
    refuse_default_profile,
    tracked_run_config,
)
from simwarden.pipeline.job_spec import JobArgument, UntrackedText
from simwarden.pipeline.manifest import ConfigFilesInForce
from simwarden.pipeline.plan import make_plan
from simwarden.pipeline.rule_functions import presigned, run_attribute
from simwarden.pipeline.scripting import exit_user_error
from simwarden.pipeline.session import runs_settled, write_snakemake_process
from simwarden.pipeline.watching import workflow_ended, workflow_started
from simwarden.results.end_summary import show_at_exit

# A SLURM job holds more than its rule's work: the in-job Snakemake (twice, ~135 MB each) and the
# warden, 335 MB measured (docs/slurm.md). What each job asks SLURM for is its rule's mem_mb plus
# this, as mem_mb_per_cpu, which the slurm executor puts in sbatch's request in place of mem_mb;
# local runs ignore it.
SLURM_JOB_OVERHEAD_MB = 500


def slurm_mem_mb_per_cpu(mem_mb):
    """The resource callable for a rule whose work needs ``mem_mb`` MB."""
    return presigned(
        lambda wildcards, threads: (mem_mb + SLURM_JOB_OVERHEAD_MB) // threads
    )


def job_resources(mem_mb, runtime):
    """A rule's resources: ``mem_mb`` and ``runtime`` (minutes), and its SLURM request."""
    return {
        "mem_mb": mem_mb,
        "runtime": runtime,
        "mem_mb_per_cpu": slurm_mem_mb_per_cpu(mem_mb),
    }


# The interpreter of the jobs that call simwarden through shell: (python -m simwarden.jobs):
# this Snakemake's own, or under --sdm conda the rule's environment's (first on its PATH).
JOB_PYTHON = (
    "python"
    if "conda"
    in {str(m).lower() for m in workflow.deployment_settings.deployment_method}
    else sys.executable
)
# The config files in force (config/config.yaml, the profiles' files), hashed into each record.
CONFIG_FILES_IN_FORCE = ConfigFilesInForce.of_workflow(
    workflow.configfiles, sys.argv
).paths


# Every bad value is one "simwarden: <file>: <key> ..." line and exit 125 (no traceback: Snakemake
# prints a raised exception's traceback when the Snakefile is parsed).
CONFIG_FILES = ConfigFiles.of_workflow(
    workflow.configfiles, workflow.overwrite_configfiles
)
# The schema ships with the rules (this file's directory); profiles/ and relative repository
# paths belong to the project, the directory of its Snakefile (workflow.basedir).
CONFIG_SCHEMA = os.path.join(
    str(workflow.current_basedir), "..", "workflow", "schemas", "config.schema.yaml"
)
try:
    refuse_default_profile(workflow.basedir)
    config.update(check_config(config, CONFIG_SCHEMA, files=CONFIG_FILES))
    # Parsed once, here: durations, sizes, signals, paths and who is notified are checked
    # before any job starts. The stop file and disk path are relative to the directory
    # Snakemake runs in (the project's, where results/ is), made absolute for every job.
    RUN_CONFIG = RunConfig.from_config(
        config["run_config"],
        lambda key: CONFIG_FILES.source_of("run_config", key),
        workflow_dir=os.getcwd(),
    )
    # Every run of every simulation at each of its commits, and one checkout per repository
    # and commit (a glob of scripts is expanded here, against the fetched commit).
    PLAN = make_plan(
        config,
        CONFIG_FILES.source_of(
            "simulations" if "simulations" in config else "repository"
        ),
        workflow_dir=workflow.basedir,
    )
    RUNS = PLAN.runs
    CHECKOUTS = PLAN.checkouts
except UserError as error:
    exit_user_error(error)


def code_file(run):
    """The checkout file (results/code/<code id>.json) of the run's simulation and commit."""
    return layout.for_code(layout.CODE, RUNS[run].code)


@presigned
def run_inputs(wildcards):
    """A run's inputs besides its parameters, from one function (Snakemake's cost per job grows
    with the functions it calls): its checkout file; its own environment's file, when
    runner.environment names one; its rerun marker, when it exists (its last attempt failed:
    the marker is newer than its outputs until it is redone, so only failed runs rerun).
    """
    run = wildcards.run
    marker = layout.for_run(layout.RERUN_MARKER, run)
    rerun = [marker] if os.path.exists(marker) else []
    return [code_file(run), *RUNS[run].env_files, *rerun]


# Run ids nest (lif/small@v0.3): segments joined by "/"; code ids are one segment.
wildcard_constraints:
    run=layout.RUN_PATTERN,
    code=layout.CODE_PATTERN,


def job_fields(run, input):
    """The JSON fields of one run_simulation job (see simwarden.pipeline.job_spec); the job
    makes its files' paths from the run id, as the layout does for this rule. The checkout and
    environment files are the plan's, as run_inputs gives them (``input``: the job's, unused).
    """
    plan = RUNS[run]
    return {
        "run": run,
        "code": code_file(run),
        "env_files": plan.env_files,
        "runner": plan.runner,
        "simulation": plan.simulation,
        "param_set": plan.param_set,
        "ref": plan.ref,
        "figure_formats": list(config["figure_formats"]),
        "run_config": config["run_config"],
        "config_files": list(CONFIG_FILES_IN_FORCE),
        "snakemake_version": snakemake.__version__,
    }
