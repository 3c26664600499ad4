"""Rule check_runs: exit 1 with one line per failed run while any run failed or any parameter
set is refused, else write the ok file."""

import sys
from pathlib import Path

from simwarden.core.log import say
from simwarden.pipeline import layout
from simwarden.pipeline.attempts import failed_runs, refused_and_kept
from simwarden.pipeline.scripting import guarded

snakemake = snakemake  # noqa: F821, PLW0127 - injected by Snakemake

with guarded(snakemake.log[0]):
    runs = list(snakemake.params.runs)
    failed = failed_runs(runs)  # also marks each failed run to be redone by the next invocation
    kept = refused_and_kept(runs)
    for line in failed + kept:
        say(line)
    if failed:
        say(f"{len(failed)} of {len(runs)} runs failed; their files are kept in {layout.FAILED}/")
    if kept:
        say(
            f"{len(kept)} refused parameter set(s) of runs that ran before; fix them (every "
            f"problem is in {layout.PARAMS_ERRORS}) and run again"
        )
    if failed or kept:
        sys.exit(1)
    Path(snakemake.output[0]).write_text(f"every run ended well: {', '.join(runs)}\n")
