"""simwarden: run simulations under enforced memory and time limits, on top of Snakemake.

This module only re-exports, lazily, so ``import simwarden.cli`` stays light.
"""

from __future__ import annotations

from simwarden._version import __version__
from simwarden.core.errors import UserError

# typing costs ~10 ms of start-up and is needed only by type checkers here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["EXIT_CODES", "Limits", "RunOptions", "RunResult", "UserError", "__version__", "run"]


def __getattr__(name: str) -> Any:
    if name == "EXIT_CODES":
        from simwarden.core.errors import EXIT_CODES

        return EXIT_CODES
    if name in ("Limits", "RunOptions", "RunResult", "run"):
        from simwarden import warden

        return getattr(warden, name)
    raise AttributeError(f"module 'simwarden' has no attribute {name!r}")
