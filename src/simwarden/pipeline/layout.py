"""The workflow's layout: every rule name and every path the rules declare, in one place.

The ``.smk`` files take their ``input:``/``output:``/``log:``/``benchmark:`` paths from here, and
the readers (benchmark table, status board, plots) find files through the same names, so a path
changes in one place. Paths are relative to the workflow directory; ``{run}`` is the run id
(``small``, ``lif/small@v0.3``: segments joined by ``/``, so run paths nest) and ``{code}`` a
checkout's code id (one per repository and commit, see :mod:`simwarden.pipeline.plan`).
Stdlib only and cheap to import: the Snakefile imports it at parse time.
"""

from __future__ import annotations

import os
from pathlib import Path

# Rule names, as the .smk files declare them.
FETCH_CODE = "fetch_code"
BUILD_ENV = "build_env"
VALIDATE_PARAMS = "validate_params"
RUN_SIMULATION = "run_simulation"
COLLECT_BENCHMARKS = "collect_benchmarks"
PLOT_SUMMARY = "plot_summary"
CHECK_RUNS = "check_runs"
# The rules that run once per run id; status judges a run by these jobs.
PER_RUN_RULES = (RUN_SIMULATION,)

# Legal run ids (the rules' wildcard constraint): segments of [A-Za-z0-9][A-Za-z0-9._@-]* joined
# by "/" (so never "..", never an absolute path); code ids are one such segment.
RUN_SEGMENT = r"[A-Za-z0-9][A-Za-z0-9._@-]*"
RUN_PATTERN = rf"{RUN_SEGMENT}(?:/{RUN_SEGMENT})*"
CODE_PATTERN = RUN_SEGMENT

RESULTS = "results"
LOGS = "logs"
BENCHMARKS = "benchmarks"

# One file per checkout (repository and commit): where its code came from and where it is.
CODE = f"{RESULTS}/code/{{code}}.json"
# The one provenance file older versions wrote; read only for records without a context.
PROVENANCE = f"{RESULTS}/code/provenance.json"
# One file per simulation environment ({env}: the code id and its runner.environment's digest):
# the interpreter a run of that environment uses, and the package versions in it.
ENV = f"{RESULTS}/envs/{{env}}.json"
PARAMS = f"{RESULTS}/params/{{run}}.json"
# Written by the one validate_params job after every run's PARAMS (run -> sha256 of its file),
# and, while some parameter set is refused, every refused run's problems. A leading "_" is never
# a run id, so neither name can be a run's file.
PARAMS_INDEX = f"{RESULTS}/params/_index.json"
PARAMS_ERRORS = f"{RESULTS}/params/_errors.json"
RUN_DIR = f"{RESULTS}/runs/{{run}}"
DATA = f"{RUN_DIR}/data"
RECORD = f"{RUN_DIR}/record.json"
SAMPLES = f"{RUN_DIR}/samples.tsv"
FIGURES = f"{RESULTS}/figures/{{run}}"
# Drawn by the run_simulation job itself at its end (stdlib SVG, simwarden.results.plots.run).
RESOURCES_PLOT = f"{RESULTS}/plots/{{run}}.resources.svg"
TABLE_CSV = f"{RESULTS}/benchmarks.csv"
TABLE_H5 = f"{RESULTS}/benchmarks.h5"
TABLE_HTML = f"{RESULTS}/benchmarks.html"
# Drawn by the plot_summary job (stdlib SVG, simwarden.results.plots.summary).
SUMMARY_PLOT = f"{RESULTS}/plots/summary.svg"
# The report's page of failed runs: cause, where their files are kept, their kept figures.
FAILURES_HTML = f"{RESULTS}/failures.html"
# Did the results change? Per simulation/param set at two commits: both runs' time and memory and
# whether their outputs are identical (the report's page, and one CSV row per pair and file).
COMMITS_HTML = f"{RESULTS}/commits.html"
COMMITS_CSV = f"{RESULTS}/commits.csv"
# What failed attempts made, kept where nothing can pass it for a complete result: one directory
# per attempt, ``attempt-<N>/`` holding record.json, samples.tsv, log-tail.txt, data/, figures/.
FAILED = f"{RESULTS}/failed"
FAILED_RUN = f"{FAILED}/{{run}}"
# Written when a run's last attempt failed and kept for good: an input of run_simulation, so the
# next invocation redoes exactly the failed runs (newer than their outputs), and nothing else.
RERUN_MARKER = f"{LOGS}/{RUN_SIMULATION}/{{run}}.failed"
# Written by the Snakefile's onstart handler: the Snakemake process that holds the lock (pid and
# start time), so ``simwarden status`` tells a live Snakemake from a killed one.
SNAKEMAKE_PROCESS = ".snakemake/simwarden/snakemake.json"
# Which installed distribution provides which module, per interpreter and state of its import
# path: what each run's record of imported packages is made from, scanned once per environment.
DISTRIBUTIONS_CACHE = ".snakemake/simwarden/distributions"
# Written by check_runs (a target of rule all) when every run's record says it ended well; when
# one does not, check_runs fails, so Snakemake's exit status stays non-zero while a run failed.
RUNS_OK = f"{RESULTS}/runs-ok.txt"


def log(rule: str, run: str = "{run}") -> str:
    """``logs/<rule>/<run>.log``; a rule that runs once uses its own name as ``run``."""
    return f"{LOGS}/{rule}/{run}.log"


def benchmark(rule: str, run: str = "{run}") -> str:
    """``benchmarks/<rule>/<run>.tsv``: Snakemake's ``benchmark:`` file of one job."""
    return f"{BENCHMARKS}/{rule}/{run}.tsv"


def for_run(template: str, run: str) -> str:
    """A ``{run}`` path template filled in for one run id."""
    return template.replace("{run}", run)


def for_code(template: str, code: str) -> str:
    """A ``{code}`` path template filled in for one code id."""
    return template.replace("{code}", code)


def failed_attempt_dir(run: str, attempt: int, root: str | os.PathLike[str] = ".") -> Path:
    """``results/failed/<run>/attempt-<N>``: where attempt N of ``run`` keeps what it made."""
    return Path(root) / for_run(FAILED_RUN, run) / f"attempt-{attempt}"


def where_kept(run: str, attempt: int) -> str:
    """``results/failed/<run>/attempt-<N>/``: the kept attempt's place, relative to the
    workflow directory, as a person would type it."""
    return f"{failed_attempt_dir(run, attempt, '').as_posix()}/"


def failed_attempts(run: str, root: str | os.PathLike[str] = ".") -> list[tuple[int, Path]]:
    """``(N, directory)`` of every kept failed attempt of ``run``, in attempt order; [] if none."""
    base = Path(root) / for_run(FAILED_RUN, run)
    try:
        names = os.listdir(base)
    except OSError:
        return []
    found = [
        (int(number), base / name)
        for name in names
        if (number := name.removeprefix("attempt-")).isdigit() and name.startswith("attempt-")
    ]
    return sorted(found)


def refused_params(root: str | os.PathLike[str] = ".") -> dict[str, list[str]]:
    """Run -> the problem lines of its refused parameter set, from :data:`PARAMS_ERRORS` under
    ``root`` (written while some set is refused); {} when there is none or it cannot be read."""
    import json

    try:
        found = json.loads((Path(root) / PARAMS_ERRORS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(found, dict):
        return {}
    return {str(run): [str(line) for line in lines] for run, lines in found.items() if lines}
