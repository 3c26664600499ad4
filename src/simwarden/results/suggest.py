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
from simwarden.results.table import (
    SIMULATION_RULE,
    TABLE_SUFFIXES,
    PathLike,
    Warn,
    _as_float,
    _is_missing,
    _is_number,
    _read_json,
    _warn_stderr,
    read_benchmark_tsv,
    read_table,
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
        peak, wall = _as_float(peak_mb), _as_float(wall_s)
        if peak is None and wall is None:
            return
        self.count += 1
        sampled = _as_float(snakemake_s)
        if sampled is not None and sampled < MIN_MEMORY_SAMPLE_S:
            self.too_short += 1
            peak = None
        if peak is not None:
            self.peaks_mb.append(peak)
        if wall is not None:
            self.walls_s.append(wall)
        config = None if _is_missing(run_config) else str(run_config).strip()
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


def _is_benchmark_tsv(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8") as handle:
            first = handle.readline()
    except (OSError, UnicodeDecodeError):
        return False
    return first.startswith("s\th:m:s")


def suggest(
    sources: Sequence[PathLike] = ("results", "benchmarks"),
    margin: float = 0.2,
    warn: Warn = _warn_stderr,
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
    records = _Samples("warden records")
    tables = _Samples("benchmark tables")
    benchmarks: dict[str, _Samples] = {}
    skipped: list[str] = []
    stopped = 0
    seen: set[Path] = set()

    def add_record(path: Path) -> None:
        nonlocal stopped
        record = _read_json(path, None)
        if record is None or "reason" not in record:
            skipped.append(str(path))
        elif record.get("reason") != "exited" or record.get("exit_code") != 0:
            stopped += 1
        else:
            peak = record.get("peak_rss_bytes")
            context = record.get("context")
            config = context.get("run_config") if isinstance(context, dict) else None
            records.add(peak / 1e6 if _is_number(peak) else None, record.get("wall_s"), config)

    def add_tsv(path: Path) -> None:
        try:
            values = read_benchmark_tsv(path)
        except (OSError, UnicodeDecodeError, ValueError):
            skipped.append(str(path))
            return
        rule = path.parent.name or "unknown"
        benchmarks.setdefault(rule, _Samples("Snakemake benchmarks")).add(
            values.get("max_rss"), values.get("s"), snakemake_s=values.get("s")
        )

    def add_table(path: Path) -> None:
        nonlocal stopped
        table = read_table(path)
        for _, row in table.iterrows():
            reason = "" if _is_missing(row.get("reason")) else str(row.get("reason"))
            if reason not in ("", "exited") or _as_float(row.get("exit_code")):
                stopped += 1
                continue
            peak = _as_float(row.get("peak_rss_mb"))
            wall = _as_float(row.get("wall_s"))
            config = row.get("run_config")
            seconds = _as_float(row.get("s"))
            if peak is not None:
                tables.add(peak, wall if wall is not None else seconds, config)
            else:  # Snakemake's peak, from its benchmark file
                sampled = seconds if seconds is not None else wall
                tables.add(
                    row.get("max_rss"), wall if wall is not None else seconds, config, sampled
                )

    for source in sources:
        path = Path(source)
        if not path.exists():
            raise UserError(f"{path}: no such file or directory")
        files = list(_walk(path)) if path.is_dir() else [path]
        for file in files:
            resolved = file.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            name = file.name
            if path.is_dir():
                if name == "record.json" or name.endswith(".record.json"):
                    add_record(file)
                elif name.endswith(".tsv") and _is_benchmark_tsv(file):
                    add_tsv(file)
            elif file.suffix.lower() in TABLE_SUFFIXES:
                add_table(file)
            elif file.suffix.lower() == ".json":
                add_record(file)
            elif file.suffix.lower() == ".tsv":
                add_tsv(file)
            else:
                raise UserError(
                    f"{path}: not a benchmark table (.csv, .h5), record (.json), Snakemake "
                    "benchmark (.tsv) or directory"
                )
    if skipped:
        warn(f"bench suggest: skipped {len(skipped)} unusable file(s): {', '.join(skipped)}")
    if stopped:
        warn(
            f"bench suggest: left out {stopped} run(s) that were stopped or failed "
            "(their peak is a lower bound, not what they need)"
        )
    per_rule: dict[str, _Samples] = {
        rule: samples for rule, samples in benchmarks.items() if samples.count
    }
    if records.count or tables.count:  # the warden's measurements beat Snakemake's here
        parts = [part for part in (records, tables) if part.count]
        warden = _Samples(" and ".join(part.source for part in parts))
        for part in parts:
            warden.merge(part)
        per_rule[SIMULATION_RULE] = warden
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
