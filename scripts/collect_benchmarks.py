"""Rule collect_benchmarks: one table of every run, as CSV, HDF5 and an HTML view, and the
report's page of failed runs."""

from pathlib import Path

from simwarden.core.log import say
from simwarden.pipeline.scripting import guarded
from simwarden.results.failures import write_failures_html
from simwarden.results.table import collect, write_html, write_table

snakemake = snakemake  # noqa: F821, PLW0127 - injected by Snakemake

with guarded(snakemake.log[0]):
    # A missing or corrupt file is one warning line (here and in the log); the table is still made.
    table = collect(snakemake.params.runs, warn=say)
    write_table(table, snakemake.output.csv, snakemake.output.h5)
    write_html(table, snakemake.output.html)
    write_failures_html(snakemake.params.runs, Path("."), Path(snakemake.output.failures))
