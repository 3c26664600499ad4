"""Benchmark the simwarden workflow against plain Snakemake, side by side in one run.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_pipeline.py            # full run, ~8 minutes
    .venv/bin/python benchmarks/bench_pipeline.py --quick    # shortened, indicative only

Writes ``results/pipeline.md`` (table with targets and pass/fail) and ``results/pipeline.json``
(raw numbers) beside this file, or under ``--out-dir``. Everything runs on copies of the workflow
in a temporary directory; nothing is written into the checkout. Measures:

1. demo runs: N short demo simulations through the pipeline (profile short, a ``seed`` sweep)
   against a minimal Snakefile that runs the same ``simulate.py`` on the same validated
   parameter files through ``shell:`` (same env, ``--cores 2 --scheduler greedy``);
2. a large sweep with a trivial ``command`` runner (``python -c pass``) so simulation cost does
   not dominate: dry-run time, full run time and no-op rerun time, against plain Snakemake on a
   DAG of the same shape (two trivial jobs per point plus one aggregation job).

A/B runs are interleaved (ABAB...) so the machine's noise hits both sides alike.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchkit import ROOT, SNAKEMAKE, VENV_BIN, copy_workflow, fmt_load, machine

SIM_ENV = {"SIMWARDEN_QUICK": "1", "SIMWARDEN_SCALE": "0.5"}
PLAIN_FLAGS = ["--cores", "2", "--scheduler", "greedy"]
TARGET_DEMO_RATIO = 1.15


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
    """Run ``argv`` in ``cwd`` and return its wall time; raise with its output tail on failure."""
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-3000:]
        raise RuntimeError(f"{argv} in {cwd} exited {proc.returncode}:\n{tail}")
    return elapsed


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
    # Warm-up: fetch_code fills the cache and writes provenance.json, so the timed runs do not
    # include the one-time clone; the first run also warms the page cache for both sides.
    timed(pipeline_cmd("--until", "validate_params"), wf, env)
    shutil.copytree(wf / "results" / "code", tmp / "provenance")
    checkout = Path(json.loads((wf / "results/code/provenance.json").read_text())["path"])
    params = sorted((wf / "results/params").glob("*.json"))
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
    sims: list[float] = []
    whole: list[float] = []
    base: list[float] = []
    until = ("--until", "run_simulation")
    per_run = ("results/runs", "results/figures", "logs/run_simulation")
    for _ in range(reps):
        # Without fetch_code: validate_params + run_simulation for every run.
        clean(wf, "results", "logs", "benchmarks")
        shutil.copytree(tmp / "provenance", wf / "results" / "code")
        full.append(timed(pipeline_cmd(*until), wf, env))
        clean(plain, "out")
        base.append(timed([SNAKEMAKE, *PLAIN_FLAGS], plain, plain_env))
        # Only run_simulation (parameters already validated): the like-for-like comparison.
        clean(wf, *per_run, "benchmarks/run_simulation")
        sims.append(timed(pipeline_cmd(*until), wf, env))
        # The whole workflow after the simulations: resource plots, the table, the summary.
        whole.append(timed(pipeline_cmd(), wf, env))
    return {
        "runs": len(runs),
        "sweep_points": n,
        "reps": reps,
        "pipeline_full_s": full,
        "pipeline_sim_only_s": sims,
        "pipeline_after_sims_s": whole,
        "plain_s": base,
        "ratio_full": statistics.median(full) / statistics.median(base),
        "ratio_sim_only": statistics.median(sims) / statistics.median(base),
        "checkout": str(checkout),
    }


def plain_sweep_snakefile(points: int) -> str:
    """A plain DAG shaped like the pipeline's: two trivial jobs per point, one aggregation."""
    return (
        f"N = {points}\n\n"
        "rule all:\n"
        "    input: 'all.txt'\n\n"
        "rule agg:\n"
        "    input: expand('b/{i}.txt', i=range(N))\n"
        "    output: 'all.txt'\n"
        "    shell: 'touch {output}'\n\n"
        "rule b:\n"
        "    input: 'a/{i}.txt'\n"
        "    output: 'b/{i}.txt'\n"
        "    shell: 'touch {output}'\n\n"
        "rule a:\n"
        "    output: 'a/{i}.txt'\n"
        "    shell: 'touch {output}'\n"
    )


