"""The workflow config, checked once when the Snakefile is parsed, before any job starts.

``rules/common.smk`` calls, in order: :func:`refuse_default_profile`, :func:`check_config` (the
JSON Schema: types, unknown keys, defaults), :meth:`RunConfig.from_config` (durations, sizes,
signals, percentages, paths, notification recipients and events), and :func:`check_repository` /
:func:`check_commit` (what can be checked without the network). Each bad value is one line naming
the config key and the file it came from.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from simwarden.core.errors import UserError
from simwarden.core.fields import Fields

# typing costs ~5 ms of every run's job, which reads its RunConfig here; annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeVar

    T = TypeVar("T")

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
# The run_config keys that watch a run rather than shape it: changing one (a new recipient, a
# lower disk minimum, a stop file) must not make Snakemake redo runs that already finished.
WATCH_KEYS = ("notify", "stop_file", "min_free_disk", "disk_path", "host_mem_max", "stall_timeout")
# Recipients of run_config.notify when it names none (comma-separated): a profile can mail its
# user without an address committed to the repository.
NOTIFY_EMAIL_ENV = "SIMWARDEN_NOTIFY_EMAIL"
# Where free disk space is measured when run_config.disk_path is not set.
DEFAULT_DISK_PATH = "results"


class ConfigFiles(Fields, frozen=True):
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
    """The parsed file (None when it cannot be read), parsed once while it is unchanged: the
    Snakefile asks for the source of several keys, and a 10,000-point sweep makes it large."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    identity = (os.path.abspath(path), st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)
    return _parsed_config_file(path, identity)


@functools.lru_cache(maxsize=16)
def _parsed_config_file(path: str, identity: tuple[object, ...]) -> Any:
    """``path`` parsed; ``identity`` (its absolute path, inode and mtime) keys the cache only."""
    import yaml  # Snakemake has loaded it already

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.load(handle, Loader=loader)  # noqa: S506 - a safe loader
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def _shown(path: str) -> str:
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


class Notify(Fields, frozen=True):
    """``run_config.notify``, checked: who is told about which events of the runs. Holds no
    SMTP setting: a job reads those from its environment (``SIMWARDEN_SMTP_*``)."""

    email: tuple[str, ...] = ()  # recipients, checked addresses
    command: tuple[str, ...] = ()  # a hook's argv (no shell); the event in SIMWARDEN_* variables
    events: tuple[str, ...] = ()  # names of simwarden.warden.notify.NOTIFY_EVENTS

    @property
    def enabled(self) -> bool:
        """Someone is told: there is a recipient or a hook."""
        return bool(self.email or self.command)


class RunConfig(Fields, frozen=True):
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
    # The guards beside memory and time; None: off. Paths are absolute (resolved at parse time,
    # so the warden in any job watches the same place).
    min_free_disk_bytes: int | None = None  # stop a run when free space at disk_path is below
    disk_path: str | None = None  # set whenever min_free_disk is (default: results/)
    host_mem_percent: float | None = None  # stop a run when the host's memory use passes this
    stop_file: str | None = None  # touching it stops every run; later ones do not start
    stall_timeout_s: float | None = None  # stop a run whose reported progress stood this long
    notify: Notify | None = None  # None: nobody is told anything

    @classmethod
    def from_config(
        cls,
        section: Mapping[str, Any],
        source_of: Callable[[str], str] = lambda key: NO_FILE,
        workflow_dir: str | os.PathLike[str] = ".",
        environ: Mapping[str, str] = os.environ,
    ) -> RunConfig:
        """Check a schema-validated ``run_config`` section; every bad value at once, one line
        each: ``<file>: invalid run_config.<key> <value>: expected ...``, where ``source_of(key)``
        names the file that set the key. Relative paths (``disk_path``, ``stop_file``) are
        relative to ``workflow_dir``; ``environ`` gives ``SIMWARDEN_NOTIFY_EMAIL`` and, when
        someone is to be mailed, the ``SIMWARDEN_SMTP_*`` settings, checked here too."""
        from simwarden.core.units import parse_duration, parse_signal

        values = {**RUN_CONFIG_DEFAULTS, **section}
        check = ValueChecker(values, source_of)
        timeout = values.get("timeout")
        timeout_s = check("timeout", parse_duration) if timeout is not False else None
        stop_signal = check("stop_signal", parse_signal)
        grace_s = check("grace", lambda v, what: parse_duration(v, what, allow_zero=True))
        retry_on = check("retry_on", parse_retry_on)
        guards = _guards(check, Path(workflow_dir))
        notify = _notify(check, environ)
        if check.problems:
            raise UserError("\n".join(check.problems))
        # Set in every section (RUN_CONFIG_DEFAULTS), and good: a bad one was raised above.
        assert stop_signal is not None and grace_s is not None and retry_on is not None
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
            notify=notify,
            **guards,
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


