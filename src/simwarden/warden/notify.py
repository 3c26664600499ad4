"""Notifiers: tell people that a guarded run crossed a threshold, was stopped, or ended.

The warden builds one :class:`NotifierHub` from the notifiers the user asked for and posts
:class:`Event` objects to it. The hub delivers them on one background daemon thread, so a slow SMTP
server or hook never delays the monitoring loop, and turns every notifier failure into one log line.

Secrets: the SMTP password never appears in a log line, an exception message, a repr or an email.

``notify`` holds the hub, the log and hook notifiers, and :class:`EventFilter`, which passes on
only the events a person chose, under the names of :data:`NOTIFY_EVENTS` (``memory``, ``failed``,
...); :mod:`simwarden.warden.events` the event and its helpers; :mod:`simwarden.warden.mail` email.
Every public name is importable from here.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shlex
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from typing import IO

from simwarden.core.errors import UserError
from simwarden.warden.events import Event, Notifier, NotifyError, one_line, scrub, write_line
from simwarden.warden.mail import (
    SUBJECT_MAX_CHARS,
    TLS_DEFAULT_PORTS,
    EmailNotifier,
    SmtpSettings,
    parse_email_address,
)

__all__ = [
    "DEFAULT_NOTIFY_EVENTS",
    "NOTIFY_EVENTS",
    "SUBJECT_MAX_CHARS",
    "TLS_DEFAULT_PORTS",
    "CommandNotifier",
    "EmailNotifier",
    "Event",
    "EventFilter",
    "LogNotifier",
    "Notifier",
    "NotifierHub",
    "NotifyError",
    "SmtpSettings",
    "deliver",
    "headline",
    "notify_name",
    "parse_email_address",
    "parse_notify_cmd",
    "secrets_of",
]

#: Longest excerpt of a failing hook's output put into the log line.
_HOOK_OUTPUT_MAX_CHARS = 200
#: How long :meth:`NotifierHub.close` waits for undelivered events unless a notifier says less.
CLOSE_TIMEOUT_S = 30.0


class LogNotifier:
    """Write ``simwarden: <message>`` as one line to a text stream and flush it.

    ``stream=None`` means whatever ``sys.stderr`` is at the time of each event. Newlines in the
    message are folded into spaces so that one event is always one line.
    """

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream

    def send(self, event: Event) -> None:
        write_line(self.stream, one_line(event.message))


def _env_name(key: str) -> str:
    """``run-id`` -> ``SIMWARDEN_RUN_ID``: upper case, every non-alphanumeric becomes ``_``."""
    return "SIMWARDEN_" + "".join(c if c.isalnum() and c.isascii() else "_" for c in key.upper())


class CommandNotifier:
    """Run a hook command for every event, with the event in its environment.

    The hook gets ``os.environ`` without the SMTP settings (``SIMWARDEN_SMTP_*``: the password
    is none of its business) plus ``SIMWARDEN_EVENT`` (the kind), ``SIMWARDEN_MESSAGE``,
    ``SIMWARDEN_DETAIL`` (when the event has a detail) and ``SIMWARDEN_<KEY>`` for every field (key
    upper-cased, other characters than letters and digits turned into ``_``; the first three win
    over a clashing field).
    argv is run without a shell, stdin is ``/dev/null`` and its output is kept only to quote the
    last line when it fails.

    The hook stays in the warden's session (the warden tells hook processes apart from the watched
    tree by session id) but gets its own process group, so that a hook that outlives ``timeout_s``
    is killed with everything it started (SIGKILL to the group), then reaped.

    ``send`` never raises: a missing program, a non-zero exit or a timeout is reported as one line
    on ``log`` (``None``: the current ``sys.stderr``). ``send`` blocks until the hook ends or is
    killed, at most about ``timeout_s`` seconds.
    """

    def __init__(
        self, argv: list[str], timeout_s: float = 30.0, *, log: IO[str] | None = None
    ) -> None:
        if not argv:
            msg = "notify command is empty: give a program to run, e.g. 'notify-send simwarden'"
            raise UserError(msg)
        if not timeout_s > 0:
            msg = f"notify command timeout {timeout_s!r} s: give a positive number of seconds"
            raise UserError(msg)
        self.argv = list(argv)
        self.timeout_s = float(timeout_s)
        self.log = log

    def __repr__(self) -> str:
        return f"CommandNotifier(argv={self.argv!r}, timeout_s={self.timeout_s!r})"

    def environment(self, event: Event) -> dict[str, str]:
        """The environment the hook gets for ``event`` (NUL characters, illegal there, dropped)."""
        from simwarden.warden.spawn import without_secrets

        env = without_secrets(os.environ)
        for key, value in event.fields.items():
            env[_env_name(key)] = value.replace("\0", "")
        env["SIMWARDEN_EVENT"] = event.kind.replace("\0", "")
        env["SIMWARDEN_MESSAGE"] = event.message.replace("\0", "")
        if event.detail:
            env["SIMWARDEN_DETAIL"] = event.detail.replace("\0", "")
        return env

    def send(self, event: Event) -> None:
        name = shlex.quote(self.argv[0])
        # A file, not a pipe: a grandchild that keeps the pipe open could block us forever.
        with tempfile.TemporaryFile() as output:
            try:
                proc = subprocess.Popen(
                    self.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    env=self.environment(event),
                    process_group=0,
                    close_fds=True,
                )
            except OSError as err:
                reason = err.strerror or str(err)
                write_line(self.log, f"notify hook {name} could not start: {reason}")
                return
            try:
                code = proc.wait(timeout=self.timeout_s)
            except subprocess.TimeoutExpired:
                self._kill(proc)
                write_line(
                    self.log,
                    f"notify hook {name} still running after {self.timeout_s:g} s: killed",
                )
                return
            if code != 0:
                how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
                tail = self._last_line(output)
                write_line(self.log, f"notify hook {name} {how}" + (f": {tail}" if tail else ""))

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL the hook's process group (it leads it), then reap the hook itself."""
        # ProcessLookupError: the group emptied between the timeout and now.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    @staticmethod
    def _last_line(output: IO[bytes]) -> str:
        """The last non-empty line the hook printed, shortened, or ``""``."""
        output.seek(0, os.SEEK_END)
        size = output.tell()
        output.seek(max(0, size - 4096))
        text = output.read().decode("utf-8", errors="replace")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if not lines:
            return ""
        last = lines[-1]
        if len(last) > _HOOK_OUTPUT_MAX_CHARS:
            last = last[: _HOOK_OUTPUT_MAX_CHARS - 1] + "…"
        return last


