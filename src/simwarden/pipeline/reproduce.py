"""Run one recorded run again, from its record alone, into a scratch directory.

``simwarden reproduce`` calls :func:`rerun`: the recorded commit from the shared cache (fetched
again if the cache lost it and the repository still has it), the recorded validated parameters
written to a scratch parameter file (the workflow's parameter file may have changed since), the
recorded runner, the run config's ``env`` entries, under the warden with the recorded limits.
Nothing of the workflow directory is written. Comparing what it made with the record's manifest
is :mod:`simwarden.results.reproduce`'s job.

A record that lacks what a rerun needs (an older record without ``context.params``), or a commit
that can no longer be fetched, is a UserError raised before anything runs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simwarden.core.errors import UserError
from simwarden.pipeline.config import RunConfig
from simwarden.pipeline.job import SimulationJob, simulation_env
from simwarden.warden.record import Record, RunContext

if TYPE_CHECKING:
    from simwarden.pipeline.job import FigureEnv
    from simwarden.pipeline.runners import RunnerSpec
    from simwarden.warden import RunOptions


@dataclass(frozen=True)
class Scratch:
    """Where a reproduction writes: ``params.json``, ``data/``, ``figures/``, ``record.json``,
    ``samples.tsv`` and ``log.txt`` under ``root``."""

    root: Path

    @property
    def params(self) -> Path:
        return self.root / "params.json"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def figures(self) -> Path:
        return self.root / "figures"

    @property
    def record(self) -> Path:
        return self.root / "record.json"

    @property
    def samples(self) -> Path:
        return self.root / "samples.tsv"

    @property
    def log(self) -> Path:
        return self.root / "log.txt"


@dataclass(frozen=True)
class Recipe:
    """What a rerun needs from a record, checked: see :func:`recipe`."""

    run: str
    repository: str
    commit: str
    params: dict[str, Any]
    runner: dict[str, Any]
    context: RunContext
    record: Record


def recipe(record: Record, source: str) -> Recipe:
    """The rerun's ingredients from ``record`` (read from ``source``, named in errors).

    Raises UserError when the record has no context, repository, commit, runner or parameters:
    a record written before ``simwarden reproduce`` existed lacks ``context.params``.
    """
    context = record.context or RunContext()
    if context.params is None or context.runner is None:
        raise UserError(
            f"{source}: it has no recorded parameters (context.params): the record predates "
            "simwarden reproduce; run the workflow again to record them"
        )
    if not (context.run and context.repository and context.commit):
        raise UserError(f"{source}: context.run, .repository or .commit is missing: cannot rerun")
    return Recipe(
        run=context.run,
        repository=context.repository,
        commit=context.commit,
        params=dict(context.params),
        runner=dict(context.runner),
        context=context,
        record=record,
    )


def checkout(plan: Recipe, cache_dir: Path | None) -> Path:
    """The recorded commit's checkout in the cache (``cache_dir`` None: the default cache);
    UserError naming the run and commit when it is neither cached nor fetchable."""
    from simwarden.pipeline.gitcache import fetch

    try:
        return Path(fetch(plan.repository, plan.commit, cache_dir).path)
    except UserError as error:
        raise UserError(
            f"run {plan.run}: commit {plan.commit} of {plan.repository} is not in the cache and "
            f"cannot be fetched ({error}); nothing was run"
        ) from None


def rerun(  # noqa: PLR0913 - the plan, where, and how figures are saved
    plan: Recipe,
    repo: Path,
    scratch: Scratch,
    *,
    cache_dir: Path | None = None,
    figure_env: FigureEnv | None = None,
    figure_formats: Sequence[str] = (),
) -> Record:
    """Run ``plan`` at the checkout ``repo`` into ``scratch`` (created; its data and figures
    directories must not hold files yet); returns the reproduction's record, with the
    ``environment`` it ran with (the packages the simulation imported).

    A runner with an ``environment`` runs in that environment from ``cache_dir`` (None: the
    default cache), built first if the cache lost it. ``figure_env``
    (results.figures.autosave_env) with ``figure_formats`` saves a Python or command runner's
    figures into ``scratch.figures`` with the original run's provenance. Raises UserError for a
    runner the record names that cannot be built (a script gone from the commit); a failing
    simulation is a record that says so, not an exception.
    """
    from simwarden.core.fsutil import write_json_atomic
    from simwarden.pipeline.runners import build_argv

    spec = _runner(plan, repo, cache_dir)
    for directory in (scratch.root, scratch.data, scratch.figures):
        directory.mkdir(parents=True, exist_ok=True)
    write_json_atomic(scratch.params, plan.params)
    job = _job(plan, scratch, figure_env, figure_formats)
    context = plan.context.to_dict()
    with contextlib.ExitStack() as stack:
        if spec.workdir == "repo":
            from simwarden.pipeline.workcopy import working_copy

            repo = stack.enter_context(working_copy(repo, scratch.data))
        argv = build_argv(
            spec,
            repo=repo,
            params_file=scratch.params.resolve(),
            outdir=scratch.data.resolve(),
            run=plan.run,
            params=plan.params,
        )
        env = simulation_env(
            job, os.environ, context, figures=spec.kind in ("python", "command"), repo_root=repo
        )
        cwd = str(repo if spec.workdir == "repo" else scratch.data)
        return _run(job, spec.kind, argv, _options(plan.record, scratch, env, context, cwd))


def _runner(plan: Recipe, repo: Path, cache_dir: Path | None) -> RunnerSpec:
    """The recorded runner; one with an ``environment`` gets that environment's interpreter."""
    from simwarden.pipeline.runners import RunnerSpec

    spec = RunnerSpec.from_config(plan.runner, source=f"run {plan.run}: recorded runner")
    if spec.environment is None:
        return spec
    from simwarden.pipeline.envs import EnvRequest, ensure_env
    from simwarden.pipeline.gitcache import default_cache_dir

    request = EnvRequest(spec.environment, repo, plan.commit)
    content = ensure_env(request, cache_dir or default_cache_dir())
    return spec.replace(python=str(content["python"]))


