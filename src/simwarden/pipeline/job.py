"""One ``run_simulation`` job: one attempt of a simulation under the warden, and what its end
means for the run.

The decisions are pure functions of the job and its :class:`~simwarden.pipeline.config.RunConfig`
(:func:`warden_options`, :func:`simulation_env`, :func:`run_context`, :func:`decide_attempt`);
:func:`run_simulation` around them reads the inputs, prepares the directories, runs the warden
and, through :mod:`simwarden.pipeline.attempts`, keeps what a failed attempt made.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
from pathlib import Path

from simwarden.core.errors import UserError
from simwarden.core.fields import Fields
from simwarden.core.log import say
from simwarden.pipeline import layout
from simwarden.pipeline.codefile import read_code_file
from simwarden.pipeline.manifest import ENV_DISTRIBUTIONS_CACHE, ENV_IMPORTS_FILE
from simwarden.pipeline.scripting import logging_to
from simwarden.warden.record import Record, RunContext
from simwarden.warden.spawn import without_secrets

# Imported where used (a run's job loads only what a run needs: the attempts' machinery when an
# attempt fails, the working copy's for runner workdir: repo); typing for type checkers only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any, TypeAlias

    from simwarden.pipeline.attempts import AttemptFiles
    from simwarden.pipeline.config import RunConfig
    from simwarden.warden import RunOptions, RunResult

    # Builds the environment that makes a Python simulation save its figures:
    # (figures_dir, formats, run context, PYTHONPATH it would have had) -> variables to add.
    # simwarden.results.figures.autosave_env is the one the rule script passes.
    FigureEnv: TypeAlias = Callable[
        [Path, Sequence[str], Mapping[str, Any], str | None], dict[str, str]
    ]


class SimulationJob(Fields):
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
    # The workflow directory: results/failed/ and the rerun marker are found from it.
    workdir: str = "."
    # Which simulation of the config (None: a one-simulation config), which of its parameter
    # sets (None: it has none) and the commit as the config names it; the record's context.
    simulation: str | None = None
    param_set: str | None = None
    ref: str | None = None
    # Provenance for the record: the run_config section as the rule tracks it (no notify, no
    # SMTP setting) and the config files in force (pipeline.manifest.config_files_in_force).
    run_config_section: Mapping[str, Any] | None = None
    config_files: tuple[str, ...] = ()
    # The interpreter of the run's own environment (rule build_env), in place of runner.python.
    python: str | None = None
    env_id: str | None = None  # that environment's id (results/envs/<env_id>.json)
    snakemake_version: str | None = None  # the Snakemake that runs the job (None: look it up)


def run_simulation(job: SimulationJob) -> int:
    """Run one attempt of one simulation under the warden; returns the code the job exits with.

    :func:`decide_attempt` judges the attempt: a success exits 0; a failure keeps what the
    attempt made in ``results/failed/<run>/attempt-<N>/`` and either exits with the warden's code
    (a reason in ``run_config.retry_on`` with attempts left: Snakemake retries with more
    resources) or, when final, writes the run's failure outputs, marks the run to be redone by
    the next invocation and exits 0, so the aggregates still run. One line in the job's log (and
    stderr) says which, and why. The events ``run_config.notify`` chooses go to its notifiers
    (:mod:`simwarden.pipeline.watching`); a delivery problem is one line in the log after the run.

    A run that cannot start (a refused parameter set, a runner the config gets wrong, a command
    that is not there at this commit) is final at once: see :func:`refuse_run`.
    """
    from simwarden.pipeline.watching import say_lines

    with logging_to(job.log):
        notes = io.StringIO()  # said once the warden no longer writes the job's log
        try:
            result, kind, argv, options = _start_and_wait(job, notes)
        except UserError as error:
            return refuse_run(job, error)
        say_lines(notes.getvalue())
        # After the working copy's files were collected into the data directory, so a failed
        # attempt keeps them too.
        record = Record.from_dict(result.record, source=f"record {job.record!r}")
        if kind == "bonsai" and not record.failed:
            record = _check_bonsai(job, record)
        record = _add_provenance(job, record, kind, argv, options)
        return _finish_attempt(job, record)


def _start_and_wait(
    job: SimulationJob, notes: io.StringIO
) -> tuple[RunResult, str, list[str], RunOptions]:
    """Prepare the attempt, run it under the warden and wait for its end: (the warden's result,
    the runner's kind, the argv, the warden's options). A UserError means nothing started."""
    from simwarden.pipeline.runners import RunnerSpec, build_argv
    from simwarden.pipeline.watching import run_notifier
    from simwarden.warden import run

    params = _read_params(job)
    provenance = read_code_file(job.code)
    spec = RunnerSpec.from_config(job.runner)
    if job.python is not None:
        spec = spec.replace(python=job.python)
    _earlier_attempts(job, notes)
    _fresh_directories(job)
    context = run_context(job, provenance, params)
    _prepare_logs(job)
    notifier = run_notifier(job.run_config, notes)
    with contextlib.ExitStack() as stack:
        repo = Path(provenance["path"])
        if spec.workdir == "repo":  # a private copy: the shared checkout stays untouched
            from simwarden.pipeline.workcopy import working_copy

            repo = stack.enter_context(working_copy(repo, Path(job.outdir)))
        argv = build_argv(
            spec,
            repo=repo,
            params_file=Path(job.params_file).resolve(),
            outdir=Path(job.outdir).resolve(),
            run=job.run,
            params=params,
        )
        env = simulation_env(
            job, os.environ, context, figures=spec.kind in ("python", "command"), repo_root=repo
        )
        options = warden_options(job, env, context)
        if spec.workdir == "repo":
            options = options.replace(cwd=str(repo))
        if notifier is not None:
            options = options.replace(notifiers=[notifier])
        result = run(argv, options)
    return result, spec.kind, argv, options


def refuse_run(job: SimulationJob, error: UserError) -> int:
    """The run cannot start (``error`` says why): each line of it said, and the run's failure
    outputs written at once, as for a final failure (:func:`_finish_attempt`): a record with
    reason ``refused``, exit code 125 and ``error``'s lines joined as its message, a samples
    file with only its header, empty data and figures directories; the run marked to be redone
    by the next invocation. Returns 0: Snakemake must not retry it (more resources cannot fix
    it), and the table, plots and report include it; check_runs fails the workflow."""
    from simwarden.pipeline.attempts import (
        NOT_RETRIED_REFUSED,
        refused_record,
        touch_rerun_marker,
        write_run_outputs,
    )

    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    for line in lines:
        say(line)
    context = RunContext(
        run=job.run,
        run_config=job.run_config.name,
        attempt=job.attempt,
        mem_mb=job.mem_mb,
        runtime_min=int(job.runtime_min) if job.runtime_min is not None else None,
        simulation=job.simulation,
        param_set=job.param_set,
        ref=job.ref,
        runner=dict(job.runner),
    )
    if isinstance(error, RefusedParams):  # the record names the run: its problems first
        message = "parameter set refused: " + "; ".join(error.problems)
    else:
        message = "; ".join(lines) or "the run cannot start"
    record = refused_record(message, context)
    write_run_outputs(_attempt_files(job), record)
    touch_rerun_marker(job.run, job.workdir, f"run {job.run} failed: {record.cause}")
    say(f"run {job.run} failed (attempt {job.attempt}): it could not start; {NOT_RETRIED_REFUSED}")
    return 0


def _read_params(job: SimulationJob) -> dict[str, Any]:
    """The run's validated parameters. A refused parameter set (validation wrote its problems
    in place of parameters, or kept the set before for the run's results and listed them in
    _errors.json): the job fails saying every problem, nothing started or written."""
    params = json.loads(Path(job.params_file).read_text())
    kept = layout.refused_params(job.workdir).get(job.run)
    if isinstance(params, dict) and not kept:  # a parameter set: never a refusal (a list)
        return params
    from simwarden.pipeline.validation import refusal  # parse-time machinery: only then

    lines = kept or refusal(params)
    if lines is not None:
        raise RefusedParams(job.run, lines)
    return dict(params)


class RefusedParams(UserError):
    """A run's parameter set was refused: ``problems`` are its lines (file, key, what is
    accepted); the message says them under one line naming the run."""

    def __init__(self, run: str, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        head = f"run {run}: its parameter set is refused; nothing was run"
        super().__init__("\n".join([head, *self.problems]))


def _earlier_attempts(job: SimulationJob, notes: io.StringIO) -> None:
    if layout.failed_attempts(job.run, job.workdir):  # the attempts' machinery only then
        from simwarden.pipeline.attempts import earlier_attempts

        notes.write(earlier_attempts(job.run, job.attempt, job.workdir) or "")


def _add_provenance(
    job: SimulationJob, record: Record, kind: str, argv: Sequence[str], options: RunOptions
) -> Record:
    """The manifest and environment into the attempt's record (before a failure is kept)."""
    from simwarden.pipeline import manifest

    imports = imports_file(job)
    environment = manifest.run_environment(
        kind,
        argv,
        env=options.env or {},
        cwd=options.cwd,
        imports_file=imports,
        config_files=job.config_files,
        env_id=job.env_id,
        snakemake_version=job.snakemake_version,
    )
    imports.unlink(missing_ok=True)
    dirs = (job.outdir, job.figures_dir)
    return manifest.add_provenance(record, job.record, dirs, job.workdir, environment)


