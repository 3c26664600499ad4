#!/usr/bin/env python3
"""Build examples/demo-sim.bundle, the demo simulation's repository, reproducibly.

    python examples/build_bundle.py            # (re)build the bundle, print the SHAs
    python examples/build_bundle.py --check    # exit 1 if the shipped bundle is stale

The repository has two commits made from ``examples/demo_sim/``: ``v0.1`` (the sources plus
``VERSION`` = ``0.1``) and ``v0.2`` on branch ``main`` (``VERSION`` = ``0.2`` and a
``CHANGELOG.md``). Author, committer, dates, file order and modes are fixed and user/system git
configuration is ignored, so the same sources always give the same commit SHAs. Files under
``__pycache__`` and ``*.pyc`` are left out. Tags are lightweight (no tagger, no date).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE_DIR = HERE / "demo_sim"
BUNDLE_PATH = HERE / "demo-sim.bundle"
NAME = "simwarden demo"
EMAIL = "demo@simwarden.invalid"
# (git date, VERSION, commit message, extra files) per commit, oldest first.
RELEASES: tuple[tuple[str, str, str, dict[str, bytes]], ...] = (
    ("@1704067200 +0000", "0.1", "demo_sim 0.1: LIF network demo", {}),
    (
        "@1706745600 +0000",
        "0.2",
        "demo_sim 0.2: add CHANGELOG",
        {
            "CHANGELOG.md": (
                b"# Changelog\n\n"
                b"- 0.2: add this changelog; the model and its output are unchanged from 0.1.\n"
            )
        },
    ),
)
IGNORED_DIRS = frozenset({"__pycache__"})
IGNORED_SUFFIXES = (".pyc",)


def source_files(src: Path = SOURCE_DIR) -> list[str]:
    """Relative POSIX paths of the files that go into the repository, sorted.

    Skips ``__pycache__`` directories and ``*.pyc`` files; symlinks are refused (their target
    would make the bundle depend on the machine).
    """
    files: list[str] = []
    for path in src.rglob("*"):
        rel = path.relative_to(src)
        if IGNORED_DIRS.intersection(rel.parts) or path.name.endswith(IGNORED_SUFFIXES):
            continue
        if path.is_symlink():
            msg = f"{path}: symlinks are not allowed in the demo sources; copy the file instead"
            raise SystemExit(msg)
        if path.is_file():
            files.append(rel.as_posix())
    return sorted(files)


def _git_env(date: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME=NAME,
        GIT_AUTHOR_EMAIL=EMAIL,
        GIT_AUTHOR_DATE=date,
        GIT_COMMITTER_NAME=NAME,
        GIT_COMMITTER_EMAIL=EMAIL,
        GIT_COMMITTER_DATE=date,
        TZ="UTC",
        LC_ALL="C",
    )
    return env


def _git(repo: Path, *args: str, date: str = RELEASES[0][0], data: bytes | None = None) -> str:
    """Run git in ``repo`` with a fixed identity and no user config; return stripped stdout."""
    argv = ["git", "-C", str(repo), "-c", "core.autocrlf=false", "-c", "pack.threads=1", *args]
    done = subprocess.run(argv, input=data, capture_output=True, env=_git_env(date), check=False)
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip()
        raise SystemExit(f"git {' '.join(args)} failed ({done.returncode}): {err}")
    return done.stdout.decode().strip()


def _add_blob(repo: Path, rel: str, content: bytes) -> None:
    blob = _git(repo, "hash-object", "-w", "--no-filters", "--stdin", data=content)
    _git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{rel}")


def build_repo(repo: Path, src: Path = SOURCE_DIR) -> dict[str, str]:
    """Create the demo repository in the empty or missing directory ``repo``.

    Returns the refs: ``{"refs/heads/main": sha, "refs/tags/v0.1": sha, "refs/tags/v0.2": sha}``.
    Every file gets mode 100644, whatever its mode on disk.
    """
    repo.mkdir(parents=True, exist_ok=True)
    _git(repo, "init", "-q", "--initial-branch=main")
    for rel in source_files(src):
        _add_blob(repo, rel, (src / rel).read_bytes())
    refs: dict[str, str] = {}
    parent: list[str] = []
    for date, version, message, extra in RELEASES:
        _add_blob(repo, "VERSION", f"{version}\n".encode())
        for rel, content in sorted(extra.items()):
            _add_blob(repo, rel, content)
        tree = _git(repo, "write-tree", date=date)
        sha = _git(repo, "commit-tree", tree, *parent, "-m", message, date=date)
        _git(repo, "update-ref", f"refs/tags/v{version}", sha)
        refs[f"refs/tags/v{version}"] = sha
        parent = ["-p", sha]
    _git(repo, "update-ref", "refs/heads/main", refs[f"refs/tags/v{RELEASES[-1][1]}"])
    _git(repo, "symbolic-ref", "HEAD", "refs/heads/main")
    refs["refs/heads/main"] = _git(repo, "rev-parse", "refs/heads/main")
    return dict(sorted(refs.items()))


def build_bundle(out: Path = BUNDLE_PATH, src: Path = SOURCE_DIR) -> dict[str, str]:
    """Build the repository in a temporary directory and write its bundle to ``out``.

    The bundle is written beside ``out`` and renamed into place, so ``out`` is never partial.
    Returns the refs as :func:`build_repo` does.
    """
    with tempfile.TemporaryDirectory(prefix="demo-sim-build-") as tmp:
        repo = Path(tmp) / "demo_sim"
        refs = build_repo(repo, src)
        partial = out.with_name(f".{out.name}.partial")
        _git(repo, "bundle", "create", "-q", str(partial.resolve()), "--all")
        os.replace(partial, out)
    return refs


def list_heads(bundle: Path) -> dict[str, str]:
    """Refs stored in ``bundle`` (``git bundle list-heads``), HEAD included."""
    with tempfile.TemporaryDirectory(prefix="demo-sim-heads-") as tmp:
        heads = _git(Path(tmp), "bundle", "list-heads", str(bundle.resolve()))
    refs: dict[str, str] = {}
    for line in heads.splitlines():
        sha, ref = line.split(maxsplit=1)
        refs[ref] = sha
    return dict(sorted(refs.items()))


def check(bundle: Path = BUNDLE_PATH, src: Path = SOURCE_DIR) -> list[str]:
    """Rebuild in a temporary directory; return one line per differing ref (empty: up to date)."""
    if not bundle.is_file():
        return [f"{bundle} does not exist"]
    with tempfile.TemporaryDirectory(prefix="demo-sim-check-") as tmp:
        rebuilt = Path(tmp) / bundle.name
        build_bundle(rebuilt, src)
        fresh = list_heads(rebuilt)
    shipped = list_heads(bundle)
    return [
        f"{ref}: shipped {shipped.get(ref, 'missing')}, rebuilt {fresh.get(ref, 'missing')}"
        for ref in sorted(set(shipped) | set(fresh))
        if shipped.get(ref) != fresh.get(ref)
    ]


def main(argv: list[str] | None = None) -> int:
    """Build (or with ``--check`` verify) the bundle; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="rebuild in a temporary directory and compare the refs with the shipped bundle",
    )
    args = parser.parse_args(argv)
    if args.check:
        diffs = check()
        if diffs:
            print(
                f"{BUNDLE_PATH.name} is stale: {'; '.join(diffs)}. "
                f"Run `python examples/build_bundle.py` and commit {BUNDLE_PATH.name}.",
                file=sys.stderr,
            )
            return 1
        heads = list_heads(BUNDLE_PATH)
        print(
            f"{BUNDLE_PATH.name} is up to date: " + ", ".join(f"{r} {s}" for r, s in heads.items())
        )
        return 0
    refs = build_bundle()
    print(f"wrote {BUNDLE_PATH} ({BUNDLE_PATH.stat().st_size} bytes)")
    for ref, sha in refs.items():
        print(f"{sha} {ref}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
