"""A forked watcher that kills the tree if the warden itself dies without saying goodbye.

The command dies with the warden through PR_SET_PDEATHSIG, but its own children do not. The
sentinel is forked before the command starts; the warden sends it the tree's pids as they change
and ``done`` when it has cleaned up. If the pipe closes without ``done`` (the warden was SIGKILLed),
the sentinel SIGKILLs the command's process group, every pid it was told about and everything
left in the cgroup. POSIX only; elsewhere :meth:`Sentinel.start` returns None.
"""

from __future__ import annotations

import contextlib
import os
import signal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path


class Sentinel:
    """The warden's end of the pipe to the forked watcher."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid = pid
        self._fd = fd
        self._last = b""

    @classmethod
    def start(cls, cgroup_procs: Path | None) -> Sentinel | None:
        """Fork the watcher; call before any thread exists and before the command starts."""
        if not hasattr(os, "fork"):
            return None
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the watcher: never returns
            try:
                os.close(write_fd)
                _watch(read_fd, cgroup_procs)
            finally:
                os._exit(0)
        os.close(read_fd)
        os.set_inheritable(write_fd, False)
        return cls(pid, write_fd)

    def update(self, pids: list[int]) -> None:
        """Tell the watcher the current members (root first); cheap when nothing changed."""
        line = (" ".join(map(str, pids)) + "\n").encode()
        if line != self._last:
            self._last = line
            with contextlib.suppress(OSError):
                os.write(self._fd, line)

    def done(self) -> None:
        """The warden cleaned up: let the watcher exit quietly, and reap it."""
        with contextlib.suppress(OSError):
            os.write(self._fd, b"done\n")
            os.close(self._fd)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)


def _watch(read_fd: int, cgroup_procs: Path | None) -> None:
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    os.closerange(3, read_fd)
    os.closerange(read_fd + 1, 1024)
    buffer, last = b"", b""
    while True:
        chunk = os.read(read_fd, 4096)
        if not chunk:
            break
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if line == b"done":
                return
            last = line
    pids = [int(p) for p in last.split()]
    if pids:
        with contextlib.suppress(OSError):
            os.killpg(pids[0], signal.SIGKILL)
    if cgroup_procs is not None:
        with contextlib.suppress(OSError, ValueError):
            pids += [int(p) for p in cgroup_procs.read_text().split()]
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
