"""Tests for the pure parts of simwarden.results.status: reading Snakemake's records (written
here by Snakemake's own FilePersistence), the warden's records, the last run's profile, and
formatting."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from simwarden.cli.status import main as cli_main
from simwarden.core.errors import UserError
from simwarden.pipeline import layout
from simwarden.results.attempts import (
    KeptAttempt,
    SnakemakeProcess,
    kept_attempts,
    kept_attempts_in,
    redo_command,
    snakemake_process,
)
from simwarden.results.live import LIVE_KEYS, LiveSample
from simwarden.results.snakemake_view import SnakemakeRecords
from simwarden.results.status import RunStatus, collect_status, failure_reason, refusal
from simwarden.results.status_format import format_status, state_text
from simwarden.results.status_profile import (
    DEFAULT_PROFILE,
    ProfileChoice,
    choose_profile,
    last_run_profile,
)
from simwarden.results.values import load_record
from simwarden.warden.record import Record, format_sample_row, samples_header

MEMORY_RECORD = {
    "reason": "memory",
    "exit_code": 137,
    "command_exit_code": None,
    "command_signal": 9,
    "message": "stopped: memory 130 MB above the 120 MB limit",
    "peak_rss_bytes": 130_000_000,
    "wall_s": 2.5,
    "end": "2026-11-21T21:14:03.500+00:00",
    "context": {"attempt": 1, "commit": "71d8775", "run_config": "short"},
}


def snakemake_log(workdir: Path, stamp: str, command: str) -> Path:
    """A log as Snakemake 9 writes it for a run (the header of its WORKFLOW_STARTED event)."""
    logdir = workdir / ".snakemake" / "log"
    logdir.mkdir(parents=True, exist_ok=True)
    path = logdir / f"{stamp}.snakemake.log"
    path.write_text(
        "Assuming unrestricted shared filesystem usage.\n\nSNAKEMAKE\n=========\n"
        "  Date: 2026-11-21 21:29:20\n"
        f"  Command: {command}\n"
        f"  Snakefile: {workdir}/Snakefile\n"
        "Building DAG of jobs...\n"
    )
    return path


# ------------------------------------------------------------------------------- warden records


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (MEMORY_RECORD, "memory"),
        ({"reason": "timeout", "exit_code": 124, "command_signal": 15}, "timeout"),
        ({"reason": "exited", "exit_code": 3, "command_exit_code": 3}, "exit code 3"),
        ({"reason": "exited", "exit_code": 139, "command_signal": 11}, "signal 11"),
        ({"reason": "host_memory", "exit_code": 122}, "host memory"),
        ({"reason": "disk", "exit_code": 121}, "disk"),
        ({"reason": "stopped", "exit_code": 123}, "stopped"),
        # Bonsai: the command exited 0 but the rule failed the run for the exception it printed.
        ({"reason": "exited", "exit_code": 0, "command_exit_code": 0}, "exit code 0"),
        ({"reason": "signal", "exit_code": 143}, "exit code 143"),
    ],
)
def test_failure_reason_names_what_stopped_the_attempt(record: dict, expected: str) -> None:
    assert failure_reason(Record.from_dict(record)) == expected


def test_refusal_is_the_last_block_of_simwarden_lines() -> None:
    one_line_each = (
        "Building...\nsimwarden: a.yaml: x: unknown key\nsimwarden: a.yaml: y: too small\n"
    )
    assert refusal(one_line_each) == "a.yaml: x: unknown key; a.yaml: y: too small"
    older = "simwarden: earlier\nnoise\nsimwarden: a.yaml: x: unknown key\n  a.yaml: y: too small\n"
    assert refusal(older) == "a.yaml: x: unknown key; a.yaml: y: too small"
    assert refusal("Traceback ...\nValueError: boom\n") == "ValueError: boom"
    assert refusal("") == ""


def test_load_record_gives_none_for_missing_and_partial_files(tmp_path: Path) -> None:
    good = tmp_path / "record.json"
    good.write_text(json.dumps(MEMORY_RECORD))
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(MEMORY_RECORD)[:40])
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    assert load_record(good) == Record.from_dict(MEMORY_RECORD)
    assert load_record(partial) is None
    assert load_record(listed) is None
    assert load_record(tmp_path / "absent.json") is None


def test_kept_attempts_are_the_attempt_directories_of_that_run_only(tmp_path: Path) -> None:
    failed = tmp_path / "results" / "failed"
    for name in (
        "a/attempt-1",
        "a/attempt-12",
        "a/attempt-2",
        "a/attempt-X",  # not an attempt number
        "a/attempts-3",
        "ab/attempt-1",  # another run whose id starts with "a"
        "rate.attempt-3/attempt-1",  # a run id that holds "attempt-"
    ):
        (failed / name).mkdir(parents=True)
    (failed / "a" / "attempt-4").write_text("a file, not an attempt directory's name clash")
    found = kept_attempts("a", tmp_path)
    assert [(a.number, a.directory.name) for a in found] == [
        (1, "attempt-1"),
        (2, "attempt-2"),
        (4, "attempt-4"),
        (12, "attempt-12"),
    ]
    assert found[0].record == failed / "a" / "attempt-1" / "record.json"
    assert found[0].samples == failed / "a" / "attempt-1" / "samples.tsv"
    assert found[0].log_tail == failed / "a" / "attempt-1" / "log-tail.txt"
    assert [a.number for a in kept_attempts("ab", tmp_path)] == [1]
    assert [a.number for a in kept_attempts("rate.attempt-3", tmp_path)] == [1]
    assert kept_attempts("zzz", tmp_path) == []
    assert kept_attempts_in(failed / "a") == found
    assert kept_attempts_in(failed / "absent") == []
    assert layout.where_kept("a", 2) == "results/failed/a/attempt-2/"


def test_kept_attempt_pngs_are_its_saved_png_figures_by_name(tmp_path: Path) -> None:
    attempt = KeptAttempt(1, tmp_path / "attempt-1")
    assert attempt.pngs() == []
    png = attempt.figures / "png"
    png.mkdir(parents=True)
    for name in ("rate.png", "raster.png", "notes.txt"):
        (png / name).write_bytes(b"x")
    (attempt.figures / "pdf").mkdir()
    (attempt.figures / "pdf" / "raster.pdf").write_bytes(b"x")
    assert [p.name for p in attempt.pngs()] == ["raster.png", "rate.png"]


def test_redo_command_forces_the_run_s_record_with_the_profiles() -> None:
    record = "results/runs/a/record.json"
    assert redo_command(record, ["profiles/std"]) == (
        "snakemake --profile profiles/std --forcerun results/runs/a/record.json"
    )
    assert redo_command(record, ("profiles/std", "my profiles/slurm")) == (
        "snakemake --profile profiles/std --profile 'my profiles/slurm' --forcerun "
        "results/runs/a/record.json"
    )
    assert redo_command(record, []) == "snakemake --forcerun results/runs/a/record.json"
    assert redo_command(record, None) == (
        "snakemake --profile ... --forcerun results/runs/a/record.json"
    )


def write_process(workdir: Path, pid: int, create_time: float) -> None:
    """The file the Snakefile's onstart handler writes for the Snakemake holding the lock."""
    path = workdir / layout.SNAKEMAKE_PROCESS
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": pid, "create_time": create_time}))


