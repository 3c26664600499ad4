"""Benchmark the per-run working copy (simwarden.pipeline.workcopy) against running in place.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_workcopy.py            # full run, ~2 minutes
    .venv/bin/python benchmarks/bench_workcopy.py --quick    # fewer repetitions, indicative

Writes ``results/workcopy.md`` beside this file (or under ``--out-dir``). Everything happens in a
temporary directory (``--tmp``, default the system's; it should be on the filesystem the
results will be on). Two generated repositories (a large one, 2,000 files / ~50 MB of mixed
sizes in 100 directories, and a small one, 50 files) are committed and fetched through the real
git cache (``simwarden.pipeline.gitcache.fetch``). Each measured case is one whole run: make the
working copy, snapshot it, run a small Python script in it (reads ``data/input.txt``, writes
``dev/figure.png``), collect what changed into a results directory, remove the copy. "In place"
runs the same script with no copy at all. All mechanisms are interleaved per repetition, so the
machine's noise hits them alike; medians and ratios against in place are reported.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchkit import fmt_load, machine

from simwarden.pipeline.gitcache import fetch
from simwarden.pipeline.workcopy import (
    collect,
    copy_checkout,
    reflink_supported,
    remove_tree,
    snapshot,
)

SCRIPT = (
    "import pathlib; t = pathlib.Path('data/input.txt').read_text(); "
    "pathlib.Path('dev').mkdir(exist_ok=True); "
    "pathlib.Path('dev/figure.png').write_bytes(t.encode() * 1000)"
)
GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.org",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.org",
}
Make = Callable[[Path, Path], None]  # (checkout, new copy) -> None
Remove = Callable[[Path, Path], None]  # (checkout, copy) -> None


def make_repo(root: Path, files: int, large: int, medium: int) -> Path:
    """A git repository of ``files`` files in ~files/20 directories: ``large`` data files of
    1.5-3 MB (random bytes), ``medium`` of 100-300 kB, the rest source-like text of 1-12 kB."""
    rng = random.Random(files)
    root.mkdir(parents=True)
    words = [f"word{i}" for i in range(500)]
    (root / "data").mkdir()
    (root / "data" / "input.txt").write_text("input\n")
    for i in range(files - 1):
        directory = root / f"pkg{i % max(1, files // 20):03d}"
        directory.mkdir(exist_ok=True)
        if i < large:
            (directory / f"data{i}.bin").write_bytes(
                rng.randbytes(rng.randint(1_500_000, 3_000_000))
            )
        elif i < large + medium:
            (directory / f"blob{i}.npy").write_bytes(rng.randbytes(rng.randint(100_000, 300_000)))
        else:
            size = rng.randint(1_000, 12_000)
            text = " ".join(rng.choices(words, k=size // 6))
            (directory / f"mod{i}.py").write_text(text)
    (root / "link_to_data").symlink_to("data")
    for args in (["init", "--quiet"], ["add", "-A"], ["commit", "--quiet", "-m", "bench"]):
        subprocess.run(["git", *args], cwd=root, env=GIT_ENV, check=True)
    return root


def git(*args: str, cwd: Path | None = None) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True)


def make_copytree(checkout: Path, copy: Path) -> None:
    shutil.copytree(checkout, copy, symlinks=True)


def make_copytree_no_objects(checkout: Path, copy: Path) -> None:
    def skip(directory: str, names: list[str]) -> list[str]:
        return ["objects"] if Path(directory) == checkout / ".git" else []

    shutil.copytree(checkout, copy, symlinks=True, ignore=skip)


def make_workcopy(checkout: Path, copy: Path) -> None:
    copy_checkout(checkout, copy)


def make_cp(checkout: Path, copy: Path) -> None:
    subprocess.run(["cp", "--reflink=auto", "-a", str(checkout), str(copy)], check=True)


def make_hardlinks(checkout: Path, copy: Path) -> None:
    shutil.copytree(checkout, copy, symlinks=True, copy_function=os.link)


def make_clone_shared(checkout: Path, copy: Path) -> None:
    git("clone", "--quiet", "--shared", "--no-checkout", str(checkout), str(copy))
    git("-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", "HEAD", cwd=copy)


def make_worktree(checkout: Path, copy: Path) -> None:
    git("--git-dir", str(checkout / ".git"), "worktree", "add", "--quiet", "--detach", str(copy))


def remove_worktree(checkout: Path, copy: Path) -> None:
    git("--git-dir", str(checkout / ".git"), "worktree", "remove", "--force", str(copy))


def plain_remove(checkout: Path, copy: Path) -> None:
    remove_tree(copy)


# name -> (make, remove, note)
MECHANISMS: dict[str, tuple[Make, Remove, str]] = {
    "workcopy (chosen)": (
        make_workcopy,
        plain_remove,
        "FICLONE, else copy_file_range; .git without objects (alternates)",
    ),
    "shutil.copytree": (make_copytree, plain_remove, "copy2 (sendfile), the whole checkout"),
    "shutil.copytree, no .git/objects": (
        make_copytree_no_objects,
        plain_remove,
        "as above without the object store",
    ),
    "cp --reflink=auto -a": (make_cp, plain_remove, "one process, the whole checkout"),
    "hardlinks (unsafe)": (
        make_hardlinks,
        plain_remove,
        "os.link per file: a write in place changes the cache",
    ),
    "git clone --shared + checkout": (
        make_clone_shared,
        plain_remove,
        "files rebuilt from objects; untracked files missing",
    ),
    "git worktree add": (
        make_worktree,
        remove_worktree,
        "writes worktree metadata into the shared repository",
    ),
}


def run_script(cwd: Path) -> None:
    subprocess.run([sys.executable, "-c", SCRIPT], cwd=cwd, check=True)


def one_case(name: str, checkout: Path, work: Path) -> tuple[float, dict[str, float]]:
    """Time one whole run with mechanism ``name`` (``in place``: no copy); returns the total
    and its phases."""
    phases: dict[str, float] = {}
    results = work / "results"
    t0 = time.perf_counter()
    if name == "in place":
        run_script(checkout)
        phases["run"] = time.perf_counter() - t0
        total = phases["run"]
        (checkout / "dev" / "figure.png").unlink()  # untimed: the bench's own cleanup
        (checkout / "dev").rmdir()
        return total, phases
    make, remove, _ = MECHANISMS[name]
    copy = work / "copy"
    make(checkout, copy)
    t1 = time.perf_counter()
    before = snapshot(copy)
    t2 = time.perf_counter()
    run_script(copy)
    t3 = time.perf_counter()
    collect(copy, before, results)
    t4 = time.perf_counter()
    remove(checkout, copy)
    t5 = time.perf_counter()
    phases = {"make": t1 - t0, "snapshot": t2 - t1, "run": t3 - t2, "collect": t4 - t3}
    phases["remove"] = t5 - t4
    assert (results / "dev" / "figure.png").is_file()
    shutil.rmtree(results)
    return t5 - t0, phases


def measure(
    checkout: Path, work: Path, reps: int
) -> dict[str, list[tuple[float, dict[str, float]]]]:
    names = ["in place", *MECHANISMS]
    times: dict[str, list[tuple[float, dict[str, float]]]] = {n: [] for n in names}
    for _ in range(2):  # warm-up: page cache, git's and Python's start-up
        for name in names:
            one_case(name, checkout, work)
    for rep in range(reps):
        order = names if rep % 2 == 0 else names[::-1]
        for name in order:
            times[name].append(one_case(name, checkout, work))
    return times


def tree_size(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file() and not p.is_symlink()]
    return len(files), sum(p.stat().st_size for p in files)


def table(
    label: str, checkout: Path, times: dict[str, list[tuple[float, dict[str, float]]]]
) -> list[str]:
    work_files, work_bytes = tree_size(checkout)
    objects = tree_size(checkout / ".git" / "objects")
    base = statistics.median(t for t, _ in times["in place"])
    lines = [
        f"### {label}",
        "",
        f"Checkout: {work_files} files, {work_bytes / 1e6:.1f} MB including `.git` "
        f"(its object store: {objects[0]} files, {objects[1] / 1e6:.1f} MB).",
        "",
        "| mechanism | median whole run | ratio to in place | overhead | make | snapshot "
        "| collect | remove | how |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| in place (no copy) | {base * 1000:.0f} ms | 1.00x | 0 ms | | | | | the script alone |",
    ]
    for name, (_, _, note) in MECHANISMS.items():
        total = statistics.median(t for t, _ in times[name])
        phase = {
            k: statistics.median(p[k] for _, p in times[name]) * 1000 for k in times[name][0][1]
        }
        lines.append(
            f"| {name} | {total * 1000:.0f} ms | {total / base:.2f}x "
            f"| {(total - base) * 1000:.0f} ms "
            f"| {phase['make']:.0f} ms | {phase['snapshot']:.1f} ms | {phase['collect']:.1f} ms "
            f"| {phase['remove']:.0f} ms | {note} |"
        )
    return [*lines, ""]


def fstype(path: Path) -> str:
    out = subprocess.run(["stat", "-f", "-c", "%T", str(path)], capture_output=True, text=True)
    return out.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 repetitions instead of 9")
    parser.add_argument("--tmp", type=Path, default=None, help="where the repositories are made")
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    reps = 3 if args.quick else 9
    load_start, start = os.getloadavg(), time.perf_counter()
    sections: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-workcopy-", dir=args.tmp) as tmp:
        root = Path(tmp)
        fs, reflink = fstype(root), reflink_supported(root)
        for label, files, large, medium in (
            ("Large: 2,000 files, ~50 MB", 2000, 10, 90),
            ("Small: 50 files", 50, 0, 2),
        ):
            src = make_repo(root / f"src{files}", files, large, medium)
            checkout = Path(fetch(str(src), "HEAD", root / "cache", log=lambda _: None).path)
            work = root / f"work{files}"
            work.mkdir()
            times = measure(checkout, work, reps)
            sections += table(label, checkout, times)
            print(f"{label}: done", file=sys.stderr)
    facts = machine()
    yes_no, quick = {True: "yes", False: "no"}, " --quick" if args.quick else ""
    header = [
        "# Working copy benchmark: a private copy of the checkout per run, against in place",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- machine: {facts['cores']} cores, {facts['memory_gib']} GiB, {facts['platform']}",
        f"- filesystem of the copies: {fs}; reflink (FICLONE) supported: {yes_no[reflink]}",
        f"- reproduce: `.venv/bin/python benchmarks/bench_workcopy.py{quick}`"
        " (from the repository root)",
        f"- {reps} interleaved repetitions after 2 warm-up rounds, medians; page cache warm; "
        f"total wall time {time.perf_counter() - start:.0f} s; load average at start "
        f"{fmt_load(load_start)}, at end {fmt_load(os.getloadavg())}",
        "",
        "Each row is one whole run: make the copy, snapshot it (a stat walk), run a small Python "
        "script in it (reads data/input.txt, writes dev/figure.png), collect what changed into "
        "a results directory on the same filesystem (renames), remove the copy. Overhead = "
        "median minus in place. Phases are medians of their own.",
        "",
    ]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    out = args.out_dir / "workcopy.md"
    existing = out.read_text() if out.exists() else ""
    tail = existing[existing.index("## Choice") :] if "## Choice" in existing else ""
    out.write_text("\n".join(header + sections) + ("\n" + tail if tail else ""))
    print(out)


if __name__ == "__main__":
    main()
