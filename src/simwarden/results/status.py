"""``simwarden status``: every run of the workflow and whether it is up to date, stale, failed...

How the state is found (Snakemake 9, file persistence backend):

1. The workflow is parsed with Snakemake's own API, with the profile's settings read by
   Snakemake's own argument parser, so the run list (``RUNS`` of ``rules/common.smk``, i.e. the
   Snakefile's own ``check_config`` + ``plan_runs``) and every rule's input, output and params
   are exactly what ``snakemake --profile P`` would see.
2. No DAG is built (``snakemake -n`` spends most of its time there: about 4 s for 1000 runs).
   Instead, for each run, the ``run_simulation`` job (and the jobs upstream of it, such as
   ``fetch_code`` and the one ``validate_params`` job) is expanded from its rule,
   and the checks of Snakemake's ``DAG.update_needrun`` are applied to them with the records
   Snakemake wrote: ``.snakemake/metadata/`` (params, input list, code, input checksums),
   ``.snakemake/incomplete/`` (jobs started and not finished) and ``.snakemake/locks/`` (a
   Snakemake running now). Params are serialised with Snakemake's own function, so a recorded
   param set compares as Snakemake compares it; and because the current params are known by name,
   a change is attributed to the param that changed (``ref`` of fetch_code: the commit).
3. Failures come from the warden's records (read as :class:`~simwarden.warden.record.Record`):
   ``results/runs/{run}/record.json`` of the last attempt (the last attempt of a failed run
   writes its failure record there, so Snakemake sees the job complete) and
   ``results/failed/{run}/attempt-{N}/record.json`` of the kept failed attempts (names from
   :mod:`simwarden.pipeline.layout`). A run whose record says it failed is ``failed``, although
   Snakemake calls it stale (its rerun marker, an input, is newer than its outputs); a record
   that cannot be read is ``stale`` for ``record``, with the command that redoes the run.
4. A lock in ``.snakemake/locks`` whose Snakemake (``layout.SNAKEMAKE_PROCESS``, written by the
   Snakefile's onstart handler) is dead was left by a killed Snakemake: its started runs are
   ``incomplete``, not ``running``.

Which profile is used: :mod:`simwarden.results.status_profile`; how the runs are shown:
:mod:`simwarden.results.status_format`; the command: ``simwarden.cli.status``.

Differences from Snakemake, on purpose: a run counts as complete only when every output of
``run_simulation`` exists (Snakemake reruns a job only for outputs a later job needs); a run whose
parameter set was refused (listed in ``results/params/_errors.json``) is ``failed``
(``validation``) even when an older run's outputs remain; and the software-stack trigger (conda,
containers) is not checked.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from simwarden.core.errors import UserError
from simwarden.core.log import PREFIX
from simwarden.pipeline import layout
from simwarden.pipeline.plan import RunPlan
from simwarden.results.attempts import (
    KeptAttempt,
    SnakemakeProcess,
    failure_reason,
    kept_attempts,
    redo_command,
    retry_summary,
    snakemake_process,
)
from simwarden.results.live import LIVE_KEYS, LiveSample, read_live
from simwarden.results.snakemake_jobs import Expander
from simwarden.results.snakemake_view import (
    Job,
    Judge,
    SnakemakeRecords,
    Verdict,
    first_line,
    last_line,
    parsed_workflow,
)
from simwarden.results.status_profile import choose_profile, find_snakefile
from simwarden.results.status_upstream import Producers, Upstream
from simwarden.results.values import Problems, load_record
from simwarden.warden.record import Record

STATES = ("never run", "up to date", "stale", "failed", "incomplete", "running")


@dataclass(frozen=True)
class RunStatus:
    """One run's state and, for the last attempt the warden recorded, how it ended.

    ``why`` holds categories: for ``stale`` some of ``parameters``, ``code``, ``input``,
    ``run config``, ``output``, or ``record`` (its record cannot be read); for ``failed`` one of
    ``memory``, ``timeout``, ``exit code N``, ``signal N``, ``host memory``, ``disk``,
    ``stopped``, ``validation``. ``detail`` says what exactly (``config/params/a.yaml changed;
    commit changed``; for a failed run its cause and where its files are kept). The attempt
    fields are None when no record exists (a run never started, or killed before its warden
    could write one). ``cause`` is the record's one-line cause of a failure
    (:attr:`Record.cause`), ``kept`` where the last failed attempt's files are kept
    (``results/failed/<run>/attempt-<N>/``), ``attempts`` how many attempts the run took.
    """

    run: str
    state: str
    why: tuple[str, ...] = ()
    detail: str = ""
    reason: str | None = None
    exit_code: int | None = None
    attempt: int | None = None
    peak_rss_bytes: int | None = None
    wall_s: float | None = None
    finished: str | None = None
    commit: str | None = None
    run_config: str | None = None
    record: str | None = None
    attempts: int | None = None
    cause: str | None = None
    kept: str | None = None
    # From the run plan: the simulation (None: a one-simulation config) and the commit as the
    # config names it; status groups the runs by both.
    simulation: str | None = None
    ref: str | None = None
    # A running simulation's last sample (progress, ETA, memory, elapsed); None otherwise.
    live: LiveSample | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the same keys for every run (``why`` as a list; the keys of
        :data:`~simwarden.results.live.LIVE_KEYS` are null unless the run's simulation runs)."""
        live = self.live.to_dict() if self.live else dict.fromkeys(LIVE_KEYS)
        return {
            "run": self.run,
            "state": self.state,
            "why": list(self.why),
            "detail": self.detail,
            "reason": self.reason,
            "exit_code": self.exit_code,
            "attempt": self.attempt,
            "peak_rss_bytes": self.peak_rss_bytes,
            "wall_s": self.wall_s,
            "finished": self.finished,
            "commit": self.commit,
            "run_config": self.run_config,
            "record": self.record,
            "attempts": self.attempts,
            "cause": self.cause,
            "kept": self.kept,
            "simulation": self.simulation,
            "ref": self.ref,
        } | live


