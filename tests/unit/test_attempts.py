"""Tests for simwarden.pipeline.attempts: an earlier invocation's kept attempts are shelved,
never deleted, and never collide."""

from __future__ import annotations

import json
from pathlib import Path

from simwarden.pipeline import layout
from simwarden.pipeline.attempts import shelve_kept_attempts


def keep(root: Path, run: str, attempt: int, end: str | None) -> Path:
    directory = layout.failed_attempt_dir(run, attempt, root)
    (directory / "data").mkdir(parents=True)
    (directory / "data" / "partial.h5").write_bytes(b"made before the crash")
    record = {"reason": "memory", "exit_code": 137, "end": end} if end else "{torn"
    (directory / "record.json").write_text(
        record if isinstance(record, str) else json.dumps(record)
    )
    return directory


def test_kept_attempts_move_aside_by_end_time_and_never_collide(tmp_path: Path) -> None:
    keep(tmp_path, "lif/small@v1", 1, "2026-11-30T14:15:02.123+00:00")
    keep(tmp_path, "lif/small@v1", 2, "2026-11-30T14:16:40.000+00:00")
    shelf = tmp_path / "results/failed/lif/small@v1/_earlier"

    moved = shelve_kept_attempts("lif/small@v1", tmp_path)

    assert [path.relative_to(shelf).as_posix() for path in moved] == [
        "20261130T141502Z-attempt-1",
        "20261130T141640Z-attempt-2",
    ]
    assert layout.failed_attempts("lif/small@v1", tmp_path) == []
    assert (moved[0] / "data/partial.h5").read_bytes() == b"made before the crash"
    # The same attempt and end time again (a second redo within the second): a new name.
    keep(tmp_path, "lif/small@v1", 1, "2026-11-30T14:15:02.999+00:00")
    again = shelve_kept_attempts("lif/small@v1", tmp_path)
    assert [path.name for path in again] == ["20261130T141502Z-attempt-1-2"]
    assert sorted(path.name for path in shelf.iterdir()) == [
        "20261130T141502Z-attempt-1",
        "20261130T141502Z-attempt-1-2",
        "20261130T141640Z-attempt-2",
    ]


def test_a_torn_record_is_shelved_by_the_directory_time(tmp_path: Path) -> None:
    keep(tmp_path, "crash", 1, None)
    (moved,) = shelve_kept_attempts("crash", tmp_path)
    assert moved.parent == tmp_path / "results/failed/crash/_earlier"
    assert moved.name.endswith("Z-attempt-1") and len(moved.name) == len(
        "20261130T141502Z-attempt-1"
    )
    assert shelve_kept_attempts("never-failed", tmp_path) == []
