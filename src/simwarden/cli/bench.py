"""``simwarden bench collect|compare|suggest``: the benchmark table's command line.

The work is done by :mod:`simwarden.results.table`, :mod:`simwarden.results.compare` and
:mod:`simwarden.results.suggest` (pandas is imported only when a subcommand runs).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from simwarden.cli.parser import Parser, add_tolerance_options, at_least_zero, fraction
from simwarden.core.errors import EXIT_CHECK_FAILED, UserError
from simwarden.pipeline import layout

EPILOG = """\
examples:
  simwarden bench collect            # results/params/*.json -> results/benchmarks.{csv,h5}
  simwarden bench compare old.csv results/benchmarks.csv --threshold 0.2 --min-change-s 2
  simwarden bench compare --by commit results/benchmarks.csv --rtol 1e-6 --check
  simwarden bench suggest results benchmarks --margin 0.3

exit codes: 0 done (compare: no regression), 1 compare found a regression (or, with
--check, outputs that differ), 125 bad arguments or files (one line on stderr)
"""


def build_parser() -> Parser:
    """The parser of ``simwarden bench`` and its three subcommands."""
    parser = Parser(
        prog="simwarden bench",
        description="The benchmark table: collect it, compare two, suggest mem_mb/runtime.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    _add_collect(commands)
    _add_compare(commands)
    _add_suggest(commands)
    return parser


def _add_collect(commands: argparse._SubParsersAction[Parser]) -> None:
    collect_cmd = commands.add_parser(
        "collect",
        help="one row per run -> results/benchmarks.csv and results/benchmarks.h5",
        description="Collect records, Snakemake benchmarks, parameters and timers into one table.",
    )
    collect_cmd.add_argument(
        "--results",
        default="results",
        metavar="DIR",
        help="params/, runs/, failed/, code/ are read here; the table is written here "
        "(default results)",
    )
    collect_cmd.add_argument(
        "--benchmarks",
        default="benchmarks",
        metavar="DIR",
        help="Snakemake's benchmark files (default benchmarks)",
    )
    collect_cmd.add_argument(
        "--runs", nargs="+", metavar="RUN", help="run ids (default: every RESULTS/params/*.json)"
    )


def _add_compare(commands: argparse._SubParsersAction[Parser]) -> None:
    from simwarden.results.compare import DEFAULT_MIN_CHANGE_MB, DEFAULT_MIN_CHANGE_S
    from simwarden.results.table import DEFAULT_METRICS

    compare_cmd = commands.add_parser(
        "compare",
        help="compare two tables run by run, or the commits inside one; exit 1 on a regression",
        usage="%(prog)s [-h] [options] --by commit TABLE\n       %(prog)s [-h] [options] OLD NEW",
        description=(
            "Compare table NEW with table OLD run by run (default wall_s, peak_rss_mb, cpu_s), "
            "or with --by commit each ref of each simulation/param set of TABLE with the first "
            "(or --base REF), with their output files (results/runs/<run>/data). "
            "A regression is NEW/OLD - 1 above --threshold with a rise above --min-change-s "
            "(times) or --min-change-mb (memory)."
        ),
    )
    compare_cmd.add_argument(
        "old",
        metavar="OLD",
        help="the reference table (.csv or .h5), e.g. a copy of an earlier results/benchmarks.csv"
        "; with --by commit: the one TABLE",
    )
    compare_cmd.add_argument(
        "new",
        metavar="NEW",
        nargs="?",
        help="the table to check (.csv or .h5), e.g. results/benchmarks.csv",
    )
    _add_commit_options(compare_cmd)
    compare_cmd.add_argument(
        "--threshold",
        type=fraction("--threshold"),
        default=0.10,
        help="flag NEW/OLD - 1 above this as a regression (default 0.1 = +10%%)",
    )
    compare_cmd.add_argument(
        "--min-change-s",
        type=at_least_zero("--min-change-s", "seconds >= 0, e.g. 0.5"),
        default=DEFAULT_MIN_CHANGE_S,
        metavar="SECONDS",
        help="a time (wall_s, cpu_s, s, cpu_time, timer.*) must also rise by more than this "
        "to be a regression (default 0.5)",
    )
    compare_cmd.add_argument(
        "--min-change-mb",
        type=at_least_zero("--min-change-mb", "MB >= 0, e.g. 5"),
        default=DEFAULT_MIN_CHANGE_MB,
        metavar="MB",
        help="a memory peak (peak_rss_mb, max_rss, max_vms, max_uss, max_pss) must also rise "
        "by more than this to be a regression (default 5)",
    )
    compare_cmd.add_argument(
        "--metrics",
        nargs="+",
        default=list(DEFAULT_METRICS),
        metavar="COLUMN",
        help="columns to compare (default: wall_s peak_rss_mb cpu_s)",
    )


def _add_commit_options(compare_cmd: Parser) -> None:
    compare_cmd.add_argument(
        "--by",
        choices=["commit"],
        help="compare inside one TABLE: each ref of a simulation/param set with its first ref",
    )
    compare_cmd.add_argument(
        "--base", metavar="REF", help="with --by commit: compare every ref with REF instead"
    )
    compare_cmd.add_argument(
        "--results",
        metavar="DIR",
        help="with --by commit: where runs/<run>/data are (default: the table's directory)",
    )
    add_tolerance_options(compare_cmd)
    compare_cmd.add_argument(
        "--check",
        action="store_true",
        help="also exit 1 when an output file differs, is missing on one side or unreadable",
    )


def _add_suggest(commands: argparse._SubParsersAction[Parser]) -> None:
    suggest_cmd = commands.add_parser(
        "suggest",
        help="propose mem_mb and runtime per rule (a profile's set-resources:)",
        description="Propose mem_mb and runtime per rule from the measured peaks.",
    )
    suggest_cmd.add_argument(
        "sources",
        nargs="*",
        metavar="TABLE_OR_DIR",
        help="tables, records, benchmark files or directories (default: results benchmarks)",
    )
    suggest_cmd.add_argument(
        "--margin",
        type=fraction("--margin"),
        default=0.2,
        help="headroom added to the largest measured value (default 0.2 = 20%%)",
    )


def main(argv: list[str]) -> int:
    """``simwarden bench collect|compare|suggest``; returns the exit code (1: compare found a
    regression). Bad arguments and files raise UserError (the caller says it in one line and
    exits 125)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "collect":
        return _collect(args)
    if args.command == "compare":
        return _compare(args)
    return _suggest(args)


