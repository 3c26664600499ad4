"""The live view: the one-line form of a running run (simwarden.results.live), and the Snakemake
logger plugin (``snakemake --logger simwarden``) fed with log records as Snakemake makes them
(the attributes its jobs and scheduler set, through the QueueHandler it hands plugins records
with), its plain lines asserted line by line, its terminal frame through a fake terminal and
through a real one (tmux)."""

from __future__ import annotations

import argparse
import ast
import io
import logging
import logging.handlers
import os
import queue
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from snakemake.iocontainers import ResourceList
from snakemake.logging import DefaultFilter, DefaultFormatter, LoggerManager
from snakemake.settings.types import OutputSettings
from snakemake_interface_logger_plugins.common import LogEvent
from snakemake_interface_logger_plugins.registry import LoggerPluginRegistry

from simwarden.pipeline import layout
from simwarden.results.live import (
    LiveSample,
    format_duration,
    format_memory,
    format_percent,
    format_running,
    read_live,
)
from simwarden.warden.record import format_sample_row, samples_header
from snakemake_logger_plugin_simwarden import LogHandler, LogHandlerSettings
from snakemake_logger_plugin_simwarden.board import Board, Job
from snakemake_logger_plugin_simwarden.lines import fit, frame_lines, jobs_line
from snakemake_logger_plugin_simwarden.screen import CLEAR_LINE, WHOLE_SCREEN
from tests.conftest import PYTHON, ROOT, TIMEOUT
from tests.system_packages import require_debian_packages
from tests.unit.test_architecture import LAYERS, MAX_FUNCTION_LINES, MAX_MODULE_LINES, load_modules

MB = 1000**2
TIME = r"\d\d:\d\d:\d\d"
STOP_MESSAGE = (
    "stopped (memory): memory 450.2 MB over limit 400.0 MB; peak 450.2 MB after 3.1 s; exit 137"
)

# ------------------------------------------------------------------- one line for a running run


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (59.9, "59 s"),
        (60, "1 min"),
        (3599, "59 min"),
        (3600, "1 h 0 min"),
        (7530, "2 h 5 min"),
        (None, "?"),
        (float("nan"), "?"),
        (float("inf"), "?"),
        (-1, "?"),
    ],
)
def test_durations_are_whole_seconds_minutes_or_hours(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("rss", "limit", "text"),
    [
        (310 * MB, 400 * MB, "310/400 MB"),
        (310 * MB, None, "310 MB"),
        (2.5 * MB, 400 * MB, "2/400 MB"),
        (800 * MB, 1500 * MB, "0.8/1.5 GB"),
        (1200 * MB, 4000 * MB, "1.2/4.0 GB"),
        (12000 * MB, 16000 * MB, "12/16 GB"),
        (None, 400 * MB, "?/400 MB"),
        (None, None, "?"),
    ],
)
def test_memory_is_use_over_limit_in_one_unit(
    rss: float | None, limit: float | None, text: str
) -> None:
    as_int = (None if v is None else int(v) for v in (rss, limit))
    assert format_memory(*as_int) == text


def test_progress_is_a_whole_percentage_rounded_down_and_held_to_0_100() -> None:
    assert [format_percent(f) for f in (0.4251, 0.999, 1.2, -0.1, 0.0)] == [
        "42 %",
        "99 %",
        "100 %",
        "0 %",
        "0 %",
    ]


def test_a_running_run_in_one_line_with_or_without_progress_limit_or_sample() -> None:
    sample = LiveSample(
        elapsed_s=720, rss_bytes=310 * MB, mem_limit_bytes=400 * MB, progress=0.42, eta_s=180
    )
    assert format_running(sample) == "running 42 % · ETA 3 min · 310/400 MB · 12 min"
    no_progress = LiveSample(elapsed_s=720, rss_bytes=310 * MB, mem_limit_bytes=400 * MB)
    assert format_running(no_progress) == "running · 310/400 MB · 12 min"
    no_limit = LiveSample(elapsed_s=720, rss_bytes=310 * MB)
    assert format_running(no_limit) == "running · 310 MB · 12 min"
    first_report = LiveSample(elapsed_s=5, rss_bytes=310 * MB, progress=0.1)
    assert format_running(first_report) == "running 10 % · 310 MB · 5 s"
    # The estimate ran out before the run reported its end: slower than it was, or stalled.
    late = LiveSample(elapsed_s=60, rss_bytes=310 * MB, progress=0.3, eta_s=0.0)
    assert format_running(late) == "running 30 % · ETA overdue · 310 MB · 1 min"
    done = LiveSample(elapsed_s=60, rss_bytes=310 * MB, progress=1.0, eta_s=0.0)
    assert format_running(done) == "running 100 % · ETA 0 s · 310 MB · 1 min"
    # The sample's own elapsed time wins over the caller's clock.
    assert format_running(sample, elapsed_s=3) == format_running(sample)
    assert format_running(None) == "running · ?"
    assert format_running(None, elapsed_s=3) == "running · ? · 3 s"


