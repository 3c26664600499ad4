"""The lean entry point of the run_simulation rule:

    python -m simwarden.jobs run_simulation JOB_JSON --mem-mb N --runtime MIN --attempt K

``JOB_JSON`` is :class:`simwarden.pipeline.job_spec.JobArgument`; the options are Snakemake's
resources of this attempt. Runs one attempt under the warden, then draws the run's resource plot
when the attempt is the run's last (success or final failure). Exits with the job's code (0, or a
retryable 137/124 for Snakemake to retry), 125 for a user error (one ``simwarden:`` line), 2 for a
malformed command line (a bug in the rule, not a user's mistake).

Only what a run needs is imported (no argparse, no Snakemake): a short run's job costs its
Python start-up, these imports and the warden.
"""

from __future__ import annotations

import sys

USAGE = (
    "usage: python -m simwarden.jobs run_simulation JOB_JSON --mem-mb N --runtime MIN --attempt K"
)
OPTIONS = {"--mem-mb": int, "--runtime": float, "--attempt": int}
RETRYABLE_EXITS = (124, 137)


def parse(argv: list[str]) -> tuple[str, dict[str, float]]:
    """(JOB_JSON, {option: value}); ValueError saying what is wrong."""
    if len(argv) < 2 or argv[0] != "run_simulation":
        raise ValueError(USAGE)
    spec, rest = argv[1], argv[2:]
    if len(rest) != 2 * len(OPTIONS):
        raise ValueError(USAGE)
    values: dict[str, float] = {}
    for name, text in zip(rest[::2], rest[1::2], strict=True):
        if name not in OPTIONS or name in values:
            raise ValueError(f"{USAGE}\nunexpected option {name!r}")
        try:
            values[name] = OPTIONS[name](text)
        except ValueError:
            raise ValueError(f"{name} {text!r}: expected a number") from None
    return spec, values


def main(argv: list[str] | None = None) -> int:
    """Run one run_simulation job; returns its exit code."""
    try:
        spec, values = parse(sys.argv[1:] if argv is None else argv)
    except ValueError as error:
        print(f"simwarden.jobs: {error}", file=sys.stderr)
        return 2
    import json

    from simwarden.pipeline.job import run_simulation
    from simwarden.pipeline.job_spec import job_from_spec, run_paths
    from simwarden.pipeline.scripting import guarded
    from simwarden.results.figures import autosave_env

    fields = json.loads(spec)
    paths = run_paths(fields["run"])
    with guarded(paths["log"], append=True):
        job = job_from_spec(
            fields,
            mem_mb=int(values["--mem-mb"]),
            runtime_min=values["--runtime"],
            attempt=int(values["--attempt"]),
            figure_env=autosave_env,
        )
        code = run_simulation(job)
        if code not in RETRYABLE_EXITS:
            draw_resource_plot(job.samples, job.record, paths["plot"])
        return code


def draw_resource_plot(samples: str, record: str, out: str) -> None:
    """The run's memory and CPU plot; a plot that cannot be drawn is one line in the log and a
    placeholder saying why, never a failed job (the run's record is what counts)."""
    from simwarden.core.log import say
    from simwarden.results.plots.run import plot_run

    try:
        plot_run(samples, record, out)
    except Exception as error:  # noqa: BLE001 - a plot must never fail the run's job
        from simwarden.results.plots.run import placeholder_plot

        say(f"the resource plot {out} could not be drawn: {type(error).__name__}: {error}")
        placeholder_plot(out, f"no plot: {type(error).__name__}: {error}")


if __name__ == "__main__":
    sys.exit(main())
