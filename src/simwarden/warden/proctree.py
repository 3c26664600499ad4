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
from dataclasses import dataclass, field

import psutil

# typing costs ~10 ms of start-up and is needed only by type checkers here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import resource
    from collections.abc import Callable
    from typing import Any

IS_LINUX = sys.platform.startswith("linux")
IS_POSIX = os.name == "posix"
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36

_libc: ctypes.CDLL | None = None


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


def _ppid_map() -> dict[int, int]:
    """pid -> parent pid for every process, from one scan of the process table."""
    fast = getattr(psutil, "_ppid_map", None)  # psutil's own one-pass reader, where present
    if fast is not None:
        with contextlib.suppress(Exception):
            return dict(fast())
    parents = {}
    for process in psutil.process_iter(["ppid"]):
        parents[process.pid] = process.info["ppid"]
    return parents


@dataclass
class Sample:
    """One measurement of the whole tree."""

    rss_bytes: int
    cpu_seconds: float
    processes: int
    read_bytes: int
    write_bytes: int


@dataclass
class _Seen:
    process: psutil.Process
    parent: int
    cpu: float = 0.0
    read: int = 0
    write: int = 0


@dataclass
class ProcessTree:
    """The watched tree rooted at ``root_pid`` (the command the warden started)."""

    root_pid: int
    cgroup: Any = None  # a cgroup.MemoryCgroup whose pids are members too, when one is in force
    _seen: dict[int, _Seen] = field(default_factory=dict)
    _finished_cpu: float = 0.0
    _finished_read: int = 0
    _finished_write: int = 0
    _foreign: set[int] = field(default_factory=set)
    _own_pid: int = field(default_factory=os.getpid)
    _own_sid: int = -1

    def __post_init__(self) -> None:
        if IS_POSIX:
            self._own_sid = os.getsid(0)
        with contextlib.suppress(psutil.Error):
            self._foreign = {p.pid for p in psutil.Process(self._own_pid).children()}
        self._foreign.discard(self.root_pid)

    def refresh(self) -> None:
        """Rediscover members: descendants of the root and of adopted orphans, and cgroup pids.

        One scan of the process table serves the whole refresh.
        """
        parents = _ppid_map()
        children: dict[int, list[int]] = {}
        for pid, parent in parents.items():
            children.setdefault(parent, []).append(pid)
        roots = [
            self.root_pid,
            *self._adopted_roots(children.get(self._own_pid, ())),
            *(self.cgroup.pids() if self.cgroup else ()),
        ]
        stack = [pid for pid in roots if pid in parents]
        while stack:
            pid = stack.pop()
            if pid in self._seen:
                stack.extend(c for c in children.get(pid, ()) if c not in self._seen)
                continue
            with contextlib.suppress(psutil.Error):
                self._seen[pid] = _Seen(psutil.Process(pid), parents[pid])
                stack.extend(children.get(pid, ()))

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
        """Measure every member; members found gone are dropped (their totals kept once)."""
        rss = 0
        gone = []
        for pid, seen in self._seen.items():
            try:
                with seen.process.oneshot():
                    if seen.process.status() == psutil.STATUS_ZOMBIE:
                        continue
                    rss += seen.process.memory_info().rss
                    times = seen.process.cpu_times()
                    seen.cpu = times.user + times.system
                    with contextlib.suppress(psutil.AccessDenied, AttributeError):
                        io = seen.process.io_counters()
                        seen.read, seen.write = io.read_bytes, io.write_bytes
            except psutil.NoSuchProcess:
                gone.append(pid)
            except psutil.AccessDenied:
                continue
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
        return list(self._seen)

    def alive(self) -> list[int]:
        """Members that still exist and are not zombies (after a fresh discovery)."""
        self.refresh()
        alive = []
        for pid, seen in list(self._seen.items()):
            try:
                if seen.process.status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
            except psutil.NoSuchProcess:
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
            with contextlib.suppress(psutil.Error, OSError):
                if not seen.process.is_running():  # also guards against a reused pid
                    continue
                if IS_POSIX:
                    # The killpg above reached the root's group; signalling twice could hit a
                    # handler that is already exiting and turn a clean exit into a signal death.
                    if os.getpgid(pid) != self.root_pid:
                        os.kill(pid, signum)
                else:
                    seen.process.terminate()

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
    import platform

    uname = os.uname() if hasattr(os, "uname") else None
    return {
        "name": platform.node(),
        # Not platform.platform(): it runs `uname -p` in a subprocess.
        "platform": f"{uname.sysname}-{uname.release}-{uname.machine}" if uname else sys.platform,
        "cpus": os.cpu_count(),
        "memory_bytes": psutil.virtual_memory().total,
        "python": platform.python_version(),
    }
