"""What the Snakemake rules do, as plain functions: plan runs, fetch code, validate, simulate.

The rule scripts in ``scripts/`` only unpack the ``snakemake`` object and call these, so the logic
is testable without Snakemake and every value that changes a result arrives as an argument.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simwarden.core.errors import UserError
from simwarden.pipeline.layout import attempt_record_path, kept_attempts

PROTECTED_PROFILE = "profiles/default"


@dataclass(frozen=True)
class RunPlan:
    """One simulation run: its parameter file and the sweep values laid over it."""

    run: str
    param_file: str
    overrides: dict[str, Any]


def check_config(config: Mapping[str, Any], schema: str) -> dict[str, Any]:
    """Validate the merged config (config.yaml + the profile's run.yaml): every error at once,
    one line each naming the key, instead of Snakemake's dump of the whole schema."""
    from simwarden.pipeline.params import validate

    return validate(dict(config), Path(schema), source="config (config/config.yaml + profile)")


def plan_runs(config: Mapping[str, Any], source: str = "config/config.yaml") -> dict[str, RunPlan]:
    """Expand ``param_sets`` and ``sweeps`` into runs keyed by a stable, filesystem-safe id."""
    from simwarden.pipeline.params import check_run_id, expand_sweep, run_id

    sets = config.get("param_sets") or {}
    plans: dict[str, RunPlan] = {}
    for name, path in sets.items():
        try:
            check_run_id(str(name))  # the name is the run id: refuse rather than rename it
        except UserError as error:
            raise UserError(f"{source}: param_sets: {error}") from None
        run = run_id(str(name), {})
        if not Path(path).is_file():
            raise UserError(f"{source}: param_sets.{name}: file {path!r} not found")
        plans[run] = RunPlan(run, str(path), {})
    for sweep_name, sweep in (config.get("sweeps") or {}).items():
        sweep = dict(sweep)
        base = sweep.pop("base", None)
        if base not in sets:
            raise UserError(
                f"{source}: sweeps.{sweep_name}.base {base!r}: expected one of the param_sets "
                f"({', '.join(sets) or 'none defined'})"
            )
        for run, overrides in expand_sweep(str(sweep_name), {}, sweep).items():
            check_run_id(run)
            if run in plans:
                raise UserError(f"{source}: sweeps.{sweep_name}: run id {run!r} is used twice")
            plans[run] = RunPlan(run, str(sets[base]), overrides)
    if not plans:
        raise UserError(f"{source}: no runs: add at least one entry under param_sets")
    return plans


def refuse_default_profile(workflow_dir: str | os.PathLike[str]) -> None:
    """Snakemake applies ``profiles/default/`` on top of ``--profile`` without a word; refuse it."""
    if (Path(workflow_dir) / PROTECTED_PROFILE).exists():
        raise UserError(
            f"{PROTECTED_PROFILE}/ exists: Snakemake would apply it on top of --profile and "
            "silently override the run config (short/std/full); remove it, or pass "
            "--workflow-profile none"
        )


def resolve_repository(url: str, workflow_dir: str | os.PathLike[str]) -> str:
    """A relative local path in the config is relative to the workflow directory."""
    if "://" in url or url.startswith("-") or "::" in url:
        return url
    candidate = Path(workflow_dir) / url
    return str(candidate.resolve()) if candidate.exists() else url


def fetch_code(url: str, ref: str, cache_dir: str | None, output: str) -> dict[str, Any]:
    """Fetch ``url`` at ``ref`` into the shared cache; write its provenance to ``output``."""
    from simwarden.core.fsutil import write_json_atomic
    from simwarden.pipeline.gitcache import fetch

    provenance = fetch(url, str(ref), Path(cache_dir).expanduser() if cache_dir else None)
    record = provenance.to_dict()
    write_json_atomic(output, record)
    return record


def _deep_merge(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def validate_params(
    param_file: str, overrides: Mapping[str, Any], schema: str, code: str, output: str
) -> dict[str, Any]:
    """Load a parameter set, lay the sweep values over it, validate, write the result as JSON.

    ``schema`` is a path inside the fetched repository (whose provenance file is ``code``), or
    ``workflow:PATH`` for a schema kept beside the workflow.
    """
    from simwarden.core.fsutil import write_json_atomic
    from simwarden.pipeline.params import load_param_file, validate

    params = _deep_merge(load_param_file(Path(param_file)), overrides)
    schema_path = _schema_path(schema, code)
    source = param_file + (f" (with {json.dumps(overrides, sort_keys=True)})" if overrides else "")
    validated = validate(params, schema_path, source=source)
    write_json_atomic(output, validated)
    return validated


def _schema_path(schema: str, code: str) -> Path:
    if schema.startswith("workflow:"):
        path = Path(schema.removeprefix("workflow:"))
    else:
        checkout = Path(json.loads(Path(code).read_text())["path"])
        path = checkout / schema
        if not path.resolve().is_relative_to(checkout.resolve()):
            raise UserError(f"config: param_schema {schema!r} points outside the repository")
    if not path.is_file():
        raise UserError(f"config: param_schema {schema!r} not found ({path})")
    return path


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
    run_config: Mapping[str, Any]
    mem_mb: int | None
    runtime_min: float | None
    attempt: int = 1
    figures_dir: str | None = None  # python runner: every figure is saved here at the end
    figure_formats: tuple[str, ...] = ()


def run_simulation(job: SimulationJob) -> int:
    """Run one simulation under the warden; returns its exit code (0 means accepted).

    A failed attempt keeps its record beside the log as ``<log>.attempt<N>.record.json``, because
    Snakemake deletes a failed job's outputs; the data directory of a failed attempt is removed so
    it can never pass for a complete result.
    """
    from simwarden.core.units import parse_duration, parse_size
    from simwarden.pipeline.runners import RunnerSpec, bonsai_failure, build_argv
    from simwarden.pipeline.scripting import say
    from simwarden.warden import Limits, RunOptions, run

    provenance = json.loads(Path(job.code).read_text())
    checkout = Path(provenance["path"])
    params = json.loads(Path(job.params_file).read_text())
    spec = RunnerSpec.from_config(job.runner)
    outdir = Path(job.outdir)
    fresh = [outdir, *([Path(job.figures_dir)] if job.figures_dir else [])]
    for directory in fresh:
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
    argv = build_argv(
        spec,
        repo=checkout,
        params_file=Path(job.params_file).resolve(),
        outdir=outdir.resolve(),
        run=job.run,
        params=params,
    )
    config = job.run_config
    timeout = config.get("timeout")
    if timeout is False:  # the run config says: no time limit at all
        timeout_s = None
    elif timeout is not None:
        timeout_s = parse_duration(timeout, "run_config.timeout")
    else:
        timeout_s = job.runtime_min * 60 if job.runtime_min else None
    mem = parse_size(job.mem_mb, "resources.mem_mb") if job.mem_mb else None
    warn_fraction = config.get("mem_warn_fraction")
    env = {
        # Not the warden's own SMTP settings: a simulation has no business with the password.
        **{k: v for k, v in os.environ.items() if not k.startswith("SIMWARDEN_SMTP_")},
        **{str(k): str(v) for k, v in (config.get("env") or {}).items()},
        "SIMWARDEN_RUN_ID": job.run,
        "SIMWARDEN_PARAMS": str(Path(job.params_file).resolve()),
        "SIMWARDEN_OUTDIR": str(outdir.resolve()),
    }
    context = run_context(job, provenance, params)
    # Even with no formats, the hook keeps plt.show() from blocking or opening a window.
    if job.figures_dir and spec.kind in ("python", "command"):
        from simwarden.results.figures import autosave_env

        env.update(
            autosave_env(
                Path(job.figures_dir).resolve(),
                job.figure_formats,
                context,
                pythonpath=env.get("PYTHONPATH"),
            )
        )
    for path in (job.record, job.samples, job.log):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    if job.attempt == 1:  # kept records of an earlier invocation's failed attempts are history
        for _, stale in kept_attempts(job.log):
            stale.unlink(missing_ok=True)
    options = RunOptions(
        limits=Limits(
            mem_bytes=mem,
            timeout_s=timeout_s,
            mem_warn_bytes=int(mem * warn_fraction) if mem and warn_fraction else None,
        ),
        record=job.record,
        samples=job.samples,
        log=job.log,
        quiet=True,
        stop_signal=_signal(config.get("stop_signal", "TERM")),
        grace_s=parse_duration(config.get("grace", "5s"), "run_config.grace", allow_zero=True),
        cwd=str(outdir),
        env=env,
        context=context,
        label=f"run {job.run} (attempt {job.attempt})",
        # A Snakemake killed outright (SIGKILL, a lost login node) must not leave runs behind.
        stop_when_orphaned=True,
    )
    result = run(argv, options)
    code = result.exit_code
    if code == 0 and spec.kind == "bonsai":
        failure = bonsai_failure(Path(job.log).read_text(errors="replace"))
        if failure:
            message = f"Bonsai exited 0 but its workflow threw: {failure}"
            say(job.log, message)
            code = 1
            # The record must say why the run failed, not "exited 0" (the kept copy is read).
            from simwarden.core.fsutil import write_json_atomic

            write_json_atomic(job.record, {**result.record, "exit_code": 1, "message": message})
    if code != 0:
        kept = attempt_record_path(job.log, job.attempt)
        shutil.copyfile(job.record, kept)
        for directory in fresh:
            shutil.rmtree(directory, ignore_errors=True)
        say(
            job.log,
            f"run {job.run} failed (attempt {job.attempt}): {result.record['message']}"
            f"; record kept at {kept}",
        )
    return code


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
        "run_config": job.run_config.get("name"),
        "attempt": job.attempt,
        "mem_mb": job.mem_mb,
        "runtime_min": job.runtime_min,
    }


def _signal(name: str) -> int:
    from simwarden.core.units import parse_signal

    return parse_signal(str(name))
