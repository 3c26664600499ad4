"""Record the uncaught exception that ends a Python program, for simwarden's run record.

Installed by the start-up hook beside this file (``sitecustomize.py``) when the environment names
a file in SIMWARDEN_ERROR_FILE (the warden sets it for every run). ``sys.excepthook`` is chained:
on an uncaught exception this module writes one JSON object to that file, atomically (a temp file
beside it, then ``os.replace``), and then calls the hook that was there before, which prints the
traceback as usual. Figures still open are saved afterwards by the autosave's ``atexit`` handler,
so a crashing program keeps both. The object::

    {"type": "ModuleNotFoundError", "message": "No module named 'brian'",
     "where": "src/tuned.py:2", "traceback": "Traceback (most recent call last): ..."}

``type`` is the class name for built-in exceptions and those defined in ``__main__``, else
``module.QualName``. ``where`` is the innermost frame inside the simulation's repository
(SIMWARDEN_REPO_ROOT, else the working directory; installed packages under it do not count), as
``path/relative/to/root:line``, else the innermost frame as Python names it; for a SyntaxError, the
line that does not parse.

The first Python program of a run claims the file: the variable is removed from ``os.environ``, so
Python programs it starts do not write over it. A report that cannot be made or written is dropped
without a word: the program's output and exit status are never changed. ``SystemExit`` is not an
error here (Python never passes it to the hook). Exceptions in other threads do not end the program
and are not recorded.

Standalone on purpose, like the rest of the hook: stdlib only, syntax for Python >= 3.8, never
imports simwarden; ``json`` and ``traceback`` are imported only when an exception is recorded.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, MutableMapping
    from types import TracebackType
    from typing import Any

ENV_ERROR_FILE = "SIMWARDEN_ERROR_FILE"
ENV_REPO_ROOT = "SIMWARDEN_REPO_ROOT"
# The longest message and traceback kept, in characters (a traceback keeps its end).
MESSAGE_CHARS = 4000
TRACEBACK_CHARS = 20000
# Path parts that mark installed code, even inside the repository (a virtualenv in it).
INSTALLED = ("site-packages", "dist-packages")

_installed_path: str | None = None


def install_from_env(environ: MutableMapping[str, str] | None = None) -> bool:
    """Record uncaught exceptions into the file named by SIMWARDEN_ERROR_FILE, if set; the
    variable is removed from ``environ`` (default ``os.environ``). True when installed."""
    env = os.environ if environ is None else environ
    path = env.pop(ENV_ERROR_FILE, "")
    if not path:
        return False
    install(path, env.get(ENV_REPO_ROOT) or os.getcwd())
    return True


def install(path: str, root: str) -> None:
    """Chain ``sys.excepthook`` so that an uncaught exception is written to ``path`` (JSON, see
    the module docstring) before the previous hook runs; ``where`` is relative to ``root``.
    The first call in a process wins."""
    global _installed_path
    if _installed_path is not None:
        return
    _installed_path = path
    path, root = os.path.abspath(path), os.path.abspath(root)
    previous = sys.excepthook

    def excepthook(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        record(path, root, kind, value, tb)
        previous(kind, value, tb)

    sys.excepthook = excepthook


def record(path: str, root: str, kind: type[BaseException], value: BaseException, tb: Any) -> bool:
    """Write the report of one exception to ``path``; never raises. True when written."""
    try:
        report = describe(kind, value, tb, root)
        write_atomic(path, report)
    except Exception:  # the program's own exit must go on unchanged, whatever happened here
        return False
    return True


def describe(
    kind: type[BaseException], value: BaseException, tb: TracebackType | None, root: str
) -> dict[str, Any]:
    """The report of one exception: type, message, where, traceback (see the module docstring)."""
    import traceback

    try:
        message = str(value)
    except Exception:
        message = "<message cannot be shown>"
    text = "".join(traceback.format_exception(kind, value, tb))
    if len(text) > TRACEBACK_CHARS:
        text = "[...]\n" + text[-TRACEBACK_CHARS:]
    return {
        "type": type_name(kind),
        "message": message[:MESSAGE_CHARS],
        "where": where(frames(value, tb), root),
        "traceback": text,
    }


def type_name(kind: type[BaseException]) -> str:
    """``ValueError`` for built-in and ``__main__`` classes, else ``module.QualName``."""
    name = getattr(kind, "__qualname__", None) or kind.__name__
    module = getattr(kind, "__module__", None)
    return name if module in (None, "builtins", "__main__") else f"{module}.{name}"


def frames(value: BaseException, tb: TracebackType | None) -> list[tuple[str, int]]:
    """``(file, line)`` of every frame, outermost first; a SyntaxError's own line last."""
    found = []
    while tb is not None:
        found.append((tb.tb_frame.f_code.co_filename, tb.tb_lineno))
        tb = tb.tb_next
    if isinstance(value, SyntaxError) and value.filename and value.lineno:
        found.append((value.filename, value.lineno))
    return found


def where(found: list[tuple[str, int]], root: str) -> str | None:
    """``file:line`` of the innermost frame inside ``root`` (relative to it), else of the
    innermost frame; None without frames."""
    real_root = os.path.realpath(root)
    for filename, line in reversed(found):
        relative = inside(filename, real_root)
        if relative is not None:
            return f"{relative}:{line}"
    if not found:
        return None
    filename, line = found[-1]
    return f"{filename}:{line}"


def inside(filename: str, real_root: str) -> str | None:
    """``filename`` relative to ``real_root`` with ``/`` separators, if it is a file inside it
    and not installed code; else None (``<frozen ...>``, ``<string>``, elsewhere)."""
    if not filename or filename.startswith("<"):
        return None
    real = os.path.realpath(filename)
    try:
        if os.path.commonpath([real, real_root]) != real_root:
            return None
    except ValueError:  # another drive
        return None
    relative = os.path.relpath(real, real_root)
    parts = relative.split(os.sep)
    if relative == os.curdir or any(part in INSTALLED for part in parts):
        return None
    return "/".join(parts)


def write_atomic(path: str, report: Mapping[str, Any]) -> None:
    """Write ``report`` as JSON to ``path`` through a temp file beside it and ``os.replace``."""
    import json

    write_bytes_atomic(path, json.dumps(report).encode("utf-8"))


def write_bytes_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file beside it and ``os.replace``."""
    temp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temp, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
