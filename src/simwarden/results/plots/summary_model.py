"""What the summary plot says: the benchmark table's rows normalised (one :class:`SummaryRow` per
run), the title with a count per end reason, which layout fits how many runs, a failed run's
cause cut to fit. Standard library only."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from simwarden.core.errors import UserError
from simwarden.results.plots.common import CATEGORY_COLOURS, CATEGORY_LABELS, category

# Up to this many runs the summary draws two bar panels, one labelled bar per run; above it, one
# scatter of wall time against peak memory (1000 bar labels would be unreadable).
BAR_MAX_RUNS = 60
# A failed run's cause is shown cut to this many characters; in the scatter only when at most
# SCATTER_MAX_CAUSES runs failed (more labels would hide the points).
CAUSE_WIDTH = 48
SCATTER_MAX_CAUSES = 10
RETRY_LABEL = "needed a retry"


@dataclass(frozen=True)
class SummaryRow:
    """One run as the summary draws it (missing values None)."""

    run: str
    category: str
    wall_s: float | None
    peak_mb: float | None
    attempts: int | None = None  # how many attempts the run took (a retry: more than 1)
    cause: str | None = None  # a failed run's one-line cause (the table's ``error`` column)

    @property
    def retried(self) -> bool:
        """The run needed more than one attempt."""
        return (self.attempts or 0) > 1


def short_cause(cause: str, width: int = CAUSE_WIDTH) -> str:
    """``cause`` on one line, cut to ``width`` characters with an ellipsis. The closing
    ``(file:line)`` of an exception's cause is kept whole: the message is cut before it."""
    text = " ".join(cause.split())
    if len(text) <= width:
        return text
    head, paren, where = text.rpartition(" (")
    where = f" ({where}" if paren and where.endswith(")") and len(where) < width // 2 else ""
    if where:
        text = head
    return text[: width - len(where) - 1].rstrip() + "…" + where


def _missing(value: Any) -> bool:
    """None, an empty or blank CSV cell, or pandas' NA/NaT (tables read with pandas)."""
    if isinstance(value, str):
        return not value.strip()
    return value is None or type(value).__name__ in ("NAType", "NaTType")


def _text(value: Any) -> str | None:
    """A non-empty text cell, or None (missing, NaN, empty)."""
    if _missing(value) or isinstance(value, float):
        return None
    return str(value).strip() or None


def _number(value: Any, key: str, run: str) -> float | None:
    """A finite float, or None for a missing value (None, empty cell, NaN, pandas NA/NaT)."""
    try:  # the common case first: 10,000 rows, four numbers each
        number = float(value)
    except (TypeError, ValueError):
        if _missing(value):
            return None
        raise UserError(
            f"run {run!r}: {key} {value!r} is not a number; the benchmark table needs numbers "
            "or empty cells there"
        ) from None
    return number if math.isfinite(number) else None


def summary_rows(rows: Sequence[Mapping[str, Any]] | Any) -> list[SummaryRow]:
    """Normalise the benchmark rows (dicts of CSV text or of values, or a pandas DataFrame),
    sorted by run id; UserError for a row without run or reason, or a cell that should be a
    number and is not. ``attempts`` and ``error`` are optional (tables of older versions lack
    them); empty cells, NaN and infinities are missing values."""
    records: list[Mapping[str, Any]] = (
        cast("Any", rows).to_dict("records") if hasattr(rows, "columns") else list(rows)
    )
    table = []
    for index, row in enumerate(records):
        for key in ("run", "reason"):
            if _missing(row.get(key)):
                raise UserError(
                    f"benchmark row {index}: no {key!r}; rows need run, reason, exit_code, "
                    "wall_s and peak_rss_mb"
                )
        run = str(row["run"])
        code = _number(row.get("exit_code"), "exit_code", run)
        attempts = _number(row.get("attempts"), "attempts", run)
        table.append(
            SummaryRow(
                run=run,
                category=category(row["reason"], int(code) if code is not None else None),
                wall_s=_number(row.get("wall_s"), "wall_s", run),
                peak_mb=_number(row.get("peak_rss_mb"), "peak_rss_mb", run),
                attempts=int(attempts) if attempts is not None else None,
                cause=_text(row.get("error")),
            )
        )
    table.sort(key=lambda r: r.run)
    return table


def summary_layout(runs: int) -> str:
    """``"bars"`` up to :data:`BAR_MAX_RUNS` runs (none included), else ``"scatter"``."""
    return "bars" if runs <= BAR_MAX_RUNS else "scatter"


def summary_title(categories: Iterable[str]) -> str:
    """``5 runs: 4 exited ok, 1 memory`` (categories in legend order); ``no runs`` when empty."""
    counts = Counter(categories)
    total = sum(counts.values())
    if not total:
        return "no runs"
    parts = [
        f"{counts[name]} {CATEGORY_LABELS.get(name, name)}"
        for name in CATEGORY_COLOURS
        if counts[name]
    ]
    return f"{total} run{'s' if total != 1 else ''}: {', '.join(parts)}"
