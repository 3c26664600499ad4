"""A simulation's own environment (runner.environment), through the real snakemake CLI.

These tests install a small pure-Python package from PyPI (pyjokes: no dependencies, and
simwarden does not depend on it). When PyPI cannot be reached they fail saying so: an
environment cannot be built without its registry, and a skip would hide that.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from simwarden.pipeline import layout
from tests.conftest import TIMEOUT
from tests.workflow.conftest import Workflow, git, make_workflow, output

PACKAGE, VERSION = "pyjokes", "0.8.3"
SCRIPT = """\
import json
import sys
from importlib.metadata import version
from pathlib import Path

import pyjokes

joke = pyjokes.get_joke()
told = {"version": version("pyjokes"), "prefix": sys.prefix, "joke": joke}
Path(sys.argv[2], "joke.json").write_text(json.dumps(told))
"""
BUILDER = """\
import sys
from pathlib import Path

from simwarden.pipeline.envs import EnvironmentSpec, EnvRequest, ensure_env

request = EnvRequest(EnvironmentSpec("requirements.txt"), Path(sys.argv[1]), "c0ffee")
print(ensure_env(request, Path(sys.argv[2]), log=print)["python"])
"""


@pytest.fixture(scope="module", autouse=True)
def pypi_reachable() -> None:
    try:
        urllib.request.urlopen(f"https://pypi.org/simple/{PACKAGE}/", timeout=20).close()
    except OSError as error:
        pytest.fail(f"PyPI is unreachable ({error}): these tests build environments from it")


def lab_repo(path: Path, requirements: str) -> str:
    """A lab's repository: requirements.txt and sims/joke.py importing the package; the commit."""
    (path / "sims").mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=path)
    (path / "requirements.txt").write_text(requirements)
    (path / "sims" / "joke.py").write_text(SCRIPT)
    (path / "schema.json").write_text('{"type": "object"}\n')
    git("add", ".", cwd=path)
    git("commit", "-q", "-m", "joke", cwd=path)
    return git("rev-parse", "HEAD", cwd=path)


def env_workflow(parent: Path, repo: Path, commit: str, cache: Path) -> Workflow:
    flow = make_workflow(parent, cache)
    config = flow.config()
    config.update(
        repository=str(repo),
        commit=commit,
        runner={
            "kind": "python",
            "script": "sims/joke.py",
            "environment": {"requirements": "requirements.txt"},
        },
        param_schema="schema.json",
    )
    flow.write_config(config)
    return flow


def build_logs(flow: Workflow) -> str:
    return "".join(p.read_text() for p in (flow.root / layout.LOGS / layout.BUILD_ENV).glob("*"))


def env_files(flow: Workflow) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in (flow.root / "results" / "envs").glob("*.json")]


def test_the_first_run_builds_the_environment_and_a_second_workflow_reuses_it(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "cache"
    commit = lab_repo(tmp_path / "repo", f"{PACKAGE}=={VERSION}\n")
    first = env_workflow(tmp_path / "one", tmp_path / "repo", commit, cache)

    done = first.snakemake("--cores", "2")

    assert done.returncode == 0, output(done)
    assert "Building environment" in build_logs(first), build_logs(first)
    (env,) = env_files(first)  # two runs (a, b), one environment
    assert env["packages"] == {PACKAGE: VERSION}
    # Each run's record names the environment and what the script imported from it.
    (env_file,) = (first.root / "results" / "envs").glob("*.json")
    for run in ("a", "b"):
        environment = first.record(run)["environment"]
        assert environment["env_id"] == env_file.name.removesuffix(".json")
        assert environment["packages"][PACKAGE] == VERSION
        assert environment["python"] == env["python"]
    assert env["commit"] == commit
    venv = Path(str(env["path"]))
    assert venv.parent.parent == cache / "envs"
    for run in ("a", "b"):
        told = json.loads((first.run_dir(run) / "data" / "joke.json").read_text())
        # A random joke (any text); the package and the interpreter are the environment's.
        assert (told["version"], told["prefix"]) == (VERSION, str(venv)), told
        assert isinstance(told["joke"], str) and told["joke"], told
    built = venv.parent.stat().st_mtime_ns

    second = env_workflow(tmp_path / "two", tmp_path / "repo", commit, cache)
    done = second.snakemake("--cores", "2")

    assert done.returncode == 0, output(done)
    assert "Using cached environment" in build_logs(second), build_logs(second)
    assert "Building" not in build_logs(second)
    assert venv.parent.stat().st_mtime_ns == built
    assert env_files(second) == [{**env}]


def test_a_changed_requirements_file_is_a_new_environment_and_stale_code(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    commit = lab_repo(repo, f"{PACKAGE}=={VERSION}\n")
    flow = env_workflow(tmp_path / "wf", repo, commit, tmp_path / "cache")
    done = flow.snakemake("--cores", "2")
    assert done.returncode == 0, output(done)
    (repo / "requirements.txt").write_text(f"{PACKAGE}>=0.8\n")
    git("commit", "-q", "-am", "looser pin", cwd=repo)
    config = flow.config()
    config["commit"] = git("rev-parse", "HEAD", cwd=repo)
    flow.write_config(config)

    jobs = flow.dry_run()
    status = flow.simwarden("status", "--format", "json")

    assert ("build_env", None) in jobs
    assert {("run_simulation", "a"), ("run_simulation", "b")} <= set(jobs)
    assert status.returncode == 0, status.stderr
    rows = {row["run"]: row for row in json.loads(status.stdout)}
    assert {run: (row["state"], row["why"]) for run, row in rows.items()} == {
        "a": ("stale", ["code"]),
        "b": ("stale", ["code"]),
    }, status.stdout


def test_a_run_without_an_environment_gets_no_build_env_job(workflow: Workflow) -> None:
    jobs = workflow.dry_run()

    assert [job for job in jobs if job[0] == "build_env"] == []
    assert ("run_simulation", "a") in jobs


def test_a_package_that_does_not_exist_fails_the_build_in_one_line(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    commit = lab_repo(tmp_path / "repo", "no-such-package-simwarden-zz\n")
    flow = env_workflow(tmp_path / "wf", tmp_path / "repo", commit, cache)

    done = flow.snakemake("--cores", "2")

    assert done.returncode != 0, output(done)
    lines = [line for line in build_logs(flow).splitlines() if "failed to build" in line]
    assert len(lines) == 1, build_logs(flow)
    assert lines[0].startswith("simwarden: environment from requirements.txt in "), lines
    assert "no-such-package-simwarden-zz" in lines[0], lines
    assert env_files(flow) == []
    assert not (flow.run_dir("a") / "record.json").exists()
    assert [p.name for p in (cache / "envs").iterdir()] == []


def test_two_concurrent_builds_of_one_environment_build_it_once(tmp_path: Path) -> None:
    repo, cache = tmp_path / "repo", tmp_path / "cache"
    lab_repo(repo, f"{PACKAGE}=={VERSION}\n")
    argv = [sys.executable, "-c", BUILDER, str(repo), str(cache)]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = []
    for proc in procs:
        out, _ = proc.communicate(timeout=TIMEOUT)
        assert proc.returncode == 0, out
        outs.append(out)

    text = "".join(outs)
    assert text.count("Building environment") == 1, text
    assert text.count("Using cached environment") == 1, text
    pythons = {out.splitlines()[-1] for out in outs}
    assert len(pythons) == 1
    assert len(list((cache / "envs").iterdir())) == 1
