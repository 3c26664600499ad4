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
from simwarden.pipeline.attempts import (
    NOT_RETRIED_REFUSED,
    failed_runs,
    log_tail,
    refused_and_kept,
    rerun_marker,
)
from simwarden.pipeline.config import (
    ConfigFiles,
    Notify,
    RunConfig,
    check_commit,
    check_repository,
    refuse_default_profile,
    resolve_repository,
)
from simwarden.pipeline.job import (
    AttemptDecision,
    SimulationJob,
    decide_attempt,
    figure_context,
    missing_module_hint,
    run_context,
    run_simulation,
    simulation_env,
    warden_options,
)
from simwarden.pipeline.plan import RunPlan, plan_runs
from simwarden.pipeline.scripting import guarded, logging_to
from simwarden.pipeline.session import write_snakemake_process
from simwarden.warden.record import Record, RunContext, RunError, read_record, samples_header


@pytest.fixture
def sets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Two parameter files, named relative to the working directory as in config.yaml."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config" / "params").mkdir(parents=True)
    (tmp_path / "config" / "params" / "small.yaml").write_text("input: {rate_hz: 20.0}\n")
    (tmp_path / "config" / "params" / "fast.json").write_text('{"seed": 3}\n')
    return {"small": "config/params/small.yaml", "fast": "config/params/fast.json"}


# ------------------------------------------------------------------------------------ plan_runs

# The one-simulation shape's keys that are not about parameters.
ONE = {
    "repository": "https://example.org/demo-sim.git",
    "commit": "v0.3",
    "runner": {"kind": "python", "script": "simulate.py"},
}


def one(**keys: Any) -> dict[str, Any]:
    """A one-simulation config with ``keys`` (param_sets, sweeps...)."""
    return {**ONE, **keys}


def test_plan_runs_expands_sets_and_sweeps_in_order(sets: dict[str, str]) -> None:
    config = one(
        param_sets=sets,
        sweeps={"rate": {"base": "small", "grid": {"input.rate_hz": [15.0, 25.0]}}},
    )
    plans = plan_runs(config)
    assert list(plans) == ["small", "fast", "rate__input.rate_hz-15.0", "rate__input.rate_hz-25.0"]
    runner = {"kind": "python", "script": "simulate.py"}
    assert plans["small"] == RunPlan(
        "small", "config/params/small.yaml", {}, None, "small", "v0.3", "demo-sim@v0.3", runner
    )
    assert plans["rate__input.rate_hz-25.0"] == RunPlan(
        "rate__input.rate_hz-25.0",
        "config/params/small.yaml",
        {"input": {"rate_hz": 25.0}},
        None,
        "rate__input.rate_hz-25.0",
        "v0.3",
        "demo-sim@v0.3",
        runner,
    )


def test_plan_runs_zips_sweep_values(sets: dict[str, str]) -> None:
    config = one(
        param_sets={"small": sets["small"]},
        sweeps={"pair": {"base": "small", "zip": {"seed": [1, 2], "input.n": [10, 20]}}},
    )
    plans = plan_runs(config)
    assert [plan.overrides for plan in plans.values()] == [
        {},
        {"input": {"n": 10}, "seed": 1},
        {"input": {"n": 20}, "seed": 2},
    ]


def test_plan_runs_without_sweeps_key(sets: dict[str, str]) -> None:
    assert list(plan_runs(one(param_sets=sets, sweeps=None))) == ["small", "fast"]


@pytest.mark.parametrize("base", ["nope", None])
def test_a_sweep_over_an_unknown_base_is_refused(sets: dict[str, str], base: str | None) -> None:
    sweep: dict[str, Any] = {"grid": {"seed": [1]}}
    if base is not None:
        sweep["base"] = base
    with pytest.raises(UserError) as error:
        plan_runs(one(param_sets=sets, sweeps={"rate": sweep}), "cfg.yaml")
    assert str(error.value) == (
        f"cfg.yaml: sweeps.rate.base {base!r}: expected one of the param_sets (small, fast)"
    )


def test_a_missing_parameter_file_is_named(sets: dict[str, str]) -> None:
    with pytest.raises(UserError) as error:
        plan_runs(one(param_sets={**sets, "gone": "config/params/gone.yaml"}))
    assert str(error.value) == (
        "config/config.yaml: param_sets.gone: file 'config/params/gone.yaml' not found"
    )


def test_a_sweep_id_that_clashes_with_a_set_is_refused(sets: dict[str, str]) -> None:
    config = one(
        param_sets={**sets, "rate__seed-1": sets["small"]},
        sweeps={"rate": {"base": "small", "grid": {"seed": [1]}}},
    )
    with pytest.raises(UserError, match=r"sweeps.rate: run id 'rate__seed-1' is used twice"):
        plan_runs(config)


