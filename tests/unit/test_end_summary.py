"""Tests for simwarden.results.end_summary: the rows read from the records, the table's exact
lines, the redo command built from Snakemake's argv, and the summary said after everything else
when the process exits."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from simwarden.pipeline import layout
from simwarden.results.end_summary import (
    BUDGET_STEPS,
    MAX_ROWS,
    EndRow,
    end_rows,
    end_summary,
    format_end_summary,
    format_wall,
    redo_command,
    rows_from_status,
)
from tests.conftest import TIMEOUT

CRASH = {
    "reason": "exited",
    "exit_code": 1,
    "wall_s": 0.42,
    "peak_rss_bytes": 21_300_000,
    "attempts": 1,
    "error": {
        "type": "AttributeError",
        "message": "'Axes' object has no attribute 'plott'",
        "where": "src/draw.py:9",
    },
    "context": {"run": "crash", "attempt": 1},
}
HUNGRY = {
    "reason": "exited",
    "exit_code": 0,
    "wall_s": 75.2,
    "peak_rss_bytes": 172_000_000,
    "context": {"run": "hungry", "attempt": 2},
}
LOUD = {
    "reason": "exited",
    "exit_code": 3,
    "wall_s": 3725.0,
    "peak_rss_bytes": 4_000_000,
    "stderr_tail": ["starting", "cannot open input.dat", ""],
    "attempts": 1,
}


def write_record(root: Path, run: str, data: dict[str, Any] | str) -> None:
    path = root / layout.for_run(layout.RECORD, run)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    write_record(tmp_path, "crash", CRASH)
    write_record(tmp_path, "hungry", HUNGRY)
    write_record(tmp_path, "loud", LOUD)
    write_record(tmp_path, "torn", '{"reason": "exi')
    return tmp_path


def test_end_rows_come_from_the_records(root: Path) -> None:
    rows = end_rows(["crash", "hungry", "loud", "torn", "never"], root)
    assert rows[:3] == [
        EndRow(
            "crash",
            "failed",
            reason="exited",
            attempts=1,
            peak_bytes=21_300_000,
            wall_s=0.42,
            cause="AttributeError: 'Axes' object has no attribute 'plott' (src/draw.py:9)",
            exit_code=1,
        ),
        EndRow(
            "hungry",
            "ok",
            reason="exited",
            attempts=2,
            peak_bytes=172_000_000,
            wall_s=75.2,
            exit_code=0,
        ),
        EndRow(
            "loud",
            "failed",
            reason="exited",
            attempts=1,
            peak_bytes=4_000_000,
            wall_s=3725.0,
            cause="cannot open input.dat",
            exit_code=3,
        ),
    ]
    torn = rows[3]
    assert (torn.run, torn.state, torn.reason) == ("torn", "failed", "record")
    assert torn.cause is not None
    assert torn.cause.startswith(f"record '{root}/results/runs/torn/record.json' cannot be read")
    assert rows[4] == EndRow("never", "not run")


def test_the_summary_lines(root: Path) -> None:
    argv = ["/venv/bin/snakemake", "--profile", "profiles/short", "--cores", "2"]
    lines = end_summary(["crash", "hungry", "loud", "never"], argv, root)
    assert lines == [
        "RUN     STATE    REASON    ATTEMPTS  PEAK    WALL   CAUSE",
        "crash   failed   exited 1  1         21 MB   0.42s  "
        "AttributeError: 'Axes' object has no attribute 'plott' (src/draw.py:9)",
        "hungry  ok       exited    2         172 MB  1m15s",
        "loud    failed   exited 3  1         4.0 MB  1h02m  cannot open input.dat",
        "never   not run  -         -         -       -",
        "4 runs: 1 ok, 2 failed, 1 not run",
        "redo the failed runs: snakemake --profile profiles/short",
    ]


def test_no_redo_line_when_every_run_ended_well() -> None:
    rows = [EndRow("a", "ok", reason="exited", attempts=1, peak_bytes=10**7, wall_s=12.4)]
    assert format_end_summary(rows, ["snakemake"]) == [
        "RUN  STATE  REASON  ATTEMPTS  PEAK   WALL  CAUSE",
        "a    ok     exited  1         10 MB  12s",
        "1 run: 1 ok, 0 failed",
    ]


def test_a_sweep_shows_only_its_failed_runs_and_those_not_run_and_counts_the_rest() -> None:
    rows = [EndRow(f"p{i:03d}", "ok", reason="exited", attempts=1) for i in range(100)]
    rows[70] = EndRow("p070", "failed", reason="memory", attempts=2, cause="out of memory")
    rows[80] = EndRow("p080", "not run")
    lines = format_end_summary(rows, ["snakemake"])
    assert [line.split()[0] for line in lines[:3]] == ["RUN", "p070", "p080"]
    assert lines[3:] == [
        "... and 98 more runs: simwarden status lists every run",
        "100 runs: 98 ok, 1 failed, 1 not run",
        BUDGET_STEPS["memory"],
        "redo the failed runs: snakemake",
    ]
    # More failures than the table holds: the first MAX_ROWS, in the planned order.
    many = [EndRow(f"f{i:03d}", "failed", reason="exited", cause="boom") for i in range(100)]
    lines = format_end_summary(many, ["snakemake"])
    assert len(lines) == 1 + MAX_ROWS + 3
    assert lines[MAX_ROWS].split()[0] == f"f{MAX_ROWS - 1:03d}"
    assert lines[-3] == f"... and {100 - MAX_ROWS} more runs: simwarden status lists every run"


def test_a_sweep_that_ended_well_is_one_line() -> None:
    rows = [EndRow(f"p{i:03d}", "ok", reason="exited", attempts=1) for i in range(100)]
    assert format_end_summary(rows, ["snakemake"]) == ["100 runs: 100 ok, 0 failed"]


def test_a_run_stopped_for_its_budget_is_told_what_to_raise_before_the_redo() -> None:
    rows = [
        EndRow("hog", "failed", reason="memory", attempts=2, cause="memory over 300 MB"),
        EndRow("slow", "failed", reason="timeout", attempts=1, cause="over 1 min"),
    ]
    assert format_end_summary(rows, ["snakemake", "--profile", "p"])[-3:] == [
        "runs stopped for memory need a bigger run_config.mem_mb (or more run_config.retries) "
        "in the profile's run.yaml",
        "runs stopped for time need a bigger run_config.runtime_min in the profile's run.yaml",
        "redo the failed runs: snakemake --profile p",
    ]


def test_a_refused_parameter_set_is_to_be_fixed_not_redone() -> None:
    rows = [
        EndRow("a", "failed", "validation", cause="config/params/a.yaml: sede: unknown key"),
        EndRow("b", "failed", reason="exited", exit_code=1, attempts=1, cause="boom"),
        EndRow("c", "failed", "validation", cause="config/params/c.yaml: sede: unknown key"),
    ]
    assert format_end_summary(rows, ["snakemake", "--profile", "p"])[-3:] == [
        "3 runs: 0 ok, 3 failed",
        "fix the refused parameter sets (every problem is in results/params/_errors.json), "
        "then: snakemake --profile p",
        "redo the failed runs: snakemake --profile p",
    ]
    assert format_end_summary(rows[:1], ["snakemake"])[-1] == (
        "fix the refused parameter set (every problem is in results/params/_errors.json), "
        "then: snakemake"
    )


def test_with_no_failed_run_the_last_line_runs_the_rest() -> None:
    """A run that is only not done yet (stale, never run) is not a failure to redo."""
    rows = [EndRow("a", "ok", reason="exited", attempts=1), EndRow("b", "not run")]
    assert format_end_summary(rows, ["snakemake", "--profile", "p"])[-2:] == [
        "2 runs: 1 ok, 0 failed, 1 not run",
        "run the rest: snakemake --profile p",
    ]


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(None, "-"), (0.0, "0.00s"), (0.043, "0.04s"), (0.994, "0.99s"), (1.0, "1.0s"),
     (9.94, "9.9s"), (10, "10s"), (59.4, "59s"), (60, "1m00s"),
     (3599, "59m59s"), (3600, "1h00m"), (90061, "25h01m")],
)  # fmt: skip
def test_format_wall(seconds: float | None, shown: str) -> None:
    assert format_wall(seconds) == shown


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["snakemake"], ["snakemake"]),
        (
            ["/x/__main__.py", "--profile", "profiles/short", "-n", "results/runs/a/record.json"],
            ["snakemake", "--profile", "profiles/short"],
        ),
        (
            ["snakemake", "--profile=profiles/std", "--profile", "profiles/slurm", "--forceall"],
            ["snakemake", "--profile=profiles/std", "--profile", "profiles/slurm"],
        ),
        (
            ["snakemake", "--configfile", "a.yaml", "b.yaml", "--cores", "2", "-d", "my dir"],
            ["snakemake", "--configfile", "a.yaml", "b.yaml", "-d", "my dir"],
        ),
        (
            ["snakemake", "--config", "commit=v1", "x=$(rm -rf ~)", "--workflow-profile", "none"],
            ["snakemake", "--config", "commit=v1", "x=$(rm -rf ~)", "--workflow-profile", "none"],
        ),
        (["snakemake", "--profile"], ["snakemake", "--profile"]),
    ],
)
def test_redo_command_keeps_the_options_that_choose_the_workflow(
    argv: list[str], expected: list[str]
) -> None:
    assert redo_command(argv) == expected


def test_the_redo_command_is_quoted_for_a_shell(root: Path) -> None:
    argv = ["snakemake", "--config", "x=$(rm -rf ~)", "--profile", "my profiles/short"]
    last = end_summary(["crash"], argv, root)[-1]
    assert last == (
        "redo the failed runs: snakemake --config 'x=$(rm -rf ~)' --profile 'my profiles/short'"
    )


def test_the_summary_is_said_when_the_process_exits_after_its_last_lines(root: Path) -> None:
    """As from Snakemake's onerror handler: the summary is worked out then, said at exit."""
    code = (
        "import sys\n"
        "from simwarden.results.end_summary import show_at_exit\n"
        "show_at_exit(['crash', 'hungry'], ['snakemake', '--profile', 'profiles/short'])\n"
        "sys.stderr.write('Complete log(s): x.log\\n')\n"
        "raise SystemExit(1)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        "Complete log(s): x.log",
        "simwarden: RUN     STATE   REASON    ATTEMPTS  PEAK    WALL   CAUSE",
        "simwarden: crash   failed  exited 1  1         21 MB   0.42s  "
        "AttributeError: 'Axes' object has no attribute 'plott' (src/draw.py:9)",
        "simwarden: hungry  ok      exited    2         172 MB  1m15s",
        "simwarden: 2 runs: 1 ok, 1 failed",
        "simwarden: redo the failed runs: snakemake --profile profiles/short",
    ]


