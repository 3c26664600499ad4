"""Where the live view's lines go: plain lines, or a frame kept in place at a terminal's bottom.

A :class:`TerminalScreen` keeps the bottom rows of the terminal for the frame and makes the
rows above it a scrolling region (DECSTBM): every other line, the view's event lines and what
the jobs' own processes write to the terminal (the warden's ``simwarden: ...`` lines) alike,
scrolls inside that region and can never be overwritten by a redraw. The frame is redrawn in
place: cursor saved, each frame row addressed and cleared, cursor restored. When the view ends,
:meth:`TerminalScreen.finish` frees the region and leaves the last frame in place as ordinary
lines, with the cursor below it. A process killed with SIGKILL leaves the region set (``reset``
clears it).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from typing import TextIO

SAVE_CURSOR = "\x1b7"
RESTORE_CURSOR = "\x1b8"
CLEAR_LINE = "\x1b[2K"
CLEAR_BELOW = "\x1b[J"
WHOLE_SCREEN = "\x1b[r"  # no scrolling region (this also moves the cursor home)


def cursor_up(lines: int) -> str:
    """Move the cursor up ``lines`` rows (CUU)."""
    return f"\x1b[{lines}A"


def go_to_row(row: int) -> str:
    """Move the cursor to column 1 of ``row`` (1-based, CUP)."""
    return f"\x1b[{row};1H"


def scrolling_region(top: int, bottom: int) -> str:
    """Scroll only rows ``top``..``bottom`` (1-based, DECSTBM; also moves the cursor home)."""
    return f"\x1b[{top};{bottom}r"


def terminal_size(stream: TextIO) -> tuple[int, int]:
    """Columns and lines of the terminal behind ``stream`` (``COLUMNS``/``LINES`` win, as with
    :func:`shutil.get_terminal_size`); else shutil's answer (80 x 24 without a terminal)."""
    fallback = shutil.get_terminal_size()
    try:
        columns, lines = os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):  # not a file, or not a terminal
        return fallback.columns, fallback.lines

    def given(name: str, measured: int) -> int:
        value = os.environ.get(name, "")
        return int(value) if value.isdigit() and int(value) > 0 else measured

    return given("COLUMNS", columns), given("LINES", lines)


class PlainScreen:
    """Lines as they come, never an escape code; no frame (plain output has its own status
    lines instead)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def update(self, lines: Sequence[str], frame: Sequence[str] | None = None) -> None:
        """Write ``lines``, one each (``frame`` is ignored)."""
        if lines:
            self.stream.write("".join(f"{line}\n" for line in lines))
            self.stream.flush()

    def finish(self) -> None:
        """Nothing to finalise."""


class TerminalScreen:
    """Lines scrolling above a frame kept at the terminal's bottom; ``size()`` gives the
    terminal's (columns, lines) at each update. The frame's lines must fit the width."""

    def __init__(self, stream: TextIO, size: Callable[[], tuple[int, int]]) -> None:
        self.stream = stream
        self.size = size
        self.frame: list[str] = []
        self.height = 0  # the terminal's lines when the rows were kept
        self.kept = 0  # rows kept for the frame at the bottom (0: no region set)

    def update(self, lines: Sequence[str], frame: Sequence[str] | None = None) -> None:
        """Write ``lines`` in the scrolling region and redraw the frame, replaced by ``frame``
        when given. The frame's rows only grow (up to a resize or the end): a shorter frame is
        padded with empty rows. One write, so the frame never flickers."""
        if frame is not None:
            self.frame = list(frame)
        height = self.size()[1]
        text = ""
        if self.frame and (height != self.height or len(self.frame) > self.kept):
            wanted = max(len(self.frame), self.kept if height == self.height else 0)
            text += self._keep(wanted, height)
        text += "".join(f"{line}\n" for line in lines)
        if self.kept:
            top = self.height - self.kept + 1
            rows = self.frame[: self.kept] + [""] * (self.kept - len(self.frame))
            text += SAVE_CURSOR
            text += "".join(go_to_row(top + i) + CLEAR_LINE + row for i, row in enumerate(rows))
            text += RESTORE_CURSOR
        self._write(text)

    def finish(self) -> None:
        """Free the region and leave the last frame in place as ordinary lines, the cursor
        below it: later output (Snakemake's last lines, the end summary) follows the frame."""
        if not self.kept:
            return
        text = SAVE_CURSOR + WHOLE_SCREEN + RESTORE_CURSOR
        text += "".join(f"{CLEAR_LINE}{line}\n" for line in self.frame) + CLEAR_BELOW
        self.kept = self.height = 0
        self._write(text)

    def _keep(self, rows: int, height: int) -> str:
        """Keep ``rows`` bottom rows of a terminal of ``height`` lines for the frame (clearing
        the rows kept before): make room below the cursor by scrolling the screen, then scroll
        only the rows above them."""
        rows = min(rows, max(1, height - 1))
        text = ""
        if self.kept:
            old = range(self.height - self.kept + 1, self.height + 1)
            text += SAVE_CURSOR + "".join(go_to_row(row) + CLEAR_LINE for row in old)
            text += WHOLE_SCREEN + RESTORE_CURSOR
        # The cursor is at the start of an empty line: newlines move it down (scrolling the
        # screen when it reaches the bottom), then it goes back up, just above the kept rows.
        text += "\n" * rows + cursor_up(rows)
        text += SAVE_CURSOR + scrolling_region(1, height - rows) + RESTORE_CURSOR
        self.height, self.kept = height, rows
        return text

    def _write(self, text: str) -> None:
        if text:
            self.stream.write(text)
            self.stream.flush()
