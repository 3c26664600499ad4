"""One voice: every line simwarden writes for a person reads ``simwarden: <message>``.

The ``simwarden`` logger (``logging.getLogger("simwarden")``) carries that format to stderr by
default. A rule script adds the job's log file with :func:`log_to_file`. Nothing here configures
the root logger, so a program that imports simwarden keeps its own logging as it was.
"""

from __future__ import annotations

import logging
import sys

from simwarden.core.errors import EXIT_USER_ERROR, UserError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

PREFIX = "simwarden: "
_FORMAT = PREFIX + "%(message)s"


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (pytest and Snakemake swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def get_logger() -> logging.Logger:
    """The ``simwarden`` logger: one ``simwarden: ...`` line per message, to stderr.

    Idempotent: the handler is added once per process. Messages at INFO and above are shown.
    """
    logger = logging.getLogger("simwarden")
    if not any(isinstance(handler, _CurrentStderr) for handler in logger.handlers):
        handler = _CurrentStderr()
        handler.setFormatter(logging.Formatter(_FORMAT))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


def log_to_file(path: str) -> logging.FileHandler:
    """Also write the logger's lines to ``path`` (appending); returns the handler to remove."""
    handler = logging.FileHandler(path, mode="a", encoding="utf-8")
    handler.setFormatter(logging.Formatter(_FORMAT))
    get_logger().addHandler(handler)
    return handler


def say(message: str) -> None:
    """One ``simwarden: <message>`` line (stderr and any file added by :func:`log_to_file`)."""
    get_logger().info(message)


def fail(error: UserError | str) -> int:
    """Say ``error`` in one line and return :data:`EXIT_USER_ERROR` for the caller to exit with."""
    say(str(error))
    return EXIT_USER_ERROR
