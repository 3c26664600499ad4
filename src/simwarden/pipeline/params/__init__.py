"""Parameter sets: loading (:mod:`.load`), validation against a JSON Schema (:mod:`.schema`),
and sweeps, run ids and the parameters hash (:mod:`.sweeps`).

The public names of the three modules are re-exported here, so ``from
simwarden.pipeline.params import validate`` keeps working.
"""

from simwarden.pipeline.params.load import (
    MAX_ALIAS_EXPANSION,
    PARAM_SUFFIXES,
    convert_cfg_value,
    load_param_file,
)
from simwarden.pipeline.params.schema import ParamError, Problem, load_schema, validate
from simwarden.pipeline.params.sweeps import (
    SWEEP_KINDS,
    check_run_id,
    deep_merge,
    expand_sweep,
    params_hash,
    run_id,
)

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
    "validate",
]
