"""Compare two benchmark tables (two commits, or two run configs): the per-run change of each
metric, with regressions flagged. A regression is a rise above a threshold ratio that is also
larger than a minimum absolute change (0.5 s for times, 5 MB for memory), so that the noise of
a short run does not count.

    simwarden bench compare OLD NEW [--threshold 0.1] [--min-change-s 0.5] [--min-change-mb 5]
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simwarden.core.errors import UserError
from simwarden.results.table import DEFAULT_METRICS, TABLE_SUFFIXES, read_table
from simwarden.results.values import PathLike, as_float, is_missing

if TYPE_CHECKING:
    import pandas

# Metric families and the minimum absolute rise each needs to be a regression.
TIME_METRICS = frozenset(("wall_s", "cpu_s", "s", "cpu_time"))  # and every timer.<name>
MEMORY_METRICS = frozenset(("peak_rss_mb", "max_rss", "max_vms", "max_uss", "max_pss"))
DEFAULT_MIN_CHANGE_S = 0.5
DEFAULT_MIN_CHANGE_MB = 5.0
# Columns that name a run, its code or its outcome, or a setting: not measurements.
_NOT_METRICS = frozenset(
    ("run", "commit", "repository", "run_config", "attempt", "attempts", "reason", "exit_code")
    + ("error", "mem_limit_mb", "h:m:s", "simulation", "param_set", "ref")
)
SHORT_SHA = 7


@dataclass(frozen=True)
class Change:
    """One metric of one run in both tables; ``ratio`` is ``after / before - 1``.

    ``ratio`` is None when either value is missing or ``before`` is 0 (never a regression).
    ``minimum`` is the absolute rise the metric needs to be a regression (0 for metrics of no
    known family); ``too_small`` marks a ratio above the threshold whose rise is not above it.
    """

    run: str
    metric: str
    before: float | None
    after: float | None
    ratio: float | None
    regression: bool
    minimum: float = 0.0
    too_small: bool = False

    def describe(self) -> str:
        """``10 -> 15  +50.0% !``: both values, the ratio, ``!`` for a regression."""
        ratio = "n/a" if self.ratio is None else f"{self.ratio:+.1%}"
        mark = " !" if self.regression else ""
        return f"{_number(self.before)} -> {_number(self.after)}  {ratio}{mark}"


@dataclass(frozen=True)
class TableInfo:
    """What one table holds: its label (path, or "table" for a DataFrame), its number of runs,
    and the distinct run configs and commits (first 7 characters) in table order; empty when
    the column is absent or has no value."""

    label: str
    runs: int
    run_configs: tuple[str, ...]
    commits: tuple[str, ...]

    def describe(self) -> str:
        """``results/benchmarks.csv (4 runs; run config std; commit 71d8775)``."""
        return (
            f"{self.label} ({self.runs} run{'s' if self.runs != 1 else ''}; "
            f"{_listed('run config', self.run_configs)}; {_listed('commit', self.commits)})"
        )


@dataclass
class Comparison:
    """Two benchmark tables matched by run id."""

    old: TableInfo
    new: TableInfo
    threshold: float
    metrics: tuple[str, ...]
    min_change_s: float = DEFAULT_MIN_CHANGE_S
    min_change_mb: float = DEFAULT_MIN_CHANGE_MB
    changes: list[Change] = field(default_factory=list)
    only_in_old: list[str] = field(default_factory=list)
    only_in_new: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[Change]:
        """Changes above the threshold ratio and above their minimum absolute rise."""
        return [change for change in self.changes if change.regression]

    def format(self) -> str:
        """The header (both tables, what differs between them, the regression rule), then
        ``before -> after  +x.x%`` per run and metric with ``!`` marking regressions, then the
        runs in one table only, the rises too small to flag, and the regressions."""
        lines = [
            f"OLD = {self.old.describe()}",
            f"NEW = {self.new.describe()}",
            _what_differs(self.old, self.new),
            f"regression: NEW/OLD - 1 > {self.threshold * 100:+g}% and a rise above "
            f"{self.min_change_s:g} s (times) or {self.min_change_mb:g} MB (memory)",
        ]
        by_run: dict[str, dict[str, Change]] = {}
        for change in self.changes:
            by_run.setdefault(change.run, {})[change.metric] = change
        header = ["run", *self.metrics]
        cells = [header]
        for run, changes in by_run.items():
            cells.append([run, *(_cell(changes[m]) for m in self.metrics)])
        if by_run:
            widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
            for row in cells:
                cells_text = (c.ljust(w) for c, w in zip(row, widths, strict=True))
                lines.append("  ".join(cells_text).rstrip())
        else:
            lines.append("no run is in both tables")
        if self.only_in_old:
            lines.append(f"only in OLD: {', '.join(self.only_in_old)}")
        if self.only_in_new:
            lines.append(f"only in NEW: {', '.join(self.only_in_new)}")
        small = [change for change in self.changes if change.too_small]
        if small:
            listed = ", ".join(
                f"{c.run} {c.metric} {c.ratio:+.1%} ({_rise(c)})"
                for c in small
                if c.ratio is not None
            )
            lines.append(f"not flagged, rise within the minimum: {listed}")
        found = self.regressions
        if found:
            listed = ", ".join(f"{c.run} {c.metric} {c.ratio:+.1%}" for c in found)
            lines.append(f"{len(found)} regression{'s' if len(found) != 1 else ''}: {listed}")
        else:
            lines.append("no regressions")
        return "\n".join(lines)


def _listed(name: str, values: Sequence[str]) -> str:
    if not values:
        return f"{name} unknown"
    return f"{name}{'s' if len(values) > 1 else ''} {', '.join(values)}"


def _what_differs(old: TableInfo, new: TableInfo) -> str:
    """One line: what changed from OLD to NEW (commit, run config), or that nothing did."""
    differ: list[str] = []
    same: list[str] = []
    unknown: list[str] = []
    for name, before, after in (
        ("commit", old.commits, new.commits),
        ("run config", old.run_configs, new.run_configs),
    ):
        if not before or not after:
            unknown.append(name)
        elif set(before) != set(after):
            differ.append(f"{name} {', '.join(before)} -> {', '.join(after)}")
        else:
            same.append(f"{name} {', '.join(before)}")
    if not differ and not unknown:
        return "same commit and run config: differences are noise of the machine"
    parts = []
    if differ:
        parts.append(f"comparing {' and '.join(differ)}")
    if same:
        parts.append(f"same {' and '.join(same)}")
    if unknown:
        parts.append(f"{' and '.join(unknown)} not recorded in both tables")
    return "; ".join(parts)


def _number(value: Any) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _cell(change: Change) -> str:
    return change.describe()


def _rise(change: Change) -> str:
    rise = (change.after or 0.0) - (change.before or 0.0)
    unit = {"time": " s", "memory": " MB"}.get(metric_family(change.metric) or "", "")
    return f"{rise:+.3g}{unit}"


def metric_family(metric: str) -> str | None:
    """``"time"`` for wall_s, cpu_s, s, cpu_time and timer.*; ``"memory"`` for peak_rss_mb and
    Snakemake's max_rss, max_vms, max_uss, max_pss (all MB); None for any other column."""
    if metric in TIME_METRICS or metric.startswith("timer."):
        return "time"
    if metric in MEMORY_METRICS:
        return "memory"
    return None


