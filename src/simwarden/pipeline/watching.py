"""Telling people about the guarded runs: each simulation job's notifiers, one message when the
workflow ends, and the stop file said at the workflow's start and end.

Nothing here fails a run or the workflow, and every wait is bounded: an SMTP server that cannot
be reached costs one warning line per undelivered event (a job's in its log, the end message's
on Snakemake's stderr), a hook that hangs is killed after :data:`NOTIFY_COMMAND_TIMEOUT_S`.
The SMTP settings come from the environment of the process that sends (``SIMWARDEN_SMTP_*``) and
are never stored: not in the run config, a record or a log.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from simwarden.core.log import PREFIX, say
from simwarden.pipeline import layout
from simwarden.pipeline.config import Notify, RunConfig
from simwarden.warden.events import Event, Notifier
from simwarden.warden.record import RecordError, read_record

# typing costs ~5 ms of every run's job, which loads this module; annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO

# A hook still running after this many seconds is killed with everything it started.
NOTIFY_COMMAND_TIMEOUT_S = 10.0
# Each SMTP step's timeout (connect, each reply) unless SIMWARDEN_SMTP_TIMEOUT says otherwise:
# less than the warden's own 10 s, so a silent server costs a job seconds, not a minute.
SMTP_TIMEOUT_S = 5.0
# How long a job's warden waits at its end for undelivered events: a hook and a mail at their
# bounds, with room to spare (most runs send one event; the rest is given up with one line).
NOTIFY_CLOSE_TIMEOUT_S = NOTIFY_COMMAND_TIMEOUT_S + 2 * SMTP_TIMEOUT_S + 2.0


def notifiers_for(
    notify: Notify, environ: Mapping[str, str] = os.environ, log: IO[str] | None = None
) -> list[Notifier]:
    """The email and hook notifiers ``notify`` names (none when it names nobody), with the
    pipeline's bounds; a hook's own problem lines go to ``log`` (None: ``sys.stderr``). Raises
    UserError for bad ``SIMWARDEN_SMTP_*`` settings (checked at parse time already)."""
    from dataclasses import replace  # SmtpSettings is a dataclass (off a run's usual path)

    from simwarden.warden.notify import CommandNotifier, EmailNotifier, SmtpSettings

    found: list[Notifier] = []
    if notify.email:
        settings = SmtpSettings.from_env(environ)
        if not environ.get("SIMWARDEN_SMTP_TIMEOUT", "").strip():
            settings = replace(settings, timeout_s=SMTP_TIMEOUT_S)
        found.append(EmailNotifier(list(notify.email), settings))
    if notify.command:
        found.append(CommandNotifier(list(notify.command), NOTIFY_COMMAND_TIMEOUT_S, log=log))
    return found


def run_notifier(
    config: RunConfig, log: IO[str] | None = None, environ: Mapping[str, str] = os.environ
) -> Notifier | None:
    """What a simulation job hands the warden: the events of ``config.notify.events`` of its
    run, renamed (``memory``, ``failed``, ...), to its notifiers; every problem line to ``log``
    (see :func:`say_lines`). None when nobody is to be told."""
    if config.notify is None or not config.notify.enabled:
        return None
    from simwarden.warden.notify import EventFilter

    targets = notifiers_for(config.notify, environ, log)
    return EventFilter(
        targets, config.notify.events, log=log, close_timeout_s=NOTIFY_CLOSE_TIMEOUT_S
    )


def say_lines(text: str) -> None:
    """Say each ``simwarden: ...`` line of ``text`` (what notifiers wrote to a buffer while the
    warden owned the job's log) through the simwarden logger: stderr and the job's log."""
    for line in text.splitlines():
        if line.strip():
            say(line.removeprefix(PREFIX))


# ------------------------------------------------------------------------- the workflow's end


def run_states(runs: Iterable[str], root: str | os.PathLike[str] = ".") -> list[tuple[str, str]]:
    """``(run, state)`` per run from its record under ``root``: ``ok``; ``stopped`` (the stop
    file); ``failed (<reason>)`` with the cause after ``: ``; ``not run`` without a record."""
    states = []
    for run in runs:
        try:
            record = read_record(Path(root) / layout.for_run(layout.RECORD, run))
        except FileNotFoundError:
            states.append((run, "not run"))
            continue
        except RecordError as error:
            states.append((run, f"failed (record): {error}"))
            continue
        if not record.failed:
            states.append((run, "ok"))
        elif record.reason == "stopped":
            states.append((run, "stopped"))
        else:
            states.append((run, f"failed ({record.reason or 'exited'}): {record.cause}"))
    return states


def count_line(states: Iterable[tuple[str, str]]) -> str:
    """``4 ok, 1 failed (memory), 1 stopped``: ok always, the others when there are any; the
    failures' reasons counted when they differ (``3 failed (2 memory, 1 exited)``)."""
    states = list(states)
    reasons = [s.partition("(")[2].partition(")")[0] for _, s in states if s.startswith("failed")]
    parts = [f"{sum(s == 'ok' for _, s in states)} ok"]
    if reasons:
        counted = {reason: reasons.count(reason) for reason in reasons}
        why = ", ".join(f"{n} {r}" for r, n in counted.items()) if len(counted) > 1 else reasons[0]
        parts.append(f"{len(reasons)} failed ({why})")
    for state in ("stopped", "not run"):
        if count := sum(s == state for _, s in states):
            parts.append(f"{count} {state}")
    return ", ".join(parts)


def end_event(runs: Iterable[str], root: str | os.PathLike[str] = ".") -> Event:
    """The message when the workflow ends: kind ``workflow``, ``done: <count_line>`` (an
    email's subject reads ``[simwarden] workflow: done: 4 ok, 1 failed (memory)``), one line
    per run as the detail (``big: failed (memory): memory 612 MB over ...``), the counts and the
    workflow directory as fields."""
    states = run_states(runs, root)
    detail = "\n".join(f"{run}: {state}" for run, state in states)
    counts = {
        "runs": len(states),
        "ok": sum(state == "ok" for _, state in states),
        "failed": sum(state.startswith("failed") for _, state in states),
        "stopped": sum(state == "stopped" for _, state in states),
    }
    fields = {"directory": str(Path(root).resolve())} | {k: str(n) for k, n in counts.items()}
    return Event("workflow", f"done: {count_line(states)}", fields, detail=detail)


def notify_workflow_end(
    config: RunConfig, runs: Iterable[str], root: str | os.PathLike[str] = "."
) -> None:
    """Send :func:`end_event` to everyone ``config.notify`` names, now, in this process (the
    main Snakemake's ``onsuccess:``/``onerror:``: never a dry run, never a job's own Snakemake);
    a failure is one warning line on stderr. Nothing when nobody is to be told."""
    from simwarden.core.errors import UserError
    from simwarden.warden.notify import deliver

    if config.notify is None or not config.notify.enabled:
        return
    try:
        targets = notifiers_for(config.notify)
    except UserError as error:  # the environment changed since the Snakefile was parsed
        say(f"the workflow's end was not notified: {error}")
        return
    deliver(targets, end_event(runs, root))


# -------------------------------------------------------------------------------- the stop file


def stop_file_note(config: RunConfig, when: str) -> str | None:
    """The line that says ``config.stop_file`` exists (None when it does not, or none is set):
    ``when`` is ``start`` (the runs of this invocation will not start) or ``end`` (remove it
    before the next run)."""
    path = config.stop_file
    if path is None or not os.path.exists(path):
        return None
    shown = os.path.relpath(path)
    shown = path if shown.startswith("..") else shown
    if when == "start":
        return (
            f"stop file {shown!r} exists: every simulation job ends as stopped without starting; "
            "remove it and run again"
        )
    return (
        f"stop file {shown!r} exists: remove it before the next run, or every simulation job "
        "ends as stopped without starting"
    )


def workflow_started(config: RunConfig) -> None:
    """The ``onstart:`` handler's part: say that the stop file exists, if it does."""
    note = stop_file_note(config, "start")
    if note:
        say(note)


def workflow_ended(
    config: RunConfig, runs: Iterable[str], root: str | os.PathLike[str] = "."
) -> None:
    """The ``onsuccess:``/``onerror:`` handlers' part: the end message to whoever is to be told,
    and, when this process exits, a line if the stop file exists. Call it before
    :func:`simwarden.results.end_summary.show_at_exit`: hooks run in reverse order of
    registration, so the stop file's line comes after the summary, the last on screen."""
    import atexit

    notify_workflow_end(config, runs, root)

    def say_stop_file() -> None:
        note = stop_file_note(config, "end")
        if note:
            say(note)

    atexit.register(say_stop_file)
