"""Find, measure, signal and reap every process of a watched tree.

Membership: the command's descendants, plus processes that escaped by double-forking or ``setsid``
and were re-parented to the warden (Linux: the warden makes itself a child subreaper), plus, when a
cgroup is in force, everything in the cgroup. Processes the warden starts for itself (notifier
hooks, its sentinel) share the warden's session and are not members.

Memory is RSS summed over members: pages shared between members (a forked worker's copy-on-write
pages, shared libraries) count once per process, so the sum can exceed what the tree really holds.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Iterable

from simwarden.warden import procfs
from simwarden.warden.procfs import ProcessGone

# typing costs ~10 ms of start-up and is needed only by type checkers here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import resource
    from collections.abc import Callable
    from types import ModuleType
    from typing import Any

    from simwarden.warden.procfs import Proc

IS_LINUX = sys.platform.startswith("linux")
IS_POSIX = os.name == "posix"
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36

_libc: ctypes.CDLL | None = None


def processes() -> ModuleType:
    """How processes are read: :mod:`~simwarden.warden.procfs` where /proc can be read (no
    psutil import), else :mod:`~simwarden.warden.psproc` (psutil); both offer ``Proc``,
    ``children``, ``host_memory`` and ``host_memory_percent``."""
    if procfs.AVAILABLE:
        return procfs
    from simwarden.warden import psproc

    return psproc


_procs = processes()


def _prctl(option: int, value: int) -> bool:
    """Call prctl(2); False where unavailable or refused."""
    global _libc
    if not IS_LINUX:
        return False
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    result: int = _libc.prctl(option, value, 0, 0, 0)
    return result == 0


def become_subreaper() -> bool:
    """Make orphaned descendants re-parent to this process (Linux only; process-wide, for good)."""
    return _prctl(PR_SET_CHILD_SUBREAPER, 1)


def make_child_setup(parent_pid: int, cgroup_fd: int | None) -> Callable[[], None]:
    """Return a ``preexec_fn`` for the command: die with the warden, then join the cgroup.

    Runs between fork and exec, so it only makes raw system calls. If the warden already died
    before the death signal was armed, the child exits at once instead of running unwatched.
    """

    def setup() -> None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent_pid:
            os._exit(137)
        if cgroup_fd is not None:
            os.write(cgroup_fd, b"0")

    return setup


def own_children() -> list[int]:
    """This process's children now. Taken before the command starts, they are the warden's own
    (its sentinel, notifier hooks): a command that double-forks quickly has its orphans adopted
    by the warden before the warden can look, and they must not pass for the warden's own."""
    found: list[int] = _procs.children(os.getpid())
    return found


class Sample:
    """One measurement of the whole tree (a plain class: a dataclass costs start-up time)."""

    __slots__ = ("rss_bytes", "cpu_seconds", "processes", "read_bytes", "write_bytes")

    def __init__(
        self, rss_bytes: int, cpu_seconds: float, processes: int, read_bytes: int, write_bytes: int
    ) -> None:
        self.rss_bytes, self.cpu_seconds, self.processes = rss_bytes, cpu_seconds, processes
        self.read_bytes, self.write_bytes = read_bytes, write_bytes


class _Seen:
    """A member and its last readings (kept while it is a zombie or may not be read)."""

    __slots__ = ("process", "parent", "cpu", "read", "write")

    def __init__(self, process: Proc) -> None:
        self.process, self.parent = process, process.ppid
        self.cpu, self.read, self.write = 0.0, 0, 0