# ------------------------------------------------------------------------------- the warden


def _end_key(record: Record, path: Path) -> float:
    try:
        return datetime.fromisoformat(str(record.end)).timestamp()
    except ValueError:
        with contextlib.suppress(OSError):
            return path.stat().st_mtime
    return 0.0


# ------------------------------------------------------------------------------- collecting


def collect_status(workdir: Path, profile: str | Sequence[str] | None = None) -> list[RunStatus]:
    """The state of every run of the workflow in ``workdir``, in the Snakefile's run order.

    ``profile`` is given as to ``snakemake --profile`` (relative to ``workdir``, or to the
    current directory if only found there), or a list of them stacked in that order; None means
    the ones the last run used, else ``profiles/std`` (see :func:`choose_profile`); ``"none"``
    means config/config.yaml alone. Raises UserError when ``workdir`` holds no Snakefile, a
    profile cannot be read, the workflow does not parse (the Snakefile's own one-line error is
    given), or it lacks the rule run_simulation. Writes nothing.
    """
    workdir = Path(workdir)
    if not workdir.is_dir():
        raise UserError(f"{workdir} is not a directory; pass --directory with a workflow directory")
    if find_snakefile(workdir) is None:
        raise UserError(
            f"{workdir.resolve()} is not a Snakemake workflow (no Snakefile or "
            "workflow/Snakefile); run simwarden status in the workflow directory or pass "
            "--directory DIR"
        )
    workdir = workdir.resolve()
    given = [profile] if isinstance(profile, str) else profile
    profiles = list(choose_profile(workdir, given).profiles)
    for i, path in enumerate(profiles):
        if Path(path).exists() and not (workdir / path).exists():
            profiles[i] = str(Path(path).resolve())  # given relative to the caller's directory
    with parsed_workflow(workdir, profiles) as (workflow, args):
        return collect_runs(workdir, workflow, args, profiles)


