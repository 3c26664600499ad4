"""The run plan: ``param_sets`` and ``sweeps`` of the config expanded into runs, each with a
stable, filesystem-safe id. Made once when the Snakefile is parsed (``RUNS`` in common.smk) and
again by readers that need the planned run ids (the status board)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simwarden.core.errors import UserError


@dataclass(frozen=True)
class RunPlan:
    """One simulation run: its parameter file and the sweep values laid over it."""

    run: str
    param_file: str
    overrides: dict[str, Any]


def plan_runs(config: Mapping[str, Any], source: str = "config/config.yaml") -> dict[str, RunPlan]:
    """Expand ``param_sets`` and ``sweeps`` into runs keyed by a stable, filesystem-safe id.

    Named sets come first, in config order, then each sweep's points. Raises UserError (one line
    naming ``source`` and the key) for a set name that is not a safe run id, a missing parameter
    file, a sweep over an unknown set, a run id used twice, and a config with no runs.
    """
    sets = config.get("param_sets") or {}
    plans: dict[str, RunPlan] = {}
    for name, path in sets.items():
        run = _set_run_id(str(name), source)
        plans[run] = _named_set(run, str(name), str(path), source)
    for sweep_name, sweep in (config.get("sweeps") or {}).items():
        for plan in _sweep_runs(str(sweep_name), dict(sweep), sets, source):
            if plan.run in plans:
                raise UserError(f"{source}: sweeps.{sweep_name}: run id {plan.run!r} is used twice")
            plans[plan.run] = plan
    if not plans:
        raise UserError(f"{source}: no runs: add at least one entry under param_sets")
    return plans


def _set_run_id(name: str, source: str) -> str:
    from simwarden.pipeline.params import check_run_id, run_id

    try:
        check_run_id(name)  # the name is the run id: refuse rather than rename it
    except UserError as error:
        raise UserError(f"{source}: param_sets: {error}") from None
    return run_id(name, {})


def _named_set(run: str, name: str, path: str, source: str) -> RunPlan:
    if not Path(path).is_file():
        raise UserError(f"{source}: param_sets.{name}: file {path!r} not found")
    return RunPlan(run, path, {})


def _sweep_runs(
    sweep_name: str, sweep: dict[str, Any], sets: Mapping[str, Any], source: str
) -> list[RunPlan]:
    from simwarden.pipeline.params import check_run_id, expand_sweep

    base = sweep.pop("base", None)
    if base not in sets:
        raise UserError(
            f"{source}: sweeps.{sweep_name}.base {base!r}: expected one of the param_sets "
            f"({', '.join(sets) or 'none defined'})"
        )
    plans = []
    for run, overrides in expand_sweep(sweep_name, {}, sweep).items():
        check_run_id(run)
        plans.append(RunPlan(run, str(sets[base]), overrides))
    return plans