def _run(job: SimulationJob, kind: str, argv: list[str], options: RunOptions) -> Record:
    """The warden runs ``argv``; the record gets the environment (imported packages)."""
    from simwarden.pipeline.job import imports_file
    from simwarden.pipeline.manifest import run_environment
    from simwarden.warden import run

    result = run(argv, options)
    record = Record.from_dict(result.record, source=f"record {options.record!r}")
    imports = imports_file(job)
    environment = run_environment(
        kind, argv, env=options.env or {}, cwd=options.cwd, imports_file=imports
    )
    imports.unlink(missing_ok=True)
    return record.replace(environment=environment)


def _job(
    plan: Recipe, scratch: Scratch, figure_env: FigureEnv | None, formats: Sequence[str]
) -> SimulationJob:
    """The job :func:`simulation_env` builds the environment of: the recorded run config's
    ``env`` entries (its other keys shape limits, taken from the record itself)."""
    section: Mapping[str, Any] = plan.context.run_config_section or {}
    env = section.get("env") or {}
    run_config = RunConfig(
        name=str(plan.context.run_config or section.get("name") or "reproduce"),
        mem_mb=plan.context.mem_mb or 0,
        runtime_min=plan.context.runtime_min or 0,
        env=tuple((str(key), str(value)) for key, value in dict(env).items()),
    )
    return SimulationJob(
        run=plan.run,
        params_file=str(scratch.params),
        code="",
        record=str(scratch.record),
        samples=str(scratch.samples),
        outdir=str(scratch.data),
        log=str(scratch.log),
        runner=plan.runner,
        run_config=run_config,
        mem_mb=plan.context.mem_mb,
        runtime_min=plan.context.runtime_min,
        figures_dir=str(scratch.figures),
        figure_formats=tuple(formats),
        figure_env=figure_env,
    )


def _options(
    original: Record,
    scratch: Scratch,
    env: Mapping[str, str],
    context: Mapping[str, Any],
    cwd: str,
) -> RunOptions:
    """The warden's options: the original's limits, stop signal and grace; no stop file, no
    notifiers (a reproduction is run by hand, watched by whoever started it)."""
    from simwarden.core.units import parse_signal
    from simwarden.warden import Limits, RunOptions

    known = set(Limits.field_names())
    limits = Limits(**{key: value for key, value in original.limits.items() if key in known})
    defaults = RunOptions()
    return RunOptions(
        limits=limits,
        record=str(scratch.record),
        samples=str(scratch.samples),
        log=str(scratch.log),
        quiet=True,
        stop_signal=(
            parse_signal(original.stop_signal, "record stop_signal")
            if original.stop_signal
            else defaults.stop_signal
        ),
        grace_s=original.grace_s if original.grace_s is not None else defaults.grace_s,
        cwd=cwd,
        env=dict(env),
        context=dict(context),
        label=f"reproduce {context.get('run')}",
    )


def workflow_cache_dir(workdir: Path) -> Path | None:
    """The cache the workflow in ``workdir`` fetches into: its ``config/config.yaml``'s
    ``cache_dir`` (relative to ``workdir``), None when unset or unreadable (then
    :func:`~simwarden.pipeline.gitcache.fetch` uses ``$SIMWARDEN_CACHE_DIR`` or the default)."""
    import yaml

    try:
        config = yaml.safe_load((workdir / "config" / "config.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    value = config.get("cache_dir") if isinstance(config, dict) else None
    return workdir / Path(str(value)).expanduser() if value else None
