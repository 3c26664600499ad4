"""A real SMTP server on loopback (aiosmtpd) that stores what it receives, for the notifier tests
(tests/unit/test_notify.py) and the workflow's (tests/workflow/test_watching.py).

It offers AUTH (login :data:`USER`, password :data:`PASSWORD`) and records every login tried.
"""

from __future__ import annotations

import contextlib
import email
import email.message
import email.policy
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER = "alice"
PASSWORD = "s3cret-Pa55word"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: email.message.EmailMessage
    raw: bytes


@dataclass
class SmtpServer:
    port: int
    messages: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)


class StoringHandler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        raw = bytes(envelope.original_content or envelope.content)
        # On the wire lines end in CRLF; a mailbox stores them as LF, which is what we compare.
        msg = email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)
        assert isinstance(msg, email.message.EmailMessage)
        self.server.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), msg, raw))
        return "250 OK"


def make_authenticator(server: SmtpServer) -> Any:
    def authenticator(
        smtp: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        server.logins.append((login, password))
        # handled=False: aiosmtpd then sends the 235/535 reply itself.
        return AuthResult(success=(login, password) == (USER, PASSWORD), handled=False)

    return authenticator


def start_controller(server: SmtpServer, **kwargs: Any) -> Controller:
    controller = Controller(
        StoringHandler(server),
        hostname="127.0.0.1",
        port=server.port,
        authenticator=make_authenticator(server),
        **kwargs,
    )
    controller.start()
    return controller


@contextlib.contextmanager
def plain_smtp_server() -> Iterator[SmtpServer]:
    """A plain SMTP server on loopback that offers AUTH without TLS and stores what it gets;
    stopped when the block ends."""
    server = SmtpServer(port=free_port())
    controller = start_controller(server, auth_require_tls=False)
    try:
        yield server
    finally:
        controller.stop()
