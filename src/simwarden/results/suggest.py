"""Suggest ``mem_mb`` and ``runtime`` per rule from the peaks and wall times that were
measured (warden records, benchmark tables, Snakemake ``benchmark:`` files), with a margin.

Snakemake's benchmark sampler misses the peak of a short job (a 0.3 MB "peak" for a Python
job), so a Snakemake sample shorter than :data:`MIN_MEMORY_SAMPLE_S` counts for runtime only,
and no ``mem_mb`` is suggested below :data:`MEM_FLOOR_MB`.

    simwarden bench suggest [TABLE_OR_DIR ...] [--margin 0.2]
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simwarden.core.errors import UserError
from simwarden.pipeline.layout import BENCHMARKS
from simwarden.results.table import (
    SIMULATION_RULE,
    TABLE_SUFFIXES,
    read_benchmark_tsv,
    read_table,
)
from simwarden.results.values import (
    PathLike,
    Warn,
    as_float,
    is_missing,
    is_number,
    load_record,
    warn,
)

MEM_FLOOR_MB = 100  # about what a Python interpreter with numpy needs
MIN_MEMORY_SAMPLE_S = 1.0  # Snakemake benchmarks shorter than this: memory not measured


@dataclass(frozen=True)
class Suggestion:
    """``mem_mb`` and ``runtime`` (minutes) for one rule: the largest measured value plus
    ``margin``, memory rounded up to the next 10 MB and at least :data:`MEM_FLOOR_MB`, runtime
    to whole minutes (at least 1).

    ``mem_mb``/``runtime`` are None when no sample had that measurement. ``too_short`` counts
    the Snakemake samples whose memory was left out (shorter than :data:`MIN_MEMORY_SAMPLE_S`);
    ``floored`` is True when ``mem_mb`` is the floor, not the measured peak plus margin.
    ``run_configs`` are the distinct run configs the samples name (sorted), ``unrecorded`` the
    number of samples that name none (Snakemake benchmarks, records without context).
    """

    rule: str
    mem_mb: int | None
    runtime: int | None
    samples: int
    peak_mb: float | None
    longest_s: float | None
    margin: float
    source: str
    too_short: int = 0
    floored: bool = False
    run_configs: tuple[str, ...] = ()
    unrecorded: int = 0


@dataclass
class _Samples:
    source: str
    peaks_mb: list[float] = field(default_factory=list)
    walls_s: list[float] = field(default_factory=list)
    count: int = 0
    too_short: int = 0
    run_configs: list[str | None] = field(default_factory=list)

    def add(
        self, peak_mb: Any, wall_s: Any, run_config: Any = None, snakemake_s: Any = None
    ) -> None:
        """One sample. ``snakemake_s`` is the ``s`` of Snakemake's benchmark when the peak is
        Snakemake's: below MIN_MEMORY_SAMPLE_S the peak is left out (counted as too short)."""
        peak, wall = as_float(peak_mb), as_float(wall_s)
        if peak is None and wall is None:
            return
        self.count += 1
        sampled = as_float(snakemake_s)
        if sampled is not None and sampled < MIN_MEMORY_SAMPLE_S:
            self.too_short += 1
            peak = None
        if peak is not None:
            self.peaks_mb.append(peak)
        if wall is not None:
            self.walls_s.append(wall)
        config = None if is_missing(run_config) else str(run_config).strip()
        self.run_configs.append(config or None)

    def merge(self, other: _Samples) -> None:
        self.peaks_mb += other.peaks_mb
        self.walls_s += other.walls_s
        self.count += other.count
        self.too_short += other.too_short
        self.run_configs += other.run_configs


def _round_up(value: float, step: float) -> int:
    # round() first: 100 * 1.2 is 120.00000000000001, which must stay 120.
    return int(math.ceil(round(value / step, 9)) * step)


def _suggestion(rule: str, samples: _Samples, margin: float) -> Suggestion:
    peak = max(samples.peaks_mb) if samples.peaks_mb else None
    longest = max(samples.walls_s) if samples.walls_s else None
    measured = _round_up(peak * (1 + margin), 10) if peak is not None else None
    mem = max(MEM_FLOOR_MB, measured) if measured is not None else None
    runtime = max(1, _round_up(longest * (1 + margin) / 60, 1)) if longest is not None else None
    return Suggestion(
        rule,
        mem,
        runtime,
        samples.count,
        peak,
        longest,
        margin,
        samples.source,
        too_short=samples.too_short,
        floored=measured is not None and measured < MEM_FLOOR_MB,
        run_configs=tuple(sorted({c for c in samples.run_configs if c is not None})),
        unrecorded=sum(1 for c in samples.run_configs if c is None),
    )


