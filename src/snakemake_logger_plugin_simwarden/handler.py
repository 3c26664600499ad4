"""The log handler Snakemake runs for ``--logger simwarden``.

Snakemake hands every log record to plugin handlers from one listener thread in its main
process (never in the job processes). This handler writes to Snakemake's stream (stderr; stdout
for a dry run) in place of Snakemake's own stream handler, which Snakemake leaves out when a
plugin writes to the stream. A daemon thread redraws the terminal frame, or writes the plain
status lines, every interval; :meth:`LogHandler.close` (called when Snakemake shuts its logging
down, before the end summary of ``show_at_exit``) stops it and leaves the last frame in place.
Nothing here raises into Snakemake: a record that cannot be shown goes to
``logging.Handler.handleError``, a samples file that cannot be read shows ``?``.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import TextIO

from snakemake_interface_logger_plugins.base import LogHandlerBase

from snakemake_logger_plugin_simwarden.screen import PlainScreen, TerminalScreen, terminal_size
from snakemake_logger_plugin_simwarden.settings import LogHandlerSettings
from snakemake_logger_plugin_simwarden.view import LiveView


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal that takes escape codes (not ``TERM=dumb``)."""
    isatty = getattr(stream, "isatty", None)
    return bool(callable(isatty) and isatty()) and os.environ.get("TERM") != "dumb"


class LogHandler(LogHandlerBase):
    """The live view: jobs done and in total, each running simulation's progress, memory and
    time, failures with their cause as they happen. Settings: :class:`LogHandlerSettings`."""

    def __post_init__(self) -> None:
        settings = self.settings
        if not isinstance(settings, LogHandlerSettings):
            settings = LogHandlerSettings()
        # Where Snakemake's own stream handler would write: stdout for a dry run, else stderr.
        stdout = getattr(self.common_settings, "stdout", False)
        self.stream: TextIO = sys.stdout if stdout else sys.stderr
        self.dryrun = bool(getattr(self.common_settings, "dryrun", False))
        self.tty = not settings.plain and is_terminal(self.stream)
        self.interval = settings.interval_for(self.tty)
        self.view = LiveView(self.format)
        self.screen: TerminalScreen | PlainScreen = (
            TerminalScreen(self.stream, self._size) if self.tty else PlainScreen(self.stream)
        )
        self.stopping = threading.Event()
        self.ticker: threading.Thread | None = None

    # Snakemake's questions to a plugin.
    @property
    def writes_to_stream(self) -> bool:
        """True: Snakemake then adds no stream handler of its own."""
        return True

    @property
    def writes_to_file(self) -> bool:
        return False

    @property
    def has_filter(self) -> bool:
        """False: Snakemake's filter (``--quiet``, ``--printshellcmds``) applies."""
        return False

    @property
    def has_formatter(self) -> bool:
        """False: Snakemake's formatter words the records passed on as they are."""
        return False

    @property
    def needs_rulegraph(self) -> bool:
        return False

    def emit(self, record: logging.LogRecord) -> None:
        """Show ``record``: its lines above the frame, the frame redrawn (on a terminal). A dry
        run is passed on as Snakemake would write it."""
        try:
            if self.dryrun:
                self.screen.update(self.view.passed_on(record))
                return
            lines = self.view.handle(record)
            self.screen.update(lines, self._frame())
            if self.ticker is None and self.view.board.first_start is not None:
                self.ticker = threading.Thread(
                    target=self._tick_every_interval, name="simwarden-live-view", daemon=True
                )
                self.ticker.start()
        except Exception:  # never into Snakemake: logging's own handler of handler errors
            self.handleError(record)

    def tick(self) -> None:
        """One interval's update: read each running simulation's last sample; redraw the frame
        (terminal) or write the status lines (plain). Nothing once closing."""
        lock = self._lock()
        # Not a plain `with`: logging.shutdown() calls close() holding this lock, and close()
        # waits for this thread.
        while not lock.acquire(timeout=0.1):
            if self.stopping.is_set():
                return
        try:
            if not self.stopping.is_set():
                self.view.refresh()
                self.screen.update([] if self.tty else self.view.status_lines(), self._frame())
        finally:
            lock.release()

    def close(self) -> None:
        """Stop the redraws and leave the last frame (terminal) or jobs line (plain) as the
        plugin's last output. Idempotent (Snakemake and logging's shutdown both call it)."""
        if not self.stopping.is_set():
            self.stopping.set()
            if self.ticker is not None:
                self.ticker.join()
            if not self.dryrun:
                self._finish()
        super().close()

    def _lock(self) -> threading.RLock:
        lock = self.lock
        assert lock is not None  # logging.Handler.__init__ made it
        return lock

    def _finish(self) -> None:
        with self._lock():
            self.view.board.ended = True
            try:
                self.view.refresh()
                self.screen.update([] if self.tty else self.view.last_line(), self._frame())
                self.screen.finish()
            except (OSError, ValueError):  # the stream is gone (a closed pipe): nothing to say
                pass

    def _size(self) -> tuple[int, int]:
        return terminal_size(self.stream)

    def _frame(self) -> list[str] | None:
        if not self.tty:
            return None
        return self.view.frame(*self._size())

    def _tick_every_interval(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                self.tick()
            except (OSError, ValueError):  # the stream is gone: stop redrawing
                return
