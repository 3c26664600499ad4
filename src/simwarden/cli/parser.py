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
