"""The plugin's options: ``--logger-simwarden-interval`` and ``--logger-simwarden-plain``.

No ``from __future__ import annotations`` here: Snakemake builds each option from the field's
type object, and a string annotation would reach argparse as the type.
"""

from dataclasses import dataclass, field

from snakemake_interface_logger_plugins.settings import LogHandlerSettingsBase

# Seconds between redraws on a terminal, and between status lines without one.
TTY_INTERVAL_S = 2.0
PLAIN_INTERVAL_S = 30.0


@dataclass
class LogHandlerSettings(LogHandlerSettingsBase):
    """Settings of ``snakemake --logger simwarden`` (also settable in a profile, e.g.
    ``logger-simwarden-plain: true``)."""

    interval: float | None = field(
        default=None,
        metadata={
            "help": "Seconds between redraws of the live view on a terminal, and between the "
            f"status lines of each running run without one (default {TTY_INTERVAL_S:g} on a "
            f"terminal, {PLAIN_INTERVAL_S:g} otherwise).",
            "type": float,
            "metavar": "SECONDS",
        },
    )
    plain: bool = field(
        default=False,
        metadata={
            "help": "Plain, throttled lines without escape codes even on a terminal (as in CI, "
            "a file or nohup).",
        },
    )

    def interval_for(self, tty: bool) -> float:
        """The interval in seconds: the option's when given and positive, else the default for
        a terminal (``tty``) or for plain lines."""
        if self.interval is not None and self.interval > 0:
            return self.interval
        return TTY_INTERVAL_S if tty else PLAIN_INTERVAL_S
