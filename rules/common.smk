# Shared helpers: the run plan and the checks that must pass before any job starts.
import sys

from simwarden.core.errors import UserError
from simwarden.pipeline.steps import (
    check_config,
    plan_runs,
    refuse_default_profile,
    resolve_repository,
)


# A SLURM job holds more than its rule's work: the in-job Snakemake (twice, ~135 MB each) and the
# warden, 335 MB measured (docs/slurm.md). What each job asks SLURM for is its rule's mem_mb plus
# this, as mem_mb_per_cpu, which the slurm executor puts in sbatch's request in place of mem_mb;
# local runs ignore it.
SLURM_JOB_OVERHEAD_MB = 500


def slurm_mem_mb_per_cpu(mem_mb):
    """The resource callable for a rule whose work needs ``mem_mb`` MB."""
    return lambda wildcards, threads: (mem_mb + SLURM_JOB_OVERHEAD_MB) // threads


def job_resources(mem_mb, runtime):
    """A rule's resources: ``mem_mb`` and ``runtime`` (minutes), and its SLURM request."""
    return {"mem_mb": mem_mb, "runtime": runtime, "mem_mb_per_cpu": slurm_mem_mb_per_cpu(mem_mb)}


def _fail(error):
    # One line naming the file and key, no traceback (Snakemake prints a raised exception's
    # traceback when the Snakefile is parsed).
    print(f"simwarden: {error}", file=sys.stderr)
    sys.exit(1)


try:
    refuse_default_profile(workflow.basedir)
    config.update(check_config(config, f"{workflow.basedir}/workflow/schemas/config.schema.yaml"))
    RUNS = plan_runs(config)
    REPOSITORY = resolve_repository(str(config["repository"]), workflow.basedir)
except UserError as error:
    _fail(error)

wildcard_constraints:
    run="[A-Za-z0-9][A-Za-z0-9._-]*",
