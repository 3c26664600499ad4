"""What the ``fetch_code`` and ``validate_params`` rules do, as plain functions.

The rule scripts in ``scripts/`` only unpack the ``snakemake`` object and call these, so the logic
is testable without Snakemake and every value that changes a result arrives as an argument.
The run plan is :mod:`simwarden.pipeline.plan`, the simulation job :mod:`simwarden.pipeline.job`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from simwarden.core.errors import UserError
from simwarden.pipeline.gitcache import read_code_file

# Kept importable from here while readers move to simwarden.pipeline.plan (results.status).
from simwarden.pipeline.plan import RunPlan, plan_runs

__all__ = ["RunPlan", "fetch_code", "plan_runs", "schema_path", "validate_params"]


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


def validate_params(
    param_file: str | None,
    overrides: Mapping[str, Any],
    schema: str | None,
    code: str,
    output: str,
) -> dict[str, Any]:
    """Load a parameter set, lay the sweep values over it, validate, write the result as JSON.

    ``param_file`` None (a script without param sets) starts from ``{}``. ``schema`` is a path
    inside the fetched repository (whose provenance file is ``code``), ``workflow:PATH`` for a
    schema kept beside the workflow, or None: the parameters are written as they are.
    """
    from simwarden.core.fsutil import write_json_atomic
    from simwarden.pipeline.params import deep_merge, load_param_file, validate

    loaded = load_param_file(Path(param_file)) if param_file else {}
    params = deep_merge(loaded, overrides)
    source = (param_file or "the empty parameter set") + (
        f" (with {json.dumps(overrides, sort_keys=True)})" if overrides else ""
    )
    validated = validate(params, schema_path(schema, code), source=source) if schema else params
    write_json_atomic(output, validated)
    return validated


def schema_path(schema: str, code: str) -> Path:
    """The parameter schema's file: ``workflow:PATH`` beside the workflow, else ``schema``
    inside the checkout named by the provenance file ``code`` (never outside it)."""
    if schema.startswith("workflow:"):
        path = Path(schema.removeprefix("workflow:"))
    else:
        checkout = Path(read_code_file(code)["path"])
        path = checkout / schema
        if not path.resolve().is_relative_to(checkout.resolve()):
            raise UserError(f"config: param_schema {schema!r} points outside the repository")
    if not path.is_file():
        raise UserError(f"config: param_schema {schema!r} not found ({path})")
    return path
