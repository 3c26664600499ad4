"""Email notifications: SMTP settings from the environment and the :class:`EmailNotifier`.

Secrets: the SMTP password never appears in a log line, an exception message, a repr or an email.
Loaded only when someone asks for email (``--notify-email``): it pulls in smtplib, ssl and email.
"""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from types import MappingProxyType

from simwarden.core.errors import UserError
from simwarden.warden.events import Event, NotifyError, one_line, scrub

__all__ = [
    "SUBJECT_MAX_CHARS",
    "TLS_DEFAULT_PORTS",
    "EmailNotifier",
    "SmtpSettings",
    "parse_email_address",
]

#: Longest email subject written, in characters (longer ones end in "…").
SUBJECT_MAX_CHARS = 120
#: TLS modes accepted by :class:`SmtpSettings`, with the port each implies by default.
TLS_DEFAULT_PORTS: Mapping[str, int] = MappingProxyType({"none": 25, "starttls": 587, "ssl": 465})

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
        tls, port = _tls_and_port_from_env(environ)
        timeout_s = _timeout_from_env(environ)
        user, password = _login_from_env(environ)
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


def _tls_and_port_from_env(environ: Mapping[str, str]) -> tuple[str, int]:
    """``SIMWARDEN_SMTP_TLS`` and ``SIMWARDEN_SMTP_PORT`` (default: the TLS mode's port)."""
    tls_raw = _env_value(environ, "SIMWARDEN_SMTP_TLS")
    tls = (tls_raw or "none").lower()
    if tls not in TLS_DEFAULT_PORTS:
        accepted = ", ".join(TLS_DEFAULT_PORTS)
        msg = f"SIMWARDEN_SMTP_TLS={tls_raw!r} is not accepted: use one of {accepted}"
        raise UserError(msg)
    port_raw = _env_value(environ, "SIMWARDEN_SMTP_PORT")
    if port_raw is None:
        return tls, TLS_DEFAULT_PORTS[tls]
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
    return tls, port


def _timeout_from_env(environ: Mapping[str, str]) -> float:
    """``SIMWARDEN_SMTP_TIMEOUT`` in seconds, 10 when unset."""
    timeout_raw = _env_value(environ, "SIMWARDEN_SMTP_TIMEOUT")
    if timeout_raw is None:
        return 10.0
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
    return timeout_s


def _login_from_env(environ: Mapping[str, str]) -> tuple[str | None, str | None]:
    """``SIMWARDEN_SMTP_USER`` and ``SIMWARDEN_SMTP_PASSWORD``: both or neither."""
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
    return user, password


class EmailNotifier:
    """Send each event as a plain-text email through one SMTP connection per event.

    Subject: ``[simwarden] <kind>: <message>`` on one line, cut to :data:`SUBJECT_MAX_CHARS`
    characters with a trailing ``…``. Body: the message, a blank line, the event's ``detail`` and
    a blank line when it has one, then ``key: value`` per field in the event's order. The
    password is removed from subject and body should a field ever contain it.

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

    @property
    def what(self) -> str:
        """What a failure line calls this notifier: ``email to a@b.org``."""
        return f"email to {', '.join(self.recipients)}"

    def build_message(self, event: Event) -> EmailMessage:
        """The email for ``event``, headers included, as it will be sent."""
        secrets = self.secrets
        subject = scrub(one_line(f"[simwarden] {event.kind}: {event.message}"), secrets)
        if len(subject) > SUBJECT_MAX_CHARS:
            subject = subject[: SUBJECT_MAX_CHARS - 1].rstrip() + "…"
        lines = [event.message, ""]
        if event.detail:
            lines += [event.detail.rstrip("\n"), ""]
        lines += [f"{key}: {value}" for key, value in event.fields.items()]
        body = scrub("\n".join(lines) + "\n", secrets)

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
            text = scrub(one_line(f"{step} failed: {_describe(err)}"), self.secrets)
            raise NotifyError(text) from None
        if refused:
            text = f"server {where} refused recipient(s) {', '.join(sorted(refused))}"
            raise NotifyError(scrub(text, self.secrets))


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
