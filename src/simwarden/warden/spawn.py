"""Starting the command and carrying its output: resolve, spawn, pump, write samples, say.

- :func:`resolve_command` finds the program (126/127 as a shell would say it);
- :func:`make_cgroup` and :func:`spawn` start it in its own session and process group, in a
  memory cgroup when one is in force;
- :func:`start_pumps` copies its output to the console and the log file, line by line, its
  stderr to a :class:`~simwarden.warden.cause.StderrTail`, and its progress lines (both
  streams) to the run's progress (:mod:`simwarden.warden.progress`);
- :class:`SamplesWriter` appends one samples.tsv row per sample (columns from
  :mod:`simwarden.warden.record`);
- :class:`Console` writes the warden's own ``simwarden: ...`` lines to the console and the log.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time

from simwarden.core.errors import EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND, UserError
from simwarden.core.log import PREFIX
from simwarden.warden.options import CommandError
from simwarden.warden.proctree import IS_POSIX, make_child_setup
from simwarden.warden.progress import ProgressScanner

# typing costs ~10 ms of start-up and is needed only by type checkers here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable, Mapping, Sequence
    from typing import IO, Any

    from simwarden.warden import cgroup as cgroups
    from simwarden.warden.cause import StderrTail
    from simwarden.warden.child import Child
    from simwarden.warden.options import RunOptions
    from simwarden.warden.proctree import Sample


# The warden's own notifier secrets (SMTP host, user, password): never a command's business.
SECRET_ENV_PREFIX = "SIMWARDEN_SMTP_"


def without_secrets(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` without the notifier's settings (``SIMWARDEN_SMTP_*``): a command that prints its
    environment must not put the password into its log or onto the terminal."""
    return {key: value for key, value in env.items() if not key.startswith(SECRET_ENV_PREFIX)}


def resolve_command(command: Sequence[str], cwd: str | None) -> str:
    """Return the executable's path, or raise CommandError (127 not found, 126 not executable)."""
    if not command:
        raise UserError("no command given: put it after '--', e.g. simwarden run -- python sim.py")
    program = command[0]
    if os.sep in program or (os.altsep and os.altsep in program):
        path = os.path.join(cwd or ".", program)
        if not os.path.exists(path):
            raise CommandError(f"command not found: {program!r} does not exist", EXIT_NOT_FOUND)
        if os.path.isdir(path) or not os.access(path, os.X_OK):
            raise CommandError(f"command not executable: {program!r}", EXIT_NOT_EXECUTABLE)
        # As given: the child runs it after changing to ``cwd`` (str(path) would turn
        # "./run.sh" into "run.sh", which is looked up on PATH instead).
        return program
    found = which(program)
    if found is None:
        raise CommandError(f"command not found: {program!r} is not on PATH", EXIT_NOT_FOUND)
    return found


def which(program: str) -> str | None:
    """``shutil.which(program)`` on POSIX (the first executable file of that name on PATH; an
    empty PATH entry is the current directory), without importing shutil and its compression
    modules on the start-up path. Elsewhere (PATHEXT, Windows' rules) it is shutil.which."""
    if not IS_POSIX:
        import shutil

        return shutil.which(program)
    seen = set()
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        directory = directory or os.curdir
        if directory in seen:
            continue
        seen.add(directory)
        path = os.path.join(directory, program)
        if os.access(path, os.F_OK | os.X_OK) and not os.path.isdir(path):
            return path
    return None


class Console:
    """The warden's own message stream, copied into the log file when there is one.

    Every line reads ``simwarden: <message>`` (``simwarden: <label>: <message>`` with a label).
    A closed or broken stream is ignored: reporting never takes the warden down.
    """

    def __init__(
        self, console: IO[str], log: IO[bytes] | None, lock: threading.Lock, label: str | None
    ) -> None:
        self.console, self.log, self.lock = console, log, lock
        self.prefix = f"{PREFIX}{label}: " if label else PREFIX

    def say(self, message: str) -> None:
        """Write one line to the console and the log file (under the output lock)."""
        line = f"{self.prefix}{message}\n"
        with self.lock:
            with contextlib.suppress(OSError, ValueError):
                self.console.write(line)
                self.console.flush()
            if self.log is not None:
                with contextlib.suppress(OSError, ValueError):
                    self.log.write(line.encode())
                    self.log.flush()