def imports_file(job: SimulationJob) -> Path:
    """Where the hook writes what the simulation imported: beside the job's log (not among the
    run's outputs), removed once read."""
    return Path(job.log).with_suffix(".imports.json").absolute()


def _finish_attempt(job: SimulationJob, record: Record) -> int:
    decision = decide_attempt(record, job.attempt, job.run_config)
    if decision.outcome == "success":
        return 0
    from simwarden.pipeline.attempts import keep_attempt, touch_rerun_marker, write_failed_run

    final = decision.outcome in ("final", "stopped")
    record = record.replace(attempts=job.attempt, retry_note=decision.why if final else None)
    files = _attempt_files(job)
    kept = keep_attempt(files, record, job.run, job.attempt, job.workdir)
    if final:
        write_failed_run(files, record, kept, job.workdir)
        touch_rerun_marker(job.run, job.workdir, f"run {job.run} failed: {record.cause}")
    shown = os.path.relpath(kept, job.workdir)
    say(
        f"run {job.run} {decision.verb} (attempt {job.attempt}): {record.cause}; "
        f"{decision.why}; its files are kept in {shown}{missing_module_hint(record)}"
    )
    return decision.exit_code


def missing_module_hint(record: Record) -> str:
    """For a run that failed importing a module: where the simulation's packages go; else ""."""
    if record.error is None or record.error.type != "ModuleNotFoundError":
        return ""
    return (
        "; to give the simulation its packages, list them in a requirements.txt in its "
        "repository and name it in runner.environment (README: The simulation's own environment)"
    )


