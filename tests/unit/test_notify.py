"""Tests for simwarden.warden.notify, events and mail.

Real SMTP servers on loopback, real hook processes, real threads.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from simwarden.core.errors import UserError
from simwarden.warden.events import Event, Notifier, NotifyError
from simwarden.warden.mail import (
    SUBJECT_MAX_CHARS,
    EmailNotifier,
    SmtpSettings,
    parse_email_address,
)
from simwarden.warden.notify import (
    CLOSE_TIMEOUT_S,
    DEFAULT_NOTIFY_EVENTS,
    NOTIFY_EVENTS,
    CommandNotifier,
    EventFilter,
    LogNotifier,
    NotifierHub,
    notify_name,
    parse_notify_cmd,
)
from tests.smtp import (
    PASSWORD,
    USER,
    SmtpServer,
    free_port,
    plain_smtp_server,
    start_controller,
)

#: Upper bound on any wait in this file (a deadline, never a sleep).
DEADLINE_S = 10.0

STOP_EVENT = Event(
    kind="stop",
    message="memory 612 MB over limit 500 MB: stopping (SIGTERM)",
    fields={"reason": "memory", "rss_bytes": "641728512", "limit_bytes": "524288000", "pid": "42"},
)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A plain SMTP server on loopback that offers AUTH without TLS and stores what it gets."""
    with plain_smtp_server() as server:
        yield server


@pytest.fixture
def tls_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, trusted by the default context via SSL_CERT_FILE."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=DEADLINE_S,
    )  # fmt: skip
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def settings_for(port: int, **kwargs: Any) -> SmtpSettings:
    base: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "sender": "warden@example.org",
        "timeout_s": DEADLINE_S,
    }
    return SmtpSettings(**(base | kwargs))


# ---------------------------------------------------------------- Event, LogNotifier


def test_event_fields_are_str_read_only_and_copied() -> None:
    source: dict[str, Any] = {"pid": 42, "reason": "memory"}
    event = Event("stop", "stopped", source)
    source["pid"] = 7
    assert dict(event.fields) == {"pid": "42", "reason": "memory"}
    with pytest.raises(TypeError):
        event.fields["pid"] = "1"  # type: ignore[index]
    assert Event("end", "done").fields == {}


def test_log_notifier_writes_one_flushed_line() -> None:
    stream = io.StringIO()
    LogNotifier(stream).send(Event("mem_warn", "memory 410 MB\nof 500 MB"))
    assert stream.getvalue() == "simwarden: memory 410 MB of 500 MB\n"
    assert isinstance(LogNotifier(stream), Notifier)


def test_log_notifier_defaults_to_current_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    LogNotifier().send(STOP_EVENT)
    assert capsys.readouterr().err == f"simwarden: {STOP_EVENT.message}\n"


# ---------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("cmd", "argv"),
    [
        ("notify-send simwarden", ["notify-send", "simwarden"]),
        ("hook 'run stopped' \"a b\" c\\ d", ["hook", "run stopped", "a b", "c d"]),
        ("  /usr/bin/true  ", ["/usr/bin/true"]),
        ("echo $HOME;rm", ["echo", "$HOME;rm"]),
    ],
)
def test_parse_notify_cmd_good(cmd: str, argv: list[str]) -> None:
    assert parse_notify_cmd(cmd) == argv


@pytest.mark.parametrize(
    ("cmd", "expected"),
    [
        ("", "notify command '' is empty: give a program to run, e.g. 'notify-send simwarden'"),
        (
            "   ",
            "notify command '   ' is empty: give a program to run, e.g. 'notify-send simwarden'",
        ),
        (
            "hook 'unclosed",
            'notify command "hook \'unclosed": No closing quotation (unbalanced quotes); quote it '
            "as in a shell, e.g. 'notify-send \"run stopped\"'",
        ),
    ],
)
def test_parse_notify_cmd_bad(cmd: str, expected: str) -> None:
    with pytest.raises(UserError) as info:
        parse_notify_cmd(cmd)
    assert str(info.value) == expected


def test_parse_notify_cmd_names_the_option() -> None:
    with pytest.raises(UserError, match=r"^--notify-cmd '' is empty"):
        parse_notify_cmd("", name="--notify-cmd")