def make_cgroup(options: RunOptions) -> cgroups.MemoryCgroup | None:
    """The memory cgroup that enforces ``--mem``, or None (no limit, ``poll``, none available).

    ``--mechanism cgroup`` where none can be made raises :class:`UserError`.
    """
    mem_bytes = options.limits.mem_bytes
    if not mem_bytes or options.mechanism == "poll":
        return None
    from simwarden.warden import cgroup as cgroups  # only with a memory limit

    name = f"simwarden-{os.getpid()}-{time.monotonic_ns()}"
    group = cgroups.create(mem_bytes, name)
    if group is None and options.mechanism == "cgroup":
        raise UserError(
            "--mechanism cgroup: no writable memory cgroup here (needs root with the cgroup v1 "
            "memory controller, or a delegated cgroup v2); use --mechanism auto or poll"
        )
    return group


def spawn(
    executable: str,
    command: Sequence[str],
    options: RunOptions,
    group: cgroups.MemoryCgroup | None,
    log_file: IO[bytes] | None,
    *,
    env: Mapping[str, str] | None = None,
) -> Child | subprocess.Popen[bytes]:
    """Start ``command`` (run as ``executable``) in a new session, in ``group`` if given, with
    ``env`` (None: ``options.env``).

    Its stdout and stderr are always piped through :func:`start_pumps` (the record keeps the
    last stderr lines; progress lines are read on both), so the command never sees a terminal.
    On POSIX this returns once the child is forked: :func:`confirm_start` waits for its exec.
    A start failure raises :class:`CommandError` (126/127), here or there.
    """
    cgroup_fd = None
    if group is not None:
        from simwarden.warden.cgroup import join_fd  # loaded already: make_cgroup made ``group``

        cgroup_fd = join_fd(group)
    env = options.env if env is None else env
    argv = [executable, *command[1:]]
    try:
        if not IS_POSIX:
            return _popen(argv, env, options.cwd)
        from simwarden.warden import child

        setup = make_child_setup(os.getpid(), cgroup_fd)
        return child.start(argv, env=env, cwd=options.cwd, setup=setup)
    except OSError as error:
        raise command_error(command[0], error) from None
    finally:
        if cgroup_fd is not None:
            os.close(cgroup_fd)


def confirm_start(process: Child | subprocess.Popen[bytes], command: Sequence[str]) -> None:
    """Return once ``process`` runs the command; :class:`CommandError` (126/127) if its exec
    failed (the child is reaped then)."""
    started = getattr(process, "started", None)  # Popen (not POSIX) has started already
    if started is not None:
        try:
            started()
        except OSError as error:
            raise command_error(command[0], error) from None


def abandon(process: Child | subprocess.Popen[bytes] | None) -> None:
    """Kill and reap a command whose start was cut short (None: none was forked)."""
    if process is None or process.returncode is not None:
        return
    with contextlib.suppress(OSError):
        if IS_POSIX:
            os.killpg(process.pid, signal.SIGKILL)  # its own session: the group is its own
        else:
            process.kill()  # type: ignore[union-attr]
    process.wait()


def command_error(program: str, error: OSError) -> CommandError:
    """The one line and exit code for a command that failed to start with ``error``: 126 not
    executable (permission, or another error), 127 not found, as a shell says them."""
    if isinstance(error, PermissionError):
        message = f"command not executable: {program!r}: {error.strerror}"
        return CommandError(message, EXIT_NOT_EXECUTABLE)
    code = EXIT_NOT_FOUND if isinstance(error, FileNotFoundError) else EXIT_NOT_EXECUTABLE
    return CommandError(f"command cannot start: {program!r}: {error.strerror}", code)


def _popen(
    argv: list[str], env: Mapping[str, str] | None, cwd: str | None
) -> subprocess.Popen[bytes]:
    """subprocess.Popen in a new process group, where there is no fork (Windows)."""
    import subprocess

    return subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=None,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        creationflags=subprocess.CREATE_NEW_PROCESS_GROUP,  # type: ignore[attr-defined]
    )


class OutputCopy:
    """One output stream of the command and where its bytes go: our own stream at once (unless
    ``sink`` is None), the log file (if any) in whole lines, so stdout and stderr interleave line
    by line, never mid-line, ``tail`` (if any) and ``scanner`` (if any: progress lines)."""

    def __init__(  # noqa: PLR0913 - each destination by name
        self,
        source: IO[bytes],
        sink: IO[bytes] | None,
        log: IO[bytes] | None,
        lock: threading.Lock,
        *,
        tail: StderrTail | None = None,
        scanner: ProgressScanner | None = None,
    ) -> None:
        self.source, self.fd = source, source.fileno()
        self.sink, self.log, self.lock, self.tail, self.scanner = sink, log, lock, tail, scanner
        self.pending = b""

    def copy(self) -> bool:
        """Read once (blocking until there is output) and pass it on; False at end of file, or
        when our own stream's reader is gone (``simwarden run -- yes | head``): then the
        command's end of the pipe is closed, so its next write fails (SIGPIPE) as it would
        have without the warden, instead of running on with its output unread."""
        chunk = os.read(self.fd, 65536)
        reader_gone = False
        if self.sink is not None and chunk:
            try:
                self.sink.write(chunk)
                self.sink.flush()
            except BrokenPipeError:
                reader_gone = True
            except (OSError, ValueError):
                pass
        if self.tail is not None:
            self.tail.feed(chunk)
        if self.scanner is not None:
            self.scanner.feed(chunk)
        if self.log is not None:
            self.pending += chunk
            cut = len(self.pending) if not chunk else self.pending.rfind(b"\n") + 1
            if cut:
                with self.lock, contextlib.suppress(OSError, ValueError):
                    self.log.write(self.pending[:cut])
                    self.log.flush()
                self.pending = self.pending[cut:]
        if reader_gone:
            self.source.close()
            return False
        return bool(chunk)