class AttemptDecision(Fields, frozen=True):
    """What one attempt's end means for the job (see :func:`decide_attempt`)."""

    # success: exit 0. retry: keep the attempt, exit with the warden's code so Snakemake retries.
    # final: keep it, write the run's failure outputs, exit 0. stopped: the same, for a run the
    # stop file stopped (or never started). interrupted: keep it, exit with the warden's code
    # (the warden was told to stop: Ctrl-C, a Snakemake that ended, a signal).
    outcome: str
    exit_code: int
    why: str = ""  # for a failure: "not retried: ...", "no attempts left", "retried: ..."

    @property
    def verb(self) -> str:
        """How the log line says the attempt ended: ``failed``, ``was interrupted`` or ``was
        stopped``."""
        return {"interrupted": "was interrupted", "stopped": "was stopped"}.get(
            self.outcome, "failed"
        )


def decide_attempt(record: Record, attempt: int, run_config: RunConfig) -> AttemptDecision:
    """Judge attempt ``attempt`` (1, 2, ...) of a run from its record. Pure.

    A run that did not fail is a ``success``. A run stopped by a signal to the warden is
    ``interrupted``: not the run's fault, never final. A run the stop file stopped is
    ``stopped``: final for this invocation (the next one redoes it). A failure whose reason is in
    ``run_config.retry_on`` with attempts left (``attempt <= run_config.retries``) is retried;
    any other failure is ``final``: more resources cannot fix it, or no attempts are left.
    """
    code = record.exit_code if record.exit_code is not None else 1
    if not record.failed:
        return AttemptDecision("success", 0)
    if record.reason == "signal":
        return AttemptDecision("interrupted", code, "stopped from outside, not judged as the run's")
    if record.reason == "stopped":
        why = "the stop file asked for it: remove the file and run again to redo this run"
        return AttemptDecision("stopped", 0, why)
    reason = record.reason or "exited"
    listed = f"run_config.retry_on [{', '.join(run_config.retry_on)}]"
    if reason not in run_config.retry_on:
        what = f"exit code {code}" if reason == "exited" else f"reason {reason} (exit {code})"
        return AttemptDecision("final", 0, f"not retried: {what} is not in {listed}")
    if attempt >= run_config.attempts:
        left = f"no attempts left (run_config.retries is {run_config.retries})"
        return AttemptDecision("final", 0, left)
    more = "memory" if reason == "memory" else "time"
    return AttemptDecision(
        "retry", code, f"retried with more {more}: reason {reason} is in {listed}"
    )


