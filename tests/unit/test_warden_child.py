"""The command's start on POSIX (simwarden.warden.child): what the child gets before the exec,
and a failed exec reported by Child.started() as subprocess.Popen would have raised it."""

from __future__ import annotations

import os
import signal
import sys

import pytest

from simwarden.warden import child

if sys.platform != "linux":  # pragma: no cover - the suite is run on Linux
    pytestmark = pytest.mark.skip(reason="reads the child's /proc status")


def run(argv: list[str], cwd: str | None = None) -> tuple[int, bytes, bytes]:
    """Start ``argv``, confirm its exec, read its output to the end, reap it."""
    started = child.start(argv, env=None, cwd=cwd, setup=lambda: None)
    started.started()
    out, err = started.stdout.read(), started.stderr.read()
    started.stdout.close()
    started.stderr.close()
    return started.wait(), out, err


def test_the_child_runs_in_its_own_session_with_default_sigpipe_and_no_stray_descriptors():
    stray = os.open(os.devnull, os.O_RDONLY)
    os.set_inheritable(stray, True)  # as a descriptor handed down to the warden would be
    script = (
        "grep SigIgn /proc/self/status; ls /proc/self/fd | tr '\\n' ' '; echo; "
        "echo $$ $(cut -d' ' -f6 /proc/$$/stat)"
    )
    try:
        code, out, _ = run(["/bin/sh", "-c", script])
    finally:
        os.close(stray)
    assert code == 0
    ignored, fds, ids = out.decode().splitlines()
    # SIGPIPE (13) not ignored: Python ignores it, the command must not inherit that.
    assert not int(ignored.split()[1], 16) & 1 << (signal.SIGPIPE - 1)
    assert fds == "0 1 2 3 "  # 3: the directory ls reads; the stray descriptor is closed
    pid, session = ids.split()
    assert pid == session  # its own session


def test_a_failed_exec_is_the_os_error_popen_raises():
    with pytest.raises(FileNotFoundError) as missing:
        run([sys.executable, "-c", "pass"], cwd="/no/such/directory")
    assert missing.value.strerror == "No such file or directory"
    with pytest.raises(PermissionError):
        run(["/dev/null"])


def test_output_and_exit_code_come_back():
    code, out, err = run(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (code, out, err) == (3, b"out\n", b"err\n")
    code, _, _ = run(["/bin/sh", "-c", "kill -TERM $$"])
    assert code == -signal.SIGTERM
