"""Rule plot_resources: memory and CPU over time for one run."""

from simwarden.pipeline.scripting import guarded
from simwarden.results.plots import plot_run

snakemake = snakemake  # noqa: F821, PLW0127 - injected by Snakemake

with guarded(snakemake.log[0]):
    plot_run(snakemake.input.samples, snakemake.input.record, snakemake.output[0])
