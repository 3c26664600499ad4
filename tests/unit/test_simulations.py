"""Tests for the ``simulations:`` config: run ids, checkouts, globs, parameterless scripts, the
refusals; and ``simwarden status`` grouped per simulation and commit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from simwarden.core.errors import UserError
from simwarden.pipeline.plan import Checkout, make_plan, plan_runs
from simwarden.pipeline.simulations import check_run_path, repository_slug, safe_ref
from simwarden.results.status import RunStatus
from simwarden.results.status_format import format_status
from simwarden.results.status_groups import group_status, select_simulation

LAB = "https://example.org/lab.git"
FILES = {
    "dev/*.py": ["dev/plot a.py", "dev/plot_b.py"],
    "tests/*.py": ["tests/check.py"],
    "clash/*": ["clash/run.py", "clash/run.sh"],
}


def lister(repository: str, ref: str, pattern: str) -> list[str]:
    """Stands for the fetched checkout: the files a glob matches, the same at every commit."""
    assert repository == LAB
    return list(FILES.get(pattern, []))


@pytest.fixture
def small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "small.yaml").write_text("n: 5\n")
    return "small.yaml"


def lab(small: str, **entries: dict[str, Any]) -> dict[str, Any]:
    """A ``simulations:`` config: a model at two tags, a collection of dev scripts, and
    ``entries``."""
    return {
        "simulations": {
            "model": {
                "repository": LAB,
                "commits": ["v1", "v2"],
                "runner": {"kind": "python", "script": "model.py"},
                "param_schema": "schema.json",
                "param_sets": {"small": small},
                "sweeps": {"n": {"base": "small", "grid": {"n": [1]}}},
            },
            "dev": {
                "repository": LAB,
                "commit": "main",
                "runner": {"kind": "python", "script": "dev/*.py"},
            },
            **entries,
        }
    }


def test_run_ids_name_simulation_set_and_commit(small: str) -> None:
    plan = make_plan(lab(small), list_scripts=lister)
    assert list(plan.runs) == [
        "model/small@v1",
        "model/n__n-1@v1",
        "model/small@v2",
        "model/n__n-1@v2",
        "dev/plot_a",
        "dev/plot_b",
    ]
    run = plan.runs["model/n__n-1@v2"]
    assert (run.simulation, run.param_set, run.ref, run.code) == ("model", "n__n-1", "v2", "lab@v2")
    assert (run.param_file, run.overrides, run.schema) == (small, {"n": 1}, "schema.json")
    script = plan.runs["dev/plot_a"]
    assert (script.simulation, script.param_set, script.ref, script.code) == (
        "dev/plot_a",
        None,
        "main",
        "lab@main",
    )
    assert (script.param_file, script.schema, script.script) == (None, None, "dev/plot a.py")
    # The script as it is: python SCRIPT, no arguments.
    assert script.runner == {"kind": "python", "script": "dev/plot a.py", "args": []}


def test_one_checkout_per_repository_and_commit(small: str) -> None:
    config = lab(
        small,
        tests={
            "repository": LAB,
            "commit": "main",
            "runner": {"kind": "python", "script": "tests/*.py"},
        },
    )
    plan = make_plan(config, list_scripts=lister)
    assert plan.checkouts == {
        "lab@v1": Checkout("lab@v1", LAB, "v1", ("model",)),
        "lab@v2": Checkout("lab@v2", LAB, "v2", ("model",)),
        "lab@main": Checkout("lab@main", LAB, "main", ("dev", "tests")),
    }


def test_two_repositories_of_one_name_get_distinct_code_ids(small: str) -> None:
    other = "https://example.org/other/lab.git"
    config = lab(
        small,
        hh={"repository": other, "commit": "main", "runner": {"kind": "python", "script": "a.py"}},
    )
    codes = sorted(make_plan(config, list_scripts=lister).checkouts)
    assert codes[:2] == ["lab@main-" + codes[0][-8:], "lab@main-" + codes[1][-8:]]
    assert codes[0] != codes[1] and codes[2:] == ["lab@v1", "lab@v2"]


def test_two_scripts_with_one_run_id_are_refused_naming_both(small: str) -> None:
    config = lab(
        small,
        clash={
            "repository": LAB,
            "commit": "main",
            "runner": {"kind": "python", "script": "clash/*"},
        },
    )
    with pytest.raises(UserError) as error:
        plan_runs(config, list_scripts=lister)
    assert str(error.value) == (
        "config/config.yaml: simulations.clash.runner.script 'clash/run.sh': run id 'clash/run' "
        "is used twice (also by simulations.clash.runner.script 'clash/run.py'); rename one"
    )


def test_a_glob_matching_nothing_is_one_line(small: str) -> None:
    config = lab(
        small, r={"repository": LAB, "commit": "v1", "runner": {"kind": "python", "script": "*.R"}}
    )
    with pytest.raises(UserError) as error:
        plan_runs(config, list_scripts=lister)
    assert str(error.value) == (
        f"config/config.yaml: simulations.r.runner.script '*.R' matches no file in {LAB} at v1"
    )


@pytest.mark.parametrize("pattern", ["../*.py", "/etc/*"])
def test_a_glob_outside_the_repository_is_refused(small: str, pattern: str) -> None:
    config = lab(
        small,
        r={"repository": LAB, "commit": "v1", "runner": {"kind": "python", "script": pattern}},
    )
    with pytest.raises(UserError, match="a glob must stay inside the repository"):
        plan_runs(config, list_scripts=lister)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"repository": LAB},
            "config/config.yaml: repository: give it inside each entry of simulations (a config "
            "has either simulations: or one repository/commit/runner at the top level)",
        ),
        (
            {"simulations": {}},
            "config/config.yaml: simulations: no entries; add at least one simulation",
        ),
    ],
)
def test_the_two_shapes_do_not_mix(small: str, change: dict[str, Any], message: str) -> None:
    with pytest.raises(UserError) as error:
        plan_runs({**lab(small), **change}, list_scripts=lister)
    assert str(error.value) == message


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"commit": "v1", "commits": ["v2"]}, ": give commit (one) or commits (a list), not both"),
        ({}, ": give commit (one) or commits (a list), not both"),
        ({"commits": ["v1", "v1"]}, ".commits: 'v1' is listed twice"),
    ],
)
def test_commit_or_commits(small: str, entry: dict[str, Any], message: str) -> None:
    config = lab(
        small, x={"repository": LAB, "runner": {"kind": "python", "script": "a.py"}, **entry}
    )
    with pytest.raises(UserError) as error:
        plan_runs(config, list_scripts=lister)
    assert str(error.value) == f"config/config.yaml: simulations.x{message}"


@pytest.mark.parametrize("name", ["a/b", "-x", "a@b", "_x"])
def test_a_simulation_name_that_is_not_plain_is_refused(small: str, name: str) -> None:
    config = lab(
        small,
        **{
            name: {
                "repository": LAB,
                "commit": "v1",
                "runner": {"kind": "command", "command": ["x"]},
            }
        },
    )
    with pytest.raises(UserError, match=f"simulations.{name}: {name!r} is not a simulation name"):
        plan_runs(config, list_scripts=lister)


def test_a_bad_commit_names_the_simulation(small: str) -> None:
    config = lab(small)
    config["simulations"]["model"]["commits"] = ["v1", "--upload-pack=x"]
    with pytest.raises(UserError) as error:
        plan_runs(config, list_scripts=lister)
    assert str(error.value).startswith(
        "config/config.yaml: simulations.model: commit: ref '--upload-pack=x' is refused"
    )


def test_safe_ids() -> None:
    assert safe_ref("v0.3") == "v0.3"
    assert safe_ref("feature/x y") == "feature_x_y"
    assert safe_ref("..") == safe_ref("..")[:12] and len(safe_ref("..")) == 12
    assert repository_slug("examples/demo-sim.bundle") == "demo-sim"
    assert repository_slug("git@host:group/lab.git") == "lab"
    assert repository_slug("/") == "repo"
    for good in ("hh", "lif/small", "lif/small@v0.3", "dev/plot_a", "a/b/c"):
        assert check_run_path(good) == good
    for bad in ("", "/a", "a/", "a//b", "../a", "a/../b", "a/.x", "-a", "a\\b", "a b"):
        with pytest.raises(UserError, match="unsafe run id"):
            check_run_path(bad)


# ------------------------------------------------------------------------------ status groups

STATUSES = [
    RunStatus("model/small@v1", "up to date", simulation="model", ref="v1"),
    RunStatus("model/big@v1", "failed", ("memory",), simulation="model", ref="v1"),
    RunStatus("model/small@v2", "stale", ("code",), simulation="model", ref="v2"),
    RunStatus("dev/plot_a", "never run", simulation="dev/plot_a", ref="main"),
]


def test_status_groups_count_states_per_simulation_and_commit() -> None:
    groups = group_status(STATUSES)
    assert [(g.label, g.summary) for g in groups] == [
        ("model @ v1", "2 runs: 1 up to date, 1 failed"),
        ("model @ v2", "1 run: 1 stale"),
        ("dev/plot_a @ main", "1 run: 1 never run"),
    ]
    lines = format_status(STATUSES, "table").splitlines()
    assert lines[-5:] == [
        "",
        "model @ v1         2 runs: 1 up to date, 1 failed",
        "model @ v2         1 run: 1 stale",
        "dev/plot_a @ main  1 run: 1 never run",
        "4 runs: 1 never run, 1 up to date, 1 stale, 1 failed",
    ]


def test_one_group_adds_no_lines() -> None:
    one = [RunStatus("a", "up to date", ref="v0.3"), RunStatus("b", "failed", ref="v0.3")]
    assert format_status(one, "table").splitlines()[-1] == "2 runs: 1 up to date, 1 failed"
    assert "" not in format_status(one, "table").splitlines()


def test_select_simulation() -> None:
    assert [s.run for s in select_simulation(STATUSES, "model")] == [
        "model/small@v1",
        "model/big@v1",
        "model/small@v2",
    ]
    assert [s.run for s in select_simulation(STATUSES, "dev")] == ["dev/plot_a"]
    assert [s.run for s in select_simulation(STATUSES, "dev/plot_a")] == ["dev/plot_a"]
    with pytest.raises(UserError) as error:
        select_simulation(STATUSES, "mod")
    assert str(error.value) == (
        "--simulation 'mod': no such simulation; simulations: model, dev/plot_a"
    )
    with pytest.raises(UserError, match="none: this config runs one simulation"):
        select_simulation([RunStatus("a", "up to date")], "a")
