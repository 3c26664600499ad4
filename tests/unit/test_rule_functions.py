"""The rules' functions with their signature computed once (simwarden.pipeline.rule_functions),
called as Snakemake calls them."""

from __future__ import annotations

import inspect

from snakemake.common import get_function_params, get_input_function_aux_params
from snakemake.iocontainers import Wildcards

from simwarden.pipeline.plan import RunPlan
from simwarden.pipeline.rule_functions import presigned, run_attribute


def test_a_presigned_function_keeps_its_signature_and_behaviour() -> None:
    def mem_mb(wildcards: object, attempt: int) -> int:
        return 100 * attempt

    assert presigned(mem_mb) is mem_mb
    assert mem_mb.__signature__ == inspect.signature(mem_mb)  # type: ignore[attr-defined]
    assert list(get_function_params(mem_mb)) == ["wildcards", "attempt"]
    # Snakemake passes only the keyword arguments the signature names.
    given = get_input_function_aux_params(mem_mb, {"attempt": 3, "input": [], "threads": 1})
    assert given == {"attempt": 3}
    assert mem_mb(None, **given) == 300


def test_a_callable_without_a_readable_signature_is_returned_unchanged() -> None:
    assert presigned(len) is len
    assert not hasattr(len, "__signature__")


def test_run_attribute_reads_the_job_s_run_and_takes_only_the_wildcards() -> None:
    runs = {
        "a": RunPlan(run="a", param_file=None, overrides={}, simulation="lif", ref="v1"),
        "b": RunPlan(run="b", param_file=None, overrides={}, simulation="hh", ref="v2"),
    }
    ref = run_attribute(runs, "ref")
    assert list(get_function_params(ref)) == ["wildcards"]
    assert ref(Wildcards(fromdict={"run": "b"})) == "v2"
    assert run_attribute(runs, "simulation")(Wildcards(fromdict={"run": "a"})) == "lif"
    assert run_attribute(runs, "env_files")(Wildcards(fromdict={"run": "a"})) == []
