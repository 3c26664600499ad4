"""What keeps ``simwarden run`` quick to start: what it does not import, and the stdlib
stand-ins it uses instead (PATH lookup, terminal width, removing the run's private directory)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from simwarden.cli.parser import terminal_columns
from simwarden.warden.cause import ErrorFile
from simwarden.warden.spawn import which
from tests.conftest import TIMEOUT

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
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="psutil is the reader off Linux")
def test_the_run_start_up_path_leaves_heavy_modules_unloaded():
    code = (
        "import sys\n"
        "import simwarden.cli, simwarden.cli.run, simwarden.warden.supervisor\n"
        "simwarden.cli.run.build_parser().parse_args(['--timeout', '1h'])\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT, check=True
    )
    loaded = set(done.stdout.split())
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
