"""The run record, its run context and the samples file: defined once, read by everyone.

The warden writes a :class:`Record` as ``record.json`` when a run ends and appends one row of
:data:`SAMPLE_COLUMNS` per sample to ``samples.tsv`` while it runs. Tables, plots and the status
board read both only through :func:`read_record` / :meth:`Record.from_dict` and
:func:`read_samples`. Stdlib only: this module is on the ``simwarden run`` path.

Older records stay readable: a key a record lacks is ``None`` (or its default), a key this version
does not know is kept in :attr:`Record.extra` and written back by :meth:`Record.to_dict`.
"""

from __future__ import annotations

from simwarden.core.errors import UserError
from simwarden.core.fields import Fields, field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path
    from typing import Any

# Why a run ended. ``exited``: the command ended by itself; the others: the warden stopped it.
# "refused": the pipeline's record of a run that could not start (a refused parameter set, a
# command not there); never the warden's own.
REASONS = (
    "exited",
    "memory",
    "timeout",
    "host_memory",
    "disk",
    "signal",
    "stopped",
    "stalled",
    "refused",
)
# How many of the command's last stderr lines a record keeps.
STDERR_TAIL_LINES = 20
# One row per sample in samples.tsv, in this order, tab-separated, with this header line.
# ``progress`` (0..1, the simulation's last report), ``eta_s`` (seconds left at the rate since
# its first report) and ``mem_limit_bytes`` (the run's memory limit) are empty when unknown.
SAMPLE_COLUMNS = (
    "time_s",
    "rss_bytes",
    "cpu_percent",
    "processes",
    "read_bytes",
    "write_bytes",
    "progress",
    "eta_s",
    "mem_limit_bytes",
)
# Columns whose cell may be empty (read as NaN); a row with any other empty cell is skipped.
OPTIONAL_SAMPLE_COLUMNS = ("progress", "eta_s", "mem_limit_bytes")
# How much of a samples file's end read_last_sample reads: several rows, never the whole file.
_TAIL_BYTES = 4096


class RecordError(UserError):
    """A record or samples file that cannot be read: the message names the file (and key)."""


class RunContext(Fields):
    """Where a run came from, as the pipeline knows it; every field may be None (by hand)."""

    run: str | None = None
    repository: str | None = None
    commit: str | None = None
    params_hash: str | None = None
    run_config: str | None = None
    attempt: int | None = None
    mem_mb: int | None = None
    runtime_min: int | None = None
    # Which simulation of the config, which of its parameter sets, and the commit as the config
    # names it (a tag or branch; ``commit`` is the resolved SHA). None for a one-simulation config
    # (simulation), a run without parameter sets (param_set), or by hand.
    simulation: str | None = None
    param_set: str | None = None
    ref: str | None = None
    # What ``simwarden reproduce`` needs without the files, which may have changed since: the
    # runner section, the validated parameter values and the run_config section as the rule
    # tracks it (no notify settings, never an SMTP setting); ``run_config`` above is its name.
    runner: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    run_config_section: dict[str, Any] | None = None
    # For a local-directory repository with uncommitted changes: the sha256 of its diff (stored
    # as ``<cache_dir>/diffs/<sha256>.diff``). The run used ``commit``, not the dirty tree.
    source_diff_sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return self.as_dict()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> RunContext:
        """Unknown keys are ignored, missing ones are None; ``None`` gives an empty context."""
        data = data or {}
        return cls(**{name: data.get(name) for name in cls.field_names()})


# Expected JSON types per record key (int accepted where float is expected); others: any.
_NUMBERS = (int, float)
_TYPES: dict[str, tuple[type, ...]] = {
    "wall_s": _NUMBERS,
    "exit_code": (int,),
    "command_exit_code": (int,),
    "grace_s": _NUMBERS,
    "peak_rss_bytes": (int,),
    "kernel_peak_rss_bytes": (int,),
    "cgroup_peak_bytes": (int,),
    "cpu_user_s": _NUMBERS,
    "cpu_system_s": _NUMBERS,
    "read_bytes": (int,),
    "write_bytes": (int,),
    "samples": (int,),
    "progress": _NUMBERS,
    "leftover_processes": (int,),
    "reason": (str,),
    "message": (str,),
    "start": (str,),
    "end": (str,),
    "attempts": (int,),
    "retry_note": (str,),
    "manifest": (list,),
    "environment": (dict,),
}


