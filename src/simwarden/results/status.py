"""``simwarden status``: every run of the workflow and whether it is up to date, stale, failed...

How the state is found (Snakemake 9, file persistence backend):

1. The workflow is parsed with Snakemake's own API, with the profile's settings read by
   Snakemake's own argument parser, so the run list (``RUNS`` of ``rules/common.smk``, i.e. the
   Snakefile's own ``check_config`` + ``plan_runs``) and every rule's input, output and params
   are exactly what ``snakemake --profile P`` would see.
2. No DAG is built (``snakemake -n`` spends most of its time there: about 4 s for 1000 runs).
   Instead, for each run, the jobs of ``validate_params`` and ``run_simulation`` (and the
   wildcard-free rules upstream of them, such as ``fetch_code``) are expanded from their rules,
   and the checks of Snakemake's ``DAG.update_needrun`` are applied to them with the records
   Snakemake wrote: ``.snakemake/metadata/`` (params, input list, code, input checksums),
   ``.snakemake/incomplete/`` (jobs started and not finished) and ``.snakemake/locks/`` (a
   Snakemake running now). Params are serialised with Snakemake's own function, so a recorded
   param set compares as Snakemake compares it; and because the current params are known by name,
   a change is attributed to the param that changed (``ref`` of fetch_code: the commit).
3. Failures come from the warden's records: ``results/runs/{run}/record.json`` of the last
   complete attempt and ``{log}.attempt{N}.record.json`` of failed attempts (Snakemake deletes a
   failed job's outputs; the rule keeps the record beside the log).

Differences from Snakemake, on purpose: a run counts as complete only when every output of
``run_simulation`` exists (Snakemake reruns a job only for outputs a later job needs); a run whose
parameter set was refused by ``validate_params`` is ``failed`` (``validation``) even when an older
run's outputs remain; and the software-stack trigger (conda, containers) is not checked.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from simwarden.core.errors import UserError
from simwarden.core.units import format_mb
from simwarden.results.snakemake_view import (
    SnakemakeRecords,
    _Expander,
    _first_line,
    _in_directory,
    _Job,
    _Judge,
    _last_line,
    _parsed_workflow,
    _Verdict,
)

STATES = ("never run", "up to date", "stale", "failed", "incomplete", "running")
FORMATS = ("table", "tsv", "json")
DEFAULT_PROFILE = "profiles/std"
# Snakemake's default locations of the Snakefile (snakemake.common.SNAKEFILE_CHOICES).
SNAKEFILE_CHOICES = ("Snakefile", "snakefile", "workflow/Snakefile", "workflow/snakefile")
# The per-run rules, upstream first; other rules (figures, plots, tables) are ignored.
PER_RUN_RULES = ("validate_params", "run_simulation")
# Options of a logged command that mean it was not a run of the workflow.
_NOT_A_RUN = ("--unlock", "--cleanup-metadata", "--cm", "--touch", "-t", "--dry-run", "-n")
# Record reasons other than "exited" -> why a run failed.
_FAILURE_WHY = {
    "memory": "memory",
    "timeout": "timeout",
    "host_memory": "host memory",
    "disk": "disk",
    "stopped": "stopped",
}
TSV_COLUMNS = (
    "run",
    "state",
    "why",
    "detail",
    "reason",
    "exit_code",
    "attempt",
    "peak_rss_bytes",
    "wall_s",
    "finished",
)


@dataclass(frozen=True)
class RunStatus:
    """One run's state and, for the last attempt the warden recorded, how it ended.

    ``why`` holds categories: for ``stale`` some of ``parameters``, ``code``, ``input``,
    ``run config``, ``output``; for ``failed`` one of ``memory``, ``timeout``, ``exit code N``,
    ``signal N``, ``host memory``, ``disk``, ``stopped``, ``validation``. ``detail`` says what
    exactly (``config/params/a.yaml changed; commit changed``). The attempt fields are None when
    no record exists (a run never started, or killed before its warden could write one).
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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the same keys for every run (``why`` as a list)."""
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
        }


@dataclass(frozen=True)
class ProfileChoice:
    """The profiles the status is computed for, in ``--profile`` order (later ones override
    earlier ones' keys, as in Snakemake; none: config/config.yaml alone), and why."""

    profiles: tuple[str, ...]
    source: str

    @property
    def label(self) -> str:
        return " + ".join(self.profiles) or "none (config/config.yaml only)"


# ------------------------------------------------------------------------------------ the CLI


def cli_main(argv: list[str]) -> int:
    """``simwarden status [--directory DIR] [--profile P] [--format table|tsv|json]``."""
    from simwarden.cli import _Parser

    parser = _Parser(
        prog="simwarden status",
        description="Show every run of the workflow: never run, up to date, stale (why), "
        "failed (why), incomplete or running.",
        epilog=(
            "The profile defaults to the one the last run of the workflow used (the Command: "
            "line of the newest .snakemake/log/*.snakemake.log), else profiles/std. "
            "--profile none means config/config.yaml alone."
        ),
    )
    parser.add_argument(
        "-d",
        "--directory",
        default=".",
        metavar="DIR",
        help="the workflow directory (default: the current one)",
    )
    parser.add_argument(
        "--profile",
        action="append",
        metavar="PROFILE",
        help="the profile the runs are judged against, as given to snakemake --profile; "
        "repeat to stack profiles (default: the last run's, else profiles/std; 'none' for none)",
    )
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format")
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 unless every run is up to date (for scripts and CI)",
    )
    args = parser.parse_args(argv)
    workdir = Path(args.directory)
    choice = choose_profile(workdir, args.profile)
    statuses = collect_status(workdir, list(choice.profiles) or "none")
    text = format_status(statuses, args.format)
    if args.format == "table":
        text += f"\nprofile: {choice.label} ({choice.source})"
    try:
        print(text)
    except BrokenPipeError:  # simwarden status | head
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if args.check and any(status.state != "up to date" for status in statuses):
        return 1
    return 0