def collect_runs(
    workdir: Path, workflow: Any, args: Any, profiles: Sequence[str] | None = None
) -> list[RunStatus]:
    """The state of every planned run of an already parsed ``workflow`` (see
    :func:`~simwarden.results.snakemake_view.parsed_workflow` for ``workflow`` and ``args``);
    :func:`collect_status` without the parsing. ``profiles`` (as given to ``--profile``) go
    into the commands the details suggest; None: ``--profile ...``. Run with ``workdir`` as the
    current directory (as :func:`parsed_workflow` does). UserError when the per-run rules are
    missing or cannot be expanded for a run."""
    expander = Expander(workflow)
    rule = expander.rule(layout.RUN_SIMULATION)
    if rule is None:
        raise UserError(
            f"the workflow in {workdir} has no rule {layout.RUN_SIMULATION}: simwarden status "
            "judges every run by its job"
        )
    records = SnakemakeRecords(workdir)
    triggers = {str(getattr(t, "name", t)).lower() for t in args.rerun_triggers}
    triggers = {"software_env" if t == "software-env" else t for t in triggers}
    producers = Producers(workflow)
    judge = Judge(records, triggers, int(args.max_checksum_file_size), producers)
    upstream = Upstream(expander, judge, producers)
    process = snakemake_process(workdir)
    profiles_given = None if profiles is None else (*profiles,)
    seen = _Seen(records, process, profiles_given, layout.refused_params(workdir))
    statuses: list[RunStatus] = []
    for run, plan in _planned_runs(workflow).items():
        try:
            simulate = expander.job(rule, {"run": run})
        except Exception as error:
            raise UserError(
                f"run {run!r}: the rules cannot be expanded: {first_line(error)}"
            ) from None
        verdict = judge.judge(simulate, upstream.of(simulate))
        _name_param_source(verdict, simulate, plan)
        status = _run_status(run, _RunJobs(simulate, verdict), seen)
        statuses.append(replace(status, simulation=plan.simulation, ref=plan.ref or None))
    return statuses


def _planned_runs(workflow: Any) -> dict[str, RunPlan]:
    """Run id -> plan: the Snakefile's ``RUNS`` (a list of ids is taken as plans without a
    simulation), else the config planned as the Snakefile would."""
    runs = workflow.globals.get("RUNS")
    if runs is None:  # a Snakefile without the RUNS of rules/common.smk: plan as it would
        from simwarden.pipeline.plan import plan_runs

        runs = plan_runs(workflow.config)
    if not isinstance(runs, Mapping):
        runs = dict.fromkeys(runs)
    return {
        str(run): plan if isinstance(plan, RunPlan) else RunPlan(str(run), None, {})
        for run, plan in runs.items()
    }


@dataclass(frozen=True)
class _RunJobs:
    """The run_simulation job of one run and its verdict."""

    simulate: Job
    verdict: Verdict

    @functools.cached_property
    def record_path(self) -> str:
        """The record output of the simulation job."""
        simulate = self.simulate
        fallback = next(
            (p for p in simulate.outputs if p.endswith(Path(layout.RECORD).name)),
            simulate.outputs[0],
        )
        return simulate.named_outputs.get("record") or fallback

    @property
    def samples_path(self) -> str:
        """The samples output of the simulation job (else layout's name beside its record)."""
        beside = str(Path(self.record_path).with_name(Path(layout.SAMPLES).name))
        return self.simulate.named_outputs.get("samples") or beside


@dataclass(frozen=True)
class _Seen:
    """What every run's state is judged with, found once: Snakemake's records, the Snakemake
    process the onstart handler recorded (None: none recorded), the profiles, and the problems
    of every refused parameter set (run -> lines)."""

    records: SnakemakeRecords
    process: SnakemakeProcess | None
    profiles: tuple[str, ...] | None
    refused: Mapping[str, Sequence[str]]

    @property
    def killed(self) -> bool:
        """The recorded Snakemake is dead: its locks were left behind by a kill."""
        return self.process is not None and not self.process.alive


@dataclass(frozen=True)
class _Final:
    """The record in ``results/runs/<run>/record.json``: None if absent; ``problems`` when it
    cannot be trusted (not JSON, cut short, a key of the wrong type, no reason)."""

    record: Record | None
    problems: tuple[str, ...]


def _final_record(path: str) -> _Final:
    if not Path(path).exists():
        return _Final(None, ())
    problems = Problems()
    record = load_record(Path(path), problems)
    if record is not None and record.reason is None and not problems.items:
        problems.add(Path(path), "has no reason (not a simwarden record)")
    return _Final(record, tuple(problems.items))


