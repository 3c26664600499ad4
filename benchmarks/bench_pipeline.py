"""Benchmark the simwarden workflow against plain Snakemake, side by side in one run.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_pipeline.py            # full run, ~10 minutes
    .venv/bin/python benchmarks/bench_pipeline.py --quick    # shortened, indicative only

Writes ``results/pipeline.md`` (table with targets and pass/fail) and ``results/pipeline.json``
(raw numbers) beside this file, or under ``--out-dir``. Everything runs on copies of the workflow
in a temporary directory; nothing is written into the checkout. Measures:

1. demo runs: N short demo simulations through the pipeline (profile short, a ``seed`` sweep,
   validation included) against a minimal Snakefile that runs the same ``simulate.py`` on the
   same validated parameter files through ``shell:`` (same env, ``--cores 2 --scheduler
   greedy``);
2. a sweep with a trivial ``command`` runner (``python -c pass``) so simulation cost does not
   dominate: the whole workflow (records, resource plots, table, summary plot) against a plain
   Snakefile that runs the same command once per point and one aggregation job; the per-point
   cost is the difference divided by the points. How these costs grow with the number of runs
   (and the dry run, the no-op rerun and ``simwarden status`` at 10,000 runs) is
   ``bench_sweep.py``'s.

A/B runs are interleaved (ABAB...) so the machine's noise hits both sides alike.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchkit import (
    ROOT,
    SNAKEMAKE,
    VENV_BIN,
    copy_workflow,
    fmt_load,
    run,
    run_cpu_split,
    run_facts,
    write_results,
)

SIM_ENV = {"SIMWARDEN_QUICK": "1", "SIMWARDEN_SCALE": "0.5"}
PLAIN_FLAGS = ["--cores", "2", "--scheduler", "greedy"]
TARGET_DEMO_RATIO = 1.05
TARGET_PER_POINT_S = 0.060


def write_config(wf: Path, seeds: int, runner: dict[str, Any] | None = None) -> None:
    """Replace the copy's config: one param set plus a ``seed`` sweep of ``seeds`` points."""
    import yaml

    path = wf / "config" / "config.yaml"
    config = yaml.safe_load(path.read_text())
    config["param_sets"] = {"small": "config/params/small.yaml"}
    config["sweeps"] = {"seed": {"base": "small", "grid": {"seed": list(range(1, seeds + 1))}}}
    if runner is not None:
        config["runner"] = runner
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def timed(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    """Run ``argv`` in ``cwd`` and return its wall time (see :func:`benchkit.run`)."""
    return run(argv, cwd, env)[0]


def pipeline_cmd(*extra: str) -> list[str]:
    """The pipeline's command: the short profile, as the README gives it."""
    return [SNAKEMAKE, "--profile", "profiles/short", *extra]


def clean(wf: Path, *names: str) -> None:
    """Remove the named outputs (files or directories) under ``wf``, and Snakemake's metadata."""
    for name in (*names, ".snakemake"):
        target = wf / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


def bench_demo(tmp: Path, n: int, reps: int, env: dict[str, str]) -> dict[str, Any]:
    """Benchmark 1: ``n`` sweep points (plus the base set) of the demo, pipeline against plain."""
    wf = copy_workflow(tmp / "demo-wf")
    write_config(wf, n)
    # Warm-up: fetch_code fills the cache and writes the code file, so the timed runs do not
    # include the one-time clone; the first run also warms the page cache for both sides.
    timed(pipeline_cmd("--until", "fetch_code"), wf, env)
    timed(pipeline_cmd("-n"), wf, env)  # validates every set (the checkout is fetched)
    shutil.copytree(wf / "results" / "code", tmp / "code")
    code_file = next((wf / "results" / "code").glob("*.json"))
    checkout = Path(json.loads(code_file.read_text())["path"])
    params = sorted(p for p in (wf / "results/params").glob("*.json") if p.stem[0] != "_")
    runs = [p.stem for p in params]

    plain = tmp / "demo-plain"
    (plain / "params").mkdir(parents=True)
    for p in params:
        shutil.copy2(p, plain / "params" / p.name)
    sim = checkout / "simulate.py"
    (plain / "Snakefile").write_text(
        f"RUNS = {runs!r}\n\n"
        "rule all:\n"
        "    input: expand('out/{run}', run=RUNS)\n\n"
        "rule simulate:\n"
        "    input: 'params/{run}.json'\n"
        "    output: directory('out/{run}')\n"
        "    shell: 'SIMWARDEN_FIGURES_DIR={output}/figures "
        f"{sys.executable} {sim} {{input}} {{output}}'\n"
    )
    # The same figures saved in the same formats on both sides (the demo only shows them;
    # the pipeline's autosave writes them), so the difference is the pipeline's own cost.
    import yaml

    from simwarden.results.figures import autosave_env

    formats = yaml.safe_load((wf / "config" / "config.yaml").read_text())["figure_formats"]
    saving = autosave_env(tmp / "unused", formats, {}, pythonpath=env.get("PYTHONPATH"))
    plain_env = {**env, **SIM_ENV, **saving}
    # Warm-up of the simulation's own imports (numpy, h5py...) for both sides.
    timed([sys.executable, str(sim), str(params[0]), str(tmp / "warm-up")], plain, plain_env)

    full: list[float] = []
    whole: list[float] = []
    base: list[float] = []
    for _ in range(reps):
        # Everything but fetch_code: every set validated when the Snakefile is parsed (none
        # is there yet), then run_simulation for every run (its resource plot included).
        clean(wf, "results", "logs", "benchmarks")
        shutil.copytree(tmp / "code", wf / "results" / "code")
        full.append(timed(pipeline_cmd("--until", "run_simulation"), wf, env))
        clean(plain, "out")
        base.append(timed([SNAKEMAKE, *PLAIN_FLAGS], plain, plain_env))
        # The rest of the workflow after the simulations: the table, the summary plot.
        whole.append(timed(pipeline_cmd(), wf, env))
    return {
        "runs": len(runs),
        "sweep_points": n,
        "reps": reps,
        "pipeline_full_s": full,
        "pipeline_after_sims_s": whole,
        "plain_s": base,
        "ratio_full": statistics.median(full) / statistics.median(base),
        "checkout": str(checkout),
    }


def plain_sweep_snakefile(points: int, command: list[str]) -> str:
    """A plain Snakefile doing what the pipeline does with a trivial runner: the command once
    per point (then a file to show it ran), and one aggregation job."""
    argv = " ".join(shlex.quote(part) for part in command)
    return (
        f"N = {points}\n\n"
        "rule all:\n"
        "    input: 'all.txt'\n\n"
        "rule agg:\n"
        "    input: expand('out/{i}.txt', i=range(N))\n"
        "    output: 'all.txt'\n"
        "    shell: 'touch {output}'\n\n"
        "rule run:\n"
        "    output: 'out/{i}.txt'\n"
        f"    shell: {argv + ' && touch {output}'!r}\n"
    )


def bench_sweep(tmp: Path, points: int, reps: int, env: dict[str, str]) -> dict[str, Any]:
    """Benchmark 2: the whole workflow for a ``points``-point sweep of a trivial runner."""
    command = [sys.executable, "-c", "pass"]
    runner = {"kind": "command", "command": command}
    wf = copy_workflow(tmp / f"sweep-wf-{points}")
    write_config(wf, points, runner)
    timed(pipeline_cmd("--until", "fetch_code"), wf, env)  # cache warm, code fetched
    plain = tmp / f"sweep-plain-{points}"
    plain.mkdir()
    (plain / "Snakefile").write_text(plain_sweep_snakefile(points, command))
    # (wall, Snakemake's own CPU, its jobs' CPU) of each repetition, per side.
    side_p: list[tuple[float, float, float]] = []
    side_b: list[tuple[float, float, float]] = []
    for _ in range(reps):
        clean(wf, "results/params", "results/runs", "results/plots", "results/figures")
        clean(wf, "logs", "benchmarks")
        side_p.append(run_cpu_split(pipeline_cmd(), wf, env))
        clean(plain, "out", "all.txt")
        side_b.append(run_cpu_split([SNAKEMAKE, *PLAIN_FLAGS], plain, env))
    runs = points + 1  # the sweep's points and the base set
    # Medians of interleaved repetitions (all in the json).
    run_p, run_b = [t[0] for t in side_p], [t[0] for t in side_b]
    pipeline_s, plain_s = statistics.median(run_p), statistics.median(run_b)
    return {
        "points": points,
        "runs": runs,
        "pipeline_runs_s": run_p,
        "plain_runs_s": run_b,
        "pipeline_run_s": pipeline_s,
        "plain_run_s": plain_s,
        "per_point_over_plain_s": (pipeline_s - plain_s) / runs,
        "pipeline_snakemake_cpu_s": [t[1] for t in side_p],
        "pipeline_jobs_cpu_s": [t[2] for t in side_p],
        "plain_snakemake_cpu_s": [t[1] for t in side_b],
        "plain_jobs_cpu_s": [t[2] for t in side_b],
    }


def cpu_rows(s: dict[str, Any]) -> list[str]:
    """The sweep's CPU per run, each side's median, as table rows; and the bound it sets."""
    cores = os.cpu_count() or 1
    rows, over = [], 0.0
    for label, key in (("Snakemake's main process", "snakemake"), ("its jobs", "jobs")):
        mine, plain = med(s[f"pipeline_{key}_cpu_s"]), med(s[f"plain_{key}_cpu_s"])
        over += (mine - plain) / s["runs"]
        rows.append(
            f"| {label} | {mine * 1000 / s['runs']:.0f} ms | {plain * 1000 / s['runs']:.0f} ms "
            f"| {(mine - plain) * 1000 / s['runs']:.0f} ms |"
        )
    return [
        *rows,
        "",
        f"With {cores} cores busy all the time, {over * 1000:.0f} ms of CPU more per run could "
        f"not take less than {over * 1000 / cores:.0f} ms more wall time per point.",
    ]


def import_profile() -> dict[str, Any]:
    """Start-up cost of a run_simulation job: bare python, the entry point's imports (what a
    run needs), and the slowest modules."""
    prelude = (
        "import simwarden.jobs, simwarden.pipeline.job, simwarden.pipeline.job_spec, "
        "simwarden.results.figures, simwarden.warden.supervisor, simwarden.results.plots.run"
    )
    bare = min(timed([sys.executable, "-c", "pass"], ROOT) for _ in range(7))
    full = min(timed([sys.executable, "-c", prelude], ROOT) for _ in range(7))
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", prelude], capture_output=True, text=True
    )
    rows: list[tuple[int, str]] = []
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    top = [{"cumulative_us": us, "module": mod.strip()} for us, mod in sorted(rows)[::-1][:12]]
    return {"python_bare_s": bare, "python_with_imports_s": full, "importtime_top": top}


