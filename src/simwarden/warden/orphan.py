"""The orphan watch: notice when nobody waits for the run any more (``--stop-when-orphaned``).

A Snakemake killed with SIGKILL leaves its jobs running unwatched. The warden notices because its
parent changed (it was re-parented), or, when the parent is a shell that did not ``exec`` its last
command (``bash -c "...; simwarden run ..."``), because the process that started the shell ended.
"""

from __future__ import annotations

import os

from simwarden.warden import procfs
from simwarden.warden.proctree import processes

# typing costs ~10 ms of start-up and is needed only by type checkers here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from simwarden.warden.procfs import Proc

#: Process names taken for a shell that may outlive the process that started it.
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "fish"})


def shell_parent_of(pid: int) -> Proc | None:
    """The process that started ``pid`` (held by pid and start time) when ``pid`` is a shell,
    else None. None too when ``pid`` or its parent is gone or cannot be inspected.
    """
    procs = processes()
    try:
        process = procs.Proc(pid)
        return procs.Proc(process.ppid) if process.name() in SHELLS else None
    except (procfs.ProcessGone, OSError):
        return None


class OrphanWatch:
    """Watches the warden's parent as it is now (call :meth:`ended` once per sample)."""

    def __init__(self) -> None:
        self.parent_pid = os.getppid()
        # Held as a process, so each check is one status read, not a lookup by pid.
        self.shell_parent = shell_parent_of(self.parent_pid)

    def ended(self) -> int | None:
        """The pid of the parent that ended, or, when the parent is a shell, of the process that
        started it (a shell that does not exec its last command outlives a SIGKILLed Snakemake);
        None while both live."""
        if os.getppid() != self.parent_pid:
            return self.parent_pid
        starter = self.shell_parent
        if starter is None:
            return None
        # alive() also tells a reused pid from the original process
        return None if starter.alive() else starter.pid
