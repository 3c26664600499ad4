"""How the workflow's costs grow with the number of runs: dry run, no-op rerun, ``simwarden
status`` and the full run of a sweep of a trivial runner, against plain Snakemake.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_sweep.py            # N = 100, 1,000, 10,000: ~20-30 min
    .venv/bin/python benchmarks/bench_sweep.py --quick    # N = 5, 20: a smoke test, ~2 min

Writes ``results/sweep.md`` (table), ``results/sweep.json`` (every time) and ``results/sweep.png``
(the plot) beside this file, or under ``--out-dir``. Everything runs on copies of the workflow in
a temporary directory; nothing is written into the checkout.

For each N the pipeline is a copy of the workflow with one parameter set and a ``seed`` sweep of
N points (``benchmarks/bench_pipeline.py``'s ``write_config``; N + 1 runs) and the runner
``kind: command``, ``[python, -c, pass]``; plain Snakemake runs ``bench_pipeline``'s
``plain_sweep_snakefile`` of the same shape (the same command once per point, one aggregation).
Measured, A/B interleaved (pipeline, plain, pipeline, plain...), medians reported:

1. ``snakemake -n --quiet`` before anything ran (fetch_code done: code and cache warm);
2. ``simwarden status`` (json) before anything ran;
3. the full run from scratch, for N <= ``--full-max`` (10,000 full runs take too long here);
4. the no-op rerun (``snakemake`` with everything up to date) and ``simwarden status`` on the
   complete workflow. Above ``--full-max`` the complete state is made cheaply (see
   :func:`fill`): a real run of a few points, their files and Snakemake metadata copied to every
   other point with the run id replaced, then a real run of what is left (the aggregates).

Status is compared with plain Snakemake's dry run (what a user of plain Snakemake would type to
learn the state): the issue's target is ``<= 2x`` that, and ``<= 15 s`` at 10,000 points.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from base64 import urlsafe_b64decode, urlsafe_b64encode
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_pipeline import PLAIN_FLAGS, plain_sweep_snakefile, write_config
from benchkit import SNAKEMAKE, VENV_BIN, copy_workflow, fmt_load, run_facts
from benchkit import run as benchkit_run

PROFILE = ["--profile", "profiles/short"]
NOTHING_TO_DO = "Nothing to be done"
# The pipeline's point whose files and metadata are copied to the others (see fill()).
TEMPLATE_POINTS = 3
TARGET_RATIO = 2.0
# (text, run id) -> the text with the template's run id replaced by that run id.
Renamer = Callable[[str, str], str]
TARGET_STATUS_S = 15.0
MEASURES = (
    ("dry", "`snakemake -n --quiet`, nothing run yet"),
    ("status_fresh", "`simwarden status`, nothing run yet"),
    ("full", "full run from scratch"),
    ("noop", "no-op rerun (everything up to date)"),
    ("status_done", "`simwarden status`, everything up to date"),
)


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    """(wall time, stdout + stderr) of ``argv`` (see :func:`benchkit.run`)."""
    elapsed, out, err = benchkit_run(argv, cwd, env)
    return elapsed, out + err


def status_argv() -> list[str]:
    """``simwarden status`` as the README calls it (the console script: the interpreter path
    Snakemake's own script has, which the workflow's params record), JSON out."""
    return [str(VENV_BIN / "simwarden"), "status", *PROFILE, "--format", "json"]


class Sides:
    """The pipeline's and plain Snakemake's directories for one N, and the commands on them."""

    def __init__(self, tmp: Path, points: int, env: dict[str, str]) -> None:
        self.points, self.env = points, env
        self.command = [sys.executable, "-c", "pass"]
        self.wf = copy_workflow(tmp / f"wf-{points}")
        write_config(self.wf, points, {"kind": "command", "command": self.command})
        self.plain = tmp / f"plain-{points}"
        self.plain.mkdir()
        (self.plain / "Snakefile").write_text(plain_sweep_snakefile(points, self.command))
        # Code fetched, cache warm, parameters validated: the runs' own state is untouched.
        run([SNAKEMAKE, *PROFILE, "--until", "fetch_code", "--quiet"], self.wf, env)

    def pipeline(self, *args: str) -> tuple[float, str]:
        """``snakemake --profile profiles/short ARGS`` on the pipeline's copy."""
        return run([SNAKEMAKE, *PROFILE, *args], self.wf, self.env)

    def baseline(self, *args: str) -> tuple[float, str]:
        """``snakemake --cores 2 --scheduler greedy ARGS`` on the plain Snakefile."""
        return run([SNAKEMAKE, *PLAIN_FLAGS, *args], self.plain, self.env)

    def status(self) -> tuple[float, str]:
        """``simwarden status`` on the pipeline's copy."""
        return run(status_argv(), self.wf, self.env)

    def clean(self) -> None:
        """Remove every run's files and Snakemake's records on both sides (the checkout, its
        provenance file and the cache stay)."""
        keep = self.wf / "results" / "code"
        shutil.move(keep, self.wf / "code.kept")
        for base, names in ((self.wf, ("results", "logs", "benchmarks")), (self.plain, ("out",))):
            for name in (*names, ".snakemake", "all.txt"):
                target = base / name
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
        (self.wf / "results").mkdir()
        shutil.move(self.wf / "code.kept", keep)


