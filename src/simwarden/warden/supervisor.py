"""Run a command as a guarded process tree: sample it, enforce limits, stop it, reap it, record it.

``run(command, options)`` is the Python API behind ``simwarden run``. It returns a
:class:`RunResult` whose ``exit_code`` follows the conventions in :data:`EXIT_CODES`.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from simwarden._version import __version__
from simwarden.core.errors import UserError
from simwarden.core.fsutil import check_output_path, write_json_atomic
from simwarden.core.units import format_bytes
from simwarden.warden import cgroup as cgroups
from simwarden.warden.proctree import (
    IS_POSIX,
    ProcessTree,
    Sample,
    become_subreaper,
    make_child_setup,
)
from simwarden.warden.sentinel import Sentinel

# typing costs ~10 ms of start-up and is needed only by type checkers here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any

    import psutil

# Exit codes for runs the warden ended; a command that ends by itself keeps its own code
# (128+N when it died from signal N), and a warden that got signal N exits 128+N.
EXIT_CODES: dict[str, int] = {
    "memory": 137,
    "timeout": 124,
    "disk": 121,
    "host_memory": 122,
    "stopped": 123,
}
EXIT_WARDEN_ERROR = 125
EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127
REASONS = ("exited", "memory", "timeout", "host_memory", "disk", "signal", "stopped")

_SIGKILL = getattr(signal, "SIGKILL", signal.SIGTERM)
# While a memory stop waits out its grace period, growth this far past the limit ends it early.
GRACE_MEMORY_CEILING = 1.10
MIN_INTERVAL_S = 0.005
# Rediscovering the tree scans the whole process table: do it every 0.5 s, and every 50 ms
# once memory is past half its limit (new children are measured within that delay).
REFRESH_PERIOD_S = 0.5
REFRESH_NEAR_LIMIT_S = 0.05


class CommandError(UserError):
    """The command cannot be started; ``exit_code`` is 126 or 127 as in a shell."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Limits:
    """What the run may use; ``None`` means unlimited."""

    mem_bytes: int | None = None
    mem_warn_bytes: int | None = None
    host_mem_percent: float | None = None
    timeout_s: float | None = None
    min_free_disk_bytes: int | None = None
    disk_path: str | None = None


@dataclass
class RunOptions:
    """How to run and watch the command (the CLI's options, parsed)."""

    limits: Limits = field(default_factory=Limits)
    record: str | None = None
    samples: str | None = None
    log: str | None = None
    quiet: bool = False
    stop_signal: int = signal.SIGTERM
    grace_s: float = 5.0
    mechanism: str = "auto"  # auto | poll | cgroup
    stop_file: str | None = None
    interval_s: float = 0.1
    cwd: str | None = None
    env: dict[str, str] | None = None
    notifiers: Sequence[Any] = ()
    console: IO[str] | None = None  # where warden messages go; default sys.stderr
    # Who ran this and on what (run id, repository, commit, params hash, run config, attempt):
    # copied into the record as "context" so tables and plots need no other file.
    context: Mapping[str, Any] | None = None
    # Stop the run (as if the warden got SIGHUP: reason "signal", exit 129) when the warden's
    # parent process ends, e.g. a Snakemake killed with SIGKILL: otherwise the run would go on
    # unwatched by anyone until its time limit, or for ever.
    stop_when_orphaned: bool = False
    # Names the run in every message ("run big (attempt 1)"), for when several runs share a console.
    label: str | None = None


@dataclass
class RunResult:
    """The outcome: ``exit_code`` to exit with, ``reason`` (one of REASONS), the full ``record``."""

    exit_code: int
    reason: str
    record: dict[str, Any]


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return str(signum)


SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "fish"})


def _shell_parent_of(pid: int) -> psutil.Process | None:
    """The process (psutil) that started ``pid`` when ``pid`` is a shell
    (``bash -c "...; simwarden ..."``), else None."""
    import psutil

    try:
        process = psutil.Process(pid)
        return process.parent() if process.name() in SHELLS else None
    except psutil.Error:
        return None


