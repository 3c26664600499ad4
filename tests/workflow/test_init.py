"""``simwarden init``: a project directory of its own (config/, profiles/, a Snakefile of a few
lines) whose rules come from the installed package, through the real ``simwarden`` and
``snakemake`` CLIs: from this (editable) install, and from a wheel installed in a fresh venv."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

from simwarden.cli.init import snakemake_command
from tests.conftest import ROOT, TIMEOUT, simwarden_argv
from tests.workflow.conftest import BUNDLE, Workflow, bundle_heads, output

# What init says to run: the snakemake beside this Python, by its full path when not on PATH.
SNAKEMAKE = shlex.quote(snakemake_command())

# What every project holds, in the order init writes (and says) it.
PROJECT_FILES = [
    "Snakefile",
    "config/config.yaml",
    "config/params/example.yaml",
    ".gitignore",
    *(
        f"profiles/{name}/{file}"
        for name in ("short", "std", "full")
        for file in ("config.yaml", "run.yaml")
    ),
]


def run(
    argv: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)


def demo_commit() -> str:
    return bundle_heads(ROOT / BUNDLE)["refs/tags/v0.3"]


def check_project_ran(project: Path, done: subprocess.CompletedProcess[str]) -> None:
    """The project's one run (param set ``example``) finished ok, with every output of rule all."""
    assert done.returncode == 0, output(done)
    record = json.loads((project / "results" / "runs" / "example" / "record.json").read_text())
    assert (record["reason"], record["exit_code"]) == ("exited", 0)
    assert record["context"]["commit"] == demo_commit()
    for path in (
        "benchmarks.csv",
        "plots/summary.svg",
        "plots/example.resources.svg",
        "runs-ok.txt",
    ):
        assert (project / "results" / path).is_file(), path
    assert sorted(p.name for p in project.iterdir()) == sorted(
        [
            ".gitignore",
            ".snakemake",
            "Snakefile",
            "benchmarks",
            "config",
            "logs",
            "profiles",
            "results",
        ]
    )


def test_init_then_snakemake_runs_the_project(tmp_path: Path, shared_cache: Path) -> None:
    project = tmp_path / "mylab"
    done = run(
        simwarden_argv(
            "init", str(project), "--repository", str(ROOT / BUNDLE), "--commit", demo_commit()
        ),
        cwd=tmp_path,
    )
    assert done.returncode == 0, output(done)
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        *(f"simwarden: wrote {project / name}" for name in PROJECT_FILES),
        f"simwarden: next: cd {project} && {SNAKEMAKE} --profile profiles/short",
    ]
    # Only what a user edits: no rules, scripts or schemas are copied.
    assert sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file()) == sorted(
        PROJECT_FILES
    )
    # The repository's own top-level Snakefile is such a project.
    assert (project / "Snakefile").read_text() == (ROOT / "Snakefile").read_text()
    for name in ("short", "std", "full"):
        for file in ("config.yaml", "run.yaml"):
            assert (project / "profiles" / name / file).read_text() == (
                ROOT / "profiles" / name / file
            ).read_text()
    config = (project / "config" / "config.yaml").read_text()
    assert f'repository: "{ROOT / BUNDLE}"\n' in config
    assert f'commit: "{demo_commit()}"\n' in config
    assert (project / ".gitignore").read_text().splitlines()[1:] == [
        "results/",
        "logs/",
        "benchmarks/",
        ".snakemake/",
        "# The stop file (run_config.stop_file): touch it to stop a sweep; never commit it.",
        "STOP",
    ]

    check_project_ran(project, Workflow(project, shared_cache).snakemake())