@pytest.mark.parametrize(
    ("addr", "expected"),
    [
        ("ops@example.org", "ops@example.org"),
        ("  first.last+sim@lab.example.ac.uk\n", "first.last+sim@lab.example.ac.uk"),
        ("root@localhost", "root@localhost"),
    ],
)
def test_parse_email_address_good(addr: str, expected: str) -> None:
    assert parse_email_address(addr) == expected


@pytest.mark.parametrize(
    "addr",
    [
        "",
        "nobody",
        "@example.org",
        "ops@",
        "a@b@c",
        "ops @example.org",
        "ops@exa\nmple.org",
        "a@example.org,b@example.org",
        "Ops <ops@example.org>",
        "ops@example.org\x00",
    ],
)
def test_parse_email_address_bad(addr: str) -> None:
    with pytest.raises(UserError) as info:
        parse_email_address(addr, name="--notify-email")
    assert str(info.value) == (
        f"--notify-email {addr!r} is not one email address: give it as user@example.org "
        "(no spaces, no display name; repeat the option for several recipients)"
    )


# ---------------------------------------------------------------- SmtpSettings


def test_settings_from_env_defaults() -> None:
    settings = SmtpSettings.from_env({})
    assert settings == SmtpSettings(
        host="localhost",
        port=25,
        user=None,
        password=None,
        sender=f"simwarden@{socket.gethostname()}",
        tls="none",
        timeout_s=10.0,
    )


@pytest.mark.parametrize(("tls", "port"), [("none", 25), ("starttls", 587), ("SSL", 465)])
def test_settings_from_env_default_port_follows_tls(tls: str, port: int) -> None:
    settings = SmtpSettings.from_env({"SIMWARDEN_SMTP_TLS": tls})
    assert (settings.tls, settings.port) == (tls.lower(), port)


def test_settings_from_env_all_values() -> None:
    env = {
        "SIMWARDEN_SMTP_HOST": "smtp.example.org",
        "SIMWARDEN_SMTP_PORT": "2525",
        "SIMWARDEN_SMTP_USER": USER,
        "SIMWARDEN_SMTP_PASSWORD": PASSWORD,
        "SIMWARDEN_SMTP_FROM": "warden@example.org",
        "SIMWARDEN_SMTP_TLS": "starttls",
        "SIMWARDEN_SMTP_TIMEOUT": "2.5",
        "SIMWARDEN_SMTP_HOST_UNRELATED": "ignored",
    }
    assert SmtpSettings.from_env(env) == SmtpSettings(
        host="smtp.example.org",
        port=2525,
        user=USER,
        password=PASSWORD,
        sender="warden@example.org",
        tls="starttls",
        timeout_s=2.5,
    )