def test_no_param_sets_is_one_run_of_the_script_as_it_is(sets: dict[str, str]) -> None:
    # Changed on purpose (issue 11): no param sets used to be refused ("no runs").
    plans = plan_runs(one(param_sets=None))
    assert plans == {
        "simulate": RunPlan(
            "simulate",
            None,
            {},
            None,
            None,
            "v0.3",
            "demo-sim@v0.3",
            {"kind": "python", "script": "simulate.py", "args": []},
        )
    }


def test_a_config_without_a_simulation_is_refused() -> None:
    with pytest.raises(UserError) as error:
        plan_runs({"param_sets": {}})
    assert str(error.value) == (
        "config/config.yaml: repository: missing; give repository, commit and runner (one "
        "simulation), or simulations: (several)"
    )


@pytest.mark.parametrize("name", ["../escape", "a/b", "-x", ".hidden"])
def test_a_param_set_name_that_is_not_a_run_id_is_refused(sets: dict[str, str], name: str) -> None:
    with pytest.raises(UserError) as error:
        plan_runs(one(param_sets={name: sets["small"]}))
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
        workdir=str(tmp_path),
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
    assert seen["env"]["SIMWARDEN_REPO_ROOT"] == str((tmp_path / "checkout").resolve())
    assert Path(job.samples).read_text().startswith("time_s\t")
    assert not (tmp_path / "results" / "failed").exists()
    assert not rerun_marker("r1", tmp_path).exists()


def test_a_refused_parameter_set_is_a_final_failure_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = make_job(tmp_path, 0)
    job.attempt = 1  # attempts are left (retries 1): a run that cannot start still ends here
    problems = ["config/params/bad.yaml: seed: too small (got -1; accepted: integer, >= 0)"]
    Path(job.params_file).write_text(json.dumps(problems))
    assert run_simulation(job) == 0  # not retried: more resources cannot fix it
    record = json.loads(Path(job.record).read_text())
    assert (record["reason"], record["exit_code"], record["wall_s"]) == ("refused", 125, 0.0)
    assert record["message"] == f"parameter set refused: {problems[0]}"
    assert record["retry_note"] == NOT_RETRIED_REFUSED
    assert (record["command"], record["samples"], record["attempts"]) == ([], 0, 1)
    assert record["context"]["run"] == "r1"
    assert Path(job.samples).read_text() == samples_header()
    assert list(Path(job.outdir).iterdir()) == []
    assert not (tmp_path / "checkout" / "out").exists()  # the command never ran
    assert (
        rerun_marker("r1", tmp_path)
        .read_text()
        .startswith(f"run r1 failed: parameter set refused: {problems[0]}\n")
    )
    said = [line for line in capsys.readouterr().err.splitlines() if line.startswith("simwarden:")]
    assert said == [
        "simwarden: run r1: its parameter set is refused; nothing was run",
        f"simwarden: {problems[0]}",
        f"simwarden: run r1 failed (attempt 1): it could not start; {NOT_RETRIED_REFUSED}",
    ]


def test_a_set_refused_while_its_file_keeps_the_one_before_is_refused_in_the_job(
    tmp_path: Path,
) -> None:
    """Validation kept the run's earlier set (for its results) and listed the new one's
    problems: if the run's job runs anyway (its code changed), it refuses; never the old set."""
    job = make_job(tmp_path, 0)
    errors = tmp_path / layout.PARAMS_ERRORS
    errors.write_text(json.dumps({"r1": ["config/params/bad.yaml: seed: too small"]}))
    assert run_simulation(job) == 0
    record = json.loads(Path(job.record).read_text())
    assert (record["reason"], record["exit_code"]) == ("refused", 125)
    assert record["message"] == "parameter set refused: config/params/bad.yaml: seed: too small"
    assert not (tmp_path / "checkout" / "out").exists()  # the command never ran


def test_a_command_that_is_not_there_is_refused_not_retried(tmp_path: Path) -> None:
    job = make_job(tmp_path, 0)
    job.runner = {"kind": "command", "command": [str(tmp_path / "no-such-program")]}
    assert run_simulation(job) == 0
    record = json.loads(Path(job.record).read_text())
    assert (record["reason"], record["exit_code"]) == ("refused", 125)
    assert "no-such-program" in record["message"]
    assert list(Path(job.outdir).iterdir()) == []