def _last_attempt(
    jobs: _RunJobs, final: _Final, kept: list[KeptAttempt]
) -> tuple[Path, Record] | None:
    """The record of the run's last attempt: the final one or a kept failed one, the one that
    ended last (the final one on a tie); None when there is no readable record."""
    candidates: list[tuple[float, int, Path, Record]] = []
    record_path = Path(jobs.record_path)
    if final.record is not None:
        candidates.append((_end_key(final.record, record_path), 1, record_path, final.record))
    for attempt in kept:
        record = load_record(attempt.record)
        if record is not None:
            candidates.append((_end_key(record, attempt.record), 0, attempt.record, record))
    if not candidates:
        return None
    _, _, path, record = max(candidates, key=lambda c: (c[0], c[1]))
    return path, record


def _kept_place(run: str, record: Record, kept: list[KeptAttempt]) -> str | None:
    """Where the failed attempt of ``record`` keeps its files: its own attempt directory when
    kept, else the last kept one; None when none is kept."""
    number = record.context.attempt if record.context else None
    number = number if number is not None else record.attempts
    for attempt in kept:
        if attempt.number == number:
            return layout.where_kept(run, attempt.number)
    return layout.where_kept(run, kept[-1].number) if kept else None


def _failed(run: str, path: Path, record: Record, kept: list[KeptAttempt]) -> RunStatus:
    """A run whose last attempt failed: why (its reason), its cause and where it is kept."""
    why = failure_reason(record)
    place = _kept_place(run, record, kept)
    detail = f"{record.cause or record.message or why}; "
    detail += f"{record.retry_note}; " if record.retry_note else ""
    detail += f"files kept in {place}" if place else f"record {path}"
    fields = _attempt_fields(path, record) | {"kept": place}
    return RunStatus(run, "failed", (why,), detail, **fields)


def _started(run: str, jobs: _RunJobs, seen: _Seen, fields: dict[str, Any]) -> RunStatus | None:
    """``running`` or ``incomplete`` for a run whose jobs started and did not finish."""
    started = list(jobs.verdict.incomplete)
    if not started:
        return None
    process = seen.process
    if any(seen.records.locked(p) for p in started):
        if process is not None and not process.alive:
            detail = (
                f"Snakemake (pid {process.pid}) was killed; run `snakemake --unlock`, then run "
                "the workflow again"
            )
            return RunStatus(run, "incomplete", (), detail, **fields)
        if process is not None:  # alive: it was checked above
            detail = f"running in Snakemake pid {process.pid}"
        else:  # which Snakemake is unknown: it may have crashed
            detail = (
                "started by the Snakemake that holds the lock (after a crash: snakemake --unlock)"
            )
        live = read_live(jobs.samples_path) if jobs.verdict.incomplete else None
        return RunStatus(run, "running", (), detail, **fields, live=live)
    detail = f"started and never finished: {', '.join(started)} (the next run redoes it)"
    return RunStatus(run, "incomplete", (), detail, **fields)


def _run_status(run: str, jobs: _RunJobs, seen: _Seen) -> RunStatus:
    final = _final_record(jobs.record_path)
    kept = kept_attempts(run)
    last = _last_attempt(jobs, final, kept)
    attempt_fields = _attempt_fields(*last) if last else {}
    verdict, record_path = jobs.verdict, jobs.record_path
    started = _started(run, jobs, seen, attempt_fields)
    if started is not None:
        return started
    queued = "; queued in a running Snakemake" if seen.records.locked(record_path) else ""
    queued = "" if seen.killed else queued
    # Its parameter set was refused: the last attempt at the run, even if an older one ran
    # (whose record is not shown; the refused run's own record, reason refused, is).
    if seen.refused.get(run):
        refused = "; ".join(seen.refused[run])
        record = final.record
        fields = (
            _attempt_fields(Path(record_path), record)
            if record and record.reason == "refused"
            else {}
        )
        return RunStatus(run, "failed", ("validation",), refused + queued, **fields)
    # Its checkout could not be fetched (an unknown commit, a branch deleted upstream, a
    # repository out of reach): rerunning alone cannot help, whatever ran before.
    if fetch_error := _fetch_error(jobs.simulate):
        return RunStatus(run, "failed", ("fetch",), fetch_error + queued)
    if record_path in verdict.missing:
        if last is None:
            return RunStatus(run, "never run", (), queued.lstrip("; "))
        failed = _failed(run, *last, kept)
        detail = failed.detail
        if failed.why == ("exit code 0",):
            detail += f"; the rule failed the run after it exited 0, see {jobs.simulate.log[0]}"
        return replace(failed, detail=detail + queued)
    redo = redo_command(record_path, seen.profiles)
    if final.problems:
        detail = f"{'; '.join(final.problems)}; to redo the run: {redo}"
        return RunStatus(run, "stale", ("record",), detail + queued, **attempt_fields)
    if final.record is not None and final.record.failed:
        failed = _failed(run, Path(record_path), final.record, kept)
        return replace(failed, detail=failed.detail + queued)
    if verdict.missing:
        # Snakemake reruns a job only for outputs a later job needs, so it may leave this as is.
        missing = ", ".join(f"{p} missing" for p in verdict.missing)
        verdict.add("output", f"{missing} (to redo it: {redo})")
    if verdict.causes:
        order = ("parameters", "code", "run config", "input", "output")
        why_all = sorted(verdict.causes, key=lambda c: order.index(c) if c in order else 9)
        detail = "; ".join(d for c in why_all for d in verdict.causes[c])
        return RunStatus(run, "stale", tuple(why_all), detail + queued, **attempt_fields)
    # A stop that a later attempt fixed: say so, the run is up to date all the same.
    return RunStatus(run, "up to date", (), retry_summary(kept) or "", **attempt_fields)


