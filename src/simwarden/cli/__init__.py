"""The ``simwarden`` command: argparse subcommands that call the library.

Only light modules are imported at start-up; each subcommand imports what it needs.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

from simwarden._version import __version__
from simwarden.core.errors import UserError

RUN_EPILOG = """\
examples:
  simwarden run --mem 4GB --timeout 2h --record record.json -- python sim.py params.json
  simwarden run --mem {resources.mem_mb} --timeout {resources.runtime}m -- ./model --fast
  simwarden run --mem 80% --host-mem-max 95 --stop-signal USR1 --grace 30 -- bonsai.sh

sizes:     500MB, 1.5GiB, 4*1024**3 (bytes), 80% (of total memory), a bare number = MB
durations: 90s, 10m, 2h, 1h30m, 1:30:00, a bare number = seconds

exit codes:
  the command's own code when it ends by itself (128+N if it died from signal N)
  137 memory limit   124 timeout   121 disk below --min-free-disk   122 host memory over
  --host-mem-max   123 stop file appeared   128+N the warden got signal N (130 Ctrl-C)
  125 bad option or warden error   126 command not executable   127 command not found

email (--notify-email) reads SIMWARDEN_SMTP_HOST, _PORT, _USER, _PASSWORD, _FROM,
  _TLS (none|starttls|ssl)
