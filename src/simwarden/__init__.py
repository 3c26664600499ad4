"""simwarden: run simulations under enforced memory and time limits, on top of Snakemake.

This module only re-exports; heavy libraries load inside the functions that need them.
"""

from simwarden._version import __version__
from simwarden.errors import UserError
from simwarden.warden import EXIT_CODES, Limits, RunOptions, RunResult, run

__all__ = ["EXIT_CODES", "Limits", "RunOptions", "RunResult", "UserError", "__version__", "run"]
