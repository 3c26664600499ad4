"""What the run plot and the summary plot share: one colour per way a run can end, and the
legend."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

# typing costs ~5 ms of every run's job, which loads this module; annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MB = 1000**2

# One fixed colour per way a run can end (Okabe-Ito palette: tells apart with colour blindness),
# in legend order. "failed" is reason "exited" with a non-zero exit code.
CATEGORY_COLOURS: dict[str, str] = {
    "exited ok": "#009E73",
    "failed": "#CC79A7",
    "memory": "#D55E00",
    "timeout": "#E69F00",
    "host_memory": "#F0E442",
    "disk": "#0072B2",
    "signal": "#56B4E9",
    "stopped": "#999999",
    "refused": "#666666",
    "other": "#000000",
}
CATEGORY_LABELS: dict[str, str] = {
    "failed": "failed (exit ≠ 0)",
    "refused": "refused (never started)",
}
# Reasons with a colour of their own ("refused": a run that could not start, see
# simwarden.pipeline.job.refuse_run).
STOP_REASONS = ("memory", "timeout", "host_memory", "disk", "signal", "stopped", "refused")


def category(reason: Any, exit_code: Any) -> str:
    """The colour group of a run: ``exited ok`` (reason exited, exit code 0), ``failed`` (exited
    with any other code, also a missing one), a stop reason, or ``other`` for an unknown reason."""
    if reason == "exited":
        return "exited ok" if exit_code == 0 else "failed"
    return reason if reason in STOP_REASONS else "other"


def legend_entries(categories: Iterable[str]) -> list[tuple[str, str]]:
    """(label, colour) for each category present, in the fixed order, with its count of runs."""
    counts = Counter(categories)
    return [
        (f"{CATEGORY_LABELS.get(name, name)} ({counts[name]})", colour)
        for name, colour in CATEGORY_COLOURS.items()
        if counts[name]
    ]