def pairs(
    reps: int, a: Callable[[], tuple[float, str]], b: Callable[[], tuple[float, str]]
) -> tuple[list[float], list[float], str, str]:
    """``reps`` interleaved (a, b) timings, and the last output of each."""
    times_a, times_b, out_a, out_b = [], [], "", ""
    for _ in range(reps):
        elapsed, out_a = a()
        times_a.append(elapsed)
        elapsed, out_b = b()
        times_b.append(elapsed)
    return times_a, times_b, out_a, out_b


def states_of(status_json: str) -> dict[str, int]:
    """How many runs ``simwarden status`` put in each state."""
    counts: dict[str, int] = {}
    for row in json.loads(status_json):
        counts[row["state"]] = counts.get(row["state"], 0) + 1
    return counts


def metadata_key(name: str) -> str:
    """The output path a ``.snakemake/metadata`` file name encodes (file persistence)."""
    return urlsafe_b64decode(name.encode()).decode()


def clone_metadata(root: Path, key: str, copies: list[str], rename: Renamer) -> int:
    """Copy the Snakemake metadata of every output whose path ``rename(path, copy)`` changes
    (those of one job: its outputs) to each of ``copies``, with ``rename`` applied to the key
    and the content. Returns how many files were written. ``key``: only keys containing it
    are looked at. Keys longer than one file name are not handled."""
    meta = root / ".snakemake" / "metadata"
    written = 0
    for entry in list(meta.iterdir()):
        if entry.name.startswith("@") or key not in (path := metadata_key(entry.name)):
            continue
        text = entry.read_text(encoding="utf-8")
        for run_id in copies:
            new_path = rename(path, run_id)
            if new_path == path:
                break
            name = urlsafe_b64encode(new_path.encode()).decode()
            (meta / name).write_text(rename(text, run_id), encoding="utf-8")
            written += 1
    return written


def run_renamer(template: str) -> Renamer:
    """Replace the run id ``template`` wherever it stands alone (in paths, quoted in params and
    commands), never inside a longer id (``seed__seed-1`` of ``seed__seed-10``)."""
    pattern = re.compile(rf"(?<![\w-]){re.escape(template)}(?!\w)")
    return lambda text, run_id: pattern.sub(run_id, text)


def clone_files(root: Path, template: str, copies: list[str], tops: tuple[str, ...]) -> None:
    """Copy every file or directory under ``tops`` named ``template`` or ``template.*`` to the
    same place under each of ``copies``' names (mtimes kept)."""
    found = [
        Path(dirpath) / name
        for top in tops
        for dirpath, dirnames, filenames in os.walk(root / top)
        for name in (*dirnames, *filenames)
        if name == template or name.startswith(f"{template}.")
    ]
    for run_id in copies:
        for src in found:
            dst = src.with_name(src.name.replace(template, run_id, 1))
            if src.is_dir():
                shutil.copytree(src, dst, dirs_exist_ok=True)
            else:
                shutil.copy2(src, dst)


def fill(sides: Sides) -> str:
    """Make both sides complete without running every point; returns how (for the report).

    The pipeline: a real run of the first :data:`TEMPLATE_POINTS` points' records; the files of
    ``seed__seed-1`` under results/ (not params/: those are the Snakefile's own, validated per
    run), logs/ and benchmarks/, and its Snakemake metadata, copied to every other point with
    the run id replaced; then a real run of the whole workflow, which finds every run complete
    and makes the aggregates. Plain: a real run of point 0, copied likewise, then a real run
    (the aggregation job)."""
    points = sides.points
    template = "seed__seed-1"
    targets = ["results/runs/small/record.json"] + [
        f"results/runs/seed__seed-{i}/record.json" for i in range(1, TEMPLATE_POINTS + 1)
    ]
    sides.pipeline(*targets, "--quiet")
    others = [f"seed__seed-{i}" for i in range(TEMPLATE_POINTS + 1, points + 1)]
    runs_dirs = ("results/runs", "results/figures", "results/plots", "logs", "benchmarks")
    clone_files(sides.wf, template, others, runs_dirs)
    clone_metadata(sides.wf, template, others, run_renamer(template))
    sides.pipeline("--quiet")
    sides.baseline("out/0.txt", "--quiet")
    plain_others = [str(i) for i in range(1, points)]
    clone_files(sides.plain, "0", plain_others, ("out",))
    plain_rename: Renamer = lambda text, i: text.replace("out/0.txt", f"out/{i}.txt")  # noqa: E731
    clone_metadata(sides.plain, "out/0.txt", plain_others, plain_rename)
    sides.baseline("--quiet")
    return (
        f"made cheaply: {TEMPLATE_POINTS} points and the base set run for real, the files and "
        f"Snakemake metadata of {template} copied to the other {len(others)} points (run id "
        "replaced), then the rest of the workflow run for real; plain: point 0 run, copied "
        "likewise, then the aggregation job"
    )