def ended_process() -> tuple[int, float]:
    """The pid and start time of a process that has ended and been reaped."""
    child = subprocess.Popen(["sleep", "0"])
    started = psutil.Process(child.pid).create_time()
    child.wait(timeout=30)
    return child.pid, started


def test_snakemake_process_tells_a_live_one_from_a_dead_or_reused_pid(tmp_path: Path) -> None:
    assert snakemake_process(tmp_path) is None  # none recorded: status as before
    me = psutil.Process()
    write_process(tmp_path, me.pid, me.create_time())
    assert snakemake_process(tmp_path) == SnakemakeProcess(me.pid, alive=True)
    write_process(tmp_path, me.pid, me.create_time() - 100)  # the pid now names another process
    assert snakemake_process(tmp_path) == SnakemakeProcess(me.pid, alive=False)
    pid, started = ended_process()
    write_process(tmp_path, pid, started)
    assert snakemake_process(tmp_path) == SnakemakeProcess(pid, alive=False)
    (tmp_path / layout.SNAKEMAKE_PROCESS).write_text('{"pid": ')  # cut short
    assert snakemake_process(tmp_path) is None
    (tmp_path / layout.SNAKEMAKE_PROCESS).write_text('{"pid": "12"}')
    assert snakemake_process(tmp_path) is None


