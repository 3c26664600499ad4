"""The figure of one run: memory (RSS of the whole tree) and CPU % over time, with the limits,
the peak and why the run ended, from its ``samples.tsv`` and ``record.json``, as an SVG.

Standard library only (no matplotlib), so the run_simulation job draws it at its end in a few
milliseconds. What is said: :mod:`.run_model`; how it is drawn: :mod:`.run_draw`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from simwarden.core.errors import UserError
from simwarden.pipeline import layout
from simwarden.results.attempts import kept_attempts, redo_command, workflow_profiles
from simwarden.results.plots.run_draw import draw_run
from simwarden.results.plots.run_model import (
    Segment,
    attempt_number,
    run_annotations,
    run_name,
)
from simwarden.results.plots.samples import EMPTY, Series, load_samples
from simwarden.results.plots.svg import Svg, clip, write_svg
from simwarden.results.values import Problems, Warn
from simwarden.results.values import load_record as load_tolerant
from simwarden.results.values import warn as values_warn
from simwarden.warden.record import Record

# typing costs ~5 ms of every run's job, which draws this plot; annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "load_record",
    "load_samples",
    "placeholder_plot",
    "plot_run",
    "run_annotations",
    "run_figure",
    "run_name",
]


# -- reading the run's files -----------------------------------------------------------------------
def load_record(path: Path) -> Record:
    """The record for a plot; UserError naming the file when it is missing, unreadable, not JSON,
    has no string ``reason`` (not a simwarden record), or holds a non-number where the plot needs
    one. Keys that are absent or null (old records) are fine."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(
            f"record {str(path)!r} does not exist: run the simulation first or fix the path"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"record {str(path)!r} cannot be read: {error}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise UserError(
            f"record {str(path)!r} is not valid JSON ({error.msg}, line {error.lineno}): "
            f"corrupt or cut short; {redo_hint(path)}"
        ) from None
    _check_plottable(data, path)
    return Record.from_dict(data, source=f"record {str(path)!r}")


def workflow_root(record: Path) -> Path | None:
    """The workflow directory of a record at ``<root>/results/runs/<run>/record.json`` (the
    layout's :data:`~simwarden.pipeline.layout.RECORD`), else None."""
    parts = Path(layout.RECORD).parts  # ("results", "runs", "{run}", "record.json")
    if len(record.parts) < len(parts) or record.name != parts[-1]:
        return None
    if (record.parent.parent.name, record.parent.parent.parent.name) != (parts[1], parts[0]):
        return None
    return record.parents[len(parts) - 1]


def redo_hint(record: Path) -> str:
    """``to redo the run: snakemake --profile P --forcerun results/runs/<run>/record.json``
    (the command ``simwarden status`` gives; the profile of the last logged run) for a record
    in the workflow layout; else ``rerun the simulation to rewrite it``."""
    root = workflow_root(record)
    if root is None:
        return "rerun the simulation to rewrite it"
    relative = Path(*record.parts[-len(Path(layout.RECORD).parts) :]).as_posix()
    return f"to redo the run: {redo_command(relative, workflow_profiles(root))}"


def _check_plottable(data: Any, path: Path) -> None:
    if not isinstance(data, dict) or not isinstance(data.get("reason"), str):
        raise UserError(
            f"record {str(path)!r} has no 'reason': not a simwarden record (written by "
            f"simwarden run --record), or damaged; {redo_hint(path)}"
        )
    for key in ("limits", "context"):
        if not isinstance(data.get(key) or {}, dict):
            raise UserError(
                f"record {str(path)!r}: {key} must be an object or null; corrupt, {redo_hint(path)}"
            )
    numbers = [(key, data.get(key)) for key in ("wall_s", "exit_code", "peak_rss_bytes")]
    numbers += [(f"limits.{key}", value) for key, value in (data.get("limits") or {}).items()]
    for key, value in numbers:
        if key != "limits.disk_path" and not isinstance(value, int | float | None):
            raise UserError(
                f"record {str(path)!r}: {key} {value!r} is not a number; corrupt, {redo_hint(path)}"
            )


