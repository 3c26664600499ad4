"""Run a command as a guarded process tree: start, sample, check, stop, reap, record.

``run(command, options)`` is the Python API behind ``simwarden run``. It returns a
:class:`~simwarden.warden.options.RunResult` whose ``exit_code`` follows
:data:`simwarden.core.errors.EXIT_CODES`. The loop here is thin: what to stop for is decided by
:mod:`simwarden.warden.policy`, how the command starts by :mod:`simwarden.warden.spawn`, and what
is written is a :class:`~simwarden.warden.record.Record`.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

from simwarden._version import __version__
from simwarden.core.errors import EXIT_CODES
from simwarden.core.fsutil import write_json_atomic
from simwarden.core.units import format_bytes
from simwarden.warden import policy, proctree
from simwarden.warden.cause import ErrorFile, ErrorFileProblem, StderrTail
from simwarden.warden.options import RunOptions, RunResult
from simwarden.warden.orphan import OrphanWatch
from simwarden.warden.progress import PROGRESS_PREFIX, ProgressFile, ProgressTracker, RunProgress
from simwarden.warden.sentinel import Sentinel
from simwarden.warden.spawn import (
    Console,
    SamplesWriter,
    abandon,
    confirm_start,
    make_cgroup,
    resolve_command,
    spawn,
    start_pumps,
    without_secrets,
)
from simwarden.warden.wakeup import Wakeup

# typing costs ~10 ms of start-up and is needed only by type checkers here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import resource
    import subprocess
    from collections.abc import Mapping, Sequence
    from typing import IO, Any

    from simwarden.warden.cgroup import MemoryCgroup
    from simwarden.warden.child import Child
    from simwarden.warden.notify import NotifierHub
    from simwarden.warden.proctree import Sample
    from simwarden.warden.record import Record, RunError

__all__ = ["run"]

_SIGKILL = getattr(signal, "SIGKILL", signal.SIGTERM)
# Reaping after the loop: how long to wait for the killed tree to disappear.
_REAP_DEADLINE_S = 10.0


def _now_iso() -> str:
    """Now in UTC, ISO 8601 with milliseconds (``2026-01-02T03:04:05.678+00:00``, as datetime's
    isoformat writes it), without datetime's import on the start-up path."""
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
    return f"{stamp}.{int(now % 1 * 1000):03d}+00:00"


