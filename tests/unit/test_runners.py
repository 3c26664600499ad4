"""Tests for simwarden.pipeline.runners: argv for python/command/Bonsai runs, placeholder checks,
paths kept inside the repository, and the detection of exceptions Bonsai prints."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from simwarden.core.errors import UserError
from simwarden.pipeline.runners import (
    RunnerSpec,
    bonsai_error,
    bonsai_failure,
    build_argv,
    check_template,
)
from simwarden.warden.record import RunError

HOSTILE = "$(touch pwned); rm -rf ~ `id` 'q' \"dq\" | tee x &"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A checkout with a script and a Bonsai workflow."""
    path = tmp_path / "repo"
    (path / "sub").mkdir(parents=True)
    (path / "sub" / "sim.py").write_text("print('hi')\n")
    (path / "flow.bonsai").write_text("<WorkflowBuilder />\n")
    return path


def argv(spec: RunnerSpec, repo: Path, params: dict[str, object] | None = None) -> list[str]:
    return build_argv(
        spec,
        repo=repo,
        params_file=Path("/w/results/params/r1.json"),
        outdir=Path("/w/results/runs/r1/data"),
        run="r1",
        params=params or {},
    )


# -------------------------------------------------------------------------------- from_config


def test_python_spec_defaults_to_this_interpreter_and_params_outdir() -> None:
    spec = RunnerSpec.from_config({"kind": "python", "script": "sim.py"})
    assert (spec.python, spec.script, spec.args) == (
        sys.executable,
        "sim.py",
        ("{params}", "{outdir}"),
    )


@pytest.mark.parametrize(
    ("section", "fragment"),
    [
        ({"kind": "shell"}, "runner.kind 'shell': expected one of python, command, bonsai"),
        ({}, "runner.kind None: expected one of"),
        ({"kind": "python"}, "runner.script is required for runner.kind 'python'"),
        ({"kind": "command"}, "runner.command is required for runner.kind 'command'"),
        ({"kind": "bonsai"}, "runner.workflow is required for runner.kind 'bonsai'"),
        (
            {"kind": "python", "script": "s.py", "args": ["{params.__class__}"]},
            "unknown placeholder {params.__class__}",
        ),
        ({"kind": "command", "command": ["run", "{foo}"]}, "unknown placeholder {foo}"),
        ({"kind": "command", "command": ["{0}"]}, "unknown placeholder {0}"),
        ({"kind": "command", "command": ["{params[0]}"]}, "unknown placeholder {params[0]}"),
        ({"kind": "command", "command": ["{params"]}, "bad template '{params'"),
    ],
)
def test_bad_runner_sections_are_refused(section: dict[str, object], fragment: str) -> None:
    with pytest.raises(UserError) as error:
        RunnerSpec.from_config(section, "config.yaml")
    assert fragment in str(error.value)
    assert str(error.value).startswith("config.yaml: ")


def test_the_error_lists_the_accepted_placeholders() -> None:
    with pytest.raises(UserError, match=r"accepted: \{repo\}, \{params\}, \{outdir\}, \{run\}$"):
        check_template("{foo}", "config: runner")


def test_escaped_braces_are_literal_text() -> None:
    check_template("{{not a placeholder}}", "config: runner")


def test_a_placeholder_nested_in_a_format_spec_is_refused() -> None:
    with pytest.raises(UserError, match=r"\{run:\{params.__class__\}\}"):
        check_template("{run:{params.__class__}}", "config: runner")


def test_a_conversion_is_refused() -> None:
    with pytest.raises(UserError, match=r"\{params!r\}"):
        check_template("{params!r}", "config: runner")


# ---------------------------------------------------------------------------------- build_argv


def test_python_argv_is_interpreter_script_and_filled_args(repo: Path) -> None:
    spec = RunnerSpec.from_config(
        {
            "kind": "python",
            "script": "sub/sim.py",
            "args": ["--in", "{params}", "{outdir}/x", "{run}", "{repo}"],
        }
    )
    assert argv(spec, repo) == [
        sys.executable,
        str((repo / "sub" / "sim.py").resolve()),
        "--in",
        "/w/results/params/r1.json",
        "/w/results/runs/r1/data/x",
        "r1",
        str(repo),
    ]


def test_python_uses_the_configured_interpreter(repo: Path) -> None:
    spec = RunnerSpec.from_config({"kind": "python", "script": "sub/sim.py", "python": "/opt/py"})
    assert argv(spec, repo)[0] == "/opt/py"


@pytest.mark.parametrize("script", ["../outside.py", "/etc/passwd", "sub/../../outside.py"])
def test_a_script_outside_the_repository_is_refused(repo: Path, script: str) -> None:
    (repo.parent / "outside.py").write_text("")
    spec = RunnerSpec.from_config({"kind": "python", "script": script})
    with pytest.raises(UserError, match=rf"runner.script '{script}' points outside the repository"):
        argv(spec, repo)


def test_a_symlink_that_leaves_the_repository_is_refused(repo: Path) -> None:
    (repo.parent / "outside.py").write_text("")
    (repo / "link.py").symlink_to(repo.parent / "outside.py")
    spec = RunnerSpec.from_config({"kind": "python", "script": "link.py"})
    with pytest.raises(UserError, match="points outside the repository"):
        argv(spec, repo)


