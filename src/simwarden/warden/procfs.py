"""Processes as Linux's /proc shows them: the warden's cheap measuring (no psutil import).

The numbers are the ones psutil reports on Linux, read from the same files: RSS is
``/proc/PID/statm`` field 2 x page size, CPU is utime + stime of ``/proc/PID/stat`` over
``CLK_TCK``, I/O is ``read_bytes``/``write_bytes`` of ``/proc/PID/io``, host memory is
``MemTotal``/``MemAvailable`` of ``/proc/meminfo``. A process is known by its pid *and* its start
time (stat field 22), so a pid reused by a new process reads as gone.

:mod:`simwarden.warden.psproc` offers the same names through psutil where there is no /proc;
:func:`simwarden.warden.proctree.processes` picks one.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

AVAILABLE = sys.platform.startswith("linux") and os.path.exists("/proc/self/stat")
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if AVAILABLE else 4096
_CLK_TCK = os.sysconf("SC_CLK_TCK") if AVAILABLE else 100
# /proc/PID/task/TID/children needs CONFIG_PROC_CHILDREN; without it, children come from a scan.
_HAS_CHILDREN_FILE = AVAILABLE and os.path.exists(f"/proc/self/task/{os.getpid()}/children")


class ProcessGone(Exception):
    """The process ended (and was reaped), or its pid now belongs to another process."""


def _read(path: str, pid: int) -> bytes:
    """The whole of a small /proc file; ProcessGone when the process is gone.

    os.open/os.read, not open(): half the cost, and the warden reads these files every sample.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except (FileNotFoundError, ProcessLookupError) as error:
        raise ProcessGone(pid) from error
    try:
        chunks = [os.read(fd, 4096)]
        while len(chunks[-1]) == 4096:  # only a children file of very many children is longer
            chunks.append(os.read(fd, 4096))
    except ProcessLookupError as error:  # ESRCH: it ended between open and read
        raise ProcessGone(pid) from error
    finally:
        os.close(fd)
    return b"".join(chunks)


def _stat_fields(pid: int) -> list[bytes]:
    """Fields 3.. of /proc/PID/stat (after the command name, which may hold spaces and ')')."""
    data = _read(f"/proc/{pid}/stat", pid)
    return data[data.rindex(b")") + 2 :].split()


class Proc:
    """One process, held by pid and start time. ``ppid`` is its parent when it was opened."""

    __slots__ = ("pid", "ppid", "_start")

    def __init__(self, pid: int) -> None:
        """Raises ProcessGone if there is no such process (PermissionError if hidden)."""
        fields = _stat_fields(pid)
        self.pid, self.ppid, self._start = pid, int(fields[1]), fields[19]

    def _fields(self) -> list[bytes]:
        fields = _stat_fields(self.pid)
        if fields[19] != self._start:
            raise ProcessGone(self.pid)
        return fields

    def measure(self) -> tuple[int, float, int | None, int | None] | None:
        """(rss bytes, CPU seconds, read bytes, write bytes); None for a zombie. The I/O pair is
        None where /proc/PID/io may not be read (another user's process). Raises ProcessGone."""
        fields = self._fields()
        if fields[0] in (b"Z", b"X"):
            return None
        cpu = (int(fields[11]) + int(fields[12])) / _CLK_TCK
        rss = int(_read(f"/proc/{self.pid}/statm", self.pid).split()[1]) * _PAGE_SIZE
        read, write = _io_bytes(self.pid)
        return rss, cpu, read, write

    def alive(self) -> bool:
        """True while this very process exists and is not a zombie."""
        try:
            return self._fields()[0] not in (b"Z", b"X")
        except ProcessGone:
            return False

    def name(self) -> str:
        """The command name (``comm``, at most 15 characters). Raises ProcessGone."""
        return _read(f"/proc/{self.pid}/comm", self.pid).rstrip(b"\n").decode(errors="replace")