def test_settings_from_env_empty_values_count_as_unset() -> None:
    env = dict.fromkeys(("HOST", "PORT", "USER", "PASSWORD", "TLS", "TIMEOUT"), "")
    settings = SmtpSettings.from_env({f"SIMWARDEN_SMTP_{k}": v for k, v in env.items()})
    assert (settings.host, settings.port, settings.user, settings.tls) == (
        "localhost",
        25,
        None,
        "none",
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"SIMWARDEN_SMTP_PORT": "smtp"},
            "SIMWARDEN_SMTP_PORT='smtp' is not a TCP port: give a number from 1 to 65535 "
            "(or leave it unset for 25 with tls=none)",
        ),
        (
            {"SIMWARDEN_SMTP_PORT": "70000", "SIMWARDEN_SMTP_TLS": "ssl"},
            "SIMWARDEN_SMTP_PORT='70000' is not a TCP port: give a number from 1 to 65535 "
            "(or leave it unset for 465 with tls=ssl)",
        ),
        (
            {"SIMWARDEN_SMTP_PORT": "0"},
            "SIMWARDEN_SMTP_PORT='0' is not a TCP port: give a number from 1 to 65535 "
            "(or leave it unset for 25 with tls=none)",
        ),
        (
            {"SIMWARDEN_SMTP_TLS": "tls"},
            "SIMWARDEN_SMTP_TLS='tls' is not accepted: use one of none, starttls, ssl",
        ),
        (
            {"SIMWARDEN_SMTP_TIMEOUT": "10s"},
            "SIMWARDEN_SMTP_TIMEOUT='10s' is not accepted: give a positive number of seconds, "
            "e.g. 10 or 2.5",
        ),
        (
            {"SIMWARDEN_SMTP_TIMEOUT": "-1"},
            "SIMWARDEN_SMTP_TIMEOUT='-1' is not accepted: give a positive number of seconds, "
            "e.g. 10 or 2.5",
        ),
        (
            {"SIMWARDEN_SMTP_TIMEOUT": "nan"},
            "SIMWARDEN_SMTP_TIMEOUT='nan' is not accepted: give a positive number of seconds, "
            "e.g. 10 or 2.5",
        ),
        (
            {"SIMWARDEN_SMTP_USER": USER},
            "SIMWARDEN_SMTP_USER is set but SIMWARDEN_SMTP_PASSWORD is not: set both to log in, "
            "or neither",
        ),
        (
            {"SIMWARDEN_SMTP_PASSWORD": PASSWORD},
            "SIMWARDEN_SMTP_PASSWORD is set but SIMWARDEN_SMTP_USER is not: set both to log in, "
            "or neither",
        ),
        (
            {"SIMWARDEN_SMTP_FROM": "Warden <w@example.org>"},
            "SIMWARDEN_SMTP_FROM 'Warden <w@example.org>' is not one email address: give it as "
            "user@example.org (no spaces, no display name; repeat the option for several "
            "recipients)",
        ),
    ],
)
def test_settings_from_env_bad_values(env: dict[str, str], expected: str) -> None:
    with pytest.raises(UserError) as info:
        SmtpSettings.from_env(env)
    assert str(info.value) == expected
    assert PASSWORD not in str(info.value)


def test_settings_never_show_the_password() -> None:
    settings = settings_for(25, user=USER, password=PASSWORD)
    notifier = EmailNotifier(["ops@example.org"], settings)
    for text in (repr(settings), str(settings), repr(notifier), str(notifier)):
        assert PASSWORD not in text
    assert repr(settings) == (
        "SmtpSettings(host='127.0.0.1', port=25, user='alice', sender='warden@example.org', "
        "tls='none', timeout_s=10.0)"
    )


# ---------------------------------------------------------------- EmailNotifier


def test_email_plain_send(smtp_server: SmtpServer) -> None:
    notifier = EmailNotifier(["ops@example.org", "me@example.org"], settings_for(smtp_server.port))
    notifier.send(STOP_EVENT)

    assert smtp_server.logins == []
    [got] = smtp_server.messages
    assert got.mail_from == "warden@example.org"
    assert got.rcpt_tos == ["ops@example.org", "me@example.org"]
    msg = got.message
    assert msg["Subject"] == (
        "[simwarden] stop: memory 612 MB over limit 500 MB: stopping (SIGTERM)"
    )
    assert msg["From"] == "warden@example.org"
    assert msg["To"] == "ops@example.org, me@example.org"
    assert msg["Message-ID"].endswith("@example.org>")
    assert msg["Date"]
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content() == (
        "memory 612 MB over limit 500 MB: stopping (SIGTERM)\n"
        "\n"
        "reason: memory\n"
        "rss_bytes: 641728512\n"
        "limit_bytes: 524288000\n"
        "pid: 42\n"
    )


def test_email_long_multiline_subject_is_one_truncated_line(smtp_server: SmtpServer) -> None:
    message = "ended\n" + "x" * 300
    EmailNotifier(["ops@example.org"], settings_for(smtp_server.port)).send(
        Event("end", message, {"run_id": "r1"})
    )
    [got] = smtp_server.messages
    subject = got.message["Subject"]
    assert subject == ("[simwarden] end: ended " + "x" * 300)[: SUBJECT_MAX_CHARS - 1] + "…"
    assert len(subject) == SUBJECT_MAX_CHARS
    assert got.message.get_content() == message + "\n\nrun_id: r1\n"


def test_email_login(smtp_server: SmtpServer) -> None:
    settings = settings_for(smtp_server.port, user=USER, password=PASSWORD)
    EmailNotifier(["ops@example.org"], settings).send(STOP_EVENT)
    assert smtp_server.logins == [(USER, PASSWORD)]
    [got] = smtp_server.messages
    assert got.rcpt_tos == ["ops@example.org"]
    assert PASSWORD.encode() not in got.raw