class _Run:
    """One guarded run: its process, its tree, the policy state and what the record needs."""

    # Set by execute() when the run starts.
    out: Console
    group: MemoryCgroup | None
    process: Child | subprocess.Popen[bytes]
    tree: proctree.ProcessTree
    start_iso: str
    progress: RunProgress
    tail: StderrTail  # its last stderr lines

    def __init__(self, command: Sequence[str], options: RunOptions) -> None:
        self.command = list(command)
        self.opt = options
        self.limits = options.limits
        self.cwd = options.cwd or os.getcwd()
        self.lock = threading.Lock()  # one writer at a time into the log file
        self.state = policy.PolicyState(started=0.0)
        self.stop_message = ""
        self.stopped_by: str | None = None
        self.orphans = OrphanWatch() if options.stop_when_orphaned else None
        self.peak_rss = 0
        self.samples = 0
        self.leftovers = 0
        self.tree_gone = False  # the loop saw the command ended and nothing of its tree alive
        self.rusages: list[resource.struct_rusage] = []
        self.root_status: int | None = None
        self.cgroup_peak: int | None = None  # read from the cgroup just before it is removed
        self.oom_kills = 0
        self.hub: NotifierHub | None = None
        self.error_file: ErrorFile | None = None  # where its uncaught exception is written

    def execute(self) -> RunResult:
        executable = resolve_command(self.command, self.opt.cwd)
        self.opt.check()
        stop_file = self.opt.stop_file
        if stop_file and os.path.exists(stop_file):
            return self._not_started(stop_file)
        self.error_file = ErrorFile()
        progress_file = ProgressFile(self.error_file.directory)  # in the error file's directory
        try:
            return self._execute(executable, self.error_file, progress_file)
        finally:
            progress_file.remove()
            self.error_file.remove()

    def _not_started(self, stop_file: str) -> RunResult:
        """The stop file exists already: write the record (reason "stopped") and a samples file
        with only its header, post the stop event, and never start the command."""
        why = f"stop file {stop_file!r} exists: the command was not started (remove it to run)"
        self.start_iso, self.state.started = _now_iso(), time.monotonic()
        self.group, self.state.stopping, self.stop_message = None, "stopped", why
        log_file = self._open_console()
        try:
            SamplesWriter(self.opt.samples, self.limits.mem_bytes).close()
            self.out.say(why)
            self.hub = self._make_hub()
            self._post("stop", why, {"reason": "stopped", "command": " ".join(self.command)})
            wall = time.monotonic() - self.state.started
            record = self._record("stopped", why, end_iso=_now_iso(), wall=wall)
            record.mechanism = None  # nothing was enforced
            return self._end(record)
        finally:
            if self.hub is not None:
                self.hub.close()
            if log_file:
                log_file.close()

    # -- start ------------------------------------------------------------------------------------
    def _execute(
        self, executable: str, error_file: ErrorFile, progress_file: ProgressFile
    ) -> RunResult:
        log_file = self._open_console()
        self.group = make_cgroup(self.opt)
        proctree.become_subreaper()
        sentinel = Sentinel.start(self.group.procs_file if self.group else None)
        wakeup = Wakeup(self.state)  # caught from before the start: a signal stops the command
        self.start_iso, self.state.started = _now_iso(), time.monotonic()
        tracker = ProgressTracker(self.state.started)
        self.progress = RunProgress(tracker, progress_file, self.out.say, time.monotonic)
        try:
            env = without_secrets(progress_file.environment(error_file.environment(self.opt.env)))
            foreign = proctree.own_children()
            self.process = spawn(executable, self.command, self.opt, self.group, log_file, env=env)
            if sentinel:  # at once: the loop's first update comes after the imports below
                sentinel.update([self.process.pid])
            # The command starts up while the warden loads what it needs only now (StderrTail
            # and SamplesWriter load the record module); its first sample waits for the exec.
            self.tail = StderrTail(skip=PROGRESS_PREFIX.encode())
            confirm_start(self.process, self.command)
        except BaseException:
            abandon(getattr(self, "process", None))
            wakeup.close()
            if sentinel:
                sentinel.done()
            if self.group:
                self.group.remove()
            if log_file:
                log_file.close()
            raise
        self.tree = proctree.ProcessTree(self.process.pid, cgroup=self.group, foreign=foreign)
        out = (log_file, self.opt.quiet, self.lock, self.tail)
        pumps = start_pumps(self.process, *out, progress=self.progress.line)
        samples_file = SamplesWriter(self.opt.samples, self.limits.mem_bytes)
        self.hub = self._make_hub()
        try:
            self._loop(sentinel, samples_file, wakeup)
        finally:
            wakeup.close()
            self._reap(sentinel)
            samples_file.close()
            for thread in pumps:
                thread.join(timeout=2)
            self.progress.poll_file(time.monotonic(), always=True)  # a last report at the end
            result = self._finish()
            if self.hub is not None:
                self.hub.close()
            if log_file:
                log_file.close()
        return result

    def _open_console(self) -> IO[bytes] | None:
        """Open the log file (None without one) and the warden's console that also writes it."""
        log_file = open(self.opt.log, "wb") if self.opt.log else None  # noqa: SIM115
        self.out = Console(self.opt.console or sys.stderr, log_file, self.lock, self.opt.label)
        return log_file

    def _make_hub(self) -> NotifierHub | None:
        if not self.opt.notifiers:
            return None
        from simwarden.warden.notify import NotifierHub

        return NotifierHub(self.opt.notifiers, log=self.opt.console or sys.stderr)

    def _post(self, kind: str, message: str, fields: Mapping[str, Any]) -> None:
        """Post an event to the notifiers (if any), with the fields naming the run; only text
        and number fields are kept, as text."""
        if self.hub is not None:
            from simwarden.warden.events import Event

            kept = {**fields, **self.opt.event_fields()}
            kept = {k: str(v) for k, v in kept.items() if isinstance(v, str | int | float)}
            self.hub.post(Event(kind, message, kept))

    def _post_stop(self, reason: str, why: str) -> None:
        """The ``stop`` event of a stop decided now, or found after the fact (a kernel kill)."""
        fields = {"reason": reason, "command": " ".join(self.command), "pid": self.process.pid}
        limit = self.limits.mem_bytes or ""
        self._post("stop", why, {**fields, "rss_bytes": self.peak_rss, "limit_bytes": limit})

    # -- sample, check, stop ----------------------------------------------------------------------
    def _loop(self, sentinel: Sentinel | None, samples_file: SamplesWriter, wakeup: Wakeup) -> None:
        wakeup.watch(self.process.pid)
        last_refresh = -1.0
        previous: tuple[float, Sample] | None = None
        while True:
            now = time.monotonic()
            previous_rss = previous[1].rss_bytes if previous else None
            if now - last_refresh >= policy.refresh_period(self.limits, previous_rss, self.state):
                self.tree.refresh()
                last_refresh = now
                if sentinel:
                    sentinel.update([self.process.pid, *self.tree.pids()])
            sample = self._measure(now, previous, samples_file)
            if self._command_ended():
                wakeup.forget_process()
                if not self._leftovers():
                    return
            self._check(sample, now)
            interval = policy.next_interval(
                self.limits,
                self.opt.interval_s,
                self.state,
                rss_bytes=sample.rss_bytes,
                now=now,
                previous=(previous[0], previous[1].rss_bytes) if previous else None,
                kernel_limit=self.group is not None,
            )
            previous = (now, sample)
            wakeup.wait(interval)

    def _measure(
        self, now: float, previous: tuple[float, Sample] | None, samples_file: SamplesWriter
    ) -> Sample:
        """Sample the tree and the progress file, keep the peak, write the samples row, reap
        adopted orphans."""
        sample = self.tree.sample()
        self.samples += 1
        self.peak_rss = max(self.peak_rss, sample.rss_bytes)
        cpu_percent = 0.0
        if previous is not None and now > previous[0]:
            used = sample.cpu_seconds - previous[1].cpu_seconds
            cpu_percent = max(0.0, used / (now - previous[0]) * 100)
        self.progress.poll_file(now)
        tracker = self.progress.tracker
        samples_file.write(
            now - self.state.started,
            sample,
            cpu_percent,
            progress=tracker.value,
            eta_s=tracker.eta_s(now),
        )
        self.rusages += self.tree.reap_adopted()
        return sample

    def _command_ended(self) -> bool:
        if self.root_status is None:
            self._poll_root()
        return self.root_status is not None

    def _leftovers(self) -> bool:
        """After the command ended: True while processes of its tree live (stopping them)."""
        alive = self.tree.alive()
        self.tree_gone = not alive
        if alive and self.state.stop_deadline is None:
            self.leftovers = len(alive)
            why = f"command exited but left {self.leftovers} process(es) running"
            self._begin_stop(None, why)
        return bool(alive)

    def _observe(self, sample: Sample, now: float) -> policy.Observation:
        """What the policy needs besides memory, measured only while it can decide a stop."""
        if self.state.stopping is not None or self.state.signal_received:
            return policy.Observation(rss_bytes=sample.rss_bytes)
        limits, host_percent, free_disk = self.limits, None, None
        if limits.host_mem_percent is not None:
            host_percent = proctree.host_memory_percent()
        if limits.min_free_disk_bytes is not None:
            import shutil  # only with --min-free-disk: off the start-up path

            free_disk = shutil.disk_usage(limits.disk_path or self.cwd).free
        stop_file, tracker = self.opt.stop_file, self.progress.tracker
        return policy.Observation(
            rss_bytes=sample.rss_bytes,
            oom_kills=self.group.oom_kills() if self.group is not None else 0,
            host_mem_percent=host_percent,
            free_disk_bytes=free_disk,
            stop_file=stop_file if stop_file and os.path.exists(stop_file) else None,
            ended_parent=self.orphans.ended() if self.orphans is not None else None,
            progress_age_s=tracker.stall_age(now),
            progress=tracker.value,
        )

    def _check(self, sample: Sample, now: float) -> None:
        """Ask the policy; warn, begin a stop or send SIGKILL as it says."""
        observation = self._observe(sample, now)
        breach = policy.check(self.limits, observation, now, self.state)
        if breach is not None and not breach.stops:
            self._warn(breach, sample)
            breach = policy.check(self.limits, observation, now, self.state)
        if breach is not None:
            if breach.signal is not None:
                self.state.signal_received = breach.signal
            if breach.stopped_by is not None:
                self.stopped_by = breach.stopped_by
            self._begin_stop(breach.reason, breach.message)
        if policy.escalate(self.limits, observation, now, self.state):
            self.state.killed = True
            self.tree.signal_all(_SIGKILL)

    def _warn(self, breach: policy.Breach, sample: Sample) -> None:
        self.state.mem_warned = True
        self.out.say(breach.message)
        fields = {
            "rss_bytes": sample.rss_bytes,
            "limit_bytes": self.limits.mem_warn_bytes,
            "command": " ".join(self.command),
            "pid": self.process.pid,
        }
        self._post(breach.reason, breach.message, fields)

    def _begin_stop(self, reason: str | None, why: str) -> None:
        """Send the stop signal to the tree and start the grace period.

        ``reason`` None: a stop that decides no reason (leftover processes after the command).
        """
        if reason is not None:
            self.state.stopping, self.stop_message = reason, why
        name = policy.signal_name(self.opt.stop_signal)
        count = len(self.tree.pids())
        self.out.say(
            f"{why}: sending {name} to {count} process(es), SIGKILL after {self.opt.grace_s:g} s"
        )
        if reason is not None:
            self._post_stop(reason, why)
        self.tree.signal_all(self.opt.stop_signal)
        self.state.stop_deadline = time.monotonic() + self.opt.grace_s

    # -- reap -------------------------------------------------------------------------------------
    def _poll_root(self) -> None:
        if hasattr(os, "wait4"):
            pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
            if pid:
                self.root_status = status
                self.rusages.append(usage)
                self.process.returncode = os.waitstatus_to_exitcode(status)
        elif self.process.poll() is not None:
            self.root_status = self.process.returncode

    def _reap(self, sentinel: Sentinel | None) -> None:
        """Whatever happened above, leave no process behind and no cgroup."""
        deadline = time.monotonic() + _REAP_DEADLINE_S
        # The loop's last sweep found nothing alive: another pass over /proc would tell no more.
        if self.root_status is None or (not self.tree_gone and self.tree.alive()):
            self.tree.signal_all(_SIGKILL)
            while time.monotonic() < deadline:
                self._poll_root()
                self.rusages += self.tree.reap_adopted()
                if self.root_status is not None and not self.tree.alive():
                    break
                time.sleep(0.005)
        if self.root_status is None:
            self.process.wait()
            self.root_status = self.process.returncode
        self.rusages += self.tree.reap_adopted()
        if sentinel:
            sentinel.done()
        if self.group:
            self.cgroup_peak = self.group.peak_bytes()
            self.oom_kills = self.group.oom_kills()
            self.group.remove()

    # -- the record -------------------------------------------------------------------------------
    def _finish(self) -> RunResult:
        end_iso, wall = _now_iso(), time.monotonic() - self.state.started
        status = self.root_status or 0
        own_code = os.waitstatus_to_exitcode(status) if hasattr(os, "wait4") else status
        command_signal = -own_code if own_code < 0 else None
        own_code = 128 - own_code if own_code < 0 else own_code
        if self.state.stopping is None and self.oom_kills > 0:
            # The kernel killed the whole tree before a sample saw it happen.
            self.state.stopping, self.stopped_by = "memory", "cgroup"
            self.stop_message = policy.kernel_kill_message(self.limits)
            self._post_stop("memory", self.stop_message)
        reason = self.state.stopping or "exited"
        if reason == "exited":
            exit_code = own_code
            message = f"command exited with code {own_code} after {wall:.1f} s"
        else:
            if reason == "signal":
                exit_code = 128 + (self.state.signal_received or signal.SIGTERM)
            else:
                exit_code = EXIT_CODES[reason]
            message = (
                f"stopped ({reason}): {self.stop_message}; peak {self._peak_text()} "
                f"after {wall:.1f} s; exit {exit_code}"
            )
            self.out.say(message)
        record = self._record(reason, message, end_iso=end_iso, wall=wall)
        record.exit_code, record.command_exit_code = exit_code, own_code
        record.command_signal = policy.signal_name(command_signal) if command_signal else None
        record.progress = self.progress.tracker.value
        error, record.stderr_tail = self._reported_error(), self.tail.lines()
        record.error = error if record.failed else None
        return self._end(record)

    def _end(self, record: Record) -> RunResult:
        """Write the record (if asked), post the end event; the result to return."""
        data = record.to_dict()
        if self.opt.record:
            write_json_atomic(self.opt.record, data)
        self._post("end", record.message or "", {**data, "cause": record.cause or ""})
        return RunResult(record.exit_code or 0, record.reason or "exited", data)

    def _reported_error(self) -> RunError | None:
        """The uncaught exception the command wrote to its error file; a file that is not a
        complete report is named in one line and ignored."""
        try:
            return self.error_file.read() if self.error_file else None
        except ErrorFileProblem as problem:
            self.out.say(f"{problem}; the record has no error")
            return None

    def _peak_text(self) -> str:
        """The peak for the stop message. When the kernel killed the tree at the cgroup's limit
        between two samples, the sampled sum is far below what the cgroup charged: say both."""
        sampled = format_bytes(self.peak_rss)
        if self.stopped_by == "cgroup" and (self.cgroup_peak or 0) > self.peak_rss:
            cgroup = format_bytes(self.cgroup_peak or 0)
            return f"{cgroup} (the cgroup's; the last sample saw {sampled})"
        return sampled

    def _record(self, reason: str, message: str, *, end_iso: str, wall: float) -> Record:
        """The record of what this run measured; its exit code is the warden's code for
        ``reason`` (the caller sets the command's own code when it ran)."""
        from simwarden.warden.record import Record  # loaded after the command started

        usage = proctree.usage_totals(self.rusages)
        return Record(
            command=self.command,
            cwd=self.cwd,
            start=self.start_iso,
            end=end_iso,
            wall_s=round(wall, 3),
            exit_code=EXIT_CODES.get(reason),
            reason=reason,
            message=message,
            stopped_by=self.stopped_by if reason == "memory" else None,
            stop_signal=policy.signal_name(self.opt.stop_signal),
            grace_s=self.opt.grace_s,
            killed=self.state.killed,
            leftover_processes=self.leftovers,
            limits=self.limits.as_dict(),
            mechanism="cgroup" if self.group is not None else "poll",
            peak_rss_bytes=self.peak_rss,
            kernel_peak_rss_bytes=usage["kernel_peak_rss_bytes"],
            cgroup_peak_bytes=self.cgroup_peak,
            cpu_user_s=usage["cpu_user_s"],
            cpu_system_s=usage["cpu_system_s"],
            read_bytes=usage["read_bytes"],
            write_bytes=usage["write_bytes"],
            samples=self.samples,
            mem_warned=self.state.mem_warned,
            host=proctree.host_info(),
            simwarden_version=__version__,
            context=self.opt.run_context(),
        )


def run(command: Sequence[str], options: RunOptions | None = None) -> RunResult:
    """Run ``command`` (argv, no shell) under the warden and return what happened.

    Raises UserError (CommandError for 126/127) before any process starts when an option or the
    command is bad. When ``options.stop_file`` exists already the command is not started: the
    result (and record) say reason ``stopped``, exit 123. Signal handling (SIGINT/SIGTERM/SIGHUP
    stop the tree) is installed only when called from the main thread. On Linux the calling
    process becomes a child subreaper for good.
    """
    return _Run(command, options or RunOptions()).execute()
