"""Rule collect_benchmarks: one table of every run, as CSV, HDF5 and an HTML view."""

from simwarden.bench import collect, write_html, write_table
from simwarden.scripting import guarded

snakemake = snakemake  # noqa: F821, PLW0127 - injected by Snakemake

with guarded(snakemake.log[0]):
    table = collect(snakemake.params.runs)
    write_table(table, snakemake.output.csv, snakemake.output.h5)
    write_html(table, snakemake.output.html)
