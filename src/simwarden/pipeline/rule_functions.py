"""Functions for the rules' ``input:``, ``params:`` and ``resources:`` that are cheap for
Snakemake to call once per job.

Snakemake inspects such a function's signature (which of wildcards, input, attempt... to pass)
two or three times for every job it expands: through :func:`inspect.signature`, ~11 us each,
~10 % of a 10,000-run dry run. A function whose ``__signature__`` is set (Python's own
protocol: :func:`inspect.signature` then returns it as it is) is inspected in ~2 us; nothing of
Snakemake is patched. Stdlib only: the Snakefile imports this when it is parsed.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def presigned(func: F) -> F:
    """``func`` itself, with its signature computed once and kept on it. A callable whose
    signature cannot be read or kept (a builtin, a slotted object) is returned unchanged."""
    with contextlib.suppress(AttributeError, TypeError, ValueError):
        setattr(func, "__signature__", inspect.signature(func))  # noqa: B010 (mypy: no attr)
    return func


def run_attribute(runs: Mapping[str, Any], name: str) -> Callable[[Any], Any]:
    """A params function of the wildcards: attribute ``name`` of the job's run
    (``runs[wildcards.run]``, a :class:`~simwarden.pipeline.plan.RunPlan`), presigned. A run id
    not in ``runs`` raises KeyError (Snakemake reports it as the rule's input function error)."""

    def value(wildcards: Any) -> Any:
        return getattr(runs[wildcards.run], name)

    value.__name__ = value.__qualname__ = f"run_{name}"
    return presigned(value)