def test_email_never_carries_the_password(smtp_server: SmtpServer) -> None:
    settings = settings_for(smtp_server.port, user=USER, password=PASSWORD)
    event = Event("end", f"ended: sim --token {PASSWORD}", {"command": f"sim --token {PASSWORD}"})
    EmailNotifier(["ops@example.org"], settings).send(event)
    [got] = smtp_server.messages
    assert PASSWORD.encode() not in got.raw
    assert got.message["Subject"] == "[simwarden] end: ended: sim --token ***"
    assert got.message.get_content() == "ended: sim --token ***\n\ncommand: sim --token ***\n"


def test_email_wrong_password_logs_one_line_without_password(smtp_server: SmtpServer) -> None:
    wrong = "wrong-" + PASSWORD
    settings = settings_for(smtp_server.port, user=USER, password=wrong)
    log = io.StringIO()
    hub = NotifierHub([EmailNotifier(["ops@example.org"], settings)], log=log)
    hub.post(STOP_EVENT)
    hub.close(timeout_s=DEADLINE_S)

    assert smtp_server.messages == []
    assert (USER, wrong) in smtp_server.logins  # the server really saw the attempt
    assert log.getvalue() == (
        f"simwarden: email to ops@example.org failed: SMTP login as 'alice' on "
        f"127.0.0.1:{smtp_server.port} failed: 535 5.7.8 Authentication credentials invalid\n"
    )
    assert wrong not in log.getvalue() and PASSWORD not in log.getvalue()


def test_email_error_never_holds_the_password(smtp_server: SmtpServer) -> None:
    # A user name equal to the password is absurd, but it forces the secret into the error text.
    settings = settings_for(smtp_server.port, user=PASSWORD, password=PASSWORD)
    with pytest.raises(NotifyError) as info:
        EmailNotifier(["ops@example.org"], settings).send(STOP_EVENT)
    assert str(info.value) == (
        f"SMTP login as '***' on 127.0.0.1:{smtp_server.port} failed: "
        "535 5.7.8 Authentication credentials invalid"
    )
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_email_unreachable_server_logs_one_line() -> None:
    port = free_port()  # nothing listens there
    log = io.StringIO()
    hub = NotifierHub([EmailNotifier(["ops@example.org"], settings_for(port))], log=log)
    hub.post(STOP_EVENT)
    hub.close(timeout_s=DEADLINE_S)
    assert log.getvalue() == (
        f"simwarden: email to ops@example.org failed: connecting to SMTP server 127.0.0.1:{port} "
        "failed: Connection refused\n"
    )


def test_email_ssl(tmp_path: Path, tls_files: tuple[Path, Path]) -> None:
    server = SmtpServer(port=free_port())
    # aiosmtpd counts only STARTTLS as TLS for AUTH; this whole connection is TLS already.
    controller = start_controller(
        server, ssl_context=server_context(*tls_files), auth_require_tls=False
    )
    try:
        settings = settings_for(server.port, tls="ssl", user=USER, password=PASSWORD)
        EmailNotifier(["ops@example.org"], settings).send(STOP_EVENT)
    finally:
        controller.stop()
    assert server.logins == [(USER, PASSWORD)]
    assert [m.rcpt_tos for m in server.messages] == [["ops@example.org"]]


def test_email_starttls(tmp_path: Path, tls_files: tuple[Path, Path]) -> None:
    server = SmtpServer(port=free_port())
    controller = start_controller(
        server, tls_context=server_context(*tls_files), require_starttls=True
    )
    try:
        settings = settings_for(server.port, tls="starttls", user=USER, password=PASSWORD)
        EmailNotifier(["ops@example.org"], settings).send(STOP_EVENT)
    finally:
        controller.stop()
    assert server.logins == [(USER, PASSWORD)]
    assert [m.rcpt_tos for m in server.messages] == [["ops@example.org"]]


def test_email_ssl_with_untrusted_certificate_fails_cleanly(
    tls_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty_ca = tmp_path / "empty.pem"
    empty_ca.write_text("")
    monkeypatch.setenv("SSL_CERT_FILE", str(empty_ca))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "no-such-dir"))
    server = SmtpServer(port=free_port())
    controller = start_controller(server, ssl_context=server_context(*tls_files))
    try:
        settings = settings_for(server.port, tls="ssl", user=USER, password=PASSWORD)
        with pytest.raises(NotifyError, match=r"certificate verify failed") as info:
            EmailNotifier(["ops@example.org"], settings).send(STOP_EVENT)
    finally:
        controller.stop()
    assert str(info.value).startswith(f"connecting to SMTP server 127.0.0.1:{server.port} failed:")
    assert server.logins == [] and server.messages == []


