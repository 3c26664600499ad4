"""``simwarden init DIR``: a new project directory holding only what a user edits (config/,
the run-config profiles, a Snakefile of a few lines); the rules stay in the installed package.
The files come from :mod:`simwarden.workflow_files`."""

from __future__ import annotations

import argparse
import os
import shlex
from pathlib import Path

from simwarden.cli.parser import Parser
from simwarden.core.log import say

EPILOG = """\
examples:
  simwarden init mylab --repository https://github.com/lab/model.git --commit v0.3
  simwarden init mylab        # then set repository and commit in mylab/config/config.yaml

exit codes: 0 written, 125 DIR not empty (without --force) or bad arguments (one line on stderr)
"""


def build_parser() -> Parser:
    """The parser of ``simwarden init``."""
    parser = Parser(
        prog="simwarden init",
        description="Write a new simwarden project: config/config.yaml (commented), an example "
        "parameter set, profiles/short|std|full, a Snakefile that includes the installed "
        "package's rules, and a .gitignore.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("directory", metavar="DIR", help="the new project directory")
    parser.add_argument(
        "--repository",
        metavar="URL_OR_PATH",
        help="your simulation's git repository: a URL, a directory or a git bundle (a local "
        "path is written absolute); without it config.yaml says to set it",
    )
    parser.add_argument(
        "--commit",
        metavar="REF",
        help="the commit to run: a full SHA, a tag or a branch; without it config.yaml says "
        "to set it",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="write into a non-empty DIR, replacing the project files it already has",
    )
    return parser


def main(argv: list[str]) -> int:
    """``simwarden init DIR [--repository URL_OR_PATH] [--commit REF] [--force]``: say each
    file written and the next command; a non-empty DIR without --force raises UserError."""
    from simwarden.workflow_files import new_project

    args = build_parser().parse_args(argv)
    directory = Path(args.directory)
    written = new_project(
        directory, repository=args.repository, commit=args.commit, force=args.force
    )
    for path in written:
        say(f"wrote {path}")
    where = shlex.quote(os.fspath(directory))
    run = f"cd {where} && {shlex.quote(snakemake_command())} --profile profiles/short"
    unset = [key for key in ("repository", "commit") if getattr(args, key) is None]
    if unset:
        config = directory / "config" / "config.yaml"
        say(f"next: set {' and '.join(unset)} in {config}, then: {run}")
    else:
        say(f"next: {run}")
    return 0


def snakemake_command() -> str:
    """``snakemake`` when that is the one beside this Python (on PATH), else its full path: in
    a virtual environment that is not activated, plain ``snakemake`` is not found or is another."""
    import shutil
    import sys

    beside = Path(sys.executable).parent / "snakemake"
    found = shutil.which("snakemake")
    if found and Path(found).resolve() == beside.resolve():
        return "snakemake"
    return os.fspath(beside) if beside.exists() else "snakemake"
