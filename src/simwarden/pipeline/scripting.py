"""What every rule script shares: the simwarden logger writes to the job's log, and a user error
becomes ``simwarden: <message>`` lines (stderr and the log), no traceback, exit 125
(:data:`simwarden.core.errors.EXIT_USER_ERROR`, the code of every simwarden entry point)."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator

from simwarden.core.errors import EXIT_USER_ERROR, UserError
from simwarden.core.log import get_logger, log_to_file, say

# typing costs ~5 ms of every run's job, which loads this module; annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn


@contextlib.contextmanager
def guarded(log: str, *, append: bool = False) -> Iterator[None]:
    """Run the body with the logger also writing to ``log`` (started afresh unless ``append``);
    a UserError there is said, one ``simwarden:`` line per line of it, and the script exits 125."""
    if not append:
        open(log, "w").close()  # noqa: SIM115 - start the job's log afresh
    with logging_to(log):
        try:
            yield
        except UserError as error:
            exit_user_error(error)


def exit_user_error(error: UserError | str) -> NoReturn:
    """Say ``error`` (each of its lines as its own ``simwarden:`` line) and exit 125."""
    for line in str(error).splitlines() or [""]:
        say(line)
    sys.exit(EXIT_USER_ERROR)


@contextlib.contextmanager
def logging_to(log: str) -> Iterator[None]:
    """Have the simwarden logger also write to ``log`` for the body, unless it already does
    (a step called inside :func:`guarded` for the same file writes each line once)."""
    target = os.path.abspath(log)
    handlers = get_logger().handlers
    if any(getattr(h, "baseFilename", None) == target for h in handlers):
        yield
        return
    os.makedirs(os.path.dirname(target), exist_ok=True)
    handler = log_to_file(target)
    try:
        yield
    finally:
        _remove(handler)


def _remove(handler: logging.Handler) -> None:
    get_logger().removeHandler(handler)
    handler.close()
