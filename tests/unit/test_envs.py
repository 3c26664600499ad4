"""runner.environment: checks, ids, the plan's environments, freeze and error lines (no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simwarden.core.errors import UserError
from simwarden.pipeline.envs import (
    EnvironmentSpec,
    EnvRequest,
    env_id,
    env_python,
    environment_of,
    find_builder,
    last_error_line,
    parse_freeze,
)
from simwarden.pipeline.runners import RunnerSpec

PY = {"kind": "python", "script": "m.py"}


def test_a_runner_without_environment_has_none() -> None:
    assert environment_of(PY) is None
    assert RunnerSpec.from_config(PY).environment is None


def test_requirements_and_project_are_read() -> None:
    runner = {**PY, "environment": {"requirements": "req/r.txt", "project": True}}
    assert RunnerSpec.from_config(runner).environment == EnvironmentSpec("req/r.txt", True)


@pytest.mark.parametrize(
    ("runner", "message"),
    [
        (
            {**PY, "python": "/x/python", "environment": {"project": True}},
            "cfg: runner.environment and runner.python conflict: give python for an interpreter "
            "you installed, or environment for one simwarden builds",
        ),
        (
            {"kind": "command", "command": ["x"], "environment": {"project": True}},
            "cfg: runner.environment is for runner.kind 'python' only",
        ),
        (
            {**PY, "environment": {}},
            "cfg: runner.environment: give requirements: PATH and/or project: true",
        ),
        (
            {**PY, "environment": {"requirements": "../other/r.txt"}},
            "cfg: runner.environment.requirements '../other/r.txt' points outside the "
            "repository; give a path inside it",
        ),
        (
            {**PY, "environment": {"requirements": "/etc/r.txt"}},
            "cfg: runner.environment.requirements '/etc/r.txt' points outside the "
            "repository; give a path inside it",
        ),
    ],
)
def test_bad_environments_are_one_line(runner: dict[str, object], message: str) -> None:
    with pytest.raises(UserError) as caught:
        environment_of(runner, "cfg")
    assert str(caught.value) == message


def test_env_ids_follow_the_checkout_and_the_spec() -> None:
    spec = EnvironmentSpec("r.txt")
    assert env_id("lif@v0.3", spec) == env_id("lif@v0.3", EnvironmentSpec("r.txt"))
    assert env_id("lif@v0.3", spec).startswith("lif@v0.3-env")
    assert env_id("lif@v0.4", spec) != env_id("lif@v0.3", spec)
    assert env_id("lif@v0.3", EnvironmentSpec("r.txt", True)) != env_id("lif@v0.3", spec)


def test_the_content_hash_follows_the_requirements_bytes_not_the_commit(tmp_path: Path) -> None:
    (tmp_path / "r.txt").write_text("pyjokes==0.8.3\n")
    builder = find_builder("pip")
    one = EnvRequest(EnvironmentSpec("r.txt"), tmp_path, "a" * 40).content_hash(builder)
    other_commit = EnvRequest(EnvironmentSpec("r.txt"), tmp_path, "b" * 40).content_hash(builder)
    (tmp_path / "r.txt").write_text("pyjokes==0.8.2\n")
    changed = EnvRequest(EnvironmentSpec("r.txt"), tmp_path, "a" * 40).content_hash(builder)
    assert one == other_commit
    assert changed != one


def test_a_requirements_symlink_out_of_the_checkout_is_refused(tmp_path: Path) -> None:
    (tmp_path / "outside.txt").write_text("x\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "r.txt").symlink_to(tmp_path / "outside.txt")
    with pytest.raises(UserError, match="points outside the repository"):
        EnvRequest(EnvironmentSpec("r.txt"), repo, "c").requirements_file()


def test_the_plan_gives_runs_of_one_checkout_one_environment(tmp_path: Path) -> None:
    from simwarden.pipeline.plan import make_plan

    config = {
        "repository": str(tmp_path),
        "commit": "v1",
        "runner": {**PY, "environment": {"requirements": "r.txt"}},
        "param_sets": {"a": __file__, "b": __file__},
    }
    plan = make_plan(config, "cfg")
    (env,) = plan.envs.values()
    assert {run.env for run in plan.runs.values()} == {env.env}
    assert env.environment == {"requirements": "r.txt", "project": False}
    assert env.code == plan.runs["a"].code


def test_freeze_lines_and_error_lines() -> None:
    assert parse_freeze("pyjokes==0.8.3\nproj @ file:///tmp/src\n\n") == {
        "pyjokes": "0.8.3",
        "proj": "file:///tmp/src",
    }
    pip = "Looking in indexes\nERROR: Could not find a version\nERROR: No matching distribution\n"
    assert last_error_line(pip) == "ERROR: No matching distribution"
    uv = "  × No solution found:\n  ╰─▶ Because zz was not found, we can conclude ...\n"
    assert last_error_line(uv) == "Because zz was not found, we can conclude ..."
    assert last_error_line("") == "(no output)"


def test_an_environment_that_left_the_cache_says_how_to_build_it_again(tmp_path: Path) -> None:
    python = tmp_path / "envs" / "h" / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("")
    env_file = tmp_path / "lab@abc-env1.json"
    env_file.write_text(json.dumps({"python": str(python)}))
    assert env_python([str(env_file)]) == str(python)
    assert env_python([]) is None
    python.unlink()
    with pytest.raises(UserError) as caught:
        env_python(str(env_file))
    assert str(caught.value) == (
        f"{env_file}: its environment's interpreter {str(python)!r} is gone from the cache (was "
        "the cache cleared?); build it again: snakemake --forcerun build_env with your profile"
    )
