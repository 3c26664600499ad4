"""The argument parser every ``simwarden`` subcommand uses, and its value checks."""

from __future__ import annotations

import argparse
import math
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
