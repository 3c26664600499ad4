"""Debian packages that some tests need (SLURM, Chromium): install them when we can, else skip.

A test that needs ``slurmctld`` calls ``require_debian_packages(...)``. When the programs are
missing and we are root with ``apt-get``, the packages are installed (so the README's single test
command works on a fresh machine); otherwise the test is skipped with the reason, unless the named
environment variable (``SIMWARDEN_REQUIRE_SLURM=1``, ``SIMWARDEN_REQUIRE_BROWSER=1``) is set: then
the skip becomes a failure, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence

import pytest

APT_TIMEOUT_S = 900


def _missing(programs: Sequence[str]) -> list[str]:
    return [p for p in programs if shutil.which(p) is None and not os.path.exists(p)]


def _cannot(reason: str, require_env: str) -> None:
    if os.environ.get(require_env) == "1":
        pytest.fail(f"{reason} ({require_env}=1 makes this a failure instead of a skip)")
    pytest.skip(reason)


POLICY_RC_D = "/usr/sbin/policy-rc.d"


def _apt_install(packages: Sequence[str]) -> str | None:
    """Install ``packages`` with apt-get; return why not, or None on success.

    A ``policy-rc.d`` that answers 101 keeps the packages' services (munge, slurmd) from being
    started by their install scripts on a host with an init system; the tests start their own.
    """
    if os.path.exists(POLICY_RC_D):
        return _apt_get(packages)
    with open(POLICY_RC_D, "w") as policy:
        policy.write(
            "#!/bin/sh\n# simwarden tests: no service starts while they install\nexit 101\n"
        )
    os.chmod(POLICY_RC_D, 0o755)
    try:
        return _apt_get(packages)
    finally:
        os.unlink(POLICY_RC_D)


def _apt_get(packages: Sequence[str]) -> str | None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
    ):
        try:
            done = subprocess.run(
                argv,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=APT_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            return f"{' '.join(argv[:2])} took over {APT_TIMEOUT_S} s"
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            return f"{' '.join(argv[:2])} failed ({done.returncode}): {tail[0]}"
    return None


def require_debian_packages(
    packages: Sequence[str], programs: Sequence[str], require_env: str
) -> None:
    """Make sure ``programs`` exist, installing ``packages`` as root; skip (or fail) otherwise."""
    missing = _missing(programs)
    if not missing:
        return
    what = f"{', '.join(missing)} not installed (Debian packages: {' '.join(packages)})"
    if os.name != "posix" or os.geteuid() != 0:
        _cannot(f"{what}; installing them needs root", require_env)
    if shutil.which("apt-get") is None:
        _cannot(f"{what}; no apt-get on this machine", require_env)
    problem = _apt_install(packages)
    if problem:
        _cannot(f"{what}; {problem}", require_env)
    still = _missing(programs)
    if still:
        _cannot(
            f"{', '.join(still)} still missing after installing {' '.join(packages)}", require_env
        )
