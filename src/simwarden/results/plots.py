"""The pipeline's own plots: one figure per run (memory and CPU over time) and one per workflow.

``plot_run`` reads a run's ``samples.tsv`` and ``record.json`` (as the warden writes them);
``plot_summary`` takes the benchmark table's rows (a list of dicts or a pandas DataFrame). Both
draw on matplotlib's Agg canvas (no pyplot, never a window) and write the PNG atomically: a temp
file in the same directory, fsynced, then renamed over the output, so a run killed half way never
leaves a half PNG. matplotlib is imported inside the functions, as the CLI must start fast.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simwarden.core.errors import UserError
from simwarden.core.units import format_bytes, format_mb

if TYPE_CHECKING:
    import pandas
    from matplotlib.figure import Figure

MB = 1000**2
DPI = 100
RUN_FIGSIZE = (10.0, 6.0)  # inches: 1000 x 600 pixels at DPI
# Up to this many runs the summary draws two bar panels, one labelled bar per run; above it, one
# scatter of wall time against peak memory (1000 bar labels would be unreadable and slow).
BAR_MAX_RUNS = 60
SCATTER_FIGSIZE = (10.0, 7.0)

# One fixed colour per way a run can end (Okabe-Ito palette: tells apart with colour blindness),
# in legend order. "failed" is reason "exited" with a non-zero exit code.
CATEGORY_COLOURS: dict[str, str] = {
    "exited ok": "#009E73",
    "failed": "#CC79A7",
    "memory": "#D55E00",
    "timeout": "#E69F00",
    "host_memory": "#F0E442",
    "disk": "#0072B2",
    "signal": "#56B4E9",
    "stopped": "#999999",
    "other": "#000000",
}
CATEGORY_LABELS: dict[str, str] = {"failed": "failed (exit ≠ 0)"}
_STOP_REASONS = ("memory", "timeout", "host_memory", "disk", "signal", "stopped")

_RSS_COLOUR = "#0072B2"
_CPU_COLOUR = "#555555"
_LIMIT_COLOUR = "#D55E00"
_WARN_COLOUR = "#E69F00"


# -- what gets drawn (pure helpers, tested with exact strings) -------------------------------------
def _category(reason: Any, exit_code: Any) -> str:
    """The colour group of a run: ``exited ok`` (reason exited, exit code 0), ``failed`` (exited
    with any other code, also a missing one), a stop reason, or ``other`` for an unknown reason."""
    if reason == "exited":
        return "exited ok" if exit_code == 0 else "failed"
    return reason if reason in _STOP_REASONS else "other"


def _legend_entries(categories: Iterable[str]) -> list[tuple[str, str]]:
    """(label, colour) for each category present, in the fixed order, with its count of runs."""
    counts = Counter(categories)
    return [
        (f"{CATEGORY_LABELS.get(name, name)} ({counts[name]})", colour)
        for name, colour in CATEGORY_COLOURS.items()
        if counts[name]
    ]


@dataclass(frozen=True)
class _RunLabels:
    """The text of a run figure; ``None`` where the record has nothing to say."""

    title: str
    end: str
    peak: str | None
    limit: str | None
    warn: str | None


def _run_name(record_path: Path) -> str:
    """``results/runs/big/record.json`` → ``big``; ``big.log.attempt1.record.json`` → ``big.log
    .attempt1`` (the file name without ``.record.json`` / ``.json``)."""
    name = record_path.name
    if name == "record.json":
        return record_path.parent.name or name
    for suffix in (".record.json", ".json"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _end_label(record: Mapping[str, Any]) -> str:
    reason = record.get("reason")
    code = record.get("exit_code")
    limits = record.get("limits") or {}
    peak = record.get("peak_rss_bytes")
    if reason == "exited":
        if code is None:
            return "exited"
        if record.get("command_signal"):
            return f"exited {code} ({record['command_signal']})"
        return f"exited {code}" if code == 0 else f"exited {code} (failed)"
    if reason == "memory":
        verb = "kernel killed" if record.get("stopped_by") == "cgroup" else "stopped"
        text = f"memory: {verb} at {format_mb(peak)}" if peak is not None else f"memory: {verb}"
        mem = limits.get("mem_bytes")
        return f"{text} / limit {format_mb(mem)}" if mem else text
    if reason == "timeout":
        wall, limit = record.get("wall_s"), limits.get("timeout_s")
        text = f"timeout: stopped after {wall:.1f} s" if wall is not None else "timeout: stopped"
        return f"{text} / limit {limit:g} s" if limit is not None else text
    if reason == "host_memory":
        percent = limits.get("host_mem_percent")
        return (
            f"host_memory: stopped, host memory use over {percent:g}%"
            if percent is not None
            else "host_memory: stopped"
        )
    if reason == "disk":
        free = limits.get("min_free_disk_bytes")
        return (
            f"disk: stopped, free disk below {format_bytes(free)}"
            if free is not None
            else "disk: stopped"
        )
    if reason == "signal":
        return f"signal: the warden was interrupted (exit {code})"
    if reason == "stopped":
        return "stopped: the stop file appeared"
    return f"{reason} (exit {code})"


def _run_annotations(record: Mapping[str, Any], run_name: str) -> _RunLabels:
    """The title and labels of a run figure, from the record alone.

    The title names the run (the context's ``run``, else ``run_name``), the short commit, the run
    config and the attempt when the record's ``context`` has them; old records without a context
    (or with nulls in it) get the run name only. A missing limit or peak gives ``None``.
    """
    context = record.get("context") or {}
    parts = [str(context.get("run") or run_name)]
    if context.get("commit"):
        parts.append(f"commit {str(context['commit'])[:7]}")
    if context.get("run_config"):
        parts.append(f"run config {context['run_config']}")
    if context.get("attempt") is not None:
        parts.append(f"attempt {context['attempt']}")
    limits = record.get("limits") or {}
    peak, mem, warn = (
        record.get("peak_rss_bytes"),
        limits.get("mem_bytes"),
        limits.get("mem_warn_bytes"),
    )
    return _RunLabels(
        title=" · ".join(parts),
        end=_end_label(record),
        peak=f"peak {format_mb(peak)}" if peak is not None else None,
        limit=f"limit {format_mb(mem)}" if mem else None,
        warn=f"warn {format_mb(warn)}" if warn else None,
    )


# -- reading the run's files -----------------------------------------------------------------------
@dataclass(frozen=True)
class _Series:
    time_s: list[float]
    rss_mb: list[float]
    cpu_percent: list[float]


def _load_record(path: Path) -> dict[str, Any]:
    """The record as a dict; UserError naming the file when it is missing, unreadable, not JSON,
    has no string ``reason`` (not a simwarden record), or holds a non-number where the plot needs
    one. Keys that are absent or null (old records) are fine."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(
            f"record {str(path)!r} does not exist: run the simulation first or fix the path"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"record {str(path)!r} cannot be read: {error}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise UserError(
            f"record {str(path)!r} is not valid JSON ({error.msg}, line {error.lineno}): "
            "corrupt or cut short; rerun the simulation to rewrite it"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("reason"), str):
        raise UserError(
            f"record {str(path)!r} has no 'reason': not a simwarden record (written by "
            "simwarden run --record)"
        )
    for key in ("limits", "context"):
        if not isinstance(data.get(key) or {}, dict):
            raise UserError(f"record {str(path)!r}: {key} must be an object or null; corrupt")
    numbers = [(key, data.get(key)) for key in ("wall_s", "exit_code", "peak_rss_bytes")]
    numbers += [(f"limits.{key}", value) for key, value in (data.get("limits") or {}).items()]
    for key, value in numbers:
        if key != "limits.disk_path" and not isinstance(value, int | float | None):
            raise UserError(
                f"record {str(path)!r}: {key} {value!r} is not a number; corrupt, rerun the "
                "simulation to rewrite it"
            )
    return data


