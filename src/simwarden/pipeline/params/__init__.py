"""Parameter sets: loading (:mod:`.load`), validation against a JSON Schema (:mod:`.schema`),
and sweeps, run ids and the parameters hash (:mod:`.sweeps`).

The public names of the three modules are re-exported here, loaded on first use (a run's job
needs only ``params_hash``, not the loaders and the schema machinery), so ``from
simwarden.pipeline.params import validate`` keeps working.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # the names as the type checker sees them
    from typing import Any

    from simwarden.pipeline.params.load import (
        MAX_ALIAS_EXPANSION,
        PARAM_SUFFIXES,
        convert_cfg_value,
        load_param_file,
    )
    from simwarden.pipeline.params.schema import (
        ParamError,
        Problem,
        load_schema,
        schema_checker,
        validate,
    )
    from simwarden.pipeline.params.sweeps import (
        SWEEP_KINDS,
        check_run_id,
        deep_merge,
        expand_sweep,
        params_hash,
        run_id,
    )

# Where each re-exported name lives.
_HOMES = {
    "MAX_ALIAS_EXPANSION": "load",
    "PARAM_SUFFIXES": "load",
    "convert_cfg_value": "load",
    "load_param_file": "load",
    "ParamError": "schema",
    "Problem": "schema",
    "load_schema": "schema",
    "schema_checker": "schema",
    "validate": "schema",
    "SWEEP_KINDS": "sweeps",
    "check_run_id": "sweeps",
    "deep_merge": "sweeps",
    "expand_sweep": "sweeps",
    "params_hash": "sweeps",
    "run_id": "sweeps",
}

__all__ = [
    "MAX_ALIAS_EXPANSION",
    "PARAM_SUFFIXES",
    "SWEEP_KINDS",
    "ParamError",
    "Problem",
    "check_run_id",
    "convert_cfg_value",
    "deep_merge",
    "expand_sweep",
    "load_param_file",
    "load_schema",
    "params_hash",
    "run_id",
    "schema_checker",
    "validate",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'simwarden.pipeline.params' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