def _expected(types: tuple[type, ...]) -> str:
    """What a key of these JSON types holds, for an error message."""
    if types == _NUMBERS:
        return "a number"
    names: dict[tuple[type, ...], str] = {
        (int,): "a whole number",
        (list,): "a list",
        (dict,): "an object",
    }
    return names.get(types, "text")


class RunError(Fields):
    """The cause of a failed run as the simulation reported it (an uncaught Python exception
    caught by the autosave hook, a .NET exception line of Bonsai), or None when nothing did.

    ``where`` is ``file:line`` of the innermost frame inside the simulation's repository
    (relative to it), else of the innermost frame; ``traceback`` the formatted traceback.
    """

    type: str | None = None  # e.g. "ModuleNotFoundError", "System.InvalidOperationException"
    message: str | None = None
    where: str | None = None
    traceback: str | None = None

    @property
    def summary(self) -> str:
        """``ModuleNotFoundError: No module named 'brian' (src/tuned.py:2)``: one line."""
        head = ": ".join(part for part in (self.type, self.message) if part) or "error"
        head = " ".join(head.split())
        return f"{head} ({self.where})" if self.where else head

    def to_dict(self) -> dict[str, Any]:
        return self.as_dict()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> RunError | None:
        """None for None or a non-object; non-text values become text; unknown keys ignored."""
        if not isinstance(data, dict):
            return None
        return cls(**{name: _text_or_none(data.get(name)) for name in cls.field_names()})


def _text_or_none(value: object) -> str | None:
    return None if value is None else str(value)


