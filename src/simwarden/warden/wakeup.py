"""Sleeping between samples: woken early by the command's exit or by a signal to the warden.

:class:`Wakeup` catches the warden's own SIGINT/SIGTERM/SIGHUP into the policy state (so the
tree is stopped, reason ``signal``, exit 128+N, not orphaned) and waits on a pidfd of the
command and on the signal wake-up pipe. Stdlib only (on the ``simwarden run`` path).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from simwarden.warden.policy import PolicyState

# The signals that stop the run when the warden itself gets them.
STOP_SIGNAL_NAMES = ("SIGINT", "SIGTERM", "SIGHUP")


def catch_stop_signals(state: PolicyState) -> tuple[int | None, Callable[[], None]]:
    """Record each of :data:`STOP_SIGNAL_NAMES` in ``state`` (the first one and a count) and
    make it wake the loop: returns ``(wake_fd, restore)``.

    ``wake_fd`` is a non-blocking pipe end that becomes readable on each such signal (for
    ``select``); ``restore()`` puts the previous handlers back and closes the pipe. Called from
    a thread other than the main thread (where Python cannot install handlers) it changes
    nothing and returns ``(None, a restore that does nothing)``.
    """
    if threading.current_thread() is not threading.main_thread():
        return None, lambda: None
    reader, writer = os.pipe()
    os.set_blocking(reader, False)
    os.set_blocking(writer, False)
    previous_fd = signal.set_wakeup_fd(writer, warn_on_full_buffer=False)
    signums = [getattr(signal, n) for n in STOP_SIGNAL_NAMES if hasattr(signal, n)]
    previous = {s: signal.getsignal(s) for s in signums}

    def handler(signum: int, frame: object) -> None:
        state.signal_received = state.signal_received or signum
        state.signal_count += 1

    for signum in signums:
        signal.signal(signum, handler)

    def restore() -> None:
        for signum, old in previous.items():
            signal.signal(signum, old)
        signal.set_wakeup_fd(previous_fd)
        os.close(reader)
        os.close(writer)

    return reader, restore


class Wakeup:
    """The stop signals caught (see :func:`catch_stop_signals`) for as long as it is open, and
    :meth:`wait`, which returns early when the watched command exits or such a signal comes.

    Without pidfds (not Linux) or signal handling (not the main thread) :meth:`wait` sleeps the
    whole timeout, or until the signal wakes it.
    """

    def __init__(self, state: PolicyState) -> None:
        self._wake_fd, self._restore = catch_stop_signals(state)
        self._pidfd: int | None = None

    def watch(self, pid: int) -> None:
        """Wake on the exit of process ``pid`` (a child of this process) too."""
        if hasattr(os, "pidfd_open"):
            with contextlib.suppress(OSError):
                self._pidfd = os.pidfd_open(pid)

    def forget_process(self) -> None:
        """Stop watching the process (once it ended its pidfd would wake every wait at once)."""
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None

    def wait(self, timeout: float) -> None:
        """Sleep until ``timeout`` seconds passed, the watched process ended, or a signal came."""
        watch = [fd for fd in (self._pidfd, self._wake_fd) if fd is not None]
        if not watch or os.name != "posix":
            time.sleep(timeout)
            return
        ready, _, _ = select.select(watch, [], [], timeout)
        if self._wake_fd is not None and self._wake_fd in ready:
            with contextlib.suppress(OSError):
                os.read(self._wake_fd, 4096)

    def close(self) -> None:
        """Put the previous signal handlers back and close the descriptors."""
        self.forget_process()
        self._restore()
