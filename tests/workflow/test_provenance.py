"""Every run's record says what it made and what it ran with, through the real ``snakemake``
CLI: the manifest of its data and figures (recomputed here), the packages the simulation
imported, the config files in force, a dirty local source's diff, a failed attempt's kept
files; and no secret from the environment anywhere under results/ or logs/."""

from __future__ import annotations

import hashlib
from importlib.metadata import version
from pathlib import Path
from typing import Any

from tests.workflow.conftest import Workflow, git, make_scripts_repo, output

SECRET = "s3cr3t-xyz"


def manifest_of(flow: Workflow, *directories: Path) -> list[dict[str, Any]]:
    """What the manifest must say: every file under ``directories``, hashed here."""
    entries = []
    for directory in directories:
        for path in directory.rglob("*"):
            if path.is_file() and path.name != ".snakemake_timestamp":
                data = path.read_bytes()
                shown = path.relative_to(flow.root).as_posix()
                entries.append(
                    {"path": shown, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                )
    return sorted(entries, key=lambda entry: entry["path"])


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_demo_records_its_files_packages_and_config(workflow: Workflow) -> None:
    workflow.env["LAB_API_TOKEN"] = SECRET

    done = workflow.snakemake()

    assert done.returncode == 0, output(done)
    for run, seed in (("a", 1), ("b", 2)):
        record = workflow.record(run)
        data, figures = workflow.run_dir(run) / "data", workflow.root / "results/figures" / run
        expected = manifest_of(workflow, data, figures)
        assert any(e["path"].endswith(".png") for e in expected), expected
        assert any(e["path"].startswith(f"results/runs/{run}/data/") for e in expected), expected
        assert record["manifest"] == expected
        context = record["context"]
        assert (context["params"]["seed"], context["params"]["duration_ms"]) == (seed, 200.0)
        assert context["runner"]["kind"] == "python"
        assert context["run_config_section"]["name"] == context["run_config"]
        assert context["source_diff_sha256"] is None  # a bundle: never dirty

    environment = workflow.record("a")["environment"]
    assert environment["packages"]["numpy"] == version("numpy")
    assert environment["packages"]["h5py"] == version("h5py")
    assert environment["version_line"] == f"Python {environment['python_version']}"
    assert environment["config_files"] == {
        name: sha256(workflow.root / name)
        for name in ("config/config.yaml", "profiles/short/run.yaml", "profiles/short/config.yaml")
    }
    assert (environment["snakemake_version"], environment["env_id"]) == (
        version("snakemake"),
        None,
    )

    for top in ("results", "logs"):
        for path in (workflow.root / top).rglob("*"):
            if path.is_file():
                assert SECRET.encode() not in path.read_bytes(), path


FAILING = """\
#!/bin/sh
mkdir -p "$2/nested"
echo partial > "$2/nested/.partial.txt"
echo "diverged" >&2
exit 3
"""


def test_a_dirty_local_source_and_a_kept_failure(workflow: Workflow, tmp_path: Path) -> None:
    source = tmp_path / "sims-repo"
    sha = make_scripts_repo(source, {"fails": FAILING})
    config = workflow.config()
    config.update(
        repository=str(source),
        commit=sha,
        runner={"kind": "command", "command": ["{repo}/sims/fails", "{params}", "{outdir}"]},
        param_schema="schema.json",
        figure_formats=["png"],
    )
    workflow.write_config(config)
    workflow.set_runs(fails={"seed": 1})
    (source / "notes.txt").write_text("not committed\n")  # untracked: the source is dirty

    done = workflow.snakemake()

    assert done.returncode != 0, output(done)  # check_runs fails the workflow
    diff = b"untracked: notes.txt\n"
    digest = hashlib.sha256(diff).hexdigest()
    assert (workflow.cache / "diffs" / f"{digest}.diff").read_bytes() == diff
    log = (workflow.root / "logs").rglob("*.log")
    assert any(f"has uncommitted changes (diff sha256 {digest[:12]}" in p.read_text() for p in log)

    kept = workflow.attempt_dir("fails", 1)
    kept_record = workflow.attempt_record("fails", 1)
    assert kept_record["context"]["source_diff_sha256"] == digest
    assert kept_record["context"]["commit"] == sha
    assert kept_record["manifest"] == manifest_of(workflow, kept / "data", kept / "figures")
    assert [e["path"] for e in kept_record["manifest"]] == [
        "results/failed/fails/attempt-1/data/nested/.partial.txt"
    ]
    program = workflow.cache / "checkouts"
    environment = kept_record["environment"]
    assert environment["executable"].startswith(str(program))
    assert environment["executable_sha256"] == hashlib.sha256(FAILING.encode()).hexdigest()
    assert (environment["python"], environment["version_line"]) == (None, None)
    # The run's own (failure) record names the kept files too.
    assert workflow.record("fails")["manifest"] == kept_record["manifest"]
    # trace says the source was dirty, for the kept file as for any other.
    traced = workflow.simwarden("trace", "results/failed/fails/attempt-1/data/nested/.partial.txt")
    assert traced.returncode == 0, traced.stderr
    assert f"  local changes diff sha256 {digest} (uncommitted, not in the run" in traced.stdout
    assert git("status", "--porcelain", cwd=source) == "?? notes.txt"