class Record(Fields):
    """Why one run ended and what it used. ``reason`` is one of :data:`REASONS`."""

    command: list[str] = field(default_factory=list)
    cwd: str | None = None
    start: str | None = None  # ISO 8601 UTC
    end: str | None = None
    wall_s: float | None = None
    exit_code: int | None = None
    reason: str | None = None
    message: str | None = None
    command_exit_code: int | None = None
    command_signal: str | None = None  # e.g. "SIGKILL" when the command died from a signal
    stopped_by: str | None = None  # "poll" or "cgroup", for a memory stop
    stop_signal: str | None = None
    grace_s: float | None = None
    killed: bool | None = None  # SIGKILL was needed
    leftover_processes: int | None = None
    limits: dict[str, Any] = field(default_factory=dict)
    mechanism: str | None = None  # "poll" or "cgroup"
    peak_rss_bytes: int | None = None
    kernel_peak_rss_bytes: int | None = None
    cgroup_peak_bytes: int | None = None
    cpu_user_s: float | None = None
    cpu_system_s: float | None = None
    read_bytes: int | None = None
    write_bytes: int | None = None
    samples: int | None = None
    mem_warned: bool | None = None
    # The last progress the simulation reported (0..1; see docs/progress.md): how far a stopped
    # run got. None when it reported none.
    progress: float | None = None
    host: dict[str, Any] | None = None
    simwarden_version: str | None = None
    context: RunContext | None = None
    # Why it failed, as the simulation said it (see RunError); None when it did not say.
    error: RunError | None = None
    # The last lines the command wrote to stderr (at most STDERR_TAIL_LINES), for every runner.
    stderr_tail: list[str] = field(default_factory=list)
    # Attempts the pipeline made for this run so far (1 for a first attempt; None by hand).
    attempts: int | None = None
    # Why the pipeline made a failed attempt the last one ("not retried: exit code 1 is not in
    # run_config.retry_on [memory]", "no attempts left ..."); None otherwise.
    retry_note: str | None = None
    # Every file under the run's data and figures directories when the attempt ended, sorted by
    # path: ``{"path", "size", "sha256"}``, the path relative to the workflow directory (a kept
    # attempt's: the kept copy's path). Empty for a run the pipeline did not make.
    manifest: list[dict[str, Any]] = field(default_factory=list)
    # What the run ran with (see simwarden.pipeline.manifest.ENVIRONMENT_KEYS); None by hand.
    environment: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # keys of newer versions, kept as read

    @property
    def failed(self) -> bool:
        """The run did not end well: stopped by the warden, or a non-zero exit code."""
        return self.reason not in (None, "exited") or (self.exit_code or 0) != 0

    @property
    def cause(self) -> str | None:
        """One line saying why a failed run failed, None for a run that did not fail.

        The warden's message when it stopped the run (memory, timeout, ...: an exception the
        simulation raised while being stopped is an effect, not the cause), else the
        simulation's own error (``ValueError: boom (sim.py:12)``), else the last non-empty stderr
        line, else ``exit code N``.
        """
        if not self.failed:
            return None
        if self.reason not in (None, "exited") and self.message:
            return self.message
        if self.error is not None:
            return self.error.summary
        last = next((line.strip() for line in reversed(self.stderr_tail) if line.strip()), None)
        return last or f"exit code {self.exit_code}"

    @property
    def peak_bytes(self) -> int | None:
        """The run's peak memory as best known, for tables and summaries: the sampled peak of
        the tree, or the largest single process's peak the kernel reported when that is higher
        (a run shorter than the sampling interval may be sampled only after its end, at 0);
        None when neither is known."""
        known = [
            value
            for value in (self.peak_rss_bytes, self.kernel_peak_rss_bytes)
            if isinstance(value, int) and not isinstance(value, bool)
        ]
        return max(known) if known else None

    @property
    def cpu_s(self) -> float | None:
        """User + system CPU seconds, or None when neither is known."""
        if self.cpu_user_s is None and self.cpu_system_s is None:
            return None
        return (self.cpu_user_s or 0.0) + (self.cpu_system_s or 0.0)

    @property
    def mem_limit_bytes(self) -> int | None:
        value = self.limits.get("mem_bytes") if isinstance(self.limits, dict) else None
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object written as record.json (key order as documented)."""
        data: dict[str, Any] = {}
        for name, value in self.as_dict().items():
            if name != "extra":
                data[name] = value.to_dict() if isinstance(value, RunContext | RunError) else value
        data.update(self.extra)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "record") -> Record:
        """A record from its JSON object, tolerant of older and newer versions.

        Missing keys take their defaults; unknown keys go to ``extra``. A value of the wrong type
        (``"wall_s": "abc"``) raises :class:`RecordError` naming ``source`` and the key.
        """
        if not isinstance(data, dict):
            raise RecordError(f"{source}: expected a JSON object, found {type(data).__name__}")
        known = set(cls.field_names()) - {"extra"}
        values: dict[str, Any] = {}
        for key in known & data.keys():
            value = data[key]
            expected = _TYPES.get(key)
            if (
                value is not None
                and expected
                and (isinstance(value, bool) or not isinstance(value, expected))
            ):
                raise RecordError(f"{source}: {key} is {value!r}, expected {_expected(expected)}")
            values[key] = value
        if values.get("context") is not None:
            if not isinstance(values["context"], dict):
                raise RecordError(f"{source}: context is {values['context']!r}, expected an object")
            values["context"] = RunContext.from_dict(values["context"])
        values["error"] = RunError.from_dict(values.get("error"))
        tail = values.get("stderr_tail")
        values["stderr_tail"] = [str(line) for line in tail] if isinstance(tail, list) else []
        if not isinstance(values.get("limits", {}), dict):
            values["limits"] = {}
        values["manifest"] = [
            entry for entry in values.get("manifest") or [] if isinstance(entry, dict)
        ]
        if not isinstance(values.get("command", []), list):
            values["command"] = [str(values["command"])]
        extra = {key: data[key] for key in data.keys() - known - {"extra"}}
        return cls(**values, extra=extra)


def read_record(path: str | Path) -> Record:
    """The record at ``path``; :class:`RecordError` naming the file if it is unreadable or corrupt.

    A missing file raises ``FileNotFoundError`` (callers decide whether that is an error).
    """
    import json  # readers only: the warden loads this module but never reads records
    from pathlib import Path

    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise RecordError(f"record {str(path)!r} cannot be read: {error}") from None
    return Record.from_dict(data, source=f"record {str(path)!r}")


def samples_header() -> str:
    """The header line of samples.tsv, newline included."""
    return "\t".join(SAMPLE_COLUMNS) + "\n"


def format_sample_row(  # noqa: PLR0913 - one keyword per column of the row
    time_s: float,
    *,
    rss_bytes: int,
    cpu_percent: float,
    processes: int,
    read_b: int,
    write_b: int,
    progress: float | None = None,
    eta_s: float | None = None,
    mem_limit_bytes: int | None = None,
) -> str:
    """One samples.tsv row (newline included), columns as :data:`SAMPLE_COLUMNS`; a None
    optional value is an empty cell."""
    optional = (
        "" if progress is None else f"{progress:.4f}",
        "" if eta_s is None else f"{eta_s:.1f}",
        "" if mem_limit_bytes is None else str(mem_limit_bytes),
    )
    return (
        f"{time_s:.3f}\t{rss_bytes}\t{cpu_percent:.1f}\t{processes}\t{read_b}\t{write_b}\t"
        + "\t".join(optional)
        + "\n"
    )


class Samples(Fields):
    """A samples file's columns as lists (a column the file lacks is empty)."""

    columns: dict[str, list[float]]

    def __getitem__(self, name: str) -> list[float]:
        return self.columns.get(name, [])

    def __len__(self) -> int:
        return len(self.columns.get("time_s", []))


