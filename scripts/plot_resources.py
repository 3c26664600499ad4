"""Rule plot_resources: memory and CPU over time for one run."""

from simwarden.plots import plot_run
from simwarden.scripting import guarded

snakemake = snakemake  # noqa: F821, PLW0127 - injected by Snakemake

with guarded(snakemake.log[0]):
    plot_run(snakemake.input.samples, snakemake.input.record, snakemake.output[0])