def resolve_command(command: Sequence[str], cwd: str | None) -> str:
    """Return the executable's path, or raise CommandError (127 not found, 126 not executable)."""
    if not command:
        raise UserError("no command given: put it after '--', e.g. simwarden run -- python sim.py")
    program = command[0]
    if os.sep in program or (os.altsep and os.altsep in program):
        path = Path(cwd or ".") / program
        if not path.exists():
            raise CommandError(f"command not found: {program!r} does not exist", EXIT_NOT_FOUND)
        if path.is_dir() or not os.access(path, os.X_OK):
            raise CommandError(f"command not executable: {program!r}", EXIT_NOT_EXECUTABLE)
        return str(path)
    found = shutil.which(program)
    if found is None:
        raise CommandError(f"command not found: {program!r} is not on PATH", EXIT_NOT_FOUND)
    return found


class _Output:
    """The warden's own message stream, copied into the log file when there is one."""

    def __init__(
        self, console: IO[str], log: IO[bytes] | None, lock: threading.Lock, label: str | None
    ) -> None:
        self.console, self.log, self.lock = console, log, lock
        self.prefix = f"simwarden: {label}: " if label else "simwarden: "

    def say(self, message: str) -> None:
        line = f"{self.prefix}{message}\n"
        with self.lock:
            with contextlib.suppress(OSError, ValueError):
                self.console.write(line)
                self.console.flush()
            if self.log is not None:
                with contextlib.suppress(OSError, ValueError):
                    self.log.write(line.encode())
                    self.log.flush()


def _pump(source: IO[bytes], sink: IO[bytes] | None, log: IO[bytes], lock: threading.Lock) -> None:
    """Copy the command's output to our own stream at once (unless quiet) and to the log file
    in whole lines, so stdout and stderr interleave line by line, never mid-line."""
    fd = source.fileno()
    pending = b""
    while True:
        chunk = os.read(fd, 65536)
        if sink is not None and chunk:
            with contextlib.suppress(OSError, ValueError):
                sink.write(chunk)
                sink.flush()
        pending += chunk
        cut = len(pending) if not chunk else pending.rfind(b"\n") + 1
        if cut:
            with lock, contextlib.suppress(OSError, ValueError):
                log.write(pending[:cut])
                log.flush()
            pending = pending[cut:]
        if not chunk:
            return


class _SamplesFile:
    """Appends one TSV row per sample as it goes, so a killed run still leaves its series."""

    HEADER = "time_s\trss_bytes\tcpu_percent\tprocesses\tread_bytes\twrite_bytes\n"

    def __init__(self, path: str | None) -> None:
        self._handle = open(path, "w", encoding="utf-8", buffering=1) if path else None  # noqa: SIM115
        if self._handle:
            self._handle.write(self.HEADER)

    def write(self, elapsed: float, sample: Sample, cpu_percent: float) -> None:
        if self._handle:
            self._handle.write(
                f"{elapsed:.3f}\t{sample.rss_bytes}\t{cpu_percent:.1f}\t{sample.processes}"
                f"\t{sample.read_bytes}\t{sample.write_bytes}\n"
            )

    def close(self) -> None:
        if self._handle:
            self._handle.close()


