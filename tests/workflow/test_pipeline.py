"""The pipeline end to end through the real ``snakemake``: complete runs, stale-only reruns,
memory kills with a retry, and a time limit without one (final at once: not in retry_on)."""

from __future__ import annotations

import json

from simwarden.pipeline import layout
from tests.workflow.conftest import (
    BUNDLE,
    SAMPLES_HEADER,
    TINY,
    Workflow,
    bundle_heads,
    output,
)

# 20000 neurons (10000 at scale 0.5) x 1000 steps (1 s in quick mode), voltage trace kept: the
# trace is 10000 x 1000 x 8 = 80 MB, the measured peak ~172 MB, so the run is stopped under a
# 120 MB budget and fits in the retry's 240 MB.
MEMORY_HUNGRY = {
    "network": {"n_neurons": 20000, "p_connect": 0.001},
    "duration_ms": 1000.0,
    "seed": 1,
    "record_voltage": True,
}
FIRST_BUDGET_MB = 120
# 50 neurons (25 at scale 0.5) for 30 simulated seconds without quick mode: 300000 steps,
# a few seconds of work.
SLOW = {"network": {"n_neurons": 50}, "duration_ms": 30000.0, "seed": 1}
SLOW_ENV = {"SIMWARDEN_QUICK": "0", "SIMWARDEN_SCALE": "0.5"}


def test_short_profile_completes_every_run_then_has_nothing_to_do(workflow: Workflow) -> None:
    done = workflow.snakemake()
    assert done.returncode == 0, output(done)
    for run in ("a", "b"):
        record = workflow.record(run)
        assert (record["reason"], record["exit_code"]) == ("exited", 0), record["message"]
        samples = (workflow.run_dir(run) / "samples.tsv").read_text().splitlines()
        assert samples[0] == SAMPLES_HEADER
        assert len(samples) > 1, "no sample rows"
        assert (workflow.run_dir(run) / "data" / "output.h5").is_file()
        assert (workflow.root / "logs" / "run_simulation" / f"{run}.log").is_file()
        assert (workflow.root / "benchmarks" / "run_simulation" / f"{run}.tsv").is_file()
        assert not (workflow.root / "logs" / "run_simulation" / f"{run}.failed").exists()
    assert not (workflow.root / "results" / "failed").exists()
    assert (workflow.root / "results" / "runs-ok.txt").read_text() == "every run ended well: a, b\n"

    again = workflow.snakemake()
    assert again.returncode == 0, output(again)
    assert "Nothing to be done" in again.stdout + again.stderr, output(again)


def test_only_the_edited_param_set_reruns_and_a_new_commit_reruns_all(workflow: Workflow) -> None:
    heads = bundle_heads(workflow.root / BUNDLE)
    config = workflow.config()
    config["commit"] = heads["refs/tags/v0.2"]
    workflow.write_config(config)
    done = workflow.snakemake()
    assert done.returncode == 0, output(done)
    starts = {run: workflow.record(run)["start"] for run in ("a", "b")}
    assert workflow.dry_run() == []

    # The edited set is validated when the Snakefile is parsed (the checkout is fetched):
    # its results/params/a.json changes, b's is not rewritten, so only run a is redone.
    workflow.write_params("a", {**TINY, "seed": 7})
    assert workflow.dry_run() == [
        ("all", None),
        ("check_runs", None),
        ("collect_benchmarks", None),
        ("plot_summary", None),
        ("run_simulation", "a"),
    ]
    done = workflow.snakemake()
    assert done.returncode == 0, output(done)
    assert workflow.record("a")["start"] != starts["a"]
    assert workflow.record("b")["start"] == starts["b"]

    # A new commit: its schema is read once it is fetched, by the one validate_params job.
    config["commit"] = heads["refs/tags/v0.1"]
    workflow.write_config(config)
    assert workflow.dry_run() == [
        ("all", None),
        ("check_runs", None),
        ("collect_benchmarks", None),
        ("fetch_code", None),
        ("plot_summary", None),
        ("run_simulation", "a"),
        ("run_simulation", "b"),
        ("validate_params", None),
    ]


