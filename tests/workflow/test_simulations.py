"""Several simulations, scripts and commits in one config (``simulations:``), through the real
``snakemake`` (profile short): a lab repository built here with two parameterless scripts in
``dev/`` and one in ``tests/`` (one raises, one works only from the repository root), and a
parameterised model at two tagged commits whose HDF5 output differs in one dataset."""

from __future__ import annotations

import csv
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from simwarden.pipeline.gitcache import cache_key
from tests.workflow.conftest import Workflow, copy_workflow, git, output

PLOT_A = """\
from pathlib import Path
Path("plot_a.txt").write_text("a\\n")
"""
# Reads data/input.txt relative to its working directory: works only from the repository root.
NEEDS_ROOT = """\
from pathlib import Path
Path("copy.txt").write_text(Path("data/input.txt").read_text())
"""
BOOM = """\
raise RuntimeError("boom")
"""
# The model: argv = params.json outdir; out.h5 holds t (same at both tags) and v (scaled by
# GAIN, which v2 changes): exactly one dataset differs between the tags. It draws figure
# "trace", which simwarden saves when it ends (results/figures/<run>/png/trace.png).
MODEL = """\
import json, sys
import h5py, numpy as np
import matplotlib.pyplot as plt
params = json.load(open(sys.argv[1]))
GAIN = {gain}
t = np.arange(params["n"], dtype=float)
with h5py.File(sys.argv[2] + "/out.h5", "w") as f:
    f["t"] = t
    f["v"] = GAIN * np.sin(t)
plt.figure("trace")
plt.plot(t, GAIN * np.sin(t))
"""
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {"n": {"type": "integer", "minimum": 1, "default": 10}},
}
RUNS = ["model/small@v1", "model/small@v2", "dev/needs_root", "dev/plot_a", "tests/check_fail"]


def make_lab(root: Path) -> Path:
    """The lab repository: v1, then v2 (only the model's gain changes)."""
    root.mkdir()
    files = {
        "dev/plot_a.py": PLOT_A,
        "dev/needs_root.py": NEEDS_ROOT,
        "tests/check_fail.py": BOOM,
        "data/input.txt": "from the repository root\n",
        "model.py": MODEL.format(gain=1.0),
        "schema.json": json.dumps(SCHEMA),
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    git("init", "--quiet", "--initial-branch=main", cwd=root)
    git("add", ".", cwd=root)
    git("commit", "--quiet", "-m", "v1", cwd=root)
    git("tag", "v1", cwd=root)
    (root / "model.py").write_text(MODEL.format(gain=2.0))
    git("commit", "--quiet", "-am", "v2: twice the gain", cwd=root)
    git("tag", "v2", cwd=root)
    return root


def lab_config(flow: Workflow, lab: Path) -> dict[str, Any]:
    """The demo config with its simulation replaced by three entries of ``simulations:``."""
    config = flow.config()
    for key in ("repository", "commit", "runner", "param_schema", "param_sets", "sweeps"):
        config.pop(key, None)
    small = flow.write_params("small", {"n": 5})
    config["simulations"] = {
        "model": {
            "repository": str(lab),
            "commits": ["v1", "v2"],
            "runner": {"kind": "python", "script": "model.py"},
            "param_schema": "schema.json",
            "param_sets": {"small": small},
        },
        "dev": {
            "repository": str(lab),
            "commit": "v2",
            # Scripts that expect the repository root: a private working copy of it per run.
            "runner": {"kind": "python", "script": "dev/*.py", "workdir": "repo"},
        },
        "tests": {
            "repository": str(lab),
            "commit": "v2",
            "runner": {"kind": "python", "script": "tests/*.py"},
        },
    }
    return config


@pytest.fixture(scope="module")
def lab_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workflow, Path]:
    """The workflow with the lab config, run once (two runs fail, so snakemake exits 1)."""
    parent = tmp_path_factory.mktemp("lab")
    cache = parent / "cache"  # its own cache: the listing of checkouts is this test's alone
    lab = make_lab(parent / "lab")
    flow = copy_workflow(parent / "wf", cache)
    flow.write_config(lab_config(flow, lab))
    done = flow.snakemake()
    assert done.returncode == 1, output(done)
    return flow, lab


