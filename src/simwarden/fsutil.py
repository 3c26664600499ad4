"""Small file helpers shared by the modules: atomic JSON writes and early path checks."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from simwarden.errors import UserError


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as JSON (sorted keys, indent 2, UTF-8, trailing newline), atomically.

    The text goes to a temp file in the same directory (created with the parent directories if
    missing), is fsynced, then renamed over ``path`` with :func:`os.replace`: readers see the old
    file or the complete new one, never a partial one. The file gets the usual umask-based mode.
    Data JSON cannot hold (NaN, infinity, other objects) raises ValueError/TypeError before any
    file is touched; a failed write removes its temp file and leaves the old file as it was.
    """
    path = Path(path)
    text = json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        break
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
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
