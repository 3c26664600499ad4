"""A memory cgroup as a hard backstop: the kernel refuses to let the tree pass the limit.

Used when the kernel offers a memory cgroup this process may write to: the cgroup v1 memory
controller (as root), or a delegated cgroup v2 subtree with the memory controller enabled. The
cgroup is created beneath the warden's own, so it nests inside whatever limits already apply.
Everywhere else :func:`create` returns ``None`` and the warden polls alone.

Edge semantics: the cgroup charges page cache as well as resident memory; the kernel reclaims cache
before it invokes the OOM killer, so only memory the tree cannot give back triggers a kill. When the
limit is hit the kernel kills the largest process in the cgroup (no polite signal first).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path

V1_ROOT = Path("/sys/fs/cgroup/memory")
V2_ROOTS = (Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup"))


class MemoryCgroup:
    """One cgroup made for one run. ``version`` is 1 or 2. (A plain class, not a dataclass: it
    is on the ``simwarden run`` start-up path.)"""

    __slots__ = ("path", "version", "limit_bytes")

    def __init__(self, path: Path, version: int, limit_bytes: int) -> None:
        self.path, self.version, self.limit_bytes = path, version, limit_bytes

    def __repr__(self) -> str:
        return f"MemoryCgroup(path={self.path!r}, version={self.version}, limit={self.limit_bytes})"

    @property
    def procs_file(self) -> Path:
        return self.path / "cgroup.procs"

    def pids(self) -> list[int]:
        """Processes in the cgroup now; empty when the cgroup is gone."""
        try:
            return [int(line) for line in self.procs_file.read_text().split()]
        except OSError:
            return []

    def oom_kills(self) -> int:
        """How many processes the kernel OOM killer has killed in this cgroup (0 if unknown)."""
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        try:
            for line in (self.path / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def peak_bytes(self) -> int | None:
        """The cgroup's peak charge (includes page cache); None where the kernel keeps none."""
        name = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"
        try:
            return int((self.path / name).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def remove(self, timeout_s: float = 2.0) -> bool:
        """Remove the cgroup once it is empty; returns False if it could not be removed in time."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.path.rmdir()
                return True
            except FileNotFoundError:
                return True
            except OSError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.01)


def _own_cgroup_paths() -> dict[str, str]:
    """Map controller (``memory`` or ``""`` for v2) to this process's cgroup path."""
    paths: dict[str, str] = {}
    try:
        text = Path("/proc/self/cgroup").read_text()
    except OSError:
        return paths
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        for controller in controllers.split(","):
            paths[controller] = path
    return paths


def create(limit_bytes: int, name: str) -> MemoryCgroup | None:
    """Create a cgroup limited to ``limit_bytes`` below this process's own, or return None.

    None means no writable memory cgroup (not Linux, not root, no delegation, controller not
    enabled); the caller then relies on polling. Never raises for those reasons.
    """
    if not sys.platform.startswith("linux"):
        return None
    own = _own_cgroup_paths()
    if "memory" in own and V1_ROOT.is_dir():
        group = _try_create(V1_ROOT / own["memory"].lstrip("/") / name, 1, limit_bytes)
        if group:
            return group
    if "" in own:
        for root in V2_ROOTS:
            if (root / "cgroup.controllers").is_file():
                parent = root / own[""].lstrip("/")
                group = _try_create(parent / name, 2, limit_bytes)
                if group:
                    return group
    return None


def _try_create(path: Path, version: int, limit_bytes: int) -> MemoryCgroup | None:
    try:
        if version == 2:
            enabled = (path.parent / "cgroup.subtree_control").read_text().split()
            if "memory" not in enabled:
                return None
        path.mkdir()
    except OSError:
        return None
    group = MemoryCgroup(path, version, limit_bytes)
    try:
        if version == 1:
            (path / "memory.limit_in_bytes").write_text(str(limit_bytes))
            # Also cap swap so "memory" cannot spill into swap; absent without swap accounting.
            with contextlib.suppress(OSError):
                (path / "memory.memsw.limit_in_bytes").write_text(str(limit_bytes))
        else:
            (path / "memory.max").write_text(str(limit_bytes))
            with contextlib.suppress(OSError):
                (path / "memory.swap.max").write_text("0")
    except OSError:
        group.remove(timeout_s=0)
        return None
    return group


def join_fd(group: MemoryCgroup) -> int:
    """Open the cgroup's procs file for the child to write ``0`` into between fork and exec."""
    return os.open(group.procs_file, os.O_WRONLY | os.O_CLOEXEC)
