"""Tests for simwarden.pipeline's plan, config, steps and job: the run plan, the checks made before
any job starts, parameter validation with sweep overrides, and one simulation job under the real
warden."""

from __future__ import annotations

import json
import pickle
import re
import signal
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from simwarden.core.errors import EXIT_USER_ERROR, UserError
from simwarden.core.log import say
from simwarden.core.units import DURATION_FORMS
from simwarden.pipeline import layout
from simwarden.pipeline.config import (
    ConfigFiles,
    RunConfig,
    check_commit,
    check_repository,
    refuse_default_profile,
    resolve_repository,
)
from simwarden.pipeline.job import SimulationJob, run_simulation, simulation_env, warden_options
from simwarden.pipeline.plan import RunPlan, plan_runs
from simwarden.pipeline.scripting import guarded, logging_to
from simwarden.pipeline.steps import validate_params

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


def run_config(**values: Any) -> RunConfig:
    """A checked run config named "t" with a 200 MB budget, 1 minute declared, and ``values``."""
    return RunConfig.from_config({"name": "t", "mem_mb": 200, "runtime_min": 1, **values})


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
        run_config=run_config(grace="1s", env={"MY_FLAG": 1}),
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
    job.run_config = run_config(grace="1s", env={"MY_FLAG": 1}, timeout=timeout)
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
    job.run_config = run_config(mem_mb=1, grace="1s")
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


# ------------------------------------------------------------------------------------ RunConfig


def test_run_config_is_typed_and_checked_once() -> None:
    config = RunConfig.from_config(
        {
            "name": "std",
            "mem_mb": 400,
            "runtime_min": 30,
            "timeout": "1h30m",
            "stop_signal": "USR1",
            "grace": 0,
            "mem_warn_fraction": 0.8,
            "env": {"QUICK": 1, "FLAG": True},
        }
    )
    assert config == RunConfig(
        name="std",
        mem_mb=400,
        runtime_min=30,
        retries=1,
        timeout_s=5400.0,
        no_time_limit=False,
        stop_signal=int(signal.SIGUSR1),
        grace_s=0.0,
        mem_warn_fraction=0.8,
        env=(("QUICK", "1"), ("FLAG", "True")),
    )
    assert pickle.loads(pickle.dumps(config)) == config  # handed to the rule script as it is


def test_run_config_defaults_are_the_schemas() -> None:
    config = RunConfig.from_config({"name": "t", "mem_mb": 1, "runtime_min": 1})
    assert (config.retries, config.stop_signal, config.grace_s) == (1, signal.SIGTERM, 10.0)


@pytest.mark.parametrize(
    ("timeout", "runtime_min", "expected"),
    [(None, 2, 120.0), (None, None, None), (False, 2, None), ("7s", 2, 7.0), (90, 2, 90.0)],
)
def test_the_time_limit(timeout: object, runtime_min: float | None, expected: float | None) -> None:
    config = run_config(timeout=timeout)
    assert config.time_limit_s(runtime_min) == expected


def test_bad_run_config_values_are_one_line_each_naming_key_and_file() -> None:
    section = {
        "name": "short",
        "mem_mb": 300,
        "runtime_min": 1,
        "timeout": "10x",
        "stop_signal": "TREM",
        "grace": "10x",
    }
    with pytest.raises(UserError) as error:
        RunConfig.from_config(section, lambda key: f"profiles/short/run.yaml[{key}]")
    assert str(error.value).splitlines() == [
        "profiles/short/run.yaml[timeout]: invalid run_config.timeout '10x': expected "
        + DURATION_FORMS,
        "profiles/short/run.yaml[stop_signal]: invalid run_config.stop_signal 'TREM': expected "
        "a catchable signal name or number such as TERM, INT, USR1, HUP",
        "profiles/short/run.yaml[grace]: invalid run_config.grace '10x': expected "
        + DURATION_FORMS,
    ]


