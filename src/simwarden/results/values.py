"""Small helpers every results module shares: table cells (missing, numbers), warnings, and
tolerant reading of JSON files and run records, each problem noted for one warning line."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path

from simwarden.core.log import say
from simwarden.warden.record import Record, RecordError

# typing costs ~5 ms of every run's job, which loads this module; annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeGuard

PathLike = str | os.PathLike[str]
# Where a reader sends its warning lines (default :func:`warn`; tests pass ``list.append``).
Warn = Callable[[str], None]
# Cells that mean "no value" in a CSV or Snakemake benchmark file.
MISSING_CELLS = ("", "NA", "-", "nan", "NaN")


def warn(message: str) -> None:
    """One ``simwarden: warning: <message>`` line (see :func:`simwarden.core.log.say`)."""
    say(f"warning: {message}")


def is_number(value: Any) -> TypeGuard[int | float]:
    """True for an int or float that is not a bool (NaN and infinity included)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_missing(value: Any) -> bool:
    """True for None and for what pandas counts as missing (NaN, NA, NaT); False otherwise,
    also for values pandas cannot judge (lists, objects)."""
    if value is None:
        return True
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def as_float(value: Any) -> float | None:
    """``value`` as a finite float; None when it is missing, not a number, NaN or infinite."""
    if is_missing(value):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


class Problems:
    """The files of one item (a run) that could not be used, for its single warning line."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: Path, what: str) -> None:
        """Note that ``path`` ``what`` (e.g. ``is missing``)."""
        self.items.append(f"{path} {what}")


def read_json(path: Path, problems: Problems | None) -> dict[str, Any] | None:
    """The JSON object in ``path``; None, and a problem noted (when ``problems`` is given), when
    it is missing, unreadable, not JSON or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if problems is not None:
            problems.add(path, "is missing")
        return None
    except json.JSONDecodeError as error:
        if problems is not None:
            problems.add(path, f"is not valid JSON ({error.msg} at line {error.lineno})")
        return None
    except (OSError, UnicodeDecodeError) as error:
        if problems is not None:
            problems.add(path, f"cannot be read ({getattr(error, 'strerror', None) or error})")
        return None
    if not isinstance(data, dict):
        if problems is not None:
            problems.add(path, "is not a JSON object")
        return None
    return data


def _expected(key: str) -> str:
    # The annotation as written ("int | None"): annotations stay text (from __future__).
    kind = str(Record.__annotations__.get(key, ""))
    if kind.startswith("int"):
        return "an integer"
    if kind.startswith("float"):
        return "a number"
    if kind.startswith("str"):
        return "text"
    return "a valid value"


def record_from_json(data: dict[str, Any], path: Path, problems: Problems | None) -> Record:
    """:meth:`Record.from_dict` of ``data``, tolerant of damage: each key whose value has the
    wrong type is left out (as if an older version had not written it) and noted as
    ``has KEY VALUE, not an integer (left empty)``."""
    try:
        return Record.from_dict(data, source=f"record {str(path)!r}")
    except RecordError:
        pass
    kept: dict[str, Any] = {}
    for key, value in data.items():
        try:
            Record.from_dict({key: value})
        except RecordError:
            if problems is not None:
                problems.add(path, f"has {key} {value!r}, not {_expected(key)} (left empty)")
            continue
        kept[key] = value
    return Record.from_dict(kept, source=f"record {str(path)!r}")


def load_record(path: Path, problems: Problems | None = None) -> Record | None:
    """The run record at ``path`` through :class:`~simwarden.warden.record.Record`, or None
    (and a problem noted) when the file is missing, unreadable, not JSON or not an object. Keys
    of the wrong type are left out and noted (see :func:`record_from_json`)."""
    data = read_json(path, problems)
    return None if data is None else record_from_json(data, path, problems)
