"""What the live view knows about the Snakemake run: its running jobs and how many are done.

Fed from Snakemake's log events (see :mod:`snakemake_logger_plugin_simwarden.view`); no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from simwarden.pipeline import layout
from simwarden.results.live import LiveSample


@dataclass
class Job:
    """One job Snakemake started (a JOB_INFO event). ``sample`` is the last sample read from a
    simulation's samples file (None: none read yet, or it cannot be read)."""

    jobid: int
    rule: str
    wildcards: dict[str, str]
    attempt: int | None
    started: float  # the board's clock (monotonic seconds)
    sample: LiveSample | None = None

    @property
    def run(self) -> str | None:
        """The run id of a run_simulation job; None for other rules."""
        return self.wildcards.get("run") if self.rule == layout.RUN_SIMULATION else None

    @property
    def name(self) -> str:
        """``run big`` for a simulation, else the rule and its wildcard values
        (``collect_benchmarks``, ``all``)."""
        if self.run is not None:
            return f"run {self.run}"
        return " ".join([self.rule, *self.wildcards.values()])

    @property
    def attempt_text(self) -> str:
        """`` (attempt N)`` for a simulation whose attempt is known, else empty."""
        return f" (attempt {self.attempt})" if self.run is not None and self.attempt else ""

    @property
    def label(self) -> str:
        """``run big (attempt 1)``, ``collect_benchmarks``: the job in every line."""
        return self.name + self.attempt_text


@dataclass
class Board:
    """Running jobs by Snakemake job id, jobs done and in total, and when the first started."""

    running: dict[int, Job] = field(default_factory=dict)
    done: int = 0
    total: int | None = None
    first_start: float | None = None
    ended: bool = False  # Snakemake is done: no time is left to estimate, whatever is undone

    def start(self, attributes: Mapping[str, Any], now: float) -> Job | None:
        """Register the job of a JOB_INFO event's attributes (``jobid``, ``rule_name``,
        ``wildcards``, ``resources``); None when they lack a job id or rule (never raises)."""
        jobid, rule = attributes.get("jobid"), attributes.get("rule_name")
        if not isinstance(jobid, int) or not isinstance(rule, str):
            return None
        given = attributes.get("wildcards")
        wildcards = {str(k): str(v) for k, v in given.items()} if isinstance(given, Mapping) else {}
        job = Job(
            jobid,
            rule,
            wildcards,
            resource_int(attributes.get("resources"), "attempt"),
            now,
        )
        self.running[jobid] = job
        if self.first_start is None:
            self.first_start = now
        return job

    def end(self, jobid: object) -> Job | None:
        """The job with this id, no longer running; None when it was never seen."""
        return self.running.pop(jobid, None) if isinstance(jobid, int) else None

    def progress(self, done: object, total: object) -> None:
        """A PROGRESS event: ``done`` of ``total`` jobs (ignored unless both are integers)."""
        if isinstance(done, int) and isinstance(total, int):
            self.done, self.total = done, total

    def elapsed(self, now: float) -> float | None:
        """Seconds since the first job started; None before it."""
        return None if self.first_start is None else now - self.first_start

    def eta(self, now: float) -> float | None:
        """Seconds left at the pace so far (elapsed / done x left); None until one job is done,
        once all are, and once Snakemake ended (jobs left undone after a failure never run)."""
        elapsed = self.elapsed(now)
        if self.ended or elapsed is None or self.total is None or not 0 < self.done < self.total:
            return None
        return elapsed / self.done * (self.total - self.done)


def resource_int(resources: object, name: str) -> int | None:
    """The whole-number resource ``name`` of Snakemake's resources object (a mapping-like
    ResourceList, or Resource values with ``.value``); None when absent or not a number."""
    try:
        getter = getattr(resources, "get", None)
        value = getter(name) if callable(getter) else getattr(resources, name, None)
    except Exception:  # a foreign object: the attempt is then unknown, never an error
        return None
    value = getattr(value, "value", value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None
