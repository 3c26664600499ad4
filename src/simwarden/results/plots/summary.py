"""The figure of a whole workflow: every run's wall time and peak memory, coloured by how it
ended; bars up to :data:`BAR_MAX_RUNS` runs, one scatter above."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simwarden.core.errors import UserError
from simwarden.results.plots.common import (
    CATEGORY_COLOURS,
    CATEGORY_LABELS,
    category,
    legend_entries,
    new_figure,
    save_atomic,
)

if TYPE_CHECKING:
    import pandas
    from matplotlib.figure import Figure

# Up to this many runs the summary draws two bar panels, one labelled bar per run; above it, one
# scatter of wall time against peak memory (1000 bar labels would be unreadable and slow).
BAR_MAX_RUNS = 60
SCATTER_FIGSIZE = (10.0, 7.0)
# A failed run's cause is shown cut to this many characters; in the scatter only when at most
# SCATTER_MAX_CAUSES runs failed (more labels would hide the points).
CAUSE_WIDTH = 48
SCATTER_MAX_CAUSES = 10
RETRY_HATCH = "//"
RETRY_LABEL = "needed a retry"


@dataclass(frozen=True)
class SummaryRow:
    """One run as the summary draws it (missing values None)."""

    run: str
    category: str
    wall_s: float | None
    peak_mb: float | None
    attempts: int | None = None  # how many attempts the run took (a retry: more than 1)
    cause: str | None = None  # a failed run's one-line cause (the table's ``error`` column)

    @property
    def retried(self) -> bool:
        """The run needed more than one attempt."""
        return (self.attempts or 0) > 1


def short_cause(cause: str, width: int = CAUSE_WIDTH) -> str:
    """``cause`` on one line, cut to ``width`` characters with an ellipsis. The closing
    ``(file:line)`` of an exception's cause is kept whole: the message is cut before it."""
    text = " ".join(cause.split())
    if len(text) <= width:
        return text
    head, paren, where = text.rpartition(" (")
    where = f" ({where}" if paren and where.endswith(")") and len(where) < width // 2 else ""
    if where:
        text = head
    return text[: width - len(where) - 1].rstrip() + "…" + where


def _text(value: Any) -> str | None:
    """A non-empty text cell, or None (missing, NaN, empty)."""
    if value is None or isinstance(value, float) or type(value).__name__ == "NAType":
        return None
    return str(value).strip() or None


def _number(value: Any, key: str, run: str) -> float | None:
    """A finite float, or None for a missing value (None, NaN, pandas NA/NaT)."""
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UserError(
            f"run {run!r}: {key} {value!r} is not a number; the benchmark table needs numbers "
            "or empty cells there"
        ) from None
    return number if math.isfinite(number) else None


def summary_rows(rows: Sequence[Mapping[str, Any]] | pandas.DataFrame) -> list[SummaryRow]:
    """Normalise the benchmark rows, sorted by run id; UserError for a row without run or reason.
    ``attempts`` and ``error`` are optional (tables of older versions lack them)."""
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):
        records = rows.to_dict("records")
    else:
        records = list(rows)
    table = []
    for index, row in enumerate(records):
        for key in ("run", "reason"):
            if key not in row or row[key] is None:
                raise UserError(
                    f"benchmark row {index}: no {key!r}; rows need run, reason, exit_code, "
                    "wall_s and peak_rss_mb"
                )
        run = str(row["run"])
        code = _number(row.get("exit_code"), "exit_code", run)
        attempts = _number(row.get("attempts"), "attempts", run)
        table.append(
            SummaryRow(
                run=run,
                category=category(row["reason"], int(code) if code is not None else None),
                wall_s=_number(row.get("wall_s"), "wall_s", run),
                peak_mb=_number(row.get("peak_rss_mb"), "peak_rss_mb", run),
                attempts=int(attempts) if attempts is not None else None,
                cause=_text(row.get("error")),
            )
        )
    table.sort(key=lambda r: r.run)
    return table


def summary_layout(runs: int) -> tuple[str, tuple[float, float]]:
    """``("bars", size)`` up to BAR_MAX_RUNS runs (height grows with the runs), else
    ``("scatter", SCATTER_FIGSIZE)``; sizes in inches at DPI."""
    if runs <= BAR_MAX_RUNS:
        return "bars", (12.0, round(max(3.0, 1.6 + 0.28 * runs), 2))
    return "scatter", SCATTER_FIGSIZE


def summary_title(categories: Iterable[str]) -> str:
    """``5 runs: 4 exited ok, 1 memory`` (categories in legend order); ``no runs`` when empty."""
    counts = Counter(categories)
    total = sum(counts.values())
    if not total:
        return "no runs"
    parts = [
        f"{counts[name]} {CATEGORY_LABELS.get(name, name)}"
        for name in CATEGORY_COLOURS
        if counts[name]
    ]
    return f"{total} run{'s' if total != 1 else ''}: {', '.join(parts)}"


