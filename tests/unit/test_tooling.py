"""The tools the README claims, run by the test suite so CI fails when one of them does.

Each test runs one tool from this interpreter's environment (the venv the [test] extra installed)
in the repository root, with its configuration from pyproject.toml, and puts the tool's output
into the assertion message.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, TIMEOUT

BIN = Path(sys.executable).parent
PYTHON_PATHS = ("src", "tests", "scripts", "benchmarks")


def run_tool(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``name`` from the venv's bin directory in the repository root."""
    tool = BIN / name
    assert tool.exists(), f"{tool} is missing: install the test extra (pip install -e '.[test]')"
    # A SNAKEMAKE_PROFILE in the caller's environment must not change what snakemake checks.
    env = {key: value for key, value in os.environ.items() if key != "SNAKEMAKE_PROFILE"}
    return subprocess.run(
        [str(tool), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def report(result: subprocess.CompletedProcess[str]) -> str:
    command = " ".join(
        Path(result.args[0]).name if i == 0 else a for i, a in enumerate(result.args)
    )
    return (
        f"`{command}` exited {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )


def test_ruff_check():
    result = run_tool("ruff", "check", "--no-fix", *PYTHON_PATHS)
    assert result.returncode == 0, report(result)


def test_ruff_format():
    result = run_tool("ruff", "format", "--check", "--diff", *PYTHON_PATHS)
    assert result.returncode == 0, report(result)


def test_mypy():
    """``mypy`` with the [tool.mypy] settings (strict, on src/)."""
    result = run_tool("mypy")
    assert result.returncode == 0, report(result)


def test_snakefmt():
    """Every workflow file is formatted; the count in snakefmt's all-clear line shows it read the
    Snakefile and each ``rules/*.smk`` (it skips files it does not recognise)."""
    result = run_tool("snakefmt", "--check", "--compact-diff", "Snakefile", "rules/")
    assert result.returncode == 0, report(result)
    files = 1 + len(list((ROOT / "rules").glob("*.smk")))
    assert f"All {files} file(s) would be left unchanged" in result.stderr, report(result)


def test_snakemake_lint():
    """``snakemake --lint`` exits 1 when it prints a lint and 0 when it has none; its all-clear
    sentence is checked too, so a run that lints nothing cannot pass."""
    result = run_tool(
        "snakemake", "--lint", "--profile", "none", "--workflow-profile", "none", "--cores", "1"
    )
    assert result.returncode == 0, report(result)
    assert "Congratulations, your workflow is in a good condition!" in result.stderr, report(result)
