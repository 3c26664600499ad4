# simwarden: a simulation from a pinned commit to validated parameters, guarded runs and records.
# The main Snakefile every project includes (its own Snakefile: include: main_snakefile(), from
# simwarden.workflow_files). Paths in the rules (script:, report captions, conda:, includes)
# are relative to this directory, inside the installed package; configfile, results/, logs/
# and profiles/ are relative to the project, the directory Snakemake runs in.
from snakemake.utils import min_version

from simwarden.core.errors import UserError
from simwarden.pipeline.config import ConfigFiles, check_config_syntax
from simwarden.pipeline.scripting import exit_user_error
from simwarden.workflow_files import refuse_placeholders

min_version("9.19")

# A YAML error in the user's config: one line naming it and the line (Snakemake's own names
# this file and no line).
try:
    check_config_syntax("config/config.yaml")
except UserError as error:
    exit_user_error(error)


configfile: "config/config.yaml"


# The front page of `snakemake --report report.html`.
report: "../workflow/report/workflow.rst"


# A project from `simwarden init` without --repository/--commit: one line saying what to set.
try:
    refuse_placeholders(
        config,
        ConfigFiles.of_workflow(
            workflow.configfiles, workflow.overwrite_configfiles
        ).source_of,
    )
except UserError as error:
    exit_user_error(error)


# Validation (every error at once, one line each), the run config and the run plan live in
# common.smk; every path and rule name comes from simwarden.pipeline.layout.
include: "common.smk"
include: "fetch_code.smk"
include: "build_env.smk"
include: "validate_params.smk"
include: "run_simulation.smk"
include: "collect_benchmarks.smk"
include: "check_runs.smk"


rule all:
    default_target: True
    # Every run's record is an input of check_runs and collect_benchmarks; asking for it here too
    # would cost 10,000 more inputs to parse and link in a 10,000-run sweep. The resource plots
    # are asked for here: Snakemake redoes a job for a missing output only if a job needs it.
    input:
        expand(layout.RESOURCES_PLOT, run=RUNS),
        layout.TABLE_CSV,
        layout.SUMMARY_PLOT,
        layout.RUNS_OK,


# Which Snakemake holds the lock (simwarden status tells a killed one from a live one), and
# a stop file left from before (every simulation job would end at once) said, not ignored.
onstart:
    write_snakemake_process()
    workflow_started(RUN_CONFIG)


# One table of every run and the command that redoes the failed ones, after Snakemake's own
# last lines; failed runs are marked to be redone (check_runs does too, when it gets to run).
# Whoever run_config.notify names gets one message; a stop file still there is said last.
# (Snakemake runs these handlers in its main process only: not in a dry run, not in a job's.)
# After a success that did or found current every run's job, the table comes from the records
# (what status would say then) without status's second parse of the workflow (~2 s).
onsuccess:
    failed_runs(RUNS)
    workflow_ended(RUN_CONFIG, RUNS)
    show_at_exit(RUNS, sys.argv, settled=runs_settled(workflow.dag, RUNS))


onerror:
    failed_runs(RUNS)
    workflow_ended(RUN_CONFIG, RUNS)
    show_at_exit(RUNS, sys.argv)
