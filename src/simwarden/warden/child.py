"""Start the command on POSIX: fork, set the child up, exec, and confirm the exec later.

:func:`start` is what ``subprocess.Popen(..., start_new_session=True, preexec_fn=...)`` did for
the warden, without importing subprocess (~3 ms of every ``simwarden run``) and without waiting
for the exec: the warden goes on loading what it needs while the command starts, and
:meth:`Child.started` reports a failed exec afterwards, as Popen would have raised it.

In the child, between fork and exec: a new session, stdout and stderr onto the pipes, every
other descriptor closed, SIGPIPE and SIGXFSZ back to their defaults (Python ignores them), the
``setup`` callable (death signal, the cgroup), the working directory. A failure in any step is
sent to the parent as its errno; the child then exits 255 and the parent reaps it.
"""

from __future__ import annotations

import os
import signal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import BinaryIO

# The child's exit status when a step before exec failed (never seen: the parent reaps it).
SETUP_FAILED = 255


class Child:
    """The started command: ``pid``, its ``stdout`` and ``stderr`` pipes (unbuffered, read
    ends), and ``returncode`` once known (as subprocess.Popen has them)."""

    def __init__(self, pid: int, stdout: BinaryIO, stderr: BinaryIO, status_fd: int) -> None:
        self.pid, self.stdout, self.stderr = pid, stdout, stderr
        self.returncode: int | None = None
        self._status_fd: int | None = status_fd

    def started(self) -> None:
        """Wait until the command was exec'd; raise the OSError (errno and strerror set) of the
        step that failed, after reaping the child. Calls after the first return at once."""
        if self._status_fd is None:
            return
        chunks = []
        while chunk := os.read(self._status_fd, 64):  # end of file: the exec closed it
            chunks.append(chunk)
        os.close(self._status_fd)
        self._status_fd = None
        if not chunks:
            return
        self.wait()
        self.stdout.close()
        self.stderr.close()
        errno = int(b"".join(chunks))
        raise OSError(errno, os.strerror(errno))

    def poll(self) -> int | None:
        """The exit code if the command ended (reaping it), else None."""
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self) -> int:
        """Wait for the command to end (reaping it); its exit code (-N: killed by signal N)."""
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def start(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None,
    cwd: str | None,
    setup: Callable[[], None],
) -> Child:
    """Fork and exec ``argv`` (``argv[0]`` a path: the caller resolved it) in a new session with
    ``env`` (None: ours) in ``cwd`` (None: ours), after ``setup()``; returns at once."""
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    status_read, status_write = os.pipe()  # close-on-exec: end of file means the exec worked
    environment = dict(os.environ if env is None else env)
    pid = os.fork()
    if pid == 0:  # the child: never returns
        try:
            _become_command(argv, environment, cwd, setup, (out_write, err_write, status_write))
        except OSError as error:
            os.write(status_write, str(error.errno or 0).encode())
        finally:
            os._exit(SETUP_FAILED)
    for fd in (out_write, err_write, status_write):
        os.close(fd)
    stdout, stderr = open(out_read, "rb", buffering=0), open(err_read, "rb", buffering=0)  # noqa: SIM115
    return Child(pid, stdout, stderr, status_read)


def _become_command(
    argv: Sequence[str],
    env: dict[str, str],
    cwd: str | None,
    setup: Callable[[], None],
    fds: tuple[int, int, int],
) -> None:
    """In the child: every step before the exec, then the exec (raises OSError on failure)."""
    out_write, err_write, status_write = fds
    os.setsid()
    os.dup2(out_write, 1)
    os.dup2(err_write, 2)
    for signum in ("SIGPIPE", "SIGXFZ", "SIGXFSZ"):
        if hasattr(signal, signum):
            signal.signal(getattr(signal, signum), signal.SIG_DFL)
    setup()
    # Only 0-2 and the status pipe (closed by the exec) stay open, as Popen's close_fds.
    os.closerange(3, status_write)
    os.closerange(status_write + 1, os.sysconf("SC_OPEN_MAX"))
    if cwd is not None:
        os.chdir(cwd)
    os.execve(argv[0], list(argv), env)
