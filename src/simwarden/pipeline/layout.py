"""The workflow's layout: every rule name and every path the rules declare, in one place.

The ``.smk`` files take their ``input:``/``output:``/``log:``/``benchmark:`` paths from here, and
the readers (benchmark table, status board, plots) find files through the same names, so a path
changes in one place. Paths are relative to the workflow directory; ``{run}`` is the run id.
Stdlib only and cheap to import: the Snakefile imports it at parse time.
"""

from __future__ import annotations

import os
from pathlib import Path

# Rule names, as the .smk files declare them.
FETCH_CODE = "fetch_code"
VALIDATE_PARAMS = "validate_params"
RUN_SIMULATION = "run_simulation"
PLOT_RESOURCES = "plot_resources"
COLLECT_BENCHMARKS = "collect_benchmarks"
PLOT_SUMMARY = "plot_summary"
# The rules that run once per run id; status judges a run by these jobs.
PER_RUN_RULES = (VALIDATE_PARAMS, RUN_SIMULATION)

RESULTS = "results"
LOGS = "logs"
BENCHMARKS = "benchmarks"

PROVENANCE = f"{RESULTS}/code/provenance.json"
PARAMS = f"{RESULTS}/params/{{run}}.json"
RUN_DIR = f"{RESULTS}/runs/{{run}}"
DATA = f"{RUN_DIR}/data"
RECORD = f"{RUN_DIR}/record.json"
SAMPLES = f"{RUN_DIR}/samples.tsv"
FIGURES = f"{RESULTS}/figures/{{run}}"
RESOURCES_PLOT = f"{RESULTS}/plots/{{run}}.resources.png"
TABLE_CSV = f"{RESULTS}/benchmarks.csv"
TABLE_H5 = f"{RESULTS}/benchmarks.h5"
TABLE_HTML = f"{RESULTS}/benchmarks.html"
SUMMARY_PLOT = f"{RESULTS}/plots/summary.png"


def log(rule: str, run: str = "{run}") -> str:
    """``logs/<rule>/<run>.log``; a rule that runs once uses its own name as ``run``."""
    return f"{LOGS}/{rule}/{run}.log"


def benchmark(rule: str, run: str = "{run}") -> str:
    """``benchmarks/<rule>/<run>.tsv``: Snakemake's ``benchmark:`` file of one job."""
    return f"{BENCHMARKS}/{rule}/{run}.tsv"


def for_run(template: str, run: str) -> str:
    """A ``{run}`` path template filled in for one run id."""
    return template.replace("{run}", run)


def attempt_record_path(log_path: str | os.PathLike[str], attempt: int) -> Path:
    """Where a failed attempt's record is kept: beside the job's log (Snakemake deletes a failed
    job's outputs), as ``<log>.attempt<N>.record.json``."""
    return Path(f"{os.fspath(log_path)}.attempt{attempt}.record.json")


def parse_attempt_record(name: str) -> tuple[str, int] | None:
    """``(log file name, N)`` for a file named ``<log>.attempt<N>.record.json``, else None."""
    head, dot, number = name.removesuffix(".record.json").rpartition(".attempt")
    if not (dot and head and number.isdigit() and name.endswith(".record.json")):
        return None
    return head, int(number)


def kept_attempts(log_path: str | os.PathLike[str]) -> list[tuple[int, Path]]:
    """``(N, path)`` of every record kept beside ``log_path``, in attempt order; [] if none."""
    log_path = Path(log_path)
    try:
        names = os.listdir(log_path.parent)
    except OSError:
        return []
    found = [
        (parsed[1], log_path.parent / name)
        for name in names
        if (parsed := parse_attempt_record(name)) and parsed[0] == log_path.name
    ]
    return sorted(found)