def read_samples(path: str | Path, required: tuple[str, ...] = ("time_s", "rss_bytes")) -> Samples:
    """Read samples.tsv written by this or an older version (columns found by header name).

    A header lacking a ``required`` column raises :class:`RecordError` naming the file. A row
    with a short or non-numeric field (the run was killed mid-line) is skipped.
    """
    from pathlib import Path  # readers only (see read_record)

    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as error:
        raise RecordError(f"samples {str(path)!r} cannot be read: {error}") from None
    header = lines[0].split("\t") if lines else []
    missing = [name for name in required if name not in header]
    if missing:
        raise RecordError(
            f"samples {str(path)!r}: header {lines[0] if lines else ''!r} lacks "
            f"{' and '.join(missing)}: not a simwarden samples file"
        )
    columns: dict[str, list[float]] = {name: [] for name in header if name in SAMPLE_COLUMNS}
    index = {name: header.index(name) for name in columns}
    for line in lines[1:]:
        row = _parse_row(line, index)
        if row is None:
            continue
        for name, value in row.items():
            columns[name].append(value)
    return Samples(columns)


def _parse_row(line: str, index: Mapping[str, int]) -> dict[str, float] | None:
    """One row's values by column name (an empty optional cell is NaN); None for a row cut
    short or holding a non-number."""
    cells = line.split("\t")
    row: dict[str, float] = {}
    try:
        for name, i in index.items():
            cell = cells[i]
            empty = cell == "" and name in OPTIONAL_SAMPLE_COLUMNS
            row[name] = float("nan") if empty else float(cell)
    except (IndexError, ValueError):
        return None
    return row


def read_last_sample(path: str | Path) -> dict[str, float] | None:
    """The last complete row of a samples file by column name (empty optional cells NaN),
    reading only the file's end: cheap for a live view polling many long runs.

    None when the file is missing, unreadable, has no header of :data:`SAMPLE_COLUMNS` names or
    no complete row yet. Never raises: the run may be writing it right now.
    """
    try:
        with open(path, "rb") as handle:
            first = handle.readline()
            size = handle.seek(0, 2)
            start = max(len(first), size - _TAIL_BYTES)
            handle.seek(start)
            tail = handle.read().decode("utf-8", "replace")
    except OSError:
        return None
    header = first.decode("utf-8", "replace").rstrip("\n").split("\t")
    index = {name: header.index(name) for name in header if name in SAMPLE_COLUMNS}
    if "time_s" not in index:
        return None
    lines = tail.split("\n")[:-1]  # the last piece has no newline yet: not complete
    if start > len(first):
        lines = lines[1:]  # the seek may have cut the first line
    for line in reversed(lines):
        row = _parse_row(line, index)
        if row is not None:
            return row
    return None