def test_a_zombie_snakemake_is_dead(tmp_path: Path) -> None:
    child = subprocess.Popen(["sleep", "0"])
    try:
        proc = psutil.Process(child.pid)
        started = proc.create_time()
        write_process(tmp_path, child.pid, started)
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # ended, not reaped: a zombie
        assert proc.status() == psutil.STATUS_ZOMBIE
        assert snakemake_process(tmp_path) == SnakemakeProcess(child.pid, alive=False)
    finally:
        child.wait(timeout=30)


# ---------------------------------------------------------------------------- Snakemake's records


def test_snakemake_records_reads_what_snakemake_wrote(tmp_path: Path) -> None:
    from snakemake.persistence import MetadataRecord
    from snakemake.persistence.file import FilePersistence

    persistence = FilePersistence(path=tmp_path / ".snakemake")
    record = MetadataRecord(
        rule="validate_params",
        input=["config/params/a.yaml", "results/code/demo-sim@v0.3.json"],
        params=["'schema.json'", "{'seed': 3}"],
        code='        "../scripts/validate_params.py"\n',
        record_format_version=6,
        input_checksums={"config/params/a.yaml": "sha256:ab"},
    )
    short_key = "results/params/a.json"
    # Longer than a file name may be: Snakemake splits its encoding into directories.
    long_key = "results/params/" + "x" * 300 + ".json"
    persistence._write_record(short_key, record)
    persistence._write_record(long_key, record)
    persistence._mark_incomplete("results/runs/b/record.json", None)
    persistence._mark_incomplete("results/runs/c/record.json", None)
    persistence._write_locks("output", ["results/runs/b/record.json", "results/runs/b/data"])
    (tmp_path / ".snakemake" / "metadata" / "broken").write_text("{")

    records = SnakemakeRecords(tmp_path)
    for key in (short_key, long_key):
        meta = records.metadata(key)
        assert meta is not None
        assert meta["params"] == ["'schema.json'", "{'seed': 3}"]
        assert meta["input_checksums"] == {"config/params/a.yaml": "sha256:ab"}
        assert meta["record_format_version"] == 6
        assert records.has_metadata(key)
    assert records.metadata("results/params/zzz.json") is None
    assert not records.has_metadata("results/params/zzz.json")
    assert records.incomplete("results/runs/b/record.json")
    assert records.incomplete("results/runs/c/record.json")
    assert not records.incomplete("results/params/a.json")
    assert records.locked("results/runs/b/record.json")
    assert not records.locked("results/runs/c/record.json")

    # What Snakemake does when a job finishes: the marker goes, the lock goes at the end.
    persistence._unmark_incomplete("results/runs/b/record.json")
    persistence._delete_locks()
    fresh = SnakemakeRecords(tmp_path)
    assert not fresh.incomplete("results/runs/b/record.json")
    assert not fresh.locked("results/runs/b/record.json")


def test_snakemake_records_of_a_directory_never_run_are_empty(tmp_path: Path) -> None:
    records = SnakemakeRecords(tmp_path)
    assert records.metadata("results/params/a.json") is None
    assert not records.incomplete("results/params/a.json")
    assert not records.locked("results/params/a.json")
    assert not (tmp_path / ".snakemake").exists()


# ------------------------------------------------------------------------------------ profiles


def test_last_run_profile_is_the_newest_real_run(tmp_path: Path) -> None:
    assert last_run_profile(tmp_path) is None
    snakemake_log(tmp_path, "2026-11-20T100000.000001", "/v/bin/snakemake --profile profiles/full")
    newest_run = snakemake_log(
        tmp_path, "2026-11-21T100000.000001", "/v/bin/snakemake --cores 2 --profile=profiles/short"
    )
    # Later, but not runs of the workflow: an unlock, a touch.
    snakemake_log(tmp_path, "2026-11-21T110000.000001", "/v/bin/snakemake --unlock")
    snakemake_log(tmp_path, "2026-11-21T120000.000001", "/v/bin/snakemake --profile x -t")
    (tmp_path / ".snakemake" / "log" / "2026-11-21T130000.000001.snakemake.log").write_text(
        "Building DAG of jobs...\n"  # a run that died before its header: no Command line
    )
    assert last_run_profile(tmp_path) == (["profiles/short"], newest_run)

    no_profile = snakemake_log(
        tmp_path, "2026-11-22T100000.000001", "/usr/lib/python3/snakemake/__main__.py -c 2"
    )
    assert last_run_profile(tmp_path) == ([], no_profile)
    stacked = snakemake_log(
        tmp_path,
        "2026-11-23T100000.000001",
        "python -m snakemake --profile profiles/std --profile profiles/slurm -j 4",
    )
    assert last_run_profile(tmp_path) == (["profiles/std", "profiles/slurm"], stacked)
    none = snakemake_log(tmp_path, "2026-11-24T100000.000001", "snakemake --profile none")
    assert last_run_profile(tmp_path) == ([], none)


