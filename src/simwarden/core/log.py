"""One voice: every line simwarden writes for a person reads ``simwarden: <message>``.

The ``simwarden`` logger (``logging.getLogger("simwarden")``) carries that format to stderr
(whatever ``sys.stderr`` is at the time of the message). A rule script adds the job's log file
with :func:`log_to_file`. Nothing here configures the root logger, so a program that imports
simwarden keeps its own logging as it was. ``logging`` is imported on first use: it costs ~14 ms,
and the ``simwarden run`` start-up path must stay light.
"""

from __future__ import annotations

from simwarden.core.errors import EXIT_USER_ERROR, UserError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging

PREFIX = "simwarden: "
LOGGER_NAME = "simwarden"


def _formatter() -> logging.Formatter:
    """Prefixes every line of a message, so a multi-line error stays in the one voice."""
    import logging

    class EveryLine(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return "\n".join(PREFIX + line for line in super().format(record).splitlines())

    return EveryLine("%(message)s")


def get_logger() -> logging.Logger:
    """The ``simwarden`` logger: one ``simwarden: ...`` line per message, to stderr.

    Idempotent: the stderr handler is added once per process. INFO and above are shown.
    """
    import logging
    import sys

    logger = logging.getLogger(LOGGER_NAME)
    if not any(getattr(handler, "simwarden_stderr", False) for handler in logger.handlers):

        class CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
            """Writes to the ``sys.stderr`` of the moment (pytest and Snakemake swap it)."""

            simwarden_stderr = True

            def emit(self, record: logging.LogRecord) -> None:
                # Not setStream(): it flushes the previous stream, which may be closed by now.
                self.stream = sys.stderr
                super().emit(record)

        handler = CurrentStderr(sys.stderr)
        handler.setFormatter(_formatter())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


def log_to_file(path: str) -> logging.Handler:
    """Also write the logger's lines to ``path`` (appending); returns the handler to remove."""
    import logging

    handler = logging.FileHandler(path, mode="a", encoding="utf-8")
    handler.setFormatter(_formatter())
    get_logger().addHandler(handler)
    return handler


def say(message: str) -> None:
    """One ``simwarden: <message>`` line (stderr and any file added by :func:`log_to_file`)."""
    get_logger().info(message)


def fail(error: UserError | str) -> int:
    """Say ``error`` in one line and return the exit code for the caller to exit with.

    :data:`EXIT_USER_ERROR` (125), unless the error carries its own ``exit_code`` (a command that
    cannot be started: 126 not executable, 127 not found, as in a shell).
    """
    say(str(error))
    code = getattr(error, "exit_code", None)
    return code if isinstance(code, int) else EXIT_USER_ERROR
