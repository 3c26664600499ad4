"""``simwarden trace`` and ``simwarden reproduce`` on results made by the real ``snakemake`` CLI:
the demo (short profile, two tiny parameter sets) traced from a data file and a figure, rerun
from its record (identical or equal, exit 0; the recorded parameters even after the parameter
file was edited; ``--all``), a simulation seeded from the clock (the differing dataset and file
named, exit 1), and the bad inputs that run nothing (no record, a record without parameters, a
commit that cannot be fetched)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from tests.workflow.conftest import Workflow, make_scripts_repo, make_workflow, output

NOISY = """\
import sys
import time
from pathlib import Path

import h5py
import numpy as np

out = Path(sys.argv[2])
rng = np.random.default_rng(time.time_ns())
with h5py.File(out / "noise.h5", "w") as handle:
    handle["steady"] = np.arange(5)
    handle["noise"] = rng.random(5)
(out / "stamp.txt").write_text(f"{time.time_ns()}\\n")
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path) -> Workflow:
    """The demo run once (runs a and b) for the module's read-only tests."""
    flow = make_workflow(tmp_path_factory.mktemp("demo"), shared_cache)
    done = flow.snakemake()
    assert done.returncode == 0, output(done)
    return flow


def recorded_params(flow: Workflow, run: str) -> dict[str, object]:
    params: dict[str, object] = json.loads((flow.root / f"results/params/{run}.json").read_text())
    return params


def test_trace_of_a_data_file_and_a_figure_names_the_run(demo: Workflow, tmp_path: Path) -> None:
    commit = demo.config()["commit"]
    copy = tmp_path / "fig2.png"
    shutil.copy2(demo.root / "results/figures/b/png/raster.png", copy)
    for path, run in (
        ("results/runs/a/data/output.h5", "a"),
        ("results/figures/b/png/raster.png", "b"),
        (str(copy), "b"),
    ):
        done = demo.simwarden("trace", path, "--format", "json")
        assert done.returncode == 0, output(done)
        traced = json.loads(done.stdout)
        assert (traced["run"], traced["commit"]) == (run, commit), path
        assert traced["params"] == recorded_params(demo, run)
        assert traced["record"] == f"results/runs/{run}/record.json"
        assert traced["file"]["state"].startswith("unchanged since the run"), traced["file"]
        assert {"numpy", "h5py"} <= traced["environment"]["packages"].keys()
    text = demo.simwarden("trace", "results/runs/a/data/output.h5")
    assert text.returncode == 0, output(text)
    assert text.stdout.splitlines()[:7] == [
        "results/runs/a/data/output.h5",
        "  file          unchanged since the run",
        text.stdout.splitlines()[2],  # the sha256 and size, checked in the unit tests
        "  run           a (attempt 1), ended well",
        "  record        results/runs/a/record.json",
        f"  repository    {demo.root / 'examples/demo-sim.bundle'}",
        f"  commit        {commit}",
    ]


def test_reproduce_of_a_demo_run_is_identical_or_equal(demo: Workflow) -> None:
    done = demo.simwarden("reproduce", "a")
    assert done.returncode == 0, output(done)
    lines = done.stdout.splitlines()
    verdicts = dict(re.split(r" {2,}", line.strip(), maxsplit=1) for line in lines[3:-2])
    assert verdicts == {
        "results/figures/a/pdf/population_rate.pdf": "equal but for the creation date",
        "results/figures/a/pdf/raster.pdf": "equal but for the creation date",
        "results/figures/a/png/population_rate.png": "identical",
        "results/figures/a/png/raster.png": "identical",
        "results/runs/a/data/output.h5": "equal by value (but for the timers in /benchmark/)",
    }, done.stdout
    assert lines[-2] == "  packages      the versions the record lists"
    assert lines[-1] == (
        "a: reproduced (5 files: 2 equal but for the creation date, 2 identical, 1 equal by value)"
    )


def test_reproduce_of_a_figure_reproduces_the_run_that_made_it(
    demo: Workflow, tmp_path: Path
) -> None:
    copy = tmp_path / "for-the-paper.png"
    shutil.copy(demo.root / "results/figures/b/png/raster.png", copy)
    done = demo.simwarden("reproduce", str(copy), "--summary")
    assert done.returncode == 0, output(done)
    assert done.stdout.split(" (")[0] == "b: reproduced", done.stdout
    stray = tmp_path / "notes.txt"
    stray.write_text("mine\n")
    done = demo.simwarden("reproduce", str(stray))
    assert (done.returncode, done.stdout) == (125, ""), output(done)
    assert done.stderr.startswith(f"simwarden: {stray}: no run of this workflow made this file")