def warden_options(
    job: SimulationJob, env: Mapping[str, str], context: Mapping[str, Any]
) -> RunOptions:
    """The warden's options for ``job``: limits from its resources and run config (memory, time,
    free disk, host memory, stall), the stop file, its files, the stop signal and grace, ``env``
    and ``context``; no notifiers (:func:`run_simulation` adds them). Pure: reads and writes
    nothing."""
    from simwarden.core.units import parse_size
    from simwarden.warden import Limits, RunOptions

    config = job.run_config
    mem = parse_size(job.mem_mb, "resources.mem_mb") if job.mem_mb else None
    warn = config.mem_warn_fraction
    return RunOptions(
        limits=Limits(
            mem_bytes=mem,
            timeout_s=config.time_limit_s(job.runtime_min, job.attempt),
            mem_warn_bytes=int(mem * warn) if mem and warn else None,
            host_mem_percent=config.host_mem_percent,
            min_free_disk_bytes=config.min_free_disk_bytes,
            disk_path=config.disk_path,
            stall_timeout_s=config.stall_timeout_s,
        ),
        stop_file=config.stop_file,
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
    job: SimulationJob,
    base: Mapping[str, str],
    context: Mapping[str, Any],
    *,
    figures: bool,
    repo_root: str | os.PathLike[str] | None = None,
) -> dict[str, str]:
    """The simulation's environment: ``base`` without the warden's SMTP settings, the run
    config's ``env``, ``SIMWARDEN_RUN_ID``/``_PARAMS``/``_OUTDIR``, ``SIMWARDEN_REPO_ROOT`` (the
    checkout, so an error's ``file:line`` is said relative to the repository) when
    ``repo_root`` is given, and with ``figures`` (a Python or command runner) and a figures
    directory, what ``job.figure_env`` adds."""
    env = {
        # Not the warden's own SMTP settings: a simulation has no business with the password.
        **without_secrets(base),
        **dict(job.run_config.env),
        "SIMWARDEN_RUN_ID": job.run,
        "SIMWARDEN_PARAMS": str(Path(job.params_file).resolve()),
        "SIMWARDEN_OUTDIR": str(Path(job.outdir).resolve()),
    }
    if repo_root is not None:
        env["SIMWARDEN_REPO_ROOT"] = str(Path(repo_root).resolve())
    # Even with no formats, the hook keeps plt.show() from blocking or opening a window.
    if figures and job.figures_dir and job.figure_env is not None:
        figures_dir = Path(job.figures_dir).resolve()
        shown = figure_context(context)
        env.update(job.figure_env(figures_dir, job.figure_formats, shown, env.get("PYTHONPATH")))
        env[ENV_IMPORTS_FILE] = str(imports_file(job))
        env[ENV_DISTRIBUTIONS_CACHE] = os.path.abspath(
            os.path.join(job.workdir, layout.DISTRIBUTIONS_CACHE)
        )
    return env


