"""A checkout's code file (``results/code/<code>.json``, what fetch_code wrote), read by the
jobs that use the checkout. Apart from :mod:`.gitcache` (which writes it) so that a run's job
does not import the cache's machinery (hashlib, tempfile, urllib) to read one JSON file."""

from __future__ import annotations

import json
import os

from simwarden.core.errors import UserError

# typing costs start-up time and is needed only by type checkers here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def read_code_file(code_file: str | os.PathLike[str]) -> dict[str, Any]:
    """A ``results/code/<code>.json`` file (what fetch_code wrote), its checkout checked to be
    still there. Raises UserError naming the file and the way out when the checkout was removed
    from the cache since (Snakemake does not know: the code file is still up to date)."""
    data: dict[str, Any] = _read_json(code_file)
    checkout = data.get("path")
    if not isinstance(checkout, str) or not os.path.isdir(checkout):
        raise UserError(
            f"{code_file}: its checkout {checkout!r} is gone from the cache (was the cache "
            f"cleared?); fetch it again: snakemake --forcerun {code_file} with your profile"
        )
    return data


def _read_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data