def test_a_missing_script_is_named(repo: Path) -> None:
    spec = RunnerSpec.from_config({"kind": "python", "script": "nope.py"})
    with pytest.raises(
        UserError, match=r"runner.script 'nope.py' not found in the fetched repository"
    ):
        argv(spec, repo)


def test_command_argv_fills_each_entry_and_never_splits(repo: Path) -> None:
    spec = RunnerSpec.from_config(
        {
            "kind": "command",
            "command": ["my sim", "--params={params}", "{outdir}", "a b;c", "{run}"],
        }
    )
    assert argv(spec, repo) == [
        "my sim",
        "--params=/w/results/params/r1.json",
        "/w/results/runs/r1/data",
        "a b;c",
        "r1",
    ]


def test_bonsai_argv_passes_scalar_properties_sorted(repo: Path) -> None:
    spec = RunnerSpec.from_config(
        {"kind": "bonsai", "workflow": "flow.bonsai", "bonsai": "/opt/Bonsai.exe"}
    )
    params = {
        "Rate": 2.5,
        "Name": HOSTILE,
        "Flag": True,
        "Off": False,
        "Count": 3,
        "Nested": {"a": 1},
        "List": [1, 2],
    }
    assert argv(spec, repo, params) == [
        "/opt/Bonsai.exe",
        str((repo / "flow.bonsai").resolve()),
        "--no-editor",
        "--start",
        "-p:Count=3",
        "-p:Flag=True",
        f"-p:Name={HOSTILE}",
        "-p:Off=False",
        "-p:Rate=2.5",
    ]


def test_bonsai_through_mono(repo: Path) -> None:
    spec = RunnerSpec.from_config({"kind": "bonsai", "workflow": "flow.bonsai", "mono": True})
    assert argv(spec, repo)[:3] == ["mono", "Bonsai.exe", str((repo / "flow.bonsai").resolve())]


@pytest.mark.parametrize(
    ("workflow", "fragment"),
    [
        ("missing.bonsai", "runner.workflow 'missing.bonsai' not found"),
        ("../flow.bonsai", "runner.workflow '../flow.bonsai' points outside the repository"),
    ],
)
def test_bonsai_workflow_must_be_in_the_repository(
    repo: Path, workflow: str, fragment: str
) -> None:
    (repo.parent / "flow.bonsai").write_text("")
    spec = RunnerSpec.from_config({"kind": "bonsai", "workflow": workflow})
    with pytest.raises(UserError, match=fragment.replace(".", r"\.")):
        argv(spec, repo)


# ------------------------------------------------------------------------------ bonsai_failure


@pytest.mark.parametrize(
    ("log", "expected"),
    [
        (
            "started\nSystem.InvalidOperationException: boom\n   at Bonsai.Sink.Process()\n",
            "System.InvalidOperationException: boom",
        ),
        (
            "Unhandled exception. System.IO.IOException: disk\n",
            "Unhandled exception. System.IO.IOException: disk",
        ),
        ("  Bonsai.WorkflowRuntimeException: node 3\n", "Bonsai.WorkflowRuntimeException: node 3"),
        (
            "a\nb\nSystem.AggregateException: x\nSystem.TimeoutException: y\n",
            "System.AggregateException: x",
        ),
    ],
)
def test_bonsai_failure_finds_the_first_exception_line(log: str, expected: str) -> None:
    assert bonsai_failure(log) == expected


@pytest.mark.parametrize(
    "log",
    [
        "",
        "workflow started\nworkflow stopped\n",
        "Exceptions: 0\n",
        "   at Foo.ExceptionHelper.Throw()\n",
        "ValueError: not a .NET exception\n",
    ],
)
def test_bonsai_failure_ignores_ordinary_output(log: str) -> None:
    assert bonsai_failure(log) is None


def test_bonsai_failure_finds_the_base_exception_class() -> None:
    assert bonsai_failure("System.Exception: boom\n   at X.Y()\n") == "System.Exception: boom"


# -------------------------------------------------------------------------------- bonsai_error


@pytest.mark.parametrize(
    ("log", "expected"),
    [
        (
            "started\nSystem.InvalidOperationException: boom\n   at Bonsai.Sink.Process()\n"
            "   at Bonsai.WorkflowRunner.Run()\nworkflow stopped\n",
            RunError(
                type="System.InvalidOperationException",
                message="boom",
                traceback="System.InvalidOperationException: boom\n"
                "   at Bonsai.Sink.Process()\n   at Bonsai.WorkflowRunner.Run()",
            ),
        ),
        (
            "Unhandled exception. System.IO.IOException: disk full\n",
            RunError(
                type="System.IO.IOException",
                message="disk full",
                traceback="Unhandled exception. System.IO.IOException: disk full",
            ),
        ),
        (
            "Unhandled Exception: System.Exception:\n",
            RunError(
                type="System.Exception",
                message=None,
                traceback="Unhandled Exception: System.Exception:",
            ),
        ),
        (
            "Unhandled exception\n",
            RunError(message="Unhandled exception", traceback="Unhandled exception"),
        ),
    ],
)
def test_bonsai_error_reads_type_message_and_frames(log: str, expected: RunError) -> None:
    assert bonsai_error(log) == expected


def test_bonsai_error_summary_is_the_exception_line() -> None:
    error = bonsai_error("Bonsai.WorkflowRuntimeException: node 3 failed\n")
    assert error is not None
    assert error.summary == "Bonsai.WorkflowRuntimeException: node 3 failed"
    assert bonsai_error("workflow started\n") is None