# ------------------------------------------------------------------------------ the profile


def find_snakefile(workdir: Path) -> Path | None:
    """The Snakefile Snakemake would use in ``workdir``, or None."""
    for name in SNAKEFILE_CHOICES:
        if (workdir / name).is_file():
            return workdir / name
    return None


def last_run_profile(workdir: Path) -> tuple[list[str], Path] | None:
    """The ``--profile`` options of the newest logged run in ``workdir`` and its log, or None.

    Snakemake writes ``.snakemake/log/<time>.snakemake.log`` for every real run (not for dry
    runs), with a ``Command:`` line (``sys.argv`` joined by spaces, so a profile path holding a
    space is not recovered). Logs of ``--unlock``, ``--touch`` and ``--cleanup-metadata`` are
    skipped. A run without ``--profile`` (or with ``--profile none``) gives ``([], log)``;
    ``--workflow-profile`` counts as a profile applied last.
    """
    logdir = workdir / ".snakemake" / "log"
    try:
        logs = sorted(logdir.glob("*.snakemake.log"), reverse=True)
    except OSError:
        return None
    for log in logs:
        command = _logged_command(log)
        if command is None or any(_has_option(command, o) for o in _NOT_A_RUN):
            continue
        profiles: list[str] = []
        workflow_profile: list[str] = []
        for i, token in enumerate(command):
            option, equals, value = token.partition("=")
            if option in ("--profile", "--workflow-profile"):
                if not equals:
                    value = command[i + 1] if i + 1 < len(command) else ""
                (profiles if option == "--profile" else workflow_profile).append(value)
        used = [p for p in profiles + workflow_profile[-1:] if p and p != "none"]
        return used, log
    return None


def _logged_command(log: Path) -> list[str] | None:
    try:
        with log.open(encoding="utf-8", errors="replace") as handle:
            for _, line in zip(range(40), handle, strict=False):
                if line.strip().startswith("Command:"):
                    return line.split(":", 1)[1].split()[1:]
    except OSError:
        return None
    return None


def _has_option(command: list[str], option: str) -> bool:
    return any(t == option or t.startswith(option + "=") for t in command)