"""


# Subcommands whose module parses its own arguments: name -> (module, one-line help).
DELEGATED = {
    "status": "show every run of the workflow: never run, up to date, stale (why), failed (why)",
    "bench": "benchmark table: collect, compare two tables, suggest mem_mb/runtime",
}
DELEGATED_MODULES = {"status": "simwarden.results.status", "bench": "simwarden.results.table"}


class _Parser(argparse.ArgumentParser):
    """argparse that raises UserError (one line, exit 125) instead of exiting 2 with usage."""

    def error(self, message: str):  # type: ignore[override]
        raise UserError(f"{message} (see: {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="simwarden", description="Run simulations under enforced limits.")
    parser.add_argument("--version", action="version", version=f"simwarden {__version__}")
    commands = parser.add_subparsers(dest="subcommand", metavar="COMMAND", parser_class=_Parser)
    run = commands.add_parser(
        "run",
        help="run a command under memory/time/disk limits and record what happened",
        usage="simwarden run [options] -- COMMAND [ARG...]",
        epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    limits = run.add_argument_group("limits")
    limits.add_argument("--mem", metavar="SIZE", help="limit on the summed RSS of the whole tree")
    limits.add_argument("--mem-warn", metavar="SIZE", help="notify once when crossed, keep running")
    limits.add_argument(
        "--host-mem-max",
        metavar="PCT",
        help="stop if system-wide memory use goes above PCT percent",
    )
    limits.add_argument("--timeout", metavar="DURATION", help="wall-clock limit")
    limits.add_argument("--min-free-disk", metavar="SIZE", help="stop before free disk drops below")
    limits.add_argument(
        "--disk-path",
        metavar="PATH",
        help="file system to watch for --min-free-disk (default: working directory)",
    )
    stopping = run.add_argument_group("stopping")
    stopping.add_argument(
        "--stop-signal",
        default="TERM",
        metavar="SIG",
        help="polite signal sent first: TERM (default), INT, USR1, HUP, ...",
    )
    stopping.add_argument(
        "--grace",
        default="5s",
        metavar="DURATION",
        help="wait this long after the stop signal, then SIGKILL (default 5s)",
    )
    stopping.add_argument(
        "--stop-file", metavar="PATH", help="stop the run (reason 'stopped') when this file appears"
    )
    stopping.add_argument(
        "--stop-when-orphaned",
        action="store_true",
        help="stop the run (as for SIGHUP: exit 129) when the warden's parent process ends",
    )
    stopping.add_argument(
        "--mechanism",
        choices=("auto", "poll", "cgroup"),
        default="auto",
        help="memory enforcement: cgroup hard limit where writable (auto), "
        "psutil polling only (poll), or require the cgroup (cgroup)",
    )
    output = run.add_argument_group("output")
    output.add_argument("--record", metavar="PATH", help="write the run's JSON record here")
    output.add_argument("--samples", metavar="PATH", help="append the sampled time series (TSV)")
    output.add_argument("--log", metavar="PATH", help="capture the command's stdout and stderr")
    output.add_argument("--quiet", action="store_true", help="do not show the command's output")
    output.add_argument(
        "--interval",
        default="0.1",
        metavar="DURATION",
        help="base sampling interval (default 0.1s; faster near the memory limit)",
    )
    notify = run.add_argument_group("notifications")
    notify.add_argument(
        "--notify-cmd",
        action="append",
        default=[],
        metavar="CMD",
        help="run CMD (split like a shell would, but no shell) on each event, "
        "with SIMWARDEN_EVENT, SIMWARDEN_MESSAGE, ... in its environment",
    )
    notify.add_argument(
        "--notify-email",
        action="append",
        default=[],
        metavar="ADDR",
        help="email each event to ADDR (SMTP settings from SIMWARDEN_SMTP_*)",
    )
    # These parse their own options (see their --help); listed here for `simwarden --help`.
    for name, help_text in DELEGATED.items():
        commands.add_parser(name, help=help_text, add_help=False)
    return parser


def options_from_args(args: argparse.Namespace):
    """Turn parsed ``run`` arguments into RunOptions; raises UserError for any bad value."""
    from simwarden.core import units
    from simwarden.warden import Limits, RunOptions

    def size(value: str | None, option: str) -> int | None:
        return None if value is None else units.parse_size(value, option)

    limits = Limits(
        mem_bytes=size(args.mem, "--mem"),
        mem_warn_bytes=size(args.mem_warn, "--mem-warn"),
        host_mem_percent=None
        if args.host_mem_max is None
        else units.parse_percent(args.host_mem_max, "--host-mem-max"),
        timeout_s=None if args.timeout is None else units.parse_duration(args.timeout, "--timeout"),
        min_free_disk_bytes=None
        if args.min_free_disk is None
        else units.parse_size(args.min_free_disk, "--min-free-disk", allow_percent=False),
        disk_path=args.disk_path,
    )
    if args.disk_path and args.min_free_disk is None:
        raise UserError("--disk-path needs --min-free-disk SIZE")
    return RunOptions(
        limits=limits,
        record=args.record,
        samples=args.samples,
        log=args.log,
        quiet=args.quiet,
        stop_signal=units.parse_signal(args.stop_signal),
        grace_s=units.parse_duration(args.grace, "--grace", allow_zero=True),
        mechanism=args.mechanism,
        stop_file=args.stop_file,
        stop_when_orphaned=args.stop_when_orphaned,
        interval_s=units.parse_duration(args.interval, "--interval"),
        notifiers=_notifiers(args.notify_cmd, args.notify_email),
    )


def _notifiers(commands: list[str], emails: list[str]) -> list:
    if not commands and not emails:
        return []
    from simwarden.warden import notify

    notifiers: list = [notify.CommandNotifier(notify.parse_notify_cmd(c)) for c in commands]
    if emails:
        settings = notify.SmtpSettings.from_env()
        recipients = [notify.parse_email_address(a) for a in emails]
        notifiers.append(notify.EmailNotifier(recipients, settings))
    return notifiers


_VALUE_OPTIONS = (
    "--mem",
    "--mem-warn",
    "--host-mem-max",
    "--timeout",
    "--min-free-disk",
    "--grace",
    "--interval",
)


def _join_negative_values(own: list[str]) -> list[str]:
    """Keep ``--mem -5MB`` together so the value is judged (and refused) as a value."""
    joined: list[str] = []
    for token in own:
        if joined and joined[-1] in _VALUE_OPTIONS and token.startswith("-") and token != "--":
            joined[-1] = f"{joined[-1]}={token}"
        else:
            joined.append(token)
    return joined


def _split_command(argv: list[str]) -> tuple[list[str], list[str]]:
    if "--" not in argv:
        if "-h" in argv or "--help" in argv:
            build_parser().parse_args(["run", "--help"])  # prints help and exits 0
        raise UserError(
            "missing '--' before the command: simwarden run [options] -- COMMAND [ARG...]"
        )
    at = argv.index("--")
    return _join_negative_values(argv[:at]), argv[at + 1 :]


def cmd_run(argv: list[str]) -> int:
    from simwarden.warden import run

    own, command = _split_command(argv)
    args = build_parser().parse_args(["run", *own])
    if not command:
        raise UserError("no command after '--': simwarden run [options] -- COMMAND [ARG...]")
    result = run(command, options_from_args(args))
    return result.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code. Errors print one ``simwarden: ...`` line."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        if args_list and args_list[0] == "run":
            return cmd_run(args_list[1:])
        if args_list and args_list[0] in DELEGATED:
            import importlib

            module = importlib.import_module(DELEGATED_MODULES[args_list[0]])
            return module.cli_main(args_list[1:])
        args = build_parser().parse_args(args_list)
        if args.subcommand is None:
            build_parser().print_help()
            return 0
        raise UserError(f"unknown command {args.subcommand!r}")
    except UserError as error:
        print(f"simwarden: {error}", file=sys.stderr)
        return getattr(error, "exit_code", 125)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
