"""Rule fetch_code: one repository at one commit, from the shared cache."""

from simwarden.pipeline.scripting import guarded
from simwarden.pipeline.steps import fetch_code

snakemake = snakemake  # noqa: F821, PLW0127 - injected by Snakemake

with guarded(snakemake.log[0]):
    fetch_code(
        snakemake.params.url,
        snakemake.params.ref,
        snakemake.params.cache_dir,
        snakemake.output[0],
        simulations=snakemake.params.checkout.simulations,
    )
