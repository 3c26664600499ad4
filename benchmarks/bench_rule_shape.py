"""What a 10,000-point dry run costs because of what the run rule declares, not because of
simwarden's code: the workflow's ``snakemake -n`` against a plain Snakefile of the same shape
(run_simulation's inputs, outputs, log, benchmark, conda, resources and params, the same
consumers), that shape with one kind of declaration taken away at a time, and the minimal plain
Snakefile of ``bench_sweep.py`` (one input, one output, no params).

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_rule_shape.py               # 10,000 points, 3 reps: ~20 min
    .venv/bin/python benchmarks/bench_rule_shape.py --points 200 --reps 1   # a smoke test

Writes ``results/rule_shape.md`` and ``results/rule_shape.json`` beside this file (or under
``--out-dir``). Every variant runs ``snakemake -n --quiet`` in its own copy in a temporary
directory, interleaved (every variant once per repetition); medians are reported. The plain
Snakefiles run nothing (a dry run), so their shell commands are only placeholders.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pipeline import pipeline_cmd, write_config
from benchkit import SNAKEMAKE, copy_workflow, fmt_load, run, run_facts, write_results

# Each ablation removes one kind of declaration from the shaped rule (see shaped_snakefile).
ABLATIONS: dict[str, str] = {
    "shape": "run_simulation's declarations, all of them",
    "no_conda": "without `conda:`",
    "no_params_functions": "params: one static value instead of 8 (5 functions)",
    "no_log_benchmark": "without `log:` and `benchmark:`",
    "two_outputs": "2 outputs (record, plot) instead of 5",
    "no_directories": "the 2 directory outputs as plain files",
    "no_resource_functions": "without the 4 resource functions",
    "one_consumer": "the records asked for by 1 aggregate instead of 2",
}

# The two rows that are not ablations.
LABELS = {
    "workflow": "this workflow (simwarden's Snakefile, config checks, validation index)",
    "minimal": "one input, one output, no params (bench_sweep's plain side)",
}

RUN_PATTERN = "[A-Za-z0-9_.=+-]+(/[A-Za-z0-9_.=+-]+)*"


def shaped_snakefile(runs: list[str], without: str | None) -> str:
    """A plain Snakefile shaped like the workflow: run_simulation's declarations and the
    consumers of its outputs (rule all asks for the plots, two aggregates for the records);
    ``without`` names the ablation (a key of :data:`ABLATIONS`), ``None`` keeps everything."""
    outputs = {
        "data": 'directory("res/runs/{run}/data")',
        "record": '"res/runs/{run}/record.json"',
        "samples": '"res/runs/{run}/samples.tsv"',
        "figures": 'directory("res/figures/{run}")',
        "plot": '"res/runs/{run}/resources.svg"',
    }
    if without == "two_outputs":
        outputs = {k: v for k, v in outputs.items() if k in ("record", "plot")}
    if without == "no_directories":
        outputs = {k: v.replace("directory(", "(") for k, v in outputs.items()}
    params = {
        "runner": "lambda w: 'r'",
        "simulation": "lambda w: 's'",
        "param_set": "lambda w: 'p'",
        "ref": "lambda w: 'HEAD'",
        "figure_formats": "['png', 'svg']",
        "run_config": "{'mem': 100, 'retries': 1}",
        "python": "'python'",
        "job": "lambda w, input: 'x'",
    }
    if without == "no_params_functions":
        params = {"job": "'x'"}
    resources = {
        "mem_mb": "lambda w, attempt: 100 * attempt",
        "runtime": "lambda w, attempt: 5 * attempt",
        "attempt": "lambda w, attempt: attempt",
        "mem_mb_per_cpu": "lambda w, attempt: 200",
    }
    if without == "no_resource_functions":
        resources = {}
    lines = [
        f"RUNS = {runs!r}",
        "",
        "wildcard_constraints:",
        f"    run={RUN_PATTERN!r},",
        "",
        "def run_inputs(w):",
        "    marker = f'marker/{w.run}'",
        "    return ['code/c.json', *([marker] if os.path.exists(marker) else [])]",
        "",
        "rule all:",
        "    input: expand('res/runs/{run}/resources.svg', run=RUNS),"
        " 'table.csv', 'summary.svg', 'ok'",
        "",
        "rule sim:",
        "    input: params='params/{run}.json', run_files=run_inputs",
        "    output:",
        *(f"        {k}={v}," for k, v in outputs.items()),
    ]
    if without != "no_log_benchmark":
        lines += ["    log: 'logs/sim/{run}.log'", "    benchmark: 'bench/sim/{run}.tsv'"]
    lines.append("    retries: 1")
    if without != "no_conda":
        lines.append("    conda: 'env.yaml'")
    if resources:
        lines += ["    resources:", *(f"        {k}={v}," for k, v in resources.items())]
    lines += ["    params:", *(f"        {k}={v}," for k, v in params.items())]
    lines += ["    shell: 'true'", ""]
    second = "'table.csv'" if without == "one_consumer" else "expand(RECORD, run=RUNS)"
    lines += [
        "RECORD = 'res/runs/{run}/record.json'",
        aggregate("table", "expand(RECORD, run=RUNS)", "table.csv"),
        aggregate("summary", "'table.csv'", "summary.svg"),
        aggregate("ok", second, "ok"),
    ]
    return "import os\n" + "\n".join(lines) + "\n"


def minimal_snakefile(runs: list[str]) -> str:
    """bench_sweep's plain Snakefile in essence: one input, one output per run, one aggregate."""
    return (
        f"RUNS = {runs!r}\n\n"
        "rule all:\n    input: expand('out/{run}', run=RUNS), 'agg'\n\n"
        + aggregate("sim", "'params/{run}.json'", "out/{run}")
        + "\n"
        + aggregate("agg", "expand('out/{run}', run=RUNS)", "agg")
    )


