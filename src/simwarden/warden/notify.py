"""Notifiers: tell people that a guarded run crossed a threshold, was stopped, or ended.

The warden builds one :class:`NotifierHub` from the notifiers the user asked for and posts
:class:`Event` objects to it. The hub delivers them on one background daemon thread, so a slow SMTP
server or hook never delays the monitoring loop, and turns every notifier failure into one log line.

Secrets: the SMTP password never appears in a log line, an exception message, a repr or an email.
"""

from __future__ import annotations

import os
import queue
import shlex
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from types import MappingProxyType
from typing import IO, Protocol, TextIO, runtime_checkable

from simwarden.core.errors import UserError

__all__ = [
    "CommandNotifier",
    "EmailNotifier",
    "Event",
    "LogNotifier",
    "Notifier",
    "NotifierHub",
    "NotifyError",
    "SmtpSettings",
    "parse_email_address",
    "parse_notify_cmd",
]

#: Longest email subject written, in characters (longer ones end in "…").
SUBJECT_MAX_CHARS = 120
#: TLS modes accepted by :class:`SmtpSettings`, with the port each implies by default.
TLS_DEFAULT_PORTS: Mapping[str, int] = MappingProxyType({"none": 25, "starttls": 587, "ssl": 465})
#: Longest excerpt of a failing hook's output put into the log line.
_HOOK_OUTPUT_MAX_CHARS = 200
_SCRUBBED = "***"


class NotifyError(Exception):
    """A notifier could not deliver an event; the message is one line and holds no secret."""


@dataclass(frozen=True)
class Event:
    """Something the warden reports.

    ``kind`` is a lowercase word (``mem_warn``, ``stop``, ``end``); ``message`` is one human line;
    ``fields`` carries details (``reason``, ``rss_bytes``, ``command``, ``pid``, ``run_id``, ...).
    Field keys and values are converted with ``str()`` and stored in a read-only mapping that keeps
    the caller's order, so later changes to the caller's dict do not leak into a posted event.
    """

    kind: str
    message: str
    fields: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        frozen = MappingProxyType({str(k): str(v) for k, v in self.fields.items()})
        object.__setattr__(self, "fields", frozen)


@runtime_checkable
class Notifier(Protocol):
    """Anything with ``send(event)``.

    ``send`` may raise; :class:`NotifierHub` logs the error. A notifier that holds secrets may
    also expose ``secrets: tuple[str, ...]``: the hub removes those strings from every line it logs.
    """

    def send(self, event: Event) -> None: ...


def _one_line(text: str) -> str:
    """Collapse all whitespace runs (newlines included) into single spaces."""
    return " ".join(text.split())


def _scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every non-empty secret in ``text`` with ``***`` (longest first)."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, _SCRUBBED)
    return text


def _write_line(stream: TextIO | None, line: str) -> None:
    """Write ``simwarden: <line>`` to ``stream`` (``None``: the current ``sys.stderr``) and flush.

    A closed or broken stream is ignored: reporting must never take the warden down.
    """
    out = sys.stderr if stream is None else stream
    try:
        out.write(f"simwarden: {line}\n")
        out.flush()
    except (OSError, ValueError):
        pass


class LogNotifier:
    """Write ``simwarden: <message>`` as one line to a text stream and flush it.

    ``stream=None`` means whatever ``sys.stderr`` is at the time of each event. Newlines in the
    message are folded into spaces so that one event is always one line.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def send(self, event: Event) -> None:
        _write_line(self.stream, _one_line(event.message))


def _env_name(key: str) -> str:
    """``run-id`` -> ``SIMWARDEN_RUN_ID``: upper case, every non-alphanumeric becomes ``_``."""
    return "SIMWARDEN_" + "".join(c if c.isalnum() and c.isascii() else "_" for c in key.upper())


class CommandNotifier:
    """Run a hook command for every event, with the event in its environment.

    The hook gets ``os.environ`` plus ``SIMWARDEN_EVENT`` (the kind), ``SIMWARDEN_MESSAGE`` and
    ``SIMWARDEN_<KEY>`` for every field (key upper-cased, other characters than letters and digits
    turned into ``_``; ``SIMWARDEN_EVENT``/``SIMWARDEN_MESSAGE`` win over a clashing field).
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
        self, argv: list[str], timeout_s: float = 30.0, *, log: TextIO | None = None
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
        env = dict(os.environ)
        for key, value in event.fields.items():
            env[_env_name(key)] = value.replace("\0", "")
        env["SIMWARDEN_EVENT"] = event.kind.replace("\0", "")
        env["SIMWARDEN_MESSAGE"] = event.message.replace("\0", "")
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
                _write_line(self.log, f"notify hook {name} could not start: {reason}")
                return
            try:
                code = proc.wait(timeout=self.timeout_s)
            except subprocess.TimeoutExpired:
                self._kill(proc)
                _write_line(
                    self.log,
                    f"notify hook {name} still running after {self.timeout_s:g} s: killed",
                )
                return
            if code != 0:
                how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
                tail = self._last_line(output)
                _write_line(self.log, f"notify hook {name} {how}" + (f": {tail}" if tail else ""))

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL the hook's process group (it leads it), then reap the hook itself."""
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # the group emptied between the timeout and now
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


