"""Rule build_env: a simulation's own environment, from the shared cache or built."""

from simwarden.pipeline.envs import build_env
from simwarden.pipeline.scripting import guarded

snakemake = snakemake  # noqa: F821, PLW0127 - injected by Snakemake

with guarded(snakemake.log[0]):
    build_env(
        snakemake.input.code,
        snakemake.params.environment,
        snakemake.params.cache_dir,
        snakemake.output[0],
    )
