"""Tests for simwarden.pipeline.watching: a job's notifiers, the message when the workflow ends
(counted and listed from the records, sent to a real SMTP server on loopback), and the stop
file's lines."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from simwarden.pipeline import layout
from simwarden.pipeline.config import RunConfig
from simwarden.pipeline.watching import (
    NOTIFY_COMMAND_TIMEOUT_S,
    SMTP_TIMEOUT_S,
    count_line,
    end_event,
    notify_workflow_end,
    run_notifier,
    stop_file_note,
)
from simwarden.warden.notify import CommandNotifier, EmailNotifier, EventFilter
from tests.smtp import PASSWORD, USER, free_port, plain_smtp_server

OK = {"reason": "exited", "exit_code": 0}
MEMORY = {"reason": "memory", "exit_code": 137, "message": "memory 412 MB over limit 240 MB"}
STOPPED = {"reason": "stopped", "exit_code": 123, "message": "stop file 'STOP' appeared"}
LOUD = {"reason": "exited", "exit_code": 3, "stderr_tail": ["cannot open input.dat"]}


def write_record(root: Path, run: str, data: dict[str, Any]) -> None:
    path = root / layout.for_run(layout.RECORD, run)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def notifying(tmp_path: Path, environ: dict[str, str], **notify: Any) -> RunConfig:
    section = {"name": "t", "mem_mb": 1, "runtime_min": 1, "notify": notify}
    return RunConfig.from_config(section, workflow_dir=tmp_path, environ=environ)


@pytest.mark.parametrize(
    ("states", "line"),
    [
        ([("a", "ok")], "1 ok"),
        ([("a", "failed (memory): x"), ("b", "ok")], "1 ok, 1 failed (memory)"),
        (
            [("a", "failed (memory): x"), ("b", "failed (memory): y"), ("c", "failed (exited): z")],
            "0 ok, 3 failed (2 memory, 1 exited)",
        ),
        ([("a", "ok"), ("b", "stopped"), ("c", "not run")], "1 ok, 1 stopped, 1 not run"),
    ],
)
def test_count_line(states: list[tuple[str, str]], line: str) -> None:
    assert count_line(states) == line


def test_the_end_event_counts_and_lists_every_run_from_its_record(tmp_path: Path) -> None:
    for run, record in {"a": OK, "big": MEMORY, "c": STOPPED, "loud": LOUD, "b": OK}.items():
        write_record(tmp_path, run, record)
    event = end_event(["a", "b", "big", "c", "loud", "never"], tmp_path)
    assert (event.kind, event.message) == (
        "workflow",
        "done: 2 ok, 2 failed (1 memory, 1 exited), 1 stopped, 1 not run",
    )
    assert event.detail.splitlines() == [
        "a: ok",
        "b: ok",
        "big: failed (memory): memory 412 MB over limit 240 MB",
        "c: stopped",
        "loud: failed (exited): cannot open input.dat",
        "never: not run",
    ]
    assert dict(event.fields) == {
        "directory": str(tmp_path.resolve()),
        "runs": "6",
        "ok": "2",
        "failed": "2",
        "stopped": "1",
    }


def test_the_end_message_is_mailed_once_without_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_record(tmp_path, "big", MEMORY)
    write_record(tmp_path, "a", OK)
    with plain_smtp_server() as server:
        env = {
            "SIMWARDEN_SMTP_HOST": "127.0.0.1",
            "SIMWARDEN_SMTP_PORT": str(server.port),
            "SIMWARDEN_SMTP_USER": USER,
            "SIMWARDEN_SMTP_PASSWORD": PASSWORD,
            "SIMWARDEN_SMTP_FROM": "warden@example.org",
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        config = notifying(tmp_path, env, email=["ops@example.org"])
        notify_workflow_end(config, ["a", "big"], tmp_path)
    [got] = server.messages
    assert got.message["Subject"] == "[simwarden] workflow: done: 1 ok, 1 failed (memory)"
    assert got.message.get_content().startswith(
        "done: 1 ok, 1 failed (memory)\n\na: ok\nbig: failed (memory): memory 412 MB over "
        "limit 240 MB\n\n"
    )
    assert PASSWORD.encode() not in got.raw
    assert server.logins == [(USER, PASSWORD)]
    assert capsys.readouterr().err == ""


def test_an_unreachable_server_costs_the_end_message_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    env = {"SIMWARDEN_SMTP_HOST": "127.0.0.1", "SIMWARDEN_SMTP_PORT": str(port)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    notify_workflow_end(notifying(tmp_path, env, email=["ops@example.org"]), ["a"], tmp_path)
    assert capsys.readouterr().err.splitlines() == [
        f"simwarden: email to ops@example.org failed: connecting to SMTP server 127.0.0.1:{port} "
        "failed: Connection refused"
    ]


def test_nobody_to_tell_sends_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = notifying(tmp_path, {}, events=["failed"])
    assert run_notifier(config) is None
    notify_workflow_end(config, ["a"], tmp_path)
    no_section = RunConfig.from_config({"name": "t", "mem_mb": 1, "runtime_min": 1})
    assert run_notifier(no_section) is None
    assert capsys.readouterr().err == ""


def test_a_jobs_notifier_filters_the_chosen_events_with_the_pipelines_bounds(
    tmp_path: Path,
) -> None:
    env = {"SIMWARDEN_SMTP_HOST": "127.0.0.1"}
    config = notifying(tmp_path, env, email=["ops@example.org"], command=["true"])
    notifier = run_notifier(config, environ=env)
    assert isinstance(notifier, EventFilter)
    assert notifier.events == ("memory", "timeout", "stalled", "disk", "host_memory", "failed")
    mail, hook = notifier.notifiers
    assert isinstance(mail, EmailNotifier) and isinstance(hook, CommandNotifier)
    assert mail.settings.timeout_s == SMTP_TIMEOUT_S
    assert hook.timeout_s == NOTIFY_COMMAND_TIMEOUT_S
    assert notifier.close_timeout_s is not None
    assert notifier.close_timeout_s > NOTIFY_COMMAND_TIMEOUT_S + SMTP_TIMEOUT_S
    own = run_notifier(config, environ={**env, "SIMWARDEN_SMTP_TIMEOUT": "20"})
    assert isinstance(own, EventFilter)
    assert own.notifiers[0].settings.timeout_s == 20.0  # type: ignore[attr-defined]


def test_the_stop_file_note(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    section = {"name": "t", "mem_mb": 1, "runtime_min": 1, "stop_file": "STOP"}
    config = RunConfig.from_config(section, workflow_dir=tmp_path)
    assert stop_file_note(config, "start") is None
    Path("STOP").touch()
    assert stop_file_note(config, "start") == (
        "stop file 'STOP' exists: every simulation job ends as stopped without starting; remove "
        "it and run again"
    )
    assert stop_file_note(config, "end") == (
        "stop file 'STOP' exists: remove it before the next run, or every simulation job ends "
        "as stopped without starting"
    )
    (tmp_path / "elsewhere").mkdir()
    os.chdir(tmp_path / "elsewhere")  # outside the directory: the whole path
    assert stop_file_note(config, "end") == (
        f"stop file '{tmp_path.resolve() / 'STOP'}' exists: remove it before the next run, or "
        "every simulation job ends as stopped without starting"
    )
    assert stop_file_note(RunConfig.from_config(section | {"stop_file": None}), "end") is None
