"""The pipeline's own plots: one figure per run (memory and CPU over time) and one per workflow.

Both are SVGs drawn with the standard library alone (no matplotlib, no pandas), so a job draws
one in milliseconds after its Python start-up. :func:`plot_run` (:mod:`.run`) reads a run's
``samples.tsv`` and ``record.json``; the run_simulation job draws it at its end.
:func:`plot_summary` (:mod:`.summary`) takes the benchmark table's rows (dicts or a pandas
DataFrame; :func:`~.summary.plot_summary_csv` reads the CSV with ``csv``); the plot_summary job
draws it through ``python -m simwarden.jobs plot_summary``. Both write atomically: a temp file
in the same directory, fsynced, then renamed over the output, so a run killed half way never
leaves half a plot. Shared: :mod:`.svg` (the writer), :mod:`.axes` (scales, ticks),
:mod:`.common` (a colour per end reason).
"""

from __future__ import annotations

# typing costs ~5 ms of a run's job, which draws its plot; annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from simwarden.results.plots.run import plot_run
    from simwarden.results.plots.summary import plot_summary

__all__ = ["plot_run", "plot_summary"]


def __getattr__(name: str) -> Any:
    """Import each plot on first use: a run's job imports the run plot and not the summary."""
    if name == "plot_run":
        from simwarden.results.plots.run import plot_run

        return plot_run
    if name == "plot_summary":
        from simwarden.results.plots.summary import plot_summary

        return plot_summary
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
