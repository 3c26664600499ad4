"""The workflow config, checked once when the Snakefile is parsed, before any job starts.

``rules/common.smk`` calls, in order: :func:`refuse_default_profile`, :func:`check_config` (the
JSON Schema: types, unknown keys, defaults), :meth:`RunConfig.from_config` (durations, sizes and
signals), and :func:`check_repository` / :func:`check_commit` (what can be checked without the
network). Each bad value is one line naming the config key and the file it came from.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simwarden.core.errors import UserError

PROTECTED_PROFILE = "profiles/default"
# What a key's source is called when no config file sets it (a --config value, a schema default).
NO_FILE = "config"

# The keys of a run_config section that the schema fills in when they are left out.
RUN_CONFIG_DEFAULTS: dict[str, Any] = {
    "retries": 1,
    "retry_on": ["memory"],
    "stop_signal": "TERM",
    "grace": "10s",
}
# The end reasons a retry with more resources can fix (attempt N gets N times the memory budget,
# and N times the time limit when ``timeout`` is listed); any other failure is final at once.
RETRYABLE = ("memory", "timeout")


@dataclass(frozen=True)
class ConfigFiles:
    """The config files in force, in the order they apply: a later file's value wins."""

    files: tuple[str, ...] = ()

    @classmethod
    def of_workflow(
        cls,
        loaded: Sequence[str | os.PathLike[str]],
        command_line: Sequence[str | os.PathLike[str]],
    ) -> ConfigFiles:
        """From Snakemake's ``workflow.configfiles`` (every file loaded) and the files given with
        ``--configfile`` (or a profile's ``configfile:``), which beat the Snakefile's own."""
        given = [os.fspath(path) for path in command_line]
        own = [os.fspath(path) for path in loaded if os.fspath(path) not in given]
        return cls(tuple(own + given))

    def source_of(self, *keys: str) -> str:
        """The last file that sets ``keys`` (a path into nested mappings), shown relative to the
        working directory when inside it; :data:`NO_FILE` when no file sets it."""
        for path in reversed(self.files):
            node: Any = _read_config_file(path)
            for key in keys:
                node = node.get(key) if isinstance(node, Mapping) else None
                if node is None:
                    break
            else:
                return _shown(path)
        return NO_FILE


def _read_config_file(path: str) -> Any:
    import yaml  # Snakemake has loaded it already

    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def _shown(path: str) -> str:
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


@dataclass(frozen=True)
class RunConfig:
    """The ``run_config`` section, checked and typed: what every simulation job runs under."""

    name: str  # short, std, full or the user's own; recorded with every run
    mem_mb: int  # the first attempt's memory budget; attempt N gets N times this
    runtime_min: int | float  # declared runtime (Snakemake's resources.runtime), minutes
    retries: int = 1  # retries of a run stopped for a reason in retry_on (Snakemake's retries:)
    # The end reasons that are retried (of RETRYABLE); a run failing for another is not.
    retry_on: tuple[str, ...] = ("memory",)
    timeout_s: float | None = None  # the warden's time limit; None: the job's runtime resource
    no_time_limit: bool = False  # ``timeout: false``: the warden enforces no time limit
    stop_signal: int = 15  # the polite stop signal (SIGTERM), SIGKILL after grace_s
    grace_s: float = 10.0
    mem_warn_fraction: float | None = None  # warn once a run passes this part of its budget
    env: tuple[tuple[str, str], ...] = ()  # added to every simulation's environment

    @classmethod
    def from_config(
        cls, section: Mapping[str, Any], source_of: Callable[[str], str] = lambda key: NO_FILE
    ) -> RunConfig:
        """Check a schema-validated ``run_config`` section; every bad value at once, one line
        each: ``<file>: invalid run_config.<key> <value>: expected ...``, where ``source_of(key)``
        names the file that set the key."""
        from simwarden.core.units import parse_duration, parse_signal

        values = {**RUN_CONFIG_DEFAULTS, **section}
        problems: list[str] = []

        def checked(key: str, parse: Callable[[Any, str], Any]) -> Any:
            try:
                return parse(values[key], f"run_config.{key}")
            except UserError as error:
                problems.append(f"{source_of(key)}: {error}")
                return None

        timeout = values.get("timeout")
        timeout_s = None
        if timeout is not None and timeout is not False:
            timeout_s = checked("timeout", parse_duration)
        stop_signal = checked("stop_signal", parse_signal)
        grace_s = checked("grace", lambda v, what: parse_duration(v, what, allow_zero=True))
        retry_on = checked("retry_on", parse_retry_on)
        if problems:
            raise UserError("\n".join(problems))
        warn = values.get("mem_warn_fraction")
        return cls(
            name=str(values["name"]),
            mem_mb=int(values["mem_mb"]),
            runtime_min=values["runtime_min"],
            retries=int(values["retries"]),
            retry_on=retry_on,
            timeout_s=timeout_s,
            no_time_limit=timeout is False,
            stop_signal=stop_signal,
            grace_s=grace_s,
            mem_warn_fraction=float(warn) if warn is not None else None,
            env=tuple((str(k), str(v)) for k, v in (values.get("env") or {}).items()),
        )

    def time_limit_s(self, runtime_min: float | None, attempt: int = 1) -> float | None:
        """The warden's time limit for attempt ``attempt`` of a job whose runtime resource is
        ``runtime_min`` minutes: ``timeout`` when set (times ``attempt`` when ``timeout`` is in
        :attr:`retry_on`), none for ``timeout: false``, else the runtime (None if unset)."""
        if self.no_time_limit:
            return None
        if self.timeout_s is not None:
            return self.timeout_s * (attempt if "timeout" in self.retry_on else 1)
        return runtime_min * 60 if runtime_min else None

    def runtime_for(self, attempt: int) -> int | float:
        """The runtime resource (minutes) of attempt ``attempt``: :attr:`runtime_min`, times
        ``attempt`` when ``timeout`` is in :attr:`retry_on` (a retry gets the longer time)."""
        return self.runtime_min * (attempt if "timeout" in self.retry_on else 1)

    @property
    def attempts(self) -> int:
        """How many attempts a run may get: the first and :attr:`retries` more."""
        return self.retries + 1


