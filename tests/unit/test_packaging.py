"""Packaging stays consistent: conda's environment.yml lists what pyproject.toml requires."""

import re
import tomllib

import yaml

from tests.conftest import ROOT

# PyPI names that conda-forge spells differently.
CONDA_NAMES = {"tables": "pytables"}


def _name_and_spec(requirement: str) -> tuple[str, str]:
    match = re.match(r"^\s*([A-Za-z0-9_.-]+)\s*(.*)$", requirement)
    assert match, requirement
    return match.group(1).lower().replace("_", "-"), match.group(2).replace(" ", "")


def test_environment_yml_matches_pyproject_dependencies():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = {
        CONDA_NAMES.get(name, name): spec
        for name, spec in map(_name_and_spec, pyproject["project"]["dependencies"])
    }
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = dict(_name_and_spec(d) for d in environment["dependencies"] if isinstance(d, str))
    conda.pop("pip")
    python = conda.pop("python")
    assert python == ">=" + pyproject["project"]["requires-python"].removeprefix(">=")
    assert conda == wanted


def test_readme_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text().splitlines()
    marker = readme.index("<!-- test-command -->")
    assert readme[marker + 1] == "```bash"
    command = readme[marker + 2]
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert ci_lines[-1] == command