def test_choose_profile_prefers_the_option_then_the_last_run_then_std(tmp_path: Path) -> None:
    given = choose_profile(tmp_path, ["profiles/full"])
    assert given == ProfileChoice(("profiles/full",), "--profile")
    assert choose_profile(tmp_path, ["none"]) == ProfileChoice((), "--profile")
    assert choose_profile(tmp_path, ["none"]).label == "none (config/config.yaml only)"
    assert choose_profile(tmp_path, None) == ProfileChoice(
        (DEFAULT_PROFILE,), "default: no logged run"
    )

    (tmp_path / "profiles" / "short").mkdir(parents=True)
    log = snakemake_log(tmp_path, "2026-11-21T100000.000001", "snakemake --profile profiles/short")
    assert choose_profile(tmp_path, None) == ProfileChoice(
        ("profiles/short",), f"used by the last run, {log.relative_to(tmp_path)}"
    )
    (tmp_path / "profiles" / "slurm").mkdir()
    snakemake_log(
        tmp_path,
        "2026-11-21T110000.000001",
        "snakemake --profile profiles/short --profile profiles/slurm",
    )
    stacked = choose_profile(tmp_path, None)
    assert stacked.profiles == ("profiles/short", "profiles/slurm")
    assert stacked.label == "profiles/short + profiles/slurm"

    snakemake_log(tmp_path, "2026-11-22T100000.000001", "snakemake --profile profiles/gone")
    assert choose_profile(tmp_path, None) == ProfileChoice(
        (DEFAULT_PROFILE,),
        f"default; the last run's profile 'profiles/gone' is not in {tmp_path}",
    )


# ---------------------------------------------------------------------------------- formatting

