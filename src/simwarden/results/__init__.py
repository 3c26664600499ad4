"""What a scientist looks at: figures and their provenance, plots, the benchmark table, compare,
suggest, and the status board. May import the pipeline's layout, the warden's record and the
core; never the CLI."""