def _numeric(series: pandas.Series) -> bool:
    from pandas.api import types

    return types.is_numeric_dtype(series.dtype) and not types.is_bool_dtype(series.dtype)


def comparable_columns(table: pandas.DataFrame) -> list[str]:
    """The measurement columns of ``table``: numeric, with at least one value, and not a run's
    identity, outcome or setting (run, simulation, param_set, ref, commit, repository,
    run_config, attempt, attempts, reason, exit_code, error, mem_limit_mb) nor a parameter
    (``param.*``)."""
    return [
        str(column)
        for column in table.columns
        if column not in _NOT_METRICS
        and not str(column).startswith("param.")
        and _numeric(table[column])
        and bool(table[column].notna().any())
    ]


def check_metrics(table: pandas.DataFrame, label: str, metrics: Sequence[str]) -> None:
    """Raise UserError, naming ``label`` (the table's path) and the numeric columns it has, when
    a metric is not a column of ``table`` or holds values that are not numbers."""
    problems = []
    for metric in metrics:
        if metric not in table.columns:
            problems.append(f"{metric!r} (no such column)")
        elif not _numeric(table[metric]) and bool(table[metric].notna().any()):
            problems.append(f"{metric!r} (not numbers)")
    if problems:
        raise UserError(
            f"{label}: cannot compare {', '.join(problems)}; numeric columns it has: "
            f"{', '.join(comparable_columns(table)) or 'none'} (give those to --metrics)"
        )


def _indexed(table: pandas.DataFrame, label: str, metrics: Sequence[str]) -> dict[str, Any]:
    check_metrics(table, label, metrics)
    runs = table["run"].astype(str)
    twice = sorted(set(runs[runs.duplicated()]))
    if twice:
        raise UserError(f"{label}: run id {twice[0]!r} appears more than once")
    return {run: row for run, (_, row) in zip(runs, table.iterrows(), strict=True)}


