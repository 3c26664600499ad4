"""benchmarks/bench_warden.py stays importable and runnable: only ``--help``, nothing heavy."""

from __future__ import annotations

import subprocess

from tests.conftest import PYTHON, ROOT, TIMEOUT

SCRIPT = ROOT / "benchmarks" / "bench_warden.py"


def test_help_exits_zero_and_names_the_options() -> None:
    result = subprocess.run(
        [PYTHON, str(SCRIPT), "--help"], capture_output=True, text=True, timeout=TIMEOUT
    )
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert "--quick" in result.stdout
    assert "--out-dir" in result.stdout
    assert result.stderr == ""