def _fetch_error(job: Job) -> str:
    """The error fetch_code logged for the run's checkout, when that checkout file is missing
    (a commit that does not exist, a repository that cannot be reached); "" otherwise."""
    for code in (path for path in job.inputs if path.startswith(f"{layout.RESULTS}/code/")):
        if Path(code).exists():
            continue
        log = Path(layout.log(layout.FETCH_CODE, Path(code).stem))
        try:
            text = log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        said = [line for line in text.splitlines() if line.startswith(PREFIX)]
        if said:  # the last line is the error; the ones before it are progress (Fetching ...)
            return f"{said[-1].removeprefix(PREFIX)} ({log})"
    return ""


def _name_param_source(verdict: Verdict, job: Job, plan: RunPlan) -> None:
    """Say a changed ``results/params/<run>.json`` as the parameter file it came from, when that
    file is newer than the run's outputs (else the validated file itself is named)."""
    details = verdict.causes.get("parameters", [])
    params = layout.for_run(layout.PARAMS, plan.run)
    if f"{params} changed" not in details or not plan.param_file:
        return
    with contextlib.suppress(OSError):
        if os.stat(plan.param_file).st_mtime > min(_mtimes(job.outputs)):
            details[details.index(f"{params} changed")] = f"{plan.param_file} changed"


def _mtimes(paths: Sequence[str]) -> list[float]:
    return [os.lstat(p).st_mtime for p in paths if os.path.lexists(p)] or [float("inf")]


def refusal(text: str) -> str:
    """The refusal at the end of a rule's log, its lines joined by "; ": the last block of
    ``simwarden: `` lines (one per error), with any unprefixed lines after them (older logs
    wrote one ``simwarden: `` line followed by the other errors); the last line of ``text``
    when no line has the prefix."""
    lines = [line for line in text.splitlines() if line.strip()]
    said = [i for i, line in enumerate(lines) if line.startswith(PREFIX)]
    if not said:
        return last_line(text)
    start = said[-1]
    while start > 0 and lines[start - 1].startswith(PREFIX):
        start -= 1
    return "; ".join(line.removeprefix(PREFIX).strip() for line in lines[start:])


def _attempt_fields(path: Path, record: Record) -> dict[str, Any]:
    context = record.context
    peak, wall = record.peak_bytes, record.wall_s
    attempt = context.attempt if context else None
    return {
        "reason": record.reason,
        "exit_code": record.exit_code,
        "attempt": context.attempt if context else None,
        "peak_rss_bytes": int(peak) if isinstance(peak, int | float) else None,
        "wall_s": float(wall) if isinstance(wall, int | float) else None,
        "finished": record.end,
        "commit": context.commit if context else None,
        "run_config": context.run_config if context else None,
        "record": str(path),
        "attempts": record.attempts if record.attempts is not None else attempt,
        "cause": record.cause,
    }
