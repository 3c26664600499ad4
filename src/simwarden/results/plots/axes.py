"""Axes for the stdlib-only plots: a linear scale, round tick values, tick labels with units,
and the downsampling that draws 100,000 samples as a few thousand points without losing a spike.
"""

from __future__ import annotations

import math
import operator
from bisect import bisect_left
from collections.abc import Sequence

from simwarden.core.fields import Fields

# Downsample only above this many points per pixel column on average.
DENSE = 8


class Scale(Fields, frozen=True):
    """Data values ``lo``..``hi`` onto pixels ``start``..``end`` (``end`` < ``start`` for a
    y axis, as pixels grow downwards). ``hi == lo`` maps everything to ``start``."""

    lo: float
    hi: float
    start: float
    end: float

    def linear(self) -> tuple[float, float]:
        """(a, b) with ``a * value + b`` the pixel of ``value``, for mapping many at once."""
        span = self.hi - self.lo
        a = (self.end - self.start) / span if span > 0 else 0.0
        return a, self.start - a * self.lo

    def __call__(self, value: float) -> float:
        span = self.hi - self.lo
        if span <= 0:
            return self.start
        return self.start + (value - self.lo) / span * (self.end - self.start)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round values (1, 2, 2.5 or 5 times a power of ten apart) from ``lo`` to ``hi``, about
    ``count`` of them; ``[lo]`` when the range is empty or not finite."""
    span = hi - lo
    if not (span > 0 and math.isfinite(span)):
        return [lo]
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return [round(i * step, 12) for i in range(first, last + 1)]


def log_ticks(lo: float, hi: float) -> list[float]:
    """The powers of ten from ``lo`` to ``hi`` (a logarithmic axis); ``[lo]`` when the range
    is not positive and finite or holds no power of ten."""
    if not (0 < lo <= hi and math.isfinite(hi)):
        return [lo]
    first = math.ceil(math.log10(lo) - 1e-9)
    last = math.floor(math.log10(hi) + 1e-9)
    return [10.0**k for k in range(first, last + 1)] or [lo]


def _number(value: float) -> str:
    return f"{value:.10g}"


def unit_label(value: float, unit: str) -> str:
    """A tick with its unit and no needless digits: ``2.5 s``, ``100 s``, ``0.01 s``."""
    return f"{_number(value)} {unit}"


def mb_label(value_mb: float) -> str:
    """A memory tick in MB with its own digits: ``400 MB``, ``12.5 MB``, ``0.25 MB`` (ticks are
    round numbers, so none is rounded: a 12.5 tick between 10 and 15 must not read 12)."""
    return f"{_number(value_mb)} MB"


def percent_label(value: float) -> str:
    """A CPU or progress tick: ``150 %``."""
    return f"{_number(value)} %"


def time_unit(span_s: float) -> tuple[str, float]:
    """The unit a time axis of ``span_s`` seconds is labelled in and its length in seconds:
    seconds up to 5 minutes, minutes up to 5 hours, hours above."""
    if span_s <= 300:
        return "s", 1.0
    if span_s <= 5 * 3600:
        return "min", 60.0
    return "h", 3600.0


def in_order(times: Sequence[float]) -> bool:
    """Every time is finite and none is before the one above it (as the warden writes them)."""
    return all(map(math.isfinite, times)) and all(map(operator.le, times, times[1:]))


def finite_runs(
    times: list[float], values: list[float], times_in_order: bool | None = None
) -> list[tuple[list[float], list[float]]]:
    """The stretches of (time, value) pairs between NaN (or infinite) cells: a line breaks at
    a missing value. Each stretch in time order; [] when nothing is finite or ``values`` is
    empty (a column the file lacks). ``times_in_order``: :func:`in_order` of ``times`` when
    the caller knows it (None: checked here). The common case, all finite and in order, returns
    the lists given, not copies."""
    isfinite = math.isfinite
    if not times or len(values) != len(times):
        return []
    if times_in_order is None:
        times_in_order = in_order(times)
    if times_in_order and all(map(isfinite, values)):
        return [(times, values)]
    runs: list[tuple[list[float], list[float]]] = []
    current: tuple[list[float], list[float]] = ([], [])
    for t, v in zip(times, values, strict=True):
        if not (isfinite(t) and isfinite(v)):
            if current[0]:
                runs.append(current)
            current = ([], [])
            continue
        current[0].append(t)
        current[1].append(v)
    if current[0]:
        runs.append(current)
    return [_in_time_order(t, v) for t, v in runs]


def _in_time_order(times: list[float], values: list[float]) -> tuple[list[float], list[float]]:
    if all(map(operator.le, times, times[1:])):
        return times, values
    pairs = sorted(zip(times, values, strict=True))
    return [t for t, _ in pairs], [v for _, v in pairs]


def downsample(
    times: list[float], values: list[float], columns: int
) -> tuple[list[float], list[float]]:
    """At most two points per column of ``columns`` equal time slices (times sorted, finite):
    each slice's lowest and highest sample in time order, so a one-sample spike survives and a
    pixel column shows the full range it covers. The lists as given when there are no more than
    ``DENSE * columns`` points: below that, drawing every point costs less than the slicing."""
    count = len(times)
    if count <= DENSE * columns:
        return times, values
    first, last = times[0], times[-1]
    width = (last - first) / columns
    edges = [0, *(bisect_left(times, first + width * c) for c in range(1, columns)), count]
    xs: list[float] = []
    ys: list[float] = []
    for a, b in zip(edges, edges[1:], strict=False):
        if a >= b:
            continue
        chunk = values[a:b]
        low, high = chunk.index(min(chunk)), chunk.index(max(chunk))
        for i in (low, high) if low < high else (high, low) if high < low else (low,):
            xs.append(times[a + i])
            ys.append(chunk[i])
    return xs, ys
