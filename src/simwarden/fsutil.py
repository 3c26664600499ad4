"""Small file helpers shared by the modules: atomic JSON writes and early path checks."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from simwarden.errors import UserError


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as JSON (sorted keys, indent 2, trailing newline) by temp file + rename.

    Readers see either the old file or the complete new one, never a partial document; a failed
    write removes its temp file and leaves any previous file untouched.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True, allow_nan=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_output_path(path: str | os.PathLike[str], option: str) -> Path:
    """Return ``path`` if its directory exists and is writable, else raise a one-line UserError."""
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(
            f"{option} {str(path)!r}: directory {str(parent)!r} does not exist; create it first"
        )
    if not os.access(parent, os.W_OK):
        raise UserError(f"{option} {str(path)!r}: directory {str(parent)!r} is not writable")
    if target.is_dir():
        raise UserError(f"{option} {str(path)!r} is a directory; give a file path")
    return target
