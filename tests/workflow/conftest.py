"""Fixtures for end-to-end tests through the real ``snakemake`` CLI.

Each test gets its own copy of the workflow (Snakefile, rules/, scripts/, config/, workflow/,
profiles/ and the demo bundle; never results/, logs/ or .snakemake/) in ``tmp_path``, with a
small config: two tiny parameter sets and no sweeps. Fetched repositories go to one cache
directory shared by the session (``SIMWARDEN_CACHE_DIR``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml

from tests.conftest import GIT_IDENTITY, ROOT, TIMEOUT, simwarden_argv

SNAKEMAKE = [sys.executable, "-m", "snakemake"]
# A project as `simwarden init` makes one: its Snakefile includes the installed package's rules,
# so the rules, scripts and schemas are not copied (the tests run the ones a user gets).
COPIED = ("Snakefile", "config", "profiles")
BUNDLE = "examples/demo-sim.bundle"
# 100 neurons for 200 ms (20 ms in the short profile's quick mode): a run takes about a second.
TINY = {"network": {"n_neurons": 100}, "duration_ms": 200.0, "seed": 1}
SAMPLES_HEADER = (
    "time_s\trss_bytes\tcpu_percent\tprocesses\tread_bytes\twrite_bytes\t"
    "progress\teta_s\tmem_limit_bytes"
)
_JOB = re.compile(r"^\s*(?:local)?rule (\w+):\s*$")
_WILDCARDS = re.compile(r"^\s*wildcards: .*\brun=([^,\s]+)")


def git(*args: str, cwd: Path) -> str:
    """Run git in ``cwd`` with a fixed identity; fail the test with git's stderr."""
    env = {**os.environ, **GIT_IDENTITY, "HOME": str(cwd)}
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert done.returncode == 0, f"git {args}: {done.stderr}"
    return done.stdout.strip()


def make_scripts_repo(path: Path, scripts: dict[str, str], message: str = "simulations") -> str:
    """A lab's repository of executable scripts under ``sims/`` (name -> text) and a permissive
    ``schema.json``, committed once; returns the commit."""
    (path / "sims").mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=path)
    for name, text in scripts.items():
        script = path / "sims" / name
        script.write_text(text)
        script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    (path / "schema.json").write_text('{"type": "object"}\n')
    git("add", ".", cwd=path)
    git("commit", "-q", "-m", message, cwd=path)
    return git("rev-parse", "HEAD", cwd=path)


def bundle_heads(bundle: Path) -> dict[str, str]:
    """``{ref: sha}`` of a git bundle, e.g. ``{"refs/tags/v0.1": "7ca8…"}``."""
    out = git("bundle", "list-heads", str(bundle), cwd=bundle.parent)
    return {ref: sha for sha, ref in (line.split() for line in out.splitlines())}


def output(done: subprocess.CompletedProcess[str]) -> str:
    """stdout and stderr of a finished snakemake, for assertion messages."""
    return f"exit {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"


