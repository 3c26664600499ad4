"""Tests for ``simwarden trace`` (simwarden.results.trace, simwarden.cli.trace) on hand-written
records and files: the exact text and JSON, a file changed since the run, a kept attempt's file,
a figure copied elsewhere (real provenance saved by matplotlib), and the bad inputs (a file no
run made: exit 1; a missing file: exit 125), each through the real CLI entry point."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from simwarden.cli import main as simwarden_main
from simwarden.results.figures import save_figures
from tests.conftest import TIMEOUT, simwarden_argv

COMMIT = "0123456789abcdef0123456789abcdef01234567"
DATA = b"spikes 1 2 3\n"
DATA_SHA = hashlib.sha256(DATA).hexdigest()
CONTEXT: dict[str, Any] = {
    "run": "r1",
    "repository": "/lab/sim.bundle",
    "commit": COMMIT,
    "ref": "v0.4",
    "params_hash": "9c1d",
    "run_config": "short",
    "attempt": 1,
    "params": {"seed": 1, "network": {"n": 100}},
    "run_config_section": {"name": "short", "env": {"QUICK": "1"}},
    "runner": {"kind": "python", "script": "sim.py"},
    "source_diff_sha256": "d1ff",
}
ENVIRONMENT = {
    "python": "/usr/bin/python3",
    "python_version": "3.11.7",
    "executable": "/usr/bin/python3",
    "version_line": "Python 3.11.7",
    "packages": {"numpy": "2.0.1", "h5py": "3.11.0"},
    "simwarden_version": "0.4.0",
    "snakemake_version": "9.1.0",
}
EXPECTED_TEXT = f"""\
results/runs/r1/data/out.txt
  file          unchanged since the run
                sha256 {DATA_SHA}, 13 bytes
  run           r1 (attempt 1), ended well
  record        results/runs/r1/record.json
  repository    /lab/sim.bundle
  commit        {COMMIT} (v0.4)
  local changes diff sha256 d1ff (uncommitted, not in the run: it ran the commit; the diff is \
diffs/d1ff.diff in the cache)
  parameters    params hash 9c1d
    network.n = 100
    seed = 1
  run config    short
    env.QUICK = "1"
    name = "short"
  packages      h5py 3.11.0, numpy 2.0.1
  interpreter   /usr/bin/python3 (Python 3.11.7)
  host          lab1 (Linux-6.1-x86_64)
  time          2025-01-02T03:04:05Z to 2025-01-02T03:04:09Z
  versions      simwarden 0.4.0, snakemake 9.1.0
