"""What keeps ``simwarden run`` quick to start: what it does not import, and the stdlib
stand-ins it uses instead (PATH lookup, terminal width, removing the run's private directory)."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

from simwarden.cli.parser import terminal_columns
from simwarden.cli.run import RUN_OPTIONS, build_parser, fast_parse
from simwarden.core.errors import UserError
from simwarden.warden.cause import ErrorFile
from simwarden.warden.spawn import which
from tests.conftest import modules_loaded_by

# Loaded only after the command started, at the end, or for options not given; psutil only
# where there is no /proc.
NOT_BEFORE_THE_START = (
    "psutil",
    "simwarden.warden.record",
    "simwarden.warden.notify",
    "simwarden.warden.cgroup",
    "json",
    "pathlib",
    "shutil",
    "datetime",
    "platform",
    "typing",
    "tempfile",
    "argparse",
    "dataclasses",
    "inspect",
    "subprocess",
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="psutil is the reader off Linux")
def test_the_run_start_up_path_leaves_heavy_modules_unloaded():
    loaded = modules_loaded_by(
        "import simwarden.cli, simwarden.cli.run, simwarden.warden.supervisor\n"
        "args = simwarden.cli.run.parse_own(['--mem', '1GB', '--timeout=1h', '--quiet'])\n"
        "simwarden.cli.run.options_from_args(args).check()\n"
    )
    assert sorted(loaded & set(NOT_BEFORE_THE_START)) == []
    assert "simwarden.warden.procfs" in loaded


def test_which_finds_what_shutil_which_finds(tmp_path, monkeypatch):
    script = tmp_path / "bin" / "tool"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    plain = tmp_path / "plain" / "tool"
    plain.parent.mkdir()
    plain.write_text("not executable\n")
    (tmp_path / "dir" / "tool").mkdir(parents=True)
    path = os.pathsep.join(
        [str(tmp_path / "dir"), str(plain.parent), str(script.parent), os.environ["PATH"]]
    )
    monkeypatch.setenv("PATH", path)
    for program in ("tool", "sh", "python3", "no-such-program-here"):
        assert which(program) == shutil.which(program)
    assert which("tool") == str(script)


def test_terminal_columns_follow_columns_then_the_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "123")
    assert terminal_columns() == 123 == shutil.get_terminal_size().columns
    monkeypatch.delenv("COLUMNS")
    assert terminal_columns() == shutil.get_terminal_size().columns


def test_the_private_directory_goes_with_everything_in_it():
    error_file = ErrorFile()
    assert error_file.directory is not None
    with open(os.path.join(error_file.directory, "error.json"), "w") as handle:
        handle.write("{}")
    os.makedirs(os.path.join(error_file.directory, "left", "by", "the-command"))
    error_file.remove()
    assert not os.path.exists(error_file.directory)
    error_file.remove()  # gone already: nothing happens


FAST_CASES = [
    [],
    ["--mem", "4GB", "--timeout", "2h", "--record", "r.json", "--quiet"],
    ["--mem=4GB", "--mem", "5GB", "--stop-when-orphaned", "--mechanism", "poll"],
    ["--notify-cmd", "a b", "--notify-email=x@example.org", "--notify-cmd", "c"],
    ["--grace", "0", "--interval", "0.5", "--stop-signal", "USR1", "--log", ""],
    ["--mem=-5MB", "--samples", "s.tsv", "--disk-path", "/tmp", "--min-free-disk", "1GB"],
]


@pytest.mark.parametrize("own", FAST_CASES)
def test_the_fast_parse_reads_what_argparse_reads(own):
    fast = fast_parse(own)
    assert fast is not None
    assert vars(fast) == vars(build_parser().parse_args(own))


def test_the_fast_parse_knows_every_option_of_the_parser():
    parser = build_parser()
    options = {s for a in parser._actions for s in a.option_strings} - {"-h", "--help"}
    assert set(RUN_OPTIONS) == options
    defaults = {name: default for name, _, default in RUN_OPTIONS.values()}
    assert vars(fast_parse([])) == {**defaults, "notify_cmd": [], "notify_email": []}


@pytest.mark.parametrize(
    ("own", "message"),
    [
        (["--mem"], "argument --mem: expected one argument (see: simwarden run --help)"),
        (
            ["--rec", "r.json", "--bogus"],
            "unrecognized arguments: --bogus (see: simwarden run --help)",
        ),
        (
            ["--mechanism", "x"],
            "argument --mechanism: invalid choice: 'x' (choose from 'auto', "
            "'poll', 'cgroup') (see: simwarden run --help)",
        ),
        (
            ["--quiet=1"],
            "argument --quiet: ignored explicit argument '1' (see: simwarden run --help)",
        ),
        (["stray"], "unrecognized arguments: stray (see: simwarden run --help)"),
    ],
)
def test_what_the_fast_parse_leaves_to_argparse_keeps_argparse_messages(own, message):
    assert fast_parse(own) is None
    with pytest.raises(UserError) as caught:
        build_parser().parse_args(own)
    assert str(caught.value) == message
