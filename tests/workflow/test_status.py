"""``simwarden status`` on a copy of the workflow run by the real ``snakemake`` (profile short).

Each state is checked against what Snakemake itself would do: the runs status calls stale or
failed are exactly those whose jobs a dry run lists.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import psutil

from tests.conftest import TIMEOUT, simwarden_argv
from tests.workflow.conftest import BUNDLE, TINY, Workflow, bundle_heads, output, wait_until

# 40000 neurons (20000 at the short profile's scale 0.5) for 1 s in quick mode with the voltage
# trace kept: 20000 x 1000 x 8 bytes = 160 MB of trace alone, far above a 150 MB budget that a
# tiny run (a few tens of MB) fits in.
HUNGRY = {
    "network": {"n_neurons": 40000, "p_connect": 0.0005},
    "duration_ms": 1000.0,
    "seed": 1,
    "record_voltage": True,
}
BUDGET_MB = 150
# 50 neurons for 300 simulated seconds without quick mode: minutes of work, killed long before.
SLOW = {"network": {"n_neurons": 50}, "duration_ms": 300000.0, "seed": 1}


def status(flow: Workflow, *args: str, fmt: str = "json") -> Any:
    """``simwarden status`` in the workflow directory, parsed (json) or as text."""
    done = flow.simwarden("status", "--format", fmt, *args)
    assert done.returncode == 0, output(done)
    assert done.stderr == "", output(done)
    return {row["run"]: row for row in json.loads(done.stdout)} if fmt == "json" else done.stdout


def states(rows: dict[str, dict[str, Any]]) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {run: (row["state"], tuple(row["why"])) for run, row in rows.items()}


def to_redo(flow: Workflow) -> set[str]:
    """The runs Snakemake would (re)make: those with a per-run job in a dry run."""
    jobs = flow.dry_run("--until", "run_simulation")
    return {run for rule, run in jobs if run is not None}


def not_up_to_date(rows: dict[str, dict[str, Any]]) -> set[str]:
    return {run for run, row in rows.items() if row["state"] != "up to date"}


def test_status_follows_runs_edits_and_a_memory_kill(workflow: Workflow) -> None:
    workflow.set_runs(
        a=TINY, b={**TINY, "seed": 2}, hungry=HUNGRY, bad={**TINY, "bogus": 1, "duration_ms": -5.0}
    )
    workflow.update_run_config(mem_mb=BUDGET_MB, retries=0)
    assert states(status(workflow)) == {
        "a": ("never run", ()),
        "b": ("never run", ()),
        "hungry": ("never run", ()),
        "bad": ("never run", ()),
    }

    done = workflow.snakemake("--until", "run_simulation")
    # hungry was stopped and bad refused, both final (their jobs wrote failure records and
    # ended well: check_runs, not run with --until, is what fails the workflow); a and b made.
    assert done.returncode == 0, output(done)
    rows = status(workflow)  # the profile is the last run's: profiles/short
    assert states(rows) == {
        "a": ("up to date", ()),
        "b": ("up to date", ()),
        "hungry": ("failed", ("memory",)),
        "bad": ("failed", ("validation",)),
    }
    # Every error of the refused parameter set, not just the last line of the log.
    assert rows["bad"]["detail"] == (
        "config/params/bad.yaml: bogus: unknown key (got 1; accepted: dt_ms, duration_ms, input, "
        "network, neuron, rate_bin_ms, record_voltage, seed); config/params/bad.yaml: "
        "duration_ms: too small (got -5.0; accepted: number, > 0, <= 10000000)"
    )
    # Its job wrote a record saying it was refused (not retried, no command started).
    assert (rows["bad"]["reason"], rows["bad"]["exit_code"]) == ("refused", 125)
    assert (rows["bad"]["attempt"], rows["bad"]["record"]) == (1, "results/runs/bad/record.json")
    assert (rows["a"]["reason"], rows["a"]["exit_code"], rows["a"]["attempt"]) == ("exited", 0, 1)
    assert 0 < rows["a"]["peak_rss_bytes"] < BUDGET_MB * 10**6
    assert rows["a"]["run_config"] == "short"
    assert rows["a"]["record"] == "results/runs/a/record.json"
    hungry = rows["hungry"]
    assert (hungry["reason"], hungry["exit_code"], hungry["attempt"]) == ("memory", 137, 1)
    assert hungry["peak_rss_bytes"] > BUDGET_MB * 10**6
    # The last attempt's failure record is the run's record; its files are kept aside.
    assert hungry["record"] == "results/runs/hungry/record.json"
    assert hungry["kept"] == "results/failed/hungry/attempt-1/"
    assert hungry["cause"] == workflow.record("hungry")["message"]
    assert hungry["detail"] == (
        f"{hungry['cause']}; no attempts left (run_config.retries is 0); "
        "files kept in results/failed/hungry/attempt-1/"
    )
    assert to_redo(workflow) == not_up_to_date(rows) == {"hungry", "bad"}

    table = status(workflow, fmt="table").splitlines()
    header = ["RUN", "STATE", "WHY", "LAST", "ATTEMPT", "PEAK", "MEM", "WALL", "FINISHED", "DETAIL"]
    assert table[0].split() == header
    assert table[-2] == "4 runs: 2 up to date, 2 failed"
    assert table[-1].startswith("profile: profiles/short (used by the last run, .snakemake/log/")

    # The run config of another profile: every complete run is stale for it.
    std = status(workflow, "--profile", "profiles/std")
    assert states(std)["b"] == ("stale", ("run config",))
    assert std["b"]["detail"] == "run_config changed"

    workflow.write_params("a", {**TINY, "seed": 7})
    rows = status(workflow)
    assert states(rows) == {
        "a": ("stale", ("parameters",)),
        "b": ("up to date", ()),
        "hungry": ("failed", ("memory",)),
        "bad": ("failed", ("validation",)),
    }
    assert rows["a"]["detail"] == "config/params/a.yaml changed"
    assert to_redo(workflow) == not_up_to_date(rows) == {"a", "hungry", "bad"}

    # A new sweep point, and another commit of the simulation.
    config = workflow.config()
    config["sweeps"] = {"seed": {"base": "b", "grid": {"seed": [5]}}}
    heads = bundle_heads(workflow.root / BUNDLE)
    other = next(sha for sha in heads.values() if sha != config["commit"])
    config["commit"] = other
    workflow.write_config(config)
    rows = status(workflow)
    assert states(rows) == {
        "a": ("stale", ("parameters", "code")),
        "b": ("stale", ("code",)),
        "hungry": ("failed", ("memory",)),
        "bad": ("failed", ("validation",)),
        "seed__seed-5": ("never run", ()),
    }
    assert rows["b"]["detail"] == "commit changed"
    assert rows["a"]["detail"] == "config/params/a.yaml changed; commit changed"
    assert to_redo(workflow) == not_up_to_date(rows) == {"a", "b", "hungry", "bad", "seed__seed-5"}


def test_a_deleted_output_is_stale_and_the_detail_says_how_to_redo_it(workflow: Workflow) -> None:
    done = workflow.snakemake()
    assert done.returncode == 0, output(done)
    (workflow.run_dir("a") / "samples.tsv").unlink()
    rows = status(workflow)
    assert states(rows) == {"a": ("stale", ("output",)), "b": ("up to date", ())}
    assert rows["a"]["detail"] == (
        "results/runs/a/samples.tsv missing (to redo it: snakemake --profile profiles/short "
        "--forcerun results/runs/a/record.json)"
    )
    assert check(workflow) == 1  # --check: not every run is up to date
    again = workflow.snakemake("--forcerun", "results/runs/a/record.json")
    assert again.returncode == 0, output(again)
    assert states(status(workflow)) == {"a": ("up to date", ()), "b": ("up to date", ())}
    assert check(workflow) == 0


def test_a_record_damaged_after_the_run_is_not_up_to_date(workflow: Workflow) -> None:
    done = workflow.snakemake()
    assert done.returncode == 0, output(done)
    record = workflow.run_dir("b") / "record.json"
    text = record.read_text()
    record.write_text(text[: len(text) // 2])  # cut short, as by a full disk
    rows = status(workflow)
    assert states(rows) == {"a": ("up to date", ()), "b": ("stale", ("record",))}
    redo = "snakemake --profile profiles/short --forcerun results/runs/b/record.json"
    assert rows["b"]["detail"].startswith("results/runs/b/record.json is not valid JSON (")
    assert rows["b"]["detail"].endswith(f"); to redo the run: {redo}")
    assert rows["b"]["reason"] is None
    assert check(workflow) == 1
    # The command status gives redoes the run (the profile is the test's own, as in argv()).
    again = workflow.snakemake("--forcerun", "results/runs/b/record.json")
    assert again.returncode == 0, output(again)
    assert states(status(workflow)) == {"a": ("up to date", ()), "b": ("up to date", ())}


def check(flow: Workflow) -> int:
    """The exit code of ``simwarden status --check``."""
    done = subprocess.run(
        simwarden_argv("status", "--check", "--format", "tsv"),
        cwd=flow.root,
        env=flow.env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.stderr == "", output(done)
    return done.returncode


def test_a_killed_snakemake_s_run_is_incomplete_not_running(
    workflow: Workflow, snakemake_procs: list[subprocess.Popen[str]]
) -> None:
    workflow.set_runs(slow=SLOW)
    workflow.update_run_config(timeout="120s", env={"SIMWARDEN_QUICK": "0", "SIMWARDEN_SCALE": "1"})
    process = subprocess.Popen(
        workflow.argv(),
        cwd=workflow.root,
        env=workflow.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    snakemake_procs.append(process)
    key = base64.urlsafe_b64encode(b"results/runs/slow/record.json").decode()
    marker = workflow.root / ".snakemake" / "incomplete" / key

    def simulating() -> list[psutil.Process]:
        assert process.poll() is None, "snakemake ended before the simulation started"
        return workflow.simulations() if marker.exists() else []

    sims = wait_until(simulating, "the simulation to start")
    rows = status(workflow)
    assert states(rows) == {"slow": ("running", ())}
    assert rows["slow"]["detail"] == f"running in Snakemake pid {process.pid}"

    # Killed outright: Snakemake cannot clean up, so the marker and its lock stay behind; the
    # process the onstart handler recorded is gone, so status says what happened.
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=TIMEOUT)
    _, alive = psutil.wait_procs(sims, timeout=10)
    assert alive == []
    rows = status(workflow)
    assert states(rows) == {"slow": ("incomplete", ())}
    assert rows["slow"]["detail"] == (
        f"Snakemake (pid {process.pid}) was killed; run `snakemake --unlock`, then run the "
        "workflow again"
    )

    unlocked = workflow.snakemake("--unlock")
    assert unlocked.returncode == 0, output(unlocked)
    rows = status(workflow)
    assert states(rows) == {"slow": ("incomplete", ())}
    assert rows["slow"]["detail"].startswith("started and never finished: ")


def test_status_outside_a_workflow_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        simwarden_argv("status", "--directory", str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode != 0, output(done)
    assert done.stdout == ""
    assert done.stderr == (
        f"simwarden: {tmp_path} is not a Snakemake workflow (no Snakefile or workflow/Snakefile); "
        "run simwarden status in the workflow directory or pass --directory DIR\n"
    )