def bench_points(sides: Sides, reps: int, full_reps: int) -> dict[str, Any]:
    """Every measure for one N (see the module docstring)."""
    result: dict[str, Any] = {"points": sides.points, "runs": sides.points + 1}
    dry = pairs(
        reps, lambda: sides.pipeline("-n", "--quiet"), lambda: sides.baseline("-n", "--quiet")
    )
    result["dry"] = {"pipeline": dry[0], "plain": dry[1]}
    status = [sides.status() for _ in range(reps)]
    result["status_fresh"] = {"pipeline": [s for s, _ in status], "plain": dry[1]}
    result["status_fresh_states"] = states_of(status[-1][1])
    if full_reps:
        full_p: list[float] = []
        full_b: list[float] = []
        for _ in range(full_reps):
            sides.clean()
            full_p.append(sides.pipeline()[0])
            full_b.append(sides.baseline()[0])
        result["full"] = {"pipeline": full_p, "plain": full_b}
        result["filled"] = "by the last full run"
    else:
        sides.clean()
        result["filled"] = fill(sides)
    noop = pairs(reps, lambda: sides.pipeline(), lambda: sides.baseline())
    for side, out in (("pipeline", noop[2]), ("plain", noop[3])):
        if NOTHING_TO_DO not in out:
            raise RuntimeError(f"{side} no-op rerun at N={sides.points} ran jobs:\n{out[-3000:]}")
    result["noop"] = {"pipeline": noop[0], "plain": noop[1]}
    done = pairs(reps, sides.status, lambda: sides.baseline("-n", "--quiet"))
    result["status_done"] = {"pipeline": done[0], "plain": done[1]}
    result["status_done_states"] = states_of(done[2])
    return result


def med(values: list[float]) -> float:
    """Median of a non-empty list."""
    return statistics.median(values)


def spread(values: list[float]) -> str:
    """``median s (min-max)`` of the repetitions."""
    if len(values) == 1:
        return f"{values[0]:.2f} s"
    return f"{med(values):.2f} s ({min(values):.2f}-{max(values):.2f})"


def table_rows(rows: list[dict[str, Any]]) -> list[str]:
    """One markdown line per N and measure: pipeline, plain, ratio of medians, verdict."""
    lines = []
    for row in rows:
        for key, label in MEASURES:
            if key not in row:
                lines.append(f"| {row['points']:,} | {label} | not measured | | | |")
                continue
            pipe, plain = row[key]["pipeline"], row[key]["plain"]
            ratio = med(pipe) / med(plain)
            verdict = ""
            if key in ("dry", "noop", "status_done", "status_fresh") and row["points"] >= 10000:
                ok = ratio <= TARGET_RATIO
                if key.startswith("status"):
                    ok = ok and med(pipe) <= TARGET_STATUS_S
                verdict = "pass" if ok else "FAIL"
            lines.append(
                f"| {row['points']:,} | {label} | {spread(pipe)} | {spread(plain)} | "
                f"{ratio:.2f}x | {verdict} |"
            )
    return lines


def full_runs_note(rows: list[dict[str, Any]]) -> str:
    """Why the largest sizes ran no full run, with the linear extrapolation of the largest one."""
    full = [row for row in rows if "full" in row]
    skipped = [f"{row['points']:,}" for row in rows if "full" not in row]
    if not full or not skipped:
        return "Every size was run in full."
    last = full[-1]
    scale = max(row["points"] for row in rows) / last["points"]
    pipe, plain = med(last["full"]["pipeline"]), med(last["full"]["plain"])
    return (
        f"No full run at N = {', '.join(skipped)}: the full run grows linearly, and at N = "
        f"{last['points']:,} it took {pipe:.0f} s (plain {plain:.0f} s), so {scale:g}x the "
        f"points would take about {pipe * scale / 60:.0f} min (plain {plain * scale / 60:.0f} "
        "min) here: longer than this benchmark may use."
    )