STATUSES = [
    RunStatus(
        "a",
        "up to date",
        (),
        "",
        "exited",
        0,
        2,
        250_000_000,
        75.0,
        "2026-11-21T21:14:03.500+00:00",
        "71d8775",
        "short",
        "results/runs/a/record.json",
    ),
    RunStatus(
        "b",
        "stale",
        ("parameters", "code"),
        "config/params/b.yaml changed; commit changed",
        "exited",
        0,
        1,
        5_500_000,
        1.25,
        "2026-11-21T21:15:00+00:00",
    ),
    RunStatus(
        "hungry",
        "failed",
        ("memory",),
        "stopped: memory\tabove",
        "memory",
        137,
        1,
        130_000_000,
        2.5,
        "2026-11-21T21:16:00+00:00",
    ),
    RunStatus("new", "never run"),
]


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> None:
    """Show times in UTC, so the table is the same on every machine."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_table_is_aligned_with_a_summary_line(utc: None) -> None:
    assert format_status(STATUSES, "table").splitlines() == [
        "RUN     STATE       WHY               LAST ATTEMPT          PEAK MEM  WALL   "
        "FINISHED             DETAIL",
        "a       up to date                    exited 0 (attempt 2)  250 MB    1m15s  "
        "2026-11-21 21:14:03",
        "b       stale       parameters, code  exited 0              5.5 MB    1.2 s  "
        "2026-11-21 21:15:00  config/params/b.yaml changed; commit changed",
        "hungry  failed      memory            memory 137            130 MB    2.5 s  "
        "2026-11-21 21:16:00  stopped: memory above",
        "new     never run",
        "4 runs: 1 never run, 1 up to date, 1 stale, 1 failed",
    ]
    assert format_status([], "table").splitlines() == [
        "RUN  STATE  WHY  LAST ATTEMPT  PEAK MEM  WALL  FINISHED  DETAIL",
        "no runs",
    ]


def test_tsv_has_a_header_and_one_clean_line_per_run() -> None:
    lines = format_status(STATUSES, "tsv").split("\n")
    assert lines[0] == (
        "run\tstate\twhy\tdetail\treason\texit_code\tattempt\tpeak_rss_bytes\twall_s\tfinished"
    )
    assert lines[2] == (
        "b\tstale\tparameters,code\tconfig/params/b.yaml changed; commit changed\texited\t0\t1\t"
        "5500000\t1.25\t2026-11-21T21:15:00+00:00"
    )
    assert lines[3].split("\t")[3] == "stopped: memory above"  # a tab inside a cell is replaced
    assert lines[4] == "new\tnever run\t\t\t\t\t\t\t\t"
    assert all(line.count("\t") == 9 for line in lines)


def test_json_is_a_list_of_objects_with_the_same_keys() -> None:
    rows = json.loads(format_status(STATUSES, "json"))
    keys = [
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
        "commit",
        "run_config",
        "record",
        "attempts",
        "cause",
        "kept",
        "simulation",
        "ref",
        # A running simulation's last sample (null for every other run).
        "progress",
        "eta_s",
        "rss_bytes",
        "mem_limit_bytes",
        "elapsed_s",
    ]
    assert [list(row) for row in rows] == [keys] * 4
    assert rows[1]["why"] == ["parameters", "code"]
    assert rows[2] == {
        "run": "hungry",
        "state": "failed",
        "why": ["memory"],
        "detail": "stopped: memory\tabove",
        "reason": "memory",
        "exit_code": 137,
        "attempt": 1,
        "peak_rss_bytes": 130_000_000,
        "wall_s": 2.5,
        "finished": "2026-11-21T21:16:00+00:00",
        "commit": None,
        "run_config": None,
        "record": None,
        "attempts": None,
        "cause": None,
        "kept": None,
        "simulation": None,
        "ref": None,
        "progress": None,
        "eta_s": None,
        "rss_bytes": None,
        "mem_limit_bytes": None,
        "elapsed_s": None,
    }
    assert rows[3]["why"] == [] and rows[3]["reason"] is None


def test_unknown_format_is_a_user_error() -> None:
    with pytest.raises(UserError, match=r"--format 'xml': expected one of table, tsv, json"):
        format_status(STATUSES, "xml")


# ------------------------------------------------------------------------------------- the CLI


def test_a_directory_without_a_snakefile_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(UserError) as caught:
        cli_main(["--directory", str(tmp_path)])
    message = str(caught.value)
    assert message == (
        f"{tmp_path} is not a Snakemake workflow (no Snakefile or workflow/Snakefile); "
        "run simwarden status in the workflow directory or pass --directory DIR"
    )
    with pytest.raises(UserError, match="is not a directory"):
        cli_main(["--directory", str(tmp_path / "absent")])
    with pytest.raises(UserError, match="invalid choice: 'xml'"):
        cli_main(["--format", "xml"])


# ------------------------------------------------------------- failed runs in a small workflow

# The per-run rules as the workflow declares them (paths from pipeline.layout), with shell
# commands in place of the scripts: status reads the rules, never runs them.
SNAKEFILE = """
import os
from simwarden.pipeline import layout

RUNS = ["ok", "retried", "crash", "hungry", "broken", "slow"]


def rerun_marker(wildcards):
    marker = layout.for_run(layout.RERUN_MARKER, wildcards.run)
    return [marker] if os.path.exists(marker) else []


rule validate_params:
    input:
        "config/params/{run}.yaml",
    output:
        layout.PARAMS,
    log:
        layout.log(layout.VALIDATE_PARAMS),
    shell:
        "cp {input} {output}"


rule run_simulation:
    input:
        params=layout.PARAMS,
        marker=rerun_marker,
    output:
        data=directory(layout.DATA),
        record=layout.RECORD,
        samples=layout.SAMPLES,
    log:
        layout.log(layout.RUN_SIMULATION),
    shell:
        "simwarden run -- true"
