"""``simwarden reproduce RUN | --all``: run a recorded run again from its record and compare.

The rerun is :mod:`simwarden.pipeline.reproduce`, the comparison and the report
:mod:`simwarden.results.reproduce`. ``--all`` runs one ``simwarden reproduce RUN --summary``
process per run, up to ``--cores`` at once: each warden then owns its process (signals, the
child subreaper) as it does under Snakemake.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from simwarden.cli.parser import Parser, add_tolerance_options
from simwarden.core.errors import EXIT_CHECK_FAILED, UserError

EPILOG = """\
examples:
  simwarden reproduce small                  # rerun run 'small' from its record, compare
  simwarden reproduce results/figures/small/png/raster.png   # the run that made this file
  simwarden reproduce small --keep /tmp/re   # keep what the rerun made
  simwarden reproduce --all --cores 4        # every run with a record, one line each

Nothing in the workflow directory is written: the rerun goes to a temporary directory (removed
unless --keep). Outputs are compared with the record's manifest: identical bytes; equal by value
(HDF5 datasets within --rtol/--atol, PNG pixels, a PDF/SVG but for its creation date); or
different, naming the files and datasets. Package versions that differ from the record's are
listed.

exit codes: 0 every output identical or equal, 1 a difference (or, with --all, a run not
reproduced), 125 no record, a record without parameters, a commit that cannot be fetched, or
bad arguments (nothing is run)
"""


def _cores(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise UserError(f"--cores {text!r}: use a whole number >= 1")
    return int(text)


def build_parser() -> Parser:
    """The parser of ``simwarden reproduce``."""
    parser = Parser(
        prog="simwarden reproduce",
        description="Run a recorded run again from its record (same commit from the cache, "
        "same validated parameters, runner, run config env and limits) and compare every "
        "output with the record's manifest.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "run",
        nargs="?",
        metavar="RUN",
        help="the run id, as in results/runs/, or a file a run made (a figure, a data file)",
    )
    parser.add_argument("--all", action="store_true", help="every run that has a record")
    parser.add_argument(
        "--cores", type=_cores, metavar="N", help="--all: runs at once (default: the CPU count)"
    )
    parser.add_argument(
        "--keep", metavar="DIR", help="rerun into DIR (new or empty) and keep it; --all: DIR/RUN"
    )
    add_tolerance_options(parser)
    parser.add_argument("-d", "--directory", default=".", metavar="DIR", help="workflow directory")
    parser.add_argument("--summary", action="store_true", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str]) -> int:
    """``simwarden reproduce RUN | --all [options]``; returns 0 (reproduced) or 1. A missing
    record, parameters or commit raises UserError (exit 125) before anything runs."""
    args = build_parser().parse_args(argv)
    if args.all == (args.run is not None):
        raise UserError("give one RUN or --all (see: simwarden reproduce --help)")
    workdir = Path(args.directory)
    if args.all:
        return _reproduce_all(args, workdir)
    return _reproduce_one(args, workdir)


def _reproduce_one(args: argparse.Namespace, workdir: Path) -> int:
    from simwarden.pipeline import layout
    from simwarden.pipeline.reproduce import (
        Scratch,
        checkout,
        recipe,
        rerun,
        workflow_cache_dir,
    )
    from simwarden.results.figures import autosave_env
    from simwarden.results.reproduce import (
        figure_formats,
        format_report,
        judge,
        no_record,
        summary_line,
    )
    from simwarden.warden.record import read_record

    run = run_of(args.run, workdir)
    relative = layout.for_run(layout.RECORD, run)
    if not (workdir / relative).is_file():
        raise UserError(no_record(run, workdir))
    record = read_record(workdir / relative)
    plan = recipe(record, f"record {relative}")
    cache = workflow_cache_dir(workdir)
    repo = checkout(plan, cache)
    scratch = Scratch(_scratch_dir(args.keep))
    try:
        formats = figure_formats(record)
        reproduction = rerun(
            plan, repo, scratch, cache_dir=cache, figure_env=autosave_env, figure_formats=formats
        )
        tolerance = (args.rtol, args.atol)
        report = judge(record, reproduction, workdir, (scratch.data, scratch.figures), tolerance)
    finally:
        if args.keep is None:
            shutil.rmtree(scratch.root, ignore_errors=True)
    where = str(scratch.root) if args.keep else "a temporary directory, removed"
    print(summary_line(report) if args.summary else format_report(report, where), flush=True)
    return 0 if report.reproduced else EXIT_CHECK_FAILED


def run_of(given: str, workdir: Path) -> str:
    """``given`` itself (a run id), or when it names a file (a figure, a data file, copied or
    not) and no run is called so, the run that made the file, found as ``simwarden trace`` does.
    A file no run made raises UserError (exit 125: nothing is run)."""
    from simwarden.pipeline import layout
    from simwarden.results.trace import NotTraced, trace

    if (workdir / layout.for_run(layout.RECORD, given)).is_file() or not os.path.isfile(given):
        return given
    try:
        run = trace(given, workdir).context.run
    except NotTraced as error:
        raise UserError(str(error)) from None
    if not run:
        raise UserError(f"{given}: its provenance names no run; give the run id")
    return run


def _scratch_dir(keep: str | None) -> Path:
    """A new temporary directory, or ``keep`` (created; refused when it holds files)."""
    if keep is None:
        return Path(tempfile.mkdtemp(prefix="simwarden-reproduce-"))
    path = Path(keep)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UserError(f"--keep {keep}: exists and is not an empty directory; give a new one")
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def _reproduce_all(args: argparse.Namespace, workdir: Path) -> int:
    from simwarden.pipeline import layout
    from simwarden.results.reproduce import recorded_runs

    runs = recorded_runs(workdir)
    if not runs:
        raise UserError(f"no run has a record ({layout.RECORD}) in {workdir}; run the workflow")
    if args.keep is not None:
        _scratch_dir(args.keep)  # checked once, before any run starts
    options = ["-d", str(workdir), "--rtol", repr(args.rtol), "--atol", repr(args.atol)]

    def one(run: str) -> tuple[int, str]:
        keep = ["--keep", str(Path(args.keep) / run)] if args.keep is not None else []
        argv = [sys.executable, "-m", "simwarden", "reproduce", run, "--summary", *options, *keep]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode in (0, EXIT_CHECK_FAILED) and done.stdout.strip():
            return done.returncode, done.stdout.strip().splitlines()[-1]
        said = [line for line in done.stderr.splitlines() if line.strip()]
        why = said[-1].removeprefix("simwarden: ") if said else f"exit {done.returncode}"
        return done.returncode, f"{run}: not reproduced: {why}"

    codes = []
    with ThreadPoolExecutor(max_workers=args.cores or os.cpu_count() or 1) as pool:
        for code, line in pool.map(one, runs):
            print(line, flush=True)
            codes.append(code)
    return 0 if not any(codes) else EXIT_CHECK_FAILED
