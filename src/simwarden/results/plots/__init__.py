"""The pipeline's own plots: one figure per run (memory and CPU over time) and one per workflow.

:func:`plot_run` (:mod:`.run`) reads a run's ``samples.tsv`` and ``record.json`` through
:mod:`simwarden.warden.record`; :func:`plot_summary` (:mod:`.summary`) takes the benchmark
table's rows (a list of dicts or a pandas DataFrame). Both draw on matplotlib's Agg canvas (no
pyplot, never a window) and write the PNG atomically: a temp file in the same directory, fsynced,
then renamed over the output, so a run killed half way never leaves a half PNG. matplotlib is
imported inside the functions, as the CLI must start fast. Colours and saving: :mod:`.common`.
"""

from simwarden.results.plots.run import plot_run
from simwarden.results.plots.summary import plot_summary

__all__ = ["plot_run", "plot_summary"]
