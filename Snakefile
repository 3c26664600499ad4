# A simwarden project: this directory holds what you edit (config/, profiles/); the rules come
# from the installed simwarden package, so `pip install -U simwarden` upgrades them.
from simwarden.workflow_files import main_snakefile

# Snakemake's include, keeping the included `rule all` as this project's default target.
workflow.include(main_snakefile(), overwrite_default_target=True)
