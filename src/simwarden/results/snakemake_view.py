"""Snakemake's view of a workflow's jobs without building the DAG: parse the workflow with
Snakemake's own API, expand a run's jobs from their rules, and apply the checks of Snakemake's
``DAG.update_needrun`` to them with the records Snakemake wrote (``.snakemake/metadata``,
``incomplete``, ``locks``). Used by :mod:`simwarden.results.status`; see its docstring for the
method.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import stat
from base64 import urlsafe_b64encode
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simwarden.core.errors import UserError
from simwarden.core.log import PREFIX
from simwarden.pipeline.layout import (
    BUILD_ENV,
    FETCH_CODE,
    PARAMS,
    RUN_SIMULATION,
    VALIDATE_PARAMS,
)

# A change of a named param: (rule, param) -> (category, what to call it).
PARAM_LABELS = {
    (FETCH_CODE, "ref"): ("code", "commit"),
    (FETCH_CODE, "url"): ("code", "repository"),
    (FETCH_CODE, "cache_dir"): ("code", "cache_dir"),
    (VALIDATE_PARAMS, "overrides"): ("parameters", "sweep values"),
    (VALIDATE_PARAMS, "schema"): ("parameters", "param_schema"),
    (RUN_SIMULATION, "runner"): ("code", "runner"),
    (RUN_SIMULATION, "ref"): ("code", "commit"),
    (RUN_SIMULATION, "simulation"): ("code", "simulation"),
    (RUN_SIMULATION, "param_set"): ("parameters", "param_set"),
    (RUN_SIMULATION, "run_config"): ("run config", "run_config"),
}
# What any other change of a rule's job counts as.
# A simulation's own environment (build_env) is part of its code: a new requirements file
# comes with a new commit.
RULE_CATEGORY = {FETCH_CODE: "code", BUILD_ENV: "code", VALIDATE_PARAMS: "parameters"}
# A run's validated parameters (results/params/<run>.json): written when the Snakefile is
# parsed, so a source file to Snakemake, or by validate_params.
PARAMS_DIR = PARAMS.rpartition("/")[0] + "/"

# ------------------------------------------------------------------------ Snakemake's records


class SnakemakeRecords:
    """Read-only view of ``.snakemake/``: metadata, incomplete markers and output locks.

    Paths follow Snakemake's file persistence: a file key is its path as the rule gives it,
    urlsafe-base64 encoded, split into directories at the file-name length limit.
    """

    def __init__(self, workdir: Path) -> None:
        self.root = workdir / ".snakemake"
        self.metadata_dir = self.root / "metadata"
        self.incomplete_dir = self.root / "incomplete"
        try:
            self._max_len = os.pathconf(workdir, "PC_NAME_MAX") or 255
        except (OSError, ValueError):
            self._max_len = 255
        self._incomplete: set[str] | None = None
        self._locked: set[str] | None = None
        self._metadata_names: set[str] | None = None

    def _path(self, subject: Path, key: str) -> Path:
        encoded = urlsafe_b64encode(key.encode()).decode()
        step = self._max_len - 1
        parts = [encoded[i : i + step] for i in range(0, len(encoded), step)]
        return subject.joinpath(*(["@" + p for p in parts[:-1]] + [parts[-1]]))

    def metadata(self, key: str) -> dict[str, Any] | None:
        """The metadata record of output ``key``; None if absent or unreadable (being written)."""
        try:
            with self._path(self.metadata_dir, key).open(encoding="utf-8") as handle:
                record = json.load(handle)
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) and record else None

    def has_metadata(self, key: str) -> bool:
        """True if Snakemake kept a metadata record for output ``key`` (one listing of the
        metadata directory answers every key that fits in one file name)."""
        path = self._path(self.metadata_dir, key)
        if path.parent != self.metadata_dir:  # a long key, split into directories
            return path.is_file()
        if self._metadata_names is None:
            try:
                self._metadata_names = set(os.listdir(self.metadata_dir))
            except OSError:
                self._metadata_names = set()
        return path.name in self._metadata_names

    def incomplete(self, key: str) -> bool:
        """True if a job that makes ``key`` started and did not finish (nor was cleaned up)."""
        if self._incomplete is None:
            self._incomplete = {
                os.path.join(path, name)
                for path, _, names in os.walk(self.incomplete_dir)
                for name in names
                if name != "migration_underway"
            }
        if not self._incomplete:  # the usual case: no path to encode
            return False
        return str(self._path(self.incomplete_dir, key)) in self._incomplete

    def locked(self, key: str) -> bool:
        """True if a Snakemake holding the directory lock means to (re)make output ``key``.

        A Snakemake killed with SIGKILL leaves its lock behind (``snakemake --unlock``)."""
        if self._locked is None:
            self._locked = set()
            for lock in (self.root / "locks").glob("*.output.lock"):
                with contextlib.suppress(OSError):
                    self._locked.update(lock.read_text().splitlines())
        return key in self._locked


# ------------------------------------------------------------------------------ job judgement


@dataclass
class Job:
    """One job as expanded from its rule: what Snakemake stores and compares."""

    rule: str
    inputs: list[str]
    ancient: set[str]
    outputs: list[str]
    named_outputs: dict[str, str]
    params: dict[str, str]  # name -> Snakemake's serialisation (unrepresentable ones left out)
    code: str | None
    script: str | None
    benchmark: str | None
    log: list[str]


@dataclass
class Verdict:
    """Whether a job needs to run and why: outputs missing or half made (incomplete), and the
    causes found, as category -> details (``code`` -> ``commit changed``)."""

    missing: list[str] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)
    causes: dict[str, list[str]] = field(default_factory=dict)  # category -> details

    def add(self, category: str, detail: str) -> None:
        """Note a cause (each detail once per category)."""
        details = self.causes.setdefault(category, [])
        if detail not in details:
            details.append(detail)

    def merge(self, other: Verdict) -> None:
        """Add the causes of ``other`` (an upstream job's verdict)."""
        for category, details in other.causes.items():
            for detail in details:
                self.add(category, detail)

    @property
    def needs_run(self) -> bool:
        """True if the job would run: an output missing or incomplete, or a cause found."""
        return bool(self.missing or self.incomplete or self.causes)


def _mtime(path: str, *, follow: bool) -> float:
    """Snakemake's mtime: a directory's is its ``.snakemake_timestamp`` file's when present."""
    st = os.stat(path) if follow else os.lstat(path)
    if stat.S_ISDIR(st.st_mode):
        with contextlib.suppress(OSError):
            return os.stat(os.path.join(path, ".snakemake_timestamp")).st_mtime
    return st.st_mtime


class Judge:
    """Snakemake's needrun checks for single jobs, against the recorded metadata."""

    def __init__(
        self,
        records: SnakemakeRecords,
        triggers: set[str],
        checksum_limit: int,
        producers: Mapping[str, str],
    ) -> None:
        self.records = records
        self.triggers = triggers
        self.checksum_limit = checksum_limit
        self.producers = producers  # output path -> rule name, for wildcard-free upstream rules
        self._digests: dict[tuple[str, str], str | None] = {}

    def judge(self, job: Job, upstream: Mapping[str, Verdict]) -> Verdict:
        """``upstream`` maps an input path to the verdict of the job that makes it."""
        verdict = Verdict()
        for path in job.outputs:
            if self.records.incomplete(path):
                verdict.incomplete.append(path)
            elif not os.path.lexists(path):
                verdict.missing.append(path)
        for path in job.inputs:
            if path in upstream and upstream[path].needs_run:
                verdict.merge(upstream[path])
                if not upstream[path].causes:  # its outputs are missing or half made
                    category = RULE_CATEGORY.get(self.producers.get(path, ""), "input")
                    verdict.add(category, self._remade(job, path))
        if verdict.missing or verdict.incomplete:
            return verdict
        try:
            return self._compare(job, verdict)
        except FileNotFoundError as error:  # deleted while we looked (a running Snakemake)
            verdict.missing.append(str(error.filename))
            return verdict

    def _compare(self, job: Job, verdict: Verdict) -> Verdict:
        """Snakemake's checks for a job whose outputs all exist: times, checksums, metadata."""
        times = [_mtime(p, follow=False) for p in job.outputs]
        if job.benchmark and os.path.exists(job.benchmark):
            times.append(_mtime(job.benchmark, follow=False))
        oldest = min(times)
        meta_key = job.outputs[0]
        meta = self.records.metadata(meta_key)
        checksums = (meta or {}).get("input_checksums") or {}
        for path in job.inputs:
            if path in job.ancient or not os.path.exists(path):
                continue
            if _mtime(path, follow=True) > oldest and not self._same_checksum(
                path, checksums.get(path)
            ):
                verdict.add(self._input_category(job, path), f"{path} changed")
        if "code" in self.triggers and job.script and os.path.exists(job.script):
            script_mtime = os.lstat(job.script).st_mtime
            if any(_mtime(p, follow=False) <= script_mtime for p in job.outputs):
                verdict.add("code", f"{os.path.relpath(job.script)} changed")
        if meta is None or not all(self.records.has_metadata(p) for p in job.outputs[1:]):
            return verdict  # no metadata: Snakemake does not rerun for params, code, input set
        version = meta.get("record_format_version") or 0
        if "params" in self.triggers and version >= 6 and meta.get("params") is not None:
            self._params(job, set(meta["params"]), verdict)
        recorded_input = meta.get("input") if version >= 4 else None
        input_changed = recorded_input is not None and list(recorded_input) != sorted(job.inputs)
        if "input" in self.triggers and input_changed:
            other = set(recorded_input or ()) ^ set(job.inputs)
            if all(self._is_code(path) for path in other):
                verdict.add("code", self._checkout_change(recorded_input or (), job.inputs))
            else:
                category = "parameters" if job.rule == VALIDATE_PARAMS else "input"
                verdict.add(category, f"input files of {job.rule} changed")
        recorded_code = meta.get("code") if version >= 3 else None
        if "code" in self.triggers and recorded_code is not None and recorded_code != job.code:
            verdict.add("code", f"rule {job.rule} changed")
        return verdict

    def _is_code(self, path: str) -> bool:
        """A checkout's file (results/code/...) or a simulation environment's (results/envs/...)."""
        return self.producers.get(path) in (FETCH_CODE, BUILD_ENV)

    def _remade(self, job: Job, path: str) -> str:
        """Why an input another job will make counts: ``<path> to be remade``, or for a checkout
        the job did not read before, that its commit (or repository) changed."""
        meta = self.records.metadata(job.outputs[0]) if self._is_code(path) else None
        recorded = (meta or {}).get("input")
        if not isinstance(recorded, list) or path in recorded:
            return f"{path} to be remade"
        return self._checkout_change(recorded, [path])

    def _checkout_change(self, old: Sequence[str], new: Sequence[str]) -> str:
        """``commit changed`` when a run's checkout (results/code/<name>@<commit>.json) is
        another commit of the same repository name, else ``repository changed``."""

        def names(paths: Sequence[str]) -> set[str]:
            return {os.path.basename(p).rpartition("@")[0] for p in paths if self._is_code(p)}

        return "commit changed" if names(old) == names(new) else "repository changed"

    def _same_checksum(self, path: str, recorded: str | None) -> bool:
        """Snakemake's is_same_checksum: False when nothing was recorded, the file is too big
        (``--max-checksum-file-size``), a directory or a FIFO. One digest per file and call."""
        if not recorded or ":" not in recorded:
            return False
        algorithm, _, digest = recorded.partition(":")
        if (path, algorithm) not in self._digests:
            self._digests[path, algorithm] = self._digest(path, algorithm)
        return self._digests[path, algorithm] == digest

    def _digest(self, path: str, algorithm: str) -> str | None:
        import hashlib

        try:
            st = os.stat(path)
            if stat.S_ISDIR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
                return None
            if st.st_size > self.checksum_limit:
                return None
            with open(path, "rb") as handle:
                return hashlib.file_digest(handle, algorithm).hexdigest()
        except (OSError, ValueError):
            return None

    def _input_category(self, job: Job, path: str) -> str:
        if path.startswith(PARAMS_DIR):
            return "parameters"
        if path in self.producers:
            return RULE_CATEGORY.get(self.producers[path], "input")
        # validate_params reads no other rule's output but the code: the rest is parameter files
        return "parameters" if job.rule == VALIDATE_PARAMS else "input"

    def _params(self, job: Job, recorded: set[str], verdict: Verdict) -> None:
        current = set(job.params.values())
        if recorded == current:
            return
        changed = [name for name, value in job.params.items() if value not in recorded]
        if not changed:  # only a param that no longer exists
            verdict.add(RULE_CATEGORY.get(job.rule, "parameters"), f"params of {job.rule} changed")
        for name in changed:
            category, label = PARAM_LABELS.get(
                (job.rule, name), (RULE_CATEGORY.get(job.rule, "parameters"), f"params.{name}")
            )
            verdict.add(category, f"{label} changed")


# ---------------------------------------------------------------------------- the workflow


@contextlib.contextmanager
def in_directory(path: Path) -> Iterator[None]:
    """Run the body with ``path`` as the working directory, then go back (also on errors)."""
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


@contextlib.contextmanager
def _captured() -> Iterator[io.StringIO]:
    """Swallow what Snakemake and the Snakefile print while parsing; keep it for errors."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        yield buffer


def last_line(text: str) -> str:
    """The last non-blank line of ``text``, stripped; "" if there is none."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


@contextlib.contextmanager
def parsed_workflow(workdir: Path, profiles: Sequence[str]) -> Iterator[tuple[Any, Any]]:
    """Parse the workflow as ``snakemake --profile P1 --profile P2...`` would, in ``workdir``
    (the process changes directory for the duration). Yields (Snakemake Workflow, parsed CLI
    arguments). Raises UserError naming the profile when it cannot be read or sets another
    persistence backend, and when the workflow does not parse (its own one-line error given)."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.enums import Quietness
    from snakemake.settings.types import OutputSettings

    profile = " + ".join(profiles) or "none"
    with in_directory(workdir), _captured() as said:
        args = _profile_args(profiles, profile, said)
        output = OutputSettings(
            quiet={Quietness.ALL}, enable_file_logging=False, dryrun=True, nocolor=True
        )
        with SnakemakeApi(output) as api:
            try:
                workflow = _workflow(api, args)
            except SystemExit:  # rules/common.smk prints one line and exits
                raise UserError(
                    f"the workflow in {workdir} does not parse with profile {profile}: "
                    f"{last_line(said.getvalue()).removeprefix(PREFIX)}"
                ) from None
            except Exception as error:
                raise UserError(
                    f"the workflow in {workdir} does not parse with profile {profile}: "
                    f"{first_line(error)}"
                ) from None
            yield workflow, args


def _profile_args(profiles: Sequence[str], profile: str, said: io.StringIO) -> Any:
    """Snakemake's own parse of ``--profile P...`` (the profile's settings as arguments)."""
    from snakemake import cli

    argv = [arg for p in profiles for arg in ("--profile", p)] or ["--profile", "none"]
    try:
        _, args = cli.parse_args(argv)
    except SystemExit:
        raise UserError(
            f"profile {profile}: {last_line(said.getvalue()) or 'not usable'}; "
            "pass --profile with a profile directory of this workflow, e.g. profiles/std"
        ) from None
    except Exception as error:  # Snakemake's own errors (bad profile YAML, ...)
        raise UserError(f"profile {profile}: {first_line(error)}") from None
    if str(args.persistence_backend) != "file":
        raise UserError(
            f"profile {profile} sets persistence-backend {args.persistence_backend}; "
            "simwarden status reads only Snakemake's file backend (.snakemake/metadata)"
        )
    return args


def _workflow(api: Any, args: Any) -> Any:
    """The parsed Snakefile as a Snakemake Workflow (no DAG is built)."""
    from snakemake import cli
    from snakemake.settings.types import (
        ConfigSettings,
        ResourceSettings,
        WorkflowSettings,
    )

    workflow_api = api.workflow(
        resource_settings=ResourceSettings(cores=1),
        config_settings=ConfigSettings(
            config=cli.parse_config(args.config),
            configfiles=args.configfile,
            config_args=args.config,
            replace_workflow_config=args.replace_workflow_config,
        ),
        workflow_settings=WorkflowSettings(),
        snakefile=args.snakefile,
    )
    return workflow_api._workflow  # parses the Snakefile, builds no DAG


def first_line(error: BaseException) -> str:
    """The first line of ``error``'s message, or its type's name when the message is empty."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