def choose_profile(workdir: Path, profiles: Sequence[str] | None) -> ProfileChoice:
    """The given ``profiles`` (``["none"]``: none); else the last run's; else ``profiles/std``.

    The last run's are used only if every one is still found (in ``workdir``, or by name where
    Snakemake looks); else the default, with the reason in ``source``."""
    if profiles:
        return ProfileChoice(tuple(p for p in profiles if p != "none"), "--profile")
    last = last_run_profile(workdir)
    if last is not None:
        used, log = last
        gone = [p for p in used if not (workdir / p).exists() and not _named_profile(workdir, p)]
        if not gone:
            return ProfileChoice(tuple(used), f"used by the last run, {log.relative_to(workdir)}")
        return ProfileChoice(
            (DEFAULT_PROFILE,), f"default; the last run's profile {gone[0]!r} is not in {workdir}"
        )
    return ProfileChoice((DEFAULT_PROFILE,), "default: no logged run")


def _named_profile(workdir: Path, profile: str) -> bool:
    """True if Snakemake finds ``profile`` by name (``~/.config/snakemake/NAME``, ...)."""
    from snakemake.cli import get_profile_dir

    with _in_directory(workdir):
        return get_profile_dir(profile) is not None


# ------------------------------------------------------------------------------- the warden


