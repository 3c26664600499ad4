# Shared helpers: the run plan and the checks that must pass before any job starts.
import sys

from simwarden.errors import UserError
from simwarden.pipeline import (
    check_config,
    plan_runs,
    refuse_default_profile,
    resolve_repository,
)


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
