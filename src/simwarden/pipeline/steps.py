"""What the ``fetch_code`` rule does, as a plain function (validate_params:
:mod:`simwarden.pipeline.validation`).

The rule scripts in ``scripts/`` only unpack the ``snakemake`` object and call these, so the logic
is testable without Snakemake and every value that changes a result arrives as an argument.
The run plan is :mod:`simwarden.pipeline.plan`, the simulation job :mod:`simwarden.pipeline.job`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from simwarden.core.errors import UserError

# Kept importable from here while readers move to simwarden.pipeline.plan (results.status).
from simwarden.pipeline.plan import RunPlan, plan_runs

__all__ = ["RunPlan", "fetch_code", "plan_runs"]


def fetch_code(
    url: str,
    ref: str,
    cache_dir: str | None,
    output: str,
    *,
    simulations: Sequence[str] = (),
) -> dict[str, Any]:
    """Fetch ``url`` at ``ref`` into the shared cache; write its provenance to ``output``.

    Progress ("Cloning", "Using cached") goes through the simwarden logger, so it reaches the
    job's log inside a rule script. A UserError (a commit that does not exist, a repository
    that cannot be fetched) names ``simulations``, the simulations that need this checkout
    (``-`` stands for the one-simulation config and is not named).
    """
    from simwarden.core.fsutil import write_json_atomic
    from simwarden.core.log import say
    from simwarden.pipeline.gitcache import fetch

    cache = Path(cache_dir).expanduser() if cache_dir else None
    named = [name for name in simulations if name != "-"]
    try:
        provenance = fetch(url, str(ref), cache, log=say)
    except UserError as error:
        if not named:
            raise
        which = "simulation" if len(named) == 1 else "simulations"
        raise UserError(f"{which} {', '.join(named)}: {error}") from None
    record = provenance.to_dict()
    write_json_atomic(output, record)
    return record
