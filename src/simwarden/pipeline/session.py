"""The Snakemake process that runs the workflow, as the Snakefile's ``onstart:`` handler records it.

Snakemake leaves its lock (``.snakemake/locks/``) behind when it is killed outright, and the runs
it had started look ``running`` for ever. :func:`write_snakemake_process` stores the pid and
psutil's start time of the Snakemake process in :data:`layout.SNAKEMAKE_PROCESS` (a JSON object
``{"pid": int, "create_time": float}``), so ``simwarden status`` tells a live Snakemake from a
dead one (``simwarden.results.attempts.snakemake_process`` reads it; a pid reused by another
process has another start time).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from simwarden.pipeline import layout


def write_snakemake_process(root: str | os.PathLike[str] = ".", pid: int | None = None) -> Path:
    """Record process ``pid`` (default: this one, the Snakemake that runs the handlers) in
    ``<root>/.snakemake/simwarden/snakemake.json``, atomically; returns that path."""
    import psutil

    from simwarden.core.fsutil import write_json_atomic

    pid = os.getpid() if pid is None else pid
    path = Path(root) / layout.SNAKEMAKE_PROCESS
    write_json_atomic(path, {"pid": pid, "create_time": psutil.Process(pid).create_time()})
    return path


def runs_settled(dag: object, runs: Iterable[str], rule: str = "run_simulation") -> bool:
    """Whether Snakemake's ``dag`` (``workflow.dag`` in an ``onsuccess:`` handler) holds a
    ``rule`` job for every one of ``runs``, each finished by this invocation or with nothing to
    do: then every run is up to date, and its record (or its refused parameter set) is what
    ``simwarden status`` would say of it. False whenever that is not certain: a run outside the
    DAG (other targets, ``--omit-from``), a job not run (``--until`` elsewhere), no DAG, or a
    Snakemake whose DAG reads otherwise (this reads ``jobs``, ``finished`` and ``needrun``)."""
    try:
        done = {
            getattr(job.wildcards, "run", None)
            for job in dag.jobs  # type: ignore[attr-defined]
            if job.rule.name == rule and (dag.finished(job) or not dag.needrun(job))  # type: ignore[attr-defined]
        }
    except (AttributeError, TypeError):
        return False
    return set(runs) <= done