def test_run_ids_name_the_simulation_the_script_and_the_commit(
    lab_run: tuple[Workflow, Path],
) -> None:
    flow, _ = lab_run
    recorded = sorted(
        str(path.parent.relative_to(flow.root / "results" / "runs"))
        for path in (flow.root / "results" / "runs").rglob("record.json")
    )
    assert recorded == sorted(RUNS)
    context = flow.record("model/small@v2")["context"]
    assert (context["run"], context["simulation"], context["param_set"], context["ref"]) == (
        "model/small@v2",
        "model",
        "small",
        "v2",
    )
    assert flow.record("dev/plot_a")["context"]["simulation"] == "dev/plot_a"
    assert flow.record("dev/plot_a")["context"]["param_set"] is None
    assert (flow.run_dir("dev/plot_a") / "data" / "plot_a.txt").read_text() == "a\n"
    # The parameterless script got an empty parameter set and no arguments.
    assert json.loads((flow.root / "results/params/dev/plot_a.json").read_text()) == {}
    assert json.loads((flow.root / "results/params/model/small@v1.json").read_text()) == {"n": 5}


def test_one_checkout_per_commit(lab_run: tuple[Workflow, Path]) -> None:
    flow, lab = lab_run
    key = cache_key(str(lab))
    tags = {tag: git("rev-parse", f"{tag}^{{commit}}", cwd=lab) for tag in ("v1", "v2")}
    checkouts = sorted(path.name for path in (flow.cache / "checkouts").iterdir())
    assert checkouts == sorted(f"{key}@{sha}" for sha in tags.values())
    code = {
        path.name: json.loads(path.read_text())
        for path in sorted((flow.root / "results" / "code").iterdir())
    }
    assert sorted(code) == ["lab@v1.json", "lab@v2.json"]
    assert {name: entry["commit"] for name, entry in code.items()} == {
        "lab@v1.json": tags["v1"],
        "lab@v2.json": tags["v2"],
    }
    fetched = sorted(p.name for p in (flow.root / "logs" / "fetch_code").iterdir())
    assert fetched == ["lab@v1.log", "lab@v2.log"]


def test_the_failing_scripts_say_why(lab_run: tuple[Workflow, Path]) -> None:
    flow, _ = lab_run
    boom = flow.record("tests/check_fail")
    assert boom["reason"] == "exited" and boom["exit_code"] == 1, boom
    assert boom["error"]["type"] == "RuntimeError", boom["error"]
    assert boom["error"]["message"] == "boom", boom["error"]
    # dev/needs_root reads data/input.txt relative to its working directory: with
    # `workdir: repo` it runs in a private copy of the repository root, and what it wrote there
    # is collected into its data directory; the shared checkout is left as it was.
    root = flow.record("dev/needs_root")
    assert (root["reason"], root["exit_code"], root["error"]) == ("exited", 0, None), root
    data = flow.root / "results/runs/dev/needs_root/data"
    made = (p.relative_to(data).as_posix() for p in data.rglob("*") if p.is_file())
    assert sorted(name for name in made if name != ".snakemake_timestamp") == ["copy.txt"]
    assert (data / "copy.txt").read_text() == "from the repository root\n"
    assert (flow.root / "results/runs/dev/plot_a/data/plot_a.txt").read_text() == "a\n"


