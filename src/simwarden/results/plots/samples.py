"""A run's ``samples.tsv`` as the run plot draws it: time, memory, CPU and progress columns.

A well-formed file is read column-wise (one split of the whole text, C-speed float conversion),
which keeps 100,000 samples cheap; anything unusual (a row cut short by a kill, a non-number, an
empty cell) falls back to :func:`simwarden.warden.record.read_samples`, the one reader whose
rules (skip bad rows, NaN for an empty optional cell) define the file.
"""

from __future__ import annotations

import math
import operator
from itertools import repeat
from pathlib import Path

from simwarden.core.fields import Fields, field
from simwarden.core.units import MB
from simwarden.warden.record import RecordError, read_samples

REQUIRED = ("time_s", "rss_bytes")


class Series(Fields, frozen=True):
    """A run's samples as the plot draws them: seconds, MB, CPU % (NaN when not sampled) and
    progress in % (empty when the file has no progress column or no report in it)."""

    time_s: list[float]
    rss_mb: list[float]
    cpu_percent: list[float]
    progress_percent: list[float] = field(default_factory=list)


EMPTY = Series([], [], [])


def load_samples(path: Path) -> Series:
    """The time series of ``samples.tsv``.

    A missing or empty file, or a header alone, gives empty lists (a run stopped before its first
    sample). Rows that do not parse (the last row of a warden killed mid-write) are skipped. A
    header without ``time_s`` and ``rss_bytes`` raises UserError naming the file.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return EMPTY
    except (OSError, UnicodeDecodeError) as error:
        raise RecordError(f"samples {str(path)!r} cannot be read: {error}") from None
    if not text:
        return EMPTY
    columns = _fast_columns(text)
    if columns is None:
        samples = read_samples(path, required=REQUIRED)
        columns = {name: samples[name] for name in samples.columns}
    return _series(columns)


def _fast_columns(text: str) -> dict[str, list[float]] | None:
    """The plotted columns when every row is whole and they hold numbers (an empty cell only in
    the optional progress column); else None. Columns the plot does not draw are not read, so
    a row with a bad cell there is drawn, where :func:`read_samples` would skip it."""
    head, _, body = text.partition("\n")
    header = head.split("\t")
    if any(name not in header for name in REQUIRED):
        return None  # read_samples raises the error naming the file
    if not body:
        return {name: [] for name in header}
    if not body.endswith("\n"):
        return None  # the last row was cut short by a kill
    body = body[:-1]
    width, rows = len(header), body.count("\n") + 1
    if body.count("\t") != (width - 1) * rows:
        return None
    flat = body.replace("\n", "\t").split("\t")
    columns: dict[str, list[float]] = {}
    try:
        for index, name in enumerate(header):
            if name in ("time_s", "rss_bytes", "cpu_percent"):
                columns[name] = list(map(float, flat[index::width]))
            elif name == "progress":
                columns[name] = _optional_floats(flat[index::width])
    except ValueError:
        return None
    return columns


def _optional_floats(cells: list[str]) -> list[float]:
    """An optional column's cells as numbers, an empty cell NaN; [] when every cell is empty."""
    if not any(cells):
        return []
    if "" not in cells:
        return list(map(float, cells))
    nan = math.nan
    return [float(cell) if cell else nan for cell in cells]


def _series(columns: dict[str, list[float]]) -> Series:
    """The plotted units (map with operator functions: C speed on 100,000 samples)."""
    times = columns["time_s"]
    cpu = columns.get("cpu_percent") or [math.nan] * len(times)
    progress = columns.get("progress") or []
    if progress and all(map(math.isnan, progress)):
        progress = []
    return Series(
        times,
        list(map(operator.truediv, columns["rss_bytes"], repeat(MB))),
        cpu,
        list(map(operator.mul, progress, repeat(100))),
    )