def render(data: dict[str, Any]) -> str:
    """The markdown report."""
    m = data["machine"]
    command = f".venv/bin/python benchmarks/bench_sweep.py {data['argv']}".strip()
    lines = [
        "# How the costs grow with the number of runs: simwarden against plain Snakemake",
        "",
        f"- date: {data['date']}",
        f"- machine: {m['cores']} cores, {m['memory_gib']} GiB, {m['platform']}",
        f"- Python {m['python']}, Snakemake {m['snakemake']}",
        f"- reproduce: `{command}` (from the repository root)",
        f"- mode: {'--quick (a smoke test, indicative only)' if data['quick'] else 'full'}; "
        f"total wall time {data['total_s']:.0f} s; {data['reps']} interleaved repetitions "
        f"(full runs: {data['full_reps']}); medians, with (min-max)",
        f"- load average (1/5/15 min) at start {fmt_load(data['loadavg_start'])}, at end "
        f"{fmt_load(data['loadavg_end'])}: 2 cores shared with other jobs, so absolute times carry "
        "noise; the A/B runs were interleaved so it hits both sides",
        "",
        "Pipeline: a copy of the workflow, profile short, one parameter set plus a `seed` sweep of "
        "N points (N + 1 runs), runner `kind: command` `[python, -c, pass]`. Plain: "
        "`bench_pipeline.py`'s Snakefile of the same shape (the same command once per point, one "
        "aggregation job), `--cores 2 --scheduler greedy`. Status is compared with plain "
        "Snakemake's dry run (`snakemake -n --quiet`), what a plain-Snakemake user runs to learn "
        f"the state. Targets at 10,000 points: dry run, no-op rerun and status each <= "
        f"{TARGET_RATIO:g}x plain's dry run (for the no-op rerun: plain's no-op rerun), status "
        f"<= {TARGET_STATUS_S:g} s.",
        "",
        "| N points | measure | pipeline | plain | ratio | target |",
        "|---|---|---|---|---|---|",
        *table_rows(data["rows"]),
        "",
        "![the costs against N](sweep.png)",
        "",
        "How the complete state for the no-op rerun and `status` was made:",
        "",
        *(f"- N = {row['points']:,}: {row['filled']}" for row in data["rows"]),
        "",
        full_runs_note(data["rows"]),
        "",
        "What status said (states of the runs):",
        "",
        *(
            f"- N = {row['points']:,}: nothing run: {row['status_fresh_states']}; complete: "
            f"{row['status_done_states']}"
            for row in data["rows"]
        ),
        "",
    ]
    return "\n".join(lines)


def plot(data: dict[str, Any], path: Path) -> None:
    """Each measure's median against N (log-log), pipeline solid, plain dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(MEASURES), figsize=(4 * len(MEASURES), 3.6), sharex=True)
    for ax, (key, label) in zip(axes, MEASURES, strict=True):
        rows = [row for row in data["rows"] if key in row]
        xs = [row["points"] for row in rows]
        for side, style in (("pipeline", "-o"), ("plain", "--s")):
            ax.plot(xs, [med(row[key][side]) for row in rows], style, label=side)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(label.replace("`", ""), fontsize=8)
        ax.set_xlabel("points in the sweep")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("wall time (s), median")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> int:
    """Parse arguments, measure every N, write the report, the json and the plot."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # measure with cached bytecode
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = 5, 20, one repetition")
    parser.add_argument(
        "--points", type=int, nargs="+", help="sweep sizes (default 100 1000 10000)"
    )
    parser.add_argument("--reps", type=int, help="interleaved repetitions (default 3)")
    parser.add_argument("--full-reps", type=int, default=1, help="full runs per N (default 1)")
    parser.add_argument("--full-max", type=int, default=1000, help="largest N run in full")
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    points = args.points or ([5, 20] if args.quick else [100, 1000, 10000])
    reps = args.reps or (1 if args.quick else 3)
    full_max = 5 if args.quick and args.points is None else args.full_max

    start, load_start = time.perf_counter(), os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="bench_sweep-"))
    env = dict(os.environ)
    env.setdefault("SIMWARDEN_CACHE_DIR", str(tmp / "cache"))
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    rows = []
    try:
        for n in points:
            print(f"N = {n} ...", flush=True)
            sides = Sides(tmp, n, env)
            rows.append(bench_points(sides, reps, args.full_reps if n <= full_max else 0))
            shutil.rmtree(sides.wf, ignore_errors=True)
            shutil.rmtree(sides.plain, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    data: dict[str, Any] = {
        "quick": args.quick,
        "reps": reps,
        "full_reps": args.full_reps,
        "full_max": full_max,
        "rows": rows,
        **run_facts(start, load_start),
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "sweep.json").write_text(json.dumps(data, indent=1) + "\n")
    plot(data, args.out_dir / "sweep.png")
    report = render(data)
    (args.out_dir / "sweep.md").write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
