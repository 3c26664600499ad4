"""A running simulation as it is now, read from the end of its samples file, in one line.

``simwarden status`` (the STATE cell of a running run) and the Snakemake logger plugin
(``snakemake --logger simwarden``) both say a running run with :func:`format_running`::

    running 42 % · ETA 3 min · 310/400 MB · 12 min     (the simulation reports progress)
    running · 310/400 MB · 12 min                      (it does not)
    running · 310 MB · 12 min                          (no memory limit)
    running · ?                                        (no readable sample yet)

The values come from the last complete row of ``results/runs/<run>/samples.tsv``
(:func:`simwarden.warden.record.read_last_sample`: only the file's tail is read, so polling
many long runs stays cheap). Stdlib only; never raises on a missing or damaged file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from simwarden.warden.record import read_last_sample

SEP = " · "
UNKNOWN = "?"
_MB = 1000**2
_GB = 1000**3


@dataclass(frozen=True)
class LiveSample:
    """The last sample of a running run; None where unknown (an empty cell, a NaN).

    ``elapsed_s``: seconds since the warden started the command; ``progress``: 0..1, the
    simulation's last report; ``eta_s``: seconds left as the warden estimates them.
    """

    elapsed_s: float | None = None
    rss_bytes: int | None = None
    mem_limit_bytes: int | None = None
    progress: float | None = None
    eta_s: float | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, float]) -> LiveSample:
        """From a row of :func:`read_last_sample` (missing columns and NaN cells are None)."""

        def value(name: str) -> float | None:
            number = row.get(name)
            return None if number is None or math.isnan(number) else float(number)

        rss, limit = value("rss_bytes"), value("mem_limit_bytes")
        return cls(
            elapsed_s=value("time_s"),
            rss_bytes=None if rss is None else int(rss),
            mem_limit_bytes=None if limit is None else int(limit),
            progress=value("progress"),
            eta_s=value("eta_s"),
        )

    def to_dict(self) -> dict[str, Any]:
        """``progress eta_s rss_bytes mem_limit_bytes elapsed_s`` (status's JSON keys)."""
        data = asdict(self)
        return {key: data[key] for key in LIVE_KEYS}


# The keys a running run adds to ``simwarden status --format json`` (null for other runs).
LIVE_KEYS = ("progress", "eta_s", "rss_bytes", "mem_limit_bytes", "elapsed_s")


def read_live(path: str | Path) -> LiveSample | None:
    """The last complete sample of the samples file ``path``; None when the file is missing,
    damaged or has no complete row yet. Never raises."""
    row = read_last_sample(path)
    return None if row is None else LiveSample.from_row(row)


def format_duration(seconds: float | None) -> str:
    """``45 s``, ``3 min``, ``2 h 5 min`` (whole units, rounded down); ``?`` when unknown,
    negative or not finite."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return UNKNOWN
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def format_memory(rss_bytes: int | None, limit_bytes: int | None = None) -> str:
    """``310/400 MB`` (in use / limit, one unit chosen by the larger), ``1.2/4.0 GB``,
    ``12/16 GB``; ``310 MB`` without a limit; ``?`` (or ``?/400 MB``) when the use is unknown."""
    largest = max(rss_bytes or 0, limit_bytes or 0)
    unit, factor = ("GB", _GB) if largest >= _GB else ("MB", _MB)

    def number(value: int | None) -> str:
        if value is None:
            return UNKNOWN
        scaled = value / factor
        return f"{scaled:.1f}" if unit == "GB" and largest < 10 * _GB else f"{scaled:.0f}"

    if rss_bytes is None and limit_bytes is None:
        return UNKNOWN
    if limit_bytes is None:
        return f"{number(rss_bytes)} {unit}"
    return f"{number(rss_bytes)}/{number(limit_bytes)} {unit}"


def format_eta(eta_s: float, progress: float) -> str:
    """``3 min``; ``overdue`` when the estimate ran out (under a second left) before the run
    reported its end: it is slower than it was, or stalled."""
    if eta_s < 1 and progress < 1:
        return "overdue"
    return format_duration(eta_s)


def format_percent(fraction: float) -> str:
    """``42 %`` for 0.4251: rounded down (a run at 99.9 % is not done), held to 0..100."""
    return f"{min(100, max(0, math.floor(fraction * 100)))} %"


def format_running(sample: LiveSample | None, elapsed_s: float | None = None) -> str:
    """One running run in one line (see the module's docstring). ``sample`` None means no
    readable sample: ``running · ?``, with ``elapsed_s`` (the caller's own clock) when given.
    The sample's own elapsed time wins over ``elapsed_s``; the ETA appears only when known."""
    if sample is None:
        tail = [] if elapsed_s is None else [format_duration(elapsed_s)]
        return SEP.join(["running", UNKNOWN, *tail])
    head = "running"
    parts = []
    if sample.progress is not None:
        head += " " + format_percent(sample.progress)
        if sample.eta_s is not None:
            parts.append(f"ETA {format_eta(sample.eta_s, sample.progress)}")
    parts.append(format_memory(sample.rss_bytes, sample.mem_limit_bytes))
    elapsed = sample.elapsed_s if sample.elapsed_s is not None else elapsed_s
    if elapsed is not None:
        parts.append(format_duration(elapsed))
    return SEP.join([head, *parts])
