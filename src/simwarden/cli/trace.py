"""``simwarden trace PATH``: the run a file came from. The work is done by
:mod:`simwarden.results.trace`."""

from __future__ import annotations

import argparse
import json

from simwarden.cli.parser import Parser
from simwarden.core.errors import EXIT_CHECK_FAILED

EPILOG = """\
examples:
  simwarden trace results/runs/small/data/output.h5
  simwarden trace ~/paper/fig2.png            # a figure copied elsewhere: its provenance
  simwarden trace results/figures/small/png/raster.png --format json

exit codes: 0 traced, 1 no run of this workflow made the file, 125 no such file or bad arguments
"""


def build_parser() -> Parser:
    """The parser of ``simwarden trace``."""
    parser = Parser(
        prog="simwarden trace",
        description="Print the run a file came from: run id, repository and commit (and the "
        "hash of uncommitted changes), whether the file is unchanged since the run, the "
        "parameters, the run config, package versions, host and time.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "path",
        metavar="PATH",
        help="a file under results/ (data file, figure, record, samples, a kept attempt's "
        "file) or a figure (.png, .pdf, .svg) copied elsewhere",
    )
    parser.add_argument(
        "-d",
        "--directory",
        default=".",
        metavar="DIR",
        help="the workflow directory (default: the current one)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    return parser


def main(argv: list[str]) -> int:
    """``simwarden trace PATH [--directory DIR] [--format text|json]``; returns 0, or 1 (one
    line on stderr) for a file no run made. A missing file raises UserError (exit 125)."""
    from simwarden.core.log import say
    from simwarden.results.trace import NotTraced, format_trace, trace, trace_dict

    args = build_parser().parse_args(argv)
    try:
        found = trace(args.path, args.directory)
    except NotTraced as error:
        say(str(error))
        return EXIT_CHECK_FAILED
    if args.format == "json":
        print(json.dumps(trace_dict(found), indent=2, sort_keys=True))
    else:
        print(format_trace(found))
    return 0
