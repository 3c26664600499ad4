"""Benchmark ``simwarden status`` on a 1000-run sweep against ``snakemake -n --quiet``.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_status.py                      # ~10-15 min, mostly the build
    .venv/bin/python benchmarks/bench_status.py --state-dir /tmp/st  # keep the built state ...
    .venv/bin/python benchmarks/bench_status.py --state-dir /tmp/st  # ... and reuse it next time

Writes ``results/status.md`` beside this file (or under ``--out-dir``). Nothing is written into
the checkout. The state is real: a copy of the workflow with one parameter set and a ``seed``
sweep (``--runs`` runs in all) and a trivial runner (``kind: command``, ``["true"]``), run by
``snakemake --profile profiles/short --until run_simulation``, so Snakemake writes its own
metadata for 2 jobs per run and the warden a record per run. On that state both commands are
timed, interleaved (ABAB...), in three situations:

1. everything up to date;
2. the base parameter file edited (every run stale: parameters);
3. the commit changed in config/config.yaml (every run stale: code).

Both commands see the same workflow and profile; the dry run is what a user would otherwise
type to learn the same (it prints the jobs, not why per run, unless asked).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchkit import SNAKEMAKE, VENV_BIN, copy_workflow, fmt_load, machine
from benchkit import run as benchkit_run

TARGET_S = 5.0
PROFILE = ["--profile", "profiles/short"]


def write_config(wf: Path, runs: int) -> None:
    """One param set ``small`` plus a ``seed`` sweep over it: ``runs`` runs, a trivial runner."""
    import yaml

    path = wf / "config" / "config.yaml"
    config = yaml.safe_load(path.read_text())
    config["param_sets"] = {"small": "config/params/small.yaml"}
    config["sweeps"] = {"seed": {"base": "small", "grid": {"seed": list(range(1, runs))}}}
    config["runner"] = {"kind": "command", "command": ["true"]}
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    """(wall time, stdout) of ``argv`` (see :func:`benchkit.run`)."""
    elapsed, out, _ = benchkit_run(argv, cwd, env)
    return elapsed, out


def status_argv(fmt: str = "json") -> list[str]:
    return [sys.executable, "-m", "simwarden", "status", *PROFILE, "--format", fmt]


def dry_argv() -> list[str]:
    return [SNAKEMAKE, *PROFILE, "-n", "--quiet"]


def build_state(wf: Path, runs: int, env: dict[str, str]) -> float:
    """Run the sweep for real (skipped when ``wf`` already holds it); return the build time."""
    marker = wf / ".bench_status_built"
    if marker.exists() and marker.read_text().strip() == str(runs):
        return float("nan")
    if wf.exists():
        shutil.rmtree(wf)
    copy_workflow(wf)
    write_config(wf, runs)
    print(f"building the state: {runs} runs (2 jobs each) through snakemake ...", flush=True)
    elapsed, _ = run([SNAKEMAKE, *PROFILE, "--until", "run_simulation", "--quiet"], wf, env)
    marker.write_text(f"{runs}\n")
    return elapsed


def summarise(rows: list[dict[str, Any]]) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        key = row["state"] + (f" ({', '.join(row['why'])})" if row["why"] else "")
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{n} {key}" for key, n in sorted(counts.items()))


def measure(wf: Path, reps: int, env: dict[str, str]) -> dict[str, Any]:
    """Interleaved repetitions of status (json) and the dry run on the state as it is now."""
    status_s: list[float] = []
    dry_s: list[float] = []
    rows: list[dict[str, Any]] = []
    dry_out = ""
    for _ in range(reps):
        elapsed, out = run(status_argv(), wf, env)
        status_s.append(elapsed)
        rows = json.loads(out)
        elapsed, dry_out = run(dry_argv(), wf, env)
        dry_s.append(elapsed)
    table_s, _ = run(status_argv("table"), wf, env)
    # --quiet prints no jobs: one more dry run, untimed, for what Snakemake would do.
    _, listing = run([SNAKEMAKE, *PROFILE, "-n"], wf, env)
    counts = {}
    for line in listing.splitlines():
        parts = line.split()
        if (
            len(parts) == 2
            and parts[0] in ("validate_params", "run_simulation")
            and parts[1].isdigit()
        ):
            counts[parts[0]] = int(parts[1])
    return {
        "status_s": status_s,
        "dry_s": dry_s,
        "table_s": table_s,
        "status_says": summarise(rows),
        "status_not_up_to_date": sum(row["state"] != "up to date" for row in rows),
        "dry_run_jobs": counts,
    }


PHASES = """
import json, sys, time
t0 = time.perf_counter()
import snakemake.api, snakemake.cli
t1 = time.perf_counter()
from pathlib import Path
from simwarden.results.snakemake_view import parsed_workflow
from simwarden.results.status import collect_runs
from simwarden.results.status_format import format_status
wd = Path(sys.argv[1])
with parsed_workflow(wd, ["profiles/short"]) as (workflow, args):
    t2 = time.perf_counter()
    rows = collect_runs(wd, workflow, args)
    t3 = time.perf_counter()
