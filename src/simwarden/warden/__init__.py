"""The warden: run one command as a guarded process tree and record why it ended.

This is what ``simwarden run`` imports: the stdlib only on Linux (processes are read from /proc
by :mod:`~.procfs`; psutil, through :mod:`~.psproc`, only where there is no /proc). The names
below are loaded on first use, so ``import simwarden.warden.record`` loads no more than it needs.

Modules: :mod:`~simwarden.warden.options` (limits, options, result), :mod:`~.policy` (the pure
limit policy), :mod:`~.spawn` (start the command, pump its output, write samples),
:mod:`~.orphan` (notice an ended parent), :mod:`~.supervisor` (the loop and :func:`run`),
:mod:`~.record` (the record and samples schema), :mod:`~.cause` (the command's own error
report and last stderr lines), and :mod:`~.proctree` (reading processes through :mod:`~.procfs`
or :mod:`~.psproc`), :mod:`~.cgroup`, :mod:`~.sentinel`, :mod:`~.notify`.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Where each lazily loaded name lives.
_HOMES = {
    "EXIT_CODES": "simwarden.core.errors",
    "REASONS": "simwarden.warden.record",
    "CommandError": "simwarden.warden.options",
    "Limits": "simwarden.warden.options",
    "RunOptions": "simwarden.warden.options",
    "RunResult": "simwarden.warden.options",
    "run": "simwarden.warden.supervisor",
}

__all__ = ["EXIT_CODES", "REASONS", "CommandError", "Limits", "RunOptions", "RunResult", "run"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'simwarden.warden' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(home), name)
