"""Bad input through the real ``snakemake``: a non-zero exit, one ``simwarden:`` line naming the
key or file, and no run started; values are passed as exact argv entries, never to a shell."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from simwarden.core.units import DURATION_FORMS
from simwarden.warden.record import samples_header
from tests.workflow.conftest import TINY, Workflow, output

ZERO_SHA = "0" * 40
HOSTILE = "$(touch pwned); rm -rf x `touch pwned2` 'q' \"dq\" | tee y & \\n"


def unknown_key(flow: Workflow, tmp: Path) -> None:
    config = flow.config()
    config["bogus"] = 1
    flow.write_config(config)


def wrong_type(flow: Workflow, tmp: Path) -> None:
    # In the profile's run.yaml: its run_config beats config.yaml's.
    flow.update_run_config(mem_mb="lots")


def missing_param_file(flow: Workflow, tmp: Path) -> None:
    config = flow.config()
    config["param_sets"]["gone"] = "config/params/nope.yaml"
    flow.write_config(config)


def ext_transport(flow: Workflow, tmp: Path) -> None:
    config = flow.config()
    config["repository"] = f"ext::sh -c touch% {tmp}/pwned"
    flow.write_config(config)


def option_as_repository(flow: Workflow, tmp: Path) -> None:
    config = flow.config()
    config["repository"] = "-uhelp"
    flow.write_config(config)


def unknown_commit(flow: Workflow, tmp: Path) -> None:
    config = flow.config()
    config["commit"] = ZERO_SHA
    flow.write_config(config)


def missing_script(flow: Workflow, tmp: Path) -> None:
    config = flow.config()
    config["runner"]["script"] = "nope.py"
    flow.write_config(config)


def escaping_name(flow: Workflow, tmp: Path) -> None:
    config = flow.config()
    config["param_sets"]["../escape"] = config["param_sets"]["a"]
    flow.write_config(config)


def two_schema_errors(flow: Workflow, tmp: Path) -> None:
    flow.set_runs(bad={"network": {"n_neurons": -5}, "seed": "x", "duration_ms": 200.0})


def option_as_commit(flow: Workflow, tmp: Path) -> None:
    config = flow.config()
    config["commit"] = "--upload-pack=touch pwned"
    flow.write_config(config)


def default_profile(flow: Workflow, tmp: Path) -> None:
    (flow.root / "profiles" / "default").mkdir()
    (flow.root / "profiles" / "default" / "config.yaml").write_text("cores: 1\n")


CASES: list[tuple[Callable[[Workflow, Path], None], list[str]]] = [
    (unknown_key, ["bogus: unknown key"]),
    (wrong_type, ["run_config.mem_mb: wrong type", '"lots"']),
    (missing_param_file, ["param_sets.gone: file 'config/params/nope.yaml' not found"]),
    (ext_transport, ["is refused: git transport helpers"]),
    (option_as_repository, ["repository '-uhelp' is refused: it starts with '-'"]),
    (unknown_commit, [f"commit {ZERO_SHA} not found"]),
    (option_as_commit, ["config/config.yaml: commit: ref '--upload-pack=touch pwned' is refused"]),
    (missing_script, ["runner.script 'nope.py' not found in the fetched repository"]),
    (escaping_name, ["param_sets", "'../escape'"]),
    (
        two_schema_errors,
        ["config/params/bad.yaml: network.n_neurons: too small", "seed: wrong type"],
    ),
    (default_profile, ["profiles/default/ exists"]),
]


@pytest.mark.parametrize(
    ("edit", "fragments"),
    [pytest.param(edit, fragments, id=edit.__name__) for edit, fragments in CASES],
)
def test_bad_input_is_refused_with_one_line(
    workflow: Workflow,
    tmp_path: Path,
    edit: Callable[[Workflow, Path], None],
    fragments: list[str],
) -> None:
    edit(workflow, tmp_path)
    done = workflow.snakemake()
    assert done.returncode != 0, output(done)
    lines = [line for line in done.stderr.splitlines() if fragments[0] in line]
    assert lines, output(done)
    assert lines[0].startswith("simwarden: "), output(done)
    for fragment in fragments[1:]:
        assert fragment in done.stderr, output(done)
    assert "Traceback" not in done.stderr, output(done)
    # No run started. A run refused in its own job (its parameter set, its script) has a
    # record saying so and a samples file with only its header; its job was not retried.
    runs = workflow.root / "results" / "runs"
    for record_file in runs.rglob("record.json"):
        record = json.loads(record_file.read_text())
        assert (record["reason"], record["exit_code"], record["wall_s"]) == ("refused", 125, 0.0)
        assert fragments[0] in record["message"], record["message"]
        assert (record_file.parent / "samples.tsv").read_text() == samples_header()
        assert "(attempt 2)" not in done.stderr, output(done)
    assert not list(tmp_path.rglob("pwned")), "the ext:: command ran"


def test_shell_metacharacters_reach_the_command_byte_exact(
    workflow: Workflow, tmp_path: Path
) -> None:
    """A command runner gets argv entries, and the parameter file holds the value unchanged."""
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "required": ["label"],
        "properties": {"label": {"type": "string"}},
    }
    (workflow.root / "config" / "label.schema.json").write_text(json.dumps(schema))
    # No braces in the code: the command entries are templates.
    code = (
        "import json, shutil, sys; "
        "shutil.copy(sys.argv[1], sys.argv[2] + '/seen.json'); "
        "open(sys.argv[2] + '/argv.json', 'w').write(json.dumps(sys.argv[1:]))"
    )
    config = workflow.config()
    config["runner"] = {
        "kind": "command",
        "command": [sys.executable, "-c", code, "{params}", "{outdir}", "{run}"],
    }
    config["param_schema"] = "workflow:config/label.schema.json"
    workflow.write_config(config)
    workflow.set_runs(hostile={"label": HOSTILE})
    params_text = (workflow.root / "config" / "params" / "hostile.yaml").read_text()
    assert yaml.safe_load(params_text) == {"label": HOSTILE}

    done = workflow.snakemake()
    assert done.returncode == 0, output(done)
    data = workflow.run_dir("hostile") / "data"
    assert json.loads((data / "seen.json").read_text()) == {"label": HOSTILE}
    assert json.loads((data / "argv.json").read_text()) == [
        str(workflow.root / "results" / "params" / "hostile.json"),
        str(data),
        "hostile",
    ]
    assert not list(tmp_path.rglob("pwned*")), "a shell ran the value"
    assert not list(tmp_path.rglob("y")), "a shell ran the value"


def test_bad_run_config_values_are_refused_before_any_job_starts(workflow: Workflow) -> None:
    """Durations and signals are checked when the Snakefile is parsed: one line per value naming
    the key and the file, exit 125, and no job (not even fetch_code) started."""
    workflow.update_run_config(grace="10x", stop_signal="TREM", timeout="10x")
    done = workflow.snakemake()
    assert done.returncode == 125, output(done)
    lines = [line for line in done.stderr.splitlines() if "run_config." in line]
    assert lines == [
        "simwarden: profiles/short/run.yaml: invalid run_config.timeout '10x': expected "
        + DURATION_FORMS,
        "simwarden: profiles/short/run.yaml: invalid run_config.stop_signal 'TREM': expected a "
        "catchable signal name or number such as TERM, INT, USR1, HUP",
        "simwarden: profiles/short/run.yaml: invalid run_config.grace '10x': expected "
        + DURATION_FORMS,
    ], output(done)
    assert "Traceback" not in done.stderr, output(done)
    assert "rule fetch_code" not in done.stdout + done.stderr, output(done)
    assert not (workflow.root / "results").exists(), output(done)


def test_a_typo_in_a_set_that_ran_keeps_its_results_fails_the_workflow_and_redoes_nothing_fixed(
    workflow: Workflow,
) -> None:
    """A parameter set that ran well gets a bad key: its run is not redone (its results, record
    and data stay as they were), the workflow ends with an error naming the problem, status
    says failed / validation. Fixed back as it was, no run is redone."""
    workflow.set_runs(a=TINY, b={**TINY, "seed": 2})
    done = workflow.snakemake()
    assert done.returncode == 0, output(done)
    made = {p: p.read_bytes() for p in workflow.run_dir("b").rglob("*") if p.is_file()}
    assert workflow.run_dir("b") / "record.json" in made

    workflow.write_params("b", {**TINY, "seed": 2, "sede": 3})
    done = workflow.snakemake()
    assert done.returncode == 1, output(done)
    problem = (
        "config/params/b.yaml: sede: unknown key, did you mean 'seed'? (got 3; accepted: "
        "dt_ms, duration_ms, input, network, neuron, rate_bin_ms, record_voltage, seed)"
    )
    said = done.stderr.splitlines()
    assert (
        "simwarden: 1 parameter set is refused (b): a run that ran before keeps its results and "
        "is not run again, the others fail saying why; every problem is in "
        "results/params/_errors.json"
    ) in said, output(done)
    assert (
        "simwarden: run b: its parameter set is refused, so it was not run again (its results "
        f"are from the set before): {problem}"
    ) in said, output(done)
    assert said[-1] == (
        "simwarden: fix the refused parameter set (every problem is in "
        "results/params/_errors.json), then: snakemake --profile profiles/short"
    ), output(done)
    assert "localrule run_simulation" not in done.stdout + done.stderr, output(done)
    assert {p: p.read_bytes() for p in workflow.run_dir("b").rglob("*") if p.is_file()} == made
    rows = json.loads(workflow.simwarden("status", "--format", "json").stdout)
    states = {row["run"]: (row["state"], row["why"], row["detail"]) for row in rows}
    assert states == {"a": ("up to date", [], ""), "b": ("failed", ["validation"], problem)}

    workflow.write_params("b", {**TINY, "seed": 2})
    assert [job for job in workflow.dry_run() if job[1] is not None] == []
    done = workflow.snakemake()
    assert done.returncode == 0, output(done)
    assert {p: p.read_bytes() for p in workflow.run_dir("b").rglob("*") if p.is_file()} == made