def aggregate(name: str, inputs: str, output: str) -> str:
    """A rule with ``inputs`` (Python source) and one output that runs nothing of note."""
    return f"rule {name}:\n    input: {inputs}\n    output: {output!r}\n    shell: 'true'\n"


def plain_copy(dest: Path, runs: list[str], snakefile: str) -> Path:
    """A directory with the Snakefile and every source file it reads (params, code, env)."""
    (dest / "params").mkdir(parents=True)
    (dest / "code").mkdir()
    for name in runs:
        (dest / "params" / f"{name}.json").write_text("{}")
    (dest / "code" / "c.json").write_text("{}")
    (dest / "env.yaml").write_text("dependencies: [python]\n")
    (dest / "Snakefile").write_text(snakefile)
    return dest


def prepare(tmp: Path, points: int) -> dict[str, tuple[Path, list[str]]]:
    """Every variant's directory and its dry-run command, the workflow's first."""
    workflow = copy_workflow(tmp / "workflow")
    write_config(workflow, points, {"kind": "command", "command": [sys.executable, "-c", "pass"]})
    run(pipeline_cmd("--until", "fetch_code", "--quiet"), workflow)
    runs = ["small"] + [f"small__seed-{i}" for i in range(1, points + 1)]
    dry = [SNAKEMAKE, "--cores", "2", "-n", "--quiet"]
    variants = {"workflow": (workflow, pipeline_cmd("-n", "--quiet"))}
    for name in ABLATIONS:
        text = shaped_snakefile(runs, None if name == "shape" else name)
        variants[name] = (plain_copy(tmp / name, runs, text), dry)
    variants["minimal"] = (plain_copy(tmp / "minimal", runs, minimal_snakefile(runs)), dry)
    return variants


def measure(variants: dict[str, tuple[Path, list[str]]], reps: int) -> dict[str, list[float]]:
    """Wall times of every variant's dry run, interleaved, after one warm-up round."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for rep in range(reps + 1):
        for name, (cwd, argv) in variants.items():
            seconds = run(argv, cwd)[0]
            if rep:
                times[name].append(seconds)
    return times


def render(data: dict[str, Any]) -> str:
    """The Markdown report."""
    times = data["times"]
    med = {name: statistics.median(values) for name, values in times.items()}
    rows = [
        f"| {name} | {ABLATIONS.get(name, LABELS.get(name, ''))} | {med[name]:.2f} s "
        f"({min(times[name]):.2f}-{max(times[name]):.2f}) | {med[name] / med['shape']:.2f} "
        f"| {med[name] / med['minimal']:.2f}x |"
        for name in times
    ]
    facts = data["facts"]
    return "\n".join(
        [
            f"# What the run rule's declarations cost a {data['points']:,}-point dry run",
            "",
            f"- date: {facts['date']}",
            f"- reproduce: `.venv/bin/python benchmarks/bench_rule_shape.py --points "
            f"{data['points']} --reps {data['reps']}` (from the repository root)",
            f"- {data['points']} sweep points ({data['points'] + 1} runs); `snakemake -n "
            f"--quiet` with nothing run yet; {data['reps']} interleaved repetitions after a "
            "warm-up round; medians, with (min-max)",
            f"- load average (1/5/15 min) at start {fmt_load(facts['loadavg_start'])}, at end "
            f"{fmt_load(facts['loadavg_end'])}; total {facts['total_s']:.0f} s; 2 shared cores",
            "",
            "`workflow` is this workflow's own dry run (profile short, runner "
            "`[python, -c, pass]`); `shape` a plain Snakefile declaring what run_simulation "
            "declares, with the same consumers (rule all asks for every resource plot, two "
            "aggregates for every record); each other row takes one kind of declaration away "
            "from `shape`; `minimal` is the plain Snakefile the sweep benchmark compares with.",
            "",
            "| variant | what it declares | dry run | of shape | of minimal |",
            "|---|---|---|---|---|",
            *rows,
            "",
        ]
    )


def main() -> int:
    """Run the benchmark and write its results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=10_000, help="sweep points (default 10000)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    start, load_start = time.perf_counter(), os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-shape-") as tmp:
        variants = prepare(Path(tmp), args.points)
        times = measure(variants, args.reps)
    data = {
        "points": args.points,
        "reps": args.reps,
        "times": times,
        "facts": run_facts(start, load_start),
    }
    write_results(args.out_dir, "rule_shape", data, render(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
