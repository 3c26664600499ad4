"""The pipeline: what the Snakemake rules call. Workflow layout, run config, git cache, runners,
parameters and the simulation job. May import the warden and the core, never results or the CLI."""
