"""``simwarden status``: every run of the workflow and whether it is up to date, stale, failed...

The work is done by :mod:`simwarden.results.status` (Snakemake is imported only when it runs).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from simwarden.cli.parser import Parser
from simwarden.core.errors import EXIT_CHECK_FAILED


def build_parser() -> Parser:
    """The parser of ``simwarden status``."""
    from simwarden.results.status import STATES  # loaded by status_format's FORMATS anyway
    from simwarden.results.status_format import FORMATS

    states = [state.replace(" ", "-") for state in STATES]  # as a shell writes them

    parser = Parser(
        prog="simwarden status",
        description="Show every run of the workflow: never run, up to date, stale (why), "
        "failed (why: its cause, and where its files are kept), incomplete or running; with "
        "several simulations or commits, a count per state for each.",
        epilog=(
            "The profile defaults to the one the last run of the workflow used (the Command: "
            "line of the newest .snakemake/log/*.snakemake.log), else profiles/std. "
            "--profile none means config/config.yaml alone. A failed run's files are kept in "
            "results/failed/RUN/attempt-N/; a run whose record cannot be read is stale (record), "
            "with the command that redoes it; the runs of a Snakemake that was killed are "
            "incomplete (run snakemake --unlock, then the workflow again)."
        ),
    )
    parser.add_argument(
        "-d",
        "--directory",
        default=".",
        metavar="DIR",
        help="the workflow directory (default: the current one)",
    )
    parser.add_argument(
        "--profile",
        action="append",
        metavar="PROFILE",
        help="the profile the runs are judged against, as given to snakemake --profile; "
        "repeat to stack profiles (default: the last run's, else profiles/std; 'none' for none)",
    )
    parser.add_argument(
        "--simulation",
        metavar="NAME",
        help="only the runs of simulation NAME (a collection entry such as dev: every script "
        "in it); the table then counts its runs per commit",
    )
    parser.add_argument(
        "--state",
        action="append",
        choices=states,
        metavar="STATE",
        help="show only the runs in STATE, one of " + ", ".join(states) + "; repeat for "
        "several (--state failed --state stale); --check still judges every run",
    )
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format")
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 unless every run is up to date, so also when a run failed (for scripts "
        "and CI; agrees with Snakemake's exit status)",
    )
    return parser


def main(argv: list[str]) -> int:
    """``simwarden status [--directory DIR] [--profile P] [--simulation NAME] [--state STATE]
    [--format table|tsv|json] [--check]``;
    returns 1 with ``--check`` when a run is not up to date, else 0. Bad arguments and workflows
    raise UserError (the caller says it in one line and exits 125)."""
    from simwarden.results.status import collect_status
    from simwarden.results.status_format import format_status
    from simwarden.results.status_profile import choose_profile

    args = build_parser().parse_args(argv)
    workdir = Path(args.directory)
    choice = choose_profile(workdir, args.profile)
    statuses = collect_status(workdir, list(choice.profiles) or "none")
    if args.simulation is not None:
        from simwarden.results.status_groups import select_simulation

        statuses = select_simulation(statuses, args.simulation)
    shown = statuses
    if args.state:
        wanted = {state.replace("-", " ") for state in args.state}
        shown = [status for status in statuses if status.state in wanted]
    text = format_status(shown, args.format)
    if args.format == "table":
        text += f"\nprofile: {choice.label} ({choice.source})"
    try:
        print(text)
    except BrokenPipeError:  # simwarden status | head
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if args.check and any(status.state != "up to date" for status in statuses):
        return EXIT_CHECK_FAILED
    return 0
