"""What the results views share about failed runs: the kept attempts of a run
(``results/failed/<run>/attempt-<N>/``, named by :mod:`simwarden.pipeline.layout`), the command
that redoes one run, and whether the Snakemake that holds the lock is still alive.

Stdlib only at import time (psutil inside :func:`snakemake_process`).
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Sequence
from pathlib import Path

from simwarden.core.fields import Fields
from simwarden.pipeline import layout
from simwarden.warden.record import Record, RecordError, read_record

# The files of a kept attempt, as the pipeline writes them (see layout.FAILED).
ATTEMPT_RECORD = Path(layout.RECORD).name
ATTEMPT_SAMPLES = Path(layout.SAMPLES).name
ATTEMPT_LOG_TAIL = "log-tail.txt"
ATTEMPT_FIGURES = "figures"
ATTEMPT_DATA = "data"
# Record reasons other than "exited" -> why a run failed.
FAILURE_WHY = {
    "memory": "memory",
    "timeout": "timeout",
    "host_memory": "host memory",
    "disk": "disk",
    "stopped": "stopped",
    "stalled": "stalled",
    "refused": "refused",
}


class KeptAttempt(Fields, frozen=True):
    """One failed attempt of a run, kept in ``directory`` (``.../attempt-<number>``)."""

    number: int
    directory: Path

    @property
    def record(self) -> Path:
        """The attempt's ``record.json`` (may be missing or damaged)."""
        return self.directory / ATTEMPT_RECORD

    @property
    def samples(self) -> Path:
        """The attempt's ``samples.tsv`` (may be missing)."""
        return self.directory / ATTEMPT_SAMPLES

    @property
    def log_tail(self) -> Path:
        """The last lines of the attempt's job log (may be missing)."""
        return self.directory / ATTEMPT_LOG_TAIL

    @property
    def figures(self) -> Path:
        """The figures the attempt saved (``png/``, ``pdf/``, ... below it)."""
        return self.directory / ATTEMPT_FIGURES

    def pngs(self) -> list[Path]:
        """The attempt's PNG figures (``figures/png/*.png``), by name; [] if none."""
        try:
            return sorted((self.figures / "png").glob("*.png"))
        except OSError:
            return []


def kept_attempts(run: str, root: str | os.PathLike[str] = ".") -> list[KeptAttempt]:
    """Every kept failed attempt of ``run`` in the workflow directory ``root``, in attempt
    order (:func:`simwarden.pipeline.layout.failed_attempts`); [] if none."""
    return [KeptAttempt(n, path) for n, path in layout.failed_attempts(run, root)]


def kept_attempts_in(run_dir: Path) -> list[KeptAttempt]:
    """The kept attempts in one run's failed-attempts directory given directly (for readers
    whose results directory is not ``<root>/results``); same rules as :func:`kept_attempts`."""
    try:
        names = os.listdir(run_dir)
    except OSError:
        return []
    found = [
        KeptAttempt(int(name.removeprefix("attempt-")), run_dir / name)
        for name in names
        if name.startswith("attempt-") and name.removeprefix("attempt-").isdigit()
    ]
    return sorted(found, key=lambda a: a.number)


def failure_reason(record: Record) -> str:
    """Why a failed attempt failed, from its record: ``memory``, ``timeout``, ``exit code 3``,
    ``signal 9``, ``host memory``, ``disk``, ``stopped``; ``exit code 0`` when the command exited
    0 but the rule failed the run anyway (a Bonsai exception: see the log)."""
    reason = record.reason or ""
    if reason in FAILURE_WHY:
        return FAILURE_WHY[reason]
    if record.command_signal:
        return f"signal {record.command_signal}"
    code = record.command_exit_code if record.command_exit_code is not None else record.exit_code
    return f"exit code {code}" if code is not None else reason or "unknown"


def retry_summary(attempts: Sequence[KeptAttempt]) -> str | None:
    """``retried: attempt 1 stopped (memory)`` for a run whose earlier attempts were kept (a
    stop that a later attempt fixed); None for none. A damaged kept record reads ``unknown``."""
    if not attempts:
        return None
    reasons = []
    for attempt in attempts:
        try:
            reason = read_record(attempt.record).reason or "unknown"
        except (OSError, RecordError):
            reason = "unknown"
        reasons.append(f"attempt {attempt.number} stopped ({reason})")
    return f"retried: {', '.join(reasons)}"


# ---------------------------------------------------------------------------- redoing a run


def redo_command(record: str, profiles: Sequence[str] | None) -> str:
    """The command that redoes one run: ``snakemake --profile profiles/std --forcerun
    results/runs/<run>/record.json`` (Snakemake's ``--forcerun`` takes output files as well as
    rules; the default target stays ``all``). ``profiles`` as given to ``--profile`` (several:
    stacked); None when not known (``--profile ...``); empty: no profile."""
    parts = ["snakemake"]
    if profiles is None:
        parts += ["--profile", "..."]
    for profile in profiles or ():
        parts += ["--profile", shlex.quote(profile)]
    return " ".join([*parts, "--forcerun", shlex.quote(record)])


def workflow_profiles(workdir: Path) -> tuple[str, ...] | None:
    """The profiles of the newest logged Snakemake run in ``workdir`` (what the plot jobs of
    that run were started with); None when no run was logged."""
    from simwarden.results.status_profile import last_run_profile

    last = last_run_profile(workdir)
    return None if last is None else tuple(last[0])


# -------------------------------------------------------------------------- the lock's holder


class SnakemakeProcess(Fields, frozen=True):
    """The Snakemake process the Snakefile's onstart handler recorded
    (:data:`~simwarden.pipeline.layout.SNAKEMAKE_PROCESS`) and whether it still runs."""

    pid: int
    alive: bool


def snakemake_process(workdir: Path) -> SnakemakeProcess | None:
    """The recorded Snakemake process of ``workdir``, or None when no (readable) record exists.

    It is alive when a process with its pid exists, is not a zombie, and started at the
    recorded ``create_time`` (psutil's; a pid reused by another process counts as dead). A
    process psutil may not inspect (AccessDenied) counts as alive: the lock is left alone.
    """
    import psutil

    try:
        data = json.loads((workdir / layout.SNAKEMAKE_PROCESS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    pid, started = data.get("pid"), data.get("create_time")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return None
    try:
        process = psutil.Process(pid)
        same = not isinstance(started, int | float) or abs(process.create_time() - started) < 0.01
        alive = same and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        alive = False
    except psutil.AccessDenied:
        alive = True
    return SnakemakeProcess(pid, alive)