def row(
    time_s: float,
    rss: int,
    progress: float | None = None,
    eta_s: float | None = None,
    limit: int | None = None,
) -> str:
    """A samples.tsv row as the warden writes it."""
    return format_sample_row(
        time_s,
        rss_bytes=rss,
        cpu_percent=99.0,
        processes=1,
        read_b=0,
        write_b=0,
        progress=progress,
        eta_s=eta_s,
        mem_limit_bytes=limit,
    )


def write_samples(path: Path, *rows: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(samples_header() + "".join(rows))
    return path


def test_read_live_takes_the_last_complete_row_and_never_raises(tmp_path: Path) -> None:
    path = write_samples(
        tmp_path / "samples.tsv",
        row(1.0, 100 * MB),
        row(12.5, 310 * MB, 0.42, 180.0, 400 * MB),
    )
    assert read_live(path) == LiveSample(12.5, 310 * MB, 400 * MB, 0.42, 180.0)
    with path.open("a") as handle:
        handle.write("13.0\t320000")  # a row being written: not complete yet
    assert read_live(path) == LiveSample(12.5, 310 * MB, 400 * MB, 0.42, 180.0)
    # Unknown progress, ETA and limit: empty cells, None here.
    write_samples(path, row(3.0, 50 * MB))
    assert read_live(path) == LiveSample(3.0, 50 * MB, None, None, None)
    assert read_live(write_samples(path)) is None  # the header only
    path.write_bytes(b"\x00\xff garbage\n1\t2\n")
    assert read_live(path) is None
    assert read_live(tmp_path / "absent.tsv") is None
    assert read_live(tmp_path) is None  # a directory


# --------------------------------------------------------------- the plugin's lines, pure


def job(jobid: int, rule: str, started: float = 0.0, attempt: int | None = 1, **wc: str) -> Job:
    return Job(jobid, rule, dict(wc), attempt, started)


def test_jobs_line_has_the_total_eta_and_elapsed_time_once_known() -> None:
    board = Board()
    assert jobs_line(board, 0.0) == "jobs 0 done"
    board.start({"jobid": 1, "rule_name": "all"}, now=10.0)
    board.progress(0, 20)
    assert jobs_line(board, 12.0) == "jobs 0/20 done (0 %) · elapsed 2 s"
    board.progress(5, 20)
    # 5 jobs in 60 s: 15 left take 180 s.
    assert jobs_line(board, 70.0) == "jobs 5/20 done (25 %) · ETA 3 min · elapsed 1 min"
    board.progress(20, 20)
    assert jobs_line(board, 100.0) == "jobs 20/20 done (100 %) · elapsed 1 min"
    # Snakemake ended with jobs undone (a failure): they never run, so no ETA.
    board.progress(18, 20)
    board.ended = True
    assert jobs_line(board, 100.0) == "jobs 18/20 done (90 %) · elapsed 1 min"


def test_fit_cuts_to_the_width_with_an_ellipsis() -> None:
    assert fit("run big (attempt 1)", 30) == "run big (attempt 1)"
    assert fit("run big (attempt 1)", 8) == "run big…"
    assert fit("run big", 1) == "r"
    assert fit("run big", 0) == "r"


def test_the_frame_has_one_line_per_running_job_cut_to_a_narrow_width() -> None:
    board = Board(total=9, done=2, first_start=0.0)
    board.running = {
        4: job(4, "run_simulation", 1.0, run="big"),
        7: job(7, "plot_resources", 2.0, run="a"),
        2: job(2, "run_simulation", 0.5, attempt=2, run="small"),
    }
    board.running[4].sample = LiveSample(12, 310 * MB, 400 * MB, 0.42, 180)
    assert frame_lines(board, 10.0, 200, 12) == [
        "jobs 2/9 done (22 %) · ETA 35 s · elapsed 10 s",
        "  run small (attempt 2): running · ? · 9 s",
        "  run big (attempt 1): running 42 % · ETA 3 min · 310/400 MB · 12 s",
        "  plot_resources a: running · 8 s",
    ]
    assert frame_lines(board, 10.0, 12, 12) == [
        "jobs 2/9 do…",
        "  run small…",
        "  run big (…",
        "  plot_reso…",
    ]
    # No room for every job: the last line counts the rest.
    assert frame_lines(board, 10.0, 200, 3)[1:] == [
        "  run small (attempt 2): running · ? · 9 s",
        "  … 2 more running",
    ]


# ------------------------------------------------- Snakemake's records, as plugins receive them

_QUEUE_HANDLER = logging.handlers.QueueHandler(queue.Queue())


def snakemake_record(
    msg: str | None, event: LogEvent | None = None, level: int = logging.INFO, **extra: Any
) -> logging.LogRecord:
    """A record as ``snakemake.logging.logger`` makes it for ``logger.info(msg, extra=...)``,
    prepared by the QueueHandler through which Snakemake hands records to plugins."""
    attributes = {"event": event, **extra} if event is not None else extra
    record = logging.getLogger("snakemake.logging").makeRecord(
        "snakemake.logging", level, "snakemake/jobs.py", 1, msg, None, None, extra=attributes
    )
    return _QUEUE_HANDLER.prepare(record)


def job_info(jobid: int, rule: str, attempt: int = 1, **wildcards: str) -> logging.LogRecord:
    """Job.log_info's JOB_INFO record (snakemake/jobs.py)."""
    resources = ResourceList(
        fromdict={"tmpdir": "/tmp", "runtime": 1, "attempt": attempt, "mem_mb": 300}
    )
    return snakemake_record(
        f" Rule: {rule}, Jobid: {jobid}",
        LogEvent.JOB_INFO,
        jobid=jobid,
        rule_msg=None,
        rule_name=rule,
        local=True,
        input=[],
        output=[f"results/{rule}.out"],
        log=[f"logs/{rule}.log"],
        benchmark=None,
        wildcards=dict(wildcards),
        reason="Missing output files",
        resources=resources,
        priority=0,
        threads=1,
        indent=False,
        is_checkpoint=False,
        printshellcmd=True,
        is_handover=False,
        shellcmd=None,
    )


def job_finished(jobid: int, rule: str) -> logging.LogRecord:
    """The scheduler's JOB_FINISHED record (snakemake/scheduling/job_scheduler.py)."""
    return snakemake_record(
        f"Finished jobid: {jobid} (Rule: {rule})", LogEvent.JOB_FINISHED, job_id=jobid
    )


def progress(done: int, total: int) -> logging.LogRecord:
    """The scheduler's PROGRESS record."""
    return snakemake_record(None, LogEvent.PROGRESS, done=done, total=total)


def job_error(jobid: int, rule: str) -> logging.LogRecord:
    """Job.log_error's JOB_ERROR record (Job.get_log_error_info)."""
    return snakemake_record(
        f"Error in rule {rule}, jobid: {jobid}",
        LogEvent.JOB_ERROR,
        logging.ERROR,
        rule_name=rule,
        rule_msg=None,
        jobid=jobid,
        input=["results/runs/a/record.json"],
        output=["results/runs-ok.txt"],
        log=[f"logs/{rule}/{rule}.log"],
        conda_env=None,
        container_img=None,
        aux={},
        indent=False,
        shellcmd=None,
    )


def run_info(total: int) -> logging.LogRecord:
    """Workflow's job stats (RUN_INFO)."""
    message = f"Job stats:\njob      count\n-----  -------\ntotal  {total:7d}\n"
    return snakemake_record(message, LogEvent.RUN_INFO, stats={"total": total})


class Terminal(io.StringIO):
    """A stream that says it is a terminal (its size comes from COLUMNS and LINES)."""

    def isatty(self) -> bool:
        return True


def make_handler(
    monkeypatch: pytest.MonkeyPatch, stream: io.StringIO, **settings: Any
) -> LogHandler:
    """The plugin's handler as Snakemake's LoggerManager sets it up (its filter and formatter:
    the plugin has neither of its own), writing to ``stream`` as stderr."""
    monkeypatch.setattr(sys, "stderr", stream)
    handler = LogHandler(OutputSettings(), LogHandlerSettings(**settings))
    handler.addFilter(DefaultFilter(None, False, False, False, False))  # type: ignore[arg-type]
    handler.setFormatter(DefaultFormatter())
    return handler


def write_record(path: Path, reason: str, exit_code: int, attempt: int, **more: Any) -> None:
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"reason": reason, "exit_code": exit_code, "context": {"attempt": attempt}, **more}
    path.write_text(json.dumps(record))


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Snakemake's working directory: the plugin reads results/ relative to it."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def feed_a_run_with_a_retry_and_failures(handler: LogHandler, root: Path) -> None:
    """validate_params a; run big fails for memory, is retried, fails again (final) while its
    samples file is damaged; run small succeeds; check_runs fails; Snakemake's last lines."""
    samples = root / layout.for_run(layout.SAMPLES, "big")
    for record in (
        run_info(5),
        snakemake_record("Select jobs to execute..."),
        snakemake_record("Execute 1 jobs...", LogEvent.JOB_STARTED, jobs=[3]),
        job_info(3, "validate_params", run="a"),
        job_finished(3, "validate_params"),
        progress(1, 5),
        job_info(4, "run_simulation", run="big"),
    ):
        handler.handle(record)
    write_samples(samples, row(12.0, 310 * MB, 0.42, 180.0, 400 * MB))
    handler.tick()
    kept = layout.failed_attempt_dir("big", 1, root) / "record.json"
    write_record(kept, "memory", 137, 1, message=STOP_MESSAGE)
    handler.handle(job_error(4, "run_simulation"))
    handler.handle(job_info(4, "run_simulation", attempt=2, run="big"))
    samples.write_bytes(b"\xff\xfe not a samples file\n")
    handler.tick()
    write_record(
        root / layout.for_run(layout.RECORD, "big"),
        "memory",
        137,
        2,
        message=STOP_MESSAGE.replace("400.0", "800.0"),
        retry_note="no attempts left (run_config.retries is 1)",
    )
    handler.handle(job_finished(4, "run_simulation"))
    handler.handle(job_info(5, "run_simulation", run="small"))
    write_record(
        root / layout.for_run(layout.RECORD, "small"),
        "exited",
        0,
        1,
        wall_s=75.2,
        peak_rss_bytes=104 * MB,
    )
    for record in (
        job_finished(5, "run_simulation"),
        progress(3, 5),
        job_info(9, "check_runs"),
        job_error(9, "check_runs"),
        snakemake_record(
            "WorkflowError:\nAt least one job did not complete successfully.",
            LogEvent.ERROR,
            logging.ERROR,
            exception="WorkflowError",
        ),
        snakemake_record("Complete log(s): /wf/.snakemake/log/x.snakemake.log"),
    ):
        handler.handle(record)


