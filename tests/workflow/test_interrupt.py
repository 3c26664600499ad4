"""Ctrl-C, or a SIGKILLed Snakemake, in the middle of a simulation: nothing survives, the next
invocation redoes the run."""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import subprocess

import psutil

from tests.conftest import TIMEOUT
from tests.workflow.conftest import Workflow, output, wait_until
from tests.workflow.test_pipeline import SLOW, SLOW_ENV


def start_simulating(
    workflow: Workflow, procs: list[subprocess.Popen[str]]
) -> tuple[subprocess.Popen[str], list[psutil.Process]]:
    """Start snakemake (in its own session) on the slow run; return once it is simulating."""
    workflow.set_runs(slow=SLOW)
    workflow.update_run_config(timeout="120s", grace="2s", env=SLOW_ENV)
    log = workflow.root / "logs" / "run_simulation" / "slow.log"
    process = subprocess.Popen(
        workflow.argv(),
        cwd=workflow.root,
        env=workflow.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    procs.append(process)

    def simulating() -> list[psutil.Process]:
        assert process.poll() is None, "snakemake ended before the simulation started"
        # The demo prints "running: ..." once it has started stepping (the warden's signal
        # handlers are installed by then).
        started = log.exists() and "running:" in log.read_text(errors="replace")
        return workflow.simulations() if started else []

    return process, wait_until(simulating, "the simulation to start")


def test_ctrl_c_stops_the_simulation_and_the_run_is_redone(
    workflow: Workflow, snakemake_procs: list[subprocess.Popen[str]]
) -> None:
    """SIGINT goes to snakemake's whole process group, as Ctrl-C in a terminal does.

    (A SIGINT to the snakemake pid alone is not enough: Snakemake's local executor then waits
    for the running jobs to finish.) The simulation runs in its own session under the warden,
    so only the warden's signal handling can stop it.
    """
    process, sims = start_simulating(workflow, snakemake_procs)
    os.killpg(process.pid, signal.SIGINT)
    stdout, stderr = process.communicate(timeout=TIMEOUT)
    done = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    assert done.returncode != 0, output(done)

    gone, alive = psutil.wait_procs(sims, timeout=5)
    assert alive == [], f"simulations still running after snakemake exited: {alive}"
    assert workflow.simulations() == []
    # The record is either gone or marked incomplete, so it never passes for a finished run.
    record = workflow.run_dir("slow") / "record.json"
    marker = base64.b64encode(b"results/runs/slow/record.json").decode()
    incomplete = (workflow.root / ".snakemake" / "incomplete" / marker).exists()
    assert not record.exists() or incomplete, output(done)
    assert not (workflow.run_dir("slow") / "data" / "output.h5").exists()

    assert workflow.dry_run() == [
        ("all", None),
        ("check_runs", None),
        ("collect_benchmarks", None),
        ("plot_summary", None),
        ("run_simulation", "slow"),
    ]
    again = workflow.snakemake()
    assert again.returncode == 0, output(again)
    final = workflow.record("slow")
    assert (final["reason"], final["exit_code"]) == ("exited", 0), final["message"]
    assert (workflow.run_dir("slow") / "data" / "output.h5").is_file()


def test_a_sigkilled_snakemake_leaves_no_simulation_running(
    workflow: Workflow, snakemake_procs: list[subprocess.Popen[str]]
) -> None:
    """SIGKILL to snakemake alone (no Ctrl-C for the group): the warden notices it was orphaned,
    stops the simulation and keeps a record saying so, long before the 120 s time limit."""
    process, sims = start_simulating(workflow, snakemake_procs)
    script = [
        p for p in psutil.Process(process.pid).children() if "run_simulation" in str(p.cmdline())
    ]
    assert len(script) == 1, script  # the job's script: the warden runs in it
    process.kill()
    process.communicate(timeout=TIMEOUT)
    gone, alive = psutil.wait_procs(sims + script, timeout=TIMEOUT)
    assert alive == [], f"processes still running after snakemake was killed: {alive}"
    for orphan in script:  # the warden's script, adopted by this process if it is a subreaper
        with contextlib.suppress(ChildProcessError):
            os.waitpid(orphan.pid, 0)
    log = workflow.root / "logs" / "run_simulation" / "slow.log"
    last = "simwarden: run slow was interrupted (attempt 1): "
    wait_until(
        lambda: last in log.read_text(errors="replace"), "the job's last line on the orphaned run"
    )
    record = workflow.attempt_record("slow", 1)
    assert (record["reason"], record["exit_code"]) == ("signal", 129), record["message"]
    assert f"parent process {process.pid} ended" in record["message"]
    # Interrupted, not failed: the run's own record is not written, nor is it marked as failed.
    assert not (workflow.run_dir("slow") / "record.json").exists()
    assert not (workflow.root / "logs" / "run_simulation" / "slow.failed").exists()