class ValueChecker:
    """Parses the values of one ``run_config`` section, keeping one line per bad value in
    :attr:`problems` (``<file>: invalid run_config.<key> ...``) so that every one is reported
    at once."""

    def __init__(self, values: Mapping[str, Any], source_of: Callable[[str], str]) -> None:
        self.values = values
        self.source_of = source_of
        self.problems: list[str] = []

    def __call__(
        self, key: str, parse: Callable[[Any, str], T], value: Any = None, *, given: bool = False
    ) -> T | None:
        """``parse(value, "run_config.<key>")`` with the section's value of ``key`` (unless
        ``given``: ``value`` itself, for a nested key like ``notify.email``). None when the value
        is None (unset), and when it is bad: then its line is kept. The file is the one that set
        the key's first part (``notify`` for ``notify.email``)."""
        raw = value if given else self.values.get(key)
        if raw is None:
            return None
        try:
            return parse(raw, f"run_config.{key}")
        except UserError as error:
            self.problems.append(f"{self.source_of(key.partition('.')[0])}: {error}")
            return None


def _guards(check: ValueChecker, workflow_dir: Path) -> dict[str, Any]:
    """RunConfig's guard fields from the section (see :class:`RunConfig`)."""
    from simwarden.core.units import parse_duration, parse_percent

    def path(value: Any, what: str) -> str:
        return resolve_path(value, workflow_dir, what)

    min_free = check("min_free_disk", parse_free_disk)
    disk_path = check("disk_path", path)
    if min_free is not None and check.values.get("disk_path") is None:
        disk_path = path(DEFAULT_DISK_PATH, "run_config.disk_path")
    return {
        "min_free_disk_bytes": min_free,
        "disk_path": disk_path,
        "host_mem_percent": check("host_mem_max", parse_percent),
        "stop_file": check("stop_file", path),
        "stall_timeout_s": check("stall_timeout", parse_duration),
    }


def _notify(check: ValueChecker, environ: Mapping[str, str]) -> Notify | None:
    """RunConfig's ``notify``: None without the section; recipients from
    :data:`NOTIFY_EMAIL_ENV` when it names none; SMTP settings checked when anyone is mailed."""
    section = check.values.get("notify")
    if section is None:
        return None
    from simwarden.warden.notify import DEFAULT_NOTIFY_EVENTS, SmtpSettings

    email = check("notify.email", parse_recipients, section.get("email"), given=True)
    from_env = [a for a in environ.get(NOTIFY_EMAIL_ENV, "").split(",") if a.strip()]
    if "email" not in section and from_env:
        try:
            email = parse_recipients(from_env, NOTIFY_EMAIL_ENV)
        except UserError as error:
            check.problems.append(str(error))
    events = check("notify.events", parse_notify_events, section.get("events"), given=True)
    command = check("notify.command", parse_notify_command, section.get("command"), given=True)
    if email:
        try:
            SmtpSettings.from_env(environ)
        except UserError as error:
            check.problems.append(f"{error}; it is needed to mail {', '.join(email)}")
    return Notify(
        email=email or (),
        command=command or (),
        events=DEFAULT_NOTIFY_EVENTS if events is None else events,
    )


