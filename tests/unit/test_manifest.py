"""A run's manifest and environment (simwarden.pipeline.manifest), a kept attempt's manifest
(simwarden.pipeline.attempts.kept_record) and a dirty local source's diff
(simwarden.pipeline.gitcache.source_diff): real files, real git repositories in tmp_path."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tracemalloc
from importlib.metadata import version
from pathlib import Path

from simwarden import __version__
from simwarden.pipeline.attempts import AttemptFiles, kept_record
from simwarden.pipeline.gitcache import fetch
from simwarden.pipeline.manifest import (
    CHUNK_BYTES,
    ENVIRONMENT_KEYS,
    config_files_in_force,
    file_manifest,
    relocate_manifest,
    run_environment,
    sha256_file,
)
from simwarden.warden.record import Record
from tests.conftest import GIT_FIXED

TIMEOUT_S = 60


def entry(root: Path, relative: str) -> dict[str, object]:
    data = (root / relative).read_bytes()
    return {"path": relative, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_empty_and_missing_directories_give_an_empty_manifest(tmp_path: Path) -> None:
    (tmp_path / "results/runs/a/data/empty/deeper").mkdir(parents=True)
    dirs = [tmp_path / "results/runs/a/data", tmp_path / "results/figures/a", None]
    assert file_manifest(dirs, tmp_path) == []


def test_every_file_nested_and_hidden_is_listed_sorted_relative_to_the_root(
    tmp_path: Path,
) -> None:
    data, figures = tmp_path / "results/runs/a/data", tmp_path / "results/figures/a"
    write(data / "output.h5", b"\x89HDF\r\n" + bytes(range(256)))
    write(data / ".hidden", b"an output too\n")
    write(data / "nested/deep/spikes.txt", b"1 2 3\n")
    write(data / "empty.txt", b"")
    write(figures / "png/raster.png", b"\x89PNG fake\n")
    write(tmp_path / "results/runs/a/record.json", b"{}")  # outside both: not listed
    (data / "link.txt").symlink_to(data / "empty.txt")
    (data / "broken").symlink_to(tmp_path / "gone")

    paths = [
        "results/figures/a/png/raster.png",
        "results/runs/a/data/.hidden",
        "results/runs/a/data/empty.txt",
        "results/runs/a/data/link.txt",
        "results/runs/a/data/nested/deep/spikes.txt",
        "results/runs/a/data/output.h5",
    ]
    assert file_manifest([data, figures], tmp_path) == [entry(tmp_path, p) for p in paths]


def test_a_large_file_is_hashed_in_pieces_not_read_whole(tmp_path: Path) -> None:
    big = tmp_path / "data/big.bin"
    big.parent.mkdir()
    size = 64 * CHUNK_BYTES
    with open(big, "wb") as handle:  # sparse: reads back as zeros without filling the disk
        handle.truncate(size)
    expected = hashlib.sha256()
    zeros = bytes(CHUNK_BYTES)
    for _ in range(64):
        expected.update(zeros)

    tracemalloc.start()
    try:
        manifest = file_manifest([tmp_path / "data"], tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert manifest == [{"path": "data/big.bin", "size": size, "sha256": expected.hexdigest()}]
    assert peak < 4 * CHUNK_BYTES  # a few pieces at most, never the 64 MiB file


def test_a_kept_attempt_names_the_kept_copies(tmp_path: Path) -> None:
    manifest = [
        {"path": "results/figures/a/png/r.png", "size": 1, "sha256": "aa"},
        {"path": "results/runs/a/data/out.h5", "size": 2, "sha256": "bb"},
        {"path": "results/runs/ab/data/x", "size": 3, "sha256": "cc"},  # another run: kept
    ]
    files = AttemptFiles(
        record=tmp_path / "results/runs/a/record.json",
        samples=tmp_path / "results/runs/a/samples.tsv",
        data=tmp_path / "results/runs/a/data",
        figures=tmp_path / "results/figures/a",
        log=tmp_path / "logs/run_simulation/a.log",
    )
    kept = tmp_path / "results/failed/a/attempt-1"

    record = kept_record(files, Record(manifest=manifest), kept, tmp_path)

    assert record.manifest == [
        {"path": "results/failed/a/attempt-1/data/out.h5", "size": 2, "sha256": "bb"},
        {"path": "results/failed/a/attempt-1/figures/png/r.png", "size": 1, "sha256": "aa"},
        {"path": "results/runs/ab/data/x", "size": 3, "sha256": "cc"},
    ]
    assert relocate_manifest([], {"a": "b"}) == []


def test_config_files_in_force_include_the_profiles(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("config/config.yaml", "profiles/std/config.yaml", "profiles/std/run.yaml"):
        write(tmp_path / name, b"x: 1\n")
    write(tmp_path / "profiles/extra/config.yaml", b"cores: 1\n")

    found = config_files_in_force(
        ["config/config.yaml", "profiles/std/run.yaml", "missing.yaml"],
        ["snakemake", "--profile", "profiles/std", "--workflow-profile=profiles/extra"],
    )

    assert found == [
        "config/config.yaml",
        "profiles/std/run.yaml",
        "profiles/std/config.yaml",
        "profiles/extra/config.yaml",
    ]


def test_the_environment_of_a_python_run(tmp_path: Path) -> None:
    imports = tmp_path / "imports.json"
    imports.write_text('{"numpy": "2.4.6", "bad": 3}')
    write(tmp_path / "config/config.yaml", b"a: 1\n")

    environment = run_environment(
        "python",
        [sys.executable, "sim.py"],
        env={"PATH": os.defpath, "LAB_API_TOKEN": "s3cr3t-xyz"},
        cwd=str(tmp_path),
        imports_file=imports,
        config_files=[str(tmp_path / "config/config.yaml"), str(tmp_path / "gone.yaml")],
    )

    # The path as run, not its link's target: a venv's bin/python links to the base Python.
    real = os.path.abspath(sys.executable)
    assert os.path.islink(real) and os.path.realpath(real) != real  # the .venv's own python
    python_version = ".".join(map(str, sys.version_info[:3]))
    assert environment == {
        "python": real,
        "python_version": python_version,
        "executable": real,
        "executable_sha256": None,
        "version_line": f"Python {python_version}",
        "packages": {"numpy": "2.4.6"},
        "config_files": {
            str(tmp_path / "config/config.yaml"): sha256_file(tmp_path / "config/config.yaml")
        },
        "simwarden_version": __version__,
        "snakemake_version": version("snakemake"),
        "env_id": None,
    }
    assert list(environment) == list(ENVIRONMENT_KEYS)


def test_a_command_program_is_hashed_never_run(tmp_path: Path) -> None:
    program = tmp_path / "bin/simulate"
    write(program, b"#!/bin/sh\ntouch ran\n")
    program.chmod(0o755)

    environment = run_environment(
        "command",
        ["simulate", "--steps", "3"],
        env={"PATH": str(tmp_path / "bin")},
        cwd=str(tmp_path),
        imports_file=None,
    )

    assert environment["executable"] == str(program)
    assert environment["executable_sha256"] == sha256_file(program)
    assert (environment["python"], environment["version_line"], environment["packages"]) == (
        None,
        None,
        {},
    )
    assert not (tmp_path / "ran").exists()


def git(*args: str, cwd: Path) -> str:
    env = {**os.environ, **GIT_FIXED, "HOME": str(cwd)}
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S
    )
    assert done.returncode == 0, f"git {args}: {done.stderr}"
    return done.stdout.strip()


def test_a_dirty_local_source_keeps_its_diff_once_and_says_so(tmp_path: Path) -> None:
    source = tmp_path / "lab"
    source.mkdir()
    git("init", "-q", "-b", "main", cwd=source)
    (source / "model.py").write_text("rate = 1\n")
    git("add", "model.py", cwd=source)
    git("commit", "-q", "-m", "model", cwd=source)
    sha = git("rev-parse", "HEAD", cwd=source)
    cache, lines = tmp_path / "cache", []

    clean = fetch(str(source), "main", cache, log=lines.append)
    (source / "model.py").write_text("rate = 2\n")
    (source / "notes.txt").write_text("try rate 2\n")
    dirty = fetch(str(source), "main", cache, log=lines.append)
    again = fetch(str(source), "main", cache, log=lines.append)

    assert clean.source_diff_sha256 is None
    diff = git("diff", "HEAD", "--binary", cwd=source) + "\nuntracked: notes.txt\n"
    digest = hashlib.sha256(diff.encode()).hexdigest()
    assert dirty.source_diff_sha256 == again.source_diff_sha256 == digest
    assert dirty.commit == sha  # the run uses the commit, not the dirty tree
    assert sorted(p.name for p in (cache / "diffs").iterdir()) == [f"{digest}.diff"]
    assert (cache / "diffs" / f"{digest}.diff").read_text() == diff
    said = (
        f"Warning: {source} has uncommitted changes (diff sha256 {digest[:12]}, kept in "
        f"{cache / 'diffs' / f'{digest}.diff'}); the run uses commit {sha[:12]}, not these changes"
    )
    assert lines.count(said) == 2