@pytest.mark.parametrize(("timeout", "expected"), [(False, None), ("7s", 7.0), (None, 60.0)])
def test_run_simulation_time_limit(tmp_path: Path, timeout: object, expected: float | None) -> None:
    job = make_job(tmp_path, 0)
    job.run_config = run_config(grace="1s", env={"MY_FLAG": 1}, timeout=timeout)
    assert run_simulation(job) == 0
    assert json.loads(Path(job.record).read_text())["limits"]["timeout_s"] == expected


def test_a_first_attempt_shelves_attempts_kept_by_an_earlier_invocation(tmp_path: Path) -> None:
    job = make_job(tmp_path, 0)
    failed = tmp_path / "results" / "failed"
    for attempt in (1, 2):
        (failed / "r1" / f"attempt-{attempt}" / "data").mkdir(parents=True)
    (failed / "r10" / "attempt-1").mkdir(parents=True)  # another run's: left alone
    assert run_simulation(job) == 0
    assert layout.failed_attempts("r1", tmp_path) == []
    shelved = sorted(p.name.split("-", 1)[1] for p in (failed / "r1" / "_earlier").iterdir())
    assert shelved == ["attempt-1", "attempt-2"]
    assert [p.name for p in (failed / "r10").iterdir()] == ["attempt-1"]


def test_a_second_attempt_leaves_the_first_attempt_kept(tmp_path: Path) -> None:
    job = make_job(tmp_path, 0, attempt=2)
    first = layout.failed_attempt_dir("r1", 1, tmp_path)
    first.mkdir(parents=True)
    (first / "record.json").write_text("{}")
    assert run_simulation(job) == 0
    assert (first / "record.json").read_text() == "{}"


def test_warden_messages_name_the_run_and_attempt(tmp_path: Path) -> None:
    job = make_job(tmp_path, 0, mem_mb=1)  # the interpreter alone is over 1 MB: stopped
    job.run_config = run_config(mem_mb=1, grace="1s")
    assert run_simulation(job) == 137
    # The warden's own line (the cgroup's kernel kill or the poll's stop) carries the label.
    first = Path(job.log).read_text().splitlines()[0]
    assert first.startswith("simwarden: run r1 (attempt 1): "), first
    # The kernel's kill says "memory limit 1.00 MB hit", the poll's stop (when a sample sees the
    # tree over the limit first) "memory 2.12 MB over limit 1.00 MB": either names the limit.
    assert re.search(r"memory (limit 1\.00 MB hit|[0-9.]+ [kM]?B over limit 1\.00 MB)", first), (
        first
    )


def test_a_retry_says_in_its_log_how_the_attempt_before_it_ended(tmp_path: Path) -> None:
    """Snakemake starts each attempt's log afresh: the retry's log says the stopped attempt's
    cause and where its files are kept (once the warden is done with the log: it owns the log
    while the command runs)."""
    first = make_job(tmp_path, 0, mem_mb=1)
    first.run_config = run_config(mem_mb=1, grace="1s")
    assert run_simulation(first) == 137
    Path(first.log).unlink()  # as Snakemake does before the next attempt
    assert run_simulation(make_job(tmp_path, 0, attempt=2)) == 0
    lines = Path(first.log).read_text().splitlines()
    kept = read_record(tmp_path / "results" / "failed" / "r1" / "attempt-1" / "record.json")
    assert kept.cause is not None and kept.cause.startswith("stopped (memory)"), kept.cause
    said = f"simwarden: run r1 (attempt 2): attempt 1 ended: {kept.cause}; " + (
        "kept in results/failed/r1/attempt-1/"
    )
    assert lines.count(said) == 1, lines


def test_a_first_attempt_says_nothing_of_an_earlier_invocations_attempts(tmp_path: Path) -> None:
    job = make_job(tmp_path, 0, mem_mb=1)
    job.run_config = run_config(mem_mb=1, grace="1s")
    assert run_simulation(job) == 137
    Path(job.log).unlink()
    assert run_simulation(make_job(tmp_path, 0)) == 0  # the next invocation's attempt 1
    assert "ended:" not in Path(job.log).read_text()
    assert not (tmp_path / "results" / "failed" / "r1" / "attempt-1").exists()  # shelved


# Draws a "figure" file and writes data, says why on stderr, then exits with argv[3].
CRASHER = (
    "import os, sys; "
    "open(os.path.join(sys.argv[1], 'part.txt'), 'w').write('half'); "
    "os.makedirs(os.path.join(sys.argv[2], 'png')); "
    "open(os.path.join(sys.argv[2], 'png', 'raster.png'), 'w').write('png'); "
    "print('step 1 of 3'); "
    "sys.stderr.write('loading the model\\nmodel file is corrupt\\n'); "
    "sys.exit(int(sys.argv[3]))"
)


