"""What the workflow benchmarks share: a private copy of the workflow and the machine facts.

Imported by ``bench_pipeline.py``, ``bench_status.py`` and ``bench_sweep.py`` (run as scripts from
the repository root, so this directory is on ``sys.path``).
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
SNAKEMAKE = str(VENV_BIN / "snakemake")
COPY_ITEMS = ("Snakefile", "rules", "scripts", "config", "workflow", "profiles")
BUNDLE = Path("examples") / "demo-sim.bundle"


def copy_workflow(dest: Path) -> Path:
    """Copy the workflow parts and the demo bundle into the new directory ``dest``."""
    dest.mkdir(parents=True)
    for item in COPY_ITEMS:
        src = ROOT / item
        if src.is_dir():
            shutil.copytree(src, dest / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / item)
    # Snakemake would apply a profiles/default/ on top of --profile (the workflow refuses it).
    shutil.rmtree(dest / "profiles" / "default", ignore_errors=True)
    (dest / BUNDLE.parent).mkdir()
    shutil.copy2(ROOT / BUNDLE, dest / BUNDLE)
    return dest


def machine() -> dict[str, Any]:
    """Cores, memory and versions of the machine the numbers come from."""
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    sm = subprocess.run([SNAKEMAKE, "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024**2, 1),
        "python": platform.python_version(),
        "snakemake": sm,
        "platform": platform.platform(),
    }


def fmt_load(load: tuple[float, ...] | list[float]) -> str:
    """A load-average triple, ``1.4/1.2/1.6``."""
    return "/".join(f"{x:.1f}" for x in load)


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, str, str]:
    """Run ``argv`` in ``cwd``; return (wall time, stdout, stderr). Raise with the output's
    tail when it fails."""
    import time

    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-3000:]
        raise RuntimeError(f"{argv} in {cwd} exited {proc.returncode}:\n{tail}")
    return elapsed, proc.stdout, proc.stderr


# Runs the Python program argv[2:] (a script such as the venv's ``snakemake``) in this process, as
# its own interpreter would, then writes to argv[1] the CPU seconds of this process and of every
# process it started (reaped, with their own descendants), as "OWN STARTED".
_CPU_SPLIT = """\
import resource, runpy, sys
out, sys.argv = sys.argv[1], sys.argv[2:]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
finally:
    own = resource.getrusage(resource.RUSAGE_SELF)
    started = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out, "w") as handle:
        handle.write(f"{own.ru_utime + own.ru_stime} {started.ru_utime + started.ru_stime}")
"""


def run_cpu_split(
    argv: list[str], cwd: Path, env: dict[str, str] | None = None
) -> tuple[float, float, float]:
    """Run the Python program ``argv`` (its first item a Python script) in ``cwd`` as
    :func:`run` does; return (wall time, CPU seconds of its own process, CPU seconds of every
    process it started). For Snakemake: its main process, and its jobs with what they ran."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cpu"
        wall = run([sys.executable, "-c", _CPU_SPLIT, str(out), *argv], cwd, env)[0]
        own, started = (float(x) for x in out.read_text().split())
    return wall, own, started


def run_facts(start: float, load_start: tuple[float, float, float]) -> dict[str, Any]:
    """What every report says about its own run: when, with which arguments, the machine, the
    total time since ``start`` (``time.perf_counter()``), the load average at the start and now."""
    import time

    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "argv": " ".join(sys.argv[1:]),
        "machine": machine(),
        "total_s": time.perf_counter() - start,
        "loadavg_start": load_start,
        "loadavg_end": os.getloadavg(),
    }


def write_results(out_dir: Path, name: str, data: dict[str, Any], report: str) -> None:
    """Write ``<name>.json`` (every number) and ``<name>.md`` (the report) under ``out_dir``,
    made if missing, and print the report."""
    import json

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.json").write_text(json.dumps(data, indent=1) + "\n")
    (out_dir / f"{name}.md").write_text(report)
    print(report)