def test_plain_lines_say_each_start_end_and_failure_with_its_cause(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.StringIO()
    handler = make_handler(monkeypatch, stream)
    assert not handler.tty and handler.interval == 30
    feed_a_run_with_a_retry_and_failures(handler, workdir)
    handler.close()
    handler.close()  # logging's shutdown closes it again: nothing more is written
    lines = stream.getvalue().splitlines()
    expected = [
        re.escape("Job stats:"),
        re.escape("job      count"),
        re.escape("-----  -------"),
        re.escape("total        5"),
        rf"{TIME} ▶ validate_params a",
        rf"{TIME} ✓ validate_params a",
        rf"{TIME} ▶ run big \(attempt 1\)",
        rf"{TIME} jobs 1/5 done \(20 %\) · ETA \d+ s · elapsed \d+ s",
        rf"{TIME} · run big \(attempt 1\): running 42 % · ETA 3 min · 310/400 MB · 12 s",
        rf"{TIME} ✗ run big failed \(attempt 1\): {re.escape(STOP_MESSAGE)} — retried",
        rf"{TIME} ▶ run big \(attempt 2\)",
        rf"{TIME} jobs 1/5 done \(20 %\) · ETA \d+ s · elapsed \d+ s",
        rf"{TIME} · run big \(attempt 2\): running · \? · \d+ s",
        rf"{TIME} ✗ run big failed \(attempt 2\): stopped \(memory\): memory 450.2 MB over "
        r"limit 800.0 MB; .* — final",
        rf"{TIME} ▶ run small \(attempt 1\)",
        rf"{TIME} ✓ run small \(attempt 1\) · 1 min · peak 104 MB",
        rf"{TIME} ▶ check_runs",
        rf"{TIME} ✗ check_runs failed",
        re.escape("Error in rule check_runs:"),
        re.escape("    message: None"),  # Snakemake's own wording for a rule without a message
        re.escape("    jobid: 9"),
        re.escape("    input: results/runs/a/record.json"),
        re.escape("    output: results/runs-ok.txt"),
        re.escape("    log: logs/check_runs/check_runs.log (check log file(s) for error details)"),
        re.escape("WorkflowError:"),
        re.escape("At least one job did not complete successfully."),
        re.escape("Complete log(s): /wf/.snakemake/log/x.snakemake.log"),
        rf"{TIME} jobs 3/5 done \(60 %\) · elapsed \d+ s",  # ended: no ETA for jobs never run
    ]
    assert len(lines) == len(expected), "\n".join(lines)
    for line, pattern in zip(lines, expected, strict=True):
        assert re.fullmatch(pattern, line), f"{line!r} !~ {pattern!r}\n" + "\n".join(lines)
    assert "\x1b" not in stream.getvalue()


def test_a_dry_run_is_passed_on_as_snakemake_writes_it(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stdout = io.StringIO()
    monkeypatch.setattr(sys, "stdout", stdout)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    handler = LogHandler(OutputSettings(dryrun=True, stdout=True), LogHandlerSettings())
    handler.setFormatter(DefaultFormatter())
    handler.handle(job_info(3, "validate_params", run="a"))
    handler.handle(snakemake_record("This was a dry-run (flag -n)."))
    handler.close()
    lines = stdout.getvalue().splitlines()
    assert re.fullmatch(r"\[.*\]", lines[0])
    assert lines[1:4] == [
        "localrule validate_params:",
        "    output: results/validate_params.out",
        "    log: logs/validate_params.log",
    ]
    assert lines[-1] == "This was a dry-run (flag -n)."


# Frame rows as TerminalScreen draws them: row address, clear line, the row's text.
_ROW = re.compile(r"\x1b\[(\d+);1H\x1b\[2K([^\x1b]*)")


def drawn_frames(output: str) -> list[list[str]]:
    """The text of each frame drawn (save cursor ... restore cursor), row by row."""
    frames = re.findall(r"\x1b7((?:\x1b\[\d+;1H\x1b\[2K[^\x1b]*)+)\x1b8", output)
    return [[text for _, text in _ROW.findall(frame)] for frame in frames]


@pytest.mark.parametrize("columns", [60, 12])
def test_on_a_terminal_the_frame_keeps_the_bottom_rows_and_fits_the_width(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, columns: int
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.setenv("LINES", "10")
    monkeypatch.setenv("TERM", "xterm")
    stream = Terminal()
    handler = make_handler(monkeypatch, stream, interval=3600)
    assert handler.tty
    for record in (
        run_info(6),
        job_info(4, "run_simulation", run="big"),
        job_info(5, "run_simulation", run="small_with_a_long_name"),
        job_info(6, "plot_resources", run="a"),
    ):
        handler.handle(record)
    write_samples(
        workdir / layout.for_run(layout.SAMPLES, "big"),
        row(12.0, 310 * MB, 0.42, 180.0, 400 * MB),
    )
    handler.tick()
    output = stream.getvalue()
    # Four frame rows kept at the bottom of 10: the rows above scroll.
    assert "\x1b[1;6r" in output, repr(output)
    last = drawn_frames(output)[-1]
    assert len(last) == 4, last
    assert all(len(row) <= columns for frame in drawn_frames(output) for row in frame)
    assert last == [
        fit(line, columns)
        for line in (
            "jobs 0/6 done (0 %) · elapsed 0 s",
            "  run big (attempt 1): running 42 % · ETA 3 min · 310/400 MB · 12 s",
            "  run small_with_a_long_name (attempt 1): running · ? · 0 s",
            "  plot_resources a: running · 0 s",
        )
    ]
    # Event lines go to the scrolling rows, whole (the terminal wraps them).
    assert "▶ run small_with_a_long_name (attempt 1)\n" in output
    handler.handle(job_finished(6, "plot_resources"))
    end = len(stream.getvalue())
    handler.close()
    # The end: the whole screen scrolls again; the last frame stays as lines, cursor below.
    final = stream.getvalue()[end:]
    assert final.count(WHOLE_SCREEN) == 1, repr(final)
    rows = final.split("\x1b7" + WHOLE_SCREEN + "\x1b8")[1].split("\n")
    assert rows == [CLEAR_LINE + line for line in last[:3]] + ["\x1b[J"], repr(final)


def test_the_plugin_is_found_and_takes_its_options_from_snakemake_s_parser() -> None:
    plugin = LoggerPluginRegistry().get_plugin("simwarden")
    parser = argparse.ArgumentParser()
    plugin.register_cli_args(parser, "logger")
    given = plugin.get_settings(
        parser.parse_args(["--logger-simwarden-interval", "0.5", "--logger-simwarden-plain"])
    )
    assert given == LogHandlerSettings(interval=0.5, plain=True)
    default = plugin.get_settings(parser.parse_args([]))
    assert default == LogHandlerSettings(interval=None, plain=False)
    assert isinstance(default, LogHandlerSettings)
    assert (default.interval_for(tty=True), default.interval_for(tty=False)) == (2.0, 30.0)
    assert LogHandlerSettings(interval=0).interval_for(tty=False) == 30.0


@pytest.fixture
def snakemake_logger() -> Iterator[logging.Logger]:
    """Snakemake's logger, its handlers put back after the test."""
    logger = logging.getLogger("snakemake.logging")
    handlers, level = list(logger.handlers), logger.level
    yield logger
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    for handler in handlers:
        logger.addHandler(handler)
    logger.setLevel(level)


def test_snakemake_s_logger_manager_runs_it_in_place_of_its_own_stream_handler(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, snakemake_logger: logging.Logger
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    settings = OutputSettings(log_handler_settings={"simwarden": LogHandlerSettings()})
    manager = LoggerManager(snakemake_logger, settings)
    [handler] = manager.get_log_handlers()
    assert isinstance(handler, LogHandler)
    # Snakemake adds no stream handler of its own: only the queue to the plugin.
    assert [type(h).__name__ for h in snakemake_logger.handlers] == ["QueueHandler"]
    snakemake_logger.info(None, extra={"event": LogEvent.PROGRESS, "done": 0, "total": 2})
    snakemake_logger.info("x", extra={"event": LogEvent.WORKFLOW_STARTED})
    snakemake_logger.warning("Warning: something Snakemake says")
    snakemake_logger.info(
        "Finished jobid: 1 (Rule: all)", extra={"event": LogEvent.JOB_FINISHED, "job_id": 1}
    )
    manager.stop()  # drains the queue, then closes the handler
    assert stream.getvalue() == "Warning: something Snakemake says\n"


# ------------------------------------------------------------------ a real terminal (tmux)

TMUX_COLUMNS, TMUX_LINES = 50, 12
# Run inside tmux: earlier output, then the handler on the terminal, with a line written by
# another process while the frame is up, then (after the test's go) the end and a last line.
DRIVER = """
import os, subprocess, sys, time
from pathlib import Path
from tests.unit import test_live_view as t
from snakemake_logger_plugin_simwarden import LogHandler, LogHandlerSettings
from snakemake.logging import DefaultFormatter
from snakemake.settings.types import OutputSettings

for i in range(14):
    print(f"earlier line {i}")
handler = LogHandler(OutputSettings(), LogHandlerSettings(interval=3600))
handler.setFormatter(DefaultFormatter())
handler.handle(t.run_info(3))
handler.handle(t.job_info(4, "run_simulation", run="big"))
handler.handle(t.job_info(5, "run_simulation", run="small"))
t.write_samples(Path("results/runs/big/samples.tsv"),
                t.row(12.0, 310 * 10**6, 0.42, 180.0, 400 * 10**6))
handler.tick()
subprocess.run([sys.executable, "-c", "print('simwarden: a job writes to the terminal')"])
handler.handle(t.job_finished(5, "run_simulation"))
Path("framed").touch()
while not Path("go").exists():
    time.sleep(0.02)
handler.close()
print("after the view")
"""


def tmux(*args: str, socket: Path) -> str:
    done = subprocess.run(
        ["tmux", "-S", str(socket), *args], capture_output=True, text=True, timeout=TIMEOUT
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def screen_when(condition: str, socket: Path, deadline_s: float = 30) -> list[str]:
    """The pane's rows once one of them is ``condition`` (fail after ``deadline_s``)."""
    deadline = time.monotonic() + deadline_s
    while True:
        rows = tmux("capture-pane", "-p", "-t", "live", socket=socket).split("\n")[:TMUX_LINES]
        if condition in rows:
            return rows
        assert time.monotonic() < deadline, f"no row {condition!r} in:\n" + "\n".join(rows)
        time.sleep(0.05)


def test_in_a_real_terminal_other_output_scrolls_above_the_frame(tmp_path: Path) -> None:
    require_debian_packages(["tmux"], ["tmux"], "SIMWARDEN_REQUIRE_TMUX")
    socket = tmp_path / "tmux.sock"
    (tmp_path / "driver.py").write_text(DRIVER)
    env = f"PYTHONPATH={ROOT} TERM=xterm LINES= COLUMNS="
    command = f"cd {tmp_path} && env {env} {PYTHON} driver.py > /dev/tty 2>&1; sleep 60"
    size = ["-x", str(TMUX_COLUMNS), "-y", str(TMUX_LINES)]
    tmux("new-session", "-d", "-s", "live", *size, command, socket=socket)
    big = fit("  run big (attempt 1): running 42 % · ETA 3 min · 310/400 MB · 12 s", TMUX_COLUMNS)
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "framed").exists():
            assert time.monotonic() < deadline, "the driver never drew its frame"
            time.sleep(0.02)
        framed = screen_when(big, socket)
        # 14 earlier lines and the job stats scrolled; the other process's line stays whole.
        expected = [
            "job      count",
            "-----  -------",
            "total        3",
            rf"{TIME} ▶ run big \(attempt 1\)",
            rf"{TIME} ▶ run small \(attempt 1\)",
            "simwarden: a job writes to the terminal",
            rf"{TIME} ✓ run small \(attempt 1\)",
            "",  # the cursor's line, the scrolling rows' last
            # The frame: three rows kept at the bottom, one left empty since small ended.
            re.escape("jobs 0/3 done (0 %) · elapsed 0 s"),
            re.escape(big),
            "",
        ]
        assert all(re.fullmatch(p, r) for p, r in zip(expected, framed[1:], strict=True)), framed
        (tmp_path / "go").touch()
        ended = screen_when("after the view", socket)
        # The last frame left as ordinary lines, the next output right below it.
        assert ended[6:11] == [
            "simwarden: a job writes to the terminal",
            framed[7],
            "jobs 0/3 done (0 %) · elapsed 0 s",
            big,
            "after the view",
        ], ended
    finally:
        subprocess.run(["tmux", "-S", str(socket), "kill-server"], timeout=TIMEOUT, check=False)


# --------------------------------------------------------------------- the plugin's own code

PLUGIN_DIR = ROOT / "src" / "snakemake_logger_plugin_simwarden"


def test_the_plugin_keeps_the_package_s_standards() -> None:
    modules = load_modules(PLUGIN_DIR)
    assert len(modules) >= 6
    allowed = ("simwarden.results", *(f"simwarden.{p}" for p in LAYERS["results"]))
    problems = []
    for name, module in modules.items():
        if len(module.lines) > MAX_MODULE_LINES:
            problems.append(f"{module.rel}: {len(module.lines)} lines")
        for node in ast.walk(module.tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    problems.append(f"{module.rel}:{node.lineno}: {node.name} is {length} lines")
        for imported in module.imports:
            target = imported.target
            # `from simwarden.pipeline import layout` imports simwarden.pipeline.layout
            targets = [f"{target}.{n}" for n in imported.names] if imported.names else [target]
            if target.startswith("simwarden.") and not all(t.startswith(allowed) for t in targets):
                problems.append(f"{module.rel}:{imported.line}: {name} imports {targets}")
            private = [n for n in imported.names if n.startswith("_") and not n.startswith("__")]
            if private and not target.startswith(PLUGIN_DIR.name):
                problems.append(f"{module.rel}:{imported.line}: private {private} of {target}")
    assert problems == []
    assert shutil.which("snakemake", path=str(Path(PYTHON).parent)), "snakemake not installed"
    listed = subprocess.run(
        [str(Path(PYTHON).parent / "snakemake"), "--help"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert "--logger-simwarden-interval SECONDS" in listed.stdout, listed.stderr
