"""Snakemake's log records in, the live view's lines out (see :mod:`.lines` for the formats).

Which records become what:

- JOB_INFO (a job starts): ``▶`` line; the job joins the board.
- JOB_FINISHED: ``✓`` line; for run_simulation its record (``results/runs/<run>/record.json``)
  decides: a failure record (the last attempt failed) is a ``✗ ... — final`` line instead.
- JOB_ERROR: for run_simulation, the kept attempt's record
  (``results/failed/<run>/attempt-<N>/record.json``) gives a ``✗ ... — retried`` line
  (``interrupted`` for a run stopped from outside); for another rule, or a simulation without a
  readable record, ``✗ <job> failed`` and Snakemake's own error lines.
- PROGRESS: the jobs done and in total (shown by the jobs line); RUN_INFO also gives the total.
- JOB_STARTED, WORKFLOW_STARTED (the header, kept in ``.snakemake/log/``), RULEGRAPH and the
  scheduler's "Select jobs to execute..." are left out.
- Everything else (warnings, errors, Snakemake's other lines) is passed on as Snakemake's own
  formatter writes it.

Paths are relative: they are read in Snakemake's working directory, the workflow's.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from pathlib import Path

from snakemake_interface_logger_plugins.common import LogEvent

from simwarden.pipeline import layout
from simwarden.results.live import read_live
from simwarden.warden.record import Record, RecordError, read_record
from snakemake_logger_plugin_simwarden.board import Board, Job
from snakemake_logger_plugin_simwarden.lines import (
    FINAL,
    INTERRUPTED,
    RETRIED,
    done_line,
    failed_line,
    frame_lines,
    jobs_line,
    stamped,
    started_line,
    status_line,
)

LEFT_OUT = frozenset({LogEvent.JOB_STARTED, LogEvent.WORKFLOW_STARTED, LogEvent.RULEGRAPH})
# Un-evented INFO lines of Snakemake's scheduler, one per scheduling round: noise here.
CHATTER = frozenset({"Select jobs to execute..."})
# The "[Mon Nov 30 16:01:23 2026]" line Snakemake's formatter puts before a job's error.
_TIMESTAMP = re.compile(r"^\[[^\]]*\d{4}\]$")


def read_record_or_none(*paths: str | Path) -> Record | None:
    """The first of ``paths`` that holds a readable record; None if none does."""
    for path in paths:
        try:
            return read_record(path)
        except (OSError, RecordError):
            continue
    return None


class LiveView:
    """The board and the lines for each record. ``format_record`` is Snakemake's formatter
    (for the records passed on); ``clock`` a monotonic clock, ``stamp`` the time of day for
    each event line."""

    def __init__(
        self,
        format_record: Callable[[logging.LogRecord], str],
        clock: Callable[[], float] = time.monotonic,
        stamp: Callable[[], str] = lambda: time.strftime("%H:%M:%S"),
    ) -> None:
        self.format_record = format_record
        self.clock = clock
        self.stamp = stamp
        self.board = Board()

    def handle(self, record: logging.LogRecord) -> list[str]:
        """The lines ``record`` adds above the frame (maybe none); updates the board."""
        event = getattr(record, "event", None)
        if event == LogEvent.JOB_INFO:
            job = self.board.start(vars(record), self.clock())
            return [self._stamped(started_line(job))] if job else self.passed_on(record)
        if event == LogEvent.JOB_FINISHED:
            return self._finished(getattr(record, "job_id", None))
        if event == LogEvent.JOB_ERROR:
            return self._errored(record)
        if event == LogEvent.PROGRESS:
            self.board.progress(getattr(record, "done", None), getattr(record, "total", None))
            return []
        if event == LogEvent.RUN_INFO and self.board.total is None:
            stats = getattr(record, "stats", None)
            total = stats.get("total") if isinstance(stats, dict) else None
            self.board.total = total if isinstance(total, int) else None
        if event in LEFT_OUT or (event is None and record.getMessage() in CHATTER):
            return []
        return self.passed_on(record)

    def passed_on(self, record: logging.LogRecord) -> list[str]:
        """``record`` as Snakemake's own formatter writes it, one entry per line."""
        text = self.format_record(record)
        return [] if text in ("", "None") else text.splitlines()

    def refresh(self) -> None:
        """Read the last sample of every running simulation (cheap: the file's tail)."""
        for job in self.board.running.values():
            if job.run is not None:
                job.sample = read_live(layout.for_run(layout.SAMPLES, job.run))

    def status_lines(self) -> list[str]:
        """Plain output's periodic lines: the jobs line and one per running job; none before
        the first job started."""
        if self.board.first_start is None:
            return []
        now = self.clock()
        jobs = sorted(self.board.running.values(), key=lambda job: (job.started, job.jobid))
        lines = [jobs_line(self.board, now), *(status_line(job, now) for job in jobs)]
        return [self._stamped(line) for line in lines]

    def frame(self, width: int, height: int) -> list[str]:
        """The frame for a terminal of ``width`` x ``height`` (see :func:`.lines.frame_lines`):
        at most half its lines, so the lines above keep room to scroll; none before the first
        job started."""
        if self.board.first_start is None:
            return []
        return frame_lines(self.board, self.clock(), width, max(2, height // 2))

    def last_line(self) -> list[str]:
        """Plain output's last line: the jobs line, when a job ran."""
        if self.board.first_start is None:
            return []
        return [self._stamped(jobs_line(self.board, self.clock()))]

    def _stamped(self, text: str) -> str:
        return stamped(self.stamp(), text)

    def _finished(self, jobid: object) -> list[str]:
        job = self.board.end(jobid)
        if job is None:
            return []
        if job.run is None:
            return [self._stamped(done_line(job, None))]
        record = read_record_or_none(layout.for_run(layout.RECORD, job.run))
        if record is not None and record.failed:
            return [self._stamped(failed_line(job, record.cause, FINAL))]
        return [self._stamped(done_line(job, record))]

    def _errored(self, record: logging.LogRecord) -> list[str]:
        jobid = getattr(record, "jobid", None)
        job = self.board.end(jobid) or Job(
            jobid if isinstance(jobid, int) else -1,
            str(getattr(record, "rule_name", "?")),
            {},
            None,
            self.clock(),
        )
        if job.run is not None:
            kept = layout.failed_attempt_dir(job.run, job.attempt) if job.attempt else None
            paths = [kept / Path(layout.RECORD).name] if kept else []
            ended = read_record_or_none(*paths, layout.for_run(layout.RECORD, job.run))
            if ended is not None and ended.failed:
                outcome = INTERRUPTED if ended.reason == "signal" else RETRIED
                return [self._stamped(failed_line(job, ended.cause, outcome))]
        own = [line for line in self.passed_on(record) if not _TIMESTAMP.match(line)]
        return [self._stamped(failed_line(job, None, None)), *own]
