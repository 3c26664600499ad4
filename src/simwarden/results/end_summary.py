"""The summary printed when Snakemake finishes: one row per planned run, then the command that
redoes only the failed runs.

The Snakefile's ``onsuccess:`` and ``onerror:`` handlers call :func:`show_at_exit`. Snakemake 9
runs those handlers before its own last lines ("Complete log(s): ...", "Elapsed time", the
"At least one job did not complete successfully" error), so the summary is said from an
``atexit`` hook of the Snakemake process: after all of them, the last thing on screen.

::

    simwarden: RUN     STATE    REASON  ATTEMPTS  PEAK    WALL   CAUSE
    simwarden: crash   failed   exited  1         21 MB   0.4s   AttributeError: ... (sim.py:5)
    simwarden: hungry  ok       exited  2         172 MB  1.2s
    simwarden: 2 runs: 1 ok, 1 failed
    simwarden: redo the failed runs: snakemake --profile profiles/short
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from simwarden.core.log import say
from simwarden.pipeline import layout
from simwarden.results.attempts import kept_attempts, retry_summary
from simwarden.warden.record import RecordError, read_record

HEADER = ("RUN", "STATE", "REASON", "ATTEMPTS", "PEAK", "WALL", "CAUSE")
# Snakemake options kept in the redo command: they choose the workflow, its config and its
# profiles, and so which runs exist. One value each, or (second set) every value up to the next
# option. Everything else (targets, --forcerun, ...) is left out: the rerun markers of the failed
# runs make a plain invocation redo exactly those.
ONE_VALUE = ("--profile", "--workflow-profile", "--snakefile", "-s", "--directory", "-d")
MANY_VALUES = ("--configfile", "--configfiles", "--config", "-C")


@dataclass(frozen=True)
class EndRow:
    """One planned run as the end summary shows it; ``state`` is ok, failed or not run (from the
    records alone), or any state of ``simwarden status`` (stale, incomplete, ...)."""

    run: str
    state: str
    reason: str | None = None
    attempts: int | None = None
    peak_bytes: int | None = None
    wall_s: float | None = None
    cause: str | None = None
    exit_code: int | None = None

    @property
    def reason_text(self) -> str:
        """The reason as the table shows it: a failed run that exited says its code
        (``exited 1``: "exited" alone reads as success); ``-`` when unknown."""
        if self.reason == "exited" and self.exit_code not in (None, 0):
            return f"exited {self.exit_code}"
        return self.reason or "-"


def end_rows(runs: Iterable[str], root: str | os.PathLike[str] = ".") -> list[EndRow]:
    """A row per run from its record (``results/runs/<run>/record.json`` under ``root``): not run
    when there is none; failed, with reason ``record`` and the error as its cause, when it
    cannot be read."""
    rows = []
    for run in runs:
        try:
            record = read_record(Path(root) / layout.for_run(layout.RECORD, run))
        except FileNotFoundError:
            rows.append(EndRow(run, "not run"))
            continue
        except RecordError as error:
            rows.append(EndRow(run, "failed", reason="record", cause=str(error)))
            continue
        attempt = record.context.attempt if record.context else None
        rows.append(
            EndRow(
                run,
                "failed" if record.failed else "ok",
                reason=record.reason,
                attempts=record.attempts if record.attempts is not None else attempt,
                peak_bytes=record.peak_bytes,
                wall_s=record.wall_s,
                cause=record.cause,
                exit_code=record.exit_code,
            )
        )
    return rows


def format_wall(seconds: float | None) -> str:
    """``0.04s``, ``2.4s``, ``12s``, ``3m04s``, ``2h05m``; ``-`` when unknown (a sweep of
    short runs reads ``0.04s``, not ``0.0s``)."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds:.2f}s"
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


# The most runs the table at the end shows (a sweep of 10,000 would print 10,000 lines).
MAX_ROWS = 40


