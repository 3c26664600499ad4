#!/usr/bin/env python3
"""Build examples/demo-sim.bundle, the demo simulation's repository, reproducibly.

    python examples/build_bundle.py            # (re)build the bundle, print the SHAs
    python examples/build_bundle.py --check    # exit 1 if the shipped bundle is stale

The repository has four commits on branch ``main``, each tagged: ``v0.1`` (LIF network demo,
``VERSION`` = ``0.1``), ``v0.2`` (adds a ``CHANGELOG.md``), ``v0.3`` (phase timers, labelled
figures shown at the end) and ``v0.4``, the newest release, made from the current
``examples/demo_sim/`` (reports its progress to simwarden).

Released commits never change: ``v0.1``, ``v0.2`` and ``v0.3`` are pinned by SHA in ``FROZEN``
and copied from the shipped bundle (git checks every object against its hash), because the
sources in ``examples/demo_sim/`` have moved on. Only the newest release (``RELEASE``) is built
from the sources. Author, committer, dates, file order and modes are fixed and user/system git
configuration is ignored, so the same sources always give the same commit SHAs. Files under
``__pycache__`` and ``*.pyc`` are left out. Tags are lightweight (no tagger, no date).

To cut a release: add the current newest tag and its SHA to ``FROZEN``, point ``RELEASE`` at the
new version (a later date, its CHANGELOG line), run this script and commit the bundle.
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
# Released commits, oldest first: (tag, commit SHA). Copied from the shipped bundle, never rebuilt.
FROZEN: tuple[tuple[str, str], ...] = (
    ("v0.1", "b37f8a68b1f9f330cb9da370a4439b1f22af10de"),
    ("v0.2", "71d87757eadd7abef2e0c38caada0572f4f7ad3a"),
    ("v0.3", "9777f8893e520d1555b5eb4e04400beb9c67ce16"),
)
# The newest release, built from the sources on top of the last frozen one:
# (git date, VERSION, commit message, extra files).
RELEASE: tuple[str, str, str, dict[str, bytes]] = (
    "@1711929600 +0000",
    "0.4",
    "demo_sim 0.4: report progress to simwarden",
    {
        "CHANGELOG.md": (
            b"# Changelog\n\n"
            b"- 0.4: report the steps done every 5% of the run with simwarden.progress.report\n"
            b"  (a SIMWARDEN_PROGRESS line without simwarden), so the warden can estimate the\n"
            b"  time left and stop a stalled run. The model and its data are unchanged.\n"
            b"- 0.3: time the phases (connect, simulate, figures, write) into output.h5's\n"
            b"  `benchmark` group; label the figures and show them with plt.show() at the end\n"
            b"  instead of saving them (simwarden's pipeline saves them by label). The model and\n"
            b"  its data are unchanged.\n"
            b"- 0.2: add this changelog; the model and its output are unchanged from 0.1.\n"
        )
    },
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


def _git(repo: Path, *args: str, date: str = RELEASE[0], data: bytes | None = None) -> str:
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


def _copy_frozen(repo: Path, history: Path) -> str:
    """Fetch the ``FROZEN`` tags from the bundle ``history`` into ``repo``; return the last SHA.

    Exits with a message naming the bundle and the tag when a tag is missing or points elsewhere.
    """
    if not history.is_file():
        raise SystemExit(
            f"{history}: not found; the released commits ({', '.join(t for t, _ in FROZEN)}) are "
            "copied from the shipped bundle: restore it from version control"
        )
    specs = [f"refs/tags/{tag}:refs/tags/{tag}" for tag, _ in FROZEN]
    _git(repo, "fetch", "-q", "--no-tags", str(history.resolve()), *specs)
    for tag, sha in FROZEN:
        found = _git(repo, "rev-parse", f"refs/tags/{tag}^{{commit}}")
        if found != sha:
            raise SystemExit(
                f"{history}: tag {tag} is {found}, but the release is {sha}; restore the shipped "
                "bundle from version control (released commits never change)"
            )
    return FROZEN[-1][1]


def build_repo(repo: Path, src: Path = SOURCE_DIR, history: Path = BUNDLE_PATH) -> dict[str, str]:
    """Create the demo repository in the empty or missing directory ``repo``.

    The ``FROZEN`` releases come from the bundle ``history`` (checked against their SHAs); the
    newest release is committed on top from ``src``: every source file with mode 100644,
    whatever its mode on disk, plus ``VERSION`` and the release's extra files.
    Returns the refs: ``{"refs/heads/main": sha, "refs/tags/v0.1": sha, ...}``.
    """
    repo.mkdir(parents=True, exist_ok=True)
    _git(repo, "init", "-q", "--initial-branch=main")
    parent = _copy_frozen(repo, history)
    date, version, message, extra = RELEASE
    files = {rel: (src / rel).read_bytes() for rel in source_files(src)}
    files.update({"VERSION": f"{version}\n".encode(), **extra})
    for rel, content in sorted(files.items()):
        _add_blob(repo, rel, content)
    tree = _git(repo, "write-tree", date=date)
    sha = _git(repo, "commit-tree", tree, "-p", parent, "-m", message, date=date)
    _git(repo, "update-ref", f"refs/tags/v{version}", sha)
    _git(repo, "update-ref", "refs/heads/main", sha)
    _git(repo, "symbolic-ref", "HEAD", "refs/heads/main")
    refs = {f"refs/tags/{tag}": frozen for tag, frozen in FROZEN}
    refs[f"refs/tags/v{version}"] = sha
    refs["refs/heads/main"] = _git(repo, "rev-parse", "refs/heads/main")
    return dict(sorted(refs.items()))


def build_bundle(
    out: Path = BUNDLE_PATH, src: Path = SOURCE_DIR, history: Path = BUNDLE_PATH
) -> dict[str, str]:
    """Build the repository in a temporary directory and write its bundle to ``out``.

    The bundle is written beside ``out`` and renamed into place, so ``out`` is never partial
    (``out`` may be ``history``: the released commits are copied before it is replaced).
    Returns the refs as :func:`build_repo` does.
    """
    with tempfile.TemporaryDirectory(prefix="demo-sim-build-") as tmp:
        repo = Path(tmp) / "demo_sim"
        refs = build_repo(repo, src, history)
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


def check(
    bundle: Path = BUNDLE_PATH, src: Path = SOURCE_DIR, history: Path | None = None
) -> list[str]:
    """Rebuild in a temporary directory; return one line per differing ref (empty: up to date).

    The released commits are copied from ``history`` (default: ``bundle`` itself).
    """
    if not bundle.is_file():
        return [f"{bundle} does not exist"]
    with tempfile.TemporaryDirectory(prefix="demo-sim-check-") as tmp:
        rebuilt = Path(tmp) / bundle.name
        build_bundle(rebuilt, src, bundle if history is None else history)
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