def _distinct(table: pandas.DataFrame, column: str, length: int | None = None) -> tuple[str, ...]:
    if column not in table.columns:
        return ()
    found = (str(v).strip()[:length] for v in table[column] if not is_missing(v))
    return tuple(dict.fromkeys(v for v in found if v))


def read_compared(path: PathLike) -> pandas.DataFrame:
    """:func:`read_table`, with a missing file named as such: the hint to run ``bench collect``
    only for the file it writes (``results/benchmarks.csv`` or ``.h5``)."""
    source = Path(path)
    if source.suffix.lower() in TABLE_SUFFIXES and not source.exists():
        collected = source.parent.name == "results" and source.stem == "benchmarks"
        hint = "run `simwarden bench collect` first" if collected else "check the path"
        raise UserError(f"{source}: file not found; {hint}")
    if source.is_dir():
        raise UserError(f"{source}: is a directory; give a .csv or .h5 benchmark table")
    return read_table(source)


def _at_least_zero(option: str, value: float, example: str) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise UserError(f"{option} {value}: use {example}")


def _tables(
    old: PathLike | pandas.DataFrame, new: PathLike | pandas.DataFrame
) -> tuple[list[str], list[pandas.DataFrame]]:
    """The labels (path, or "table") and the tables of ``old`` and ``new``."""
    labels, tables = [], []
    for side in (old, new):
        if isinstance(side, str | os.PathLike):
            labels.append(str(side))
            tables.append(read_compared(side))
        else:
            labels.append("table")
            tables.append(side)
    return labels, tables


def _changes(
    rows_old: dict[str, Any],
    rows_new: dict[str, Any],
    metrics: Sequence[str],
    threshold: float,
    minimum: dict[str, float],
) -> list[Change]:
    """The change of each metric of each run in both tables, in ``rows_old``'s order."""
    changes = []
    for run, row in rows_old.items():
        if run not in rows_new:
            continue
        for metric in metrics:
            before, after = as_float(row[metric]), as_float(rows_new[run][metric])
            least = minimum.get(metric_family(metric) or "", 0.0)
            ratio = after / before - 1 if before and after is not None else None
            # round(): 11 / 10 - 1 is 0.10000000000000009, which is not above a 10% threshold.
            above = ratio is not None and round(ratio, 9) > threshold
            rise = after - before if before is not None and after is not None else 0.0
            regression = above and round(rise, 9) > least
            changes.append(
                Change(
                    run, metric, before, after, ratio, regression, least, above and not regression
                )
            )
    return changes


def compare(
    old: PathLike | pandas.DataFrame,
    new: PathLike | pandas.DataFrame,
    threshold: float = 0.10,
    metrics: Sequence[str] = DEFAULT_METRICS,
    *,
    min_change_s: float = DEFAULT_MIN_CHANGE_S,
    min_change_mb: float = DEFAULT_MIN_CHANGE_MB,
) -> Comparison:
    """Match the rows of tables ``old`` and ``new`` (paths or DataFrames) by run id and compute
    ``new / old - 1`` per run and metric.

    A change is a regression when that ratio is above ``threshold`` and the rise ``new - old``
    is above ``min_change_s`` (time metrics, see :func:`metric_family`) or ``min_change_mb``
    (memory metrics); other metrics need no minimum rise. Runs are listed in ``old``'s order;
    runs in one table only are listed apart. Raises UserError for a missing or unreadable
    table, a metric it lacks or that holds no numbers, a run id that appears twice, or a
    negative threshold or minimum.
    """
    _at_least_zero("--threshold", threshold, "a fraction >= 0, e.g. 0.1 for +10%")
    _at_least_zero("--min-change-s", min_change_s, "seconds >= 0, e.g. 0.5")
    _at_least_zero("--min-change-mb", min_change_mb, "MB >= 0, e.g. 5")
    labels, tables = _tables(old, new)
    metrics = tuple(metrics)
    rows_old = _indexed(tables[0], labels[0], metrics)
    rows_new = _indexed(tables[1], labels[1], metrics)
    info = [
        TableInfo(
            label,
            len(rows),
            _distinct(table, "run_config"),
            _distinct(table, "commit", SHORT_SHA),
        )
        for label, table, rows in zip(labels, tables, (rows_old, rows_new), strict=True)
    ]
    result = Comparison(
        old=info[0],
        new=info[1],
        threshold=threshold,
        metrics=metrics,
        min_change_s=min_change_s,
        min_change_mb=min_change_mb,
        only_in_old=[run for run in rows_old if run not in rows_new],
        only_in_new=[run for run in rows_new if run not in rows_old],
    )
    minimum = {"time": min_change_s, "memory": min_change_mb}
    result.changes = _changes(rows_old, rows_new, metrics, threshold, minimum)
    return result