def format_end_summary(rows: Sequence[EndRow], redo: Sequence[str] | None = None) -> list[str]:
    """The summary's lines (without the ``simwarden:`` prefix): an aligned table, a count line,
    and, when a run failed or did not run and ``redo`` is given, the command that redoes them.
    Over :data:`MAX_ROWS` runs (a sweep) the table shows the failed runs first, then the ones
    not run, then the others, :data:`MAX_ROWS` in all, and one line says how many it leaves out
    (``simwarden status`` lists every run)."""
    from simwarden.core.units import format_mb

    shown = _rows_shown(rows)
    cells = [HEADER] + [
        (
            row.run,
            row.state,
            row.reason_text,
            str(row.attempts) if row.attempts is not None else "-",
            format_mb(row.peak_bytes) if row.peak_bytes is not None else "-",
            format_wall(row.wall_s),
            row.cause or "",
        )
        for row in shown
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(HEADER) - 1)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=False))
        + "  "
        + line[-1]
        for line in cells
    ]
    lines = [line.rstrip() for line in lines] if shown else []
    if shown and len(shown) < len(rows):
        lines.append(
            f"... and {len(rows) - len(shown)} more runs: simwarden status lists every run"
        )
    counts = {state: sum(row.state == state for row in rows) for state in ("ok", "failed")}
    not_run = len(rows) - counts["ok"] - counts["failed"]
    count = f"{len(rows)} run{'s' if len(rows) != 1 else ''}: {counts['ok']} ok, "
    count += f"{counts['failed']} failed" + (f", {not_run} not run" if not_run else "")
    lines.append(count)
    if redo is not None:
        lines += _next_steps(rows, shlex.join(redo), not_run)
    return lines


# A run stopped for want of a budget is stopped again by a plain redo: what to raise first.
BUDGET_STEPS = {
    "memory": "runs stopped for memory need a bigger run_config.mem_mb (or more "
    "run_config.retries) in the profile's run.yaml",
    "timeout": "runs stopped for time need a bigger run_config.runtime_min in the profile's "
    "run.yaml",
}


def _next_steps(rows: Sequence[EndRow], redo: str, not_run: int) -> list[str]:
    """What to type next: a refused parameter set needs a fix, not a redo (its run is redone
    once the set is fixed); a run stopped for memory or time a bigger budget first; failed runs
    are redone by ``redo``; else the runs not run."""
    reasons = [row.reason for row in rows if row.state == "failed"]
    refused = reasons.count("validation")
    steps = []
    if refused:
        steps.append(
            f"fix the refused parameter set{'s' if refused > 1 else ''} (every problem is in "
            f"{layout.PARAMS_ERRORS}), then: {redo}"
        )
    steps += [BUDGET_STEPS[reason] for reason in BUDGET_STEPS if reason in reasons]
    if len(reasons) > refused:
        steps.append(f"redo the failed runs: {redo}")
    if not steps and not_run:
        steps.append(f"run the rest: {redo}")
    return steps


def _rows_shown(rows: Sequence[EndRow]) -> list[EndRow]:
    """Every row, or over :data:`MAX_ROWS` (a sweep: its ok runs are a count) the failed ones
    first, then those not run, :data:`MAX_ROWS` at most, each group in its planned order."""
    if len(rows) <= MAX_ROWS:
        return list(rows)
    rank = {"failed": 0, "ok": 2}
    return [
        row for row in sorted(rows, key=lambda row: rank.get(row.state, 1)) if row.state != "ok"
    ][:MAX_ROWS]


def redo_command(argv: Sequence[str]) -> list[str]:
    """``snakemake`` with the options of Snakemake's own ``argv`` (``sys.argv`` of the Snakemake
    process, program first) that choose the workflow, its config and profiles. Pure."""
    command = ["snakemake"]
    args = list(argv[1:])
    i = 0
    while i < len(args):
        arg = args[i]
        name = arg.split("=", 1)[0] if arg.startswith("--") else arg
        i += 1
        if name not in ONE_VALUE + MANY_VALUES:
            continue
        if "=" in arg and arg.startswith("--"):
            command.append(arg)
            continue
        command.append(arg)
        if name in ONE_VALUE:
            command.extend(args[i : i + 1])
            i += 1
            continue
        while i < len(args) and not args[i].startswith("-"):
            command.append(args[i])
            i += 1
    return command


def end_summary(
    runs: Iterable[str], argv: Sequence[str], root: str | os.PathLike[str] = "."
) -> list[str]:
    """The summary's lines for ``runs`` after a Snakemake run started with ``argv``."""
    return format_end_summary(end_rows(runs, root), redo_command(argv))


# simwarden status's states as the summary names them (status's JSON is the source of truth).
STATE_NAMES = {"up to date": "ok", "never run": "not run"}


