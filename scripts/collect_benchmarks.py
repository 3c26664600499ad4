"""Rule collect_benchmarks: one table of every run, as CSV, HDF5 and an HTML view, the report's
page of failed runs, and its page of commits compared (did the results change?)."""

from pathlib import Path

from simwarden.core.log import say
from simwarden.pipeline.scripting import guarded
from simwarden.results.commits import write_commit_pages
from simwarden.results.failures import write_failures_html
from simwarden.results.table import collect, write_html, write_table

snakemake = snakemake  # noqa: F821, PLW0127 - injected by Snakemake

with guarded(snakemake.log[0]):
    # A missing or corrupt file is one warning line (here and in the log); the table is still made.
    table = collect(snakemake.params.runs, warn=say)
    write_table(table, snakemake.output.csv, snakemake.output.h5)
    write_html(table, snakemake.output.html)
    write_failures_html(snakemake.params.runs, Path("."), Path(snakemake.output.failures))
    # Each simulation/param set at two commits: time, memory, outputs compared file by file (a
    # missing data directory is a named difference; a table it cannot compare, one warning).
    write_commit_pages(table, snakemake.output.commits, snakemake.output.commits_csv, warn=say)