# A figure carries its provenance through one environment variable, and Linux refuses to start
# a program with a variable over 128 KiB: parameters bigger than this stay in the record only
# (``simwarden trace`` finds them there through the run id, commit and params hash).
FIGURE_PARAMS_MAX_BYTES = 16 * 1024


def figure_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """What every figure of a run carries: ``context`` without the runner and run config (the
    record holds them), and without ``params`` when they are over
    :data:`FIGURE_PARAMS_MAX_BYTES` as JSON."""
    shown = {k: v for k, v in context.items() if k not in ("runner", "run_config_section")}
    if len(json.dumps(shown.get("params"), default=str)) > FIGURE_PARAMS_MAX_BYTES:
        shown["params"] = None
    return shown


def run_context(
    job: SimulationJob, provenance: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    """What a record, a table row or a figure's metadata says about where a run came from."""
    from simwarden.pipeline.params import params_hash

    section = job.run_config_section
    return {
        "run": job.run,
        "repository": provenance.get("url"),
        "commit": provenance.get("commit"),
        "params_hash": params_hash(params),
        "run_config": job.run_config.name,
        "attempt": job.attempt,
        "mem_mb": job.mem_mb,
        "runtime_min": job.runtime_min,
        "simulation": job.simulation,
        "param_set": job.param_set,
        "ref": job.ref,
        "runner": dict(job.runner),
        "params": dict(params),
        "run_config_section": dict(section) if section is not None else None,
        "source_diff_sha256": provenance.get("source_diff_sha256"),
    }


def _fresh_directories(job: SimulationJob) -> None:
    """Empty data (and figures) directories: nothing of an earlier attempt may remain."""
    for directory in [Path(job.outdir), *([Path(job.figures_dir)] if job.figures_dir else [])]:
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)


def _attempt_files(job: SimulationJob) -> AttemptFiles:
    from simwarden.pipeline.attempts import AttemptFiles

    return AttemptFiles(
        record=Path(job.record),
        samples=Path(job.samples),
        data=Path(job.outdir),
        figures=Path(job.figures_dir) if job.figures_dir else None,
        log=Path(job.log),
    )


def _prepare_logs(job: SimulationJob) -> None:
    """The directories of the job's files, and the disk guard's (the warden refuses a disk path
    that does not exist, and results/, the default, may not exist yet)."""
    for path in (job.record, job.samples, job.log):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    if job.run_config.disk_path is not None:
        Path(job.run_config.disk_path).mkdir(parents=True, exist_ok=True)


def _check_bonsai(job: SimulationJob, record: Record) -> Record:
    """Bonsai exits 0 when its workflow threw: if the log shows a .NET exception, the record
    says the run failed (exit code 1) with that exception as its error."""
    from simwarden.core.fsutil import write_json_atomic
    from simwarden.pipeline.runners import bonsai_error

    error = bonsai_error(Path(job.log).read_text(errors="replace"))
    if error is None:
        return record
    message = f"Bonsai exited 0 but its workflow threw: {error.summary}"
    say(message)
    record = record.replace(exit_code=1, message=message, error=error)
    write_json_atomic(job.record, record.to_dict())
    return record
