"""The one record schema (simwarden.warden.record): round trip, old and new records, samples."""

from __future__ import annotations

import json
import math

import pytest

from simwarden.warden.proctree import Sample
from simwarden.warden.record import (
    SAMPLE_COLUMNS,
    Record,
    RecordError,
    RunContext,
    RunError,
    format_sample_row,
    read_record,
    read_samples,
    samples_header,
)
from simwarden.warden.spawn import SamplesWriter

# The keys of record.json in the order the warden writes them (docs and tests rely on it).
RECORD_KEYS = [
    "command",
    "cwd",
    "start",
    "end",
    "wall_s",
    "exit_code",
    "reason",
    "message",
    "command_exit_code",
    "command_signal",
    "stopped_by",
    "stop_signal",
    "grace_s",
    "killed",
    "leftover_processes",
    "limits",
    "mechanism",
    "peak_rss_bytes",
    "kernel_peak_rss_bytes",
    "cgroup_peak_bytes",
    "cpu_user_s",
    "cpu_system_s",
    "read_bytes",
    "write_bytes",
    "samples",
    "mem_warned",
    "progress",
    "host",
    "simwarden_version",
    "context",
    "error",
    "stderr_tail",
    "attempts",
    "retry_note",
    "manifest",
    "environment",
]

CONTEXT = RunContext(
    run="big",
    repository="https://example.org/sim.git",
    commit="71d8775",
    params_hash="ab12",
    run_config="short",
    attempt=2,
    mem_mb=800,
    runtime_min=10,
    runner={"kind": "python", "script": "sim.py"},
    params={"n": 400, "seed": 1},
    run_config_section={"name": "short", "mem_mb": 800},
    source_diff_sha256="d1ff" * 16,
)
MANIFEST = [
    {"path": "results/figures/big/png/raster.png", "size": 2048, "sha256": "aa" * 32},
    {"path": "results/runs/big/data/output.h5", "size": 4096, "sha256": "bb" * 32},
]
ENVIRONMENT = {
    "python": "/usr/bin/python3.11",
    "python_version": "3.11.2",
    "executable": "/usr/bin/python3.11",
    "executable_sha256": None,
    "version_line": "Python 3.11.2",
    "packages": {"h5py": "3.12.1", "numpy": "2.1.3"},
    "config_files": {"config/config.yaml": "cc" * 32},
    "simwarden_version": "0.9.0",
    "snakemake_version": "9.27.1",
    "env_id": None,
}
FULL = Record(
    command=["python", "sim.py"],
    cwd="/work",
    start="2025-01-01T00:00:00.000+00:00",
    end="2025-01-01T00:00:09.500+00:00",
    wall_s=9.5,
    exit_code=137,
    reason="memory",
    message="stopped (memory): memory 612 MB over limit 500 MB; peak 612 MB after 9.5 s; exit 137",
    command_exit_code=143,
    command_signal=None,
    stopped_by="poll",
    stop_signal="SIGTERM",
    grace_s=5.0,
    killed=False,
    leftover_processes=0,
    limits={"mem_bytes": 500_000_000, "timeout_s": None},
    mechanism="poll",
    peak_rss_bytes=612_000_000,
    kernel_peak_rss_bytes=615_000_000,
    cgroup_peak_bytes=None,
    cpu_user_s=8.25,
    cpu_system_s=0.75,
    read_bytes=4096,
    write_bytes=8192,
    samples=95,
    mem_warned=True,
    progress=0.42,
    host={"name": "node1", "cpus": 2},
    simwarden_version="0.9.0",
    context=CONTEXT,
    error=RunError(
        type="KeyboardInterrupt",
        message="",
        where="sim.py:40",
        traceback="Traceback (most recent call last):\n...\nKeyboardInterrupt\n",
    ),
    stderr_tail=["step 90", "Traceback (most recent call last):", "KeyboardInterrupt"],
    attempts=1,
    manifest=MANIFEST,
    environment=ENVIRONMENT,
)


# -- Record ----------------------------------------------------------------------------------------
def test_record_round_trips_through_json_with_keys_in_order(tmp_path):
    data = FULL.to_dict()
    assert list(data) == RECORD_KEYS
    assert data["context"] == {
        "run": "big",
        "repository": "https://example.org/sim.git",
        "commit": "71d8775",
        "params_hash": "ab12",
        "run_config": "short",
        "attempt": 2,
        "mem_mb": 800,
        "runtime_min": 10,
        "simulation": None,
        "param_set": None,
        "ref": None,
        "runner": {"kind": "python", "script": "sim.py"},
        "params": {"n": 400, "seed": 1},
        "run_config_section": {"name": "short", "mem_mb": 800},
        "source_diff_sha256": "d1ff" * 16,
    }
    assert (data["manifest"], data["environment"]) == (MANIFEST, ENVIRONMENT)
    assert data["error"] == {
        "type": "KeyboardInterrupt",
        "message": "",
        "where": "sim.py:40",
        "traceback": "Traceback (most recent call last):\n...\nKeyboardInterrupt\n",
    }
    path = tmp_path / "record.json"
    path.write_text(json.dumps(data))
    again = read_record(path)
    assert again == FULL
    assert again.to_dict() == data
    assert (again.cpu_s, again.mem_limit_bytes) == (9.0, 500_000_000)