def bench_sweep(
    tmp: Path, dry_points: int, run_points: int, reps: int, env: dict[str, str]
) -> dict[str, Any]:
    """Benchmark 2: dry run at ``dry_points``; full run and no-op rerun at ``run_points``."""
    runner = {"kind": "command", "command": [sys.executable, "-c", "pass"]}
    result: dict[str, Any] = {"dry_points": dry_points, "run_points": run_points}

    wf_dry = copy_workflow(tmp / f"sweep-wf-{dry_points}")
    write_config(wf_dry, dry_points, runner)
    timed(pipeline_cmd("--until", "fetch_code"), wf_dry, env)  # cache warm, code fetched
    plain_dry = tmp / f"sweep-plain-{dry_points}"
    plain_dry.mkdir()
    (plain_dry / "Snakefile").write_text(plain_sweep_snakefile(dry_points))
    dry_p, dry_b = [], []
    for _ in range(2):
        dry_p.append(timed(pipeline_cmd("-n", "--quiet"), wf_dry, env))
        dry_b.append(timed([SNAKEMAKE, *PLAIN_FLAGS, "-n", "--quiet"], plain_dry, env))
    result |= {"pipeline_dry_s": dry_p, "plain_dry_s": dry_b}

    if run_points == dry_points:
        wf_run, plain_run = wf_dry, plain_dry
    else:
        wf_run = copy_workflow(tmp / f"sweep-wf-{run_points}")
        write_config(wf_run, run_points, runner)
        timed(pipeline_cmd("--until", "fetch_code"), wf_run, env)
        plain_run = tmp / f"sweep-plain-{run_points}"
        plain_run.mkdir()
        (plain_run / "Snakefile").write_text(plain_sweep_snakefile(run_points))
    run_p, run_b = [], []
    for _ in range(reps):
        clean(wf_run, "results/params", "results/runs", "logs/validate_params", "benchmarks")
        clean(wf_run, "logs/run_simulation")
        run_p.append(timed(pipeline_cmd(), wf_run, env))
        clean(plain_run, "a", "b", "all.txt")
        run_b.append(timed([SNAKEMAKE, *PLAIN_FLAGS], plain_run, env))
    # Best of the repetitions: the machine is shared, and noise only ever adds time.
    result |= {"pipeline_runs_s": run_p, "plain_runs_s": run_b}
    result["pipeline_run_s"] = min(run_p)
    result["plain_run_s"] = min(run_b)
    noop_p, noop_b = [], []
    for _ in range(2):
        noop_p.append(timed(pipeline_cmd(), wf_run, env))
        noop_b.append(timed([SNAKEMAKE, *PLAIN_FLAGS], plain_run, env))
    result |= {"pipeline_noop_s": noop_p, "plain_noop_s": noop_b}
    jobs = 2 * (run_points + 1)  # validate_params + run_simulation per run (base set included)
    result["pipeline_per_job_s"] = result["pipeline_run_s"] / jobs
    result["plain_per_job_s"] = result["plain_run_s"] / (2 * run_points + 1)
    return result