class Workflow:
    """A private copy of the workflow and the snakemake commands a user would type in it."""

    def __init__(self, root: Path, cache: Path) -> None:
        self.root = root
        self.cache = cache
        self.env = {**os.environ, "SIMWARDEN_CACHE_DIR": str(cache)}

    # -- configuration ---------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.root / "config" / "config.yaml"

    def config(self) -> dict[str, Any]:
        return yaml.safe_load(self.config_path.read_text())

    def write_config(self, config: dict[str, Any]) -> None:
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    def use_scripts(
        self, repo: Path, scripts: dict[str, str], figure_formats: list[str], message: str
    ) -> None:
        """Point the config at a new repository of executable ``scripts`` (made at ``repo``):
        a ``command`` runner running ``sims/<run id>``, its permissive ``schema.json``."""
        sha = make_scripts_repo(repo, scripts, message)
        config = self.config()
        config.update(
            repository=str(repo),
            commit=sha,
            runner={"kind": "command", "command": ["{repo}/sims/{run}", "{params}", "{outdir}"]},
            param_schema="schema.json",
            figure_formats=figure_formats,
        )
        self.write_config(config)

    def run_config_path(self, profile: str = "short") -> Path:
        return self.root / "profiles" / profile / "run.yaml"

    def run_config(self, profile: str = "short") -> dict[str, Any]:
        """The ``run_config`` section of a profile's run.yaml (it beats config.yaml's)."""
        return yaml.safe_load(self.run_config_path(profile).read_text())["run_config"]

    def write_run_config(self, run_config: dict[str, Any], profile: str = "short") -> None:
        path = self.run_config_path(profile)
        path.write_text(yaml.safe_dump({"run_config": run_config}, sort_keys=False))

    def update_run_config(self, profile: str = "short", **values: Any) -> dict[str, Any]:
        run_config = self.run_config(profile)
        run_config.update(values)
        self.write_run_config(run_config, profile)
        return run_config

    def write_params(self, name: str, params: dict[str, Any]) -> str:
        """Write ``config/params/<name>.yaml``; returns its path relative to the workflow."""
        relative = f"config/params/{name}.yaml"
        (self.root / relative).write_text(yaml.safe_dump(params, sort_keys=False))
        return relative

    def set_runs(self, **param_sets: dict[str, Any]) -> None:
        """Replace the param sets by ``name=params`` (each written to a file) and drop sweeps."""
        config = self.config()
        config["param_sets"] = {name: self.write_params(name, p) for name, p in param_sets.items()}
        config["sweeps"] = None
        self.write_config(config)

    # -- commands --------------------------------------------------------------------------------
    def argv(self, *args: str, profile: str = "short") -> list[str]:
        return [*SNAKEMAKE, "--profile", f"profiles/{profile}", *args]

    def snakemake(
        self, *args: str, profile: str = "short", timeout: float = TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args, profile=profile),
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def simwarden(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The ``simwarden`` command (``status``, ``bench``, ...) run in the workflow directory."""
        return subprocess.run(
            simwarden_argv(*args),
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )

    def dry_run(self, *args: str) -> list[tuple[str, str | None]]:
        """The jobs a dry run would execute, as sorted ``(rule, run)`` pairs (run None if none)."""
        done = self.snakemake("--dry-run", *args)
        assert done.returncode == 0, output(done)
        jobs: list[tuple[str, str | None]] = []
        rule: str | None = None
        for line in (done.stdout + "\n" + done.stderr).splitlines():
            if match := _JOB.match(line):
                if rule is not None:
                    jobs.append((rule, None))
                rule = match.group(1)
            elif rule is not None and (match := _WILDCARDS.match(line)):
                jobs.append((rule, match.group(1)))
                rule = None
            elif rule is not None and not line.strip():
                jobs.append((rule, None))
                rule = None
        if rule is not None:
            jobs.append((rule, None))
        return sorted(jobs, key=lambda job: (job[0], job[1] or ""))

    # -- results ---------------------------------------------------------------------------------
    def run_dir(self, run: str) -> Path:
        return self.root / "results" / "runs" / run

    def record(self, run: str) -> dict[str, Any]:
        return json.loads((self.run_dir(run) / "record.json").read_text())

    def attempt_dir(self, run: str, attempt: int) -> Path:
        """``results/failed/<run>/attempt-<N>``: what a failed attempt made, kept."""
        return self.root / "results" / "failed" / run / f"attempt-{attempt}"

    def attempt_record(self, run: str, attempt: int) -> dict[str, Any]:
        """The record of failed attempt ``attempt`` of ``run``, as kept."""
        return json.loads((self.attempt_dir(run, attempt) / "record.json").read_text())

    def simulations(self) -> list[psutil.Process]:
        """Live processes running this workflow copy's simulations (argv names its files)."""
        found = []
        for proc in psutil.process_iter(["cmdline"]):
            argv = proc.info["cmdline"] or []
            if any("simulate.py" in arg for arg in argv) and any(
                str(self.root) in arg for arg in argv
            ):
                found.append(proc)
        return found


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One repository cache for the whole session (each copy's bundle still gets its mirror)."""
    return tmp_path_factory.mktemp("simwarden-cache")


@pytest.fixture
def workflow(tmp_path: Path, shared_cache: Path) -> Workflow:
    """A fresh copy of the workflow with two tiny parameter sets, ``a`` and ``b``."""
    return make_workflow(tmp_path, shared_cache)


def make_workflow(parent: Path, cache: Path) -> Workflow:
    """Copy the workflow to ``parent/wf`` with two tiny parameter sets, ``a`` and ``b``."""
    flow = copy_workflow(parent / "wf", cache)
    flow.set_runs(a=TINY, b={**TINY, "seed": 2})
    return flow


def copy_workflow(root: Path, cache: Path) -> Workflow:
    """Copy the workflow as shipped (the demo's own config) to the new directory ``root``."""
    root.mkdir(parents=True)
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, root / name)
    # Snakemake would apply a profiles/default/ on top of --profile (the workflow refuses it).
    shutil.rmtree(root / "profiles" / "default", ignore_errors=True)
    (root / "examples").mkdir()
    shutil.copy2(ROOT / BUNDLE, root / BUNDLE)
    return Workflow(root, cache)


@pytest.fixture
def snakemake_procs(procs: list[subprocess.Popen[str]]) -> list[subprocess.Popen[str]]:
    """Background snakemake processes (started with ``start_new_session=True``), reaped with
    their whole process group by the shared ``procs`` fixture."""
    return procs


def wait_until(condition: Any, what: str, timeout: float = TIMEOUT, step: float = 0.05) -> Any:
    """Poll ``condition()`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