"""


def write_record(path: Path, manifest: list[dict[str, Any]], **values: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "reason": "exited",
        "exit_code": 0,
        "start": "2025-01-02T03:04:05Z",
        "end": "2025-01-02T03:04:09Z",
        "host": {"name": "lab1", "platform": "Linux-6.1-x86_64"},
        "context": CONTEXT,
        "manifest": manifest,
        "environment": ENVIRONMENT,
        **values,
    }
    path.write_text(json.dumps(record))


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workflow directory with run r1: one data file, listed in its record's manifest."""
    data = tmp_path / "results" / "runs" / "r1" / "data" / "out.txt"
    data.parent.mkdir(parents=True)
    data.write_bytes(DATA)
    entry = {"path": "results/runs/r1/data/out.txt", "size": len(DATA), "sha256": DATA_SHA}
    write_record(tmp_path / "results" / "runs" / "r1" / "record.json", [entry])
    (tmp_path / "results" / "runs" / "r1" / "samples.tsv").write_text("time_s\trss_bytes\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def trace(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = simwarden_main(["trace", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_trace_of_a_data_file_prints_the_run(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert trace(capsys, "results/runs/r1/data/out.txt") == (0, EXPECTED_TEXT, "")


def test_trace_json_has_the_same_content(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = trace(capsys, "results/runs/r1/data/out.txt", "--format", "json")
    assert (code, err) == (0, "")
    assert json.loads(out) == {
        "file": {
            "path": "results/runs/r1/data/out.txt",
            "state": "unchanged since the run",
            "sha256": DATA_SHA,
            "size": 13,
            "manifest_entry": {
                "path": "results/runs/r1/data/out.txt",
                "size": 13,
                "sha256": DATA_SHA,
            },
        },
        "run": "r1",
        "attempt": 1,
        "record": "results/runs/r1/record.json",
        "failed": False,
        "cause": None,
        "repository": "/lab/sim.bundle",
        "commit": COMMIT,
        "ref": "v0.4",
        "source_diff_sha256": "d1ff",
        "params_hash": "9c1d",
        "params": {"seed": 1, "network": {"n": 100}},
        "run_config": "short",
        "run_config_section": {"name": "short", "env": {"QUICK": "1"}},
        "runner": {"kind": "python", "script": "sim.py"},
        "environment": ENVIRONMENT,
        "host": {"name": "lab1", "platform": "Linux-6.1-x86_64"},
        "start": "2025-01-02T03:04:05Z",
        "end": "2025-01-02T03:04:09Z",
        "simwarden_version": "0.4.0",
        "snakemake_version": "9.1.0",
        "note": None,
    }


def test_a_file_changed_since_the_run_says_so(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "results/runs/r1/data/out.txt").write_bytes(b"edited\n")
    code, out, _ = trace(capsys, "results/runs/r1/data/out.txt")
    assert code == 0
    assert out.splitlines()[1] == "  file          changed since the run"


def test_the_record_and_samples_trace_to_their_run(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    states = (("record.json", "the run's record"), ("samples.tsv", "the run's samples file"))
    for name, state in states:
        code, out, _ = trace(capsys, f"results/runs/r1/{name}")
        assert code == 0
        assert out.splitlines()[1] == f"  file          {state}"
        assert out.splitlines()[3] == "  run           r1 (attempt 1), ended well"


def test_a_kept_attempts_file_traces_to_that_attempts_record(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = workdir / "results/failed/r1/attempt-1"
    (kept / "data").mkdir(parents=True)
    (kept / "data" / "out.txt").write_bytes(DATA)
    entry = {"path": "results/failed/r1/attempt-1/data/out.txt", "size": 13, "sha256": DATA_SHA}
    write_record(
        kept / "record.json", [entry], reason="memory", exit_code=137, message="memory limit hit"
    )
    code, out, _ = trace(capsys, "results/failed/r1/attempt-1/data/out.txt")
    assert code == 0
    assert out.splitlines()[1:5] == [
        "  file          unchanged since the run",
        f"                sha256 {DATA_SHA}, 13 bytes",
        "  run           r1 (attempt 1), failed: memory limit hit",
        "  record        results/failed/r1/attempt-1/record.json",
    ]


def test_a_figure_copied_elsewhere_is_found_by_its_provenance_and_bytes(
    workdir: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    from matplotlib.figure import Figure

    figure = Figure()
    figure.add_subplot().plot([1, 2, 3])
    (png,) = save_figures([figure], workdir / "results/figures/r1", ["png"], CONTEXT)
    data_entry = {"path": "results/runs/r1/data/out.txt", "size": 13, "sha256": DATA_SHA}
    rel = png.relative_to(workdir).as_posix()
    digest = hashlib.sha256(png.read_bytes()).hexdigest()
    figure_entry = {"path": rel, "size": png.stat().st_size, "sha256": digest}
    write_record(workdir / "results/runs/r1/record.json", [figure_entry, data_entry])
    copy = tmp_path_factory.mktemp("paper") / "fig2.png"
    copy.write_bytes(png.read_bytes())
    code, out, _ = trace(capsys, str(copy))
    assert code == 0
    assert out.splitlines()[:5] == [
        str(copy),
        f"  file          unchanged since the run (a copy of {rel})",
        f"                sha256 {digest}, {png.stat().st_size} bytes",
        "  run           r1 (attempt 1), ended well",
        "  record        results/runs/r1/record.json",
    ]
    code, out, _ = trace(capsys, rel)  # in place: by its path
    assert out.splitlines()[1] == "  file          unchanged since the run"
    # From another directory: the provenance alone, and the line says why nothing was checked.
    code, out, _ = trace(capsys, str(copy), "-d", str(copy.parent))
    assert code == 0
    assert out.splitlines()[1] == (
        "  file          not checked: no record of its run here (trace in the workflow "
        "directory, or -d DIR)"
    )


def test_a_file_no_run_made_is_one_line_and_exit_1(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "results" / "benchmarks.csv").write_text("run\nr1\n")
    (workdir / "results/runs/r1/data/added.txt").write_text("later\n")
    (workdir / "notes.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    assert trace(capsys, "results/benchmarks.csv") == (
        1,
        "",
        f"simwarden: results/benchmarks.csv: no run of this workflow made this file (not in a "
        f"run's directory under {workdir / 'results'}, and no simwarden provenance)\n",
    )
    assert trace(capsys, "results/runs/r1/data/added.txt") == (
        1,
        "",
        "simwarden: results/runs/r1/data/added.txt: the run's manifest does not list it: no "
        "run made this file\n",
    )
    assert trace(capsys, "notes.png") == (
        1,
        "",
        "simwarden: notes.png: holds no simwarden provenance: no run made this file\n",
    )


def test_a_missing_file_is_one_line_and_exit_125(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert trace(capsys, "results/runs/r1/data/gone.h5") == (
        125,
        "",
        "simwarden: results/runs/r1/data/gone.h5: no such file; give a file under results/ or "
        "a saved figure\n",
    )


def test_an_older_record_without_a_manifest_is_traced_unchecked(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_record(workdir / "results/runs/r1/record.json", [], environment=None)
    code, out, _ = trace(capsys, "results/runs/r1/data/out.txt")
    assert code == 0
    lines = out.splitlines()
    assert lines[1] == (
        "  file          not checked: the record has no manifest (it predates manifests)"
    )
    assert "  packages      not recorded" in lines


def test_a_reader_gone_is_exit_141_without_a_traceback(workdir: Path) -> None:
    """``simwarden trace F | head`` once head has gone: no traceback, the shell's SIGPIPE code."""
    reader, writer = os.pipe()
    os.close(reader)  # the reader is gone before simwarden writes a byte
    try:
        done = subprocess.run(
            simwarden_argv("trace", "results/runs/r1/data/out.txt"),
            cwd=workdir,
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            timeout=TIMEOUT,
        )
    finally:
        os.close(writer)
    assert (done.returncode, done.stderr) == (141, "")