def import_profile() -> dict[str, Any]:
    """Start-up cost of a ``script:`` job: bare python, the imports, and the slowest modules."""
    prelude = "import snakemake.script, simwarden.pipeline.steps, simwarden.pipeline.scripting"
    bare = min(timed([sys.executable, "-c", "pass"], ROOT) for _ in range(5))
    full = min(timed([sys.executable, "-c", prelude], ROOT) for _ in range(5))
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
    extrap = s["run_points"] != 1000
    scale = 1000 / s["run_points"]
    command = f".venv/bin/python benchmarks/bench_pipeline.py {data['argv']}".strip()
    lines = [
        "# Pipeline benchmark: simwarden workflow against plain Snakemake",
        "",
        f"- date: {data['date']}",
        f"- machine: {m['cores']} cores, {m['memory_gib']} GiB, {m['platform']}",
        f"- Python {m['python']}, Snakemake {m['snakemake']}",
        f"- reproduce: `{command}` (from the repository root)",
        f"- mode: {'--quick (indicative only)' if data['quick'] else 'full'}; "
        f"total benchmark wall time {data['total_s']:.0f} s",
        f"- load average (1/5/15 min) at start {fmt_load(data['loadavg_start'])}, at end "
        f"{fmt_load(data['loadavg_end'])}: the machine was shared with other jobs, so absolute "
        "times carry noise; A/B runs were interleaved so it hits both sides.",
        "",
        "Sizes were scaled down from the targets (100 demo runs, a 1000-point full sweep) to "
        "fit a 30-minute budget; see each section for the sizes actually run."
        if data["scaled"]
        else "Sizes as targeted.",
        "",
        f"## 1. {d['runs']} short demo runs (profile short, seed sweep of {d['sweep_points']} "
        "points + the base set)",
        "",
        "Pipeline: `snakemake --profile profiles/short --until run_simulation` on a copy of the "
        "workflow (then once more without `--until` for the plots and the table). Plain: one "
        "wildcard rule (one job per run) running `python <checkout>/simulate.py params.json "
        "outdir` via `shell:` on the pipeline's own validated `results/params/*.json`, with "
        "SIMWARDEN_QUICK=1 SIMWARDEN_SCALE=0.5, `--cores 2 --scheduler greedy`. fetch_code is "
        "excluded (a warm-up `--until validate_params` filled the cache and wrote provenance.json "
        "and the params; one direct simulate.py run warmed the simulation's imports). "
        f"{d['reps']} interleaved repetition(s); medians shown.",
        "",
        "| measurement | pipeline | plain | ratio | target | result |",
        "|---|---|---|---|---|---|",
        f"| validate_params + run_simulation ({2 * d['runs']} jobs) | "
        f"{fmt(med(d['pipeline_full_s']))} | {fmt(med(d['plain_s']))} | "
        f"{d['ratio_full']:.2f}x | <= {TARGET_DEMO_RATIO}x | {'pass' if ok else 'FAIL'} |",
        f"| run_simulation only ({d['runs']} jobs, params already valid) | "
        f"{fmt(med(d['pipeline_sim_only_s']))} | {fmt(med(d['plain_s']))} | "
        f"{d['ratio_sim_only']:.2f}x | (informative) | "
        f"{'pass' if d['ratio_sim_only'] <= TARGET_DEMO_RATIO else 'above 1.15x'} |",
        f"| then resource plots, benchmark table, summary plot ({d['runs'] + 3} jobs) | "
        f"{fmt(med(d['pipeline_after_sims_s']))} | (none) | | (informative) | |",
        "",
        "Both sides save the same figures in the same formats (the config's `figure_formats`): "
        "the pipeline through its autosave, the plain side through the same autosave hook on "
        "its PYTHONPATH, so the comparison is of the pipeline's own cost.",
        "",
        "## 2. Sweep with a trivial runner (`command: [python, -c, pass]`)",
        "",
        "The runner does nothing so that the pack's own cost shows. The pipeline's DAG has two "
        "jobs per point (validate_params, run_simulation) plus the base set, fetch_code and "
        "`all`; the plain Snakefile has the same shape: two trivial `touch {output}` jobs per "
        "point plus one aggregation job. `--scheduler greedy` on both (the short profile sets "
        "it). Dry run and no-op rerun: best of 2; full run: best of the repetitions (all in "
        "the json).",
        "",
        "| measurement | points | pipeline | plain | ratio |",
        "|---|---|---|---|---|",
        f"| `snakemake -n` (dry run) | {s['dry_points']} | {fmt(min(s['pipeline_dry_s']))} | "
        f"{fmt(min(s['plain_dry_s']))} | {min(s['pipeline_dry_s']) / min(s['plain_dry_s']):.2f}x |",
        f"| full run | {s['run_points']} | {fmt(s['pipeline_run_s'])} | "
        f"{fmt(s['plain_run_s'])} | {s['pipeline_run_s'] / s['plain_run_s']:.2f}x |",
        f"| no-op rerun | {s['run_points']} | {fmt(min(s['pipeline_noop_s']))} | "
        f"{fmt(min(s['plain_noop_s']))} | "
        f"{min(s['pipeline_noop_s']) / min(s['plain_noop_s']):.2f}x |",
        f"| per job (full run) | | {s['pipeline_per_job_s'] * 1000:.0f} ms | "
        f"{s['plain_per_job_s'] * 1000:.0f} ms | |",
    ]
    if extrap:
        lines += [
            f"| **extrapolated** full run (linear, x{scale:g}) | 1000 | "
            f"~{s['pipeline_run_s'] * scale:.0f} s | ~{s['plain_run_s'] * scale:.0f} s | |",
        ]
    top = "\n".join(
        f"| {row['module']} | {row['cumulative_us'] / 1000:.0f} ms |"
        for row in imp["importtime_top"]
    )
    lines += [
        "",
        "## Where the overhead comes from",
        "",
        "Each `script:` job starts a fresh Python: bare start-up "
        f"{fmt(imp['python_bare_s'])}, with "
        f"the imports a rule script makes (`snakemake.script`, `simwarden.pipeline.steps`, "
        f"`simwarden.pipeline.scripting`) {fmt(imp['python_with_imports_s'])}. "
        "The pipeline has two such "
        "jobs per run (validate_params, then run_simulation, which also starts the warden and "
        "the simulation itself), where the plain Snakefile starts only the simulation through a "
        "shell. Slowest imports (`python -X importtime`, cumulative):",
        "",
        "| module | cumulative |",
        "|---|---|",
        top,
        "",
        data["analysis"],
        "",
    ]
    return "\n".join(lines)