@pytest.mark.parametrize("value", [True, "-1s", "KILL"])
def test_more_bad_run_config_values(value: object) -> None:
    key = "stop_signal" if value == "KILL" else "timeout"
    with pytest.raises(UserError, match=rf"^config: invalid run_config\.{key} "):
        run_config(**{key: value})


def test_config_files_name_the_file_a_key_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text(
        "commit: abc\nrun_config: {name: std, grace: 10s}\n"
    )
    run_yaml = tmp_path / "profiles" / "short" / "run.yaml"
    run_yaml.parent.mkdir(parents=True)
    run_yaml.write_text("run_config: {grace: 10x}\n")
    # Snakemake lists the --configfile (profile) files first, the Snakefile's own after them.
    files = ConfigFiles.of_workflow([str(run_yaml), "config/config.yaml"], [run_yaml])
    assert files.files == ("config/config.yaml", str(run_yaml))
    assert files.source_of("run_config", "grace") == "profiles/short/run.yaml"
    assert files.source_of("run_config", "name") == "config/config.yaml"
    assert files.source_of("commit") == "config/config.yaml"
    assert files.source_of("run_config", "timeout") == "config"  # set by no file


# ----------------------------------------------------------------- checks made at parse time


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("ext::sh -c touch% pwned", "is refused: git transport helpers"),
        ("fd::3", "is refused: git transport helpers"),
        ("-uhelp", "repository '-uhelp' is refused: it starts with '-'"),
        ("gopher://host/x", "unknown scheme 'gopher'"),
    ],
)
def test_a_bad_repository_is_refused_without_the_network(
    tmp_path: Path, url: str, fragment: str
) -> None:
    with pytest.raises(UserError) as error:
        check_repository(url, tmp_path, "config/config.yaml")
    assert str(error.value).startswith("config/config.yaml: "), error.value
    assert fragment in str(error.value)


def test_a_good_repository_is_resolved(tmp_path: Path) -> None:
    (tmp_path / "sim.bundle").write_bytes(b"")
    assert check_repository("sim.bundle", tmp_path) == str((tmp_path / "sim.bundle").resolve())
    assert check_repository("gone/dir", tmp_path) == "gone/dir"  # a cached mirror may serve it
    assert check_repository("https://x.org/s.git", tmp_path) == "https://x.org/s.git"


@pytest.mark.parametrize("commit", ["", "-x", "main branch", "a\nb"])
def test_a_bad_commit_is_refused_without_the_network(commit: str) -> None:
    with pytest.raises(UserError) as error:
        check_commit(commit, "config/config.yaml")
    assert str(error.value) == (
        f"config/config.yaml: commit: ref {commit!r} is refused; give a branch, tag or commit SHA"
    )


def test_good_commits_pass() -> None:
    for commit in ("v0.3", "9777f8893e520d1555b5eb4e04400beb9c67ce16", "main", "HEAD~1"):
        assert check_commit(commit) == commit


# --------------------------------------------------------------------------- warden options


def test_warden_options_come_from_the_job_and_the_run_config_alone(tmp_path: Path) -> None:
    job = make_job(tmp_path, 0, attempt=2, mem_mb=800, runtime_min=3)
    job.run_config = run_config(stop_signal="INT", grace="3s", mem_warn_fraction=0.5)
    options = warden_options(job, {"A": "1"}, {"run": "r1"})
    assert options.limits.mem_bytes == 800 * 10**6  # the job's mem_mb, not the run config's
    assert options.limits.timeout_s == 180.0
    assert options.limits.mem_warn_bytes == 400 * 10**6
    assert (options.stop_signal, options.grace_s) == (signal.SIGINT, 3.0)
    assert (options.record, options.samples, options.log) == (job.record, job.samples, job.log)
    assert (options.cwd, options.env, options.context) == (job.outdir, {"A": "1"}, {"run": "r1"})
    assert options.label == "run r1 (attempt 2)"
    assert options.stop_when_orphaned and options.quiet
    assert not Path(job.outdir).exists() and not Path(job.log).exists()  # nothing touched


