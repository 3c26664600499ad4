"""How far a run got, as the simulation reports it: parse, track, estimate, stall.

The convention (docs/progress.md): a line ``SIMWARDEN_PROGRESS 310/400`` or
``SIMWARDEN_PROGRESS 42%`` on the command's stdout or stderr (the prefix starts the line; text
after the value is ignored), or the same value text written to the file named by
``SIMWARDEN_PROGRESS_FILE`` (:data:`PROGRESS_FILE_ENV`).

- :func:`parse_value` / :func:`parse_line`: a report as a fraction 0..1 (:class:`MalformedProgress`
  for a bad value);
- :class:`ProgressScanner`: finds progress lines in an output stream, chunk by chunk, cheaply;
- :class:`ProgressTracker`: the latest value, when it last rose (the stall clock), the ETA
  (:func:`estimate_eta`);
- :class:`ProgressFile`: the per-run file, read only when it changed;
- :class:`RunProgress`: all of the above for one run; a malformed report is said once, ignored.

Stdlib only (this module is on the ``simwarden run`` path).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import threading

from simwarden.warden.cause import with_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

PROGRESS_PREFIX = "SIMWARDEN_PROGRESS"
PROGRESS_FILE_ENV = "SIMWARDEN_PROGRESS_FILE"
# What the malformed-report line says is accepted.
EXPECTED = "expected DONE/TOTAL or PERCENT%"
# A report quoted in a message is cut to this many characters (ending with "…").
QUOTE_CHARS = 60
# A line that starts like a progress line is kept across chunks up to this many bytes; a longer
# one is not a progress report (and is never buffered without bound).
LINE_MAX_BYTES = 4096
# How much of the progress file is read: a report is a few bytes.
FILE_MAX_BYTES = 4096

_PREFIX_BYTES = PROGRESS_PREFIX.encode()
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_FRACTION = re.compile(rf"({_NUMBER})/({_NUMBER})")
_PERCENT = re.compile(rf"({_NUMBER})%")


class MalformedProgress(ValueError):
    """A progress report whose value is not ``DONE/TOTAL`` or ``PERCENT%`` within range."""


def parse_value(text: str) -> float:
    """The fraction 0..1 that ``text`` (``310/400`` or ``42%``, blanks around it ignored) reports.

    ``DONE/TOTAL`` needs finite numbers with 0 <= DONE <= TOTAL and TOTAL > 0; ``PERCENT%`` a
    finite number 0..100. Numbers are plain decimals (``3``, ``2.5``, ``.5``, ``1e6``): no sign,
    no ``nan``/``inf``. Anything else raises :class:`MalformedProgress`.
    """
    value = text.strip()
    fraction = _FRACTION.fullmatch(value)
    if fraction is not None:
        done, total = float(fraction[1]), float(fraction[2])
        if math.isfinite(done) and math.isfinite(total) and total > 0 and done <= total:
            return done / total
    percent = _PERCENT.fullmatch(value)
    if percent is not None:
        number = float(percent[1])
        if number <= 100:
            return number / 100
    raise MalformedProgress(f"{value!r}: {EXPECTED}")


def parse_line(line: str) -> float | None:
    """The fraction a progress line reports; None when ``line`` is not a progress line.

    A progress line starts with :data:`PROGRESS_PREFIX` followed by blanks and the value; text
    after the value is ignored, a trailing ``\\r`` too. ``SIMWARDEN_PROGRESS_FILE=...`` or a line
    with the prefix further in is not a progress line (None). The prefix with a bad value or no
    value raises :class:`MalformedProgress`.
    """
    if not line.startswith(PROGRESS_PREFIX):
        return None
    rest = line[len(PROGRESS_PREFIX) :]
    if rest and not rest[0].isspace():
        return None
    words = rest.split(None, 1)
    if not words:
        raise MalformedProgress(f"no value: {EXPECTED}")
    return parse_value(words[0])


def estimate_eta(first: tuple[float, float], last: tuple[float, float]) -> float | None:
    """Seconds left after ``last``, at the rate progress rose from ``first`` to ``last``.

    Each point is ``(seconds since the run started, fraction)``. ``first == last`` (one report so
    far) measures the rate from the run's start ``(0, 0)``. 0.0 once ``last`` reports 1 (done).
    None when there is no rise to measure: progress did not rise between the points (or fell),
    or the one report is 0 or was made at the start.
    """
    (t0, p0), (t1, p1) = first, last
    if p1 >= 1:
        return 0.0
    if first == last:
        t0, p0 = 0.0, 0.0
    if t1 <= t0 or p1 <= p0:
        return None
    return (1 - p1) * (t1 - t0) / (p1 - p0)


class ProgressTracker:
    """The progress a run reported so far, for the samples, the record and the stall check.

    Thread-safe: the output pumps update it while the warden's loop reads it. Times are
    monotonic; ``started`` is the run's start. Only a rise restarts the stall clock; a value
    below the previous one is kept as the latest (a simulation may restart a phase) but is not
    progress.
    """

    def __init__(self, started: float) -> None:
        self.started = started
        self._lock = threading.Lock()
        self._first: tuple[float, float] | None = None  # (seconds since start, fraction)
        self._last: tuple[float, float] | None = None  # the latest change of the value
        self._rose: float | None = None  # monotonic time the value last rose

    @property
    def value(self) -> float | None:
        """The latest fraction reported, None before the first report."""
        with self._lock:
            return self._last[1] if self._last else None

    @property
    def first_report(self) -> float | None:
        """The monotonic time of the first report, None before it."""
        with self._lock:
            return None if self._first is None else self.started + self._first[0]

    def update(self, value: float, now: float) -> None:
        """Take a report of ``value`` (0..1) made at monotonic time ``now``; a repeated value
        changes nothing (the stall clock keeps running)."""
        point = (now - self.started, value)
        with self._lock:
            if self._last is None:
                self._first = self._last = point
                self._rose = now
            elif value != self._last[1]:
                if value > self._last[1]:
                    self._rose = now
                self._last = point

    def stall_age(self, now: float) -> float | None:
        """Seconds since the value last rose (the first report counts); None before it."""
        with self._lock:
            return None if self._rose is None else now - self._rose

    def eta_s(self, now: float) -> float | None:
        """Seconds left at ``now``: :func:`estimate_eta` counted down since the last change,
        never below 0; None before a report or without a rise to measure."""
        with self._lock:
            first, last = self._first, self._last
        if first is None or last is None:
            return None
        eta = estimate_eta(first, last)
        if eta is None:
            return None
        return max(0.0, eta - (now - self.started - last[0]))


class ProgressScanner:
    """Finds progress lines in one output stream fed chunk by chunk, and calls ``on_line`` with
    each (bytes, no newline).

    Cheap for a busy stream: a chunk without :data:`PROGRESS_PREFIX` is not split into lines,
    and only the start of an unfinished line that may still become a progress line is kept
    (at most :data:`LINE_MAX_BYTES`). An unfinished last line counts when the stream ends
    (``feed(b"")``). Not thread-safe: one scanner per stream.
    """

    def __init__(self, on_line: Callable[[bytes], None]) -> None:
        self._on_line = on_line
        self._line: bytes | None = b""  # the current line's start; None: not a progress line

    def feed(self, chunk: bytes) -> None:
        """Take the next ``chunk`` of the stream; ``b""`` means it ended."""
        if not chunk:
            if self._line:
                self._finish(self._line)
            self._line = b""
            return
        first = chunk.find(b"\n")
        if first < 0:
            self._line = None if self._line is None else self._candidate(self._line + chunk)
            return
        if self._line is not None:
            self._finish(self._line + chunk[:first])
        last = chunk.rfind(b"\n")
        if chunk.find(_PREFIX_BYTES, first + 1, last) >= 0:
            for line in chunk[first + 1 : last].split(b"\n"):
                self._finish(line)
        self._line = self._candidate(chunk[last + 1 :])

    def _finish(self, line: bytes) -> None:
        if line.startswith(_PREFIX_BYTES):
            self._on_line(line)

    @staticmethod
    def _candidate(start: bytes) -> bytes | None:
        """``start`` if the line it begins may still be a progress line, else None."""
        if len(start) > LINE_MAX_BYTES:
            return None
        if len(start) < len(_PREFIX_BYTES):
            return start if _PREFIX_BYTES.startswith(start) else None
        return start if start.startswith(_PREFIX_BYTES) else None


class ProgressFile:
    """The file :data:`PROGRESS_FILE_ENV` names for one run, in the run's private directory
    (the one :class:`~simwarden.warden.cause.ErrorFile` makes; removing it removes this too).

    ``path`` is None without a directory: the command then gets no such variable.
    """

    def __init__(self, directory: str | None) -> None:
        self.path = os.path.join(directory, "progress") if directory else None
        self._seen: tuple[int, int, int] | None = None

    def environment(self, base: Mapping[str, str] | None) -> dict[str, str]:
        """``base`` (None: this process's environment) with :data:`PROGRESS_FILE_ENV` set to
        :attr:`path` (removed when there is none)."""
        return with_path(base, PROGRESS_FILE_ENV, self.path)

    def changed(self) -> str | None:
        """The file's text when it changed (inode, size or mtime) since the last call, else
        None: also when it is missing or unreadable. Cheap: one ``stat`` when unchanged."""
        if self.path is None:
            return None
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        key = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if key == self._seen:
            return None
        self._seen = key
        return self.read()

    def read(self) -> str | None:
        """The file's text (its first :data:`FILE_MAX_BYTES`), None when missing or unreadable."""
        if self.path is None:
            return None
        try:
            with open(self.path, "rb") as handle:
                return handle.read(FILE_MAX_BYTES).decode("utf-8", "replace")
        except OSError:
            return None

    def remove(self) -> None:
        """Remove the file; nothing if it is gone already."""
        if self.path:
            with contextlib.suppress(OSError):
                os.unlink(self.path)


def quote(text: str) -> str:
    """``text`` stripped, cut to :data:`QUOTE_CHARS` characters (ending with ``…``), as repr."""
    text = text.strip()
    return repr(text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1] + "…")


