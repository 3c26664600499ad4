"""What a guarded run is asked to do, and what it gives back: limits, options, result.

:class:`RunOptions` is the CLI's ``simwarden run`` options, parsed; :meth:`RunOptions.check` refuses
a bad value before any process starts. Stdlib only (this module is on the ``simwarden run`` path).
"""

from __future__ import annotations

import os
import signal

from simwarden.core.errors import EXIT_CODES, UserError
from simwarden.core.fields import Fields
from simwarden.core.fsutil import check_output_path
from simwarden.core.units import format_bytes

# typing costs ~10 ms of start-up and is needed only by type checkers here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import IO, Any

    from simwarden.warden.record import RunContext

__all__ = ["EXIT_CODES", "CommandError", "Limits", "RunOptions", "RunResult"]

MECHANISMS = ("auto", "poll", "cgroup")


class CommandError(UserError):
    """The command cannot be started; ``exit_code`` is 126 or 127 as in a shell."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Limits(Fields):
    """What the run may use; ``None`` means unlimited. Treat it as immutable (:meth:`replace`).

    ``stall_timeout_s``: stop (reason "stalled") when the simulation's reported progress has not
    risen for this long; the clock starts at its first report (a run that never reports never
    stalls)."""

    __slots__ = (
        "mem_bytes",
        "mem_warn_bytes",
        "host_mem_percent",
        "timeout_s",
        "min_free_disk_bytes",
        "disk_path",
        "stall_timeout_s",
    )

    def __init__(  # noqa: PLR0913 - one keyword per limit
        self,
        *,
        mem_bytes: int | None = None,
        mem_warn_bytes: int | None = None,
        host_mem_percent: float | None = None,
        timeout_s: float | None = None,
        min_free_disk_bytes: int | None = None,
        disk_path: str | None = None,
        stall_timeout_s: float | None = None,
    ) -> None:
        self.mem_bytes, self.mem_warn_bytes = mem_bytes, mem_warn_bytes
        self.host_mem_percent, self.timeout_s = host_mem_percent, timeout_s
        self.min_free_disk_bytes, self.disk_path = min_free_disk_bytes, disk_path
        self.stall_timeout_s = stall_timeout_s

    def __hash__(self) -> int:
        return hash(tuple(self.as_dict().values()))


class RunOptions(Fields):
    """How to run and watch the command (the CLI's options, parsed).

    ``console``: where warden messages go (default sys.stderr). ``context``: who ran this and on
    what (run id, repository, commit, params hash, run config, attempt), copied into the record
    as "context" so tables and plots need no other file. ``stop_when_orphaned``: stop the run (as
    if the warden got SIGHUP: reason "signal", exit 129) when the warden's parent process ends,
    e.g. a Snakemake killed with SIGKILL (else the run goes on unwatched until its time limit, or
    for ever). ``label`` names the run in every message ("run big (attempt 1)").
    """

    __slots__ = (
        "limits",
        "record",
        "samples",
        "log",
        "quiet",
        "stop_signal",
        "grace_s",
        "mechanism",
        "stop_file",
        "interval_s",
        "cwd",
        "env",
        "notifiers",
        "console",
        "context",
        "stop_when_orphaned",
        "label",
    )

    def __init__(  # noqa: PLR0913 - one keyword per option
        self,
        *,
        limits: Limits | None = None,
        record: str | None = None,
        samples: str | None = None,
        log: str | None = None,
        quiet: bool = False,
        stop_signal: int = signal.SIGTERM,
        grace_s: float = 5.0,
        mechanism: str = "auto",  # auto | poll | cgroup
        stop_file: str | None = None,
        interval_s: float = 0.1,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        notifiers: Sequence[Any] = (),
        console: IO[str] | None = None,
        context: Mapping[str, Any] | None = None,
        stop_when_orphaned: bool = False,
        label: str | None = None,
    ) -> None:
        self.limits = Limits() if limits is None else limits
        self.record, self.samples, self.log, self.quiet = record, samples, log, quiet
        self.stop_signal, self.grace_s, self.mechanism = stop_signal, grace_s, mechanism
        self.stop_file, self.interval_s, self.cwd, self.env = stop_file, interval_s, cwd, env
        self.notifiers, self.console, self.context = notifiers, console, context
        self.stop_when_orphaned, self.label = stop_when_orphaned, label

    def run_context(self) -> RunContext | None:
        """:attr:`context` as the record's typed :class:`RunContext` (None when not given)."""
        if not self.context:
            return None
        from simwarden.warden.record import RunContext  # the record module: after the start

        return RunContext.from_dict(self.context)

    def event_fields(self) -> dict[str, Any]:
        """What names this run on every notifier event: ``label``, ``run``, ``simulation``,
        ``attempt`` (from :attr:`label` and :attr:`context`), only those known."""
        context = self.context or {}
        fields = {
            "label": self.label,
            "run": context.get("run"),
            "simulation": context.get("simulation"),
            "attempt": context.get("attempt"),
        }
        return {key: value for key, value in fields.items() if value is not None}

    def check(self) -> None:
        """Raise :class:`UserError` for the first bad option, before any process starts.

        Output paths must be writable, the disk path must exist, the warning level must be below
        the limit, grace 0 or more, the interval and the stall timeout above 0, the mechanism one
        of ``auto``, ``poll``, ``cgroup``.
        """
        for option, path in (
            ("--record", self.record),
            ("--samples", self.samples),
            ("--log", self.log),
        ):
            if path:
                check_output_path(path, option)
        limits = self.limits
        if limits.min_free_disk_bytes is not None:
            disk = limits.disk_path or self.cwd or os.getcwd()
            if not os.path.exists(disk):
                raise UserError(f"--disk-path {disk!r} does not exist")
        if limits.mem_bytes and limits.mem_warn_bytes and limits.mem_warn_bytes >= limits.mem_bytes:
            raise UserError(
                f"--mem-warn {format_bytes(limits.mem_warn_bytes)} must be below "
                f"--mem {format_bytes(limits.mem_bytes)}"
            )
        if self.grace_s < 0:
            raise UserError(f"invalid --grace {self.grace_s!r}: must be 0 or more seconds")
        if self.interval_s <= 0:
            raise UserError(f"invalid --interval {self.interval_s!r}: must be above 0")
        stall = limits.stall_timeout_s
        if stall is not None and not stall > 0:
            raise UserError(f"invalid --stall-timeout {stall!r}: must be above 0 seconds")
        if self.mechanism not in MECHANISMS:
            raise UserError(f"invalid mechanism {self.mechanism!r}: use auto, poll or cgroup")


class RunResult(Fields):
    """The outcome: ``exit_code`` to exit with, ``reason`` (one of REASONS), the full ``record``.

    ``record`` is the JSON object written as record.json (:meth:`Record.to_dict`).
    """

    __slots__ = ("exit_code", "reason", "record")

    def __init__(self, exit_code: int, reason: str, record: dict[str, Any]) -> None:
        self.exit_code, self.reason, self.record = exit_code, reason, record