class ProcessTree:
    """The watched tree rooted at ``root_pid`` (the command the warden started).

    ``cgroup`` is a cgroup.MemoryCgroup whose pids are members too, when one is in force.
    """

    def __init__(
        self, root_pid: int, cgroup: Any = None, *, foreign: Iterable[int] | None = None
    ) -> None:
        """``foreign``: this process's children from before the command started (None: those
        now, which is right only before the command can have forked: see :func:`own_children`)."""
        self.root_pid, self.cgroup = root_pid, cgroup
        self._seen: dict[int, _Seen] = {}
        self._finished_cpu, self._finished_read, self._finished_write = 0.0, 0, 0
        self._own_pid = os.getpid()
        self._own_sid = os.getsid(0) if IS_POSIX else -1
        # Our children from before the command (notifier hooks, the sentinel) are not members.
        before = own_children() if foreign is None else foreign
        self._foreign = set(before) - {root_pid}

    def refresh(self, *, thorough: bool = False) -> None:
        """Rediscover members: descendants of the root and of adopted orphans, and cgroup pids.

        Walks down from those roots (Linux: /proc/PID/task/*/children), not the whole process
        table, unless the tree's threads are so many that one pass over it costs less.
        ``thorough``: one pass over the process table, which a thread exiting cannot fool (the
        sweeps that decide what is still running and what to kill).
        """
        roots = [
            self.root_pid,
            *self._adopted_roots(_procs.children(self._own_pid, thorough=thorough)),
            *(self.cgroup.pids() if self.cgroup else ()),
        ]
        for pid in _procs.descendants(roots, thorough=thorough):
            if pid not in self._seen:
                with contextlib.suppress(ProcessGone, OSError):
                    self._seen[pid] = _Seen(_procs.Proc(pid))

    def _adopted_roots(self, own_children: Iterable[int]) -> list[int]:
        """Our own children that are neither the root, nor ours from before, nor in our session."""
        if not IS_POSIX:
            return []
        adopted = []
        for pid in own_children:
            if pid == self.root_pid or pid in self._foreign:
                continue
            with contextlib.suppress(OSError):
                if os.getsid(pid) != self._own_sid:
                    adopted.append(pid)
        return adopted

    def sample(self) -> Sample:
        """Measure every member; members found gone are dropped (their totals kept once).
        A zombie or a member that may not be read keeps its last readings and adds no RSS."""
        rss = 0
        gone = []
        for pid, seen in self._seen.items():
            try:
                reading = seen.process.measure()
            except ProcessGone:
                gone.append(pid)
                continue
            except OSError:  # PermissionError: hidden from us (hidepid)
                continue
            if reading is None:
                continue
            rss += reading[0]
            seen.cpu = reading[1]
            if reading[2] is not None and reading[3] is not None:
                seen.read, seen.write = reading[2], reading[3]
        for pid in gone:
            self._forget(pid)
        live = self._seen.values()
        return Sample(
            rss_bytes=rss,
            cpu_seconds=self._finished_cpu + sum(s.cpu for s in live),
            processes=len(self._seen),
            read_bytes=self._finished_read + sum(s.read for s in live),
            write_bytes=self._finished_write + sum(s.write for s in live),
        )

    def _forget(self, pid: int) -> None:
        seen = self._seen.pop(pid)
        # A process reaped by a member is folded into that parent's own counters by the kernel;
        # one reaped by the warden is not, so keep its last reading.
        if seen.parent not in self._seen:
            self._finished_cpu += seen.cpu
            self._finished_read += seen.read
            self._finished_write += seen.write

    def pids(self) -> list[int]:
        """The members found so far (the last refresh), gone ones dropped at the last sample."""
        return list(self._seen)

    def alive(self) -> list[int]:
        """Members that still exist and are not zombies (after a fresh, thorough discovery)."""
        self.refresh(thorough=True)
        alive = []
        for pid, seen in list(self._seen.items()):
            if seen.process.alive():
                alive.append(pid)
            else:
                with contextlib.suppress(ProcessGone, OSError):
                    seen.process.measure()
                    continue  # a zombie: still a member until reaped
                self._forget(pid)
        return alive

    def signal_all(self, signum: int) -> None:
        """Send ``signum`` once to every member: the root's process group, then the others.

        On Windows, where only termination exists, any signal terminates the member.
        """
        if IS_POSIX:
            with contextlib.suppress(OSError):
                os.killpg(self.root_pid, signum)
        for pid, seen in list(self._seen.items()):
            if not seen.process.alive():  # also guards against a reused pid
                continue
            with contextlib.suppress(OSError):
                # The killpg above reached the root's group; signalling twice could hit a
                # handler that is already exiting and turn a clean exit into a signal death.
                if not IS_POSIX or os.getpgid(pid) != self.root_pid:
                    os.kill(pid, signum)

    def reap_adopted(self) -> list[resource.struct_rusage]:
        """Reap members that are the warden's own zombie children (adopted orphans).

        Returns their ``struct_rusage`` records; members that are not our children are skipped.
        """
        usages: list[resource.struct_rusage] = []
        if not hasattr(os, "wait4"):
            return usages
        for pid in list(self._seen):
            if pid == self.root_pid:
                continue
            try:
                reaped, _, usage = os.wait4(pid, os.WNOHANG)
            except ChildProcessError:
                continue
            if reaped:
                usages.append(usage)
        return usages


def usage_totals(rusages: list[resource.struct_rusage]) -> dict[str, Any]:
    """Peak RSS, CPU and block I/O of reaped processes, from their ``struct rusage``: the
    record's ``kernel_peak_rss_bytes``, ``cpu_user_s``, ``cpu_system_s``, ``read_bytes`` and
    ``write_bytes`` (the last two None without any)."""
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is KiB on Linux
    # The kernel's block I/O of reaped children is in ru_inblock/ru_oublock (512-byte units).
    return {
        "kernel_peak_rss_bytes": max((u.ru_maxrss * scale for u in rusages), default=None),
        "cpu_user_s": round(sum(u.ru_utime for u in rusages), 3),
        "cpu_system_s": round(sum(u.ru_stime for u in rusages), 3),
        "read_bytes": sum(u.ru_inblock for u in rusages) * 512 if rusages else None,
        "write_bytes": sum(u.ru_oublock for u in rusages) * 512 if rusages else None,
    }


def host_info() -> dict[str, Any]:
    """The record's ``host``: name, platform, CPUs, memory, Python version."""
    if hasattr(os, "uname"):
        uname = os.uname()
        # Not platform.platform(): it runs `uname -p` in a subprocess.
        name, system = uname.nodename, f"{uname.sysname}-{uname.release}-{uname.machine}"
    else:
        import platform  # ~8 ms of imports; needed only where os.uname is missing (Windows)

        name, system = platform.node(), sys.platform
    return {
        "name": name,
        "platform": system,
        "cpus": os.cpu_count(),
        "memory_bytes": _procs.host_memory()[0],
        "python": "{}.{}.{}".format(*sys.version_info[:3]),
    }


def host_memory_percent() -> float:
    """Percent of the host's memory in use (psutil.virtual_memory().percent)."""
    return float(_procs.host_memory_percent())