def test_the_simulation_environment(tmp_path: Path) -> None:
    job = make_job(tmp_path, 0, figures_dir=str(tmp_path / "figs"))
    seen: list[tuple[Any, ...]] = []

    def figure_env(*args: Any) -> dict[str, str]:
        seen.append(args)
        return {"MPLBACKEND": "Agg"}

    job.figure_env = figure_env
    base = {"HOME": "/h", "SIMWARDEN_SMTP_PASSWORD": "secret", "PYTHONPATH": "/p"}
    env = simulation_env(job, base, {"run": "r1"}, figures=True)
    assert env == {
        "HOME": "/h",
        "PYTHONPATH": "/p",
        "MY_FLAG": "1",
        "SIMWARDEN_RUN_ID": "r1",
        "SIMWARDEN_PARAMS": str(Path(job.params_file).resolve()),
        "SIMWARDEN_OUTDIR": str(Path(job.outdir).resolve()),
        "MPLBACKEND": "Agg",
    }
    assert seen == [((tmp_path / "figs").resolve(), (), {"run": "r1"}, "/p")]
    assert "MPLBACKEND" not in simulation_env(job, base, {}, figures=False)  # a Bonsai run


def test_a_first_attempt_records_attempt_1_whatever_its_memory(tmp_path: Path) -> None:
    """mem_mb set with --set-resources above the run config's: still attempt 1 (the attempt is
    Snakemake's, passed by the rule, not mem_mb // run_config.mem_mb)."""
    job = make_job(tmp_path, 0, mem_mb=900)
    assert run_simulation(job) == 0
    record = json.loads(Path(job.record).read_text())
    assert record["context"]["attempt"] == 1
    assert record["limits"]["mem_bytes"] == 900 * 10**6


# ---------------------------------------------------------------------------- rule scripts


def test_a_user_error_in_a_rule_script_is_one_line_per_line_and_exit_125(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "job.log"
    log.write_text("from an earlier run\n")
    with pytest.raises(SystemExit) as done, guarded(str(log)):
        say("Cloning x")
        raise UserError("a.yaml: seed: wrong type\na.yaml: n: too small")
    assert done.value.code == EXIT_USER_ERROR == 125
    lines = [
        "simwarden: Cloning x",
        "simwarden: a.yaml: seed: wrong type",
        "simwarden: a.yaml: n: too small",
    ]
    assert log.read_text().splitlines() == lines
    assert capsys.readouterr().err.splitlines() == lines
    say("after the script")  # the job's log is no longer written
    assert log.read_text().splitlines() == lines


def test_a_step_inside_a_guarded_script_writes_each_line_once(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "r1.log"
    log.parent.mkdir()
    with guarded(str(log)), logging_to(str(log)):
        say("once")
    assert log.read_text() == "simwarden: once\n"


# ------------------------------------------------------------------------------------ layout


def test_the_rules_declare_the_rule_names_of_the_layout() -> None:
    root = Path(__file__).parents[2]
    declared = set()
    for smk in [root / "Snakefile", *sorted((root / "rules").glob("*.smk"))]:
        declared |= set(re.findall(r"^rule (\w+):", smk.read_text(), re.MULTILINE))
    names = {
        layout.FETCH_CODE,
        layout.VALIDATE_PARAMS,
        layout.RUN_SIMULATION,
        layout.PLOT_RESOURCES,
        layout.COLLECT_BENCHMARKS,
        layout.PLOT_SUMMARY,
    }
    assert declared == {*names, "all"}
    # Paths come from the layout: no literal results/, logs/ or benchmarks/ path in a rule.
    for smk in sorted((root / "rules").glob("*.smk")):
        assert not re.search(r"\"(results|logs|benchmarks)/", smk.read_text()), smk
