# simwarden: a simulation from a pinned commit to validated parameters, guarded runs and records.
# Wiring only: the stages live in rules/, their logic in the simwarden package.
from snakemake.utils import min_version

min_version("9.19")


configfile: "config/config.yaml"


# Validation (every error at once, one line each) and the run plan live in common.smk.
include: "rules/common.smk"
include: "rules/fetch_code.smk"
include: "rules/validate_params.smk"
include: "rules/run_simulation.smk"


rule all:
    input:
        expand("results/runs/{run}/record.json", run=RUNS),
    default_target: True