def test_the_table_has_a_row_per_simulation_commit_and_param_set(
    lab_run: tuple[Workflow, Path],
) -> None:
    flow, _ = lab_run
    with (flow.root / "results" / "benchmarks.csv").open(newline="") as handle:
        rows = {row["run"]: row for row in csv.DictReader(handle)}
    assert list(rows) == RUNS
    columns = next(iter(rows.values())).keys()
    assert {"simulation", "param_set", "ref"} <= set(columns)
    assert {run: (r["simulation"], r["param_set"], r["ref"]) for run, r in rows.items()} == {
        "model/small@v1": ("model", "small", "v1"),
        "model/small@v2": ("model", "small", "v2"),
        "dev/needs_root": ("dev/needs_root", "", "v2"),
        "dev/plot_a": ("dev/plot_a", "", "v2"),
        "tests/check_fail": ("tests/check_fail", "", "v2"),
    }
    assert rows["model/small@v1"]["commit"] != rows["model/small@v2"]["commit"]


def status(flow: Workflow, *args: str) -> subprocess.CompletedProcess[str]:
    return flow.simwarden("status", *args)


def test_status_counts_states_per_simulation_and_commit(lab_run: tuple[Workflow, Path]) -> None:
    flow, _ = lab_run
    done = status(flow)
    assert done.returncode == 0, output(done)
    lines = done.stdout.splitlines()
    groups = lines[lines.index("") + 1 : -2]
    assert groups == [
        "model @ v1             1 run: 1 up to date",
        "model @ v2             1 run: 1 up to date",
        "dev/needs_root @ v2    1 run: 1 up to date",
        "dev/plot_a @ v2        1 run: 1 up to date",
        "tests/check_fail @ v2  1 run: 1 failed",
    ], done.stdout
    assert lines[-2] == "5 runs: 4 up to date, 1 failed", done.stdout

    rows = json.loads(status(flow, "--simulation", "dev", "--format", "json").stdout)
    assert [(r["run"], r["simulation"], r["ref"], r["state"]) for r in rows] == [
        ("dev/needs_root", "dev/needs_root", "v2", "up to date"),
        ("dev/plot_a", "dev/plot_a", "v2", "up to date"),
    ]
    unknown = status(flow, "--simulation", "nope")
    assert unknown.returncode == 125, output(unknown)
    assert unknown.stderr == (
        "simwarden: --simulation 'nope': no such simulation; simulations: model, "
        "dev/needs_root, dev/plot_a, tests/check_fail\n"
    ), output(unknown)


def bad_config(tmp_path: Path, shared_cache: Path, edit: Any) -> subprocess.CompletedProcess[str]:
    lab = make_lab(tmp_path / "lab")
    flow = copy_workflow(tmp_path / "wf", shared_cache)
    config = lab_config(flow, lab)
    edit(config["simulations"])
    flow.write_config(config)
    return flow.snakemake("--dry-run")


def test_a_glob_matching_nothing_is_one_line(tmp_path: Path, shared_cache: Path) -> None:
    def edit(sims: dict[str, Any]) -> None:
        sims["dev"]["runner"]["script"] = "dev/*.R"

    done = bad_config(tmp_path, shared_cache, edit)
    assert done.returncode == 125, output(done)
    # Fetching the commit to expand the glob says what takes time, then the one line.
    said = [line for line in done.stderr.splitlines() if line.startswith("simwarden: ")]
    assert said[-1] == (
        "simwarden: config/config.yaml: simulations.dev.runner.script 'dev/*.R' matches no "
        f"file in {tmp_path / 'lab'} at v2"
    ), output(done)
    assert [line for line in said if "matches" in line] == said[-1:], output(done)
    assert "Traceback" not in done.stderr, output(done)


def test_two_commits_with_one_run_id_are_refused_naming_both(
    tmp_path: Path, shared_cache: Path
) -> None:
    def edit(sims: dict[str, Any]) -> None:
        lab = Path(sims["dev"]["repository"])
        git("branch", "feature/x", "v2", cwd=lab)
        git("tag", "feature_x", "v2", cwd=lab)
        sims["dev"]["commits"] = ["feature/x", "feature_x"]  # both made feature_x in run ids
        del sims["dev"]["commit"]

    done = bad_config(tmp_path, shared_cache, edit)
    assert done.returncode == 125, output(done)
    said = [line for line in done.stderr.splitlines() if line.startswith("simwarden: ")]
    assert said[-1] == (
        "simwarden: config/config.yaml: simulations.dev.runner.script 'dev/needs_root.py' at "
        "commit feature_x: run id 'dev/needs_root@feature_x' is used twice (also by "
        "simulations.dev.runner.script 'dev/needs_root.py' at commit feature/x); rename one"
    ), output(done)


