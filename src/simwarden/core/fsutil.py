"""Small file helpers shared by the modules: atomic JSON writes and early path checks."""

from __future__ import annotations

import os
from collections.abc import Callable

from simwarden.core.errors import UserError

# typing costs ~10 ms of start-up and is needed only by type checkers here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any


def replace_atomically(
    path: str | os.PathLike[str], write: Callable[[Path], object], *, durable: bool = True
) -> Path:
    """Call ``write(tmp)`` for a fresh temp file beside ``path``, fsync it, rename it over ``path``.

    Readers see the old file or the complete new one, never a partial one (the temp file is in
    the same directory, created with the parent directories if missing). A failed ``write``
    removes its temp file and leaves the old file as it was. Returns ``path``. ``durable=False``
    skips the fsync (still atomic, not crash-safe): for many small files that can be made again.
    """
    from pathlib import Path  # ~4 ms of imports, kept off the `simwarden run` start-up path

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = target.with_name(f".{target.name}.{os.urandom(6).hex()}.tmp")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        break
    try:
        write(tmp)
        if durable:
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def write_json_atomic(path: str | os.PathLike[str], data: Any, *, durable: bool = True) -> None:
    """Write ``data`` as JSON (:func:`json_text`), atomically.

    Data JSON cannot hold (NaN, infinity, other objects) raises ValueError/TypeError before any
    file is touched; see :func:`replace_atomically` for what readers may see and ``durable``.
    """
    text = json_text(data)
    replace_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), durable=durable)


def json_text(data: Any) -> str:
    """``data`` as the JSON text every simwarden file has: sorted keys, indent 2, UTF-8 (not
    escaped), a trailing newline; NaN and infinity refused (ValueError)."""
    import json  # off the `simwarden run` start-up path: only a run with --record writes JSON

    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def check_output_path(path: str | os.PathLike[str], option: str) -> Path:
    """Return ``path`` if its directory exists and is writable, else raise a one-line UserError."""
    from pathlib import Path  # see replace_atomically

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
