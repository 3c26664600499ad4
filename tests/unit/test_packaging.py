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


def test_snakemake_is_capped_below_10_with_the_reason_beside_the_pin():
    """The status board reads Snakemake internals: a major release must be a deliberate bump."""
    for name in ("pyproject.toml", "environment.yml"):
        lines = (ROOT / name).read_text().splitlines()
        pin = next(i for i, line in enumerate(lines) if re.search(r"\bsnakemake>=", line))
        assert re.search(r"snakemake>=9\.19,\s*<10\b", lines[pin]), f"{name}: {lines[pin]}"
        above = pin
        while above > 0 and lines[above - 1].lstrip().startswith("#"):
            above -= 1
        comment = " ".join(lines[above:pin])
        assert "below 10" in comment and "internals" in comment, (
            f"{name}: the comment just above the snakemake pin should say why it is capped"
        )


def test_the_test_extra_installs_the_tools_the_tooling_tests_run():
    """tests/unit/test_tooling.py runs ruff, mypy and snakefmt from the venv: the README's test
    command (pip install -e '.[test]') must install them, and the stubs mypy needs."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    test_extra = {
        name
        for name, _ in map(_name_and_spec, pyproject["project"]["optional-dependencies"]["test"])
    }
    assert {
        "ruff",
        "mypy",
        "snakefmt",
        "types-pyyaml",
        "types-psutil",
        "pandas-stubs",
    } <= test_extra


def test_the_rules_conda_environment_has_the_same_dependencies_as_environment_yml():
    """Every rule names workflow/envs/simwarden.yaml in `conda:` (for --sdm conda): it must not
    drift from environment.yml, and its pip line must point back at this checkout."""
    top = yaml.safe_load((ROOT / "environment.yml").read_text())
    rules_env = yaml.safe_load((ROOT / "workflow" / "envs" / "simwarden.yaml").read_text())
    assert rules_env["channels"] == top["channels"]
    strings = [d for d in rules_env["dependencies"] if isinstance(d, str)]
    assert strings == [d for d in top["dependencies"] if isinstance(d, str)]
    assert [d for d in rules_env["dependencies"] if isinstance(d, dict)] == [{"pip": ["-e ../.."]}]
    for smk in sorted((ROOT / "rules").glob("*.smk")):
        text = smk.read_text()
        # `rule all` (rules/main.smk) only names the targets: it runs no job, so no environment.
        rules = text.count("\nrule ") + text.startswith("rule ") - text.count("\nrule all:")
        assert text.count('conda:\n        "../workflow/envs/simwarden.yaml"') == rules, smk.name