def test_email_notifier_checks_recipients() -> None:
    with pytest.raises(UserError, match=r"^recipient 'a b@example.org' is not one email"):
        EmailNotifier(["a b@example.org"], settings_for(25))
    with pytest.raises(UserError, match=r"^email notifier needs at least one recipient"):
        EmailNotifier([], settings_for(25))


# ---------------------------------------------------------------- CommandNotifier

ENV_DUMP_HOOK = """
import json, os, sys
env = {k: v for k, v in os.environ.items() if k.startswith("SIMWARDEN_")}
with open(sys.argv[1], "w") as f:
    json.dump({"env": env, "sid": os.getsid(0), "args": sys.argv[2:]}, f)
"""


def test_command_hook_gets_event_in_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIMWARDEN_TEST_INHERITED", "yes")
    out = tmp_path / "env.json"
    log = io.StringIO()
    event = Event(
        "stop",
        "memory 612 MB over limit 500 MB: stopping (SIGTERM)",
        {"reason": "memory", "rss_bytes": "641728512", "run-id": "a b'c", "command": "sim --x 1"},
    )
    argv = [sys.executable, "-c", ENV_DUMP_HOOK, str(out), "two words"]
    CommandNotifier(argv, timeout_s=DEADLINE_S, log=log).send(event)

    got = json.loads(out.read_text())
    inherited = {k: v for k, v in os.environ.items() if k.startswith("SIMWARDEN_")}
    assert got["env"] == inherited | {
        "SIMWARDEN_EVENT": "stop",
        "SIMWARDEN_MESSAGE": "memory 612 MB over limit 500 MB: stopping (SIGTERM)",
        "SIMWARDEN_REASON": "memory",
        "SIMWARDEN_RSS_BYTES": "641728512",
        "SIMWARDEN_RUN_ID": "a b'c",
        "SIMWARDEN_COMMAND": "sim --x 1",
    }
    assert got["env"]["SIMWARDEN_TEST_INHERITED"] == "yes"
    assert got["args"] == ["two words"]
    assert got["sid"] == os.getsid(0)  # same session as the warden: no start_new_session
    assert log.getvalue() == ""


def test_command_hook_failure_is_one_line(tmp_path: Path) -> None:
    log = io.StringIO()
    script = "import sys; print('working'); print('no mail relay configured'); sys.exit(3)"
    CommandNotifier([sys.executable, "-c", script], log=log).send(STOP_EVENT)
    assert log.getvalue() == (
        f"simwarden: notify hook {sys.executable} exited with code 3: no mail relay configured\n"
    )


def test_command_hook_killed_by_signal_is_one_line() -> None:
    log = io.StringIO()
    script = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    CommandNotifier([sys.executable, "-c", script], log=log).send(STOP_EVENT)
    assert log.getvalue() == f"simwarden: notify hook {sys.executable} killed by signal 9\n"


def test_command_hook_missing_program_is_one_line(tmp_path: Path) -> None:
    log = io.StringIO()
    missing = tmp_path / "no-such-hook"
    CommandNotifier([str(missing), "arg"], log=log).send(STOP_EVENT)
    assert log.getvalue() == (
        f"simwarden: notify hook {missing} could not start: No such file or directory\n"
    )


HANGING_HOOK = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
with open(sys.argv[1], "w") as f:
    f.write(f"{child.pid}\\n")
with open(sys.argv[2], "w") as f:
    f.write("ready\\n")
time.sleep(600)
"""


def wait_gone(pid: int) -> bool:
    """True once ``pid`` no longer runs (gone, or a zombie waiting for its new parent)."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.01)
    return False


