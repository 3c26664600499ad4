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
include: "rules/check_runs.smk"


rule all:
    default_target: True
    input:
        expand(layout.RECORD, run=RUNS),
        expand(layout.RESOURCES_PLOT, run=RUNS),
        layout.TABLE_CSV,
        layout.SUMMARY_PLOT,
        layout.RUNS_OK,


# Which Snakemake holds the lock (simwarden status tells a killed one from a live one).
onstart:
    write_snakemake_process()


# One table of every run and the command that redoes the failed ones, after Snakemake's own
# last lines; failed runs are marked to be redone (check_runs does too, when it gets to run).
onsuccess:
    failed_runs(RUNS)
    show_at_exit(RUNS, sys.argv)


onerror:
    failed_runs(RUNS)
    show_at_exit(RUNS, sys.argv)