def test_a_commit_that_does_not_exist_names_the_simulation(
    tmp_path: Path, shared_cache: Path
) -> None:
    def edit(sims: dict[str, Any]) -> None:
        sims["model"]["commits"] = ["v1", "v9"]

    lab = make_lab(tmp_path / "lab")
    flow = copy_workflow(tmp_path / "wf", shared_cache)
    config = lab_config(flow, lab)
    edit(config["simulations"])
    flow.write_config(config)
    done = flow.snakemake("--until", "fetch_code")
    assert done.returncode != 0, output(done)
    said = [line for line in done.stderr.splitlines() if "v9" in line and "simwarden" in line]
    assert said and said[0].startswith(
        f"simwarden: simulation model: commit v9 not found in {lab}"
    ), output(done)
    # simwarden status says why the v9 run never ran: its commit could not be fetched.
    shown = json.loads(status(flow, "--simulation", "model", "--format", "json").stdout)
    v9 = next(row for row in shown if row["run"] == "model/small@v9")
    assert (v9["state"], v9["why"]) == ("failed", ["fetch"]), v9
    assert v9["detail"].startswith(f"simulation model: commit v9 not found in {lab}"), v9
    assert v9["detail"].endswith("(logs/fetch_code/lab@v9.log)"), v9
    # The glob entries are fetched when the config is read: there the key names it.
    config["simulations"]["dev"]["commit"] = "v9"
    flow.write_config(config)
    done = flow.snakemake("--dry-run")
    assert done.returncode == 125, output(done)
    assert "simwarden: config/config.yaml: simulations.dev.commit v9: commit v9 not found" in (
        done.stderr
    ), output(done)


def test_a_branch_deleted_upstream_is_a_failed_fetch_not_its_cached_tip(
    tmp_path: Path, shared_cache: Path
) -> None:
    """The lab merged and deleted the branch a simulation ran at. Fetching it again is refused,
    naming the last commit to pin; status says the run failed to fetch, though it ran before."""
    lab = make_lab(tmp_path / "lab")
    git("branch", "feature", "v2", cwd=lab)
    flow = copy_workflow(tmp_path / "wf", shared_cache)
    config = lab_config(flow, lab)
    config["simulations"] = {"model": {**config["simulations"]["model"], "commits": ["feature"]}}
    flow.write_config(config)
    done = flow.snakemake()
    assert done.returncode == 0, output(done)
    tip = git("rev-parse", "feature", cwd=lab).strip()[:12]

    git("branch", "-q", "-D", "feature", cwd=lab)
    done = flow.snakemake("--forcerun", "fetch_code")
    assert done.returncode != 0, output(done)
    refusal = (
        f"simulation model: branch feature is no longer in {lab} (deleted or renamed there); the "
        f"last commit fetched from it is {tip}: give commit {tip} to run that commit, or a "
        "branch that exists"
    )
    assert f"simwarden: {refusal}" in done.stderr.splitlines(), output(done)
    (row,) = json.loads(status(flow, "--format", "json").stdout)
    assert (row["run"], row["state"], row["why"]) == ("model/small", "failed", ["fetch"]), row
    assert row["detail"] == f"{refusal} (logs/fetch_code/lab@feature.log)", row


def test_the_config_example_is_valid_yaml() -> None:
    """The commented simulations: example in config/config.yaml parses as YAML."""
    from tests.conftest import ROOT

    text = (ROOT / "config" / "config.yaml").read_text()
    block = text[text.index("# simulations:") : text.index("\n\n", text.index("# simulations:"))]
    example = yaml.safe_load("\n".join(line[2:] for line in block.splitlines()))
    assert list(example["simulations"]) == ["lif", "dev"]