def test_command_hook_that_hangs_is_killed_with_its_children(tmp_path: Path) -> None:
    child_file, ready_file = tmp_path / "child.pid", tmp_path / "ready"
    log = io.StringIO()
    notifier = CommandNotifier(
        [sys.executable, "-c", HANGING_HOOK, str(child_file), str(ready_file)],
        timeout_s=3.0,
        log=log,
    )
    procs_before = {p.pid for p in psutil.Process().children()}
    started = time.monotonic()
    notifier.send(STOP_EVENT)
    elapsed = time.monotonic() - started
    child_pid = int(child_file.read_text())
    try:
        assert ready_file.read_text() == "ready\n"  # it was really running when killed
        assert 3.0 <= elapsed < 3.0 + DEADLINE_S
        assert log.getvalue() == (
            f"simwarden: notify hook {sys.executable} still running after 3 s: killed\n"
        )
        # The hook itself was reaped: no child of ours is left, not even a zombie. (Its own
        # child is adopted by this process when an earlier test made it a child subreaper.)
        assert {p.pid for p in psutil.Process().children()} - {child_pid} == procs_before
        # Its own child was in the hook's process group and got the SIGKILL too.
        assert wait_gone(child_pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child_pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):  # adopted by this process: reap it
            os.waitpid(child_pid, 0)


def test_command_notifier_rejects_bad_arguments() -> None:
    with pytest.raises(UserError, match=r"^notify command is empty"):
        CommandNotifier([])
    with pytest.raises(UserError, match=r"^notify command timeout 0 s"):
        CommandNotifier(["true"], timeout_s=0)


# ---------------------------------------------------------------- NotifierHub