# -- earlier attempts ------------------------------------------------------------------------------
def earlier_attempts(record_path: Path, record: Record) -> list[tuple[Path, Path]]:
    """(samples, record) of the kept failed attempts before the run's final one, in attempt
    order, for a record in the workflow layout (``results/runs/<run>/record.json``); [] for
    other records. The final attempt's own kept copy (a failed last attempt is kept too) is
    left out: kept attempts numbered from the final one's number on, or, when the record
    carries no number, one that ended when it ended."""
    root = workflow_root(record_path)
    if root is None:
        return []
    kept = kept_attempts(record_path.parent.name, root)
    final = attempt_number(record, 0) or record.attempts
    found = []
    for attempt in kept:
        if final and attempt.number >= final:
            continue
        if not final:
            other = load_tolerant(attempt.record)
            if other is not None and other.end is not None and other.end == record.end:
                continue
        found.append((attempt.samples, attempt.record))
    return found


def attempt_segments(
    attempts: Sequence[tuple[Path, Path]], final: Record, series: Series, warn: Warn = values_warn
) -> list[Segment]:
    """The earlier ``attempts`` (samples, record) and the final one laid end to end. An
    attempt whose record cannot be read is named in one ``warn`` line and left out; unreadable
    samples give an attempt without samples (also named)."""
    segments: list[Segment] = []
    offset = 0.0
    for index, (samples_path, record_path) in enumerate(attempts, start=1):
        problems = Problems()
        record = load_tolerant(record_path, problems)
        if record is None:
            warn(f"plot: {'; '.join(problems.items)}; attempt {index} left out of the plot")
            continue
        try:
            kept_series = load_samples(samples_path)
        except UserError as error:
            warn(f"plot: {error}; attempt {index} drawn without samples")
            kept_series = EMPTY
        segment = Segment(attempt_number(record, index), record, kept_series, offset)
        segments.append(segment)
        offset += segment.span
    number = attempt_number(final, (segments[-1].number + 1) if segments else 1)
    return [*segments, Segment(number, final, series, offset)]


# -- drawing ---------------------------------------------------------------------------------------
def plot_run(
    samples: str | Path,
    record: str | Path,
    output: str | Path,
    *,
    title: str | None = None,
    attempts: Sequence[tuple[str | Path, str | Path]] | None = None,
) -> Path:
    """Draw one run as an SVG: memory (RSS of the whole tree, MB) and CPU % over time; return
    ``output``.

    The memory panel shows the limit and the warning level when the record has them, the peak
    (marked where the samples reach their maximum, found in every sample however many are
    drawn) and a vertical line at the end, labelled with why the run ended (``memory: stopped
    at 402 MB / limit 400 MB``, ``exited 0``); under the title, a failed run's cause
    (:func:`~.run_model.cause_line`). The CPU panel adds the progress the simulation reported,
    when the samples have it. ``title`` replaces the default (run, short commit, run config,
    attempt from the record's context).

    Every attempt is shown: ``attempts`` are the (samples, record) of the failed attempts before
    this one, in order; None finds them for a record in the workflow layout (the kept attempts
    in ``results/failed/<run>/attempt-<N>/``, see :func:`earlier_attempts`). They are laid end
    to end on the time axis, each with its own memory limit line (``limit 400 MB (attempt
    1)``), end line and label (``attempt 1: memory: stopped at 402 MB / limit 400 MB``); a
    memory stop is marked with an X (``memory stop (attempt 1)``). A kept attempt that cannot
    be read is named in one warning line and left out.

    A samples file that is missing, empty or a header alone still gives a figure, noted "no
    samples"; NaN cells break a curve. A missing or corrupt record raises UserError naming the
    file and, for a record in the workflow layout, the command that redoes the run, before
    anything is written. The SVG has a 1000 x 600 viewBox and is written atomically (parent
    directories created).
    """
    given = None if attempts is None else [(Path(s), Path(r)) for s, r in attempts]
    document, _ = run_figure(Path(samples), Path(record), title, given)
    return write_svg(document, output)


def run_figure(
    samples: Path,
    record: Path,
    title: str | None,
    attempts: Sequence[tuple[Path, Path]] | None = None,
) -> tuple[str, str]:
    """The run figure's SVG document, not yet written, and its title (see :func:`plot_run`)."""
    data = load_record(record)
    series = load_samples(samples)
    earlier = earlier_attempts(record, data) if attempts is None else attempts
    segments = attempt_segments(earlier, data, series)
    labels = run_annotations(data, run_name(record))
    heading = title or labels.title
    return draw_run(segments, labels, heading), heading


def placeholder_plot(output: str | Path, message: str) -> Path:
    """An SVG of the same size saying only ``message`` (why there is no plot), written
    atomically in place of the run's plot, so the job still has its output."""
    svg = Svg("no plot")
    svg.text(500, 300, clip(message, 140), anchor="middle", size=14, class_="placeholder")
    return write_svg(svg.render(), output)
