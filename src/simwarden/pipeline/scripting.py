"""What every rule script shares: user errors become one line in the job's log, no traceback."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from simwarden.core.errors import UserError


@contextlib.contextmanager
def guarded(log: str, *, append: bool = False) -> Iterator[None]:
    """Run the body; a UserError is written to ``log`` and stderr as one line, then exit 1."""
    if not append:
        open(log, "w").close()  # noqa: SIM115 - start the job's log afresh
    try:
        yield
    except UserError as error:
        say(log, str(error))
        sys.exit(1)


def say(log: str, message: str) -> None:
    """One ``simwarden: ...`` line to stderr (Snakemake's output) and to the job's log."""
    line = f"simwarden: {message}\n"
    sys.stderr.write(line)
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(line)