"""
CRASH_ERROR = {
    "type": "ModuleNotFoundError",
    "message": "No module named 'brian'",
    "where": "src/tuned.py:2",
    "traceback": 'Traceback (most recent call last):\n  File "src/tuned.py", line 2\n',
}


def run_record(attempt: int, end: str, **changes: Any) -> dict[str, Any]:
    """A record as the warden and the pipeline write it for one attempt."""
    record = {
        "reason": "exited",
        "exit_code": 0,
        "command_exit_code": 0,
        "message": "command exited",
        "peak_rss_bytes": 50_000_000,
        "wall_s": 1.5,
        "end": end,
        "attempts": attempt,
        "context": {"attempt": attempt, "commit": "71d8775", "run_config": "short"},
    }
    return record | changes


def finish_run(workdir: Path, run: str, record: dict[str, Any] | str, when: float) -> None:
    """The outputs of run_simulation for ``run``, written at ``when`` (after its params)."""
    run_dir = workdir / layout.for_run(layout.RUN_DIR, run)
    (run_dir / "data").mkdir(parents=True)
    (run_dir / "samples.tsv").write_text("time_s\trss_bytes\n")
    text = record if isinstance(record, str) else json.dumps(record)
    (run_dir / "record.json").write_text(text)
    for path in (run_dir / "data", run_dir / "samples.tsv", run_dir / "record.json"):
        os.utime(path, (when, when))


def keep_attempt(workdir: Path, run: str, attempt: int, record: dict[str, Any]) -> None:
    kept = layout.failed_attempt_dir(run, attempt, workdir)
    (kept / "figures" / "png").mkdir(parents=True)
    (kept / "data").mkdir()
    (kept / "record.json").write_text(json.dumps(record))


def touch(path: Path, when: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    os.utime(path, (when, when))


@pytest.fixture
def small_workflow(tmp_path: Path) -> Path:
    """A workflow after one invocation: ``ok`` ran; ``retried`` was stopped for memory and
    fitted at attempt 2; ``crash`` raised (a failure record and its rerun marker, newer than the
    outputs); ``hungry`` ran out of memory on its last attempt; ``broken``'s record was cut
    short after the run; ``slow`` was running when its Snakemake was killed."""
    (tmp_path / "Snakefile").write_text(textwrap.dedent(SNAKEFILE))
    start = time.time() - 1000
    for run in ("ok", "retried", "crash", "hungry", "broken", "slow"):
        touch(tmp_path / "config" / "params" / f"{run}.yaml", start)
        touch(tmp_path / layout.for_run(layout.PARAMS, run), start + 1)
    done = start + 10
    finish_run(tmp_path, "ok", run_record(1, "2026-11-21T21:00:00+00:00"), done)
    # The marker of an earlier failure of ok: older than its outputs (it was redone since).
    touch(tmp_path / layout.for_run(layout.RERUN_MARKER, "ok"), start + 5)

    memory = {"reason": "memory", "exit_code": 137, "command_exit_code": None}
    stop = "stopped (memory): memory 130 MB over limit 120 MB; peak 130 MB after 2.5 s"
    first = run_record(1, "2026-11-21T21:00:00+00:00", **memory, message=stop)
    keep_attempt(tmp_path, "retried", 1, first)
    finish_run(tmp_path, "retried", run_record(2, "2026-11-21T21:00:09+00:00"), done)

    crashed = run_record(
        1, "2026-11-21T21:00:05+00:00", exit_code=1, command_exit_code=1, error=CRASH_ERROR
    )
    keep_attempt(tmp_path, "crash", 1, crashed)
    finish_run(tmp_path, "crash", crashed, done)
    touch(tmp_path / layout.for_run(layout.RERUN_MARKER, "crash"), done + 1)

    keep_attempt(tmp_path, "hungry", 1, first)
    last = run_record(2, "2026-11-21T21:00:20+00:00", **memory, message=stop)
    keep_attempt(tmp_path, "hungry", 2, last)
    finish_run(tmp_path, "hungry", last, done)
    touch(tmp_path / layout.for_run(layout.RERUN_MARKER, "hungry"), done + 1)

    finish_run(tmp_path, "broken", '{"reason": ', done)
    return tmp_path


def statuses(workdir: Path) -> dict[str, RunStatus]:
    return {s.run: s for s in collect_status(workdir, "none")}


def lock_slow_run(workdir: Path) -> None:
    """What a Snakemake running ``slow`` leaves in .snakemake: its incomplete marker, its lock."""
    from snakemake.persistence.file import FilePersistence

    persistence = FilePersistence(path=workdir / ".snakemake")
    record = layout.for_run(layout.RECORD, "slow")
    persistence._mark_incomplete(record, None)
    persistence._write_locks("output", [record])


def test_failed_runs_show_their_cause_and_where_their_files_are_kept(
    small_workflow: Path,
) -> None:
    found = statuses(small_workflow)
    assert {run: (s.state, s.why) for run, s in found.items()} == {
        "ok": ("up to date", ()),
        "retried": ("up to date", ()),
        "crash": ("failed", ("exit code 1",)),
        "hungry": ("failed", ("memory",)),
        "broken": ("stale", ("record",)),
        "slow": ("never run", ()),
    }
    crash = found["crash"]
    assert crash.detail == (
        "ModuleNotFoundError: No module named 'brian' (src/tuned.py:2); "
        "files kept in results/failed/crash/attempt-1/"
    )
    assert crash.cause == "ModuleNotFoundError: No module named 'brian' (src/tuned.py:2)"
    assert (crash.kept, crash.attempts, crash.record) == (
        "results/failed/crash/attempt-1/",
        1,
        "results/runs/crash/record.json",
    )
    hungry = found["hungry"]
    assert hungry.detail == (
        "stopped (memory): memory 130 MB over limit 120 MB; peak 130 MB after 2.5 s; "
        "files kept in results/failed/hungry/attempt-2/"
    )
    assert (hungry.reason, hungry.exit_code, hungry.attempt, hungry.attempts) == (
        "memory",
        137,
        2,
        2,
    )
    assert found["broken"].detail == (
        "results/runs/broken/record.json is not valid JSON (Expecting value at line 1); "
        "to redo the run: snakemake --forcerun results/runs/broken/record.json"
    )
    assert found["broken"].reason is None  # nothing is shown from a record that cannot be read
    retried = found["retried"]
    assert (retried.attempt, retried.attempts, retried.cause, retried.kept) == (2, 2, None, None)
    # --check agrees with Snakemake's exit status: not 0 while a run failed.
    assert cli_main(["-d", str(small_workflow), "--profile", "none", "--check"]) == 1


def test_state_shows_only_the_runs_in_those_states_and_check_still_judges_all(
    small_workflow: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["-d", str(small_workflow), "--profile", "none", "--format", "json"]
    assert cli_main([*argv, "--state", "failed", "--state", "never-run"]) == 0
    shown = {row["run"]: row["state"] for row in json.loads(capsys.readouterr().out)}
    assert shown == {"crash": "failed", "hungry": "failed", "slow": "never run"}
    assert cli_main([*argv, "--state", "up-to-date", "--check"]) == 1  # crash failed all the same
    shown = {row["run"]: row["state"] for row in json.loads(capsys.readouterr().out)}
    assert shown == {"ok": "up to date", "retried": "up to date"}


def test_a_record_with_a_wrong_typed_value_or_no_reason_is_not_up_to_date(
    small_workflow: Path,
) -> None:
    record = small_workflow / layout.for_run(layout.RECORD, "ok")
    data = json.loads(record.read_text())
    record.write_text(json.dumps({**data, "wall_s": "long"}))
    os.utime(record, (time.time() - 900, time.time() - 900))
    ok = statuses(small_workflow)["ok"]
    assert (ok.state, ok.why) == ("stale", ("record",))
    assert ok.detail == (
        "results/runs/ok/record.json has wall_s 'long', not a number (left empty); "
        "to redo the run: snakemake --forcerun results/runs/ok/record.json"
    )
    record.write_text(json.dumps({"exit_code": 0}))
    os.utime(record, (time.time() - 900, time.time() - 900))
    assert statuses(small_workflow)["ok"].detail == (
        "results/runs/ok/record.json has no reason (not a simwarden record); "
        "to redo the run: snakemake --forcerun results/runs/ok/record.json"
    )


def test_a_killed_snakemake_s_runs_are_incomplete_a_live_one_s_running(
    small_workflow: Path,
) -> None:
    lock_slow_run(small_workflow)
    # No process recorded (a Snakefile without the onstart handler): running, as before.
    slow = statuses(small_workflow)["slow"]
    assert (slow.state, slow.detail) == (
        "running",
        "started by the Snakemake that holds the lock (after a crash: snakemake --unlock)",
    )
    me = psutil.Process()
    write_process(small_workflow, me.pid, me.create_time())
    slow = statuses(small_workflow)["slow"]
    assert (slow.state, slow.detail) == (
        "running",
        f"running in Snakemake pid {me.pid}",
    )
    pid, started = ended_process()
    write_process(small_workflow, pid, started)
    slow = statuses(small_workflow)["slow"]
    assert (slow.state, slow.detail) == (
        "incomplete",
        f"Snakemake (pid {pid}) was killed; run `snakemake --unlock`, then run the workflow again",
    )


def test_a_running_simulation_shows_its_progress_memory_and_time(
    small_workflow: Path, utc: None
) -> None:
    lock_slow_run(small_workflow)
    samples = small_workflow / layout.for_run(layout.SAMPLES, "slow")
    samples.parent.mkdir(parents=True)
    samples.write_text(samples_header())
    # Its samples file has no row yet: running, nothing more to say.
    slow = statuses(small_workflow)["slow"]
    assert (slow.state, slow.live) == ("running", None)
    assert state_text(slow) == "running"
    with samples.open("a") as handle:
        for time_s, progress in ((1.0, None), (720.4, 0.42)):
            handle.write(
                format_sample_row(
                    time_s,
                    rss_bytes=310_000_000,
                    cpu_percent=99.0,
                    processes=1,
                    read_b=0,
                    write_b=0,
                    progress=progress,
                    eta_s=None if progress is None else 185.0,
                    mem_limit_bytes=400_000_000,
                )
            )
    slow = statuses(small_workflow)["slow"]
    assert slow.live == LiveSample(720.4, 310_000_000, 400_000_000, 0.42, 185.0)
    table = format_status([slow], "table").splitlines()
    assert table[1].startswith("slow  running 42 % · ETA 3 min · 310/400 MB · 12 min  "), table
    [row] = json.loads(format_status([slow], "json"))
    assert {key: row[key] for key in LIVE_KEYS} == {
        "progress": 0.42,
        "eta_s": 185.0,
        "rss_bytes": 310_000_000,
        "mem_limit_bytes": 400_000_000,
        "elapsed_s": 720.4,
    }
    assert row["state"] == "running"


# ------------------------------------------------------------- jobs expanded without Snakemake

EXPANDED = """
import os


