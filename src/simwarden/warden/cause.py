"""Why a command failed, in its own words: its uncaught exception and its last stderr lines.

- :class:`ErrorFile`: a private temporary directory per run (it also holds the run's
  :class:`~simwarden.warden.progress.ProgressFile`) and the path that
  SIMWARDEN_ERROR_FILE names in the command's environment. simwarden's start-up hook (on the
  PYTHONPATH of a Python simulation, see ``simwarden.results.figures``) writes the uncaught
  exception there as JSON; after reaping, :meth:`ErrorFile.read` turns it into a
  :class:`~simwarden.warden.record.RunError`. The directory is removed when the run ends.
- :class:`StderrTail`: the last :data:`~simwarden.warden.record.STDERR_TAIL_LINES` non-blank lines
  the command wrote to stderr, fed by the output pump, for the record's ``stderr_tail``.

Stdlib only (this module is on the ``simwarden run`` path).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from simwarden.warden.record import RunError

# The variable naming the error file; the stdlib-only hook spells it too (a test keeps them equal).
ENV_ERROR_FILE = "SIMWARDEN_ERROR_FILE"
# A stderr line longer than this many characters is cut, ending with "…".
LINE_CHARS = 500
# An error file larger than this is not a report the hook wrote.
ERROR_FILE_MAX_BYTES = 1_000_000
_LINE_BYTES = 4 * LINE_CHARS  # enough bytes for LINE_CHARS characters of UTF-8
_PENDING_MAX = 65536  # bytes kept of a line that has not ended yet


class ErrorFileProblem(ValueError):
    """An error file that is not a report the hook wrote (corrupt, half-written, wrong shape)."""


class ErrorFile:
    """The file a run's uncaught exception is written to, in a directory only this user can use.

    ``path`` is None when no temporary directory could be made (the run goes on without it).
    """

    def __init__(self) -> None:
        self.directory = _private_directory()
        self.path = os.path.join(self.directory, "error.json") if self.directory else None

    def environment(self, base: Mapping[str, str] | None) -> dict[str, str]:
        """``base`` (None: this process's environment) with SIMWARDEN_ERROR_FILE set to
        :attr:`path` (removed when there is none)."""
        return with_path(base, ENV_ERROR_FILE, self.path)

    def read(self) -> RunError | None:
        """The error the command reported, None when it reported none.

        Raises :class:`ErrorFileProblem` (its message names the file) when the file is there but
        is not a complete report: not JSON, cut short, too large, or not an object with a
        ``type`` text and text (or null) ``message``, ``where`` and ``traceback``.
        """
        if self.path is None:
            return None
        try:
            with open(self.path, "rb") as handle:
                raw = handle.read(ERROR_FILE_MAX_BYTES + 1)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise ErrorFileProblem(f"error file {self.path!r} cannot be read: {error}") from None
        return parse_error_report(raw, self.path)

    def remove(self) -> None:
        """Remove the directory and what is in it; nothing if it is gone already."""
        if self.directory:
            _remove_tree(self.directory)


def with_path(base: Mapping[str, str] | None, name: str, path: str | None) -> dict[str, str]:
    """A copy of ``base`` (None: this process's environment) with the variable ``name`` set to
    ``path``; without ``name`` when ``path`` is None (an outer run's file is not this run's)."""
    env = dict(os.environ if base is None else base)
    if path:
        env[name] = path
    else:
        env.pop(name, None)
    return env


def parse_error_report(raw: bytes, source: str) -> RunError:
    """The :class:`RunError` in ``raw`` (the hook's JSON); :class:`ErrorFileProblem` naming
    ``source`` when it is not a complete report."""
    where = f"error file {source!r}"
    if len(raw) > ERROR_FILE_MAX_BYTES:
        raise ErrorFileProblem(f"{where} is over {ERROR_FILE_MAX_BYTES} bytes: not a report")
    import json  # only when the command wrote an error report

    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ErrorFileProblem(f"{where} is not complete JSON ({error})") from None
    if not isinstance(data, dict):
        raise ErrorFileProblem(f"{where} holds {type(data).__name__}, not an object")
    if not isinstance(data.get("type"), str) or not data["type"]:
        raise ErrorFileProblem(f"{where} has no exception type")
    for key in ("message", "where", "traceback"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise ErrorFileProblem(f"{where} has a {key} that is not text: {data[key]!r}")
    from simwarden.warden.record import RunError

    return RunError(
        type=data["type"],
        message=data.get("message"),
        where=data.get("where"),
        traceback=data.get("traceback"),
    )


def _remove_tree(directory: str) -> None:
    """Remove ``directory`` and what is in it, ignoring errors: its files one by one (all it
    normally holds), shutil.rmtree (an import the start-up path skips) only for subdirectories."""
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    raise IsADirectoryError(entry.path)
                os.unlink(entry.path)
        os.rmdir(directory)
    except FileNotFoundError:
        return
    except OSError:
        import shutil

        shutil.rmtree(directory, ignore_errors=True)


def _private_directory() -> str | None:
    """A new directory with mode 0700 under $TMPDIR (else /tmp, /var/tmp), or None."""
    roots = [os.environ.get("TMPDIR"), "/tmp", "/var/tmp"]
    for root in filter(None, roots):
        for _ in range(5):
            path = os.path.join(root, f"simwarden-{os.getpid()}-{time.monotonic_ns()}")
            try:
                os.mkdir(path, 0o700)
            except FileExistsError:
                continue
            except OSError:
                break
            return path
    return None


class StderrTail:
    """The last ``lines`` non-blank lines written to a stream, fed chunk by chunk (thread-safe).

    Bytes are decoded as UTF-8 with ``errors="replace"``; a line shows what a terminal would
    (the text after its last carriage return), without colour codes; a line longer than
    :data:`LINE_CHARS` characters is cut and ends with ``…``. An unfinished last line counts
    once the stream ends (an empty chunk). A line starting with ``skip`` (when not empty: the
    progress reports' prefix) is not kept: it says how far the run got, not why it failed.
    """

    def __init__(self, lines: int | None = None, skip: bytes = b"") -> None:
        """``lines`` None: the record's :data:`~simwarden.warden.record.STDERR_TAIL_LINES`."""
        if lines is None:
            # The record module loads after the command starts, not on the start-up path.
            from simwarden.warden.record import STDERR_TAIL_LINES as lines
        self._skip = skip
        self._lines: deque[bytes] = deque(maxlen=lines)
        self._pending = bytearray()
        self._lock = threading.Lock()

    def feed(self, chunk: bytes) -> None:
        """Take the next ``chunk`` of the stream; ``b""`` means it ended."""
        with self._lock:
            if not chunk:
                self._keep(bytes(self._pending))
                self._pending.clear()
                return
            parts = chunk.split(b"\n")
            if len(parts) > 1:
                self._keep(bytes(self._pending) + parts[0])
                self._pending.clear()
                for part in parts[1:-1]:
                    self._keep(part)
            self._pending += parts[-1]
            if len(self._pending) > _PENDING_MAX:
                cut = self._pending.rfind(b"\r", 0, len(self._pending) - 1)
                if cut >= 0:
                    del self._pending[: cut + 1]
                del self._pending[_PENDING_MAX // 2 :]

    def _keep(self, line: bytes) -> None:
        line = line.rstrip(b"\r")
        line = line[line.rfind(b"\r") + 1 :][:_LINE_BYTES]
        if line.strip() and not (self._skip and line.startswith(self._skip)):
            self._lines.append(line)

    def lines(self) -> list[str]:
        """The kept lines, oldest first, as text."""
        with self._lock:
            kept = list(self._lines)
        return [clean_line(line) for line in kept]


def clean_line(line: bytes) -> str:
    """One stderr line as text: decoded with replacement, colour codes removed, trailing blanks
    dropped, cut to :data:`LINE_CHARS` characters (ending with ``…``)."""
    import re

    text = re.sub(r"\x1b\[[0-?]*[ -/]*[@-~]", "", line.decode("utf-8", errors="replace"))
    text = text.rstrip()
    return text if len(text) <= LINE_CHARS else text[: LINE_CHARS - 1] + "…"