def crashing_job(tmp_path: Path, code: int, **changes: Any) -> SimulationJob:
    figures = tmp_path / "results" / "figures" / "r1"
    job = make_job(tmp_path, code, figures_dir=str(figures), **changes)
    job.runner = {
        "kind": "command",
        "command": [sys.executable, "-c", CRASHER, "{outdir}", str(figures), str(code)],
    }
    return job


def test_a_final_failure_keeps_the_attempt_and_writes_the_run_outputs(tmp_path: Path) -> None:
    """Exit code 3 is not in retry_on [memory]: the first attempt is final. What it made moves
    to results/failed/r1/attempt-1; the run's outputs say it failed; the job ends well (0)."""
    job = crashing_job(tmp_path, 3)
    assert run_simulation(job) == 0

    kept = tmp_path / "results" / "failed" / "r1" / "attempt-1"
    assert sorted(p.name for p in kept.iterdir()) == [
        "data",
        "figures",
        "log-tail.txt",
        "record.json",
        "samples.tsv",
    ]
    assert (kept / "data" / "part.txt").read_text() == "half"
    assert (kept / "figures" / "png" / "raster.png").read_text() == "png"
    kept_record = read_record(kept / "record.json")
    assert (kept_record.reason, kept_record.exit_code, kept_record.attempts) == ("exited", 3, 1)

    record = read_record(job.record)
    assert record.to_dict() == kept_record.to_dict()
    assert record.failed
    assert Path(job.samples).read_text() == (kept / "samples.tsv").read_text()
    assert Path(job.samples).read_text().startswith("time_s\t")
    assert list(Path(job.outdir).iterdir()) == []
    assert list(Path(job.figures_dir or "").iterdir()) == []
    marker = rerun_marker("r1", tmp_path)
    assert marker == tmp_path / "logs" / "run_simulation" / "r1.failed"
    assert marker.stat().st_mtime_ns >= Path(job.record).stat().st_mtime_ns

    line = (
        f"simwarden: run r1 failed (attempt 1): {record.cause}; not retried: exit code 3 is not "
        "in run_config.retry_on [memory]; its files are kept in results/failed/r1/attempt-1"
    )
    log = Path(job.log).read_text().splitlines()
    assert log[-1] == line
    assert "step 1 of 3" in (kept / "log-tail.txt").read_text()


def test_the_last_attempt_is_final_whatever_its_reason(tmp_path: Path) -> None:
    job = crashing_job(tmp_path, 3, attempt=2)
    job.run_config = run_config(grace="1s", retry_on=["memory"], retries=1)
    assert run_simulation(job) == 0
    assert read_record(job.record).attempts == 2
    assert layout.failed_attempts("r1", tmp_path) == [
        (2, tmp_path / "results" / "failed" / "r1" / "attempt-2")
    ]


def test_a_memory_stop_with_attempts_left_is_retried(tmp_path: Path) -> None:
    """Exit 137 (memory) at attempt 1 of 2: the attempt is kept and the job exits 137, so
    Snakemake retries it with twice the memory; the run has no outputs and no rerun marker."""
    job = make_job(tmp_path, 0, mem_mb=1)  # the interpreter alone is over 1 MB: stopped
    job.run_config = run_config(mem_mb=1, grace="1s")
    assert run_simulation(job) == 137
    assert not Path(job.record).exists()
    assert not Path(job.samples).exists()
    assert not Path(job.outdir).exists()
    assert not rerun_marker("r1", tmp_path).exists()
    kept = read_record(layout.failed_attempt_dir("r1", 1, tmp_path) / "record.json")
    assert (kept.reason, kept.exit_code, kept.attempts) == ("memory", 137, 1)
    last = Path(job.log).read_text().splitlines()[-1]
    assert last.startswith("simwarden: run r1 failed (attempt 1): "), last
    assert last.endswith(
        "; retried with more memory: reason memory is in run_config.retry_on [memory]"
        "; its files are kept in results/failed/r1/attempt-1"
    ), last


