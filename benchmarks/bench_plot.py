"""What the per-run resource plot costs: ``plot_run`` (stdlib SVG) on 300, 3,000 and 100,000
samples, in process and in a fresh Python, against the matplotlib PNG it replaced.

Run from the repository root::

    .venv/bin/python benchmarks/bench_plot.py [--repeat 30] [--out benchmarks/results/plot.md]

In process: the median (and best, worst) of ``--repeat`` calls after one warm-up, split into
reading the samples, drawing and writing. Fresh process: ``python -c`` importing and calling
``plot_run`` once, minus ``python -c`` importing what the run_simulation job has already
imported anyway (simwarden.warden.record), interleaved A/B, medians. The baseline is
``src/simwarden/results/plots/run.py`` of ``git show <--baseline>`` (default HEAD) when it is the
matplotlib version; it is skipped otherwise. Bytecode is cached (PYTHONDONTWRITEBYTECODE popped).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchkit import ROOT, fmt_load, machine

sys.path.insert(0, str(ROOT / "src"))
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

from simwarden.results.plots.run import load_samples, plot_run, run_figure  # noqa: E402
from simwarden.results.plots.svg import write_svg  # noqa: E402
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
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--baseline", default="HEAD")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/plot.md")
    args = parser.parse_args()
    load_start = os.getloadavg()
    scratch = Path(tempfile.mkdtemp(prefix="bench-plot-"))
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
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
