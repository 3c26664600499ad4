"""The ``simwarden`` command: ``main`` dispatches to one module per subcommand.

Only light modules are imported at start-up; each subcommand's module imports what it needs
(``simwarden run`` imports the warden alone). Nothing in the library imports this package.
"""

from __future__ import annotations

import sys

from simwarden._version import __version__
from simwarden.core.errors import UserError

TYPE_CHECKING = False  # typing costs start-up; only type checkers need Parser here
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from simwarden.cli.parser import Parser

# Subcommand -> one-line help for `simwarden --help`; each parses its own options.
COMMANDS = {
    "run": "run a command under memory/time/disk limits and record what happened",
    "status": "show every run of the workflow: never run, up to date, stale (why), failed (why)",
    "bench": "benchmark table: collect, compare two tables, suggest mem_mb/runtime",
    "figures": "figure autosave: print a figure's provenance, or the PYTHONPATH that enables it",
    "init": "write a new project directory (config, profiles, a Snakefile using these rules)",
    "trace": "where did this file come from: the run, commit, parameters, packages of a file",
    "reproduce": "run a recorded run again from its record and compare its outputs",
}


def build_parser() -> Parser:
    """The top-level parser: ``--version``, ``--help`` and the list of subcommands."""
    from simwarden.cli.parser import Parser  # argparse: not on the `simwarden run` path

    parser = Parser(prog="simwarden", description="Run simulations under enforced limits.")
    parser.add_argument("--version", action="version", version=f"simwarden {__version__}")
    commands = parser.add_subparsers(dest="subcommand", metavar="COMMAND", parser_class=Parser)
    for name, help_text in COMMANDS.items():
        commands.add_parser(name, help=help_text, add_help=False)
    return parser


def _command(name: str) -> Callable[[list[str]], int]:
    """The ``main`` of subcommand ``name``, imported only when it runs."""
    if name == "run":
        from simwarden.cli.run import main as run_main

        return run_main
    if name == "status":
        from simwarden.cli.status import main as status_main

        return status_main
    if name == "bench":
        from simwarden.cli.bench import main as bench_main

        return bench_main
    if name == "init":
        from simwarden.cli.init import main as init_main

        return init_main
    if name == "trace":
        from simwarden.cli.trace import main as trace_main

        return trace_main
    if name == "reproduce":
        from simwarden.cli.reproduce import main as reproduce_main

        return reproduce_main
    from simwarden.cli.figures import main as figures_main

    return figures_main


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code. A user error in any subcommand is one
    ``simwarden: ...`` line and exit 125; Ctrl-C exits 130; a closed output pipe 141."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        if args_list and args_list[0] in COMMANDS:
            code = _command(args_list[0])(args_list[1:])
            sys.stdout.flush()  # here, not at exit: a reader gone is then caught below
            if argv is None and args_list[0] == "run":
                _exit_now(code)
            return code
        args = build_parser().parse_args(args_list)
        if args.subcommand is None:
            build_parser().print_help()
            return 0
        raise UserError(f"unknown command {args.subcommand!r}")
    except UserError as error:
        from simwarden.core.log import fail  # logging: loaded only when there is a line to say

        return fail(error)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _reader_gone()


def _exit_now(code: int) -> None:
    """End the ``simwarden run`` process with ``code`` without the interpreter's teardown
    (freeing every module, a few ms of the run's cost). Only from the console entry, once the
    run is over: its record and files are written and closed, its helper threads joined; the
    warden's own output is flushed here."""
    import os

    sys.stderr.flush()
    os._exit(code)


def _reader_gone() -> int:
    """Our output's reader went away (``simwarden trace F | head``): nothing more to say, and no
    traceback when Python flushes stdout at exit; 141 (128 + SIGPIPE) as a shell reports it."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141


if __name__ == "__main__":
    sys.exit(main())