class _Run:
    """State of one guarded run; ``execute`` drives it from start to record."""

    def __init__(self, command: Sequence[str], options: RunOptions) -> None:
        self.command = list(command)
        self.opt = options
        self.limits = options.limits
        self.cwd = options.cwd or os.getcwd()
        self.lock = threading.Lock()
        self.reason: str | None = None  # set when the warden decides to stop the run
        self.stop_message = ""
        self.stopped_by: str | None = None
        self.stop_deadline: float | None = None
        self.killed = False
        self.signal_received: int | None = None
        self.parent_pid = os.getppid() if self.opt.stop_when_orphaned else None
        self.shell_parent = _shell_parent_of(self.parent_pid) if self.parent_pid else None
        self.signal_count = 0
        self.peak_rss = 0
        self.samples = 0
        self.mem_warned = False
        self.leftovers = 0
        self.rusages: list[Any] = []
        self.root_status: int | None = None
        self.cgroup_peak: int | None = None  # read from the cgroup just before it is removed
        self.oom_kills = 0

    # -- checks that must pass before any process starts ---------------------------------------
    def check(self) -> str:
        executable = resolve_command(self.command, self.opt.cwd)
        for option, path in (
            ("--record", self.opt.record),
            ("--samples", self.opt.samples),
            ("--log", self.opt.log),
        ):
            if path:
                check_output_path(path, option)
        limits = self.limits
        if limits.min_free_disk_bytes is not None:
            disk = limits.disk_path or self.cwd
            if not Path(disk).exists():
                raise UserError(f"--disk-path {disk!r} does not exist")
        if limits.mem_bytes and limits.mem_warn_bytes and limits.mem_warn_bytes >= limits.mem_bytes:
            raise UserError(
                f"--mem-warn {format_bytes(limits.mem_warn_bytes)} must be below "
                f"--mem {format_bytes(limits.mem_bytes)}"
            )
        if self.opt.grace_s < 0:
            raise UserError(f"invalid --grace {self.opt.grace_s!r}: must be 0 or more seconds")
        if self.opt.interval_s <= 0:
            raise UserError(f"invalid --interval {self.opt.interval_s!r}: must be above 0")
        if self.opt.mechanism not in ("auto", "poll", "cgroup"):
            raise UserError(f"invalid mechanism {self.opt.mechanism!r}: use auto, poll or cgroup")
        return executable

    # -- the run ----------------------------------------------------------------------------------
    def execute(self) -> RunResult:
        executable = self.check()
        console = self.opt.console or sys.stderr
        log_file = open(self.opt.log, "wb") if self.opt.log else None  # noqa: SIM115
        self.out = _Output(console, log_file, self.lock, self.opt.label)
        group = self._make_cgroup()
        self.group = group
        become_subreaper()
        sentinel = Sentinel.start(group.procs_file if group else None)
        self.start_iso, self.t0 = _now_iso(), time.monotonic()
        try:
            process = self._spawn(executable, group, log_file)
        except BaseException:
            if sentinel:
                sentinel.done()
            if group:
                group.remove()
            if log_file:
                log_file.close()
            raise
        self.process = process
        tree = ProcessTree(process.pid, cgroup=group)
        pumps = self._start_pumps(process, log_file)
        samples_file = _SamplesFile(self.opt.samples)
        hub = self._make_hub()
        restore = self._install_signal_handlers()
        try:
            self._loop(tree, group, sentinel, samples_file, hub)
        finally:
            restore()
            self._cleanup(tree, group, sentinel)
            samples_file.close()
            for pump in pumps:
                pump.join(timeout=2)
            result = self._finish(group)
            if hub is not None:
                hub.post(self._event("end", result.record["message"], result.record))
                hub.close()
            if log_file:
                log_file.close()
        return result

    def _make_cgroup(self) -> cgroups.MemoryCgroup | None:
        if not self.limits.mem_bytes or self.opt.mechanism == "poll":
            return None
        name = f"simwarden-{os.getpid()}-{time.monotonic_ns()}"
        group = cgroups.create(self.limits.mem_bytes, name)
        if group is None and self.opt.mechanism == "cgroup":
            raise UserError(
                "--mechanism cgroup: no writable memory cgroup here (needs root with the cgroup v1 "
                "memory controller, or a delegated cgroup v2); use --mechanism auto or poll"
            )
        return group

    def _spawn(
        self, executable: str, group: cgroups.MemoryCgroup | None, log_file: IO[bytes] | None
    ):
        import subprocess

        cgroup_fd = cgroups.join_fd(group) if group else None
        pipe = subprocess.PIPE if log_file else (subprocess.DEVNULL if self.opt.quiet else None)
        kwargs: dict[str, Any] = {}
        if IS_POSIX:
            kwargs["start_new_session"] = True
            kwargs["preexec_fn"] = make_child_setup(os.getpid(), cgroup_fd)
        else:
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
        try:
            return subprocess.Popen(
                [executable, *self.command[1:]],
                cwd=self.opt.cwd,
                env=self.opt.env,
                stdin=None,
                stdout=pipe,
                stderr=pipe,
                **kwargs,
            )
        except PermissionError as error:
            raise CommandError(
                f"command not executable: {self.command[0]!r}: {error.strerror}",
                EXIT_NOT_EXECUTABLE,
            ) from None
        except FileNotFoundError as error:
            raise CommandError(
                f"command cannot start: {self.command[0]!r}: {error.strerror}", EXIT_NOT_FOUND
            ) from None
        except OSError as error:
            raise CommandError(
                f"command cannot start: {self.command[0]!r}: {error.strerror}", EXIT_NOT_EXECUTABLE
            ) from None
        finally:
            if cgroup_fd is not None:
                os.close(cgroup_fd)

    def _start_pumps(self, process, log_file: IO[bytes] | None) -> list[threading.Thread]:
        if log_file is None:
            return []
        sinks = (None, None) if self.opt.quiet else (sys.stdout.buffer, sys.stderr.buffer)
        pumps = []
        for source, sink in zip((process.stdout, process.stderr), sinks, strict=True):
            pump = threading.Thread(
                target=_pump,
                args=(source, sink, log_file, self.lock),
                daemon=True,
                name="simwarden-output",
            )
            pump.start()
            pumps.append(pump)
        return pumps

    def _make_hub(self):
        if not self.opt.notifiers:
            return None
        from simwarden.warden.notify import NotifierHub

        return NotifierHub(self.opt.notifiers, log=self.opt.console or sys.stderr)

    def _install_signal_handlers(self):
        """Catch SIGINT/SIGTERM/SIGHUP so the tree is stopped, not orphaned; returns a restorer."""
        if threading.current_thread() is not threading.main_thread():
            self.wake_fd = None
            return lambda: None
        reader, writer = os.pipe()
        os.set_blocking(reader, False)
        os.set_blocking(writer, False)
        previous_fd = signal.set_wakeup_fd(writer, warn_on_full_buffer=False)
        self.wake_fd = reader
        names = ("SIGINT", "SIGTERM", "SIGHUP")
        signums = [getattr(signal, n) for n in names if hasattr(signal, n)]
        previous = {s: signal.getsignal(s) for s in signums}

        def handler(signum: int, frame: object) -> None:
            self.signal_received = self.signal_received or signum
            self.signal_count += 1

        for signum in signums:
            signal.signal(signum, handler)

        def restore() -> None:
            for signum, old in previous.items():
                signal.signal(signum, old)
            signal.set_wakeup_fd(previous_fd)
            os.close(reader)
            os.close(writer)

        return restore

    def _event(self, kind: str, message: str, fields: dict[str, Any]):
        from simwarden.warden.notify import Event

        return Event(
            kind,
            message,
            {k: str(v) for k, v in fields.items() if isinstance(v, str | int | float)},
        )

    def _loop(self, tree: ProcessTree, group, sentinel, samples_file, hub) -> None:
        pidfd = None
        if hasattr(os, "pidfd_open"):
            with contextlib.suppress(OSError):
                pidfd = os.pidfd_open(self.process.pid)
        last_refresh = -1.0
        prev_time, prev = None, None
        interval = self.opt.interval_s
        limit = self.limits.mem_bytes
        try:
            while True:
                now = time.monotonic()
                near = bool(limit and prev is not None and prev.rss_bytes > limit / 2)
                period = REFRESH_NEAR_LIMIT_S if near or self.stop_deadline else REFRESH_PERIOD_S
                if now - last_refresh >= period:
                    tree.refresh()
                    last_refresh = now
                    if sentinel:
                        sentinel.update([self.process.pid, *tree.pids()])
                sample = tree.sample()
                self.samples += 1
                self.peak_rss = max(self.peak_rss, sample.rss_bytes)
                cpu_percent = 0.0
                if prev is not None and now > prev_time:
                    cpu_percent = max(
                        0.0, (sample.cpu_seconds - prev.cpu_seconds) / (now - prev_time) * 100
                    )
                samples_file.write(now - self.t0, sample, cpu_percent)
                self.rusages += tree.reap_adopted()
                if self.root_status is None:
                    self._poll_root()
                if self.root_status is not None:
                    if pidfd is not None:
                        os.close(pidfd)
                        pidfd = None
                    alive = tree.alive()
                    if not alive:
                        return
                    if self.stop_deadline is None:
                        self.leftovers = len(alive)
                        self._begin_stop(
                            tree,
                            None,
                            f"command exited but left {self.leftovers} process(es) running",
                            hub,
                        )
                self._check_limits(tree, group, sample, now, hub)
                self._escalate(tree, sample, now)
                interval = self._next_interval(sample, prev, now, prev_time)
                prev_time, prev = now, sample
                self._wait(interval, pidfd)
        finally:
            if pidfd is not None:
                os.close(pidfd)

    def _poll_root(self) -> None:
        if hasattr(os, "wait4"):
            pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
            if pid:
                self.root_status = status
                self.rusages.append(usage)
                self.process.returncode = os.waitstatus_to_exitcode(status)
        elif self.process.poll() is not None:
            self.root_status = self.process.returncode

    def _check_limits(self, tree, group, sample: Sample, now: float, hub) -> None:
        limits = self.limits
        if self.signal_received and self.reason != "signal":
            if self.reason is None:
                name = _signal_name(self.signal_received)
                self._begin_stop(tree, "signal", f"warden received {name}", hub)
            return
        if self.reason is not None:
            return
        if group is not None and group.oom_kills() > 0:
            self.stopped_by = "cgroup"
            self._begin_stop(tree, "memory", self._kernel_kill_message(), hub)
            return
        if limits.mem_bytes and sample.rss_bytes > limits.mem_bytes:
            self.stopped_by = "poll"
            self._begin_stop(
                tree,
                "memory",
                f"memory {format_bytes(sample.rss_bytes)} over limit "
                f"{format_bytes(limits.mem_bytes)}",
                hub,
            )
            return
        if (
            limits.mem_warn_bytes
            and not self.mem_warned
            and sample.rss_bytes > limits.mem_warn_bytes
        ):
            self.mem_warned = True
            message = (
                f"memory {format_bytes(sample.rss_bytes)} passed warning level "
                f"{format_bytes(limits.mem_warn_bytes)}; still running"
            )
            self.out.say(message)
            if hub:
                hub.post(
                    self._event(
                        "mem_warn",
                        message,
                        {
                            "rss_bytes": sample.rss_bytes,
                            "limit_bytes": limits.mem_warn_bytes,
                            "command": " ".join(self.command),
                            "pid": self.process.pid,
                        },
                    )
                )
        if limits.timeout_s is not None and now - self.t0 > limits.timeout_s:
            self._begin_stop(tree, "timeout", f"time limit {limits.timeout_s:g} s reached", hub)
            return
        if limits.host_mem_percent is not None:
            import psutil

            used = psutil.virtual_memory().percent
            if used > limits.host_mem_percent:
                self._begin_stop(
                    tree,
                    "host_memory",
                    f"host memory use {used:.1f}% over {limits.host_mem_percent:g}%",
                    hub,
                )
                return
        if limits.min_free_disk_bytes is not None:
            free = shutil.disk_usage(limits.disk_path or self.cwd).free
            if free < limits.min_free_disk_bytes:
                self._begin_stop(
                    tree,
                    "disk",
                    f"free disk {format_bytes(free)} below "
                    f"{format_bytes(limits.min_free_disk_bytes)}",
                    hub,
                )
                return
        if self.opt.stop_file and os.path.exists(self.opt.stop_file):
            self._begin_stop(tree, "stopped", f"stop file {self.opt.stop_file!r} appeared", hub)
            return
        ended = self._ended_parent() if self.parent_pid is not None else None
        if ended is not None:
            self.signal_received = signal.SIGHUP
            why = f"parent process {ended} ended (nobody is waiting for this run)"
            self._begin_stop(tree, "signal", why, hub)

    def _ended_parent(self) -> int | None:
        """The pid of the parent that ended, or, when the parent is a shell, of the process that
        started it (a shell that does not exec its last command outlives a SIGKILLed Snakemake);
        None while both live."""
        if os.getppid() != self.parent_pid:
            return self.parent_pid
        starter = self.shell_parent
        if starter is None:
            return None
        import psutil

        try:  # is_running() also tells a reused pid from the original process
            gone = not starter.is_running() or starter.status() == psutil.STATUS_ZOMBIE
        except psutil.Error:
            gone = True
        return starter.pid if gone else None

    def _kernel_kill_message(self) -> str:
        limit = format_bytes(self.limits.mem_bytes or 0)
        return f"memory limit {limit} hit: the kernel killed a process of the tree"

    def _begin_stop(self, tree: ProcessTree, reason: str | None, why: str, hub) -> None:
        """Send the stop signal to the tree and start the grace period."""
        if reason is not None:
            self.reason, self.stop_message = reason, why
        name = _signal_name(self.opt.stop_signal)
        count = len(tree.pids())
        self.out.say(
            f"{why}: sending {name} to {count} process(es), SIGKILL after {self.opt.grace_s:g} s"
        )
        if hub and reason is not None:
            hub.post(
                self._event(
                    "stop",
                    why,
                    {
                        "reason": reason,
                        "command": " ".join(self.command),
                        "pid": self.process.pid,
                        "rss_bytes": self.peak_rss,
                        "limit_bytes": self.limits.mem_bytes or "",
                    },
                )
            )
        tree.signal_all(self.opt.stop_signal)
        self.stop_deadline = time.monotonic() + self.opt.grace_s

    def _escalate(self, tree: ProcessTree, sample: Sample, now: float) -> None:
        if self.stop_deadline is None or self.killed:
            return
        ceiling = (
            self.reason == "memory"
            and self.limits.mem_bytes
            and sample.rss_bytes > self.limits.mem_bytes * GRACE_MEMORY_CEILING
        )
        impatient = self.signal_count > 1
        if now >= self.stop_deadline or ceiling or impatient:
            self.killed = True
            tree.signal_all(_SIGKILL)

    def _next_interval(
        self, sample: Sample, prev: Sample | None, now: float, prev_time: float | None
    ) -> float:
        """Sample faster as memory nears its limit, so a fast-growing tree is caught in time."""
        interval = self.opt.interval_s
        if self.stop_deadline is not None:
            return min(interval, 0.05)
        limit = self.limits.mem_bytes
        if limit and prev is not None and prev_time is not None and now > prev_time:
            rate = (sample.rss_bytes - prev.rss_bytes) / (now - prev_time)
            headroom = limit - sample.rss_bytes
            if rate > 0:
                interval = min(interval, max(MIN_INTERVAL_S, 0.5 * headroom / rate))
            if sample.rss_bytes > 0.8 * limit:
                interval = min(interval, 0.02)
        return interval

    def _wait(self, timeout: float, pidfd: int | None) -> None:
        """Sleep until the timeout, the command's exit, or a signal to the warden."""
        watch = [fd for fd in (pidfd, self.wake_fd) if fd is not None]
        if not watch or os.name != "posix":
            time.sleep(timeout)
            return
        ready, _, _ = select.select(watch, [], [], timeout)
        if self.wake_fd is not None and self.wake_fd in ready:
            with contextlib.suppress(OSError):
                os.read(self.wake_fd, 4096)

    def _cleanup(self, tree: ProcessTree, group, sentinel) -> None:
        """Whatever happened above, leave no process behind and no cgroup."""
        deadline = time.monotonic() + 10
        if self.root_status is None or tree.alive():
            tree.signal_all(_SIGKILL)
            while time.monotonic() < deadline:
                self._poll_root()
                self.rusages += tree.reap_adopted()
                if self.root_status is not None and not tree.alive():
                    break
                time.sleep(0.005)
        if self.root_status is None:
            self.process.wait()
            self.root_status = self.process.returncode
        self.rusages += tree.reap_adopted()
        if sentinel:
            sentinel.done()
        if group:
            self.cgroup_peak = group.peak_bytes()
            self.oom_kills = group.oom_kills()
            group.remove()

    # -- the record -------------------------------------------------------------------------------
    def _finish(self, group) -> RunResult:
        end_iso, wall = _now_iso(), time.monotonic() - self.t0
        status = self.root_status or 0
        own_code = os.waitstatus_to_exitcode(status) if hasattr(os, "wait4") else status
        command_signal = -own_code if own_code < 0 else None
        own_code = 128 - own_code if own_code < 0 else own_code
        if self.reason is None and self.oom_kills > 0:
            # The kernel killed the whole tree before a sample saw it happen.
            self.reason, self.stopped_by = "memory", "cgroup"
            self.stop_message = self._kernel_kill_message()
        reason = self.reason or "exited"
        if reason == "exited":
            exit_code = own_code
        elif reason == "signal":
            exit_code = 128 + (self.signal_received or signal.SIGTERM)
        else:
            exit_code = EXIT_CODES[reason]
        record = self._record(reason, exit_code, own_code, command_signal, end_iso, wall, group)
        if reason != "exited":
            self.out.say(record["message"])
        if self.opt.record:
            write_json_atomic(self.opt.record, record)
        return RunResult(exit_code, reason, record)

    def _record(self, reason, exit_code, own_code, command_signal, end_iso, wall, group):
        scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is KiB on Linux
        kernel_peak = max((u.ru_maxrss * scale for u in self.rusages), default=None)
        if reason == "exited":
            message = f"command exited with code {own_code} after {wall:.1f} s"
        else:
            message = (
                f"stopped ({reason}): {self.stop_message}; peak "
                f"{format_bytes(self.peak_rss)} after {wall:.1f} s; exit {exit_code}"
            )
        import platform

        import psutil

        uname = os.uname() if hasattr(os, "uname") else None
        return {
            "command": self.command,
            "cwd": self.cwd,
            "start": self.start_iso,
            "end": end_iso,
            "wall_s": round(wall, 3),
            "exit_code": exit_code,
            "reason": reason,
            "message": message,
            "command_exit_code": own_code,
            "command_signal": _signal_name(command_signal) if command_signal else None,
            "stopped_by": self.stopped_by if reason == "memory" else None,
            "stop_signal": _signal_name(self.opt.stop_signal),
            "grace_s": self.opt.grace_s,
            "killed": self.killed,
            "leftover_processes": self.leftovers,
            "limits": asdict(self.limits),
            "mechanism": "cgroup" if group is not None else "poll",
            "peak_rss_bytes": self.peak_rss,
            "kernel_peak_rss_bytes": kernel_peak,
            "cgroup_peak_bytes": self.cgroup_peak,
            "cpu_user_s": round(sum(u.ru_utime for u in self.rusages), 3),
            "cpu_system_s": round(sum(u.ru_stime for u in self.rusages), 3),
            "read_bytes": self._io("read_bytes"),
            "write_bytes": self._io("write_bytes"),
            "samples": self.samples,
            "mem_warned": self.mem_warned,
            "host": {
                "name": platform.node(),
                # Not platform.platform(): it runs `uname -p` in a subprocess.
                "platform": f"{uname.sysname}-{uname.release}-{uname.machine}"
                if uname
                else sys.platform,
                "cpus": os.cpu_count(),
                "memory_bytes": psutil.virtual_memory().total,
                "python": platform.python_version(),
            },
            "simwarden_version": __version__,
            "context": dict(self.opt.context) if self.opt.context else None,
        }

    def _io(self, key: str) -> int | None:
        # The kernel's block I/O of reaped children is in ru_inblock/ru_oublock (512-byte units).
        field_name = "ru_inblock" if key == "read_bytes" else "ru_oublock"
        if not self.rusages:
            return None
        return sum(getattr(u, field_name) for u in self.rusages) * 512


def run(command: Sequence[str], options: RunOptions | None = None) -> RunResult:
    """Run ``command`` (argv, no shell) under the warden and return what happened.

    Raises UserError (CommandError for 126/127) before any process starts when an option or the
    command is bad. Signal handling (SIGINT/SIGTERM/SIGHUP stop the tree) is installed only when
    called from the main thread. On Linux the calling process becomes a child subreaper for good.
    """
    return _Run(command, options or RunOptions()).execute()
