"""The argument parser every ``simwarden`` subcommand uses, and its value checks."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable

from simwarden.core.errors import UserError

TYPE_CHECKING = False  # typing costs start-up; only type checkers need NoReturn
if TYPE_CHECKING:
    from typing import NoReturn


class Parser(argparse.ArgumentParser):
    """argparse that raises :class:`~simwarden.core.errors.UserError` (one line, exit 125)
    instead of printing the usage and exiting 2. ``--help`` and ``--version`` still print and
    exit 0."""

    def error(self, message: str) -> NoReturn:
        raise UserError(f"{message} (see: {self.prog} --help)")


class RawDescriptionFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's RawDescriptionHelpFormatter, finding the terminal width without importing
    shutil: argparse makes a formatter for every ``add_argument``, and that import is ~3 ms of
    the ``simwarden run`` start-up. The width is $COLUMNS, else the terminal's, else 80."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        if width is None:
            width = terminal_columns() - 2  # as argparse does
        super().__init__(prog, indent_increment, max_help_position, width)


def terminal_columns() -> int:
    """``shutil.get_terminal_size().columns``: $COLUMNS if a positive number, else the width of
    the terminal on stdout, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
        if columns > 0:
            return columns
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 80


def at_least_zero(option: str, accepted: str) -> Callable[[str], float]:
    """An argparse ``type``: a finite number >= 0, else UserError ``OPTION 'x': use ACCEPTED``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value >= 0):
            raise UserError(f"{option} {text!r}: use {accepted}")
        return value

    return parse


def fraction(option: str) -> Callable[[str], float]:
    """An argparse ``type``: a fraction >= 0 (``0.1`` for 10 %), else UserError naming it."""
    return at_least_zero(option, "a fraction >= 0, e.g. 0.1 for 10%")


def add_tolerance_options(parser: argparse.ArgumentParser) -> None:
    """``--rtol`` and ``--atol``: how HDF5 values are judged equal (``bench compare --by commit``
    and ``reproduce`` judge them alike, with the defaults of :mod:`simwarden.results.outputs`)."""
    from simwarden.results.outputs import DEFAULT_ATOL, DEFAULT_RTOL

    parser.add_argument(
        "--rtol",
        type=at_least_zero("--rtol", "a number >= 0, e.g. 1e-05"),
        default=DEFAULT_RTOL,
        help="HDF5 values are equal within |new - old| <= atol + rtol * |old| (default 1e-05)",
    )
    parser.add_argument(
        "--atol",
        type=at_least_zero("--atol", "a number >= 0, e.g. 1e-08"),
        default=DEFAULT_ATOL,
        help="see --rtol (default 1e-08)",
    )
