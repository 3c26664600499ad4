"""How ``simwarden status`` shows the runs: an aligned table, TSV or JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from simwarden.core.errors import UserError
from simwarden.core.units import format_mb
from simwarden.results.live import format_running
from simwarden.results.status import STATES, RunStatus
from simwarden.results.status_groups import group_status

FORMATS = ("table", "tsv", "json")
TSV_COLUMNS = (
    "run",
    "state",
    "why",
    "detail",
    "reason",
    "exit_code",
    "attempt",
    "peak_rss_bytes",
    "wall_s",
    "finished",
)


def format_status(statuses: Sequence[RunStatus], fmt: str) -> str:
    """``table`` (aligned, with a summary line; a running simulation's STATE cell has its
    progress: :func:`state_text`), ``tsv`` (header line, empty cell for none) or ``json`` (a
    list of :meth:`RunStatus.to_dict`, with a running simulation's last sample). No trailing
    newline. Raises UserError for another ``fmt``."""
    if fmt == "json":
        return json.dumps([s.to_dict() for s in statuses], indent=2)
    if fmt == "tsv":
        lines = ["\t".join(TSV_COLUMNS)]
        for s in statuses:
            row = s.to_dict()
            row["why"] = ",".join(s.why)
            lines.append("\t".join(_tsv_cell(row[c]) for c in TSV_COLUMNS))
        return "\n".join(lines)
    if fmt == "table":
        return _table(statuses)
    raise UserError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")


def _tsv_cell(value: Any) -> str:
    if value is None:
        return ""
    return str(value).replace("\t", " ").replace("\n", " ")


def _table(statuses: Sequence[RunStatus]) -> str:
    header = ("RUN", "STATE", "WHY", "LAST ATTEMPT", "PEAK MEM", "WALL", "FINISHED", "DETAIL")
    rows: list[tuple[str, ...]] = [header]
    for s in statuses:
        last = ""
        if s.reason is not None:
            last = f"{s.reason} {s.exit_code}" if s.exit_code is not None else s.reason
            if s.attempt and s.attempt > 1:
                last += f" (attempt {s.attempt})"
        rows.append(
            tuple(
                _tsv_cell(cell)
                for cell in (
                    s.run,
                    state_text(s),
                    ", ".join(s.why),
                    last,
                    format_mb(s.peak_rss_bytes) if s.peak_rss_bytes is not None else "",
                    _duration(s.wall_s),
                    _when(s.finished),
                    s.detail,
                )
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True))
        + "  "
        + row[-1]
        for row in rows
    ]
    groups = group_status(statuses)
    if len(groups) > 1:  # several simulations or commits: a count per state for each
        width = max(len(group.label) for group in groups)
        lines.append("")
        lines.extend(f"{group.label.ljust(width)}  {group.summary}" for group in groups)
    counts = {state: sum(s.state == state for s in statuses) for state in STATES}
    summary = ", ".join(f"{n} {state}" for state, n in counts.items() if n)
    plural = "s" if len(statuses) != 1 else ""
    lines.append(f"{len(statuses)} run{plural}: {summary}" if statuses else "no runs")
    return "\n".join(line.rstrip() for line in lines)


def state_text(status: RunStatus) -> str:
    """The STATE cell: the state, and for a running simulation with a readable sample its
    progress, ETA, memory and elapsed time (``running 42 % · ETA 3 min · 310/400 MB · 12 min``,
    :func:`~simwarden.results.live.format_running`)."""
    if status.state == "running" and status.live is not None:
        return format_running(status.live)
    return status.state


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 1:  # a short run: 0.04 s, not 0.0 s
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def _when(iso: str | None) -> str:
    """A record's ISO 8601 UTC time, shown in local time to the second."""
    if not iso:
        return ""
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso
