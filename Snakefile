# simwarden: a simulation from a pinned commit to validated parameters, guarded runs and records.
# Wiring only: the stages live in rules/, their logic in the simwarden package.
from snakemake.utils import min_version

min_version("9.19")


configfile: "config/config.yaml"


# The front page of `snakemake --report report.html`.
report: "workflow/report/workflow.rst"


# Validation (every error at once, one line each) and the run plan live in common.smk.
include: "rules/common.smk"
include: "rules/fetch_code.smk"
include: "rules/validate_params.smk"
include: "rules/run_simulation.smk"
include: "rules/plot_resources.smk"
include: "rules/collect_benchmarks.smk"


rule all:
    input:
        expand("results/runs/{run}/record.json", run=RUNS),
        expand("results/plots/{run}.resources.png", run=RUNS),
        "results/benchmarks.csv",
        "results/plots/summary.png",
    default_target: True
