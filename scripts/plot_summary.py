"""Rule plot_summary: wall time and peak memory per run, coloured by end reason."""

from simwarden.pipeline.scripting import guarded
from simwarden.results.plots import plot_summary
from simwarden.results.table import read_table

snakemake = snakemake  # noqa: F821, PLW0127 - injected by Snakemake

with guarded(snakemake.log[0]):
    plot_summary(read_table(snakemake.input[0]), snakemake.output[0])
