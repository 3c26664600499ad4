"""The orphan watch: notice when nobody waits for the run any more (``--stop-when-orphaned``).

A Snakemake killed with SIGKILL leaves its jobs running unwatched. The warden notices because its
parent changed (it was re-parented), or, when the parent is a shell that did not ``exec`` its last
command (``bash -c "...; simwarden run ..."``), because the process that started the shell ended.
"""

from __future__ import annotations

import os

# typing costs ~10 ms of start-up and is needed only by type checkers here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import psutil

#: Process names taken for a shell that may outlive the process that started it.
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "fish"})


def shell_parent_of(pid: int) -> psutil.Process | None:
    """The process (psutil) that started ``pid`` when ``pid`` is a shell, else None.

    None too when ``pid`` is gone or cannot be inspected.
    """
    import psutil

    try:
        process = psutil.Process(pid)
        return process.parent() if process.name() in SHELLS else None
    except psutil.Error:
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
        import psutil

        try:  # is_running() also tells a reused pid from the original process
            gone = not starter.is_running() or starter.status() == psutil.STATUS_ZOMBIE
        except psutil.Error:
            gone = True
        return starter.pid if gone else None