class RunProgress:
    """Everything the warden learns about one run's progress, from its output lines and its
    progress file, into one :class:`ProgressTracker`.

    A malformed report is ignored; the first one of the run is said through ``warn`` (one line);
    a report never fails a run. ``clock`` gives monotonic time (for the pumps' reports).
    """

    def __init__(
        self,
        tracker: ProgressTracker,
        progress_file: ProgressFile,
        warn: Callable[[str], None],
        clock: Callable[[], float],
    ) -> None:
        self.tracker, self.file = tracker, progress_file
        self._warn, self._clock = warn, clock
        self._warned = False
        self._lock = threading.Lock()

    def line(self, raw: bytes) -> None:
        """A line that starts with the prefix (from :class:`ProgressScanner`, any thread)."""
        text = raw.decode("utf-8", "replace").rstrip("\r")
        try:
            value = parse_line(text)
        except MalformedProgress:
            self._malformed(text, "")
            return
        if value is not None:
            self.tracker.update(value, self._clock())

    def poll_file(self, now: float, *, always: bool = False) -> None:
        """Take the progress file's report if it changed (``always``: read it regardless, e.g.
        once more after the command ended). An empty file is no report yet."""
        text = self.file.read() if always else self.file.changed()
        if text is None or not text.strip():
            return
        try:
            value = parse_value(text.split()[0])
        except MalformedProgress:
            self._malformed(text, f" in {PROGRESS_FILE_ENV}")
            return
        self.tracker.update(value, now)

    def _malformed(self, text: str, where: str) -> None:
        with self._lock:
            if self._warned:
                return
            self._warned = True
        self._warn(f"ignored a malformed progress report {quote(text)}{where}: {EXPECTED}")