def test_a_memory_stop_on_the_last_attempt_is_final(tmp_path: Path) -> None:
    job = make_job(tmp_path, 0, mem_mb=1)
    job.run_config = run_config(mem_mb=1, grace="1s", retries=0)
    assert run_simulation(job) == 0
    record = read_record(job.record)
    assert (record.reason, record.exit_code, record.attempts) == ("memory", 137, 1)
    assert "; no attempts left (run_config.retries is 0); " in Path(job.log).read_text()
    assert rerun_marker("r1", tmp_path).exists()


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
    assert run_simulation(job) == 0  # final at once: exit code 1 is not in retry_on
    log = Path(job.log).read_text()
    assert (
        "simwarden: Bonsai exited 0 but its workflow threw: System.InvalidOperationException: boom"
        in log
    )
    record = read_record(job.record)
    assert (record.command_exit_code, record.exit_code, record.attempts) == (0, 1, 1)
    assert record.message == (
        "Bonsai exited 0 but its workflow threw: System.InvalidOperationException: boom"
    )
    assert record.error == RunError(
        type="System.InvalidOperationException",
        message="boom",
        traceback="System.InvalidOperationException: boom\n   at X.Y()",
    )
    assert record.cause == "System.InvalidOperationException: boom"
    kept = read_record(layout.failed_attempt_dir("r1", 1, tmp_path) / "record.json")
    assert kept.to_dict() == record.to_dict()


# ------------------------------------------------------------------------------ decide_attempt


def ended(reason: str, code: int) -> Record:
    return Record(reason=reason, exit_code=code, message=f"{reason} {code}")


@pytest.mark.parametrize(
    ("record", "attempt", "retry_on", "expected"),
    [
        (ended("exited", 0), 1, ("memory",), AttemptDecision("success", 0)),
        (ended("exited", 0), 2, ("memory",), AttemptDecision("success", 0)),
        (
            ended("memory", 137),
            1,
            ("memory",),
            AttemptDecision(
                "retry",
                137,
                "retried with more memory: reason memory is in run_config.retry_on [memory]",
            ),
        ),
        (
            ended("timeout", 124),
            1,
            ("memory", "timeout"),
            AttemptDecision(
                "retry",
                124,
                "retried with more time: reason timeout is in "
                "run_config.retry_on [memory, timeout]",
            ),
        ),
        (
            ended("exited", 1),
            1,
            ("memory",),
            AttemptDecision(
                "final", 0, "not retried: exit code 1 is not in run_config.retry_on [memory]"
            ),
        ),
        (
            ended("timeout", 124),
            1,
            ("memory",),
            AttemptDecision(
                "final",
                0,
                "not retried: reason timeout (exit 124) is not in run_config.retry_on [memory]",
            ),
        ),
        (
            ended("memory", 137),
            1,
            (),
            AttemptDecision(
                "final", 0, "not retried: reason memory (exit 137) is not in run_config.retry_on []"
            ),
        ),
        (
            ended("memory", 137),
            3,
            ("memory",),
            AttemptDecision("final", 0, "no attempts left (run_config.retries is 2)"),
        ),
        (
            ended("signal", 130),
            1,
            ("memory",),
            AttemptDecision("interrupted", 130, "stopped from outside, not judged as the run's"),
        ),
        (
            ended("stopped", 123),
            1,
            ("memory",),
            AttemptDecision(
                "stopped",
                0,
                "the stop file asked for it: remove the file and run again to redo this run",
            ),
        ),
    ],
)
def test_decide_attempt(
    record: Record, attempt: int, retry_on: tuple[str, ...], expected: AttemptDecision
) -> None:
    config = run_config(retries=2, retry_on=list(retry_on))
    assert decide_attempt(record, attempt, config) == expected


def test_an_exit_0_with_a_stop_reason_is_still_a_failure() -> None:
    """The warden stopped it for memory although the command exited 0 on the polite signal."""
    decision = decide_attempt(ended("memory", 0), 1, run_config(retries=0))
    assert decision.outcome == "final"


# --------------------------------------------------------------------- failed runs, the marker


def write_record(root: Path, run: str, **values: Any) -> None:
    path = root / layout.for_run(layout.RECORD, run)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values))


def test_failed_runs_names_each_failed_run_and_marks_it_for_a_redo(tmp_path: Path) -> None:
    write_record(tmp_path, "ok", reason="exited", exit_code=0)
    write_record(
        tmp_path,
        "crash",
        reason="exited",
        exit_code=1,
        error={"type": "ValueError", "message": "boom", "where": "sim.py:3"},
    )
    write_record(tmp_path, "hungry", reason="memory", exit_code=137, message="over 300 MB")
    (tmp_path / layout.for_run(layout.RECORD, "torn")).parent.mkdir(parents=True)
    (tmp_path / layout.for_run(layout.RECORD, "torn")).write_text('{"reason": "exi')
    lines = failed_runs(["ok", "crash", "hungry", "torn", "never"], tmp_path)
    assert lines[:2] == [
        "run crash failed: ValueError: boom (sim.py:3)",
        "run hungry failed: over 300 MB",
    ]
    assert lines[2].startswith("run torn: record '"), lines[2]
    assert "results/runs/torn/record.json' cannot be read: " in lines[2]
    assert len(lines) == 3
    marked = sorted(p.name for p in (tmp_path / "logs" / "run_simulation").iterdir())
    assert marked == ["crash.failed", "hungry.failed", "torn.failed"]


