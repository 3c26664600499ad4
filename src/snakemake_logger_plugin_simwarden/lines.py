"""The live view's lines, one format each (pure: numbers and records in, text out).

Plain output (no terminal: CI, a file, nohup) is these lines, each after ``HH:MM:SS``::

    ▶ run big (attempt 1)                                     a job started
    ✓ run big (attempt 1) · 2 s · peak 120 MB                 a job ended well
    ✓ collect_benchmarks
    ✗ run big failed (attempt 1): <cause> — retried           a simulation failed (or: final,
                                                              interrupted)
    ✗ check_runs failed                                       another job failed; Snakemake's
                                                              own error lines follow
    · run big (attempt 1): running 42 % · ETA 3 min · 310/400 MB · 12 s
                                                              a running job, once an interval
    jobs 4/20 done (20 %) · ETA 1 min · elapsed 2 min         once an interval, and at the end

On a terminal the event lines (▶ ✓ ✗) are the same; the jobs line and one line per running job
(without ``HH:MM:SS`` and ``·``) form the frame redrawn in place below them
(:func:`frame_lines`).
"""

from __future__ import annotations

from collections.abc import Sequence

from simwarden.results.live import SEP, format_duration, format_memory, format_running
from simwarden.warden.record import Record
from snakemake_logger_plugin_simwarden.board import Board, Job

STARTED = "▶"
DONE = "✓"
FAILED = "✗"
STATUS = "·"
ELLIPSIS = "…"
# How a failed attempt of a simulation goes on.
RETRIED, FINAL, INTERRUPTED = "retried", "final", "interrupted"


def stamped(clock: str, text: str) -> str:
    """``HH:MM:SS text``: a plain line with its time."""
    return f"{clock} {text}"


def started_line(job: Job) -> str:
    """``▶ run big (attempt 1)``."""
    return f"{STARTED} {job.label}"


def done_line(job: Job, record: Record | None) -> str:
    """``✓ run big (attempt 1) · 2 s · peak 120 MB`` (wall time and peak from the record
    when there is one), ``✓ collect_benchmarks``."""
    parts = [f"{DONE} {job.label}"]
    if record is not None and record.wall_s is not None:
        parts.append(format_duration(record.wall_s))
    if record is not None and record.peak_rss_bytes is not None:
        parts.append(f"peak {format_memory(record.peak_rss_bytes)}")
    return SEP.join(parts)


def failed_line(job: Job, cause: str | None, outcome: str | None) -> str:
    """``✗ run big failed (attempt 1): <cause> — retried``; without a cause or outcome those
    parts are left out (``✗ check_runs failed``)."""
    line = f"{FAILED} {job.name} failed{job.attempt_text}"
    if cause:
        line += f": {cause}"
    return f"{line} — {outcome}" if outcome else line


def running_text(job: Job, now: float) -> str:
    """``run big (attempt 1): running 42 % · ETA 3 min · 310/400 MB · 12 s`` for a simulation
    (``running · ? · 3 s`` when its samples cannot be read yet); ``collect_benchmarks: running
    · 3 s`` for another job."""
    elapsed = now - job.started
    if job.run is None:
        return f"{job.label}: {SEP.join(['running', format_duration(elapsed)])}"
    return f"{job.label}: {format_running(job.sample, elapsed)}"


def status_line(job: Job, now: float) -> str:
    """``· run big (attempt 1): running 42 % ...``: a running job in plain output."""
    return f"{STATUS} {running_text(job, now)}"


def jobs_line(board: Board, now: float) -> str:
    """``jobs 4/20 done (20 %) · ETA 1 min · elapsed 2 min``; the total, ETA and elapsed time
    are left out while unknown."""
    if board.total:
        head = f"jobs {board.done}/{board.total} done ({board.done * 100 // board.total} %)"
    else:
        head = f"jobs {board.done} done"
    parts = [head]
    eta = board.eta(now)
    if eta is not None:
        parts.append(f"ETA {format_duration(eta)}")
    elapsed = board.elapsed(now)
    if elapsed is not None:
        parts.append(f"elapsed {format_duration(elapsed)}")
    return SEP.join(parts)


def fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, its last one ``…`` when cut (at least 1 kept)."""
    width = max(1, width)
    if len(text) <= width:
        return text
    return text[: width - 1] + ELLIPSIS if width > 1 else text[:1]


def frame_lines(board: Board, now: float, width: int, most: int) -> list[str]:
    """The terminal frame: the jobs line, then one line per running job (in start order),
    each cut to ``width``; at most ``most`` lines (at least 2): when the jobs do not fit, the
    last line says how many more run (``… 12 more running``)."""
    jobs = sorted(board.running.values(), key=lambda job: (job.started, job.jobid))
    room = max(1, most - 1)  # below the jobs line
    shown: Sequence[Job] = jobs if len(jobs) <= room else jobs[: room - 1]
    lines = [jobs_line(board, now), *(f"  {running_text(job, now)}" for job in shown)]
    if len(shown) < len(jobs):
        lines.append(f"  {ELLIPSIS} {len(jobs) - len(shown)} more running")
    return [fit(line, width) for line in lines]