def parse_retry_on(value: object, what: str = "run_config.retry_on") -> tuple[str, ...]:
    """A ``retry_on`` list (or one name) checked against :data:`RETRYABLE`, duplicates dropped;
    ``[]`` retries nothing. Raises UserError naming ``what``, the bad value and the choices."""
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        raise UserError(f"invalid {what} {value!r}: expected a list of {', '.join(RETRYABLE)}")
    bad = [name for name in names if name not in RETRYABLE]
    if bad:
        raise UserError(
            f"invalid {what} {bad[0]!r}: expected a list of {', '.join(RETRYABLE)} "
            "(other failures cannot be fixed by more resources)"
        )
    return tuple(dict.fromkeys(names))


def check_config_syntax(path: str | os.PathLike[str]) -> None:
    """Refuse a config file that is not valid YAML in one line naming it and the line, before
    Snakemake's ``configfile:`` reads it (Snakemake's own message names the rules' file, not the
    user's config, and no line). A missing file is left to Snakemake."""
    from simwarden.pipeline.params.load import load_yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: cannot be read: {error}") from None
    load_yaml(text, Path(path))


def check_config(
    config: Mapping[str, Any],
    schema: str | os.PathLike[str],
    source: str = "config (config/config.yaml + profile)",
    files: ConfigFiles | None = None,
) -> dict[str, Any]:
    """Validate the merged config (config.yaml + the profile's run.yaml) against ``schema``:
    every error at once, one line each naming the key, instead of Snakemake's dump of the whole
    schema. With ``files``, each line names the config file that set the key (a wrong type in
    ``profiles/std/run.yaml`` names that file), else ``source``. Returns a copy with the
    schema's defaults filled in."""
    from dataclasses import replace

    from simwarden.pipeline.params import ParamError, validate

    try:
        return validate(dict(config), Path(schema), source=source)
    except ParamError as error:
        if files is None:
            raise
        named = []
        for problem in error.problems:
            keys = [str(key) for key in problem.path if isinstance(key, str)]
            found = files.source_of(*keys) if keys else NO_FILE
            named.append(replace(problem, source=found) if found != NO_FILE else problem)
        raise ParamError(named) from None


def refuse_default_profile(workflow_dir: str | os.PathLike[str]) -> None:
    """Snakemake applies ``profiles/default/`` on top of ``--profile`` without a word; refuse it."""
    if (Path(workflow_dir) / PROTECTED_PROFILE).exists():
        raise UserError(
            f"{PROTECTED_PROFILE}/ exists: Snakemake would apply it on top of --profile and "
            "silently override the run config (short/std/full); remove it, or pass "
            "--workflow-profile none"
        )


def resolve_repository(url: str, workflow_dir: str | os.PathLike[str]) -> str:
    """A relative local path in the config is relative to the workflow directory; URLs, refused
    values and paths that do not exist are returned unchanged."""
    if "://" in url or url.startswith("-") or "::" in url:
        return url
    candidate = Path(workflow_dir) / url
    return str(candidate.resolve()) if candidate.exists() else url


def check_repository(url: str, workflow_dir: str | os.PathLike[str], source: str = NO_FILE) -> str:
    """:func:`resolve_repository`, then refuse what git must never be given (``ext::``,
    ``fd::``, a leading ``-``, unknown schemes...), without the network. Whether a local path
    exists is left to the fetch: a cached mirror serves a pinned commit of a deleted source."""
    from simwarden.pipeline.gitcache import check_url_syntax

    resolved = resolve_repository(url, workflow_dir)
    try:
        check_url_syntax(resolved)
    except UserError as error:
        raise UserError(f"{source}: {error}") from None
    return resolved


def check_commit(ref: str, source: str = NO_FILE) -> str:
    """Refuse a commit value git could read as an option or that no ref can have (empty,
    leading ``-``, whitespace, control characters), without the network."""
    from simwarden.pipeline.gitcache import check_ref

    try:
        return check_ref(ref)
    except UserError as error:
        raise UserError(f"{source}: commit: {error}") from None