def test_a_refused_set_of_a_run_that_ended_well_is_a_line_without_a_redo(tmp_path: Path) -> None:
    """check_runs fails the workflow for a run whose set is refused while its results from the
    set before are kept; one whose own record says refused is failed_runs' line."""
    write_record(tmp_path, "kept", reason="exited", exit_code=0)
    write_record(tmp_path, "new", reason="refused", exit_code=125, message="parameter set refused")
    write_record(tmp_path, "fine", reason="exited", exit_code=0)
    errors = tmp_path / layout.PARAMS_ERRORS
    errors.parent.mkdir(parents=True, exist_ok=True)
    errors.write_text(json.dumps({"kept": ["a.yaml: x: bad", "a.yaml: y: bad"], "new": ["n"]}))
    assert refused_and_kept(["kept", "new", "fine", "never"], tmp_path) == [
        "run kept: its parameter set is refused, so it was not run again (its results are from "
        "the set before): a.yaml: x: bad; a.yaml: y: bad"
    ]
    assert not (tmp_path / "logs").exists()  # no rerun marker: nothing to redo until fixed


def test_log_tail_keeps_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    log.write_text("".join(f"line {i}\n" for i in range(120)))
    assert log_tail(log) == "".join(f"line {i}\n" for i in range(70, 120))
    assert log_tail(log, 2) == "line 118\nline 119\n"
    assert log_tail(tmp_path / "gone.log") == ""


# ------------------------------------------------------------------------ the Snakemake process


def test_the_snakemake_process_is_recorded_by_pid_and_start_time(tmp_path: Path) -> None:
    import os

    import psutil

    path = write_snakemake_process(tmp_path)
    assert path == tmp_path / ".snakemake" / "simwarden" / "snakemake.json"
    assert json.loads(path.read_text()) == {
        "pid": os.getpid(),
        "create_time": psutil.Process().create_time(),
    }


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
    assert config.retry_on == ("memory",)
    assert config.attempts == 2


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["memory", "timeout"], ("memory", "timeout")),
        (["timeout", "timeout"], ("timeout",)),
        ([], ()),
        ("memory", ("memory",)),
    ],
)
def test_retry_on(value: object, expected: tuple[str, ...]) -> None:
    assert run_config(retry_on=value).retry_on == expected


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (["memory", "exit"], "'exit'"),
        (["Memory"], "'Memory'"),
        ([1], "[1]"),
        ({"memory": True}, "{'memory': True}"),
    ],
)
def test_a_bad_retry_on_is_one_line_naming_the_key_and_file(value: object, shown: str) -> None:
    with pytest.raises(UserError) as error:
        RunConfig.from_config(
            {"name": "t", "mem_mb": 1, "runtime_min": 1, "retry_on": value},
            lambda key: f"profiles/short/run.yaml[{key}]",
        )
    message = str(error.value)
    assert message.startswith(
        f"profiles/short/run.yaml[retry_on]: invalid run_config.retry_on {shown}: expected a list "
        "of memory, timeout"
    ), message
    assert "\n" not in message


def test_a_timeout_retry_gets_the_time_limit_times_the_attempt() -> None:
    config = run_config(timeout="10s", retry_on=["memory", "timeout"])
    assert (config.time_limit_s(1, 1), config.time_limit_s(1, 3)) == (10.0, 30.0)
    assert (config.runtime_for(1), config.runtime_for(2)) == (1, 2)
    memory_only = run_config(timeout="10s")
    assert (memory_only.time_limit_s(1, 3), memory_only.runtime_for(3)) == (10.0, 1)


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