_ADDRESS_FORBIDDEN = set(',;<>()[]\\"')


def parse_email_address(addr: str, *, name: str = "email address") -> str:
    """Check one bare address (``user@host``) and return it without surrounding whitespace.

    Minimal sanity only: exactly one ``@`` with text on both sides, no whitespace or control
    characters, no ``,;<>()[]\\"`` (a list or a display name is not one address). ``name`` is used
    in the error message. Bad input raises :class:`UserError`.
    """
    text = addr.strip()
    local, at, domain = text.partition("@")
    bad = (
        not at
        or not local
        or not domain
        or "@" in domain
        or any(c.isspace() or not c.isprintable() or c in _ADDRESS_FORBIDDEN for c in text)
    )
    if bad:
        msg = (
            f"{name} {addr!r} is not one email address: give it as user@example.org "
            "(no spaces, no display name; repeat the option for several recipients)"
        )
        raise UserError(msg)
    return text


def _env_value(environ: Mapping[str, str], var: str) -> str | None:
    """The variable's value, stripped; unset and empty both mean ``None``."""
    value = environ.get(var, "").strip()
    return value or None


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the SMTP server. The password never shows in ``repr``/``str``.

    Attributes:
        host: server name or address.
        port: TCP port.
        user: login name; ``None`` means no AUTH.
        password: login password; ``None`` when ``user`` is ``None``.
        sender: the envelope and ``From:`` address.
        tls: ``"none"`` (plain; a login then crosses the network in clear text), ``"starttls"``
            (upgrade after connecting, certificate verified) or ``"ssl"`` (TLS from the first byte,
            certificate verified). Certificates are checked against the system's CA store
            (``SSL_CERT_FILE`` overrides it).
        timeout_s: seconds allowed for each network operation (connect, each reply), not in total.
    """

    host: str = "localhost"
    port: int = 25
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = "simwarden@localhost"
    tls: str = "none"
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if self.tls not in TLS_DEFAULT_PORTS:
            accepted = ", ".join(TLS_DEFAULT_PORTS)
            msg = f"SMTP tls mode {self.tls!r} is not one of {accepted}"
            raise UserError(msg)
        if not 1 <= self.port <= 65535:
            msg = f"SMTP port {self.port!r} is not a TCP port: give a number from 1 to 65535"
            raise UserError(msg)
        if not 0 < self.timeout_s < float("inf"):
            msg = f"SMTP timeout {self.timeout_s!r} s: give a positive number of seconds"
            raise UserError(msg)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Strings that must never be logged: the password (also as a user's own text)."""
        return (self.password,) if self.password else ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> SmtpSettings:
        """Read ``SIMWARDEN_SMTP_*`` variables; empty ones count as unset.

        ``HOST`` (default ``localhost``), ``PORT`` (default 25, or 587 for starttls, 465 for ssl),
        ``USER`` and ``PASSWORD`` (both or neither), ``FROM`` (default ``simwarden@<hostname>``),
        ``TLS`` (``none``, ``starttls`` or ``ssl``; default ``none``), ``TIMEOUT`` (seconds,
        default 10). A bad value raises :class:`UserError` naming the variable, the value and what
        is accepted; the password's value is never quoted.
        """
        tls_raw = _env_value(environ, "SIMWARDEN_SMTP_TLS")
        tls = (tls_raw or "none").lower()
        if tls not in TLS_DEFAULT_PORTS:
            accepted = ", ".join(TLS_DEFAULT_PORTS)
            msg = f"SIMWARDEN_SMTP_TLS={tls_raw!r} is not accepted: use one of {accepted}"
            raise UserError(msg)

        port_raw = _env_value(environ, "SIMWARDEN_SMTP_PORT")
        port = TLS_DEFAULT_PORTS[tls]
        if port_raw is not None:
            try:
                port = int(port_raw, 10)
            except ValueError:
                port = -1
            if not 1 <= port <= 65535:
                msg = (
                    f"SIMWARDEN_SMTP_PORT={port_raw!r} is not a TCP port: give a number from "
                    f"1 to 65535 (or leave it unset for {TLS_DEFAULT_PORTS[tls]} with tls={tls})"
                )
                raise UserError(msg)

        timeout_raw = _env_value(environ, "SIMWARDEN_SMTP_TIMEOUT")
        timeout_s = 10.0
        if timeout_raw is not None:
            try:
                timeout_s = float(timeout_raw)
            except ValueError:
                timeout_s = float("nan")
            if not 0 < timeout_s < float("inf"):
                msg = (
                    f"SIMWARDEN_SMTP_TIMEOUT={timeout_raw!r} is not accepted: give a positive "
                    "number of seconds, e.g. 10 or 2.5"
                )
                raise UserError(msg)

        user = _env_value(environ, "SIMWARDEN_SMTP_USER")
        # Not stripped: a password may begin or end with a space.
        password = environ.get("SIMWARDEN_SMTP_PASSWORD") or None
        if (user is None) != (password is None):
            have, lack = (
                ("SIMWARDEN_SMTP_USER", "SIMWARDEN_SMTP_PASSWORD")
                if password is None
                else ("SIMWARDEN_SMTP_PASSWORD", "SIMWARDEN_SMTP_USER")
            )
            msg = f"{have} is set but {lack} is not: set both to log in, or neither"
            raise UserError(msg)

        sender_raw = _env_value(environ, "SIMWARDEN_SMTP_FROM")
        if sender_raw is None:
            sender = f"simwarden@{socket.gethostname() or 'localhost'}"
        else:
            sender = parse_email_address(sender_raw, name="SIMWARDEN_SMTP_FROM")

        host = _env_value(environ, "SIMWARDEN_SMTP_HOST") or "localhost"
        return cls(
            host=host,
            port=port,
            user=user,
            password=password,
            sender=sender,
            tls=tls,
            timeout_s=timeout_s,
        )


