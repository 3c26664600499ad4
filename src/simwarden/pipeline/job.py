"""One ``run_simulation`` job: a simulation under the warden, its record kept when it fails.

The decisions are pure functions of the job and its :class:`~simwarden.pipeline.config.RunConfig`
(:func:`warden_options`, :func:`simulation_env`, :func:`run_context`); :func:`run_simulation`
around them reads the inputs, prepares the directories, runs the warden and keeps what a failed
attempt leaves.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simwarden.core.log import say
from simwarden.pipeline.config import RunConfig
from simwarden.pipeline.layout import attempt_record_path, kept_attempts
from simwarden.pipeline.scripting import logging_to

if TYPE_CHECKING:
    from simwarden.warden import RunOptions, RunResult

# Builds the environment that makes a Python simulation save its figures:
# (figures_dir, formats, run context, PYTHONPATH it would have had) -> variables to add.
# simwarden.results.figures.autosave_env is the one the rule script passes.
FigureEnv = Callable[[Path, Sequence[str], Mapping[str, Any], str | None], dict[str, str]]


@dataclass
class SimulationJob:
    """Everything one ``run_simulation`` job needs, unpacked from Snakemake's object."""

    run: str
    params_file: str
    code: str
    record: str
    samples: str
    outdir: str
    log: str
    runner: Mapping[str, Any]
    run_config: RunConfig
    mem_mb: int | None
    runtime_min: float | None
    attempt: int = 1  # Snakemake's attempt, passed by the rule (resources.attempt)
    figures_dir: str | None = None  # every figure is saved here at the end (with figure_env)
    figure_formats: tuple[str, ...] = ()
    figure_env: FigureEnv | None = None


def run_simulation(job: SimulationJob) -> int:
    """Run one simulation under the warden; returns its exit code (0 means accepted).

    A failed attempt keeps its record beside the log as ``<log>.attempt<N>.record.json``, because
    Snakemake deletes a failed job's outputs; the data directory of a failed attempt is removed so
    it can never pass for a complete result. Messages go to stderr and the job's log.
    """
    from simwarden.pipeline.runners import RunnerSpec, build_argv
    from simwarden.warden import run

    with logging_to(job.log):
        provenance = json.loads(Path(job.code).read_text())
        params = json.loads(Path(job.params_file).read_text())
        spec = RunnerSpec.from_config(job.runner)
        fresh = _fresh_directories(job)
        argv = build_argv(
            spec,
            repo=Path(provenance["path"]),
            params_file=Path(job.params_file).resolve(),
            outdir=Path(job.outdir).resolve(),
            run=job.run,
            params=params,
        )
        context = run_context(job, provenance, params)
        env = simulation_env(job, os.environ, context, figures=spec.kind in ("python", "command"))
        _prepare_logs(job)
        result = run(argv, warden_options(job, env, context))
        code: int = result.exit_code
        if code == 0 and spec.kind == "bonsai":
            code = _check_bonsai(job, result)
        if code != 0:
            _keep_failed_attempt(job, result, fresh)
        return code


def warden_options(
    job: SimulationJob, env: Mapping[str, str], context: Mapping[str, Any]
) -> RunOptions:
    """The warden's options for ``job``: limits from its resources and run config, its files,
    the stop signal and grace, ``env`` and ``context``. Pure: reads and writes nothing."""
    from simwarden.core.units import parse_size
    from simwarden.warden import Limits, RunOptions

    config = job.run_config
    mem = parse_size(job.mem_mb, "resources.mem_mb") if job.mem_mb else None
    warn = config.mem_warn_fraction
    return RunOptions(
        limits=Limits(
            mem_bytes=mem,
            timeout_s=config.time_limit_s(job.runtime_min),
            mem_warn_bytes=int(mem * warn) if mem and warn else None,
        ),
        record=job.record,
        samples=job.samples,
        log=job.log,
        quiet=True,
        stop_signal=config.stop_signal,
        grace_s=config.grace_s,
        cwd=job.outdir,
        env=dict(env),
        context=dict(context),
        label=f"run {job.run} (attempt {job.attempt})",
        # A Snakemake killed outright (SIGKILL, a lost login node) must not leave runs behind.
        stop_when_orphaned=True,
    )


def simulation_env(
    job: SimulationJob, base: Mapping[str, str], context: Mapping[str, Any], *, figures: bool
) -> dict[str, str]:
    """The simulation's environment: ``base`` without the warden's SMTP settings, the run
    config's ``env``, ``SIMWARDEN_RUN_ID``/``_PARAMS``/``_OUTDIR``, and with ``figures`` (a
    Python or command runner) and a figures directory, what ``job.figure_env`` adds."""
    env = {
        # Not the warden's own SMTP settings: a simulation has no business with the password.
        **{k: v for k, v in base.items() if not k.startswith("SIMWARDEN_SMTP_")},
        **dict(job.run_config.env),
        "SIMWARDEN_RUN_ID": job.run,
        "SIMWARDEN_PARAMS": str(Path(job.params_file).resolve()),
        "SIMWARDEN_OUTDIR": str(Path(job.outdir).resolve()),
    }
    # Even with no formats, the hook keeps plt.show() from blocking or opening a window.
    if figures and job.figures_dir and job.figure_env is not None:
        figures_dir = Path(job.figures_dir).resolve()
        env.update(job.figure_env(figures_dir, job.figure_formats, context, env.get("PYTHONPATH")))
    return env


def run_context(
    job: SimulationJob, provenance: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    """What a record, a table row or a figure's metadata says about where a run came from."""
    from simwarden.pipeline.params import params_hash

    return {
        "run": job.run,
        "repository": provenance.get("url"),
        "commit": provenance.get("commit"),
        "params_hash": params_hash(params),
        "run_config": job.run_config.name,
        "attempt": job.attempt,
        "mem_mb": job.mem_mb,
        "runtime_min": job.runtime_min,
    }


def _fresh_directories(job: SimulationJob) -> list[Path]:
    """Empty data (and figures) directories: nothing of an earlier attempt may remain."""
    fresh = [Path(job.outdir), *([Path(job.figures_dir)] if job.figures_dir else [])]
    for directory in fresh:
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
    return fresh


def _prepare_logs(job: SimulationJob) -> None:
    for path in (job.record, job.samples, job.log):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    if job.attempt == 1:  # kept records of an earlier invocation's failed attempts are history
        for _, stale in kept_attempts(job.log):
            stale.unlink(missing_ok=True)


def _check_bonsai(job: SimulationJob, result: RunResult) -> int:
    """Bonsai exits 0 when its workflow threw: 1 and a record that says why, if the log shows
    a .NET exception; else 0."""
    from simwarden.core.fsutil import write_json_atomic
    from simwarden.pipeline.runners import bonsai_failure

    failure = bonsai_failure(Path(job.log).read_text(errors="replace"))
    if not failure:
        return 0
    message = f"Bonsai exited 0 but its workflow threw: {failure}"
    say(message)
    # The record must say why the run failed, not "exited 0" (the kept copy is read).
    write_json_atomic(job.record, {**result.record, "exit_code": 1, "message": message})
    return 1


def _keep_failed_attempt(job: SimulationJob, result: RunResult, fresh: list[Path]) -> None:
    kept = attempt_record_path(job.log, job.attempt)
    shutil.copyfile(job.record, kept)
    for directory in fresh:
        shutil.rmtree(directory, ignore_errors=True)
    say(
        f"run {job.run} failed (attempt {job.attempt}): {result.record['message']}"
        f"; record kept at {kept}"
    )
