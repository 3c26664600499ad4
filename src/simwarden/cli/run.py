"""``simwarden run [options] -- COMMAND [ARG...]``: the warden's command line.

This is the start-up path of every guarded simulation: it imports the warden (stdlib only on
Linux) only. The common options are read by :func:`fast_parse`; argparse (~10 ms with building
the parser) loads only for ``--help`` or for an argument list argparse must judge, so every
error message stays argparse's own.
"""

from __future__ import annotations

from types import SimpleNamespace

from simwarden.core.errors import UserError
from simwarden.core.log import say

TYPE_CHECKING = False  # typing costs start-up; only type checkers need these
if TYPE_CHECKING:
    import argparse

    from simwarden.cli.parser import Parser
    from simwarden.warden import RunOptions
    from simwarden.warden.notify import Notifier

RUN_EPILOG = """\
examples:
  simwarden run --mem 4GB --timeout 2h --record record.json -- python sim.py params.json
  simwarden run --mem {resources.mem_mb} --timeout {resources.runtime}m -- ./model --fast
  simwarden run --mem 80% --host-mem-max 95 --stop-signal USR1 --grace 30 -- bonsai.sh
  simwarden run --stall-timeout 10m -- python sim.py   # sim.py reports progress (below)

sizes:     500MB, 1.5GiB, 4*1024**3 (bytes), 80% (of total memory), a bare number = MB
durations: 90s, 10m, 2h, 1h30m, 1:30:00, a bare number = seconds

progress: the command prints "SIMWARDEN_PROGRESS 310/400" or "SIMWARDEN_PROGRESS 42%" as a
  line on stdout or stderr, or writes "310/400" to the file $SIMWARDEN_PROGRESS_FILE; the
  samples get progress and eta_s columns (docs/progress.md)

exit codes:
  the command's own code when it ends by itself (128+N if it died from signal N)
  137 memory limit   124 timeout   121 disk below --min-free-disk   122 host memory over
  --host-mem-max   123 stop file appeared (or existed: the command was not started)
  120 no progress reported for --stall-timeout   128+N the warden got signal N (130 Ctrl-C)
  125 bad option or warden error   126 command not executable   127 command not found

email (--notify-email) reads SIMWARDEN_SMTP_HOST, _PORT, _USER, _PASSWORD, _FROM,
  _TLS (none|starttls|ssl)
"""


def build_parser() -> Parser:
    """The parser of ``simwarden run``'s own options (the part before ``--``)."""
    from simwarden.cli.parser import Parser, RawDescriptionFormatter

    parser = Parser(
        prog="simwarden run",
        description="Run a command under memory/time/disk limits and record what happened.",
        usage="simwarden run [options] -- COMMAND [ARG...]",
        epilog=RUN_EPILOG,
        formatter_class=RawDescriptionFormatter,
    )
    _add_limits(parser.add_argument_group("limits"))
    _add_stopping(parser.add_argument_group("stopping"))
    _add_output(parser.add_argument_group("output"))
    _add_notifications(parser.add_argument_group("notifications"))
    return parser


def _add_limits(limits: argparse._ArgumentGroup) -> None:
    limits.add_argument("--mem", metavar="SIZE", help="limit on the summed RSS of the whole tree")
    limits.add_argument("--mem-warn", metavar="SIZE", help="notify once when crossed, keep running")
    limits.add_argument(
        "--host-mem-max",
        metavar="PCT",
        help="stop if system-wide memory use goes above PCT percent",
    )
    limits.add_argument("--timeout", metavar="DURATION", help="wall-clock limit")
    limits.add_argument(
        "--stall-timeout",
        metavar="DURATION",
        help="stop (exit 120) when reported progress has not risen for this long; "
        "counted from the first report (a command that never reports never stalls)",
    )
    limits.add_argument("--min-free-disk", metavar="SIZE", help="stop before free disk drops below")
    limits.add_argument(
        "--disk-path",
        metavar="PATH",
        help="file system to watch for --min-free-disk (default: working directory)",
    )


def _add_stopping(stopping: argparse._ArgumentGroup) -> None:
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
        "--stop-file",
        metavar="PATH",
        help="stop the run (reason 'stopped', exit 123) when this file appears; "
        "if it exists already, the command is not started",
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
        "polling only (poll), or require the cgroup (cgroup)",
    )


def _add_output(output: argparse._ArgumentGroup) -> None:
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


def _add_notifications(notify: argparse._ArgumentGroup) -> None:
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