def _io_bytes(pid: int) -> tuple[int | None, int | None]:
    """read_bytes and write_bytes of /proc/PID/io; (None, None) when it may not be read."""
    try:
        data = _read(f"/proc/{pid}/io", pid)
    except (ProcessGone, OSError):
        return None, None
    try:
        return _field(data, b"\nread_bytes: "), _field(data, b"\nwrite_bytes: ")
    except ValueError:
        return None, None


def _field(data: bytes, key: bytes) -> int:
    """The number after ``key`` (``b"\\nname: "``) in ``data``; ValueError if missing."""
    start = data.index(key) + len(key)
    end = data.find(b"\n", start)
    return int(data[start : end if end >= 0 else len(data)])


# Reading children files past this many in one walk, one pass over /proc costs less (a tree
# of many processes with many threads each: every thread has its own children file).
WALK_BUDGET = 256


def children(pid: int, *, thorough: bool = False) -> list[int]:
    """The pids whose parent is ``pid`` now (every thread's children); [] when it is gone.
    ``thorough``: from one pass over /proc, not the threads' children files, which can miss a
    child while the thread it hangs under exits (the kernel moves it to another thread)."""
    if thorough or not _HAS_CHILDREN_FILE:
        return [child for child, parent in _ppid_scan().items() if parent == pid]
    return _children_files(pid)[0]


def _children_files(pid: int) -> tuple[list[int], int]:
    """The children of ``pid`` from its threads' children files, and how many files that was."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return found, 0
    for task in tasks:
        try:
            found.extend(
                int(child) for child in _read(f"/proc/{pid}/task/{task}/children", pid).split()
            )
        except (ProcessGone, PermissionError):
            continue
    return found, len(tasks)


def descendants(roots: Iterable[int], *, thorough: bool = False) -> set[int]:
    """``roots`` and every process below them, as they are now. A root that is gone may be in
    the set (opening it then raises ProcessGone). Walks down the children files from the roots;
    past :data:`WALK_BUDGET` files, without such files, or ``thorough`` (see :func:`children`),
    from one pass over /proc instead."""
    roots = list(roots)
    found: set[int] = set()
    stack, files = list(roots), 0
    while stack and _HAS_CHILDREN_FILE and not thorough and files <= WALK_BUDGET:
        pid = stack.pop()
        if pid not in found:
            found.add(pid)
            below, read = _children_files(pid)
            stack.extend(below)
            files += read
    if not stack:
        return found
    below_of: dict[int, list[int]] = {}
    for pid, parent in _ppid_scan().items():
        below_of.setdefault(parent, []).append(pid)
    found, stack = set(), roots
    while stack:
        pid = stack.pop()
        if pid not in found:
            found.add(pid)
            stack.extend(below_of.get(pid, ()))
    return found


def _ppid_scan() -> dict[int, int]:
    """pid -> parent pid of every process, from one pass over /proc (kernels without the
    children file)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(_stat_fields(int(entry))[1])
            except (ProcessGone, PermissionError, ValueError, IndexError):
                continue
    return parents


def host_memory() -> tuple[int, int]:
    """(total, available) bytes of the host's memory, as psutil.virtual_memory() has them."""
    values = {}
    with open("/proc/meminfo", "rb") as handle:
        for line in handle:
            key, _, rest = line.partition(b":")
            values[key] = int(rest.split()[0]) * 1024
    total = values[b"MemTotal"]
    available = values.get(b"MemAvailable")
    if available is None:  # kernels before 3.14: psutil's own estimate is close to this
        available = values[b"MemFree"] + values.get(b"Buffers", 0) + values.get(b"Cached", 0)
    return total, available


def host_memory_percent() -> float:
    """Percent of host memory in use, as psutil.virtual_memory().percent (one decimal)."""
    total, available = host_memory()
    return round((total - available) / total * 100, 1) if total else 0.0