def test_rows_from_status_take_its_verdicts_and_a_retry_from_the_kept_attempts(
    root: Path,
) -> None:
    """The summary says what `simwarden status` says: a refused parameter set, a run whose code
    could not be fetched, an interrupted run; an ok run that needed a retry says which."""
    kept = layout.failed_attempt_dir("hungry", 1, root)
    kept.mkdir(parents=True)
    (kept / "record.json").write_text(json.dumps({"reason": "memory", "exit_code": 137}))
    statuses = [
        {
            "run": "hungry",
            "state": "up to date",
            "reason": "exited",
            "attempts": 2,
            "peak_rss_bytes": 172_000_000,
            "wall_s": 75.2,
        },
        {
            "run": "crash",
            "state": "failed",
            "why": "exit code 1",
            "reason": "exited",
            "exit_code": 1,
            "attempts": 1,
            "cause": "AttributeError: boom (src/draw.py:9)",
            "wall_s": 0.42,
        },
        {
            "run": "bad",
            "state": "failed",
            "why": "validation",
            "reason": None,
            "detail": "config/params/bad.yaml:3: not valid YAML",
        },
        {
            "run": "moved",
            "state": "stale",
            "why": ["code", "parameters"],
            "detail": "the commit changed",
        },
        {"run": "cut", "state": "incomplete", "why": None, "detail": "the next run redoes it"},
    ]
    rows = rows_from_status(statuses, ["crash", "hungry", "bad", "moved", "cut", "gone"], root)
    assert rows == [
        EndRow(
            "crash", "failed", "exited", 1, None, 0.42, "AttributeError: boom (src/draw.py:9)", 1
        ),
        EndRow(
            "hungry", "ok", "exited", 2, 172_000_000, 75.2, "retried: attempt 1 stopped (memory)"
        ),
        EndRow(
            "bad",
            "failed",
            "validation",
            None,
            None,
            None,
            "config/params/bad.yaml:3: not valid YAML",
        ),
        EndRow("moved", "stale", "code, parameters", None, None, None, "the commit changed"),
        EndRow("cut", "incomplete", None, None, None, None, "the next run redoes it"),
        EndRow("gone", "not run"),
    ]
    assert [row.reason_text for row in rows[:3]] == ["exited 1", "exited", "validation"]
