"""Tests for the pure parts of simwarden.results.status: reading Snakemake's records (written
here by Snakemake's own FilePersistence), the warden's records, the last run's profile, and
formatting."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from simwarden.cli.status import main as cli_main
from simwarden.core.errors import UserError
from simwarden.results.snakemake_view import SnakemakeRecords
from simwarden.results.status import AttemptIndex, RunStatus, failure_reason, refusal
from simwarden.results.status_format import format_status
from simwarden.results.status_profile import (
    DEFAULT_PROFILE,
    ProfileChoice,
    choose_profile,
    last_run_profile,
)
from simwarden.results.values import load_record
from simwarden.warden.record import Record

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


def test_attempt_index_finds_the_kept_records_of_that_log_only(tmp_path: Path) -> None:
    logs = tmp_path / "logs" / "run_simulation"
    logs.mkdir(parents=True)
    names = [
        "a.log",
        "a.log.attempt1.record.json",
        "a.log.attempt12.record.json",
        "a.log.attemptX.record.json",  # not an attempt number
        "ab.log.attempt1.record.json",  # another run whose id starts with "a"
        "a.log.attempt2.record.json.tmp",  # a copy being written
        "rate.attempt3.log.attempt1.record.json",  # a run id that holds ".attempt"
    ]
    for name in names:
        (logs / name).write_text("{}")
    index = AttemptIndex()
    found = index.records(str(logs / "a.log"))
    assert sorted(p.name for p in found) == [
        "a.log.attempt1.record.json",
        "a.log.attempt12.record.json",
    ]
    assert [p.name for p in index.records(str(logs / "ab.log"))] == ["ab.log.attempt1.record.json"]
    assert [p.name for p in index.records(str(logs / "rate.attempt3.log"))] == [
        "rate.attempt3.log.attempt1.record.json"
    ]
    assert index.records(str(logs / "zzz.log")) == []
    assert index.records(str(tmp_path / "absent" / "a.log")) == []


# ---------------------------------------------------------------------------- Snakemake's records


def test_snakemake_records_reads_what_snakemake_wrote(tmp_path: Path) -> None:
    from snakemake.persistence import MetadataRecord
    from snakemake.persistence.file import FilePersistence

    persistence = FilePersistence(path=tmp_path / ".snakemake")
    record = MetadataRecord(
        rule="validate_params",
        input=["config/params/a.yaml", "results/code/provenance.json"],
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