# What fast_parse knows: option -> (attribute, kind, default); kind "value" takes one value,
# "flag" is store_true, "append" collects values. Keep it equal to build_parser's options
# (tests/unit/test_warden_startup.py compares the two).
RUN_OPTIONS: dict[str, tuple[str, str, object]] = {
    "--mem": ("mem", "value", None),
    "--mem-warn": ("mem_warn", "value", None),
    "--host-mem-max": ("host_mem_max", "value", None),
    "--timeout": ("timeout", "value", None),
    "--stall-timeout": ("stall_timeout", "value", None),
    "--min-free-disk": ("min_free_disk", "value", None),
    "--disk-path": ("disk_path", "value", None),
    "--stop-signal": ("stop_signal", "value", "TERM"),
    "--grace": ("grace", "value", "5s"),
    "--stop-file": ("stop_file", "value", None),
    "--stop-when-orphaned": ("stop_when_orphaned", "flag", False),
    "--mechanism": ("mechanism", "value", "auto"),
    "--record": ("record", "value", None),
    "--samples": ("samples", "value", None),
    "--log": ("log", "value", None),
    "--quiet": ("quiet", "flag", False),
    "--interval": ("interval", "value", "0.1"),
    "--notify-cmd": ("notify_cmd", "append", None),
    "--notify-email": ("notify_email", "append", None),
}
MECHANISM_CHOICES = ("auto", "poll", "cgroup")


def fast_parse(own: list[str]) -> SimpleNamespace | None:
    """``own`` (the options before ``--``) as argparse would parse them, for exact option names
    with ``--name value`` or ``--name=value``; None when argparse must judge: ``-h``, an unknown
    or abbreviated option, a positional, a missing value, a value starting with ``-`` (argparse
    has rules for those), a ``--mechanism`` outside its choices."""
    values: dict[str, object] = {
        name: ([] if kind == "append" else default) for name, kind, default in RUN_OPTIONS.values()
    }
    tokens = iter(own)
    for token in tokens:
        option, equals, value = token.partition("=")
        known = RUN_OPTIONS.get(option)
        if known is None:
            return None
        name, kind, _ = known
        if kind == "flag":
            if equals:
                return None
            values[name] = True
            continue
        if not equals:
            value = next(tokens, "-")  # "-": missing, left to argparse like any "-..." value
            if value.startswith("-"):
                return None
        if name == "mechanism" and value not in MECHANISM_CHOICES:
            return None
        if kind == "append":
            values[name].append(value)  # type: ignore[attr-defined]
        else:
            values[name] = value
    return SimpleNamespace(**values)


def parse_own(own: list[str]) -> SimpleNamespace | argparse.Namespace:
    """The run's own options: :func:`fast_parse`, else argparse (which raises UserError with
    its own message, or prints the help and exits 0)."""
    fast = fast_parse(own)
    return fast if fast is not None else build_parser().parse_args(own)


def options_from_args(args: SimpleNamespace | argparse.Namespace) -> RunOptions:
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
        stall_timeout_s=None
        if args.stall_timeout is None
        else units.parse_duration(args.stall_timeout, "--stall-timeout"),
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


def _notifiers(commands: list[str], emails: list[str]) -> list[Notifier]:
    if not commands and not emails:
        return []
    from simwarden.warden import notify

    notifiers: list[Notifier] = [
        notify.CommandNotifier(notify.parse_notify_cmd(c)) for c in commands
    ]
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
    "--stall-timeout",
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
            build_parser().parse_args(["--help"])  # prints help and exits 0
        raise UserError(
            "missing '--' before the command: simwarden run [options] -- COMMAND [ARG...]"
        )
    at = argv.index("--")
    return _join_negative_values(argv[:at]), argv[at + 1 :]


def main(argv: list[str]) -> int:
    """``simwarden run [options] -- COMMAND [ARG...]``; returns the warden's exit code.

    Bad options raise UserError (the caller says it in one line and exits 125). A command that
    cannot be started is one line too, and exits 127 (not found) or 126 (not executable), as in
    a shell."""
    from simwarden.warden.options import CommandError
    from simwarden.warden.supervisor import run

    own, command = _split_command(argv)
    args = parse_own(own)
    if not command:
        raise UserError("no command after '--': simwarden run [options] -- COMMAND [ARG...]")
    options = options_from_args(args)
    try:
        result = run(command, options)
    except CommandError as error:
        say(str(error))
        return error.exit_code
    return result.exit_code
