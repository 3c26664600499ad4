"""What the pipeline's own plots cost, against the matplotlib PNGs they replaced: the per-run
resource plot (``plot_run``, stdlib SVG) on 300, 3,000 and 100,000 samples, in process and in a
fresh Python; and the summary plot's job (``python -m simwarden.jobs plot_summary``) on a
benchmark CSV of 100 and 10,000 rows.

Run from the repository root::

    .venv/bin/python benchmarks/bench_plot.py [--part all|run|summary] [--repeat 30] \
        [--rounds 15] [--out benchmarks/results/plot.md]

In process: the median (and best, worst) of ``--repeat`` calls after one warm-up, split into
reading the samples, drawing and writing. Fresh process: ``python -c`` importing and calling
``plot_run`` once, minus ``python -c`` importing what the run_simulation job has already
imported anyway (simwarden.warden.record), interleaved A/B, medians. The baseline is
``src/simwarden/results/plots/run.py`` of ``git show <--baseline>`` (default HEAD) when it is the
matplotlib version; it is skipped otherwise. Bytecode is cached (PYTHONDONTWRITEBYTECODE popped).

The summary job, per table size, ``--rounds`` interleaved rounds of three fresh processes: the
new job; the old one (``<--baseline>``'s package, extracted with ``git archive``, drawing the
matplotlib PNG from ``read_table``'s DataFrame after importing what a ``script:`` job's preamble
imports); and ``python -c pass``. Medians (best-worst) and the new job's share of the old.
``--part summary`` rewrites only the summary section of ``--out``, ``--part run`` only the rest.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchkit import ROOT, fmt_load, machine

sys.path.insert(0, str(ROOT / "src"))
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

from simwarden.results.plots.run import load_samples, plot_run, run_figure  # noqa: E402
from simwarden.results.plots.svg import write_svg  # noqa: E402
from simwarden.results.table import RECORD_COLUMNS, SNAKEMAKE_COLUMNS  # noqa: E402
from simwarden.warden.record import format_sample_row, samples_header  # noqa: E402

SIZES = (300, 3_000, 100_000)
COSTS = ("plot_run", "read samples", "read + draw")
RECORD = {
    "reason": "memory",
    "exit_code": 137,
    "wall_s": 0.0,
    "message": "stopped (memory): memory 401.8 MB over limit 400.0 MB",
    "stopped_by": "poll",
    "limits": {"mem_bytes": 400_000_000, "mem_warn_bytes": 320_000_000, "timeout_s": 3600},
    "peak_rss_bytes": 0,
    "progress": 0.5,
    "context": {"run": "bench", "commit": "0123456789abcdef", "run_config": "std", "attempt": 1},
}


def make_run(directory: Path, count: int) -> tuple[Path, Path]:
    """A run of ``count`` samples 0.1 s apart: memory growing to 401.8 MB with noise, one spike,
    CPU near 100 %, progress reported; its record a memory stop."""
    directory.mkdir(parents=True)
    rows = [samples_header()]
    for i in range(count):
        rss = 50_000_000 + int(351_800_000 * i / count) + (i * 7919 % 1000) * 1000
        rows.append(
            format_sample_row(
                i * 0.1,
                rss_bytes=rss,
                cpu_percent=95 + i % 10,
                processes=2,
                read_b=0,
                write_b=0,
                progress=i / count / 2,
                mem_limit_bytes=400_000_000,
            )
        )
    (directory / "samples.tsv").write_text("".join(rows))
    record = RECORD | {"wall_s": count * 0.1, "peak_rss_bytes": 401_800_000}
    (directory / "record.json").write_text(json.dumps(record))
    return directory / "samples.tsv", directory / "record.json"


def ms(values: list[float]) -> str:
    """``median (best-worst)`` in ms."""
    return (
        f"{statistics.median(values) * 1e3:.1f} ms "
        f"({min(values) * 1e3:.1f}-{max(values) * 1e3:.1f})"
    )


def in_process(samples: Path, record: Path, out: Path, repeat: int) -> dict[str, list[float]]:
    """plot_run whole, and its parts: reading the samples, reading and drawing (record, attempts,
    SVG text), writing (atomic, fsynced); interleaved, one of each per round, after a warm-up
    round, so a change of load hits all four alike."""
    document, _ = run_figure(samples, record, None)
    calls: dict[str, Callable[[], object]] = {
        "plot_run": lambda: plot_run(samples, record, out),
        "read samples": lambda: load_samples(samples),
        "read + draw": lambda: run_figure(samples, record, None),
        "write": lambda: write_svg(document, out),
    }
    times: dict[str, list[float]] = {name: [] for name in calls}
    for round_ in range(repeat + 1):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            if round_:
                times[name].append(time.perf_counter() - start)
    return times


def fresh_process(code: str, base: str, pairs: int, env: dict[str, str]) -> list[float]:
    """Seconds ``python -c code`` takes over ``python -c base``, per interleaved pair."""
    differences = []
    for _ in range(pairs):
        spent = []
        for snippet in (code, base):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", snippet], check=True, env=env)
            spent.append(time.perf_counter() - start)
        differences.append(spent[0] - spent[1])
    return differences


def baseline_module(ref: str, into: Path) -> Path | None:
    """The matplotlib run.py of ``ref`` as ``old_run_plot.py`` in ``into``, or None."""
    shown = subprocess.run(
        ["git", "show", f"{ref}:src/simwarden/results/plots/run.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if shown.returncode != 0 or "new_figure" not in shown.stdout:
        return None
    (into / "old_run_plot.py").write_text(shown.stdout)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("all", "run", "summary"), default="all")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--baseline", default="HEAD")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/plot.md")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-plot-"))
    if args.part in ("all", "run"):
        bench_run_plot(args, scratch)
    if args.part in ("all", "summary"):
        bench_summary(args, scratch)


def bench_run_plot(args: argparse.Namespace, scratch: Path) -> None:
    """The resource plot's table and verdict into ``--out`` (its summary section kept)."""
    load_start = os.getloadavg()
    env = os.environ | {"PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{scratch}"}
    old = baseline_module(args.baseline, scratch)
    lines = []
    for count in SIZES:
        samples, record = make_run(scratch / f"run{count}", count)
        repeat = args.repeat if count < 100_000 else max(5, args.repeat // 3)
        parts = in_process(samples, record, scratch / f"run{count}.svg", repeat)
        call = f"plot_run({str(samples)!r}, {str(record)!r}, {str(scratch / 'fresh.svg')!r})"
        new = fresh_process(
            f"from simwarden.results.plots.run import plot_run; {call}",
            "import simwarden.warden.record",
            args.pairs,
            env,
        )
        row = {"samples": count, **{k: ms(v) for k, v in parts.items()}, "fresh": ms(new)}
        if old is not None:
            old_call = call.replace("fresh.svg", "fresh.png")
            row["old fresh"] = ms(
                fresh_process(
                    f"from old_run_plot import plot_run; {old_call}",
                    "import simwarden.warden.record",
                    args.pairs,
                    env,
                )
            )
        print(json.dumps(row), flush=True)
        lines.append(row)
    write_report(args, lines, load_start, old is not None)


def verdict(rows: list[dict[str, object]]) -> str:
    """Each target against the median of ``plot_run`` in process."""
    lines = []
    for row in rows:
        count = int(str(row["samples"]))
        target = 5.0 if count <= 1000 else 50.0 if count >= 100_000 else None
        if target is None:
            continue
        median, read, draw = (float(str(row[k]).split()[0]) for k in COSTS)
        result = "pass" if median <= target else "miss"
        lines.append(
            f"- {count} samples: median {median:.1f} ms against {target:g} ms: {result} "
            f"(reading samples.tsv {read:.1f} ms, the rest of reading and drawing "
            f"{draw - read:.1f} ms)"
        )
    return (
        "Verdict (medians in process):\n\n"
        + "\n".join(lines)
        + "\n\nAt 100,000 samples most of the time is reading: the file is parsed column-wise "
        "(one `str.split` of the whole text, `float` mapped over the time, memory, CPU and "
        "progress columns), about the least pure Python can do per cell. The rest is a few "
        "C-level passes over every value (finite and in time order, the largest value, the "
        "min/max per pixel column) and drawing at most two points per pixel column.\n"
    )


def write_report(
    args: argparse.Namespace,
    rows: list[dict[str, object]],
    load_start: tuple[float, ...],
    baseline: bool,
) -> None:
    """benchmarks/results/plot.md: the table, the machine, the command."""
    info = machine()
    columns = ["samples", "plot_run", "read samples", "read + draw", "write", "fresh"]
    columns += ["old fresh"] if baseline else []
    header = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    table = "".join("| " + " | ".join(str(r[c]) for c in columns) + " |\n" for r in rows)
    text = f"""# The per-run resource plot: stdlib SVG

- date: {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
- machine: {info["cores"]} cores, {info["memory_gib"]} GiB, {info["platform"]}, Python \
{info["python"]}
- reproduce: `.venv/bin/python benchmarks/bench_plot.py --repeat {args.repeat} --pairs \
{args.pairs}` (from the repository root)
- load average at start {fmt_load(load_start)}, at end {fmt_load(os.getloadavg())} (2 shared \
cores: other jobs ran meanwhile)

Targets: `plot_run` at most 5 ms for a few hundred samples, at most 50 ms for 100,000.
Times are median (best-worst) of {args.repeat} calls in process after a warm-up ({
        max(5, args.repeat // 3)
    } at 100,000 samples); "write" is the atomic, fsynced write of the SVG alone.
"fresh" is a new Python importing the plot and drawing once, minus a new Python importing
`simwarden.warden.record` (which the run_simulation job has loaded already), {args.pairs}
interleaved pairs; "old fresh" the same for the matplotlib PNG version of `{args.baseline}`.

{header}{table}
{verdict(rows)}
"""
    replace_section(args.out, text, summary=False)


# -- the summary plot's job ------------------------------------------------------------------------
SUMMARY_HEADING = "\n## The summary plot (rule plot_summary)\n"
SUMMARY_SIZES = (100, 10_000)
CAUSES = (
    "ModuleNotFoundError: No module named 'brian' (sims/missing:3)",
    "stopped (memory): memory 801.0 MB over limit 800.0 MB",
)


def replace_section(out: Path, text: str, *, summary: bool) -> None:
    """Write ``text`` as the summary section of ``out`` (``summary``) or as the rest of it,
    keeping the other part as it is."""
    old = out.read_text() if out.exists() else ""
    head, _, tail = old.partition(SUMMARY_HEADING)
    if summary:
        result = head.rstrip("\n") + "\n" + SUMMARY_HEADING + text
    else:
        result = text.rstrip("\n") + "\n" + (SUMMARY_HEADING + tail if tail else "")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(result)
    print(f"wrote {out}")


def make_table(path: Path, count: int) -> Path:
    """A benchmark CSV of ``count`` runs with the table's columns (RECORD_COLUMNS, 12 params,
    SNAKEMAKE_COLUMNS): mostly runs that exited ok, every 50th failed with a cause, every 70th
    stopped for memory after a retry; fixed seed."""
    rng = random.Random(count)
    params = [f"param.p{i}" for i in range(12)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*RECORD_COLUMNS, *params, *SNAKEMAKE_COLUMNS])
        for i in range(count):
            failed, memory = i % 50 == 7, i % 70 == 3
            fields = {
                "run": f"sweep__x-{i:05d}",
                "reason": "memory" if memory else "exited",
                "exit_code": 137 if memory else 1 if failed else 0,
                "attempts": 2 if memory else 1,
                "error": CAUSES[1] if memory else CAUSES[0] if failed else "",
                "wall_s": round(rng.uniform(0.05, 3.0), 3),
                "peak_rss_mb": round(rng.uniform(5.0, 900.0), 3),
                "commit": "0123456789abcdef0123456789abcdef01234567",
            }
            row = [fields.get(c, "x") for c in RECORD_COLUMNS]
            row += [round(rng.random(), 4) for _ in params]
            row += [round(rng.random(), 2) for _ in SNAKEMAKE_COLUMNS]
            writer.writerow(row)
    return path