def test_bench_compare_by_commit_names_exactly_the_changed_dataset(
    lab_run: tuple[Workflow, Path],
) -> None:
    """v2 changes GAIN: of out.h5's two datasets, only /v differs between the tags."""
    flow, _ = lab_run
    table = str(flow.root / "results" / "benchmarks.csv")
    done = flow.simwarden("bench", "compare", "--by", "commit", table, "--check")
    assert done.returncode == 1, output(done)
    outputs = [line for line in done.stdout.splitlines() if "out.h5" in line]
    assert len(outputs) == 2, done.stdout  # the pair's verdict, and the closing count line
    assert outputs[0].startswith("model/small: v1 -> v2  out.h5: different (/v: max |diff| ")
    assert "/t" not in outputs[0], done.stdout
    assert outputs[1] == "outputs differ in 1 pair: model/small: v1 -> v2 (out.h5)", done.stdout


def test_the_commits_page_says_whether_the_results_changed(lab_run: tuple[Workflow, Path]) -> None:
    """results/commits.html (the report's "Commits"): model/small at v1 and v2, both runs' time
    and memory, and out.h5 different in /v only; the same in results/commits.csv."""
    flow, _ = lab_run
    page = (flow.root / "results" / "commits.html").read_text(encoding="utf-8")
    assert "<h1>Did the results change?</h1><p>1 pair, outputs differ in 1</p>" in page
    (row,) = re.findall(r"<tr><td>.*?</tr>", page)
    assert row.startswith(
        "<tr><td>model/small</td><td>v1 \u2192 v2</td><td>model/small@v1 / model/small@v2</td>"
    ), row
    for metric in ("wall_s", "peak_rss_mb", "cpu_s"):
        assert re.search(rf"<span class='(ok|bad)'>{metric} [0-9.]+ -&gt; [0-9.]+ ", row), row
    assert "<span class='bad'>different: out.h5</span>" in row
    assert re.search(
        r"<span class='bad'>out.h5: different \(/v: max \|diff\| [0-9.]+\)</span>", row
    )
    assert "/t:" not in row
    with (flow.root / "results" / "commits.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [
        (r["simulation"], r["param_set"], r["base_ref"], r["ref"], r["file"], r["verdict"])
        for r in rows
    ] == [("model", "small", "v1", "v2", "out.h5", "different")]
    assert rows[0]["detail"].startswith("/v: max |diff| "), rows
    assert float(rows[0]["base_wall_s"]) > 0 and float(rows[0]["peak_rss_mb"]) > 0, rows


def report_index(report: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The report's categories (category -> subcategory -> paths) and results (path -> name,
    labels, ...), as Snakemake embeds them in report.html."""
    text = report.read_text(encoding="utf-8")
    found = [
        re.search(rf"^\s*var {name} = (\{{.*\}});$", text, re.MULTILINE)
        for name in ("categories", "results")
    ]
    assert all(found), "no categories or results in the report"
    return json.loads(found[0].group(1)), json.loads(found[1].group(1))  # type: ignore[union-attr]


def test_the_report_shows_both_commits_figures_together(lab_run: tuple[Workflow, Path]) -> None:
    flow, _ = lab_run
    report = flow.root / "report.html"
    done = flow.snakemake("--report", str(report))
    assert done.returncode == 0, output(done)
    categories, results = report_index(report)
    both = categories["Figures"]["model/small"]
    assert sorted(both) == [
        "results/figures/model/small@v1/png/trace.png",
        "results/figures/model/small@v2/png/trace.png",
    ]
    assert sorted((results[p]["name"], results[p]["labels"]["commit"]) for p in both) == [
        ("trace.png", "v1"),
        ("trace.png", "v2"),
    ]
    assert all(
        results[p]["labels"] == {"commit": results[p]["labels"]["commit"], "figure": "trace"}
        for p in both
    )
    assert "model/small@v1" not in categories["Figures"]
    assert list(categories["Commits"].values()) == [["results/commits.html"]]
    assert results["results/commits.html"]["labels"] == {"page": "did the results change?"}
