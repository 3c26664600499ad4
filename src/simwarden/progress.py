"""Report a simulation's progress to simwarden: ``report(310, 400)`` or ``report(42)`` (percent).

Under ``simwarden run`` (and the pipeline) the value goes to the file the warden names in
``SIMWARDEN_PROGRESS_FILE``, replaced atomically; elsewhere it is printed as the line
``SIMWARDEN_PROGRESS 310/400``, which is harmless by hand and which a warden reading the
output also understands. The warden then records how far the run got, estimates the time
left, and with ``--stall-timeout`` stops a run whose progress stops rising (docs/progress.md).

Standard library only, importing nothing else from simwarden: it may run in a simulation's own
Python, and importing it costs next to nothing.
"""

from __future__ import annotations

import math
import os
import sys

__all__ = ["report"]

# The same names as simwarden.warden.progress (a test keeps them equal): this module must not
# import the warden.
PROGRESS_PREFIX = "SIMWARDEN_PROGRESS"
PROGRESS_FILE_ENV = "SIMWARDEN_PROGRESS_FILE"


def report(done: float, total: float = 100) -> None:
    """Report that ``done`` of ``total`` units are done (``total`` 100: ``done`` is a percent).

    Raises ValueError for values that are not numbers, NaN or infinite, a negative ``done``,
    ``total`` 0 or less, or ``done`` above ``total``. Never fails otherwise: a progress file
    that cannot be written (the warden is gone) or a closed stdout is skipped silently.
    """
    text = _value_text(done, total)
    path = os.environ.get(PROGRESS_FILE_ENV)
    if path:
        _replace(path, text)
        return
    try:
        sys.stdout.write(f"{PROGRESS_PREFIX} {text}\n")
        sys.stdout.flush()
    except (OSError, ValueError):
        pass  # stdout closed: nobody is listening


def _value_text(done: float, total: float) -> str:
    """``310/400``: the report's text, checked (ValueError naming the bad argument)."""
    numbers = []
    for name, value in (("done", done), ("total", total)):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"report(): {name} must be a number, not {value!r}") from None
        if not math.isfinite(number):
            raise ValueError(f"report(): {name} must be a finite number, not {value!r}")
        numbers.append(number)
    done_n, total_n = numbers
    if total_n <= 0:
        raise ValueError(f"report(): total must be above 0, not {total!r}")
    if not 0 <= done_n <= total_n:
        raise ValueError(f"report(): done must be between 0 and total ({total!r}), not {done!r}")
    return f"{_number_text(done_n)}/{_number_text(total_n)}"


def _number_text(number: float) -> str:
    """``310`` for 310.0, ``0.25`` for 0.25: exact, as the warden parses numbers."""
    if number.is_integer() and abs(number) < 2**53:
        return str(int(number))
    return repr(number)


def _replace(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory, renamed over
    it: a reader sees the old report or the new one, never a part."""
    temporary = f"{path}.{os.getpid()}.{_thread_id()}.tmp"
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
        os.replace(temporary, path)
    except OSError:
        import contextlib  # only on this rare path: keeps report()'s import light

        with contextlib.suppress(OSError):
            os.unlink(temporary)


def _thread_id() -> int:
    """This thread's id: two threads reporting at once use two temporary files."""
    import threading

    return threading.get_ident()
