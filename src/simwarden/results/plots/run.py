"""The figure of one run: memory (RSS of the whole tree) and CPU % over time, with the limits,
the peak and why the run ended, from its ``samples.tsv`` and ``record.json``."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simwarden.core.errors import UserError
from simwarden.core.units import format_bytes, format_mb
from simwarden.pipeline import layout
from simwarden.results.attempts import kept_attempts, redo_command, workflow_profiles
from simwarden.results.plots.common import (
    CATEGORY_COLOURS,
    MB,
    category,
    new_figure,
    save_atomic,
)
from simwarden.results.values import Problems, Warn
from simwarden.results.values import load_record as load_tolerant
from simwarden.results.values import warn as values_warn
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
    """The run a record belongs to: ``results/runs/big/record.json`` and a kept attempt's
    ``results/failed/big/attempt-1/record.json`` → ``big``; any other file, its name without
    ``.record.json`` / ``.json`` (``r.json`` → ``r``)."""
    name = record_path.name
    if name == "record.json":
        parent = record_path.parent
        if parent.name.removeprefix("attempt-").isdigit() and parent.name.startswith("attempt-"):
            parent = parent.parent
        return parent.name or name
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
            f"corrupt or cut short; {redo_hint(path)}"
        ) from None
    _check_plottable(data, path)
    return Record.from_dict(data, source=f"record {str(path)!r}")


def workflow_root(record: Path) -> Path | None:
    """The workflow directory of a record at ``<root>/results/runs/<run>/record.json`` (the
    layout's :data:`~simwarden.pipeline.layout.RECORD`), else None."""
    parts = Path(layout.RECORD).parts  # ("results", "runs", "{run}", "record.json")
    if len(record.parts) < len(parts) or record.name != parts[-1]:
        return None
    if (record.parent.parent.name, record.parent.parent.parent.name) != (parts[1], parts[0]):
        return None
    return record.parents[len(parts) - 1]


def redo_hint(record: Path) -> str:
    """``to redo the run: snakemake --profile P --forcerun results/runs/<run>/record.json``
    (the command ``simwarden status`` gives; the profile of the last logged run) for a record
    in the workflow layout; else ``rerun the simulation to rewrite it``."""
    root = workflow_root(record)
    if root is None:
        return "rerun the simulation to rewrite it"
    relative = Path(*record.parts[-len(Path(layout.RECORD).parts) :]).as_posix()
    return f"to redo the run: {redo_command(relative, workflow_profiles(root))}"


def _check_plottable(data: Any, path: Path) -> None:
    if not isinstance(data, dict) or not isinstance(data.get("reason"), str):
        raise UserError(
            f"record {str(path)!r} has no 'reason': not a simwarden record (written by "
            f"simwarden run --record), or damaged; {redo_hint(path)}"
        )
    for key in ("limits", "context"):
        if not isinstance(data.get(key) or {}, dict):
            raise UserError(
                f"record {str(path)!r}: {key} must be an object or null; corrupt, {redo_hint(path)}"
            )
    numbers = [(key, data.get(key)) for key in ("wall_s", "exit_code", "peak_rss_bytes")]
    numbers += [(f"limits.{key}", value) for key, value in (data.get("limits") or {}).items()]
    for key, value in numbers:
        if key != "limits.disk_path" and not isinstance(value, int | float | None):
            raise UserError(
                f"record {str(path)!r}: {key} {value!r} is not a number; corrupt, {redo_hint(path)}"
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


# -- earlier attempts ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Segment:
    """One attempt of a run on the figure's time axis: it starts at ``offset`` seconds, when the
    attempts before it (laid end to end) have ended. ``number`` is its attempt number."""

    number: int
    record: Record
    series: Series
    offset: float

    @property
    def end(self) -> float:
        """When the attempt ended, from its start: its wall time, else its last sample's time."""
        wall = self.record.wall_s
        if isinstance(wall, int | float):
            return float(wall)
        return self.series.time_s[-1] if self.series.time_s else 0.0

    @property
    def span(self) -> float:
        """How much of the time axis the attempt takes: to its end or its last sample."""
        return max([self.end, *self.series.time_s[-1:]])


def _attempt_number(record: Record, default: int) -> int:
    number = record.context.attempt if record.context else None
    return number if isinstance(number, int) and not isinstance(number, bool) else default


def earlier_attempts(record_path: Path, record: Record) -> list[tuple[Path, Path]]:
    """(samples, record) of the kept failed attempts before the run's final one, in attempt
    order, for a record in the workflow layout (``results/runs/<run>/record.json``); [] for
    other records. The final attempt's own kept copy (a failed last attempt is kept too) is
    left out: kept attempts numbered from the final one's number on, or, when the record
    carries no number, one that ended when it ended."""
    root = workflow_root(record_path)
    if root is None:
        return []
    kept = kept_attempts(record_path.parent.name, root)
    final = _attempt_number(record, 0) or record.attempts
    found = []
    for attempt in kept:
        if final and attempt.number >= final:
            continue
        if not final:
            other = load_tolerant(attempt.record)
            if other is not None and other.end is not None and other.end == record.end:
                continue
        found.append((attempt.samples, attempt.record))
    return found


def attempt_segments(
    attempts: Sequence[tuple[Path, Path]], final: Record, series: Series, warn: Warn = values_warn
) -> list[Segment]:
    """The earlier ``attempts`` (samples, record) and the final one laid end to end. An
    attempt whose record cannot be read is named in one ``warn`` line and left out; unreadable
    samples give an attempt without samples (also named)."""
    segments: list[Segment] = []
    offset = 0.0
    for index, (samples_path, record_path) in enumerate(attempts, start=1):
        problems = Problems()
        record = load_tolerant(record_path, problems)
        if record is None:
            warn(f"plot: {'; '.join(problems.items)}; attempt {index} left out of the plot")
            continue
        try:
            kept_series = load_samples(samples_path)
        except UserError as error:
            warn(f"plot: {error}; attempt {index} drawn without samples")
            kept_series = Series([], [], [])
        segment = Segment(_attempt_number(record, index), record, kept_series, offset)
        segments.append(segment)
        offset += segment.span
    number = _attempt_number(final, (segments[-1].number + 1) if segments else 1)
    return [*segments, Segment(number, final, series, offset)]


# -- drawing ---------------------------------------------------------------------------------------
def plot_run(
    samples: str | Path,
    record: str | Path,
    output: str | Path,
    title: str | None = None,
    attempts: Sequence[tuple[str | Path, str | Path]] | None = None,
) -> Path:
    """Draw one run: memory (RSS of the whole tree, MB) and CPU % over time; return ``output``.

    The memory panel shows the limit and the warning level when the record has them, the peak
    (marked where the samples reach their maximum) and a vertical line at the end, labelled with
    why the run ended (``memory: stopped at 402 MB / limit 400 MB``, ``exited 0``). ``title``
    replaces the default (run, short commit, run config, attempt from the record's context).

    Every attempt is shown: ``attempts`` are the (samples, record) of the failed attempts before
    this one, in order; None finds them for a record in the workflow layout (the kept attempts
    in ``results/failed/<run>/attempt-<N>/``, see :func:`earlier_attempts`). They are laid end
    to end on the time axis, each with its own memory limit line (``limit 400 MB (attempt
    1)``), end line and label (``attempt 1: memory: stopped at 402 MB / limit 400 MB``); a
    memory stop is marked with an X (``memory stop (attempt 1)``). A kept attempt that cannot
    be read is named in one warning line and left out.

    A samples file that is missing, empty or a header alone still gives a figure, noted "no
    samples". A missing or corrupt record raises UserError naming the file and, for a record
    in the workflow layout, the command that redoes the run, before anything is written. The
    PNG is 1000 x 600 pixels, written atomically (parent directories created).
    """
    given = None if attempts is None else [(Path(s), Path(r)) for s, r in attempts]
    figure, heading = run_figure(Path(samples), Path(record), title, given)
    return save_atomic(figure, output, heading)


def run_figure(
    samples: Path,
    record: Path,
    title: str | None,
    attempts: Sequence[tuple[Path, Path]] | None = None,
) -> tuple[Figure, str]:
    """The run figure, not yet saved, and its title (see :func:`plot_run`)."""
    data = load_record(record)
    series = load_samples(samples)
    earlier = earlier_attempts(record, data) if attempts is None else attempts
    segments = attempt_segments(earlier, data, series)
    labels = run_annotations(data, run_name(record))
    heading = title or labels.title
    figure = new_figure(RUN_FIGSIZE)
    mem_ax, cpu_ax = figure.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    figure.suptitle(heading)
    _draw_series(mem_ax, cpu_ax, segments, labels)
    _draw_levels(mem_ax, segments, labels)
    _draw_end(mem_ax, cpu_ax, segments, labels.end)
    finite_cpu = [c for g in segments for c in g.series.cpu_percent if not math.isnan(c)]
    cpu_ax.set_ylim(0, max([100.0, *finite_cpu]) * 1.1)
    mem_ax.set_ylabel("memory (MB)")
    cpu_ax.set_ylabel("CPU %")
    cpu_ax.set_xlabel(
        "time since start (s)"
        if len(segments) == 1
        else "time since start (s), attempts end to end"
    )
    if mem_ax.get_legend_handles_labels()[0]:
        mem_ax.legend(loc="upper left", fontsize=8)
    return figure, heading


def _draw_series(mem_ax: Axes, cpu_ax: Axes, segments: list[Segment], labels: RunLabels) -> None:
    """The RSS and CPU curves of every attempt and the final attempt's peak marker, or "no
    samples" in both panels when no attempt has samples."""
    if not any(g.series.time_s for g in segments):
        for ax in (mem_ax, cpu_ax):
            ax.text(0.5, 0.5, "no samples", transform=ax.transAxes, ha="center", va="center")
        return
    label: str | None = "RSS (tree)"
    for segment in segments:
        series = segment.series
        if not series.time_s:
            continue
        times = [t + segment.offset for t in series.time_s]
        mem_ax.plot(times, series.rss_mb, color=_RSS_COLOUR, lw=1.4, label=label)
        mem_ax.fill_between(times, series.rss_mb, color=_RSS_COLOUR, alpha=0.15, lw=0)
        cpu_ax.plot(times, series.cpu_percent, color=_CPU_COLOUR, lw=1.2)
        label = None
    final = segments[-1]
    if final.series.time_s:
        top = max(final.series.rss_mb)
        at = final.series.rss_mb.index(top)
        x = final.series.time_s[at] + final.offset
        mem_ax.plot(x, top, "v", color=_RSS_COLOUR, ms=8, label=labels.peak or "peak")


def _draw_levels(mem_ax: Axes, segments: list[Segment], labels: RunLabels) -> None:
    """The limit lines (one per attempt over its own stretch when there are several) and the
    final attempt's warning line; the memory axis tall enough for them and every peak."""
    several = len(segments) > 1
    levels: list[float] = []
    for segment in segments:
        mem = segment.record.mem_limit_bytes
        if not mem:
            continue
        levels.append(mem / MB)
        if several:
            start, end = segment.offset, segment.offset + segment.span
            text = f"limit {format_mb(mem)} (attempt {segment.number})"
            mem_ax.hlines(mem / MB, start, end, colors=_LIMIT_COLOUR, linestyles="--", label=text)
        elif labels.limit:
            mem_ax.axhline(mem / MB, color=_LIMIT_COLOUR, ls="--", label=labels.limit)
    final = segments[-1]
    warn_level = final.record.limits.get("mem_warn_bytes")
    if labels.warn and isinstance(warn_level, int | float):
        levels.append(warn_level / MB)
        if several:
            start, end = final.offset, final.offset + final.span
            mem_ax.hlines(
                warn_level / MB, start, end, colors=_WARN_COLOUR, linestyles=":", label=labels.warn
            )
        else:
            mem_ax.axhline(warn_level / MB, color=_WARN_COLOUR, ls=":", label=labels.warn)
    tops = [max(g.series.rss_mb) for g in segments if g.series.rss_mb]
    peaks = [(g.record.peak_rss_bytes or 0) / MB for g in segments]
    ceiling = max([0.0, *tops, *levels, *peaks]) or 1.0
    mem_ax.set_ylim(0, ceiling * 1.15)


def _draw_end(mem_ax: Axes, cpu_ax: Axes, segments: list[Segment], end: str) -> None:
    """Each attempt's end line in the colour of how it ended, labelled left of it (``attempt
    N: ...`` when there are several, staggered); an X where an attempt was stopped for memory."""
    several = len(segments) > 1
    right = 0.0
    for index, segment in enumerate(segments):
        record = segment.record
        end_x = segment.offset + segment.end
        right = max(right, segment.offset + segment.span)
        colour = CATEGORY_COLOURS[category(record.reason, record.exit_code)]
        for ax in (mem_ax, cpu_ax):
            ax.axvline(end_x, color=colour, lw=2)
        text = f"attempt {segment.number}: {end_label(record)}" if several else end
        if several and record.reason == "memory":
            peak = record.peak_rss_bytes
            top = peak / MB if isinstance(peak, int | float) else max(segment.series.rss_mb or [0])
            stop = f"memory stop (attempt {segment.number})"
            mem_ax.plot(end_x, top, "X", color=colour, ms=10, mec="black", label=stop)
        # Left of the end line, so the label stays inside the axes.
        mem_ax.annotate(
            text,
            xy=(end_x, 0.97 - 0.1 * (index if several else 0)),
            xycoords=("data", "axes fraction"),
            xytext=(-6, 0),
            textcoords="offset points",
            ha="right",
            va="top",
            fontsize=8 if several else None,
            bbox={"boxstyle": "round", "fc": "white", "ec": colour},
        )
    for ax in (mem_ax, cpu_ax):
        ax.set_xlim(0, (right or 1.0) * 1.02)
        ax.grid(alpha=0.3)