def test_the_guards_are_parsed_once_with_paths_made_absolute(tmp_path: Path) -> None:
    config = RunConfig.from_config(
        {
            "name": "full",
            "mem_mb": 1,
            "runtime_min": 1,
            "min_free_disk": "2GB",
            "host_mem_max": "90%",
            "stop_file": "STOP",
            "stall_timeout": "30m",
        },
        workflow_dir=tmp_path,
    )
    assert (config.min_free_disk_bytes, config.host_mem_percent) == (2 * 10**9, 90.0)
    assert config.disk_path == str(tmp_path.resolve() / "results")  # the default
    assert config.stop_file == str(tmp_path.resolve() / "STOP")
    assert config.stall_timeout_s == 1800.0
    assert config.notify is None
    assert pickle.loads(pickle.dumps(config)) == config
    elsewhere = RunConfig.from_config(
        {"name": "t", "mem_mb": 1, "runtime_min": 1, "min_free_disk": 500, "disk_path": "/scratch"},
        workflow_dir=tmp_path,
    )
    assert (elsewhere.min_free_disk_bytes, elsewhere.disk_path) == (500 * 10**6, "/scratch")
    assert run_config(host_mem_max=90).host_mem_percent == 90.0
    off = run_config()
    assert (off.min_free_disk_bytes, off.disk_path, off.host_mem_percent) == (None, None, None)
    assert (off.stop_file, off.stall_timeout_s) == (None, None)


def test_notify_recipients_come_from_the_config_else_the_environment() -> None:
    base = {"name": "t", "mem_mb": 1, "runtime_min": 1}
    env = {"SIMWARDEN_NOTIFY_EMAIL": " me@example.org, ,you@example.org "}
    from_env = RunConfig.from_config({**base, "notify": {}}, environ=env).notify
    assert from_env == Notify(
        email=("me@example.org", "you@example.org"),
        events=("memory", "timeout", "stalled", "disk", "host_memory", "failed"),
    )
    assert from_env.enabled
    named = {"email": "ops@example.org", "command": ["true"], "events": ["stopped", "stopped"]}
    given = RunConfig.from_config({**base, "notify": named}, environ=env).notify
    assert given == Notify(email=("ops@example.org",), command=("true",), events=("stopped",))
    nobody = RunConfig.from_config({**base, "notify": {"events": []}}, environ={}).notify
    assert nobody == Notify() and not nobody.enabled


@pytest.mark.parametrize(
    ("values", "line"),
    [
        (
            {"min_free_disk": "lots"},
            "invalid run_config.min_free_disk 'lots': expected a size like 2GB, 500MB or 1.5GiB",
        ),
        (
            {"min_free_disk": "10%"},
            "invalid run_config.min_free_disk '10%': expected a size like 2GB, 500MB or 1.5GiB",
        ),
        (
            {"host_mem_max": "150%"},
            "invalid run_config.host_mem_max '150%': expected a percentage greater than 0 and at "
            "most 100, like 90 or 90%",
        ),
        (
            {"stall_timeout": "soon"},
            f"invalid run_config.stall_timeout 'soon': expected {DURATION_FORMS}",
        ),
        ({"stop_file": ""}, "invalid run_config.stop_file '': expected a path"),
        (
            {"notify": {"events": ["explode"]}},
            "invalid run_config.notify.events 'explode': expected a list of memory, timeout, "
            "stalled, disk, host_memory, stopped, failed, mem_warn, succeeded",
        ),
        (
            {"notify": {"email": ["not-an-address"]}},
            "invalid run_config.notify.email 'not-an-address': expected one email address per "
            "item, like a@b.org",
        ),
        (
            {"notify": {"command": ["no-such-program-here"]}},
            "invalid run_config.notify.command 'no-such-program-here': expected a program that "
            "can be run (not found, or not executable)",
        ),
    ],
)
def test_a_bad_guard_or_notify_value_is_one_line_naming_key_and_file(
    values: dict[str, Any], line: str
) -> None:
    key = next(iter(values))
    with pytest.raises(UserError) as error:
        RunConfig.from_config(
            {"name": "t", "mem_mb": 1, "runtime_min": 1, **values},
            lambda name: f"profiles/{name}.yaml",
            environ={},
        )
    assert str(error.value) == f"profiles/{key}.yaml: {line}"