def _collect(args: argparse.Namespace) -> int:
    from simwarden.results.table import collect, table_paths, write_table

    results = Path(args.results)
    if args.runs:
        runs = list(args.runs)
    else:
        params_dir = Path(layout.for_run(layout.PARAMS, "")).parent.relative_to(layout.RESULTS)
        params_dir = results / params_dir
        runs = sorted(  # run ids nest: results/params/lif/small@v0.3.json is lif/small@v0.3
            p.relative_to(params_dir).with_suffix("").as_posix()
            for p in params_dir.rglob("*.json")
            if not p.name.startswith(".")
        )
        if not runs:
            raise UserError(
                f"{params_dir}: no parameter sets (*.json); run the workflow first, or pass "
                "--results DIR / --runs RUN ..."
            )
    table = collect(runs, results, args.benchmarks)
    if table.empty:  # keep the last good table rather than replace it by an empty one
        raise UserError(
            f"no run of {', '.join(runs)} has a record, benchmark or parameters under "
            f"{results} or {args.benchmarks}: nothing written (check --runs / --results)"
        )
    csv_path, h5_path = table_paths(results)
    write_table(table, csv_path, h5_path)
    print(f"wrote {csv_path} and {h5_path}: {len(table)} runs, {len(table.columns)} columns")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from simwarden.results.commits import compare_table_outputs
    from simwarden.results.compare import compare

    if args.by == "commit":
        return _compare_commits(args)
    for option in ("base", "results"):
        if getattr(args, option) is not None:
            raise UserError(f"--{option} is for --by commit; give --by commit TABLE")
    if args.new is None:
        raise UserError(
            "the following arguments are required: NEW (see: simwarden bench compare --help)"
        )
    result = compare(
        args.old,
        args.new,
        args.threshold,
        tuple(args.metrics),
        min_change_s=args.min_change_s,
        min_change_mb=args.min_change_mb,
    )
    print(result.format())
    runs = list(dict.fromkeys(change.run for change in result.changes))
    outputs = compare_table_outputs(args.old, args.new, runs, args.rtol, args.atol)
    for run, found in outputs:
        print("\n".join(f"{run}: {item.describe()}" for item in found.files))
    differ = [run for run, found in outputs if found.differs]
    if outputs:
        print(f"outputs differ: {', '.join(differ)}" if differ else "outputs: no differences")
    if result.regressions or (args.check and differ):
        return EXIT_CHECK_FAILED
    return 0


def _compare_commits(args: argparse.Namespace) -> int:
    from simwarden.results.commits import commit_comparison

    if args.new is not None:
        raise UserError(f"--by commit compares inside one TABLE; got two: {args.old} {args.new}")
    result = commit_comparison(
        args.old,
        args.results,
        args.rtol,
        args.atol,
        base=args.base,
        threshold=args.threshold,
        metrics=tuple(args.metrics),
        min_change_s=args.min_change_s,
        min_change_mb=args.min_change_mb,
    )
    print(result.format())
    if result.regressions or (args.check and result.differs):
        return EXIT_CHECK_FAILED
    return 0


def _suggest(args: argparse.Namespace) -> int:
    from simwarden.results.suggest import format_suggestions, suggest

    defaults = (layout.RESULTS, layout.BENCHMARKS)
    sources = args.sources or [p for p in defaults if Path(p).exists()]
    if not sources:
        raise UserError("no results/ or benchmarks/ here: pass the tables or directories to read")
    found = suggest(sources, args.margin)
    if not found:
        raise UserError(
            f"no usable records or benchmark files under {', '.join(map(str, sources))}; "
            "run the workflow first"
        )
    print(format_suggestions(found), end="")
    return 0
