"""Rule validate_params: the parameter sets of runs whose schema is in a checkout this invocation
fetched, validated and with defaults filled, as JSON (the others are validated at parse time). A
refused set is said here, line by line, and its run fails saying it again; the job ends well so
that the other runs go on."""

from simwarden.core.log import say
from simwarden.pipeline.scripting import guarded
from simwarden.pipeline.validation import validate_all

snakemake = snakemake  # noqa: F821, PLW0127 - injected by Snakemake

with guarded(snakemake.log[0]):
    runs = snakemake.params.runs.text.split()  # run ids have no spaces
    for run, lines in validate_all(snakemake.params.plan, runs).items():
        for line in lines:
            say(f"run {run}: {line}")