def test_memory_kill_is_retried_with_twice_the_budget(workflow: Workflow) -> None:
    workflow.set_runs(hungry=MEMORY_HUNGRY)
    env = {"SIMWARDEN_QUICK": "1", "SIMWARDEN_SCALE": "0.5"}
    workflow.update_run_config(mem_mb=FIRST_BUDGET_MB, retries=1, timeout="60s", env=env)
    done = workflow.snakemake()
    assert done.returncode == 0, output(done)

    first = workflow.attempt_record("hungry", 1)
    assert (first["reason"], first["exit_code"], first["attempts"]) == ("memory", 137, 1)
    assert first["limits"]["mem_bytes"] == FIRST_BUDGET_MB * 10**6

    final = workflow.record("hungry")
    assert (final["reason"], final["exit_code"]) == ("exited", 0), final["message"]
    assert final["limits"]["mem_bytes"] == 2 * FIRST_BUDGET_MB * 10**6
    # The retry really needed more than the first budget, and stayed within the second.
    assert FIRST_BUDGET_MB * 10**6 < final["peak_rss_bytes"] < 2 * FIRST_BUDGET_MB * 10**6
    assert (workflow.run_dir("hungry") / "data" / "output.h5").is_file()
    # Snakemake started the retry's log afresh: it still says how attempt 1 ended.
    log = (workflow.root / layout.log(layout.RUN_SIMULATION, "hungry")).read_text()
    assert log.count("simwarden: run hungry (attempt 2): attempt 1 ended: stopped (memory): ") == 1
    assert "; kept in results/failed/hungry/attempt-1/\n" in log, log


def test_timeout_without_retry_fails_keeps_the_record_and_reruns_later(
    workflow: Workflow,
) -> None:
    """A timeout is not in retry_on (default [memory]): the first attempt is final although a
    retry is allowed. The run's record says why, Snakemake exits non-zero (check_runs)."""
    workflow.set_runs(slow=SLOW)
    workflow.update_run_config(retries=1, timeout="1s", grace="2s", env=SLOW_ENV)
    done = workflow.snakemake()
    assert done.returncode == 1, output(done)
    record = workflow.record("slow")
    assert (record["reason"], record["exit_code"], record["attempts"]) == ("timeout", 124, 1)
    assert record["limits"]["timeout_s"] == 1.0
    assert record == workflow.attempt_record("slow", 1)
    assert not (workflow.run_dir("slow") / "data" / "output.h5").exists(), output(done)
    assert not workflow.attempt_dir("slow", 2).exists()
    assert (
        f"simwarden: run slow failed (attempt 1): {record['message']}; not retried: reason "
        "timeout (exit 124) is not in run_config.retry_on [memory]; its files are kept in "
        "results/failed/slow/attempt-1"
    ) in done.stderr.splitlines(), output(done)
    assert workflow.simulations() == []

    workflow.update_run_config(timeout="120s")
    again = workflow.snakemake()
    assert again.returncode == 0, output(again)
    record = workflow.record("slow")
    assert (record["reason"], record["exit_code"]) == ("exited", 0), record["message"]
    assert record["limits"]["timeout_s"] == 120.0
    # The redo's first attempt shelved the earlier invocation's attempt: moved, not deleted.
    assert not workflow.attempt_dir("slow", 1).exists()
    shelved = list((workflow.root / "results/failed/slow/_earlier").iterdir())
    assert [path.name.endswith("Z-attempt-1") for path in shelved] == [True], shelved
    assert json.loads((shelved[0] / "record.json").read_text())["reason"] == "timeout"


def test_a_first_attempt_with_more_memory_set_by_hand_is_attempt_1(workflow: Workflow) -> None:
    """``--set-resources run_simulation:mem_mb=...`` above the run config's mem_mb (what
    ``simwarden bench suggest`` proposes) still runs attempt 1, named so in the record and log."""
    budget = 3 * workflow.run_config()["mem_mb"]
    workflow.set_runs(a=TINY)
    done = workflow.snakemake("--set-resources", f"run_simulation:mem_mb={budget}")
    assert done.returncode == 0, output(done)
    record = workflow.record("a")
    assert record["context"]["attempt"] == 1, record["context"]
    assert record["limits"]["mem_bytes"] == budget * 10**6
    assert not (workflow.root / "results" / "failed").exists()