def _text(value: object) -> str | None:
    """A status JSON value as one cell: a list (several reasons) joined, empty as None."""
    if isinstance(value, list):
        value = ", ".join(str(item) for item in value)
    return str(value) if value not in (None, "") else None


def rows_from_status(
    statuses: Sequence[dict[str, Any]], runs: Sequence[str], root: str | os.PathLike[str] = "."
) -> list[EndRow]:
    """The summary's rows from ``simwarden status --format json``, in the order of ``runs``:
    the same verdict as ``simwarden status`` (a refused parameter set, a run not redone because
    its code could not be fetched, an interrupted one), with a failed run's cause, what a stale or
    never-run run is waiting for, and the retry of a run that needed one."""
    by_run = {str(status.get("run")): status for status in statuses}
    rows = []
    for run in runs:
        status = by_run.get(run, {})
        state = STATE_NAMES.get(str(status.get("state")), str(status.get("state", "not run")))
        attempts = status.get("attempts") or status.get("attempt")
        if state == "ok":
            reason = _text(status.get("reason"))
            cause = retry_summary(kept_attempts(run, root))
        elif state == "failed":
            reason = _text(status.get("reason")) or _text(status.get("why"))
            cause = _text(status.get("cause")) or _text(status.get("detail"))
        else:
            reason, cause = _text(status.get("why")), _text(status.get("detail"))
        rows.append(
            EndRow(
                run,
                state,
                reason=reason,
                attempts=attempts if isinstance(attempts, int) else None,
                peak_bytes=status.get("peak_rss_bytes"),
                wall_s=status.get("wall_s"),
                cause=cause,
                exit_code=exit_code
                if isinstance(exit_code := status.get("exit_code"), int)
                else None,
            )
        )
    return rows


def status_rows(runs: Sequence[str], root: str | os.PathLike[str]) -> list[EndRow] | None:
    """Rows from a ``simwarden status --format json`` subprocess in ``root`` (it judges the runs
    against the profiles this Snakemake used, from its log); None if that fails (no workflow
    there, a timeout), so the caller falls back to the records alone."""
    import json
    import subprocess
    import sys

    try:
        done = subprocess.run(
            [sys.executable, "-m", "simwarden", "status", "--format", "json"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        statuses = json.loads(done.stdout) if done.returncode in (0, 1) else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    return rows_from_status(statuses, runs, root) if isinstance(statuses, list) else None


def settled_rows(runs: Iterable[str], root: str | os.PathLike[str] = ".") -> list[EndRow]:
    """The rows when every run is known to be up to date (Snakemake ended well having done or
    found current every run's job): ``simwarden status``'s verdict then follows from the files
    alone. A refused parameter set is failed: its own record's row (reason ``refused``), or,
    when the record there is an older parameter set's, ``validation`` with its problem lines as
    the cause; an ok run's cause says which attempt a retry stopped and why; otherwise the
    record's row (:func:`end_rows`)."""

    refused = layout.refused_params(root)
    rows = []
    for row in end_rows(runs, root):
        if refused.get(row.run) and row.reason != "refused":  # an older set's record: not shown
            row = EndRow(row.run, "failed", "validation", cause="; ".join(refused[row.run]))
        elif row.state == "ok":
            row = replace(row, cause=retry_summary(kept_attempts(row.run, root)))
        rows.append(row)
    return rows


def show_at_exit(
    runs: Iterable[str],
    argv: Sequence[str],
    root: str | os.PathLike[str] = ".",
    *,
    settled: bool = False,
) -> None:
    """Say the summary, one ``simwarden:`` line each on stderr, when this process exits: after
    Snakemake's last lines, and after it released its lock. The rows are ``simwarden status``'s
    verdicts (so the two never disagree): with ``settled`` (every run known to be up to date,
    :func:`simwarden.pipeline.session.runs_settled`) from the files (:func:`settled_rows`),
    else from a status subprocess (~2 s: it parses the workflow again), and where that cannot
    run, the records as they are now."""
    import atexit

    planned = list(runs)
    redo = redo_command(argv)
    known = settled_rows(planned, root) if settled else None
    fallback = end_rows(planned, root) if known is None else []

    def show() -> None:
        rows = known if known is not None else status_rows(planned, root) or fallback
        for line in format_end_summary(rows, redo):
            say(line)

    atexit.register(show)
