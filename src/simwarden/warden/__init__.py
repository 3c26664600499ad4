"""The warden: run one command as a guarded process tree and record why it ended.

This is what ``simwarden run`` imports: stdlib and psutil only. The names below are loaded on
first use, so ``import simwarden.warden.record`` does not start psutil.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["EXIT_CODES", "Limits", "RunOptions", "RunResult", "run"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from simwarden.warden import supervisor

        return getattr(supervisor, name)
    raise AttributeError(f"module 'simwarden.warden' has no attribute {name!r}")