def read_record(path: Path) -> dict[str, Any] | None:
    """A warden record, or None if it is missing or not JSON (a partial copy)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def failure_reason(record: Mapping[str, Any]) -> str:
    """Why a failed attempt failed, from its record: ``memory``, ``timeout``, ``exit code 3``,
    ``signal 9``, ``host memory``, ``disk``, ``stopped``; ``exit code 0`` when the command exited
    0 but the rule failed the run anyway (a Bonsai exception: see the log)."""
    reason = str(record.get("reason") or "")
    if reason in _FAILURE_WHY:
        return _FAILURE_WHY[reason]
    if record.get("command_signal"):
        return f"signal {record['command_signal']}"
    code = record.get("command_exit_code", record.get("exit_code"))
    return f"exit code {code}" if code is not None else reason or "unknown"


class AttemptIndex:
    """The kept records of failed attempts (``<log>.attempt<N>.record.json``), by log path.

    Each log directory is listed once, on first use, not once per run."""

    def __init__(self) -> None:
        self._by_log: dict[str, list[Path]] = {}
        self._listed: set[str] = set()

    def add(self, directory: str, names: Iterable[str]) -> None:
        """Index the file ``names`` of ``directory`` (as listed, any order)."""
        self._listed.add(directory)
        from simwarden.pipeline.layout import parse_attempt_record

        for entry in names:
            if parsed := parse_attempt_record(entry):
                log = os.path.join(directory, parsed[0])
                self._by_log.setdefault(log, []).append(Path(directory, entry))

    def records(self, log: str) -> list[Path]:
        """The kept records of the job whose log is ``log``, any order; [] if none."""
        directory = os.path.dirname(log)
        if directory not in self._listed:
            try:
                names = os.listdir(directory or ".")
            except OSError:
                names = []
            self.add(directory, names)
        return self._by_log.get(log, [])


def _end_key(record: Mapping[str, Any], path: Path) -> float:
    try:
        return datetime.fromisoformat(str(record["end"])).timestamp()
    except (KeyError, ValueError):
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
    given), or it lacks the rules validate_params and run_simulation. Writes nothing.
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
    with _parsed_workflow(workdir, profiles) as (workflow, args):
        return _collect(workdir, workflow, args)


def _collect(workdir: Path, workflow: Any, args: Any) -> list[RunStatus]:
    expander = _Expander(workflow)
    rules = [expander.rule(name) for name in PER_RUN_RULES]
    missing = [name for name, rule in zip(PER_RUN_RULES, rules, strict=True) if rule is None]
    if missing:
        raise UserError(
            f"the workflow in {workdir} has no rule {', '.join(missing)}: simwarden status "
            "needs the per-run rules validate_params and run_simulation"
        )
    runs = _planned_runs(workflow)
    records = SnakemakeRecords(workdir)
    triggers = {str(getattr(t, "name", t)).lower() for t in args.rerun_triggers}
    triggers = {"software_env" if t == "software-env" else t for t in triggers}

    # Wildcard-free rules whose outputs the per-run jobs read (fetch_code): judged once each,
    # and only if read (rules that collect all runs are never expanded).
    producers = {
        str(path): rule.name
        for rule in workflow.rules
        if rule.name not in PER_RUN_RULES and not rule.wildcard_names
        for path in rule.output
    }
    judge = _Judge(records, triggers, int(args.max_checksum_file_size), producers)
    shared_verdicts: dict[str, _Verdict] = {}

    def upstream_of(job: _Job, seen: tuple[str, ...] = ()) -> dict[str, _Verdict]:
        found: dict[str, _Verdict] = {}
        for path in job.inputs:
            name = producers.get(path)
            if name is None or name in seen:
                continue
            if name not in shared_verdicts:
                shared_job = expander.job(expander.rule(name), {})
                shared_verdicts[name] = judge.judge(
                    shared_job, upstream_of(shared_job, (*seen, name))
                )
            found[path] = shared_verdicts[name]
        return found

    attempts = AttemptIndex()
    statuses: list[RunStatus] = []
    for run in runs:
        wildcards = {"run": run}
        try:
            validate = expander.job(rules[0], wildcards)
            simulate = expander.job(rules[1], wildcards)
        except Exception as error:
            raise UserError(
                f"run {run!r}: the rules cannot be expanded: {_first_line(error)}"
            ) from None
        validate_verdict = judge.judge(validate, upstream_of(validate))
        upstream = upstream_of(simulate)
        for path in validate.outputs:
            upstream[path] = validate_verdict
        simulate_verdict = judge.judge(simulate, upstream)
        statuses.append(
            _run_status(
                run, validate, validate_verdict, simulate, simulate_verdict, records, attempts
            )
        )
    return statuses


def _planned_runs(workflow: Any) -> list[str]:
    runs = workflow.globals.get("RUNS")
    if runs is None:  # a Snakefile without the RUNS of rules/common.smk: plan as it would
        from simwarden.pipeline.steps import plan_runs

        runs = plan_runs(workflow.config)
    return [str(run) for run in runs]


def _run_status(
    run: str,
    validate: _Job,
    validate_verdict: _Verdict,
    simulate: _Job,
    verdict: _Verdict,
    records: SnakemakeRecords,
    attempts: AttemptIndex,
) -> RunStatus:
    record_path = simulate.named_outputs.get("record") or next(
        (p for p in simulate.outputs if p.endswith("record.json")), simulate.outputs[0]
    )
    candidates: list[tuple[float, int, Path, dict[str, Any]]] = []
    final = read_record(Path(record_path)) if os.path.exists(record_path) else None
    if final is not None:
        candidates.append((_end_key(final, Path(record_path)), 1, Path(record_path), final))
    for log in simulate.log[:1]:
        for path in attempts.records(log):
            kept = read_record(path)
            if kept is not None:
                candidates.append((_end_key(kept, path), 0, path, kept))
    last = max(candidates, key=lambda c: (c[0], c[1]))[2:] if candidates else None
    attempt_fields = _attempt_fields(*last) if last else {}

    started = [*validate_verdict.incomplete, *verdict.incomplete]
    if started:
        if any(records.locked(p) for p in started):
            return RunStatus(
                run,
                "running",
                (),
                "started by the Snakemake that holds the lock (after a crash: snakemake --unlock)",
                **attempt_fields,
            )
        return RunStatus(
            run,
            "incomplete",
            (),
            f"started and never finished: {', '.join(started)} (the next run redoes it)",
            **attempt_fields,
        )
    queued = "; queued in a running Snakemake" if records.locked(record_path) else ""
    # Its parameter set was refused: the last attempt at the run, even if an older one ran.
    validation_error = _validation_error(validate, validate_verdict)
    if validation_error:
        return RunStatus(run, "failed", ("validation",), validation_error + queued)
    if record_path in verdict.missing:
        if last is not None:
            why = failure_reason(last[1])
            detail = f"{last[1].get('message') or why}; record {last[0]}"
            if why == "exit code 0":
                detail += f"; the rule failed the run after it exited 0, see {simulate.log[0]}"
            return RunStatus(run, "failed", (why,), detail + queued, **attempt_fields)
        return RunStatus(run, "never run", (), queued.lstrip("; "))
    if verdict.missing:
        # Snakemake reruns a job only for outputs a later job needs, so it may leave this as is.
        verdict.add(
            "output",
            ", ".join(f"{p} missing" for p in verdict.missing)
            + f" (to redo it: snakemake --profile ... --forcerun {record_path})",
        )
    if verdict.causes:
        order = ("parameters", "code", "run config", "input", "output")
        why = tuple(sorted(verdict.causes, key=lambda c: order.index(c) if c in order else 9))
        detail = "; ".join(d for c in why for d in verdict.causes[c])
        return RunStatus(run, "stale", why, detail + queued, **attempt_fields)
    return RunStatus(run, "up to date", (), "", **attempt_fields)


def _validation_error(validate: _Job, verdict: _Verdict) -> str:
    """The error validate_params logged, when its output is missing: it failed (its script
    empties the log when it starts and writes only a refusal)."""
    if not verdict.missing or not validate.log:
        return ""
    try:
        text = Path(validate.log[0]).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    # The refusal is the last "simwarden: " message; it lists every error, one per line.
    start = text.rfind("simwarden: ")
    if start == -1:
        return _last_line(text)
    lines = text[start:].removeprefix("simwarden: ").splitlines()
    return "; ".join(line.strip() for line in lines if line.strip())


def _attempt_fields(path: Path, record: Mapping[str, Any]) -> dict[str, Any]:
    context = record.get("context") if isinstance(record.get("context"), Mapping) else {}
    peak = record.get("peak_rss_bytes")
    wall = record.get("wall_s")
    return {
        "reason": record.get("reason"),
        "exit_code": record.get("exit_code"),
        "attempt": context.get("attempt"),
        "peak_rss_bytes": int(peak) if isinstance(peak, int | float) else None,
        "wall_s": float(wall) if isinstance(wall, int | float) else None,
        "finished": record.get("end"),
        "commit": context.get("commit"),
        "run_config": context.get("run_config"),
        "record": str(path),
    }


# ------------------------------------------------------------------------------- formatting


def format_status(statuses: Sequence[RunStatus], fmt: str) -> str:
    """``table`` (aligned, with a summary line), ``tsv`` (header line, empty cell for none) or
    ``json`` (a list of :meth:`RunStatus.to_dict`). No trailing newline. Raises UserError for
    another ``fmt``."""
    if fmt == "json":
        return json.dumps([s.to_dict() for s in statuses], indent=2)
    if fmt == "tsv":
        lines = ["\t".join(TSV_COLUMNS)]
        for s in statuses:
            row = s.to_dict()
            row["why"] = ",".join(s.why)
            lines.append("\t".join(_tsv_cell(row[c]) for c in TSV_COLUMNS))
        return "\n".join(lines)
    if fmt == "table":
        return _table(statuses)
    raise UserError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")


def _tsv_cell(value: Any) -> str:
    if value is None:
        return ""
    return str(value).replace("\t", " ").replace("\n", " ")


def _table(statuses: Sequence[RunStatus]) -> str:
    header = ("RUN", "STATE", "WHY", "LAST ATTEMPT", "PEAK MEM", "WALL", "FINISHED", "DETAIL")
    rows = [header]
    for s in statuses:
        last = ""
        if s.reason is not None:
            last = f"{s.reason} {s.exit_code}" if s.exit_code is not None else s.reason
            if s.attempt and s.attempt > 1:
                last += f" (attempt {s.attempt})"
        rows.append(
            tuple(
                _tsv_cell(cell)
                for cell in (
                    s.run,
                    s.state,
                    ", ".join(s.why),
                    last,
                    format_mb(s.peak_rss_bytes) if s.peak_rss_bytes is not None else "",
                    _duration(s.wall_s),
                    _when(s.finished),
                    s.detail,
                )
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True))
        + "  "
        + row[-1]
        for row in rows
    ]
    counts = {state: sum(s.state == state for s in statuses) for state in STATES}
    summary = ", ".join(f"{n} {state}" for state, n in counts.items() if n)
    lines.append(f"{len(statuses)} runs: {summary}" if statuses else "no runs")
    return "\n".join(line.rstrip() for line in lines)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def _when(iso: str | None) -> str:
    """A record's ISO 8601 UTC time, shown in local time to the second."""
    if not iso:
        return ""
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso


if __name__ == "__main__":  # pragma: no cover - for `python -m simwarden.results.status`
    sys.exit(cli_main(sys.argv[1:]))