def old_package(ref: str, into: Path) -> Path | None:
    """``ref``'s src/ extracted into ``into`` when its summary plot is the matplotlib one."""
    shown = subprocess.run(
        ["git", "show", f"{ref}:src/simwarden/results/plots/summary.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if shown.returncode != 0 or "new_figure" not in shown.stdout:
        return None
    archive = into / "old.tar"
    subprocess.run(
        ["git", "archive", "-o", str(archive), ref, "src/simwarden"], cwd=ROOT, check=True
    )
    with tarfile.open(archive) as tar:
        tar.extractall(into / "old", filter="data")
    return into / "old" / "src"


def summary_commands(table: Path, scratch: Path, old_src: Path | None) -> dict[str, list[str]]:
    """The interleaved processes of one table: new job, old job (when there is a baseline), bare
    Python."""
    new = [sys.executable, "-m", "simwarden.jobs", "plot_summary", str(table)]
    commands = {"new": [*new, str(scratch / "summary.svg")]}
    if old_src is not None:
        commands["old"] = [
            sys.executable,
            "-c",
            "import sys; sys.path.insert(0, sys.argv[1]); "
            "import pickle; import snakemake.script; from snakemake.logging import logger; "
            "from simwarden.pipeline.scripting import guarded; "
            "from simwarden.results.plots import plot_summary; "
            "from simwarden.results.table import read_table; "
            "plot_summary(read_table(sys.argv[2]), sys.argv[3])",
            str(old_src),
            str(table),
            str(scratch / "summary.png"),
        ]
    commands["python -c pass"] = [sys.executable, "-c", "pass"]
    return commands


def bench_summary(args: argparse.Namespace, scratch: Path) -> None:
    """Each table size: ``--rounds`` rounds, one process of each command per round, the order
    rotated every round; then the section of ``--out``."""
    load_start = os.getloadavg()
    old_src = old_package(args.baseline, scratch)
    env = os.environ | {"PYTHONPATH": str(ROOT / "src")}
    rows = []
    for count in SUMMARY_SIZES:
        table = make_table(scratch / f"benchmarks{count}.csv", count)
        commands = summary_commands(table, scratch, old_src)
        for command in commands.values():  # warm-up: bytecode compiled, files cached
            subprocess.run(command, check=True, env=env, capture_output=True)
        times: dict[str, list[float]] = {name: [] for name in commands}
        names = list(commands)
        for round_ in range(args.rounds):
            shift = round_ % len(names)
            for name in names[shift:] + names[:shift]:
                start = time.perf_counter()
                subprocess.run(commands[name], check=True, env=env, capture_output=True)
                times[name].append(time.perf_counter() - start)
        sizes = {"new": (scratch / "summary.svg").stat().st_size}
        if old_src is not None:
            sizes["old"] = (scratch / "summary.png").stat().st_size
        row = {"rows": count, "times": times, "sizes": sizes}
        print(json.dumps({"rows": count, **{k: ms(v) for k, v in times.items()}}), flush=True)
        rows.append(row)
    replace_section(args.out, summary_text(args, rows, load_start), summary=True)


def summary_text(
    args: argparse.Namespace, rows: list[dict[str, Any]], load_start: tuple[float, ...]
) -> str:
    """The summary section: the table, the ratios, what was measured."""
    names = list(rows[0]["times"])
    header = (
        "| rows | " + " | ".join(names) + " | new over bare Python | new / old | SVG | old PNG |\n"
    )
    header += "|" + "---|" * (len(names) + 5) + "\n"
    lines = []
    for row in rows:
        times = row["times"]
        median = {k: statistics.median(v) for k, v in times.items()}
        extra = (median["new"] - median["python -c pass"]) * 1e3
        ratio = f"{median['new'] / median['old']:.3f}" if "old" in median else "n/a"
        sizes = row["sizes"]
        old_size = f"{sizes['old'] / 1000:.0f} kB" if "old" in sizes else "n/a"
        cells = [str(row["rows"]), *(ms(times[k]) for k in names)]
        cells += [f"{extra:.1f} ms", ratio, f"{sizes['new'] / 1000:.1f} kB", old_size]
        lines.append("| " + " | ".join(cells) + " |\n")
    return f"""
- date: {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
- reproduce: `.venv/bin/python benchmarks/bench_plot.py --part summary --rounds {args.rounds}`
- load average at start {fmt_load(load_start)}, at end {fmt_load(os.getloadavg())} (2 shared \
cores: other jobs ran meanwhile)

Wall time of one fresh process each, median (best-worst) of {args.rounds} interleaved rounds
(the order rotated every round, after one warm-up of each). "new": `python -m simwarden.jobs
plot_summary TABLE OUT.svg`, what the rule's `shell:` runs (stdlib `csv`, stdlib SVG). "old": the
package of `{args.baseline}` drawing the matplotlib PNG from `read_table`'s DataFrame, after the
imports of a `script:` job's preamble (`snakemake.script`, `snakemake.logging`) and of
scripts/plot_summary.py; Snakemake's own work to start a `script:` job (writing the script,
pickling the job) comes on top of it and is not counted. The tables have the benchmark
table's columns (RECORD_COLUMNS, 12 parameters, Snakemake's benchmark columns); every 50th run
failed with a cause, every 70th was stopped for memory after a retry.

{header}{"".join(lines)}
{summary_verdict(rows)}"""


def summary_verdict(rows: list[dict[str, Any]]) -> str:
    """Per run of the sweep: what the job costs over a bare Python, new and old."""
    lines = []
    for row in rows:
        median = {k: statistics.median(v) for k, v in row["times"].items()}
        base = median["python -c pass"]
        per_run = f"{(median['new'] - base) / row['rows'] * 1e3:.3f} ms"
        if "old" in median:
            per_run += f" (old: {(median['old'] - base) / row['rows'] * 1e3:.3f} ms)"
        lines.append(f"- {row['rows']} runs: the job over a bare Python, per run: {per_run}")
    return (
        "Per run of a sweep (the job runs once per workflow):\n\n" + "\n".join(lines) + "\n\n"
        "The new job is a Python start-up, ~20 ms of stdlib imports (typing, dataclasses, "
        "pathlib, csv) and the work: at 10,000 rows mostly parsing the CSV (the `csv` module "
        "parses every column of every row) and turning cells into numbers. The SVG stays small "
        "at 10,000 runs: one path of dots per end reason, a dot per whole pixel.\n"
    )


if __name__ == "__main__":
    main()
