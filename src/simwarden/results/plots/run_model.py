"""What the run plot says, decided from the records alone (pure, tested with exact strings):
the title, why each attempt ended, the peak and limit labels, and the attempts laid end to end
on one time axis."""

from __future__ import annotations

from pathlib import Path

from simwarden.core.fields import Fields
from simwarden.core.units import format_bytes, format_mb
from simwarden.results.plots.samples import Series
from simwarden.warden.record import Record


class RunLabels(Fields, frozen=True):
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


class Segment(Fields, frozen=True):
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


def attempt_number(record: Record, default: int) -> int:
    """The attempt number in the record's context, else ``default``."""
    number = record.context.attempt if record.context else None
    return number if isinstance(number, int) and not isinstance(number, bool) else default


def cause_line(record: Record) -> str | None:
    """What the figure says under its title about a failed run: the cause
    (:attr:`Record.cause`), how far it got when it reported progress, and why it was not retried
    (``ValueError: boom (sim.py:12) · progress 42 % · not retried: ...``); None for a run that
    did not fail."""
    if not record.failed:
        return None
    parts = [record.cause or f"exit code {record.exit_code}"]
    if isinstance(record.progress, int | float):
        parts.append(f"progress {record.progress * 100:.0f} %")
    if record.retry_note:
        parts.append(record.retry_note)
    return " · ".join(parts)
