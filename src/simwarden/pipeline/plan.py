"""The run plan: every simulation of the config (:mod:`.simulations`) expanded into runs, at each
of its commits, each with a stable, filesystem-safe id, and the checkouts they need, one per
repository and commit. Made once when the Snakefile is parsed (``PLAN`` in common.smk) and again
by readers that need the planned run ids (the status board).

Run ids (legal: :func:`~simwarden.pipeline.simulations.check_run_path`):

- one-simulation config: the param set or sweep point (``small``, ``rate__input.rate_hz-15.0``);
  with no param sets, the script's stem (``simulate``);
- ``simulations:``: ``<name>`` (no param sets), ``<name>/<param set or sweep point>``; a glob
  entry ``dev`` with ``script: dev/*.py`` gives one simulation per script, ``dev/<stem>``;
- with more than one commit, ``@<commit>`` is appended (``lif/small@v0.3``).

A glob is expanded against the checkout of its commit when the Snakefile is parsed: the commit
is fetched then into the shared cache (cached and locked, so later parses and the fetch_code job
reuse it; a branch or tag still asks the repository whether it moved).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from simwarden.core.errors import UserError
from simwarden.pipeline.simulations import (
    Simulation,
    check_run_path,
    repository_slug,
    safe_ref,
    simulations_of,
)

# (resolved repository, commit, glob pattern) -> the matching files, relative to the checkout.
ScriptLister = Callable[[str, str, str], list[str]]


@dataclass(frozen=True)
class RunPlan:
    """One run: which simulation at which commit, with which parameters, run how.

    ``param_file`` is None for a simulation without param sets (its params are ``{}``);
    ``overrides`` are the sweep values laid over it. ``simulation`` is None for a
    one-simulation config; ``param_set`` is the set or sweep point (None without param sets);
    ``ref`` the commit as the config writes it; ``code`` the id of the checkout it runs in
    (``results/code/<code>.json``); ``runner`` the runner section for this run (a glob member's
    script filled in, ``args: []`` for a parameterless Python script); ``schema`` the
    param_schema (None: parameters are not validated); ``script`` the glob member's script;
    ``group`` the run id without its ``@<commit>`` when the simulation runs at several commits
    (``model/small`` of ``model/small@v2``), else ""; ``env`` the id of the environment
    build_env makes for it (:func:`~simwarden.pipeline.envs.env_id`), None without one.
    """

    run: str
    param_file: str | None
    overrides: dict[str, Any]
    simulation: str | None = None
    param_set: str | None = None
    ref: str = ""
    code: str = ""
    runner: dict[str, Any] = field(default_factory=dict)
    schema: str | None = None
    script: str | None = None
    group: str = ""
    env: str | None = None  # its environment's id (results/envs/<env>.json); None: none built

    @property
    def side_by_side(self) -> bool:
        """The simulation runs at several commits (the run id ends in ``@<commit>``)."""
        return bool(self.group)

    @property
    def env_files(self) -> list[str]:
        """``[results/envs/<env>.json]`` for a run with an environment, else []."""
        from simwarden.pipeline.layout import ENV

        return [ENV.replace("{env}", self.env)] if self.env else []

    @property
    def figure_group(self) -> str:
        """The report's subcategory of this run's figures: the run id without its commit, so
        that the figures of ``model/small`` at every commit sit together; else the run id."""
        return self.group or self.run

    def figure_labels(self, name: str) -> dict[str, str]:
        """The report's labels of figure ``name`` of this run: ``{"commit": ref, "figure":
        name}`` when the simulation runs at several commits, else ``{"figure": name}``."""
        return {"commit": self.ref, "figure": name} if self.side_by_side else {"figure": name}


@dataclass(frozen=True)
class Checkout:
    """One repository at one commit: what fetch_code makes ``results/code/<code>.json`` of.
    ``simulations`` name who needs it, for messages (``-`` for the one-simulation config)."""

    code: str
    repository: str  # resolved: a relative local path made absolute
    ref: str
    simulations: tuple[str, ...]


@dataclass(frozen=True)
class EnvPlan:
    """One environment build_env makes: the checkout (code id) it reads its files from and the
    checked ``runner.environment`` (as a dict, for the rule's params)."""

    env: str
    code: str
    environment: dict[str, Any]


@dataclass(frozen=True)
class Plan:
    """Every run, keyed by run id in config order, every checkout, keyed by code id, and every
    environment to build, keyed by env id (none when no runner names one)."""

    runs: dict[str, RunPlan]
    checkouts: dict[str, Checkout]
    envs: dict[str, EnvPlan] = field(default_factory=dict)


def plan_runs(
    config: Mapping[str, Any],
    source: str = "config/config.yaml",
    *,
    workflow_dir: str | os.PathLike[str] = ".",
    list_scripts: ScriptLister | None = None,
) -> dict[str, RunPlan]:
    """The runs of :func:`make_plan`, keyed by run id."""
    return make_plan(config, source, workflow_dir=workflow_dir, list_scripts=list_scripts).runs


def make_plan(
    config: Mapping[str, Any],
    source: str = "config/config.yaml",
    *,
    workflow_dir: str | os.PathLike[str] = ".",
    list_scripts: ScriptLister | None = None,
) -> Plan:
    """Expand every simulation of a schema-checked ``config`` into runs and checkouts.

    Per simulation, named sets come first in config order, then each sweep's points; each
    commit in turn. ``list_scripts`` expands a glob (default: :func:`fetched_scripts` with the
    config's ``cache_dir``). Raises UserError (one line naming ``source`` and the key) for a
    bad repository or commit value, a set name that is not a safe run id, a missing parameter
    file, a sweep over an unknown set, a glob matching nothing, and a run id two simulations,
    scripts, sets or commits would share (naming both).
    """
    from simwarden.pipeline.config import check_commit, check_repository

    lister = list_scripts or fetched_scripts(config.get("cache_dir"))
    runs: dict[str, RunPlan] = {}
    origins: dict[str, str] = {}
    wanted: dict[tuple[str, str], list[str]] = {}
    for sim in simulations_of(config, source):
        where = f"{source}: {sim.key}" if sim.key else source
        repository = check_repository(sim.repository, workflow_dir, where)
        for ref in sim.refs:
            check_commit(ref, where)
            wanted.setdefault((repository, ref), []).append(sim.name or "-")
        for plan, origin in _simulation_runs(sim, repository, lister, source):
            if plan.run in runs:
                raise UserError(
                    f"{source}: {origin}: run id {plan.run!r} is used twice (also by "
                    f"{origins[plan.run]}); rename one"
                )
            runs[plan.run] = replace(plan, code=f"{repository}\0{plan.ref}")
            origins[plan.run] = origin
    checkouts = _checkouts(wanted)
    code_of = {f"{c.repository}\0{c.ref}": c.code for c in checkouts.values()}
    runs = {run: replace(plan, code=code_of[plan.code]) for run, plan in runs.items()}
    return _with_envs(runs, checkouts, origins, source)


def _with_envs(
    runs: dict[str, RunPlan], checkouts: dict[str, Checkout], origins: dict[str, str], source: str
) -> Plan:
    """The plan with each run's environment id, and one :class:`EnvPlan` per id; the runner's
    environment is checked here (UserError naming ``source`` and where)."""
    from simwarden.pipeline.envs import env_id, environment_of

    envs: dict[str, EnvPlan] = {}
    for run, plan in runs.items():
        spec = environment_of(plan.runner, f"{source}: {origins[run]}")
        if spec is None:
            continue
        env = env_id(plan.code, spec)
        envs.setdefault(env, EnvPlan(env, plan.code, spec.to_dict()))
        runs[run] = replace(plan, env=env)
    return Plan(runs, checkouts, envs)


def _checkouts(wanted: Mapping[tuple[str, str], list[str]]) -> dict[str, Checkout]:
    """One checkout per (repository, commit): ``<repository name>@<commit>`` (a full SHA
    shortened to 12 digits), with 8 hex digits of both added when two pairs would share it."""
    base = {pair: f"{repository_slug(pair[0])}@{_short(pair[1])}" for pair in wanted}
    checkouts: dict[str, Checkout] = {}
    for pair, code in base.items():
        if list(base.values()).count(code) > 1:
            digest = hashlib.sha256("\0".join(pair).encode()).hexdigest()[:8]
            code = f"{code}-{digest}"
        names = tuple(dict.fromkeys(wanted[pair]))
        checkouts[code] = Checkout(code, pair[0], pair[1], names)
    return checkouts


def _short(ref: str) -> str:
    """A commit in a code id: a full SHA shortened to 12 hex digits (Snakemake takes a wildcard
    value ending in 20 repeats, such as 40 zeros, for a runaway recursion), else
    :func:`~simwarden.pipeline.simulations.safe_ref`."""
    if len(ref) == 40 and all(c in "0123456789abcdef" for c in ref):
        return ref[:12]
    return safe_ref(ref)


def _simulation_runs(
    sim: Simulation, repository: str, lister: ScriptLister, source: str
) -> Iterator[tuple[RunPlan, str]]:
    """(plan, where it comes from) of every run of ``sim``, code ids left to fill in."""
    points = list(_points(sim, source))
    suffix = len(sim.refs) > 1
    for ref in sim.refs:
        for name, script, origin in _members(sim, repository, ref, lister, source):
            runner = _runner(sim, script)
            for param_set, param_file, overrides, point_origin in points:
                parts = [part for part in (name, param_set) if part]
                group = "/".join(parts) or _default_name(sim)
                run = group + (f"@{safe_ref(ref)}" if suffix else "")
                group = group if suffix else ""
                try:
                    check_run_path(run)
                except UserError as error:
                    raise UserError(f"{source}: {point_origin or origin}: {error}") from None
                plan = RunPlan(
                    run,
                    param_file,
                    overrides,
                    name,
                    param_set,
                    ref,
                    "",
                    runner,
                    sim.schema,
                    script if sim.glob else None,
                    group,
                )
                where = ", ".join(w for w in (origin, point_origin) if w) or sim.where("runner")
                yield plan, where + (f" at commit {ref}" if suffix else "")


def _default_name(sim: Simulation) -> str:
    """The run id of a one-simulation config without param sets: its script's stem."""
    target = sim.runner.get("script") or sim.runner.get("workflow")
    return safe_ref(PurePosixPath(str(target)).stem) if target else "run"


def _runner(sim: Simulation, script: str | None) -> dict[str, Any]:
    runner = dict(sim.runner)
    if sim.glob and script is not None:
        runner["script"] = script
    if sim.parameterless and runner.get("kind") == "python" and "args" not in runner:
        runner["args"] = []  # the script as it is: python SCRIPT
    return runner


def _members(
    sim: Simulation, repository: str, ref: str, lister: ScriptLister, source: str
) -> Iterator[tuple[str | None, str | None, str]]:
    """(simulation name, script, where) per simulation of ``sim``: one per glob match."""
    pattern = sim.glob
    if pattern is None:
        yield sim.name, sim.runner.get("script"), ""
        return
    where = sim.where("runner.script")
    if PurePosixPath(pattern).is_absolute() or ".." in PurePosixPath(pattern).parts:
        raise UserError(f"{source}: {where} {pattern!r}: a glob must stay inside the repository")
    try:
        matches = lister(repository, ref, pattern)
    except UserError as error:
        raise UserError(f"{source}: {sim.where('commit')} {ref}: {error}") from None
    if not matches:
        raise UserError(
            f"{source}: {where} {pattern!r} matches no file in {sim.repository} at {ref}"
        )
    for script in matches:
        stem = safe_ref(PurePosixPath(script).stem)
        name = f"{sim.name}/{stem}" if sim.name else stem
        yield name, script, f"{where} {script!r}"


def _points(
    sim: Simulation, source: str
) -> Iterator[tuple[str | None, str | None, dict[str, Any], str]]:
    """(param set, file, overrides, where) per named set and sweep point; one ``(None, None,
    {}, "")`` for a simulation without param sets."""
    if sim.parameterless:
        yield None, None, {}, ""
        return
    seen: dict[str, str] = {}
    for name, path in sim.param_sets.items():
        point = _set_run_id(name, sim, source)
        if not Path(path).is_file():
            raise UserError(f"{source}: {sim.where('param_sets')}.{name}: file {path!r} not found")
        seen[point] = sim.where(f"param_sets.{name}")
        yield point, path, {}, seen[point]
    for sweep_name, sweep in sim.sweeps.items():
        where = sim.where(f"sweeps.{sweep_name}")
        for point, path, overrides in _sweep_points(str(sweep_name), dict(sweep), sim, source):
            if point in seen:
                raise UserError(f"{source}: {where}: run id {point!r} is used twice")
            seen[point] = where
            yield point, path, overrides, where


def _set_run_id(name: str, sim: Simulation, source: str) -> str:
    from simwarden.pipeline.params import check_run_id, run_id

    try:
        check_run_id(name)  # the name is the run id: refuse rather than rename it
    except UserError as error:
        raise UserError(f"{source}: {sim.where('param_sets')}: {error}") from None
    return run_id(name, {})


def _sweep_points(
    sweep_name: str, sweep: dict[str, Any], sim: Simulation, source: str
) -> list[tuple[str, str, dict[str, Any]]]:
    from simwarden.pipeline.params import check_run_id, expand_sweep

    base = sweep.pop("base", None)
    if base not in sim.param_sets:
        raise UserError(
            f"{source}: {sim.where(f'sweeps.{sweep_name}.base')} {base!r}: expected one of the "
            f"param_sets ({', '.join(sim.param_sets) or 'none defined'})"
        )
    points = []
    for run, overrides in expand_sweep(sweep_name, {}, sweep).items():
        check_run_id(run)
        points.append((run, str(sim.param_sets[base]), overrides))
    return points


def fetched_scripts(cache_dir: str | None) -> ScriptLister:
    """A :data:`ScriptLister` that fetches the commit into the shared cache (``cache_dir``, None:
    the default one) and globs its checkout; files under ``.git`` and simwarden's provenance
    file are left out. Says only what takes time (cloning, fetching, checking out)."""

    def list_scripts(repository: str, ref: str, pattern: str) -> list[str]:
        from simwarden.core.log import say
        from simwarden.pipeline.gitcache import PROVENANCE_FILE, fetch

        def quiet(line: str) -> None:
            if not line.startswith("Using cached"):
                say(line)

        cache = Path(cache_dir).expanduser() if cache_dir else None
        root = Path(fetch(repository, ref, cache, log=quiet).path)
        found = []
        for path in root.glob(pattern):
            relative = path.relative_to(root)
            if path.is_file() and ".git" not in relative.parts and path.name != PROVENANCE_FILE:
                found.append(relative.as_posix())
        return sorted(found)

    return list_scripts