def test_reproduce_all_gives_one_line_per_run(demo: Workflow) -> None:
    done = demo.simwarden("reproduce", "--all", "--cores", "2")
    assert done.returncode == 0, output(done)
    assert [line.split(" (")[0] for line in done.stdout.splitlines()] == [
        "a: reproduced",
        "b: reproduced",
    ]


def test_reproduce_uses_the_recorded_parameters_after_the_file_changed(
    workflow: Workflow, tmp_path: Path
) -> None:
    done = workflow.snakemake()
    assert done.returncode == 0, output(done)
    recorded = recorded_params(workflow, "a")
    params_file = workflow.root / "config/params/a.yaml"
    edited = yaml.safe_load(params_file.read_text())
    edited["seed"] = 99  # in place: the record's params hash no longer matches the file
    params_file.write_text(yaml.safe_dump(edited))

    done = workflow.simwarden("reproduce", "a", "--keep", str(tmp_path / "keep"))

    assert done.returncode == 0, output(done)
    assert json.loads((tmp_path / "keep/params.json").read_text()) == recorded
    assert recorded["seed"] == 1
    again = json.loads((tmp_path / "keep/record.json").read_text())
    assert again["context"]["params"] == recorded


def test_a_simulation_seeded_from_the_clock_is_not_reproduced(
    workflow: Workflow, tmp_path: Path
) -> None:
    sha = make_scripts_repo(tmp_path / "noisy-repo", {"noisy": NOISY})
    config = workflow.config()
    config.update(
        repository=str(tmp_path / "noisy-repo"),
        commit=sha,
        runner={"kind": "python", "script": "sims/noisy"},
        param_schema="schema.json",
        figure_formats=[],
    )
    workflow.write_config(config)
    workflow.set_runs(noisy={"seed": 1})
    done = workflow.snakemake()
    assert done.returncode == 0, output(done)

    done = workflow.simwarden("reproduce", "noisy")

    assert done.returncode == 1, output(done)
    lines = done.stdout.splitlines()
    assert "results/runs/noisy/data/noise.h5" in lines[3]
    assert re.search(r"different \(/noise: max \|diff\| [0-9.e-]+\)$", lines[3]), lines[3]
    assert "results/runs/noisy/data/stamp.txt" in lines[4]
    assert lines[4].endswith("different (content differs, 20 -> 20 bytes)"), lines[4]
    assert lines[-1].startswith("noisy: NOT reproduced (2 files: 2 different): "), lines[-1]


def test_bad_input_runs_nothing(demo: Workflow, tmp_path: Path) -> None:
    keep = tmp_path / "keep"
    done = demo.simwarden("reproduce", "a2", "--keep", str(keep))
    assert (done.returncode, done.stdout) == (125, ""), output(done)
    assert done.stderr == (
        "simwarden: run 'a2' has no record (results/runs/a2/record.json not found); did you "
        "mean a?; simwarden status lists the runs of this workflow; nothing was run\n"
    )
    assert not keep.exists()

    old = tmp_path / "old"
    shutil.copytree(demo.root, old, ignore=shutil.ignore_patterns(".snakemake"))
    record_path = old / "results/runs/a/record.json"
    record = json.loads(record_path.read_text())
    del record["context"]["params"]
    record_path.write_text(json.dumps(record))
    done = demo.simwarden("reproduce", "a", "-d", str(old), "--keep", str(keep))
    assert (done.returncode, done.stdout) == (125, ""), output(done)
    assert done.stderr == (
        "simwarden: record results/runs/a/record.json: it has no recorded parameters "
        "(context.params): the record predates simwarden reproduce; run the workflow again "
        "to record them\n"
    )

    record = json.loads((demo.run_dir("b") / "record.json").read_text())
    record["context"]["repository"] = str(tmp_path / "gone.bundle")
    (old / "results/runs/b/record.json").write_text(json.dumps(record))
    done = demo.simwarden("reproduce", "b", "-d", str(old), "--keep", str(keep))
    assert (done.returncode, done.stdout) == (125, ""), output(done)
    assert done.stderr.startswith(
        f"simwarden: run b: commit {record['context']['commit']} of {tmp_path / 'gone.bundle'} "
        "is not in the cache and cannot be fetched ("
    ), done.stderr
    assert done.stderr.endswith("); nothing was run\n"), done.stderr
    assert not keep.exists()
