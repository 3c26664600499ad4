"""The lean entry point of the run_simulation rule:

    python -m simwarden.jobs run_simulation JOB_JSON --mem-mb N --runtime MIN --attempt K

and of the plot_summary rule (:func:`plot_summary_job`):

    python -m simwarden.jobs plot_summary TABLE_CSV OUT_SVG

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
    """Run one run_simulation (or plot_summary) job; returns its exit code."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["plot_summary"]:
        return plot_summary_job(args[1:])
    try:
        spec, values = parse(args)
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


PLOT_SUMMARY_USAGE = "usage: python -m simwarden.jobs plot_summary TABLE_CSV OUT_SVG"


def plot_summary_job(argv: list[str]) -> int:
    """The plot_summary rule's job: the summary SVG of the benchmark CSV (``TABLE_CSV
    OUT_SVG``), stdlib only. A missing or empty table draws "no runs"; a plot that cannot be
    drawn (an unreadable table, a cell that should be a number) is one ``simwarden:`` line on
    stderr (the rule sends it to the job's log) and a placeholder saying why, never a failed
    job. Returns 0, or 2 for a malformed command line (a bug in the rule)."""
    if len(argv) != 2:
        print(f"simwarden.jobs: {PLOT_SUMMARY_USAGE}", file=sys.stderr)
        return 2
    table, out = argv
    from simwarden.results.plots.summary import plot_summary_csv

    try:
        plot_summary_csv(table, out)
    except Exception as error:  # noqa: BLE001 - the summary plot must never fail the workflow
        from simwarden.core.log import say
        from simwarden.results.plots.svg import message_svg, write_svg

        why = f"{type(error).__name__}: {error}"
        say(f"the summary plot {out} could not be drawn: {why}")
        write_svg(message_svg("no plot", f"no plot: {why}"), out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
