"""Compare two benchmark tables (two commits, or two run configs): the per-run change of each
metric, with regressions beyond a threshold flagged.

    simwarden bench compare A B [--threshold 0.1]
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from simwarden.bench import DEFAULT_METRICS, PathLike, _as_float, read_table
from simwarden.errors import UserError

if TYPE_CHECKING:
    import pandas


@dataclass(frozen=True)
class Change:
    """One metric of one run in both tables; ``ratio`` is ``after / before - 1``.

    ``ratio`` is None when either value is missing or ``before`` is 0.
    """

    run: str
    metric: str
    before: float | None
    after: float | None
    ratio: float | None
    regression: bool


@dataclass
class Comparison:
    """Two benchmark tables matched by run id."""

    a: str
    b: str
    threshold: float
    metrics: tuple[str, ...]
    runs_a: int
    runs_b: int
    changes: list[Change] = field(default_factory=list)
    only_in_a: list[str] = field(default_factory=list)
    only_in_b: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[Change]:
        """Changes whose ratio is above the threshold (B more than ``threshold`` above A)."""
        return [change for change in self.changes if change.regression]

    def format(self) -> str:
        """A readable table: ``A -> B  +x.x%`` per run and metric, ``!`` marking regressions."""
        lines = [
            f"A = {self.a} ({self.runs_a} runs), B = {self.b} ({self.runs_b} runs); "
            f"regression: B/A - 1 > {self.threshold * 100:+g}%",
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
        if self.only_in_a:
            lines.append(f"only in A: {', '.join(self.only_in_a)}")
        if self.only_in_b:
            lines.append(f"only in B: {', '.join(self.only_in_b)}")
        found = self.regressions
        if found:
            listed = ", ".join(f"{c.run} {c.metric} {c.ratio:+.1%}" for c in found)
            lines.append(f"{len(found)} regression{'s' if len(found) != 1 else ''}: {listed}")
        else:
            lines.append("no regressions")
        return "\n".join(lines)


def _number(value: Any) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _cell(change: Change) -> str:
    ratio = "n/a" if change.ratio is None else f"{change.ratio:+.1%}"
    mark = " !" if change.regression else ""
    return f"{_number(change.before)} -> {_number(change.after)}  {ratio}{mark}"


def _indexed(table: pandas.DataFrame, label: str, metrics: Sequence[str]) -> dict[str, Any]:
    missing = [m for m in metrics if m not in table.columns]
    if missing:
        raise UserError(
            f"{label}: no column {', '.join(repr(m) for m in missing)}; metrics it has: "
            f"{', '.join(c for c in table.columns if c not in ('run', 'h:m:s')) or 'none'}"
        )
    runs = table["run"].astype(str)
    twice = sorted(set(runs[runs.duplicated()]))
    if twice:
        raise UserError(f"{label}: run id {twice[0]!r} appears more than once")
    return {run: row for run, (_, row) in zip(runs, table.iterrows(), strict=True)}


def compare(
    a: PathLike | pandas.DataFrame,
    b: PathLike | pandas.DataFrame,
    threshold: float = 0.10,
    metrics: Sequence[str] = DEFAULT_METRICS,
) -> Comparison:
    """Match the rows of tables ``a`` and ``b`` (paths or DataFrames) by run id and compute
    ``b / a - 1`` per run and metric; a ratio above ``threshold`` is a regression.

    Runs are listed in ``a``'s order; runs in one table only are listed apart. Raises UserError
    for an unreadable table, a metric it lacks, a run id that appears twice, or a negative
    ``threshold``.
    """
    if not (math.isfinite(threshold) and threshold >= 0):
        raise UserError(f"--threshold {threshold}: use a fraction >= 0, e.g. 0.1 for +10%")
    labels, tables = [], []
    for side in (a, b):
        if isinstance(side, str | os.PathLike):
            labels.append(str(side))
            tables.append(read_table(side))
        else:
            labels.append("table")
            tables.append(side)
    metrics = tuple(metrics)
    rows_a = _indexed(tables[0], labels[0], metrics)
    rows_b = _indexed(tables[1], labels[1], metrics)
    result = Comparison(
        a=labels[0],
        b=labels[1],
        threshold=threshold,
        metrics=metrics,
        runs_a=len(rows_a),
        runs_b=len(rows_b),
        only_in_a=[run for run in rows_a if run not in rows_b],
        only_in_b=[run for run in rows_b if run not in rows_a],
    )
    for run, row in rows_a.items():
        if run not in rows_b:
            continue
        for metric in metrics:
            before, after = _as_float(row[metric]), _as_float(rows_b[run][metric])
            ratio = after / before - 1 if before and after is not None else None
            # round(): 11 / 10 - 1 is 0.10000000000000009, which is not above a 10% threshold.
            regression = ratio is not None and round(ratio, 9) > threshold
            result.changes.append(Change(run, metric, before, after, ratio, regression))
    return result