format_status(rows, "json")
t4 = time.perf_counter()
print(json.dumps({"import Snakemake (and its plugins)": t1 - t0,
                  "parse the profile and the Snakefile": t2 - t1,
                  "judge every run": t3 - t2, "format": t4 - t3}))
"""


def phases(wf: Path, env: dict[str, str]) -> dict[str, float]:
    """Where one status call spends its time (in-process timers, best of 3)."""
    best: dict[str, float] = {}
    for _ in range(3):
        _, out = run([sys.executable, "-c", PHASES, str(wf)], wf, env)
        for key, value in json.loads(out.splitlines()[-1]).items():
            best[key] = min(value, best.get(key, value))
    return best


def situations(wf: Path, reps: int, env: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The three situations; the state is restored afterwards (file contents and mtimes)."""
    results = {"up to date": measure(wf, reps, env)}
    params = wf / "config" / "params" / "small.yaml"
    original = params.read_bytes()
    stat = params.stat()
    try:
        params.write_bytes(original + b"\n# edited by bench_status.py\n")
        results["parameter file edited"] = measure(wf, reps, env)
    finally:
        params.write_bytes(original)
        os.utime(params, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    config = wf / "config" / "config.yaml"
    original = config.read_bytes()
    stat = config.stat()
    try:
        import yaml

        edited = yaml.safe_load(original)
        edited["commit"] = "f" * 40  # another SHA: neither command fetches it
        config.write_text(yaml.safe_dump(edited, sort_keys=False))
        results["commit changed"] = measure(wf, reps, env)
    finally:
        config.write_bytes(original)
        os.utime(config, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    return results


def render(data: dict[str, Any]) -> str:
    """The markdown report."""
    m = data["machine"]
    command = f".venv/bin/python benchmarks/bench_status.py {data['argv']}".strip()
    build = data["build_s"]
    worst = max(min(r["status_s"]) for r in data["results"].values())
    worst_median = max(statistics.median(r["status_s"]) for r in data["results"].values())
    verdict = "pass" if worst_median <= TARGET_S else "FAIL"
    lines = [
        f"# `simwarden status` on a {data['runs']}-run sweep against `snakemake -n --quiet`",
        "",
        f"- date: {data['date']}",
        f"- machine: {m['cores']} cores, {m['memory_gib']} GiB, {m['platform']}",
        f"- Python {m['python']}, Snakemake {m['snakemake']}",
        f"- reproduce: `{command}` (from the repository root)",
        f"- load average (1/5/15 min) at start {fmt_load(data['loadavg_start'])}, at end "
        f"{fmt_load(data['loadavg_end'])} (2 cores shared with other engineers' jobs: absolute "
        "times carry that noise; the A/B runs were interleaved so it hits both sides)",
        f"- state: {data['runs']} runs (`small` + a {data['runs'] - 1}-point `seed` sweep, "
        'runner `kind: command` `["true"]`), built for real by `snakemake --profile '
        "profiles/short --until run_simulation`: "
        + (f"{build:.0f} s" if not math.isnan(build) else "reused from --state-dir")
        + f"; {data['reps']} interleaved repetitions per situation",
        "",
        f"Target: status under {TARGET_S:.0f} s on a 1000-run sweep. Verdict: **{verdict}** "
        f"(slowest situation: median {worst_median:.2f} s, best {worst:.2f} s).",
        "",
        "| situation | status (json) best / median | status (table) | `snakemake -n --quiet` "
        "best / median | ratio (medians) |",
        "|---|---|---|---|---|",
    ]
    for name, r in data["results"].items():
        sm, dm = statistics.median(r["status_s"]), statistics.median(r["dry_s"])
        lines.append(
            f"| {name} | {min(r['status_s']):.2f} s / {sm:.2f} s | {r['table_s']:.2f} s | "
            f"{min(r['dry_s']):.2f} s / {dm:.2f} s | {sm / dm:.2f}x |"
        )
    lines += [
        "",
        "What each said (status against the per-run jobs of an untimed `snakemake -n`):",
        "",
    ]
    for name, r in data["results"].items():
        jobs = ", ".join(f"{n} {rule}" for rule, n in r["dry_run_jobs"].items()) or "no job"
        lines.append(f"- {name}: status: {r['status_says']}; `snakemake -n` would run: {jobs}")
    lines += [
        "",
        "## Where the time goes",
        "",
        "One status call on the up-to-date state, timed in-process (best of 3):",
        "",
        "| phase | time |",
        "|---|---|",
        *(f"| {phase} | {seconds:.2f} s |" for phase, seconds in data["phases"].items()),
        "",
        "status parses the workflow with Snakemake's API (the Snakefile's own run plan, the "
        "profile read by Snakemake's own argument parser) but builds no DAG: for each run it "
        "expands the validate_params and run_simulation jobs from their rules and applies "
        "Snakemake's needrun checks (missing or incomplete output, input newer and with another "
        "checksum, params, input set and code against `.snakemake/metadata`, script mtime) "
        "itself. `snakemake -n` spends most of its time building the DAG: resolving every "
        "job's input to the job that makes it, then the same checks. Importing Snakemake costs "
        "both sides the same (it loads every installed plugin; the SLURM executor plugin "
        "imports pandas).",
        "",
        "All times (s):",
        "",
        "```",
        json.dumps(data["results"], indent=1),
        "```",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    """Parse arguments, build or reuse the state, measure, write the report."""
    # Measure what users get: cached bytecode (a shell or test run may have switched it off,
    # and every timed Python would then compile simwarden from source).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000, help="runs in the sweep (default 1000)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions per situation")
    parser.add_argument(
        "--state-dir", type=Path, help="build the state here and keep it (reused when present)"
    )
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    start = time.perf_counter()
    load_start = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="bench_status-"))
    env = dict(os.environ)
    env.setdefault("SIMWARDEN_CACHE_DIR", str(tmp / "cache"))
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    wf = args.state_dir.resolve() if args.state_dir else tmp / "wf"
    try:
        build_s = build_state(wf, args.runs, env)
        results = situations(wf, args.reps, env)
        breakdown = phases(wf, env)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    data: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "argv": " ".join(sys.argv[1:]),
        "runs": args.runs,
        "reps": args.reps,
        "build_s": build_s,
        "machine": machine(),
        "results": results,
        "phases": breakdown,
        "total_s": time.perf_counter() - start,
        "loadavg_start": load_start,
        "loadavg_end": os.getloadavg(),
    }
    report = render(data)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "status.md").write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