def pump(streams: Sequence[OutputCopy]) -> None:
    """Copy ``streams`` as output comes until each is at end of file (the command and every
    process holding its pipes ended). One stream is read directly; several are multiplexed with
    ``select`` (POSIX pipes)."""
    if len(streams) == 1:
        while streams[0].copy():
            pass
        return
    import select

    open_streams = {stream.fd: stream for stream in streams}
    while open_streams:
        ready, _, _ = select.select(list(open_streams), [], [])
        for fd in ready:
            if not open_streams[fd].copy():
                del open_streams[fd]


class FdWriter:
    """Writes bytes straight to a file descriptor (the warden's own stderr, fd 2), as the
    command would have written them had its stderr not been piped through the warden."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]

    def flush(self) -> None:
        """Nothing is buffered."""


def start_pumps(
    process: Child | subprocess.Popen[bytes],
    log_file: IO[bytes] | None,
    quiet: bool,
    lock: threading.Lock,
    tail: StderrTail | None = None,
    *,
    progress: Callable[[bytes], None] | None = None,
) -> list[threading.Thread]:
    """Daemon threads running :func:`pump` over the piped output streams: stdout and stderr
    (into ``tail``), each with its own :class:`ProgressScanner` calling ``progress`` (if given)
    with every progress line. Without a log file the output goes on to fd 1 and 2. One thread
    for both on POSIX (a thread start is ~1 ms of every run), one per stream elsewhere."""
    streams = []
    for source, fd, name, stream_tail in (
        (process.stdout, 1, "stdout", None),
        (process.stderr, 2, "stderr", tail),
    ):
        if source is None:
            continue
        sink: Any = None
        if not quiet:
            sink = FdWriter(fd) if log_file is None else getattr(sys, name).buffer
        scanner = ProgressScanner(progress) if progress is not None else None
        streams.append(OutputCopy(source, sink, log_file, lock, tail=stream_tail, scanner=scanner))
    groups = [streams] if IS_POSIX else [[stream] for stream in streams]
    pumps = []
    for group in groups:
        thread = threading.Thread(target=pump, args=(group,), daemon=True, name="simwarden-output")
        thread.start()
        pumps.append(thread)
    return pumps


class SamplesWriter:
    """Appends one samples.tsv row per sample as it goes, so a killed run still leaves its series.

    ``path=None`` writes nothing. Rows are line-buffered: a reader sees whole rows (a row cut by a
    crash is skipped by :func:`simwarden.warden.record.read_samples`). ``mem_limit_bytes`` (the
    run's memory limit, None: none) goes into every row.
    """

    def __init__(self, path: str | None, mem_limit_bytes: int | None = None) -> None:
        # The record module loads here, after the command started, not on the start-up path.
        from simwarden.warden.record import format_sample_row, samples_header

        self._format = format_sample_row
        self._handle = open(path, "w", encoding="utf-8", buffering=1) if path else None  # noqa: SIM115
        self._mem_limit = mem_limit_bytes
        if self._handle:
            self._handle.write(samples_header())

    def write(
        self,
        elapsed: float,
        sample: Sample,
        cpu_percent: float,
        *,
        progress: float | None = None,
        eta_s: float | None = None,
    ) -> None:
        """One row: seconds since the start, the tree's sample, CPU percent since the last one,
        the progress last reported and the seconds left (None: empty cells)."""
        if self._handle:
            self._handle.write(
                self._format(
                    elapsed,
                    rss_bytes=sample.rss_bytes,
                    cpu_percent=cpu_percent,
                    processes=sample.processes,
                    read_b=sample.read_bytes,
                    write_b=sample.write_bytes,
                    progress=progress,
                    eta_s=eta_s,
                    mem_limit_bytes=self._mem_limit,
                )
            )

    def close(self) -> None:
        if self._handle:
            self._handle.close()