def test_a_project_without_repository_and_commit_says_what_to_set(
    tmp_path: Path, shared_cache: Path
) -> None:
    done = run(simwarden_argv("init", "mylab"), cwd=tmp_path)
    assert done.returncode == 0, output(done)
    assert done.stderr.splitlines()[-1] == (
        f"simwarden: next: set repository and commit in {Path('mylab', 'config', 'config.yaml')}, "
        f"then: cd mylab && {SNAKEMAKE} --profile profiles/short"
    )
    done = Workflow(tmp_path / "mylab", shared_cache).snakemake()
    assert done.returncode == 125, output(done)
    assert [line for line in done.stderr.splitlines() if line.startswith("simwarden:")] == [
        "simwarden: config/config.yaml: set repository (your simulation's git repository: a URL, "
        "a directory or a git bundle) and commit (the commit to run: a full SHA, a tag or a "
        "branch) in place of SET-ME"
    ]
    assert "Traceback" not in done.stderr


def test_init_refuses_a_non_empty_directory_unless_forced(tmp_path: Path) -> None:
    project = tmp_path / "mylab"
    project.mkdir()
    (project / "notes.txt").write_text("mine\n")
    done = run(simwarden_argv("init", "mylab"), cwd=tmp_path)
    assert (done.returncode, done.stdout) == (125, ""), output(done)
    assert done.stderr.splitlines() == [
        "simwarden: mylab is not empty: init writes a new project into a new or empty directory "
        "(--force writes into it, replacing the project files it has)"
    ]
    assert sorted(p.name for p in project.iterdir()) == ["notes.txt"]

    done = run(simwarden_argv("init", "mylab", "--force"), cwd=tmp_path)
    assert done.returncode == 0, output(done)
    assert (project / "notes.txt").read_text() == "mine\n"
    assert (project / "Snakefile").is_file()


def test_init_and_snakemake_from_an_installed_wheel(tmp_path: Path, shared_cache: Path) -> None:
    """A non-editable install: the wheel ships the rules (simwarden/_workflow/), and the project
    runs them from the venv, not from this checkout."""
    wheels = tmp_path / "wheels"
    done = run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
        cwd=tmp_path,
    )
    assert done.returncode == 0, output(done)
    (wheel,) = wheels.glob("simwarden-*.whl")
    venv = tmp_path / "venv"
    done = run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    assert done.returncode == 0, output(done)
    python = venv / "bin" / "python"
    # The dependencies from this environment's site-packages (a path line in a .pth file: the
    # editable install's own .pth there is not read, so its simwarden stays invisible).
    purelib = run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        cwd=tmp_path,
    )
    Path(purelib.stdout.strip(), "simwarden-test-deps.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n"
    )
    install = [
        sys.executable,
        "-m",
        "pip",
        "--python",
        str(python),
        "install",
        "-q",
        "--no-deps",
        "--no-index",
    ]
    done = run([*install, str(wheel)], cwd=tmp_path)
    assert done.returncode == 0, output(done)

    env = {
        **{k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")},
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "SIMWARDEN_CACHE_DIR": str(shared_cache),
    }
    where = (
        "import simwarden, simwarden.workflow_files as w; "
        "print(simwarden.__file__); print(w.main_snakefile())"
    )
    done = run([str(python), "-c", where], cwd=tmp_path, env=env)
    assert done.returncode == 0, output(done)
    package = (
        venv.resolve()
        / "lib"
        / f"python{sys.version_info[0]}.{sys.version_info[1]}"
        / "site-packages"
        / "simwarden"
    )
    assert done.stdout.splitlines() == [
        str(package / "__init__.py"),
        str(package / "_workflow" / "rules" / "main.smk"),
    ]

    project = tmp_path / "mylab"
    done = run(
        [
            str(venv / "bin" / "simwarden"),
            "init",
            str(project),
            "--repository",
            str(ROOT / BUNDLE),
            "--commit",
            demo_commit(),
        ],
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, output(done)
    assert (project / "Snakefile").read_text() == (ROOT / "Snakefile").read_text()
    done = run(
        [str(python), "-m", "snakemake", "--profile", "profiles/short"], cwd=project, env=env
    )
    check_project_ran(project, done)
