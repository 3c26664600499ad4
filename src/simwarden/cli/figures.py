"""``simwarden figures``: read the provenance saved in figures, or print the PYTHONPATH that
enables the figure autosave for a script run by hand. The work is done by
:mod:`simwarden.results.figures`."""

from __future__ import annotations

import argparse
import json

from simwarden.cli.parser import Parser
from simwarden.core.errors import EXIT_USER_ERROR, UserError
from simwarden.core.log import say

EPILOG = """\
examples:
  PYTHONPATH=$(simwarden figures --print-pythonpath) python my_sim.py
  simwarden figures --provenance results/figures/r1/png/raster.png

exit codes: 0 done, 125 bad arguments or a FILE without readable provenance (one line each on
stderr; the other files are still printed)
"""


def build_parser() -> Parser:
    """The parser of ``simwarden figures``."""
    parser = Parser(
        prog="simwarden figures",
        description="Autosave of matplotlib figures: enable it for a script, read provenance.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument(
        "--print-pythonpath",
        action="store_true",
        help="print the hook directory followed by $PYTHONPATH: set PYTHONPATH to this and "
        "every Python script started saves its figures (SIMWARDEN_* variables apply)",
    )
    group.add_argument(
        "--provenance",
        nargs="+",
        metavar="FILE",
        help="print the provenance stored in each FILE (.png, .pdf, .svg), one JSON line each",
    )
    return parser


def main(argv: list[str]) -> int:
    """``simwarden figures --print-pythonpath | --provenance FILE...``; returns the exit code:
    0 done, 125 when a FILE holds no readable provenance (each such file is one line on stderr,
    the others are printed). Bad arguments raise UserError (one line, exit 125)."""
    from simwarden.results.figures import hand_pythonpath, read_provenance

    args = build_parser().parse_args(argv)
    if args.print_pythonpath:
        print(hand_pythonpath())
        return 0
    code = 0
    for path in args.provenance:
        try:
            provenance = read_provenance(path)
        except UserError as error:
            say(str(error))
            code = EXIT_USER_ERROR
            continue
        print(json.dumps({"file": path, "provenance": provenance}, sort_keys=True))
    return code