def test_an_old_record_missing_keys_reads_with_defaults():
    old = Record.from_dict({"command": ["sim"], "reason": "exited", "exit_code": 0, "wall_s": 2})
    assert old == Record(command=["sim"], reason="exited", exit_code=0, wall_s=2)
    assert (old.context, old.limits, old.extra, old.peak_rss_bytes) == (None, {}, {}, None)
    assert (old.manifest, old.environment) == ([], None)
    assert (old.cpu_s, old.mem_limit_bytes) == (None, None)
    assert (old.error, old.stderr_tail, old.attempts, old.failed, old.cause, old.progress) == (
        None,
        [],
        None,
        False,
        None,
        None,
    )


def failed(**values: object) -> Record:
    return Record(**{"reason": "exited", "exit_code": 1, **values})


ERROR = RunError("ModuleNotFoundError", "No module named 'brian'", "src/tuned.py:2", "...")
STOP = "stopped (memory): memory 612 MB over limit 500 MB; peak 612 MB after 9.5 s; exit 137"


@pytest.mark.parametrize(
    ("record", "cause"),
    [
        (failed(error=ERROR), "ModuleNotFoundError: No module named 'brian' (src/tuned.py:2)"),
        (failed(error=RunError("ValueError", "two\n  lines", None, None)), "ValueError: two lines"),
        (failed(error=RunError("KeyboardInterrupt", "", None, None)), "KeyboardInterrupt"),
        (failed(error=RunError()), "error"),
        # The warden's stop is the cause; an exception raised while being stopped is its effect.
        (failed(reason="memory", exit_code=137, message=STOP, error=ERROR), STOP),
        (failed(exit_code=3, stderr_tail=["loading", "bad tau_m", "  ", ""]), "bad tau_m"),
        (failed(exit_code=3, stderr_tail=[" ", ""]), "exit code 3"),
        (failed(exit_code=0, reason="timeout", message="stopped (timeout)"), "stopped (timeout)"),
        (failed(exit_code=0, error=ERROR), None),  # ended well: no cause
    ],
)
def test_the_cause_is_one_line_from_the_best_source(record: Record, cause: str | None) -> None:
    assert record.cause == cause
    assert record.failed is (cause is not None)


@pytest.mark.parametrize(
    ("values", "error", "tail"),
    [
        ({"error": "boom", "stderr_tail": "boom"}, None, []),
        (
            {"error": {"type": "E", "message": 3, "new": 1}, "stderr_tail": [1, "x"]},
            RunError("E", "3"),
            ["1", "x"],
        ),
        ({"error": None, "stderr_tail": None}, None, []),
    ],
)
def test_an_odd_error_or_tail_reads_leniently(values, error, tail):
    record = Record.from_dict(values)
    assert (record.error, record.stderr_tail) == (error, tail)


def test_attempts_must_be_a_whole_number():
    with pytest.raises(RecordError, match=r"^record: attempts is '2', expected a whole number$"):
        Record.from_dict({"attempts": "2"})


def test_an_unknown_key_is_kept_and_written_back_last():
    newer = Record.from_dict({"reason": "stalled", "stalled_after_s": 30.5, "exit_code": 124})
    assert newer.extra == {"stalled_after_s": 30.5}
    data = newer.to_dict()
    assert list(data) == [*RECORD_KEYS, "stalled_after_s"]
    assert (data["reason"], data["stalled_after_s"]) == ("stalled", 30.5)


def test_an_unknown_context_key_is_ignored_and_missing_ones_are_none():
    record = Record.from_dict({"context": {"run": "a", "host_group": "gpu"}})
    assert record.context == RunContext(run="a")


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("wall_s", "abc", "a number"),
        ("exit_code", 1.5, "a whole number"),
        ("peak_rss_bytes", True, "a whole number"),
        ("reason", 7, "text"),
        ("progress", "42%", "a number"),
        ("manifest", {"path": "x"}, "a list"),
        ("environment", ["python"], "an object"),
    ],
)
def test_a_wrong_typed_value_raises_naming_the_file_and_key(tmp_path, key, value, expected):
    path = tmp_path / "record.json"
    path.write_text(json.dumps({"reason": "exited", key: value}))
    with pytest.raises(RecordError) as info:
        read_record(path)
    assert str(info.value) == f"record {str(path)!r}: {key} is {value!r}, expected {expected}"


