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


def one_simulation(small: str, **change: Any) -> dict[str, Any]:
    """The one-simulation (top-level) config, with ``change`` laid over it."""
    config = {
        "repository": LAB,
        "commit": "v1",
        "runner": {"kind": "python", "script": "model.py"},
        "param_sets": {"small": small},
        "sweeps": {"n": {"base": "small", "grid": {"n": [1]}}},
    }
    config.update(change)
    return {key: value for key, value in config.items() if value is not None}


def test_the_top_level_config_takes_commits_too(small: str) -> None:
    plan = make_plan(one_simulation(small, commit=None, commits=["a", "feature/b"]))
    assert list(plan.runs) == ["small@a", "n__n-1@a", "small@feature_b", "n__n-1@feature_b"]
    run = plan.runs["small@feature_b"]
    assert (run.simulation, run.param_set, run.ref, run.code) == (
        None,
        "small",
        "feature/b",
        "lab@feature_b",
    )
    assert plan.checkouts == {
        "lab@a": Checkout("lab@a", LAB, "a", ("-",)),
        "lab@feature_b": Checkout("lab@feature_b", LAB, "feature/b", ("-",)),
    }
    # One commit in the list: the run ids have no @COMMIT, as with commit:.
    assert list(plan_runs(one_simulation(small, commit=None, commits=["a"]))) == [
        "small",
        "n__n-1",
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"commits": ["a", "b"]},
            "config/config.yaml: commits: give commit (one) or commits (a list), not both",
        ),
        (
            {"commit": None, "commits": ["a", "b", "a"]},
            "config/config.yaml: commits: 'a' is listed twice",
        ),
        (
            {"commit": None},
            "config/config.yaml: commit: missing; give repository, commit and runner (one "
            "simulation), or simulations: (several)",
        ),
        (
            {"commit": None, "commits": []},
            "config/config.yaml: commits: missing; give repository, commit and runner (one "
            "simulation), or simulations: (several)",
        ),
    ],
)
def test_top_level_commits_are_checked_like_an_entry(
    small: str, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(UserError) as error:
        plan_runs(one_simulation(small, **change))
    assert str(error.value) == message


def test_top_level_commits_do_not_mix_with_simulations(small: str) -> None:
    with pytest.raises(UserError) as error:
        plan_runs({**lab(small), "commits": ["a", "b"]}, list_scripts=lister)
    assert str(error.value) == (
        "config/config.yaml: commits: give it inside each entry of simulations (a config has "
        "either simulations: or one repository/commit/runner at the top level)"
    )


def test_the_schema_takes_top_level_commits(small: str, tmp_path: Path) -> None:
    from simwarden.pipeline.config import check_config
    from tests.conftest import ROOT

    schema = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")
    run_config = {"name": "std", "mem_mb": 100, "runtime_min": 1}
    config = one_simulation(small, commit=None, commits=["a", "b"], run_config=run_config)
    assert check_config(config, schema)["commits"] == ["a", "b"]
    with pytest.raises(UserError, match="commits"):
        check_config({**config, "commits": "a"}, schema)


# ------------------------------------------------------------------------------ report figures


def test_figures_of_two_commits_share_a_subcategory_labelled_by_commit(small: str) -> None:
    runs = make_plan(lab(small), list_scripts=lister).runs
    v1, v2 = runs["model/small@v1"], runs["model/small@v2"]
    assert (v1.figure_group, v2.figure_group) == ("model/small", "model/small")
    assert v1.figure_labels("raster") == {"commit": "v1", "figure": "raster"}
    assert v2.figure_labels("raster") == {"commit": "v2", "figure": "raster"}
    assert runs["model/n__n-1@v2"].figure_group == "model/n__n-1"
    # One commit: as before, the run id and the figure's name.
    script = runs["dev/plot_a"]
    assert (script.figure_group, script.figure_labels("trace")) == (
        "dev/plot_a",
        {"figure": "trace"},
    )
    top = plan_runs(one_simulation(small, commit=None, commits=["a", "feature/b"]))
    assert top["small@feature_b"].figure_group == "small"
    assert top["small@feature_b"].figure_labels("raster") == {
        "commit": "feature/b",
        "figure": "raster",
    }
    assert plan_runs(one_simulation(small))["small"].figure_labels("raster") == {"figure": "raster"}


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


# ------------------------------------------------------------------------------ commits page


def test_the_commits_page_and_csv(tmp_path: Path) -> None:
    import csv
    import html as html_module

    import pandas

    from simwarden.results.commits import NO_PAIRS, write_commit_pages

    results = tmp_path / "results"
    for run, text in (("m/small@v1", "1\n"), ("m/small@v2", "2\n"), ("m/big@v1", "3\n")):
        (results / "runs" / run / "data").mkdir(parents=True)
        (results / "runs" / run / "data" / "out.txt").write_text(text)
    rows = [
        ("m/small@v1", "m", "small", "v1", 10.0, 100.0),
        ("m/small@v2", "m", "small", "v2", 12.0, 90.0),
        ("m/big@v1", "m", "big", "v1", 1.0, 1.0),
        ("m/big@v2", "m", "big", "v2", None, None),  # failed: no data directory
        ("hh", "hh", "", "main", 1.0, 1.0),
    ]
    columns = ["run", "simulation", "param_set", "ref", "wall_s", "peak_rss_mb"]
    table = pandas.DataFrame(rows, columns=columns).assign(cpu_s=1.0)
    html, out = tmp_path / "page" / "commits.html", tmp_path / "page" / "commits.csv"
    pairs = write_commit_pages(table, html, out, results)
    assert [(p.head, p.differs) for p in pairs] == [
        ("m/small: v1 -> v2", True),
        ("m/big: v1 -> v2", True),
    ]
    page = html.read_text(encoding="utf-8")
    assert "<h1>Did the results change?</h1><p>2 pairs, outputs differ in 2</p>" in page
    assert "<span class='bad'>different: out.txt</span>" in page
    assert "wall_s 10 -&gt; 12  +20.0%" in page and "peak_rss_mb 100 -&gt; 90  -10.0%" in page
    gone = results / "runs" / "m/big@v2" / "data"
    assert f"<span class='bad'>no data directory {gone}</span>" in page
    with out.open(newline="") as handle:
        found = list(csv.DictReader(handle))
    assert [
        (r["run"], r["base_wall_s"], r["wall_s"], r["file"], r["verdict"], r["detail"])
        for r in found
    ] == [
        ("m/small@v2", "10.0", "12.0", "out.txt", "different", "content differs, 2 -> 2 bytes"),
        ("m/big@v2", "1.0", "", "", "no data directory", str(gone)),
        ("m/big@v2", "1.0", "", "out.txt", "missing", "v2"),
    ]
    assert {r["results"] for r in found} == {"different: out.txt", "different: no data directory"}

    # Nothing at two commits: one line; a table it cannot compare: one warning and why.
    assert write_commit_pages(table.iloc[4:], html, out, results) == []
    assert f"<h1>Did the results change?</h1><p>{NO_PAIRS}</p>\n</body>" in html.read_text()
    assert out.read_text().count("\n") == 1  # the header only
    said: list[str] = []
    twice = pandas.concat([table, table.iloc[:1]])
    assert write_commit_pages(twice, html, out, results, warn=said.append) == []
    assert said == [
        "commits.html: Not compared: table: runs 'm/small@v1' and 'm/small@v1' are both "
        "m/small at ref 'v1'"
    ]
    assert html_module.escape(said[0].removeprefix("commits.html: ")) in html.read_text()