def analyse(d: dict[str, Any], s: dict[str, Any], imp: dict[str, Any]) -> str:
    """A few sentences derived from the numbers."""
    runs = d["runs"]
    extra_full = (med(d["pipeline_full_s"]) - med(d["plain_s"])) / runs
    extra_sim = (med(d["pipeline_sim_only_s"]) - med(d["plain_s"])) / runs
    startup = imp["python_with_imports_s"]
    return (
        f"In benchmark 1 the pipeline costs {extra_full:.2f} s more per run than plain Snakemake "
        f"with validation included and {extra_sim:.2f} s per run for run_simulation alone (wall "
        f"time on 2 cores, so each extra CPU-second counts about half). A script job's start-up "
        f"is ~{startup:.2f} s of the CPU, and a run pays it twice plus the warden's own start and "
        "sampling; the simulation dominates only when it runs for many seconds. In benchmark 2 "
        f"the per-job cost is {s['pipeline_per_job_s'] * 1000:.0f} ms against "
        f"{s['plain_per_job_s'] * 1000:.0f} ms for a plain `touch` job: that difference is the "
        "script start-up and the benchmark:/log bookkeeping, not scheduling. The dry run and the "
        "no-op rerun involve no job start-up; their difference from plain Snakemake is parsing "
        "the Snakefile with the simwarden imports, validating the config, planning the sweep "
        "and evaluating the input functions and params of every job."
    )


def main() -> int:
    """Parse arguments, run both benchmarks, write the report."""
    # Measure what users get: cached bytecode (a shell or test run may have switched it off,
    # and every timed Python would then compile simwarden from source).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, indicative only")
    parser.add_argument("--demo-runs", type=int, help="sweep points in benchmark 1 (default 20)")
    parser.add_argument("--reps", type=int, help="interleaved A/B repetitions (default 2)")
    parser.add_argument("--sweep-dry", type=int, help="points for the dry run (default 1000)")
    parser.add_argument("--sweep-run", type=int, help="points for the full run (default 100)")
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    demo_n = args.demo_runs or (5 if args.quick else 20)
    reps = args.reps or (1 if args.quick else 2)
    dry = args.sweep_dry or (200 if args.quick else 1000)
    run = args.sweep_run or (30 if args.quick else 100)

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
        print(f"benchmark 2: dry run {dry} points, full run {run} points", flush=True)
        sweep = bench_sweep(tmp, dry, run, reps, env)
        print(json.dumps(sweep, indent=1), flush=True)
        imports = import_profile()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    data: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "argv": " ".join(sys.argv[1:]),
        "quick": args.quick,
        "scaled": demo_n < 100 or run < 1000 or dry < 1000,
        "machine": machine(),
        "demo": demo,
        "sweep": sweep,
        "imports": imports,
        "total_s": time.perf_counter() - start,
        "loadavg_start": load_start,
        "loadavg_end": os.getloadavg(),
    }
    data["analysis"] = analyse(demo, sweep, imports)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "pipeline.json").write_text(json.dumps(data, indent=2) + "\n")
    (args.out_dir / "pipeline.md").write_text(render(data))
    print(render(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
