"""Tests for simwarden.pipeline.steps: the run plan, the checks made before any job starts, parameter
validation with sweep overrides, and one simulation job under the real warden."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from simwarden.core.errors import UserError
from simwarden.pipeline.steps import (
    RunPlan,
    SimulationJob,
    plan_runs,
    refuse_default_profile,
    resolve_repository,
    run_simulation,
    validate_params,
)

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "input": {
            "type": "object",
            "default": {},
            "properties": {
                "rate_hz": {"type": "number", "minimum": 0},
                "n": {"type": "integer", "default": 5},
            },
        },
        "seed": {"type": "integer", "minimum": 0, "default": 1},
    },
}


@pytest.fixture
def sets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Two parameter files, named relative to the working directory as in config.yaml."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config" / "params").mkdir(parents=True)
    (tmp_path / "config" / "params" / "small.yaml").write_text("input: {rate_hz: 20.0}\n")
    (tmp_path / "config" / "params" / "fast.json").write_text('{"seed": 3}\n')
    return {"small": "config/params/small.yaml", "fast": "config/params/fast.json"}


# ------------------------------------------------------------------------------------ plan_runs


def test_plan_runs_expands_sets_and_sweeps_in_order(sets: dict[str, str]) -> None:
    config = {
        "param_sets": sets,
        "sweeps": {"rate": {"base": "small", "grid": {"input.rate_hz": [15.0, 25.0]}}},
    }
    plans = plan_runs(config)
    assert list(plans) == ["small", "fast", "rate__input.rate_hz-15.0", "rate__input.rate_hz-25.0"]
    assert plans["small"] == RunPlan("small", "config/params/small.yaml", {})
    assert plans["rate__input.rate_hz-25.0"] == RunPlan(
        "rate__input.rate_hz-25.0", "config/params/small.yaml", {"input": {"rate_hz": 25.0}}
    )


def test_plan_runs_zips_sweep_values(sets: dict[str, str]) -> None:
    config = {
        "param_sets": {"small": sets["small"]},
        "sweeps": {"pair": {"base": "small", "zip": {"seed": [1, 2], "input.n": [10, 20]}}},
    }
    plans = plan_runs(config)
    assert [plan.overrides for plan in plans.values()] == [
        {},
        {"input": {"n": 10}, "seed": 1},
        {"input": {"n": 20}, "seed": 2},
    ]


def test_plan_runs_without_sweeps_key(sets: dict[str, str]) -> None:
    assert list(plan_runs({"param_sets": sets, "sweeps": None})) == ["small", "fast"]


@pytest.mark.parametrize("base", ["nope", None])
def test_a_sweep_over_an_unknown_base_is_refused(sets: dict[str, str], base: str | None) -> None:
    sweep: dict[str, Any] = {"grid": {"seed": [1]}}
    if base is not None:
        sweep["base"] = base
    with pytest.raises(UserError) as error:
        plan_runs({"param_sets": sets, "sweeps": {"rate": sweep}}, "cfg.yaml")
    assert str(error.value) == (
        f"cfg.yaml: sweeps.rate.base {base!r}: expected one of the param_sets (small, fast)"
    )


def test_a_missing_parameter_file_is_named(sets: dict[str, str]) -> None:
    with pytest.raises(UserError) as error:
        plan_runs({"param_sets": {**sets, "gone": "config/params/gone.yaml"}})
    assert str(error.value) == (
        "config/config.yaml: param_sets.gone: file 'config/params/gone.yaml' not found"
    )


def test_a_sweep_id_that_clashes_with_a_set_is_refused(sets: dict[str, str]) -> None:
    config = {
        "param_sets": {**sets, "rate__seed-1": sets["small"]},
        "sweeps": {"rate": {"base": "small", "grid": {"seed": [1]}}},
    }
    with pytest.raises(UserError, match=r"sweeps.rate: run id 'rate__seed-1' is used twice"):
        plan_runs(config)


def test_no_runs_is_refused(sets: dict[str, str]) -> None:
    with pytest.raises(UserError, match="no runs: add at least one entry under param_sets"):
        plan_runs({"param_sets": {}})


@pytest.mark.parametrize("name", ["../escape", "a/b", "-x", ".hidden"])
def test_a_param_set_name_that_is_not_a_run_id_is_refused(sets: dict[str, str], name: str) -> None:
    with pytest.raises(UserError) as error:
        plan_runs({"param_sets": {name: sets["small"]}})
    assert "param_sets" in str(error.value) and repr(name) in str(error.value)


# ------------------------------------------------------------------------ checks before any job


def test_a_default_profile_is_refused(tmp_path: Path) -> None:
    refuse_default_profile(tmp_path)  # no profiles/default: fine
    (tmp_path / "profiles" / "default").mkdir(parents=True)
    with pytest.raises(UserError, match=r"^profiles/default/ exists: .*--workflow-profile none$"):
        refuse_default_profile(tmp_path)


def test_resolve_repository(tmp_path: Path) -> None:
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "sim.bundle").write_bytes(b"")
    assert resolve_repository("examples/sim.bundle", tmp_path) == str(
        (tmp_path / "examples" / "sim.bundle").resolve()
    )
    for url in (
        "https://example.org/sim.git",
        "ext::sh -c touch% pwned",
        "-uhelp",
        "git@host:sim.git",
        "missing/dir",
    ):
        assert resolve_repository(url, tmp_path) == url


# ------------------------------------------------------------------------------ validate_params


def provenance(tmp_path: Path) -> Path:
    checkout = tmp_path / "checkout"
    checkout.mkdir(exist_ok=True)
    (checkout / "schema.json").write_text(json.dumps(SCHEMA))
    code = tmp_path / "provenance.json"
    code.write_text(json.dumps({"path": str(checkout)}))
    return code


def test_validate_params_lays_overrides_over_the_file_and_fills_defaults(
    sets: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "out.json"
    code = provenance(tmp_path)
    result = validate_params(sets["small"], {"input": {"n": 7}}, "schema.json", str(code), str(out))
    assert result == {"input": {"rate_hz": 20.0, "n": 7}, "seed": 1}
    assert json.loads(out.read_text()) == result


def test_validate_params_with_a_workflow_schema(sets: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "my.schema.json").write_text(json.dumps(SCHEMA))
    out = tmp_path / "out.json"
    result = validate_params(sets["fast"], {}, "workflow:my.schema.json", "unused", str(out))
    assert result == {"input": {"n": 5}, "seed": 3}


def test_validate_params_reports_every_error_with_the_overrides(
    sets: dict[str, str], tmp_path: Path
) -> None:
    code = provenance(tmp_path)
    overrides = {"input": {"rate_hz": -1}, "seed": "x"}
    with pytest.raises(UserError) as error:
        validate_params(sets["small"], overrides, "schema.json", str(code), str(tmp_path / "o"))
    lines = str(error.value).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(
        'config/params/small.yaml (with {"input": {"rate_hz": -1}, "seed": "x"}): input.rate_hz'
    )
    assert "seed: wrong type" in lines[1]
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("schema", "fragment"),
    [
        ("../outside.json", "param_schema '../outside.json' points outside the repository"),
        ("nope.json", "param_schema 'nope.json' not found"),
        ("workflow:nope.json", "param_schema 'workflow:nope.json' not found"),
    ],
)
def test_a_bad_schema_path_is_refused(
    sets: dict[str, str], tmp_path: Path, schema: str, fragment: str
) -> None:
    code = provenance(tmp_path)
    (tmp_path / "outside.json").write_text(json.dumps(SCHEMA))
    with pytest.raises(UserError, match=fragment.replace(".", r"\.")):
        validate_params(sets["small"], {}, schema, str(code), str(tmp_path / "o.json"))


# ------------------------------------------------------------------------------ run_simulation

# Writes its argv and environment into the data directory, then exits with argv[2].
# No braces: command entries are templates.
RECORDER = (
    "import json, os, sys; "
    "open(os.path.join(sys.argv[1], 'seen.json'), 'w').write("
    "json.dumps(dict(argv=sys.argv[1:], env=dict(os.environ)))); "
    "sys.exit(int(sys.argv[2]))"
)


def make_job(tmp_path: Path, code: int, **changes: Any) -> SimulationJob:
    checkout = tmp_path / "checkout"
    checkout.mkdir(exist_ok=True)
    provenance_file = tmp_path / "provenance.json"
    provenance_file.write_text(json.dumps({"path": str(checkout)}))
    params_file = tmp_path / "results" / "params" / "r1.json"
    params_file.parent.mkdir(parents=True, exist_ok=True)
    params_file.write_text('{"seed": 1}')
    run = tmp_path / "results" / "runs" / "r1"
    job = SimulationJob(
        run="r1",
        params_file=str(params_file),
        code=str(provenance_file),
        record=str(run / "record.json"),
        samples=str(run / "samples.tsv"),
        outdir=str(run / "data"),
        log=str(tmp_path / "logs" / "r1.log"),
        runner={
            "kind": "command",
            "command": [sys.executable, "-c", RECORDER, "{outdir}", str(code)],
        },
        run_config={"name": "t", "mem_mb": 200, "grace": "1s", "env": {"MY_FLAG": 1}},
        mem_mb=200,
        runtime_min=1,
        attempt=1,
    )
    for key, value in changes.items():
        setattr(job, key, value)
    return job


def test_run_simulation_records_a_successful_run(tmp_path: Path) -> None:
    job = make_job(tmp_path, 0)
    (Path(job.outdir)).mkdir(parents=True)
    (Path(job.outdir) / "stale.txt").write_text("from an earlier attempt")
    assert run_simulation(job) == 0
    record = json.loads(Path(job.record).read_text())
    assert (record["reason"], record["exit_code"]) == ("exited", 0)
    assert record["limits"]["mem_bytes"] == 200 * 10**6
    assert record["limits"]["timeout_s"] == 60.0  # runtime_min when timeout is not set
    assert record["limits"]["mem_warn_bytes"] is None
    assert sorted(p.name for p in Path(job.outdir).iterdir()) == ["seen.json"]
    seen = json.loads((Path(job.outdir) / "seen.json").read_text())
    outdir = str(Path(job.outdir).resolve())
    assert seen["argv"] == [outdir, "0"]
    assert seen["env"]["SIMWARDEN_RUN_ID"] == "r1"
    assert seen["env"]["SIMWARDEN_OUTDIR"] == outdir
    assert seen["env"]["SIMWARDEN_PARAMS"] == str(Path(job.params_file).resolve())
    assert seen["env"]["MY_FLAG"] == "1"
    assert Path(job.samples).read_text().startswith("time_s\t")
    assert not list(Path(job.log).parent.glob("*.attempt*"))


@pytest.mark.parametrize(("timeout", "expected"), [(False, None), ("7s", 7.0), (None, 60.0)])
def test_run_simulation_time_limit(tmp_path: Path, timeout: object, expected: float | None) -> None:
    job = make_job(tmp_path, 0)
    job.run_config = {**job.run_config, "timeout": timeout}
    assert run_simulation(job) == 0
    assert json.loads(Path(job.record).read_text())["limits"]["timeout_s"] == expected


def test_a_first_attempt_clears_records_kept_by_an_earlier_invocation(tmp_path: Path) -> None:
    job = make_job(tmp_path, 0)
    log = Path(job.log)
    log.parent.mkdir(parents=True)
    for attempt in (1, 2):
        Path(f"{log}.attempt{attempt}.record.json").write_text("{}")
    other = log.parent / "r10.log.attempt1.record.json"  # another run's: left alone
    other.write_text("{}")
    assert run_simulation(job) == 0
    assert sorted(p.name for p in log.parent.iterdir()) == ["r1.log", other.name]


def test_a_second_attempt_keeps_the_first_attempts_record(tmp_path: Path) -> None:
    job = make_job(tmp_path, 0, attempt=2)
    first = Path(f"{job.log}.attempt1.record.json")
    first.parent.mkdir(parents=True)
    first.write_text("{}")
    assert run_simulation(job) == 0
    assert first.read_text() == "{}"


def test_warden_messages_name_the_run_and_attempt(tmp_path: Path) -> None:
    job = make_job(tmp_path, 0, mem_mb=1)  # the interpreter alone is over 1 MB: stopped
    job.run_config = {**job.run_config, "mem_mb": 1}
    assert run_simulation(job) == 137
    # The warden's own line (the cgroup's kernel kill or the poll's stop) carries the label.
    first = Path(job.log).read_text().splitlines()[0]
    assert first.startswith("simwarden: run r1 (attempt 1): "), first
    assert "memory limit 1.00 MB" in first, first


def test_a_failed_attempt_keeps_its_record_and_drops_its_data(tmp_path: Path) -> None:
    job = make_job(tmp_path, 3, attempt=2)
    assert run_simulation(job) == 3
    kept = Path(f"{job.log}.attempt2.record.json")
    assert json.loads(kept.read_text()) == json.loads(Path(job.record).read_text())
    assert json.loads(kept.read_text())["exit_code"] == 3
    assert not Path(job.outdir).exists()
    assert (
        "simwarden: run r1 failed (attempt 2): command exited with code 3"
        in Path(job.log).read_text()
    )


def test_a_bonsai_run_that_printed_an_exception_fails(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "flow.bonsai").write_text("<WorkflowBuilder />\n")
    # A stand-in for Bonsai.exe, which cannot run on Linux: it prints what Bonsai prints when
    # its workflow throws, and exits 0 as Bonsai does.
    exe = tmp_path / "Bonsai.exe"
    exe.write_text(
        f"#!{sys.executable}\nimport sys\n"
        "sys.stderr.write('System.InvalidOperationException: boom\\n   at X.Y()\\n')\n"
    )
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    job = make_job(
        tmp_path, 0, runner={"kind": "bonsai", "workflow": "flow.bonsai", "bonsai": str(exe)}
    )
    assert run_simulation(job) == 1
    log = Path(job.log).read_text()
    assert (
        "simwarden: Bonsai exited 0 but its workflow threw: System.InvalidOperationException: boom"
        in log
    )
    kept = json.loads(Path(f"{job.log}.attempt1.record.json").read_text())
    assert (kept["command_exit_code"], kept["exit_code"]) == (0, 1)
    assert kept["message"] == (
        "Bonsai exited 0 but its workflow threw: System.InvalidOperationException: boom"
    )
