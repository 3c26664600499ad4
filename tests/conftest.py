"""Shared test helpers: one global timeout, and every process a test starts is reaped."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 120  # seconds: the bound on any one subprocess a test runs
PYTHON = sys.executable


# A fixed git identity (and no system config) for every repository the tests build.
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.org",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.org",
    "GIT_CONFIG_NOSYSTEM": "1",
}
# ... and fixed dates, where a test needs the same commit SHAs every time.
GIT_FIXED = {
    **GIT_IDENTITY,
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z",
}


def simwarden_argv(*args: str) -> list[str]:
    """The CLI as a user calls it, through the installed package."""
    return [PYTHON, "-m", "simwarden", *args]


@pytest.fixture
def procs():
    """Register Popen objects; at teardown each one, its process group (when it leads one) and
    every descendant are killed and reaped."""
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        try:
            family = psutil.Process(process.pid).children(recursive=True)
        except psutil.Error:
            family = []
        if os.name == "posix" and process.poll() is None and os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, 9)
        for proc in family:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(family, timeout=10)
        if process.poll() is None:
            process.kill()
        process.wait(timeout=TIMEOUT)
        for stream in (process.stdout, process.stderr):
            if stream:
                stream.close()


def wait_for_file(path: Path, process: subprocess.Popen | None = None, timeout: float = 30) -> str:
    """Wait until ``path`` holds a complete line; fail if ``process`` dies first."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            text = path.read_text()
            if text.endswith("\n"):
                return text
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process exited with {process.returncode} before {path} appeared")
        time.sleep(0.01)
    raise AssertionError(f"{path} did not appear within {timeout} s")


def pid_alive(pid: int) -> bool:
    """True if ``pid`` runs and is not a zombie."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")


def modules_loaded_by(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code`` (which must not print)."""
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
    )
    return set(done.stdout.split())
