"""Tests for simwarden.pipeline.workcopy on real checkouts from the git cache (a repository made
in tmp_path, fetched through simwarden.pipeline.gitcache), with a script run as a subprocess in
the working copy."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from simwarden.pipeline.gitcache import fetch
from simwarden.pipeline.workcopy import (
    CONFLICTS_DIR,
    Collected,
    collect,
    copy_checkout,
    reflink_supported,
    snapshot,
    working_copy,
)
from tests.conftest import GIT_FIXED

TIMEOUT_S = 60
GIT_ENV = {**os.environ, **GIT_FIXED}

# A script as scientists write them: it insists on the repository root, reads data/ and writes
# dev/figure.png relative to it, appends to a tracked file, deletes one, makes a new directory
# tree and asks git which commit it is.
SCRIPT = """\
import os, pathlib, subprocess
import helper  # a module of the repository: Python writes __pycache__/ into the copy
if not (os.path.isdir(".git") and os.path.exists("data/input.txt")):
    raise Exception("script must be run in project root folder")
text = pathlib.Path("data/input.txt").read_text()
pathlib.Path("dev/figure.png").write_bytes(b"PNG:" + text.encode())
with open("results.txt", "a") as fh:
    fh.write("run\\n")
os.remove("obsolete.txt")
pathlib.Path("out/deep").mkdir(parents=True)
pathlib.Path("out/deep/a.txt").write_text("a")
head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
pathlib.Path("dev/head.txt").write_text(head.stdout)
subprocess.run(["git", "status", "--porcelain"], capture_output=True, check=True)
"""


def git(*args: str, cwd: Path) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True, timeout=TIMEOUT_S
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def tree_hash(root: Path) -> str:
    """Every path under ``root`` with its type, mode, mtime and content or link target."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in sorted(os.walk(root)):
        dirnames.sort()
        for name in sorted([*dirnames, *filenames]):
            path = Path(dirpath, name)
            st = path.lstat()
            digest.update(f"{path.relative_to(root)}|{st.st_mode}|{st.st_mtime_ns}|".encode())
            if path.is_symlink():
                digest.update(os.readlink(path).encode())
            elif path.is_file():
                digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory outside the checkout that a committed symlink points to."""
    directory = tmp_path / "outside"
    directory.mkdir()
    (directory / "secret.txt").write_text("secret\n")
    return directory


@pytest.fixture
def checkout(tmp_path: Path, outside: Path) -> Iterator[Path]:
    """A read-only checkout in the git cache of a repository with data, a script and links."""
    src = tmp_path / "src"
    (src / "data").mkdir(parents=True)
    (src / "dev").mkdir()
    (src / "data" / "input.txt").write_text("input\n")
    (src / "dev" / "notes.txt").write_text("notes\n")
    (src / "results.txt").write_text("results\n")
    (src / "obsolete.txt").write_text("old\n")
    (src / "analyze.py").write_text(SCRIPT)
    (src / "helper.py").write_text("VALUE = 1\n")
    (src / "link_in").symlink_to("data/input.txt")
    (src / "data_link").symlink_to("data")
    (src / "link_out").symlink_to(outside)
    git("init", "--quiet", "--initial-branch=main", cwd=src)
    git("add", "-A", cwd=src)
    git("commit", "--quiet", "-m", "one", cwd=src)
    path = Path(fetch(str(src), "main", tmp_path / "cache", log=lambda _: None).path)
    modes = {p: p.lstat().st_mode for p in [path, *path.rglob("*")] if not p.is_symlink()}
    for p in sorted(modes, reverse=True):  # files first, then their directories
        p.chmod(stat.S_IMODE(modes[p]) & ~0o222)
    yield path
    for p, mode in sorted(modes.items()):
        if p.exists():
            p.chmod(stat.S_IMODE(mode))


def run_script(cwd: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "analyze.py"],
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def files_under(root: Path) -> dict[str, str]:
    """Relative path -> content (or ``-> target`` for a symlink) of every non-directory."""
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            found[path.relative_to(root).as_posix()] = f"-> {os.readlink(path)}"
        elif path.is_file():
            found[path.relative_to(root).as_posix()] = path.read_text()
    return found


def test_script_runs_in_the_copy_and_its_files_are_collected(checkout: Path, tmp_path: Path):
    before = tree_hash(checkout)
    sha = git("rev-parse", "HEAD", cwd=checkout)
    collect_into = tmp_path / "run" / "data"
    lines: list[str] = []
    with working_copy(checkout, collect_into, log=lines.append) as copy:
        assert copy.parent.parent == collect_into.parent
        assert copy.name == checkout.name
        run_script(copy)
        assert (copy / "__pycache__").is_dir()
    assert files_under(collect_into) == {
        "dev/figure.png": "PNG:input\n",
        "dev/head.txt": sha + "\n",
        "out/deep/a.txt": "a",
        "results.txt": "results\nrun\n",
    }
    assert lines == [
        f"working copy of {checkout.name}: 3 new, 1 changed, 1 deleted; deleted: obsolete.txt"
    ]
    assert sorted(p.name for p in collect_into.parent.iterdir()) == ["data"]
    assert tree_hash(checkout) == before
    assert not (checkout / "__pycache__").exists()


def test_the_copy_is_writable_where_the_checkout_is_not(checkout: Path, tmp_path: Path):
    """Modes are kept except that the owner may write (the checkout is read-only)."""
    copy = tmp_path / "copy"
    copy_checkout(checkout, copy)
    for rel in ("data", "data/input.txt", "analyze.py", ".git", ".git/HEAD"):
        old, new = (checkout / rel).stat(), (copy / rel).stat()
        assert stat.S_IMODE(old.st_mode) & 0o222 == 0
        assert stat.S_IMODE(new.st_mode) == stat.S_IMODE(old.st_mode) | stat.S_IWUSR, rel
        assert new.st_mtime_ns == old.st_mtime_ns, rel


def test_collect_reports_exactly_what_changed(checkout: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    assert copy_checkout(checkout, copy) == len(
        [p for p in checkout.rglob("*") if p.is_file() and not p.is_symlink()]
    ) - len([p for p in (checkout / ".git" / "objects").rglob("*") if p.is_file()])
    assert files_under(copy / "data") == {"input.txt": "input\n"}
    assert (copy / ".git" / "objects" / "info" / "alternates").read_text() == (
        f"{checkout / '.git' / 'objects'}\n"
    )
    assert not list((copy / ".git" / "objects" / "pack").iterdir())
    before = snapshot(copy)
    run_script(copy)
    os.utime(copy / "dev" / "notes.txt", ns=(0, before["dev/notes.txt"].mtime_ns))
    (copy / "link_in").unlink()
    (copy / "link_in").symlink_to("results.txt")
    (copy / "empty" / "__pycache__").mkdir(parents=True)
    (copy / "empty" / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"")
    got = collect(copy, before, tmp_path / "collected")
    assert got == Collected(
        new=("dev/figure.png", "dev/head.txt", "out/deep/a.txt"),
        changed=("dev/notes.txt", "link_in", "results.txt"),
        deleted=("obsolete.txt",),
        displaced=(),
    )
    assert list((tmp_path / "collected" / "empty").iterdir()) == []
    assert os.readlink(tmp_path / "collected" / "link_in") == "results.txt"


def test_two_copies_at_once_do_not_see_each_others_writes(checkout: Path, tmp_path: Path):
    before = tree_hash(checkout)
    quiet: list[str] = []
    with (
        working_copy(checkout, tmp_path / "a" / "data", log=quiet.append) as one,
        working_copy(checkout, tmp_path / "b" / "data", log=quiet.append) as two,
    ):
        assert one != two
        (one / "results.txt").write_text("one\n")
        (one / "dev" / "only_one.txt").write_text("1")
        (two / "results.txt").write_text("two\n")
        assert not (two / "dev" / "only_one.txt").exists()
        assert (one / "results.txt").read_text() == "one\n"
    assert files_under(tmp_path / "a" / "data") == {"dev/only_one.txt": "1", "results.txt": "one\n"}
    assert files_under(tmp_path / "b" / "data") == {"results.txt": "two\n"}
    assert tree_hash(checkout) == before


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_an_exception_still_collects_and_removes_the_copy(
    checkout: Path, tmp_path: Path, error: type[BaseException]
) -> None:
    collect_into = tmp_path / "run" / "data"
    with pytest.raises(error), working_copy(checkout, collect_into, log=lambda _: None) as copy:
        (copy / "dev" / "figure.png").write_bytes(b"half")
        os.chmod(copy / "dev", 0o500)  # the run left a read-only directory behind
        raise error("stopped")
    assert not copy.exists()
    assert sorted(p.name for p in collect_into.parent.iterdir()) == ["data"]
    assert files_under(collect_into) == {"dev/figure.png": "half"}


def test_symlinks_are_never_followed(checkout: Path, tmp_path: Path, outside: Path) -> None:
    collect_into = tmp_path / "run" / "data"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    collect_into.mkdir(parents=True)
    (collect_into / "dev").symlink_to(elsewhere)  # as if the run wrote it through OUTDIR
    before = tree_hash(outside)
    with working_copy(checkout, collect_into, log=lambda _: None) as copy:
        assert os.readlink(copy / "link_out") == str(outside)
        assert os.readlink(copy / "data_link") == "data"
        assert (copy / "link_in").read_text() == "input\n"
        assert not any(path.startswith("link_out/") for path in snapshot(copy))
        (copy / "dev" / "escape").symlink_to(outside / "secret.txt")
        (copy / "dev" / "figure.png").write_text("fig")
    assert list(elsewhere.iterdir()) == []
    assert files_under(collect_into / CONFLICTS_DIR) == {
        "dev/escape": f"-> {outside / 'secret.txt'}",
        "dev/figure.png": "fig",
    }
    assert tree_hash(outside) == before


def test_an_existing_file_in_collect_into_is_never_overwritten(checkout: Path, tmp_path: Path):
    collect_into = tmp_path / "data"
    collect_into.mkdir()
    (collect_into / "results.txt").write_text("written through SIMWARDEN_OUTDIR\n")
    lines: list[str] = []
    with working_copy(checkout, collect_into, log=lines.append) as copy:
        (copy / "results.txt").write_text("from the copy\n")
    assert files_under(collect_into) == {
        "results.txt": "written through SIMWARDEN_OUTDIR\n",
        f"{CONFLICTS_DIR}/results.txt": "from the copy\n",
    }
    assert lines == [f"working copy of {checkout.name}: 0 new, 1 changed, 0 deleted; "
                     "displaced: results.txt"]  # fmt: skip


def test_scratch_elsewhere_and_stale_copies(checkout: Path, tmp_path: Path) -> None:
    collect_into = tmp_path / "run" / "data"
    collect_into.mkdir(parents=True)
    dead = collect_into.parent / ".workcopy-data-999999999-x"  # above any pid_max
    alive = collect_into.parent / f".workcopy-data-{os.getppid()}-x"
    for directory in (dead, alive):
        (directory / "repo").mkdir(parents=True)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with working_copy(checkout, collect_into, scratch=scratch, log=lambda _: None) as copy:
        assert copy.parent.parent == scratch
        (copy / "new.txt").write_text("n")
    assert list(scratch.iterdir()) == []
    assert dead.exists()  # only the default scratch (beside collect_into) is cleared
    with working_copy(checkout, collect_into, log=lambda _: None):
        pass
    assert sorted(p.name for p in collect_into.parent.iterdir()) == [alive.name, "data"]
    assert files_under(collect_into) == {"new.txt": "n"}


def test_reflink_detection_matches_the_filesystem(tmp_path: Path) -> None:
    fstype = subprocess.run(
        ["stat", "-f", "-c", "%T", str(tmp_path)], capture_output=True, text=True, check=True
    ).stdout.strip()
    expected = {"ext2/ext3": False, "tmpfs": False, "btrfs": True}.get(fstype)
    if expected is None:
        pytest.skip(f"no fixed expectation for {fstype}")
    assert reflink_supported(tmp_path) is expected
    assert list(tmp_path.iterdir()) == []