def test_manifest_entries_that_are_not_objects_are_dropped():
    record = Record.from_dict({"manifest": [MANIFEST[0], "junk", 3]})
    assert record.manifest == [MANIFEST[0]]


def test_a_context_that_is_not_an_object_raises():
    with pytest.raises(RecordError, match=r"^record: context is 'big', expected an object$"):
        Record.from_dict({"context": "big"})


def test_a_corrupt_record_file_raises_naming_the_file(tmp_path):
    path = tmp_path / "record.json"
    path.write_text('{"reason": "exi')
    with pytest.raises(RecordError, match=r"^record '.*record\.json' cannot be read: "):
        read_record(path)
    with pytest.raises(FileNotFoundError):
        read_record(tmp_path / "missing.json")


# -- samples ---------------------------------------------------------------------------------------
def test_samples_written_by_the_warden_read_back(tmp_path):
    path = tmp_path / "samples.tsv"
    writer = SamplesWriter(str(path), mem_limit_bytes=500_000_000)
    writer.write(0.1, Sample(10_000_000, 0.05, 1, 0, 4096), 0.0)
    writer.write(0.2, Sample(25_000_000, 0.12, 3, 512, 8192), 70.0, progress=0.775, eta_s=12.25)
    writer.close()
    assert path.read_text() == (
        "time_s\trss_bytes\tcpu_percent\tprocesses\tread_bytes\twrite_bytes\t"
        "progress\teta_s\tmem_limit_bytes\n"
        "0.100\t10000000\t0.0\t1\t0\t4096\t\t\t500000000\n"
        "0.200\t25000000\t70.0\t3\t512\t8192\t0.7750\t12.2\t500000000\n"
    )
    samples = read_samples(path)
    assert len(samples) == 2
    assert samples["rss_bytes"] == [10_000_000, 25_000_000]
    assert samples["processes"] == [1, 3]
    assert math.isnan(samples["progress"][0]) and samples["progress"][1] == 0.775
    assert math.isnan(samples["eta_s"][0]) and samples["eta_s"][1] == 12.2
    assert samples["mem_limit_bytes"] == [500_000_000, 500_000_000]
    assert samples_header() == "\t".join(SAMPLE_COLUMNS) + "\n"


def test_a_truncated_last_row_is_skipped(tmp_path):
    path = tmp_path / "samples.tsv"
    row = format_sample_row(
        0.5, rss_bytes=1000, cpu_percent=12.34, processes=2, read_b=0, write_b=0
    )
    assert row == "0.500\t1000\t12.3\t2\t0\t0\t\t\t\n"
    # Killed mid-line: the last row lacks its last columns, then one lacks a digit's end.
    path.write_text(samples_header() + row + "1.000\t2000\t50.0\t2\t0\t" + "\n1.500\t30")
    samples = read_samples(path)
    assert len(samples) == 1
    assert (samples["time_s"], samples["rss_bytes"]) == ([0.5], [1000.0])


def test_an_older_header_order_is_read_by_column_name(tmp_path):
    path = tmp_path / "samples.tsv"
    path.write_text("rss_bytes\ttime_s\tcpu_percent\n100\t0.1\t5.0\n300\t0.2\t7.5\n")
    samples = read_samples(path)
    assert samples["time_s"] == [0.1, 0.2]
    assert samples["rss_bytes"] == [100.0, 300.0]
    assert samples["cpu_percent"] == [5.0, 7.5]
    assert samples["read_bytes"] == []  # not in this older file


def test_a_file_without_the_required_columns_raises(tmp_path):
    path = tmp_path / "samples.tsv"
    path.write_text("s\th:m:s\tmax_rss\n1.0\t0:00:01\t12.5\n")
    with pytest.raises(RecordError) as info:
        read_samples(path)
    assert str(info.value) == (
        f"samples {str(path)!r}: header 's\\th:m:s\\tmax_rss' lacks time_s and rss_bytes: "
        "not a simwarden samples file"
    )


@pytest.mark.parametrize(
    ("sampled", "kernel", "shown"),
    [
        (0, 14_800_000, 14_800_000),  # a run over before a sample saw it
        (409_000_000, 400_000_000, 409_000_000),  # the tree's sum above its largest process
        (None, 5_000_000, 5_000_000),
        (7, None, 7),
        (None, None, None),
    ],
)
def test_the_peak_shown_is_the_best_known(
    sampled: int | None, kernel: int | None, shown: int | None
) -> None:
    record = Record(peak_rss_bytes=sampled, kernel_peak_rss_bytes=kernel)
    assert record.peak_bytes == shown