class EmailNotifier:
    """Send each event as a plain-text email through one SMTP connection per event.

    Subject: ``[simwarden] <kind>: <message>`` on one line, cut to :data:`SUBJECT_MAX_CHARS`
    characters with a trailing ``…``. Body: the message, a blank line, then ``key: value`` per
    field in the event's order. The password is removed from subject and body should a field
    ever contain it.

    ``send`` raises :class:`NotifyError` (one line, no password, no chained exception) when the
    server cannot be reached, refuses the login or refuses any recipient; otherwise the mail was
    accepted by the server for every recipient.
    """

    def __init__(self, recipients: list[str], settings: SmtpSettings) -> None:
        if not recipients:
            msg = "email notifier needs at least one recipient address"
            raise UserError(msg)
        self.recipients = [parse_email_address(r, name="recipient") for r in recipients]
        self.settings = settings

    def __repr__(self) -> str:
        return f"EmailNotifier(recipients={self.recipients!r}, settings={self.settings!r})"

    @property
    def secrets(self) -> tuple[str, ...]:
        """Strings :class:`NotifierHub` must scrub from log lines."""
        return self.settings.secrets

    def build_message(self, event: Event) -> EmailMessage:
        """The email for ``event``, headers included, as it will be sent."""
        secrets = self.secrets
        subject = _scrub(_one_line(f"[simwarden] {event.kind}: {event.message}"), secrets)
        if len(subject) > SUBJECT_MAX_CHARS:
            subject = subject[: SUBJECT_MAX_CHARS - 1].rstrip() + "…"
        lines = [event.message, ""]
        lines += [f"{key}: {value}" for key, value in event.fields.items()]
        body = _scrub("\n".join(lines) + "\n", secrets)

        msg = EmailMessage()
        msg["Subject"] = subject
        msg["From"] = self.settings.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Date"] = formatdate(localtime=True)
        # An explicit domain: make_msgid() would otherwise call getfqdn(), slow with broken DNS.
        msg["Message-ID"] = make_msgid(domain=self.settings.sender.rpartition("@")[2])
        msg.set_content(body)
        return msg

    def send(self, event: Event) -> None:
        s = self.settings
        where = f"{s.host}:{s.port}"
        message = self.build_message(event)
        step = f"connecting to SMTP server {where}"
        try:
            context = ssl.create_default_context() if s.tls != "none" else None
            smtp: smtplib.SMTP
            if s.tls == "ssl":
                smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_s, context=context)
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
            with smtp:
                if s.tls == "starttls":
                    step = f"starting TLS with SMTP server {where}"
                    smtp.starttls(context=context)
                if s.user is not None:
                    step = f"SMTP login as {s.user!r} on {where}"
                    smtp.login(s.user, s.password or "")
                step = f"sending mail through {where}"
                refused = smtp.send_message(message, from_addr=s.sender, to_addrs=self.recipients)
        except (OSError, smtplib.SMTPException) as err:
            text = _scrub(_one_line(f"{step} failed: {_describe(err)}"), self.secrets)
            raise NotifyError(text) from None
        if refused:
            text = f"server {where} refused recipient(s) {', '.join(sorted(refused))}"
            raise NotifyError(_scrub(text, self.secrets))