def parse_notify_cmd(cmd: str, *, name: str = "notify command") -> list[str]:
    """Split a hook command line the way a POSIX shell would, without running a shell.

    ``name`` is used in the error message (e.g. ``"--notify-cmd"``). An empty command or
    unbalanced quotes raise :class:`UserError`.
    """
    try:
        argv = shlex.split(cmd)
    except ValueError as err:
        msg = (
            f"{name} {cmd!r}: {err} (unbalanced quotes); quote it as in a shell, "
            "e.g. 'notify-send \"run stopped\"'"
        )
        raise UserError(msg) from None
    if not argv:
        msg = f"{name} {cmd!r} is empty: give a program to run, e.g. 'notify-send simwarden'"
        raise UserError(msg)
    return argv


_STOP = object()


class NotifierHub:
    """Delivers events to notifiers on one background daemon thread so a slow SMTP server or hook
    never delays the warden's monitoring loop.

    No thread exists until the first :meth:`post` (the warden forks its child before that). Events
    reach each notifier in the order posted; notifiers are called one after another. Any exception
    from a notifier becomes one line ``simwarden: <notifier_name> failed: <error>`` on ``log``
    (``None``: the current ``sys.stderr``), with every notifier's ``secrets`` replaced by ``***``.
    A notifier may bound how long :meth:`close` waits by a ``close_timeout_s`` attribute: the
    hub waits the longest any notifier asks for, :data:`CLOSE_TIMEOUT_S` for one that says none.
    """

    def __init__(self, notifiers: Sequence[Notifier], *, log: IO[str] | None = None) -> None:
        self.notifiers = list(notifiers)
        self.log = log
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        waits = [getattr(n, "close_timeout_s", None) or CLOSE_TIMEOUT_S for n in self.notifiers]
        self.close_timeout_s = max(waits, default=CLOSE_TIMEOUT_S)

    def post(self, event: Event) -> None:
        """Queue ``event`` for delivery and return at once.

        With no notifiers this does nothing (and starts no thread). After :meth:`close` the event
        is dropped with one log line.
        """
        if not self.notifiers:
            return
        with self._lock:
            if self._closed:
                write_line(self.log, f"notifiers closed: event {event.kind!r} not sent")
                return
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._deliver, name="simwarden-notify", daemon=True
                )
                self._thread.start()
            self._queue.put(event)

    def close(self, timeout_s: float | None = None) -> None:
        """Deliver what is queued, then stop the thread; wait at most ``timeout_s`` seconds
        (None: :attr:`close_timeout_s`, see the class).

        If delivery is still going on after ``timeout_s``, log one line and return; the daemon
        thread then dies with the process. Calling ``close`` again does nothing.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
            if thread is None:
                return
            self._queue.put(_STOP)
        timeout_s = self.close_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout_s
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            write_line(
                self.log,
                f"notifiers still busy after {timeout_s:g} s: giving up on undelivered events",
            )

    def __enter__(self) -> NotifierHub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _deliver(self) -> None:
        while True:
            event = self._queue.get()
            if event is _STOP:
                return
            assert isinstance(event, Event)
            deliver(self.notifiers, event, self.log)


def secrets_of(notifiers: Iterable[object]) -> tuple[str, ...]:
    """Every ``secrets`` string the notifiers declare (see :class:`Notifier`)."""
    found: set[str] = set()
    for notifier in notifiers:
        found.update(getattr(notifier, "secrets", ()))
    return tuple(found)


def notifier_name(notifier: Notifier) -> str:
    """How a failure line names ``notifier``: its ``what`` (``email to a@b.org``) when it has
    one, else ``notifier <ClassName>``."""
    what = getattr(notifier, "what", None)
    return what if isinstance(what, str) and what else f"notifier {type(notifier).__name__}"


def deliver(notifiers: Sequence[Notifier], event: Event, log: IO[str] | None = None) -> int:
    """Send ``event`` to each notifier in turn, now; returns how many failed. Never raises: a
    failure is one line ``simwarden: <notifier_name> failed: <error>`` on ``log`` (``None``: the
    current ``sys.stderr``) with every notifier's secrets replaced by ``***``, and the next
    notifier still gets the event."""
    failed = 0
    for notifier in notifiers:
        try:
            notifier.send(event)
        except Exception as err:  # a notifier must never stop delivery
            failed += 1
            text = str(err)
            if not isinstance(err, NotifyError):
                text = f"{type(err).__name__}: {text}" if text else type(err).__name__
            line = f"{notifier_name(notifier)} failed: {one_line(text)}"
            write_line(log, scrub(line, secrets_of(notifiers)))
    return failed


# ------------------------------------------------------------------ what a person chooses to hear

#: The events a person can choose (``run_config.notify.events``): each guard's stop by its reason,
#: ``failed`` (the command ended by itself with a non-zero code), the memory warning, a success.
NOTIFY_EVENTS = (
    "memory",
    "timeout",
    "stalled",
    "disk",
    "host_memory",
    "stopped",
    "failed",
    "mem_warn",
    "succeeded",
)
#: Chosen when none are: every stop by a guard and every failure; not the stop file (whoever
#: touched it knows), warnings or successes.
DEFAULT_NOTIFY_EVENTS = ("memory", "timeout", "stalled", "disk", "host_memory", "failed")
# Stop reasons named after themselves. A stop by a signal to the warden is none of them.
_STOP_NAMES = NOTIFY_EVENTS[:6]


def notify_name(event: Event) -> str | None:
    """The :data:`NOTIFY_EVENTS` name of a warden event, None for one no person chooses. Pure.

    ``stop`` with reason R: R (None for ``signal``: whoever sent it knows); ``end`` of a command
    that ended by itself (reason ``exited``): ``succeeded`` for exit code 0, else ``failed``;
    ``mem_warn``: itself. Any other ``end`` follows a ``stop`` that was the news already.
    """
    fields = event.fields
    if event.kind == "stop":
        reason = fields.get("reason")
        return reason if reason in _STOP_NAMES else None
    if event.kind == "mem_warn":
        return "mem_warn"
    if event.kind == "end" and fields.get("reason") == "exited":
        return "succeeded" if fields.get("exit_code") == "0" else "failed"
    return None


def headline(name: str, event: Event) -> str:
    """One fixed line for a named event, e.g. ``run big (attempt 1) stopped``: who (the event's
    ``label``, else ``run <run>``, else ``the command``) and what happened, no measured numbers
    (those are in the warden's own message, the event's detail once named). A failure says its
    ``cause`` field (``KeyError: 'b' (sim.py:6)``) when the end event has one."""
    fields = event.fields
    who = fields.get("label") or (f"run {fields['run']}" if fields.get("run") else "the command")
    if name == "succeeded":
        return f"{who} succeeded"
    if name == "failed":  # the simulation's own cause when it said one (end events carry it)
        cause = fields.get("cause")
        return (
            f"{who} failed: {cause}"
            if cause
            else f"{who} failed with exit code " + (fields.get("exit_code") or "?")
        )
    if name == "mem_warn":
        return f"{who} passed its memory warning level"
    return f"{who} stopped"


class EventFilter:
    """A notifier that passes on only the events a person chose, renamed.

    Each warden event is named by :func:`notify_name`; one whose name is in ``events`` reaches
    every notifier of ``notifiers`` as ``Event(name, headline(name, event), fields,
    detail=<the warden's message>)``: an email's subject reads ``[simwarden] memory: run big
    (attempt 1) stopped``, a hook sees ``SIMWARDEN_EVENT=memory``. Other events are dropped.

    ``send`` never raises: a failing notifier is one line on ``log`` (``None``: the current
    ``sys.stderr``; see :func:`deliver`) and the others still get the event. ``close_timeout_s``
    (None: the hub's default) bounds how long a :class:`NotifierHub` holding this filter waits at
    its close for undelivered events. An unknown name in ``events`` raises :class:`UserError`.
    """

    def __init__(
        self,
        notifiers: Sequence[Notifier],
        events: Iterable[str] = DEFAULT_NOTIFY_EVENTS,
        *,
        log: IO[str] | None = None,
        close_timeout_s: float | None = None,
    ) -> None:
        self.notifiers = list(notifiers)
        self.events = tuple(events)
        unknown = [name for name in self.events if name not in NOTIFY_EVENTS]
        if unknown:
            msg = f"notify event {unknown[0]!r} is not one of {', '.join(NOTIFY_EVENTS)}"
            raise UserError(msg)
        self.log = log
        self.close_timeout_s = close_timeout_s

    def __repr__(self) -> str:
        return f"EventFilter({self.notifiers!r}, events={self.events!r})"

    @property
    def secrets(self) -> tuple[str, ...]:
        """The wrapped notifiers' secrets (a hub scrubs them from its lines)."""
        return secrets_of(self.notifiers)

    def send(self, event: Event) -> None:
        name = notify_name(event)
        if name is None or name not in self.events:
            return
        named = Event(name, headline(name, event), event.fields, detail=event.message)
        deliver(self.notifiers, named, self.log)