def _load_samples(path: Path) -> _Series:
    """The time series of ``samples.tsv``.

    A missing or empty file, or a header alone, gives empty lists (a run stopped before its first
    sample). Rows that do not parse (the last row of a warden killed mid-write) are skipped. A
    header without ``time_s`` and ``rss_bytes`` raises UserError naming the file.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return _Series([], [], [])
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"samples {str(path)!r} cannot be read: {error}") from None
    if not lines:
        return _Series([], [], [])
    header = lines[0].split("\t")
    if "time_s" not in header or "rss_bytes" not in header:
        raise UserError(
            f"samples {str(path)!r}: header {lines[0]!r} lacks time_s and rss_bytes: not a "
            "samples file written by simwarden run --samples"
        )
    t_col, rss_col = header.index("time_s"), header.index("rss_bytes")
    cpu_col = header.index("cpu_percent") if "cpu_percent" in header else None
    times: list[float] = []
    rss: list[float] = []
    cpu: list[float] = []
    for line in lines[1:]:
        fields = line.split("\t")
        if len(fields) != len(header):
            continue
        try:
            t, r = float(fields[t_col]), float(fields[rss_col]) / MB
            c = float(fields[cpu_col]) if cpu_col is not None else math.nan
        except ValueError:
            continue
        times.append(t)
        rss.append(r)
        cpu.append(c)
    return _Series(times, rss, cpu)


# -- drawing and saving ----------------------------------------------------------------------------
def _new_figure(size: tuple[float, float]) -> Figure:
    # A bare Figure on an Agg canvas: no pyplot, so no global figure list, no GUI, no leak.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save_atomic(figure: Figure, output: str | os.PathLike[str], title: str) -> Path:
    """Write ``figure`` as PNG to ``output`` via a temp file + rename; parents are created.

    A failed write removes its temp file and leaves any old PNG as it was.
    """
    from simwarden._version import __version__

    path = Path(output)
    if path.is_dir():
        raise UserError(f"plot output {str(path)!r} is a directory; give a .png file path")
    from simwarden.core.fsutil import replace_atomically

    metadata = {"Title": title, "Software": f"simwarden {__version__}"}
    return replace_atomically(
        path, lambda tmp: figure.savefig(tmp, format="png", dpi=DPI, metadata=metadata)
    )


def plot_run(
    samples: str | Path,
    record: str | Path,
    output: str | Path,
    title: str | None = None,
) -> Path:
    """Draw one run: memory (RSS of the whole tree, MB) and CPU % over time; return ``output``.

    The memory panel shows the limit and the warning level when the record has them, the peak
    (marked where the samples reach their maximum) and a vertical line at the end, labelled with
    why the run ended (``memory: stopped at 402 MB / limit 400 MB``, ``exited 0``). ``title``
    replaces the default (run, short commit, run config, attempt from the record's context).

    A samples file that is missing, empty or a header alone still gives a figure, noted "no
    samples". A missing or corrupt record raises UserError naming the file, before anything is
    written. The PNG is 1000 x 600 pixels, written atomically (parent directories created).
    """
    figure, heading = _run_figure(Path(samples), Path(record), title)
    return _save_atomic(figure, output, heading)


def _run_figure(samples: Path, record: Path, title: str | None) -> tuple[Figure, str]:
    """The run figure, not yet saved, and its title (see :func:`plot_run`)."""
    data = _load_record(record)
    series = _load_samples(samples)
    labels = _run_annotations(data, _run_name(record))
    heading = title or labels.title
    category = _category(data.get("reason"), data.get("exit_code"))

    figure = _new_figure(RUN_FIGSIZE)
    mem_ax, cpu_ax = figure.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    figure.suptitle(heading)

    limits = data.get("limits") or {}
    levels = [v / MB for v in (limits.get("mem_bytes"), limits.get("mem_warn_bytes")) if v]
    if series.time_s:
        mem_ax.plot(series.time_s, series.rss_mb, color=_RSS_COLOUR, lw=1.4, label="RSS (tree)")
        mem_ax.fill_between(series.time_s, series.rss_mb, color=_RSS_COLOUR, alpha=0.15, lw=0)
        cpu_ax.plot(series.time_s, series.cpu_percent, color=_CPU_COLOUR, lw=1.2)
        top = max(series.rss_mb)
        at = series.rss_mb.index(top)
        mem_ax.plot(
            series.time_s[at], top, "v", color=_RSS_COLOUR, ms=8, label=labels.peak or "peak"
        )
    else:
        for ax in (mem_ax, cpu_ax):
            ax.text(0.5, 0.5, "no samples", transform=ax.transAxes, ha="center", va="center")
        top = 0.0
    if labels.limit:
        mem_ax.axhline(limits["mem_bytes"] / MB, color=_LIMIT_COLOUR, ls="--", label=labels.limit)
    if labels.warn:
        mem_ax.axhline(limits["mem_warn_bytes"] / MB, color=_WARN_COLOUR, ls=":", label=labels.warn)
    peak_bytes = data.get("peak_rss_bytes")
    ceiling = max([top, *levels, (peak_bytes or 0) / MB]) or 1.0
    mem_ax.set_ylim(0, ceiling * 1.15)

    wall = data.get("wall_s")
    end_x = wall if isinstance(wall, int | float) else (series.time_s[-1] if series.time_s else 0)
    right = max([end_x, *series.time_s[-1:]]) or 1.0
    colour = CATEGORY_COLOURS[category]
    for ax in (mem_ax, cpu_ax):
        ax.axvline(end_x, color=colour, lw=2)
        ax.set_xlim(0, right * 1.02)
        ax.grid(alpha=0.3)
    # Left of the end line, so the label stays inside the axes.
    mem_ax.annotate(
        labels.end,
        xy=(end_x, 0.97),
        xycoords=("data", "axes fraction"),
        xytext=(-6, 0),
        textcoords="offset points",
        ha="right",
        va="top",
        bbox={"boxstyle": "round", "fc": "white", "ec": colour},
    )
    finite_cpu = [c for c in series.cpu_percent if not math.isnan(c)]
    cpu_ax.set_ylim(0, max([100.0, *finite_cpu]) * 1.1)
    mem_ax.set_ylabel("memory (MB)")
    cpu_ax.set_ylabel("CPU %")
    cpu_ax.set_xlabel("time since start (s)")
    if mem_ax.get_legend_handles_labels()[0]:
        mem_ax.legend(loc="upper left", fontsize=8)
    return figure, heading


# -- the workflow summary --------------------------------------------------------------------------
@dataclass(frozen=True)
class _SummaryRow:
    run: str
    category: str
    wall_s: float | None
    peak_mb: float | None


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


def _summary_rows(rows: Sequence[Mapping[str, Any]] | pandas.DataFrame) -> list[_SummaryRow]:
    """Normalise the benchmark rows, sorted by run id; UserError for a row without run or reason."""
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
        table.append(
            _SummaryRow(
                run=run,
                category=_category(row["reason"], int(code) if code is not None else None),
                wall_s=_number(row.get("wall_s"), "wall_s", run),
                peak_mb=_number(row.get("peak_rss_mb"), "peak_rss_mb", run),
            )
        )
    table.sort(key=lambda r: r.run)
    return table


def _summary_layout(runs: int) -> tuple[str, tuple[float, float]]:
    """``("bars", size)`` up to BAR_MAX_RUNS runs (height grows with the runs), else
    ``("scatter", SCATTER_FIGSIZE)``; sizes in inches at DPI."""
    if runs <= BAR_MAX_RUNS:
        return "bars", (12.0, round(max(3.0, 1.6 + 0.28 * runs), 2))
    return "scatter", SCATTER_FIGSIZE


def _summary_title(categories: Iterable[str]) -> str:
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
    ``peak_rss_mb``), as dicts or a pandas DataFrame. Up to BAR_MAX_RUNS (60) runs: two horizontal
    bar panels, wall time and peak memory, one labelled bar per run sorted by run id. More runs:
    one scatter of wall time against peak memory, one point per run, since per-run labels stop
    being readable (1000 runs render in well under a second); its wall-time axis is logarithmic
    when all times are above 0 and span 100x or more. Colours are fixed per end reason
    (CATEGORY_COLOURS: ``exited ok``, ``failed`` = exited with a non-zero code, and each stop
    reason); the legend lists those present with counts. Missing values (None, NaN) draw no bar
    or point. No rows give a figure noted "no runs". Written atomically.
    """
    figure, title = _summary_figure(_summary_rows(rows))
    return _save_atomic(figure, output, title)


def _summary_figure(table: Sequence[_SummaryRow]) -> tuple[Figure, str]:
    """The summary figure of already normalised rows, not yet saved, and its title."""
    from matplotlib.patches import Patch

    kind, size = _summary_layout(len(table))
    categories = [r.category for r in table]
    title = _summary_title(categories)
    figure = _new_figure(size)
    figure.suptitle(title)
    if kind == "bars":
        wall_ax, mem_ax = figure.subplots(1, 2, sharey=True)
        positions = list(range(len(table)))
        colours = [CATEGORY_COLOURS[c] for c in categories]
        for ax, values, unit, xlabel in (
            (wall_ax, [r.wall_s for r in table], "s", "wall time (s)"),
            (mem_ax, [r.peak_mb for r in table], "MB", "peak memory (MB)"),
        ):
            bars = ax.barh(positions, [v or 0.0 for v in values], color=colours)
            ax.bar_label(
                bars,
                labels=[f"{v:.1f} {unit}" if v is not None else "n/a" for v in values],
                padding=3,
                fontsize=8,
            )
            ax.set_xlabel(xlabel)
            ax.margins(x=0.15)
            ax.grid(axis="x", alpha=0.3)
        wall_ax.set_yticks(positions, [r.run for r in table], fontsize=8)
        if table:
            wall_ax.set_ylim(len(table) - 0.5, -0.5)  # first run id at the top
        else:
            for ax in (wall_ax, mem_ax):
                ax.text(0.5, 0.5, "no runs", transform=ax.transAxes, ha="center", va="center")
    else:
        ax = figure.subplots()
        shown = [r for r in table if r.wall_s is not None and r.peak_mb is not None]
        for name, colour in CATEGORY_COLOURS.items():
            points = [r for r in shown if r.category == name]
            if points:
                ax.scatter(
                    [r.wall_s for r in points],
                    [r.peak_mb for r in points],
                    s=14,
                    color=colour,
                    alpha=0.8,
                    lw=0,
                )
        walls = [r.wall_s for r in shown]
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
    entries = _legend_entries(categories)
    if entries:
        figure.legend(
            handles=[Patch(color=colour, label=label) for label, colour in entries],
            loc="outside lower center",
            ncols=min(len(entries), 5),
            fontsize=9,
        )
    return figure, title