def fmt(seconds: float) -> str:
    """Seconds with two decimals."""
    return f"{seconds:.2f} s"


def med(values: list[float]) -> float:
    """Median of a non-empty list."""
    return statistics.median(values)


def render(data: dict[str, Any]) -> str:
    """The markdown report."""
    m, d, s, imp = data["machine"], data["demo"], data["sweep"], data["imports"]
    ok = d["ratio_full"] <= TARGET_DEMO_RATIO
    per_point = s["per_point_over_plain_s"]
    command = f".venv/bin/python benchmarks/bench_pipeline.py {data['argv']}".strip()
    top = "\n".join(
        f"| {row['module']} | {row['cumulative_us'] / 1000:.0f} ms |"
        for row in imp["importtime_top"]
    )
    return "\n".join(
        [
            "# Pipeline benchmark: simwarden workflow against plain Snakemake",
            "",
            f"- date: {data['date']}",
            f"- machine: {m['cores']} cores, {m['memory_gib']} GiB, {m['platform']}",
            f"- Python {m['python']}, Snakemake {m['snakemake']}",
            f"- reproduce: `{command}` (from the repository root)",
            f"- mode: {'--quick (indicative only)' if data['quick'] else 'full'}; "
            f"total benchmark wall time {data['total_s']:.0f} s",
            f"- load average (1/5/15 min) at start {fmt_load(data['loadavg_start'])}, at end "
            f"{fmt_load(data['loadavg_end'])}: the machine is shared, so absolute times carry "
            "noise; A/B runs were interleaved so it hits both sides.",
            "",
            f"## 1. {d['runs']} short demo runs (profile short, seed sweep of "
            f"{d['sweep_points']} points + the base set)",
            "",
            "Pipeline: `snakemake --profile profiles/short --until run_simulation` on a copy of "
            "the workflow with no parameters validated yet (so validation is included), then "
            "once more without `--until` for the table and the summary plot. Plain: one "
            "wildcard rule (one job per run) running `python <checkout>/simulate.py params.json "
            "outdir` via `shell:` on the pipeline's own validated `results/params/*.json`, with "
            "SIMWARDEN_QUICK=1 SIMWARDEN_SCALE=0.5, `--cores 2 --scheduler greedy`. fetch_code "
            "is excluded (a warm-up filled the cache; one direct simulate.py run warmed the "
            f"simulation's imports). {d['reps']} interleaved repetitions; medians shown.",
            "",
            "| measurement | pipeline | plain | ratio | target | result |",
            "|---|---|---|---|---|---|",
            f"| validation + run_simulation ({d['runs']} runs, resource plots included) | "
            f"{fmt(med(d['pipeline_full_s']))} | {fmt(med(d['plain_s']))} | "
            f"{d['ratio_full']:.3f}x | <= {TARGET_DEMO_RATIO}x | {'pass' if ok else 'FAIL'} |",
            f"| then the benchmark table and the summary plot (3 jobs) | "
            f"{fmt(med(d['pipeline_after_sims_s']))} | (none) | | (informative) | |",
            "",
            "Both sides save the same figures in the same formats (the config's "
            "`figure_formats`): the pipeline through its autosave, the plain side through the "
            "same autosave hook on its PYTHONPATH, so the comparison is of the pipeline's own "
            "cost.",
            "",
            f"## 2. Sweep of {s['points']} points with a trivial runner "
            "(`command: [python, -c, pass]`)",
            "",
            "The runner does nothing, so the pipeline's own cost shows. Pipeline: the whole "
            "workflow (`snakemake --profile profiles/short`: validation, one run_simulation job "
            "per run with its record, samples and resource plot, the benchmark table, the "
            "summary plot, check_runs) after fetch_code. Plain: the same command once per point "
            "through `shell:` (then `touch` of its output) and one aggregation job, "
            f"`--cores 2 --scheduler greedy`. {len(s['pipeline_runs_s'])} interleaved "
            "repetitions; medians shown (all in the json).",
            "",
            "| measurement | pipeline | plain | per point over plain | target | result |",
            "|---|---|---|---|---|---|",
            f"| whole workflow, {s['runs']} runs | {fmt(s['pipeline_run_s'])} | "
            f"{fmt(s['plain_run_s'])} | {per_point * 1000:.0f} ms | "
            f"<= {TARGET_PER_POINT_S * 1000:.0f} ms | "
            f"{'pass' if per_point <= TARGET_PER_POINT_S else 'FAIL'} |",
            "",
            "CPU time per run (user + system, medians; a side's total divided by its "
            f"{s['runs']} runs, so the pipeline's table, plots and check_runs are in it):",
            "",
            "| process | pipeline | plain | more per run |",
            "|---|---|---|---|",
            *cpu_rows(s),
            "",
            "## Where a run's job spends its start-up",
            "",
            "A run_simulation job is `python -m simwarden.jobs` through `shell:`: bare "
            f"interpreter start-up {fmt(imp['python_bare_s'])}, with the imports a run needs "
            f"{fmt(imp['python_with_imports_s'])} (best of 7). Slowest imports (`python -X "
            "importtime`, cumulative; importtime inflates them):",
            "",
            "| module | cumulative |",
            "|---|---|",
            top,
            "",
        ]
    )


