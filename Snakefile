# simwarden: a simulation from a pinned commit to validated parameters, guarded runs and records.
# Wiring only: the stages live in rules/, their logic in the simwarden package.
from snakemake.utils import min_version

min_version("9.19")


configfile: "config/config.yaml"


# The front page of `snakemake --report report.html`.
report: "workflow/report/workflow.rst"


# Validation (every error at once, one line each), the run config and the run plan live in
# common.smk; every path and rule name comes from simwarden.pipeline.layout.
include: "rules/common.smk"
include: "rules/fetch_code.smk"
include: "rules/validate_params.smk"
include: "rules/run_simulation.smk"
include: "rules/plot_resources.smk"
include: "rules/collect_benchmarks.smk"


rule all:
    default_target: True
    input:
        expand(layout.RECORD, run=RUNS),
        expand(layout.RESOURCES_PLOT, run=RUNS),
        layout.TABLE_CSV,
        layout.SUMMARY_PLOT,
