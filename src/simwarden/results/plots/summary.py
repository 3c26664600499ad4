"""The figure of a whole workflow: every run's wall time and peak memory, coloured by how it
ended, as an SVG drawn with the standard library alone (the benchmark CSV read with ``csv``), so
the plot_summary job costs a Python start-up and milliseconds, not a pandas and matplotlib import.

What is said: :mod:`.summary_model`; how it is drawn: :mod:`.summary_draw`.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from simwarden.core.errors import UserError
from simwarden.results.plots.summary_draw import draw_summary
from simwarden.results.plots.summary_model import (
    BAR_MAX_RUNS,
    CAUSE_WIDTH,
    SCATTER_MAX_CAUSES,
    SummaryRow,
    short_cause,
    summary_layout,
    summary_rows,
    summary_title,
)
from simwarden.results.plots.svg import write_svg

__all__ = [
    "BAR_MAX_RUNS",
    "CAUSE_WIDTH",
    "SCATTER_MAX_CAUSES",
    "SUMMARY_COLUMNS",
    "SummaryRow",
    "plot_summary",
    "plot_summary_csv",
    "read_summary_csv",
    "short_cause",
    "summary_figure",
    "summary_layout",
    "summary_rows",
    "summary_title",
]

# The benchmark table's columns the summary reads (results.table.RECORD_COLUMNS has them all).
SUMMARY_COLUMNS = ("run", "reason", "exit_code", "wall_s", "peak_rss_mb", "attempts", "error")


def read_summary_csv(path: str | Path) -> list[dict[str, str]]:
    """The :data:`SUMMARY_COLUMNS` of every row of a benchmark CSV, as text: an empty cell is
    ``""``, as is a cell a short row lacks; a column the file lacks is left out of the dicts.
    An empty file, a header alone or blank lines give []. FileNotFoundError when there is no
    file; UserError naming the file when it is not UTF-8 or not CSV."""
    source = Path(path)
    try:
        with source.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                return []
            wanted = [(name, header.index(name)) for name in SUMMARY_COLUMNS if name in header]
            return [
                {name: cells[i] if i < len(cells) else "" for name, i in wanted}
                for cells in reader
                if any(cells)  # blank lines are no rows
            ]
    except (UnicodeDecodeError, csv.Error) as error:
        raise UserError(
            f"{source}: cannot be read as a benchmark table ({error}); give the CSV written by "
            "collect_benchmarks or `simwarden bench collect`"
        ) from None


def plot_summary(rows: Sequence[Mapping[str, Any]] | Any, output: str | Path) -> Path:
    """Draw the workflow's runs as an SVG, coloured by how each ended; return ``output``.

    ``rows`` are the benchmark table's rows (keys ``run``, ``reason``, ``exit_code``, ``wall_s``,
    ``peak_rss_mb``, optionally ``attempts`` and ``error``) as dicts (CSV text or values) or a
    pandas DataFrame. Up to BAR_MAX_RUNS (60) runs: two horizontal bar panels, wall time and
    peak memory, one labelled bar per run sorted by run id (``8.8 s``, ``401.8 MB``, ``n/a``
    for a missing value, which draws no bar). More runs: one scatter of wall time against peak
    memory, one dot per run and no per-run labels (10,000 runs stay legible and the file a few
    hundred kB at most: dots on the same pixel are drawn once); its wall-time axis is
    logarithmic when all times are above 0 and span 100x or more, and a note counts the runs
    without both values. Colours are fixed per end reason (common.CATEGORY_COLOURS: ``exited
    ok``, ``failed`` = exited with a non-zero code, each stop reason); the legend lists those
    present with counts. Runs that needed a retry (``attempts`` above 1) are hatched (bars) or
    ringed (scatter), legend entry ``needed a retry (N)``. A failed run's cause (``error``, cut
    to CAUSE_WIDTH characters) follows its wall-time bar; in the scatter it labels the dot when
    at most SCATTER_MAX_CAUSES runs failed. No rows: a figure saying "no runs". UserError for a
    row without run or reason or a non-number where a number belongs, before anything is
    written; the SVG is written atomically (parents created).
    """
    document, _ = summary_figure(summary_rows(rows))
    return write_svg(document, output)


def plot_summary_csv(table: str | Path, output: str | Path) -> Path:
    """:func:`plot_summary` of the benchmark CSV ``table`` (read by :func:`read_summary_csv`);
    a missing table gives the "no runs" figure, noted with why."""
    try:
        rows = read_summary_csv(table)
    except FileNotFoundError:
        document, _ = summary_figure([], note=f"{table}: no such file")
        return write_svg(document, output)
    return plot_summary(rows, output)


def summary_figure(table: Sequence[SummaryRow], note: str | None = None) -> tuple[str, str]:
    """The summary's SVG document of already normalised rows, not yet written, and its title;
    ``note`` (for no rows) is a line saying why."""
    title = summary_title(r.category for r in table)
    return draw_summary(table, title, note), title