def plot_summary(rows: Sequence[Mapping[str, Any]] | pandas.DataFrame, output: str | Path) -> Path:
    """Draw the workflow's runs, coloured by how each ended; return ``output``.

    ``rows`` are the benchmark table's rows (keys ``run``, ``reason``, ``exit_code``, ``wall_s``,
    ``peak_rss_mb``, optionally ``attempts`` and ``error``), as dicts or a pandas DataFrame. Up
    to BAR_MAX_RUNS (60) runs: two horizontal bar panels, wall time and peak memory, one
    labelled bar per run sorted by run id. More runs:
    one scatter of wall time against peak memory, one point per run, since per-run labels stop
    being readable (1000 runs render in well under a second); its wall-time axis is logarithmic
    when all times are above 0 and span 100x or more. Colours are fixed per end reason
    (CATEGORY_COLOURS: ``exited ok``, ``failed`` = exited with a non-zero code, and each stop
    reason); the legend lists those present with counts. Runs that needed a retry (``attempts``
    above 1) are hatched (bars) or ringed (scatter), with a legend entry ``needed a retry (N)``.
    A failed run's cause (``error``, cut to CAUSE_WIDTH characters) follows its wall-time bar;
    in the scatter it labels the point when at most SCATTER_MAX_CAUSES runs failed. Missing
    values (None, NaN) draw no bar or point. No rows give a figure noted "no runs". Written
    atomically.
    """
    figure, title = summary_figure(summary_rows(rows))
    return save_atomic(figure, output, title)


def summary_figure(table: Sequence[SummaryRow]) -> tuple[Figure, str]:
    """The summary figure of already normalised rows, not yet saved, and its title."""
    from matplotlib.patches import Patch

    kind, size = summary_layout(len(table))
    categories = [r.category for r in table]
    title = summary_title(categories)
    figure = new_figure(size)
    figure.suptitle(title)
    if kind == "bars":
        _draw_bars(figure, table)
    else:
        _draw_scatter(figure, table)
    handles = [Patch(color=colour, label=label) for label, colour in legend_entries(categories)]
    retried = sum(r.retried for r in table)
    if retried:
        handles.append(_retry_handle(kind, f"{RETRY_LABEL} ({retried})"))
    if handles:
        figure.legend(
            handles=handles,
            loc="outside lower center",
            ncols=min(len(handles), 5),
            fontsize=9,
        )
    return figure, title


def _retry_handle(kind: str, label: str) -> Any:
    """The legend entry of runs that needed a retry: a hatched patch (bars) or a ring (scatter)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    if kind == "bars":
        return Patch(facecolor="white", edgecolor="black", hatch=RETRY_HATCH, label=label)
    return Line2D([], [], ls="", marker="o", mfc="none", mec="black", ms=8, label=label)


def _draw_bars(figure: Figure, table: Sequence[SummaryRow]) -> None:
    """Wall time and peak memory side by side, one labelled bar per run, first run at the top."""
    wall_ax, mem_ax = figure.subplots(1, 2, sharey=True)
    positions = list(range(len(table)))
    colours = [CATEGORY_COLOURS[r.category] for r in table]
    for ax, values, unit, xlabel in (
        (wall_ax, [r.wall_s for r in table], "s", "wall time (s)"),
        (mem_ax, [r.peak_mb for r in table], "MB", "peak memory (MB)"),
    ):
        bars = ax.barh(positions, [v or 0.0 for v in values], color=colours)
        for bar, row in zip(bars, table, strict=True):
            if row.retried:
                bar.set_hatch(RETRY_HATCH)
                bar.set_edgecolor("black")
        texts = [f"{v:.1f} {unit}" if v is not None else "n/a" for v in values]
        if ax is wall_ax:  # a failed run's cause after its wall time
            texts = [
                f"{text}  {short_cause(r.cause)}" if r.cause else text
                for text, r in zip(texts, table, strict=True)
            ]
        ax.bar_label(bars, labels=texts, padding=3, fontsize=8)
        ax.set_xlabel(xlabel)
        causes = ax is wall_ax and any(r.cause for r in table)
        ax.margins(x=0.9 if causes else 0.15)
        ax.grid(axis="x", alpha=0.3)
    wall_ax.set_yticks(positions, [r.run for r in table], fontsize=8)
    if table:
        wall_ax.set_ylim(len(table) - 0.5, -0.5)  # first run id at the top
    else:
        for ax in (wall_ax, mem_ax):
            ax.text(0.5, 0.5, "no runs", transform=ax.transAxes, ha="center", va="center")


def _draw_scatter(figure: Figure, table: Sequence[SummaryRow]) -> None:
    """Wall time against peak memory, one point per run with both values."""
    ax = figure.subplots()
    shown = [
        (r.category, r.wall_s, r.peak_mb)
        for r in table
        if r.wall_s is not None and r.peak_mb is not None
    ]
    for name, colour in CATEGORY_COLOURS.items():
        points = [(wall, peak) for kind, wall, peak in shown if kind == name]
        if points:
            ax.scatter(
                [wall for wall, _ in points],
                [peak for _, peak in points],
                s=14,
                color=colour,
                alpha=0.8,
                lw=0,
            )
    retried = [(r.wall_s, r.peak_mb) for r in table if r.retried and r.wall_s and r.peak_mb]
    if retried:
        ax.scatter(
            [wall for wall, _ in retried],
            [peak for _, peak in retried],
            s=60,
            facecolors="none",
            edgecolors="black",
            lw=0.8,
        )
    failed = [r for r in table if r.cause and r.wall_s is not None and r.peak_mb is not None]
    if len(failed) <= SCATTER_MAX_CAUSES:
        for r in failed:
            ax.annotate(
                f"{r.run}: {short_cause(r.cause or '')}",
                xy=(r.wall_s or 0.0, r.peak_mb or 0.0),
                xytext=(5, 3),
                textcoords="offset points",
                fontsize=7,
            )
    walls = [wall for _, wall, _ in shown]
    if walls and min(walls) > 0 and max(walls) / min(walls) >= 100:
        ax.set_xscale("log")
    if len(shown) < len(table):
        ax.text(
            0.99,
            0.01,
            f"{len(table) - len(shown)} run(s) without wall time or peak not shown",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=8,
        )
    ax.set_xlabel("wall time (s)")
    ax.set_ylabel("peak memory (MB)")
    ax.grid(alpha=0.3)
