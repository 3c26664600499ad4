"""Rule validate_params: one parameter set, validated and with defaults filled, as JSON."""

from simwarden.pipeline.scripting import guarded
from simwarden.pipeline.steps import validate_params

snakemake = snakemake  # noqa: F821, PLW0127 - injected by Snakemake

with guarded(snakemake.log[0]):
    param_files = list(snakemake.input.params)  # none for a script without param sets
    validate_params(
        param_files[0] if param_files else None,
        snakemake.params.overrides,
        snakemake.params.schema,
        snakemake.input.code,
        snakemake.output[0],
    )