def main() -> int:
    """Parse arguments, run both benchmarks, write the report."""
    # Measure what users get: cached bytecode (a shell or test run may have switched it off,
    # and every timed Python would then compile simwarden from source).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, indicative only")
    parser.add_argument("--demo-runs", type=int, help="sweep points in benchmark 1 (default 20)")
    parser.add_argument("--reps", type=int, help="interleaved A/B repetitions (default 3)")
    parser.add_argument("--sweep", type=int, help="points of the trivial sweep (default 100)")
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    demo_n = args.demo_runs or (5 if args.quick else 20)
    reps = args.reps or (1 if args.quick else 3)
    points = args.sweep or (20 if args.quick else 100)

    start = time.perf_counter()
    load_start = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="bench_pipeline-"))
    env = dict(os.environ)
    env.setdefault("SIMWARDEN_CACHE_DIR", str(tmp / "cache"))
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    try:
        print(f"benchmark 1: {demo_n} demo sweep points x {reps}", flush=True)
        demo = bench_demo(tmp, demo_n, reps, env)
        print(json.dumps(demo, indent=1), flush=True)
        print(f"benchmark 2: a sweep of {points} points", flush=True)
        sweep = bench_sweep(tmp, points, reps, env)
        print(json.dumps(sweep, indent=1), flush=True)
        imports = import_profile()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    data: dict[str, Any] = {
        "quick": args.quick,
        "demo": demo,
        "sweep": sweep,
        "imports": imports,
        **run_facts(start, load_start),
    }
    write_results(args.out_dir, "pipeline", data, render(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
