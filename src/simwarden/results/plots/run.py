"""The figure of one run: memory (RSS of the whole tree) and CPU % over time, with the limits,
the peak and why the run ended, from its ``samples.tsv`` and ``record.json``."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simwarden.core.errors import UserError
from simwarden.core.units import format_bytes, format_mb
from simwarden.results.plots.common import (
    CATEGORY_COLOURS,
    MB,
    category,
    new_figure,
    save_atomic,
)
from simwarden.warden.record import Record, read_samples

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

RUN_FIGSIZE = (10.0, 6.0)  # inches: 1000 x 600 pixels at DPI
_RSS_COLOUR = "#0072B2"
_CPU_COLOUR = "#555555"
_LIMIT_COLOUR = "#D55E00"
_WARN_COLOUR = "#E69F00"


# -- what gets drawn (pure helpers, tested with exact strings) -------------------------------------
@dataclass(frozen=True)
class RunLabels:
    """The text of a run figure; ``None`` where the record has nothing to say."""

    title: str
    end: str
    peak: str | None
    limit: str | None
    warn: str | None


def run_name(record_path: Path) -> str:
    """``results/runs/big/record.json`` → ``big``; ``big.log.attempt1.record.json`` → ``big.log
    .attempt1`` (the file name without ``.record.json`` / ``.json``)."""
    name = record_path.name
    if name == "record.json":
        return record_path.parent.name or name
    for suffix in (".record.json", ".json"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def end_label(record: Record) -> str:
    """Why the run ended, in a few words: ``exited 0``, ``memory: stopped at 402 MB / limit
    400 MB``, ``timeout: stopped after 60.0 s / limit 60 s``, ..."""
    reason, code, limits = record.reason, record.exit_code, record.limits
    if reason == "exited":
        if code is None:
            return "exited"
        if record.command_signal:
            return f"exited {code} ({record.command_signal})"
        return f"exited {code}" if code == 0 else f"exited {code} (failed)"
    if reason == "memory":
        return _memory_label(record)
    if reason == "timeout":
        wall, limit = record.wall_s, limits.get("timeout_s")
        text = f"timeout: stopped after {wall:.1f} s" if wall is not None else "timeout: stopped"
        return f"{text} / limit {limit:g} s" if limit is not None else text
    if reason == "host_memory":
        percent = limits.get("host_mem_percent")
        if percent is None:
            return "host_memory: stopped"
        return f"host_memory: stopped, host memory use over {percent:g}%"
    if reason == "disk":
        free = limits.get("min_free_disk_bytes")
        if free is None:
            return "disk: stopped"
        return f"disk: stopped, free disk below {format_bytes(free)}"
    if reason == "signal":
        return f"signal: the warden was interrupted (exit {code})"
    if reason == "stopped":
        return "stopped: the stop file appeared"
    return f"{reason} (exit {code})"


def _memory_label(record: Record) -> str:
    peak, mem = record.peak_rss_bytes, record.limits.get("mem_bytes")
    verb = "kernel killed" if record.stopped_by == "cgroup" else "stopped"
    text = f"memory: {verb} at {format_mb(peak)}" if peak is not None else f"memory: {verb}"
    return f"{text} / limit {format_mb(mem)}" if mem else text


def run_annotations(record: Record, name: str) -> RunLabels:
    """The title and labels of a run figure, from the record alone.

    The title names the run (the context's ``run``, else ``name``), the short commit, the run
    config and the attempt when the record's ``context`` has them; old records without a context
    (or with nulls in it) get the run name only. A missing limit or peak gives ``None``.
    """
    context = record.context
    parts = [str(context.run if context and context.run else name)]
    if context and context.commit:
        parts.append(f"commit {str(context.commit)[:7]}")
    if context and context.run_config:
        parts.append(f"run config {context.run_config}")
    if context and context.attempt is not None:
        parts.append(f"attempt {context.attempt}")
    peak = record.peak_rss_bytes
    mem, warn = record.limits.get("mem_bytes"), record.limits.get("mem_warn_bytes")
    return RunLabels(
        title=" · ".join(parts),
        end=end_label(record),
        peak=f"peak {format_mb(peak)}" if peak is not None else None,
        limit=f"limit {format_mb(mem)}" if mem else None,
        warn=f"warn {format_mb(warn)}" if warn else None,
    )


# -- reading the run's files -----------------------------------------------------------------------
@dataclass(frozen=True)
class Series:
    """A run's samples as the plot draws them: seconds, MB, and CPU % (NaN when not sampled)."""

    time_s: list[float]
    rss_mb: list[float]
    cpu_percent: list[float]


def load_record(path: Path) -> Record:
    """The record for a plot; UserError naming the file when it is missing, unreadable, not JSON,
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
    _check_plottable(data, path)
    return Record.from_dict(data, source=f"record {str(path)!r}")


def _check_plottable(data: Any, path: Path) -> None:
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


def load_samples(path: Path) -> Series:
    """The time series of ``samples.tsv`` (read by :func:`~simwarden.warden.record.read_samples`).

    A missing or empty file, or a header alone, gives empty lists (a run stopped before its first
    sample). Rows that do not parse (the last row of a warden killed mid-write) are skipped. A
    header without ``time_s`` and ``rss_bytes`` raises UserError naming the file.
    """
    try:
        if path.stat().st_size == 0:
            return Series([], [], [])
        samples = read_samples(path, required=("time_s", "rss_bytes"))
    except FileNotFoundError:
        return Series([], [], [])
    times = samples["time_s"]
    cpu = samples["cpu_percent"] or [math.nan] * len(times)
    return Series(list(times), [value / MB for value in samples["rss_bytes"]], list(cpu))


# -- drawing ---------------------------------------------------------------------------------------
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
    figure, heading = run_figure(Path(samples), Path(record), title)
    return save_atomic(figure, output, heading)


def run_figure(samples: Path, record: Path, title: str | None) -> tuple[Figure, str]:
    """The run figure, not yet saved, and its title (see :func:`plot_run`)."""
    data = load_record(record)
    series = load_samples(samples)
    labels = run_annotations(data, run_name(record))
    heading = title or labels.title
    figure = new_figure(RUN_FIGSIZE)
    mem_ax, cpu_ax = figure.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    figure.suptitle(heading)
    _draw_series(mem_ax, cpu_ax, series, labels)
    _draw_levels(mem_ax, data, series, labels)
    _draw_end(mem_ax, cpu_ax, data, series, labels.end)
    finite_cpu = [c for c in series.cpu_percent if not math.isnan(c)]
    cpu_ax.set_ylim(0, max([100.0, *finite_cpu]) * 1.1)
    mem_ax.set_ylabel("memory (MB)")
    cpu_ax.set_ylabel("CPU %")
    cpu_ax.set_xlabel("time since start (s)")
    if mem_ax.get_legend_handles_labels()[0]:
        mem_ax.legend(loc="upper left", fontsize=8)
    return figure, heading


def _draw_series(mem_ax: Axes, cpu_ax: Axes, series: Series, labels: RunLabels) -> None:
    """The RSS and CPU curves and the peak marker, or "no samples" in both panels."""
    if not series.time_s:
        for ax in (mem_ax, cpu_ax):
            ax.text(0.5, 0.5, "no samples", transform=ax.transAxes, ha="center", va="center")
        return
    mem_ax.plot(series.time_s, series.rss_mb, color=_RSS_COLOUR, lw=1.4, label="RSS (tree)")
    mem_ax.fill_between(series.time_s, series.rss_mb, color=_RSS_COLOUR, alpha=0.15, lw=0)
    cpu_ax.plot(series.time_s, series.cpu_percent, color=_CPU_COLOUR, lw=1.2)
    top = max(series.rss_mb)
    at = series.rss_mb.index(top)
    mem_ax.plot(series.time_s[at], top, "v", color=_RSS_COLOUR, ms=8, label=labels.peak or "peak")


def _draw_levels(mem_ax: Axes, record: Record, series: Series, labels: RunLabels) -> None:
    """The limit and warning lines, and the memory axis tall enough for them and the peak."""
    limits = record.limits
    levels = [v / MB for v in (limits.get("mem_bytes"), limits.get("mem_warn_bytes")) if v]
    if labels.limit:
        mem_ax.axhline(limits["mem_bytes"] / MB, color=_LIMIT_COLOUR, ls="--", label=labels.limit)
    if labels.warn:
        mem_ax.axhline(limits["mem_warn_bytes"] / MB, color=_WARN_COLOUR, ls=":", label=labels.warn)
    top = max(series.rss_mb) if series.rss_mb else 0.0
    ceiling = max([top, *levels, (record.peak_rss_bytes or 0) / MB]) or 1.0
    mem_ax.set_ylim(0, ceiling * 1.15)


def _draw_end(mem_ax: Axes, cpu_ax: Axes, record: Record, series: Series, end: str) -> None:
    """The end line in the colour of how the run ended, labelled left of it."""
    wall = record.wall_s
    end_x = wall if isinstance(wall, int | float) else (series.time_s[-1] if series.time_s else 0)
    right = max([end_x, *series.time_s[-1:]]) or 1.0
    colour = CATEGORY_COLOURS[category(record.reason, record.exit_code)]
    for ax in (mem_ax, cpu_ax):
        ax.axvline(end_x, color=colour, lw=2)
        ax.set_xlim(0, right * 1.02)
        ax.grid(alpha=0.3)
    # Left of the end line, so the label stays inside the axes.
    mem_ax.annotate(
        end,
        xy=(end_x, 0.97),
        xycoords=("data", "axes fraction"),
        xytext=(-6, 0),
        textcoords="offset points",
        ha="right",
        va="top",
        bbox={"boxstyle": "round", "fc": "white", "ec": colour},
    )
