"""The names of :mod:`simwarden.warden.procfs`, through psutil: the portable fallback used where
there is no /proc to read (macOS, Windows). Imported only there, so Linux start-up skips psutil.
"""

from __future__ import annotations

import contextlib

import psutil

from simwarden.warden.procfs import ProcessGone

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["ProcessGone", "Proc", "children", "descendants", "host_memory", "host_memory_percent"]


class Proc:
    """One process, held by psutil (which tells a reused pid by its creation time)."""

    __slots__ = ("pid", "ppid", "_process")

    def __init__(self, pid: int) -> None:
        """Raises ProcessGone if there is no such process (PermissionError if hidden)."""
        try:
            self._process = psutil.Process(pid)
            self.pid, self.ppid = pid, self._process.ppid()
        except psutil.NoSuchProcess as error:
            raise ProcessGone(pid) from error
        except psutil.AccessDenied as error:
            raise PermissionError(pid) from error

    def measure(self) -> tuple[int, float, int | None, int | None] | None:
        """(rss bytes, CPU seconds, read bytes, write bytes); None for a zombie or a process that
        may not be inspected. The I/O pair is None where the platform does not count it."""
        process = self._process
        try:
            with process.oneshot():
                if not process.is_running():
                    raise ProcessGone(self.pid)
                if process.status() == psutil.STATUS_ZOMBIE:
                    return None
                rss = process.memory_info().rss
                times = process.cpu_times()
                read = write = None
                with contextlib.suppress(psutil.AccessDenied, AttributeError):
                    io = process.io_counters()
                    read, write = io.read_bytes, io.write_bytes
                return rss, times.user + times.system, read, write
        except psutil.NoSuchProcess as error:
            raise ProcessGone(self.pid) from error
        except psutil.AccessDenied:
            return None

    def alive(self) -> bool:
        """True while this very process exists and is not a zombie."""
        try:
            return self._process.is_running() and self._process.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def name(self) -> str:
        """The process name. Raises ProcessGone."""
        try:
            return str(self._process.name())
        except psutil.Error as error:
            raise ProcessGone(self.pid) from error


def children(pid: int, *, thorough: bool = False) -> list[int]:
    """The pids whose parent is ``pid`` now; [] when it is gone (psutil reads every process's
    parent, so every call is ``thorough``)."""
    try:
        return [child.pid for child in psutil.Process(pid).children()]
    except psutil.Error:
        return []


def descendants(roots: Iterable[int], *, thorough: bool = False) -> set[int]:
    """``roots`` and every process below them, as they are now (a root that is gone is kept:
    opening it raises ProcessGone); always ``thorough`` (see :func:`children`)."""
    found = set(roots)
    for root in list(found):
        with contextlib.suppress(psutil.Error):
            found.update(child.pid for child in psutil.Process(root).children(recursive=True))
    return found


def host_memory() -> tuple[int, int]:
    """(total, available) bytes of the host's memory."""
    memory = psutil.virtual_memory()
    return int(memory.total), int(memory.available)


def host_memory_percent() -> float:
    """Percent of host memory in use."""
    return float(psutil.virtual_memory().percent)