class GatedNotifier:
    """Blocks in ``send`` until ``release`` is set; records what it got."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.received: list[Event] = []

    def send(self, event: Event) -> None:
        self.entered.set()
        assert self.release.wait(DEADLINE_S), "test never released the gate"
        self.received.append(event)


class RecordingNotifier:
    def __init__(self) -> None:
        self.received: list[Event] = []

    def send(self, event: Event) -> None:
        self.received.append(event)


class FailingNotifier:
    secrets = (PASSWORD,)

    def send(self, event: Event) -> None:
        raise RuntimeError(f"could not log in with\n{PASSWORD} for {event.kind}")


def hub_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "simwarden-notify"]


def test_hub_post_does_not_block_on_a_slow_notifier() -> None:
    gated, recording = GatedNotifier(), RecordingNotifier()
    events = [Event("mem_warn", "80%"), Event("stop", "stopping"), Event("end", "ended")]
    hub = NotifierHub([gated, recording], log=io.StringIO())
    try:
        hub.post(events[0])
        assert gated.entered.wait(DEADLINE_S)
        # The notifier is now stuck in send(); posting more must still return at once.
        hub.post(events[1])
        hub.post(events[2])
        assert gated.received == [] and recording.received == []
        assert not gated.release.is_set()
    finally:
        gated.release.set()
    hub.close(timeout_s=DEADLINE_S)
    assert gated.received == events
    assert recording.received == events


def test_hub_starts_its_thread_lazily_and_stops_it_on_close() -> None:
    assert hub_threads() == []
    recording = RecordingNotifier()
    hub = NotifierHub([recording], log=io.StringIO())
    assert hub_threads() == []  # the warden forks after __init__: no thread may exist yet
    hub.post(STOP_EVENT)
    [thread] = hub_threads()
    assert thread.daemon
    hub.close(timeout_s=DEADLINE_S)
    assert not thread.is_alive()
    assert recording.received == [STOP_EVENT]
    hub.close()  # idempotent


def test_hub_without_posts_or_notifiers_starts_no_thread() -> None:
    hub = NotifierHub([RecordingNotifier()])
    hub.close()
    hub.close()
    empty = NotifierHub([])
    empty.post(STOP_EVENT)
    assert hub_threads() == []
    empty.close()


def test_hub_logs_errors_scrubbed_and_keeps_delivering() -> None:
    log = io.StringIO()
    recording = RecordingNotifier()
    hub = NotifierHub([FailingNotifier(), recording], log=log)
    hub.post(Event("stop", "one"))
    hub.post(Event("end", "two"))
    hub.close(timeout_s=DEADLINE_S)
    assert [e.message for e in recording.received] == ["one", "two"]
    assert log.getvalue() == (
        "simwarden: notifier FailingNotifier failed: RuntimeError: could not log in with *** "
        "for stop\n"
        "simwarden: notifier FailingNotifier failed: RuntimeError: could not log in with *** "
        "for end\n"
    )


def test_hub_post_after_close_is_dropped_with_a_line() -> None:
    log = io.StringIO()
    recording = RecordingNotifier()
    hub = NotifierHub([recording], log=log)
    hub.close()
    hub.post(STOP_EVENT)
    assert recording.received == []
    assert log.getvalue() == "simwarden: notifiers closed: event 'stop' not sent\n"


def test_hub_close_gives_up_after_its_timeout() -> None:
    gated = GatedNotifier()
    log = io.StringIO()
    hub = NotifierHub([gated], log=log)
    try:
        hub.post(STOP_EVENT)
        assert gated.entered.wait(DEADLINE_S)
        hub.close(timeout_s=0.05)
        assert log.getvalue() == (
            "simwarden: notifiers still busy after 0.05 s: giving up on undelivered events\n"
        )
    finally:
        gated.release.set()
    [thread] = hub_threads()
    thread.join(DEADLINE_S)
    assert gated.received == [STOP_EVENT]


def test_hub_delivers_to_a_real_hook_and_mail_server(
    smtp_server: SmtpServer, tmp_path: Path
) -> None:
    out = tmp_path / "env.json"
    log = io.StringIO()
    hook = CommandNotifier([sys.executable, "-c", ENV_DUMP_HOOK, str(out)], log=log)
    mail = EmailNotifier(["ops@example.org"], settings_for(smtp_server.port))
    with NotifierHub([LogNotifier(log), hook, mail], log=log) as hub:
        hub.post(STOP_EVENT)
    assert log.getvalue() == f"simwarden: {STOP_EVENT.message}\n"
    assert json.loads(out.read_text())["env"]["SIMWARDEN_PID"] == "42"
    assert [m.message["Subject"] for m in smtp_server.messages] == [
        f"[simwarden] stop: {STOP_EVENT.message}"
    ]


def test_email_body_holds_the_detail_between_message_and_fields(smtp_server: SmtpServer) -> None:
    event = Event("workflow", "done: 1 ok", {"runs": "1"}, detail="a: ok\nb: stopped\n")
    EmailNotifier(["ops@example.org"], settings_for(smtp_server.port)).send(event)
    [got] = smtp_server.messages
    assert got.message["Subject"] == "[simwarden] workflow: done: 1 ok"
    assert got.message.get_content() == "done: 1 ok\n\na: ok\nb: stopped\n\nruns: 1\n"


def test_command_hook_gets_the_detail_and_never_the_smtp_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIMWARDEN_SMTP_PASSWORD", PASSWORD)
    monkeypatch.setenv("SIMWARDEN_SMTP_USER", USER)
    out = tmp_path / "env.json"
    hook = CommandNotifier([sys.executable, "-c", ENV_DUMP_HOOK, str(out)], timeout_s=DEADLINE_S)
    hook.send(Event("workflow", "done", detail="a: ok"))
    env = json.loads(out.read_text())["env"]
    assert (env["SIMWARDEN_EVENT"], env["SIMWARDEN_DETAIL"]) == ("workflow", "a: ok")
    assert not [key for key in env if key.startswith("SIMWARDEN_SMTP_")]
    assert PASSWORD not in out.read_text()


# ---------------------------------------------------------------- naming and filtering events


def end(reason: str, code: int) -> Event:
    return Event("end", "ended", {"reason": reason, "exit_code": str(code)})


@pytest.mark.parametrize(
    ("event", "name"),
    [
        (Event("stop", "m", {"reason": "memory"}), "memory"),
        (Event("stop", "m", {"reason": "timeout"}), "timeout"),
        (Event("stop", "m", {"reason": "stalled"}), "stalled"),
        (Event("stop", "m", {"reason": "disk"}), "disk"),
        (Event("stop", "m", {"reason": "host_memory"}), "host_memory"),
        (Event("stop", "m", {"reason": "stopped"}), "stopped"),
        (Event("stop", "m", {"reason": "signal"}), None),  # whoever sent it knows
        (Event("mem_warn", "m"), "mem_warn"),
        (end("exited", 0), "succeeded"),
        (end("exited", 3), "failed"),
        (end("memory", 137), None),  # its stop was the news
        (end("stopped", 123), None),
        (Event("other", "m"), None),
    ],
)
def test_notify_name(event: Event, name: str | None) -> None:
    assert notify_name(event) == name


def test_the_default_events_are_the_guards_stops_and_failures() -> None:
    assert DEFAULT_NOTIFY_EVENTS == (
        "memory",
        "timeout",
        "stalled",
        "disk",
        "host_memory",
        "failed",
    )
    assert set(DEFAULT_NOTIFY_EVENTS) < set(NOTIFY_EVENTS)


def test_event_filter_passes_the_chosen_events_renamed_with_a_fixed_headline() -> None:
    recording = RecordingNotifier()
    chosen = EventFilter([recording], ["memory", "failed", "succeeded", "mem_warn"])
    fields = {"label": "run big (attempt 2)", "run": "big", "reason": "memory"}
    chosen.send(Event("stop", "memory 612 MB over limit 500 MB", fields))
    chosen.send(Event("end", "ended", {"reason": "memory", "exit_code": "137"}))
    chosen.send(Event("end", "exit 3", {"run": "crash", "reason": "exited", "exit_code": "3"}))
    chosen.send(Event("end", "exit 0", {"reason": "exited", "exit_code": "0"}))
    said = {"run": "lab", "reason": "exited", "exit_code": "1", "cause": "KeyError: 'b' (s.py:6)"}
    chosen.send(Event("end", "exit 1", said))
    warning = "memory 410 MB over 400 MB"
    chosen.send(Event("mem_warn", warning, {"label": "run w (attempt 1)"}))
    chosen.send(Event("stop", "stop file appeared", {"reason": "stopped"}))  # not chosen
    assert [(e.kind, e.message, e.detail) for e in recording.received] == [
        ("memory", "run big (attempt 2) stopped", "memory 612 MB over limit 500 MB"),
        ("failed", "run crash failed with exit code 3", "exit 3"),
        ("succeeded", "the command succeeded", "exit 0"),
        ("failed", "run lab failed: KeyError: 'b' (s.py:6)", "exit 1"),
        (
            "mem_warn",
            "run w (attempt 1) passed its memory warning level",
            "memory 410 MB over 400 MB",
        ),
    ]
    assert dict(recording.received[0].fields) == fields


def test_event_filter_keeps_delivering_when_a_notifier_fails_one_line_each() -> None:
    log = io.StringIO()
    recording = RecordingNotifier()
    chosen = EventFilter([FailingNotifier(), recording], log=log)
    chosen.send(Event("stop", "one", {"reason": "memory"}))
    chosen.send(end("exited", 1))
    assert [e.kind for e in recording.received] == ["memory", "failed"]
    assert log.getvalue() == (
        "simwarden: notifier FailingNotifier failed: RuntimeError: could not log in with *** "
        "for memory\n"
        "simwarden: notifier FailingNotifier failed: RuntimeError: could not log in with *** "
        "for failed\n"
    )
    assert chosen.secrets == (PASSWORD,)


def test_event_filter_refuses_an_unknown_event_name() -> None:
    with pytest.raises(UserError, match=r"^notify event 'explode' is not one of memory, "):
        EventFilter([], ["memory", "explode"])


def test_hub_close_waits_as_long_as_its_notifiers_ask() -> None:
    assert NotifierHub([RecordingNotifier()]).close_timeout_s == CLOSE_TIMEOUT_S
    assert NotifierHub([EventFilter([], close_timeout_s=4.0)]).close_timeout_s == 4.0
    mixed = NotifierHub([EventFilter([], close_timeout_s=4.0), EventFilter([])])
    assert mixed.close_timeout_s == CLOSE_TIMEOUT_S


def test_hub_close_gives_up_after_the_filters_bound() -> None:
    gated = GatedNotifier()
    log = io.StringIO()
    hub = NotifierHub([EventFilter([gated], ["memory"], close_timeout_s=0.05)], log=log)
    try:
        hub.post(Event("stop", "m", {"reason": "memory"}))
        assert gated.entered.wait(DEADLINE_S)
        hub.close()
        assert log.getvalue() == (
            "simwarden: notifiers still busy after 0.05 s: giving up on undelivered events\n"
        )
    finally:
        gated.release.set()
    [thread] = hub_threads()
    thread.join(DEADLINE_S)