def marker(wildcards):
    return [f"marks/{wildcards.run}.txt"] if wildcards.run == "b" else []


rule per_run:
    input:
        ancient("index.json"),
        params="params/{run}.json",
        code=lambda w: "code/" + w.run.upper() + ".json",
        marker=marker,
        pattern=lambda w: "from/{run}.txt",
    output:
        data=directory("runs/{run}/data"),
        record="runs/{run}/record.json",
    log:
        "logs/{run}.log",
    benchmark:
        "benchmarks/{run}.tsv"
    params:
        name="{run}",
        listed=["{run}", 3],
        value=lambda w: {"run": w.run, "n": 2},
        derived=lambda w, output: output.record,
        number=7,
    shell:
        "touch {output.record}"


rule gather:
    input:
        records=expand("runs/{run}/record.json", run=["a", "b"]),
    output:
        "all.txt",
    shell:
        "touch {output}"
"""


def test_plain_jobs_are_expanded_as_snakemake_expands_them(tmp_path: Path) -> None:
    from simwarden.results.snakemake_jobs import Expander
    from simwarden.results.snakemake_view import parsed_workflow

    (tmp_path / "Snakefile").write_text(EXPANDED)
    with parsed_workflow(tmp_path, []) as (workflow, _):
        expander = Expander(workflow)
        per_run, gather = expander.rule("per_run"), expander.rule("gather")
        for run in ("a", "b"):
            job = expander.plain_job(per_run, {"run": run})
            assert job == expander.snakemake_job(per_run, {"run": run})
            assert expander.job(per_run, {"run": run}) == job
        assert job.inputs == [
            "index.json",
            "params/b.json",
            "code/B.json",
            "marks/b.txt",
            "from/b.txt",
        ]
        assert (job.ancient, job.log, job.benchmark) == (
            {"index.json"},
            ["logs/b.log"],
            "benchmarks/b.tsv",
        )
        assert job.named_outputs == {"data": "runs/b/data", "record": "runs/b/record.json"}
        assert job.params == {
            "name": "'b'",
            "listed": "['b', 3]",
            "value": "{'run': 'b', 'n': 2}",
            "number": "7",
        }
        # A named list of inputs is left to Snakemake's own expansion.
        assert expander.plain_job(gather, {}) is None
        assert expander.job(gather, {}).inputs == ["runs/a/record.json", "runs/b/record.json"]