def parse_free_disk(value: Any, what: str = "run_config.min_free_disk") -> int:
    """A free-space minimum in bytes: a size (``2GB``, ``500MB``, a bare number of MB); a
    percentage is refused (of what disk?). Raises UserError naming ``what`` and the value."""
    from simwarden.core.units import parse_size

    try:
        return parse_size(value, what, allow_percent=False)
    except UserError:
        msg = f"invalid {what} {value!r}: expected a size like 2GB, 500MB or 1.5GiB"
        raise UserError(msg) from None


def resolve_path(value: object, workflow_dir: str | os.PathLike[str], what: str) -> str:
    """``value`` as an absolute path, a relative one (and ``~``) taken from ``workflow_dir``.
    Raises UserError for anything but a non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise UserError(f"invalid {what} {value!r}: expected a path")
    return str((Path(workflow_dir) / os.path.expanduser(value)).resolve())


def parse_recipients(value: object, what: str = "run_config.notify.email") -> tuple[str, ...]:
    """Email addresses (a list, or one string), each checked, duplicates dropped. Raises
    UserError naming ``what`` and the bad one."""
    from simwarden.warden.mail import parse_email_address

    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise UserError(f"invalid {what} {value!r}: expected a list of email addresses")
    addresses = []
    for item in items:
        try:
            addresses.append(parse_email_address(item, name=what))
        except (UserError, AttributeError):  # AttributeError: not a string
            msg = f"invalid {what} {item!r}: expected one email address per item, like a@b.org"
            raise UserError(msg) from None
    return tuple(dict.fromkeys(addresses))


def parse_notify_events(value: object, what: str = "run_config.notify.events") -> tuple[str, ...]:
    """Event names (a list, or one name) of :data:`simwarden.warden.notify.NOTIFY_EVENTS`,
    duplicates dropped; ``[]`` chooses none. Raises UserError naming ``what`` and the bad one."""
    from simwarden.warden.notify import NOTIFY_EVENTS

    return _choices(value, what, NOTIFY_EVENTS)


def parse_notify_command(value: object, what: str = "run_config.notify.command") -> tuple[str, ...]:
    """A hook's argv: a non-empty list of strings whose program can be found (on ``PATH``, or
    a path). Raises UserError naming ``what``; never runs anything."""
    import shutil

    argv = value if isinstance(value, list | tuple) else ()
    if not argv or not all(isinstance(arg, str) for arg in argv):
        raise UserError(f"invalid {what} {value!r}: expected a program and its arguments as a list")
    if shutil.which(argv[0]) is None:
        raise UserError(
            f"invalid {what} {argv[0]!r}: expected a program that can be run (not found, or "
            "not executable)"
        )
    return tuple(argv)


def _choices(value: object, what: str, choices: Sequence[str], why: str = "") -> tuple[str, ...]:
    """A list of names (or one name) out of ``choices``, duplicates dropped."""
    names = [value] if isinstance(value, str) else value
    expected = f"expected a list of {', '.join(choices)}"
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        raise UserError(f"invalid {what} {value!r}: {expected}")
    bad = [name for name in names if name not in choices]
    if bad:
        raise UserError(f"invalid {what} {bad[0]!r}: {expected}{why}")
    return tuple(dict.fromkeys(names))


def tracked_run_config(section: Mapping[str, Any]) -> dict[str, Any]:
    """The ``run_config`` section without :data:`WATCH_KEYS`: what the ``run_simulation`` rule
    hands Snakemake as a tracked param, so only a change to what shapes a run reruns it."""
    return {key: value for key, value in section.items() if key not in WATCH_KEYS}


def parse_retry_on(value: object, what: str = "run_config.retry_on") -> tuple[str, ...]:
    """A ``retry_on`` list (or one name) checked against :data:`RETRYABLE`, duplicates dropped;
    ``[]`` retries nothing. Raises UserError naming ``what``, the bad value and the choices."""
    why = " (other failures cannot be fixed by more resources)"
    return _choices(value, what, RETRYABLE, why)


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