def _walk(root: Path) -> Iterable[Path]:
    """Files under ``root``, skipping hidden directories (.snakemake, .venv, .git) and caches."""
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(".") and d != "__pycache__")
        for name in sorted(files):
            yield Path(directory) / name


def _benchmark_rule(path: Path) -> str:
    """The rule of a Snakemake benchmark file: the directory under ``benchmarks/``
    (``benchmarks/<rule>/<run>.tsv``, a run id may hold ``/``: ``model/small``), else the
    file's own directory."""
    parts = path.parts[:-1]
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == BENCHMARKS:
            return parts[i + 1]
    return path.parent.name or "unknown"


def _is_benchmark_tsv(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8") as handle:
            first = handle.readline()
    except (OSError, UnicodeDecodeError):
        return False
    return first.startswith("s\th:m:s")


class _Gathered:
    """What :func:`suggest` found so far, file by file."""

    def __init__(self) -> None:
        self.records = _Samples("warden records")
        self.tables = _Samples("benchmark tables")
        self.benchmarks: dict[str, _Samples] = {}
        self.skipped: list[str] = []
        # The runs (or files, when a record names no run) left out: a failed run has its
        # record and its kept attempts' records, one run all the same.
        self.stopped: set[str] = set()
        self.seen: set[Path] = set()

    def add_record(self, path: Path) -> None:
        record = load_record(path)
        if record is None or record.reason is None:
            self.skipped.append(str(path))
        elif record.reason != "exited" or record.exit_code != 0:
            run = record.context.run if record.context is not None else None
            self.stopped.add(str(run) if run else str(path))
        else:
            peak = record.peak_bytes
            config = record.context.run_config if record.context is not None else None
            self.records.add(peak / 1e6 if is_number(peak) else None, record.wall_s, config)

    def add_tsv(self, path: Path) -> None:
        try:
            values = read_benchmark_tsv(path)
        except (OSError, UnicodeDecodeError, ValueError):
            self.skipped.append(str(path))
            return
        rule = _benchmark_rule(path)
        self.benchmarks.setdefault(rule, _Samples("Snakemake benchmarks")).add(
            values.get("max_rss"), values.get("s"), snakemake_s=values.get("s")
        )

    def add_table(self, path: Path) -> None:
        table = read_table(path)
        for _, row in table.iterrows():
            reason = "" if is_missing(row.get("reason")) else str(row.get("reason"))
            if reason not in ("", "exited") or as_float(row.get("exit_code")):
                run = row.get("run")
                self.stopped.add(f"{path}:{len(self.stopped)}" if is_missing(run) else str(run))
                continue
            peak = as_float(row.get("peak_rss_mb"))
            wall = as_float(row.get("wall_s"))
            config = row.get("run_config")
            seconds = as_float(row.get("s"))
            if peak is not None:
                self.tables.add(peak, wall if wall is not None else seconds, config)
            else:  # Snakemake's peak, from its benchmark file
                sampled = seconds if seconds is not None else wall
                self.tables.add(
                    row.get("max_rss"), wall if wall is not None else seconds, config, sampled
                )

    def add_source(self, path: Path) -> None:
        """Every usable file of ``path`` (a file, or a directory searched for records and
        benchmark files); UserError for a missing path or a file of another kind."""
        if not path.exists():
            raise UserError(f"{path}: no such file or directory")
        for file in list(_walk(path)) if path.is_dir() else [path]:
            resolved = file.resolve()
            if resolved in self.seen:
                continue
            self.seen.add(resolved)
            name, suffix = file.name, file.suffix.lower()
            if path.is_dir():
                if name == "record.json" or name.endswith(".record.json"):
                    self.add_record(file)
                elif name.endswith(".tsv") and _is_benchmark_tsv(file):
                    self.add_tsv(file)
            elif suffix in TABLE_SUFFIXES:
                self.add_table(file)
            elif suffix == ".json":
                self.add_record(file)
            elif suffix == ".tsv":
                self.add_tsv(file)
            else:
                raise UserError(
                    f"{path}: not a benchmark table (.csv, .h5), record (.json), Snakemake "
                    "benchmark (.tsv) or directory"
                )

    def per_rule(self) -> dict[str, _Samples]:
        """The samples of each rule; run_simulation's from the warden when it measured any."""
        found = {rule: samples for rule, samples in self.benchmarks.items() if samples.count}
        if self.records.count or self.tables.count:  # the warden's measurements beat Snakemake's
            parts = [part for part in (self.records, self.tables) if part.count]
            warden = _Samples(" and ".join(part.source for part in parts))
            for part in parts:
                warden.merge(part)
            found[SIMULATION_RULE] = warden
        return found


def suggest(
    sources: Sequence[PathLike] = ("results", "benchmarks"),
    margin: float = 0.2,
    warn: Warn = warn,
) -> list[Suggestion]:
    """Propose ``mem_mb`` and ``runtime`` per rule from what was measured, sorted by rule.

    ``sources`` are benchmark tables (.csv/.h5 from ``bench collect``), records (.json),
    Snakemake benchmark files (.tsv: the rule is their directory's name) or directories searched
    for records (``record.json``, ``*.record.json``) and benchmark files. ``run_simulation`` is
    sized from the warden's records or tables (peak RSS of the whole tree, wall time), falling
    back to its Snakemake benchmarks only when there are none; other rules from their Snakemake
    benchmarks (``max_rss``, ``s``). Only runs that ended by themselves count: a run stopped for
    memory or time shows a lower bound, not its need. Snakemake's measurements (benchmark files,
    a table row without ``peak_rss_mb``) shorter than :data:`MIN_MEMORY_SAMPLE_S` count for
    runtime only. Run configs come from a record's ``context.run_config`` and a table's
    ``run_config`` column. Unusable files are named in one ``warn`` line. Raises UserError for
    a missing path, a file of another kind, or a bad ``margin``.
    """
    if not (math.isfinite(margin) and margin >= 0):
        raise UserError(f"--margin {margin}: use a fraction >= 0, e.g. 0.2 for 20%")
    gathered = _Gathered()
    for source in sources:
        gathered.add_source(Path(source))
    if gathered.skipped:
        listed = ", ".join(gathered.skipped)
        warn(f"bench suggest: skipped {len(gathered.skipped)} unusable file(s): {listed}")
    if gathered.stopped:
        warn(
            f"bench suggest: left out {len(gathered.stopped)} run(s) that were stopped or failed "
            "(their peak is a lower bound, not what they need)"
        )
    per_rule = gathered.per_rule()
    return [_suggestion(rule, per_rule[rule], margin) for rule in sorted(per_rule)]


def format_suggestions(suggestions: Sequence[Suggestion]) -> str:
    """A YAML snippet for a profile's ``set-resources:``, with comment lines stating the margin,
    the rounding and the memory floor, the rule for short Snakemake samples (when one was left
    out), the run configs the samples come from, and per rule how many samples it rests on and
    the measured maxima."""
    if not suggestions:
        return "# nothing to suggest: no usable records or benchmark files were found\n"
    margins = sorted({s.margin for s in suggestions})
    margin = ", ".join(f"{m:.0%}" for m in margins)
    lines = [
        f"# Largest measured peak memory and wall time per rule plus a {margin} margin;",
        "# mem_mb rounded up to the next 10 MB, runtime (minutes) to whole minutes, at least 1;",
        f"# floor {MEM_FLOOR_MB} MB: a Python job needs about that.",
    ]
    if any(s.too_short for s in suggestions):
        lines.append(
            f"# Snakemake benchmarks shorter than {MIN_MEMORY_SAMPLE_S:g} s count for runtime "
            "only: too short to measure memory."
        )
    configs = sorted({c for s in suggestions for c in s.run_configs})
    unrecorded = sum(s.unrecorded for s in suggestions)
    where = ", ".join(configs) if configs else "not recorded"
    if configs and unrecorded:
        where += f"; not recorded for {unrecorded} sample{'s' if unrecorded != 1 else ''}"
    lines.append(f"# run config of the samples: {where}")
    for s in suggestions:
        notes = ["floor applies"] if s.floored else []
        if s.too_short:
            notes.append(f"{s.too_short} too short to measure")
        peak = "n/a" if s.peak_mb is None else f"{s.peak_mb:.1f} MB"
        peak += f" ({'; '.join(notes)})" if notes else ""
        longest = "n/a" if s.longest_s is None else f"{s.longest_s:.1f} s"
        plural = "s" if s.samples != 1 else ""
        lines.append(
            f"# {s.rule}: {s.samples} sample{plural} ({s.source}): peak {peak}, longest {longest}"
        )
    if any(s.rule == SIMULATION_RULE for s in suggestions):
        lines += [
            f"# {SIMULATION_RULE} in simwarden's workflow: better put these in the profile's "
            "run.yaml (run_config.mem_mb,",
            "# runtime_min): set-resources replaces the mem_mb x attempt that retries rely on.",
        ]
    lines.append("set-resources:")
    for s in suggestions:
        lines.append(f"  {s.rule}:")
        if s.mem_mb is not None:
            lines.append(f"    mem_mb: {s.mem_mb}")
        if s.runtime is not None:
            lines.append(f"    runtime: {s.runtime}")
    return "\n".join(lines) + "\n"