def test_every_bad_value_at_once_and_the_environment_named() -> None:
    section = {
        "name": "t",
        "mem_mb": 1,
        "runtime_min": 1,
        "grace": "10x",
        "host_mem_max": 0,
        "notify": {"events": ["boom"]},
    }
    env = {"SIMWARDEN_NOTIFY_EMAIL": "a@b.org,bad address", "SIMWARDEN_SMTP_PORT": "x"}
    with pytest.raises(UserError) as error:
        RunConfig.from_config(section, lambda key: "run.yaml", environ=env)
    assert str(error.value).splitlines() == [
        f"run.yaml: invalid run_config.grace '10x': expected {DURATION_FORMS}",
        "run.yaml: invalid run_config.host_mem_max 0: expected a percentage greater than 0 and "
        "at most 100, like 90 or 90%",
        "invalid SIMWARDEN_NOTIFY_EMAIL 'bad address': expected one email address per item, "
        "like a@b.org",
        "run.yaml: invalid run_config.notify.events 'boom': expected a list of memory, timeout, "
        "stalled, disk, host_memory, stopped, failed, mem_warn, succeeded",
    ]
    mailed = {**section, "grace": "1s", "host_mem_max": 50, "notify": {"email": ["a@b.org"]}}
    with pytest.raises(UserError) as smtp:
        RunConfig.from_config(mailed, environ={"SIMWARDEN_SMTP_PORT": "x"})
    assert str(smtp.value) == (
        "SIMWARDEN_SMTP_PORT='x' is not a TCP port: give a number from 1 to 65535 (or leave it "
        "unset for 25 with tls=none); it is needed to mail a@b.org"
    )


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
    assert options.notifiers == ()  # run_simulation adds them


def test_warden_options_carry_the_guards(tmp_path: Path) -> None:
    job = make_job(tmp_path, 0)
    job.run_config = RunConfig.from_config(
        {
            "name": "t",
            "mem_mb": 1,
            "runtime_min": 1,
            "min_free_disk": "1GB",
            "host_mem_max": "95%",
            "stop_file": "STOP",
            "stall_timeout": "2m",
        },
        workflow_dir=tmp_path,
    )
    options = warden_options(job, {}, {})
    limits = options.limits
    assert (limits.min_free_disk_bytes, limits.disk_path) == (10**9, str(tmp_path / "results"))
    assert (limits.host_mem_percent, limits.stall_timeout_s) == (95.0, 120.0)
    assert options.stop_file == str(tmp_path / "STOP")


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
        "SIMWARDEN_IMPORTS_FILE": str(Path(job.log).with_suffix(".imports.json").absolute()),
        "SIMWARDEN_DISTRIBUTIONS_CACHE": str(
            (Path(job.workdir) / ".snakemake" / "simwarden" / "distributions").absolute()
        ),
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
        layout.COLLECT_BENCHMARKS,
        layout.PLOT_SUMMARY,
        layout.CHECK_RUNS,
        layout.BUILD_ENV,
    }
    assert declared == {*names, "all"}
    # Paths come from the layout: no literal results/, logs/ or benchmarks/ path in a rule.
    for smk in sorted((root / "rules").glob("*.smk")):
        assert not re.search(r"\"(results|logs|benchmarks)/", smk.read_text()), smk


def test_run_context_names_the_simulation_param_set_and_ref(tmp_path: Path) -> None:
    job = make_job(tmp_path, 0, simulation="lif", param_set="small", ref="v0.3")
    job.run = "lif/small@v0.3"
    context = run_context(job, {"url": "https://x/lif.git", "commit": "a" * 40}, {"seed": 1})
    assert context == {
        "run": "lif/small@v0.3",
        "repository": "https://x/lif.git",
        "commit": "a" * 40,
        "params_hash": context["params_hash"],
        "run_config": "t",
        "attempt": 1,
        "mem_mb": 200,
        "runtime_min": 1,
        "simulation": "lif",
        "param_set": "small",
        "ref": "v0.3",
        "runner": dict(job.runner),
        "params": {"seed": 1},
        "run_config_section": None,
        "source_diff_sha256": None,
    }
    assert set(context) == set(RunContext.field_names())


def test_a_figure_carries_small_parameters_and_never_a_variable_linux_refuses() -> None:
    """Linux refuses a variable over 128 KiB: big parameters stay in the record only."""
    context = {"run": "r", "params": {"seed": 1}, "runner": {"kind": "python"}}
    context["run_config_section"] = {"name": "std"}
    assert figure_context(context) == {"run": "r", "params": {"seed": 1}}
    big = {"run": "r", "params": {"weights": list(range(40_000))}}
    assert figure_context(big) == {"run": "r", "params": None}


def test_a_missing_module_failure_says_where_the_packages_go() -> None:
    missing = Record(reason="exited", exit_code=1)
    missing.error = RunError("ModuleNotFoundError", "No module named 'brian2'", "sim.py:2")
    assert missing_module_hint(missing) == (
        "; to give the simulation its packages, list them in a requirements.txt in its "
        "repository and name it in runner.environment (README: The simulation's own environment)"
    )
    other = Record(reason="exited", exit_code=1, error=RunError("KeyError", "'gain'", "c.py:8"))
    assert missing_module_hint(other) == ""
    assert missing_module_hint(Record(reason="memory", exit_code=137)) == ""
