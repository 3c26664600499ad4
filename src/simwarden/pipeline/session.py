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
