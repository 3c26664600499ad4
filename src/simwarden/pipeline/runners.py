"""Turn a run spec into argv: a Python script, any command template, or a Bonsai workflow.

Every value becomes its own argv entry; nothing is ever joined into a shell string, so a parameter
holding ``; rm -rf ~`` reaches the program as those exact characters.
"""

from __future__ import annotations

import re
import string
import sys
from collections.abc import Mapping
from pathlib import Path

from simwarden.core.errors import UserError
from simwarden.core.fields import Fields, field
from simwarden.warden.record import RunError

# typing costs ~5 ms of every run's job, which loads this module; annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from simwarden.pipeline.envs import EnvironmentSpec

KINDS = ("python", "command", "bonsai")
# Where the simulation runs: its data directory (what it writes there is its output), or a
# private working copy of the repository (scripts that expect the repository root; what they
# write there is collected into the data directory).
WORKDIRS = ("outdir", "repo")
PLACEHOLDERS = ("repo", "params", "outdir", "run")
# What .NET prints for an exception that a Bonsai workflow threw; Bonsai still exits 0.
BONSAI_EXCEPTION = re.compile(
    r"(Unhandled [Ee]xception|\b[A-Z]\w*(\.\w+)*Exception\b:|\b[A-Z]\w*(\.\w+)*\.Exception\b:)"
)
# The exception type and message of such a line, after an optional "Unhandled exception." prefix.
_DOTNET_EXCEPTION = re.compile(
    r"^(?:Unhandled [Ee]xception[.:]?\s*)?"
    r"(?P<type>[A-Z][\w.]*Exception)\b:\s*(?P<message>.*)$"
)


def _environment(section: Mapping[str, Any], source: str) -> EnvironmentSpec | None:
    """The runner's ``environment``, checked; None without one (no import of the environments'
    machinery for the runs that have none)."""
    if section.get("environment") is None:
        return None
    from simwarden.pipeline.envs import environment_of

    return environment_of(section, source)


class RunnerSpec(Fields, frozen=True):
    """The config's ``runner`` section, checked."""

    kind: str
    script: str | None = None  # python: path inside the repository
    args: tuple[str, ...] = ("{params}", "{outdir}")  # python: argv after the script
    command: tuple[str, ...] = ()  # command: the argv template
    workflow: str | None = None  # bonsai: .bonsai file inside the repository
    bonsai: str = "Bonsai.exe"  # bonsai: the executable
    mono: bool = False  # bonsai: run Bonsai.exe through mono (Linux)
    python: str = field(default_factory=lambda: sys.executable)
    workdir: str = "outdir"  # one of WORKDIRS
    # python: an environment simwarden builds (build_env); the job passes its interpreter.
    environment: EnvironmentSpec | None = None

    @classmethod
    def from_config(cls, section: Mapping[str, Any], source: str = "config") -> RunnerSpec:
        kind = section.get("kind")
        if kind not in KINDS:
            raise UserError(f"{source}: runner.kind {kind!r}: expected one of {', '.join(KINDS)}")
        spec = cls(
            kind=kind,
            script=section.get("script"),
            args=tuple(section.get("args", cls.args)),
            command=tuple(section.get("command", ())),
            workflow=section.get("workflow"),
            bonsai=section.get("bonsai", "Bonsai.exe"),
            mono=bool(section.get("mono", False)),
            python=section.get("python") or sys.executable,
            workdir=section.get("workdir", "outdir"),
            environment=_environment(section, source),
        )
        if spec.workdir not in WORKDIRS:
            raise UserError(
                f"{source}: runner.workdir {spec.workdir!r}: expected one of {', '.join(WORKDIRS)}"
            )
        required = {"python": "script", "command": "command", "bonsai": "workflow"}[kind]
        if not getattr(spec, required):
            raise UserError(f"{source}: runner.{required} is required for runner.kind {kind!r}")
        for template in (*spec.args, *spec.command):
            check_template(template, f"{source}: runner")
        return spec


def check_template(template: str, where: str) -> None:
    """Refuse placeholders other than the plain names in PLACEHOLDERS (no attribute access)."""
    try:
        fields = [
            (name, spec, conv)
            for _, name, spec, conv in string.Formatter().parse(template)
            if name is not None
        ]
    except ValueError as error:
        raise UserError(f"{where}: bad template {template!r}: {error}") from None
    for name, spec, conv in fields:
        # Format specs and conversions are refused too: a nested spec can hide attribute access.
        if name not in PLACEHOLDERS or spec or conv:
            shown = "{" + name + (f"!{conv}" if conv else "") + (f":{spec}" if spec else "") + "}"
            raise UserError(
                f"{where}: unknown placeholder {shown} in {template!r}; "
                f"accepted: {', '.join('{' + p + '}' for p in PLACEHOLDERS)}"
            )


def _inside(repo: Path, relative: str, what: str) -> Path:
    path = (repo / relative).resolve()
    if not path.is_relative_to(repo.resolve()):
        raise UserError(f"runner.{what} {relative!r} points outside the repository")
    if not path.is_file():
        raise UserError(f"runner.{what} {relative!r} not found in the fetched repository {repo}")
    return path


def build_argv(
    spec: RunnerSpec,
    *,
    repo: Path,
    params_file: Path,
    outdir: Path,
    run: str,
    params: Mapping[str, Any],
) -> list[str]:
    """The command to run for one simulation; raises UserError if the script/workflow is missing."""
    values = {"repo": str(repo), "params": str(params_file), "outdir": str(outdir), "run": run}
    fill = [template.format_map(values) for template in spec.args]
    if spec.kind == "python":
        return [spec.python, str(_inside(repo, spec.script or "", "script")), *fill]
    if spec.kind == "command":
        return [template.format_map(values) for template in spec.command]
    workflow = _inside(repo, spec.workflow or "", "workflow")
    prefix = ["mono", spec.bonsai] if spec.mono else [spec.bonsai]
    properties = [
        f"-p:{name}={_bonsai_value(value)}"
        for name, value in sorted(params.items())
        if not isinstance(value, dict | list)
    ]
    return [*prefix, str(workflow), "--no-editor", "--start", *properties]


def _bonsai_value(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def bonsai_failure(log_text: str) -> str | None:
    """The first line of a .NET exception in Bonsai's output, or None if there is none."""
    for line in log_text.splitlines():
        if BONSAI_EXCEPTION.search(line):
            return line.strip()
    return None


def bonsai_error(log_text: str) -> RunError | None:
    """The first .NET exception in Bonsai's output as the run's error: type and message from its
    line (the whole line as the message when no ``Type: message`` can be read from it), that line
    and the ``   at ...`` frames after it as the traceback; None when there is none."""
    lines = log_text.splitlines()
    first = next((i for i, line in enumerate(lines) if BONSAI_EXCEPTION.search(line)), None)
    if first is None:
        return None
    line = lines[first].strip()
    frames = [line]
    for following in lines[first + 1 :]:
        if not following.lstrip().startswith("at "):
            break
        frames.append(following.rstrip())
    match = _DOTNET_EXCEPTION.match(line)
    if match is None:
        return RunError(message=line, traceback="\n".join(frames))
    message = match["message"].strip() or None
    return RunError(type=match["type"], message=message, traceback="\n".join(frames))