def _describe(err: BaseException) -> str:
    """A short text for an SMTP or socket error, e.g. ``535 Authentication failed``."""
    if isinstance(err, smtplib.SMTPResponseException):
        reply = err.smtp_error
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        return f"{err.smtp_code} {text}"
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        return f"all recipients refused ({', '.join(sorted(err.recipients))})"
    if isinstance(err, TimeoutError):
        return "timed out"
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return str(err) or type(err).__name__


_STOP = object()


class NotifierHub:
    """Delivers events to notifiers on one background daemon thread so a slow SMTP server or hook
    never delays the warden's monitoring loop.

    No thread exists until the first :meth:`post` (the warden forks its child before that). Events
    reach each notifier in the order posted; notifiers are called one after another. Any exception
    from a notifier becomes one line ``simwarden: notifier <Name> failed: <error>`` on ``log``
    (``None``: the current ``sys.stderr``), with every notifier's ``secrets`` replaced by ``***``.
    """

    def __init__(self, notifiers: Sequence[Notifier], *, log: TextIO | None = None) -> None:
        self.notifiers = list(notifiers)
        self.log = log
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        secrets: set[str] = set()
        for notifier in self.notifiers:
            secrets.update(getattr(notifier, "secrets", ()))
        self._secrets = tuple(secrets)

    def post(self, event: Event) -> None:
        """Queue ``event`` for delivery and return at once.

        With no notifiers this does nothing (and starts no thread). After :meth:`close` the event
        is dropped with one log line.
        """
        if not self.notifiers:
            return
        with self._lock:
            if self._closed:
                _write_line(self.log, f"notifiers closed: event {event.kind!r} not sent")
                return
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._deliver, name="simwarden-notify", daemon=True
                )
                self._thread.start()
            self._queue.put(event)

    def close(self, timeout_s: float = 30.0) -> None:
        """Deliver what is queued, then stop the thread; wait at most ``timeout_s`` seconds.

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
        deadline = time.monotonic() + timeout_s
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            _write_line(
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
            for notifier in self.notifiers:
                try:
                    notifier.send(event)
                except Exception as err:  # a notifier must never stop delivery
                    self._report(notifier, err)

    def _report(self, notifier: Notifier, err: Exception) -> None:
        text = str(err)
        if not isinstance(err, NotifyError):
            text = f"{type(err).__name__}: {text}" if text else type(err).__name__
        line = f"notifier {type(notifier).__name__} failed: {_one_line(text)}"
        _write_line(self.log, _scrub(line, self._secrets))
