"""The run config's guards and notifiers through the real ``snakemake``: email to a real SMTP
server on loopback, an unreachable one, a hook that hangs, the free-disk guard on a small tmpfs,
the host-memory guard, the stop file during a sweep and before one, the stall timeout, and bad
values refused before any job starts.

The simulations live in a small git repository the test builds, one executable per run
(``sims/<run>``), run by the command runner as ``{repo}/sims/{run} {params} {outdir}``:

- ``hog`` holds 400 MB: over its budget on both attempts (120 MB, then 240 MB);
- ``fine``, ``also`` write their data and end well; ``crash`` exits 1;
- ``s1`` .. ``s4`` report ``SIMWARDEN_PROGRESS i/40`` every 0.15 s (6 s in all);
- ``filler`` writes 1 MB every 50 ms into ``$FILL_DIR`` (30 MB if nobody stops it);
- ``sleeper`` sleeps 30 s; ``stuck`` reports 1/10, then hangs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from simwarden.pipeline import layout
from simwarden.warden.record import read_last_sample
from tests.conftest import TIMEOUT, pid_alive
from tests.smtp import PASSWORD, USER, SmtpServer, free_port, plain_smtp_server
from tests.workflow.conftest import Workflow, output, wait_until

PY = f"#!{sys.executable}\n"
FINE = PY + 'import sys\nopen(sys.argv[2] + "/result.txt", "w").write("42")\n'
SLOW = (
    PY
    + """\
import time

for i in range(1, 41):
    time.sleep(0.15)
    print(f"SIMWARDEN_PROGRESS {i}/40", flush=True)
"""
)
SIMS = {
    "hog": PY
    + """\
import time

block = b"x" * (400 * 10**6)
time.sleep(5)
""",
    "fine": FINE,
    "also": FINE,
    "crash": PY + "raise SystemExit(1)\n",
    **{f"s{i}": SLOW for i in range(1, 5)},
    "filler": PY
    + """\
import os
import time

with open(os.path.join(os.environ["FILL_DIR"], "fill.bin"), "wb") as out:
    for _ in range(30):
        out.write(b"x" * 10**6)
        out.flush()
        time.sleep(0.05)
    time.sleep(5)
""",
    "sleeper": PY + "import time\ntime.sleep(30)\n",
    "stuck": PY + 'import time\nprint("SIMWARDEN_PROGRESS 1/10", flush=True)\ntime.sleep(60)\n',
}
EMAIL = "ops@example.org"
UNREACHABLE = (
    "simwarden: email to ops@example.org failed: connecting to SMTP server 127.0.0.1:{port} "
    "failed: Connection refused"
)
NOT_STARTED = "stop file '{path}' exists: the command was not started (remove it to run)"
STOP_AT_START = (
    "simwarden: stop file 'STOP' exists: every simulation job ends as stopped without "
    "starting; remove it and run again"
)
STOP_AT_END = (
    "simwarden: stop file 'STOP' exists: remove it before the next run, or every simulation "
    "job ends as stopped without starting"
)
REQUIRE_TMPFS = "SIMWARDEN_REQUIRE_TMPFS"


@pytest.fixture
def sims(workflow: Workflow, tmp_path: Path) -> Workflow:
    """The workflow on the simulations' repository, budget 120 MB, one retry, 60 s per run, the
    stop file STOP; each test chooses its runs and guards."""
    workflow.use_scripts(tmp_path / "sims-repo", SIMS, [], "simulations")
    workflow.update_run_config(mem_mb=120, retries=1, timeout="60s", stop_file="STOP")
    return workflow


def use(flow: Workflow, *runs: str, **run_config: Any) -> None:
    flow.set_runs(**{run: {"seed": 1} for run in runs})
    if run_config:
        flow.update_run_config(**run_config)


def log_lines(flow: Workflow, run: str) -> list[str]:
    return (flow.root / layout.log(layout.RUN_SIMULATION, run)).read_text().splitlines()


def files_under(root: Path, *names: str) -> Iterator[Path]:
    for name in names:
        yield from (path for path in (root / name).rglob("*") if path.is_file())


# ------------------------------------------------------------------------------- notifications


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with plain_smtp_server() as server:
        yield server


def smtp_env(port: int) -> dict[str, str]:
    return {
        "SIMWARDEN_SMTP_HOST": "127.0.0.1",
        "SIMWARDEN_SMTP_PORT": str(port),
        "SIMWARDEN_SMTP_USER": USER,
        "SIMWARDEN_SMTP_PASSWORD": PASSWORD,
        "SIMWARDEN_SMTP_FROM": "warden@example.org",
    }


def test_each_memory_stop_and_the_end_are_mailed_and_the_password_is_nowhere(
    sims: Workflow, smtp_server: SmtpServer
) -> None:
    use(sims, "hog", "fine", notify={"email": [EMAIL]})
    sims.env.update(smtp_env(smtp_server.port))
    done = sims.snakemake()
    assert done.returncode == 1, output(done)  # check_runs: hog failed
    assert (sims.record("hog")["reason"], sims.record("fine")["exit_code"]) == ("memory", 0)

    subjects = [received.message["Subject"] for received in smtp_server.messages]
    assert sorted(subjects[:2]) == [
        "[simwarden] memory: run hog (attempt 1) stopped",
        "[simwarden] memory: run hog (attempt 2) stopped",
    ], subjects
    assert subjects[2:] == ["[simwarden] workflow: done: 1 ok, 1 failed (memory)"], subjects
    assert {tuple(received.rcpt_tos) for received in smtp_server.messages} == {(EMAIL,)}
    assert set(smtp_server.logins) == {(USER, PASSWORD)}
    for received in smtp_server.messages:
        assert PASSWORD.encode() not in received.raw
    end_body = smtp_server.messages[2].message.get_content().splitlines()
    assert end_body[2:4] == [f"hog: failed (memory): {sims.record('hog')['message']}", "fine: ok"]
    # The password reached the jobs' environment, and nothing they wrote holds it.
    for path in files_under(sims.root, "results", "logs"):
        assert PASSWORD.encode() not in path.read_bytes(), path
    assert PASSWORD not in done.stdout + done.stderr
    sims.dry_run()  # Snakemake runs no handler in a dry run: nothing more is sent
    assert len(smtp_server.messages) == 3


def test_an_unreachable_smtp_server_costs_one_line_per_event_and_no_run(sims: Workflow) -> None:
    port = free_port()  # nothing listens there
    use(sims, "fine", "also", notify={"email": [EMAIL], "events": ["succeeded"]})
    sims.env.update(smtp_env(port))
    done = sims.snakemake()
    assert done.returncode == 0, output(done)
    warning = UNREACHABLE.format(port=port)
    for run in ("fine", "also"):
        assert (sims.record(run)["reason"], sims.record(run)["exit_code"]) == ("exited", 0)
        assert [line for line in log_lines(sims, run) if "failed: connecting" in line] == [
            warning
        ], run
    # Each job's line reaches Snakemake's stderr too; the end message's is the third.
    assert done.stderr.splitlines().count(warning) == 3, output(done)


HANGING_HOOK = """\
import json, os, sys, time
record = {"pid": os.getpid(), "event": os.environ["SIMWARDEN_EVENT"]}
path = os.path.join(sys.argv[1], f"{os.getpid()}.json")
with open(path + ".tmp", "w") as out:
    json.dump(record, out)
os.replace(path + ".tmp", path)
time.sleep(600)
"""


def test_a_notify_command_that_hangs_is_killed(sims: Workflow, tmp_path: Path) -> None:
    hook, pids = tmp_path / "hook.py", tmp_path / "pids"
    hook.write_text(HANGING_HOOK)
    pids.mkdir()
    notify = {"command": [sys.executable, str(hook), str(pids)], "events": ["failed"]}
    use(sims, "crash", notify=notify)
    done = sims.snakemake()
    assert done.returncode == 1, output(done)
    started = [json.loads(path.read_text()) for path in pids.glob("*.json")]
    assert sorted(hook["event"] for hook in started) == ["failed", "workflow"], started
    assert not [hook for hook in started if pid_alive(hook["pid"])], started
    killed = f"simwarden: notify hook {sys.executable} still running after 10 s: killed"
    assert killed in log_lines(sims, "crash")
    assert done.stderr.splitlines().count(killed) == 2, output(done)  # the job's and the end's


# ---------------------------------------------------------------------------------- the guards


def cannot(reason: str) -> None:
    if os.environ.get(REQUIRE_TMPFS) == "1":
        pytest.fail(f"{reason} ({REQUIRE_TMPFS}=1 makes this a failure instead of a skip)")
    pytest.skip(reason)


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 32 MB tmpfs mounted for the test (root only), unmounted afterwards."""
    mount = tmp_path / "scratch"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        cannot("mounting a tmpfs needs root and the mount command")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    if done.returncode != 0:
        cannot(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True, timeout=TIMEOUT)


def test_a_run_writing_past_min_free_disk_is_stopped(sims: Workflow, small_tmpfs: Path) -> None:
    use(
        sims,
        "filler",
        min_free_disk="16MB",
        disk_path=str(small_tmpfs),
        env={"FILL_DIR": str(small_tmpfs)},
    )
    done = sims.snakemake()
    assert done.returncode == 1, output(done)
    record = sims.record("filler")
    assert (record["reason"], record["exit_code"], record["attempts"]) == ("disk", 121, 1), record
    assert record["limits"]["min_free_disk_bytes"] == 16 * 10**6
    written = (small_tmpfs / "fill.bin").stat().st_size
    assert 16 * 10**6 <= written < 30 * 10**6, written


def test_host_mem_max_stops_a_run_on_a_busy_host(sims: Workflow) -> None:
    use(sims, "sleeper", host_mem_max="1%")
    done = sims.snakemake()
    assert done.returncode == 1, output(done)
    record = sims.record("sleeper")
    assert (record["reason"], record["exit_code"], record["attempts"]) == ("host_memory", 122, 1)


def test_a_run_whose_progress_stands_still_is_stopped_as_stalled(sims: Workflow) -> None:
    use(sims, "stuck", stall_timeout="2s")
    done = sims.snakemake()
    assert done.returncode == 1, output(done)
    record = sims.record("stuck")
    assert (record["reason"], record["exit_code"]) == ("stalled", 120), record
    assert f"simwarden: run stuck failed: {record['message']}" in done.stderr.splitlines()
    status = sims.simwarden("status", "--format", "json")
    [row] = json.loads(status.stdout)
    assert (row["state"], row["reason"]) == ("failed", "stalled"), row


# ------------------------------------------------------------------------------- the stop file


def running_with_progress(flow: Workflow, runs: list[str]) -> str | None:
    """A run that has no record yet and whose samples show progress."""
    for run in runs:
        if (flow.run_dir(run) / "record.json").exists():
            continue
        last = read_last_sample(flow.run_dir(run) / "samples.tsv")
        if last is not None and last.get("progress", 0) > 0:
            return run
    return None


def finished(flow: Workflow, runs: list[str]) -> list[str]:
    return [run for run in runs if (flow.run_dir(run) / "record.json").exists()]


def test_the_stop_file_stops_the_sweep_and_the_next_invocation_redoes_only_the_stopped_runs(
    sims: Workflow, snakemake_procs: list[subprocess.Popen[str]], tmp_path: Path
) -> None:
    runs = ["s1", "s2", "s3", "s4"]
    marker = f"simwarden-test-{uuid.uuid4().hex}"  # in every simulation's argv
    config = sims.config()
    config["runner"]["command"].append(marker)
    sims.write_config(config)
    use(sims, *runs)
    with open(tmp_path / "out", "w") as out, open(tmp_path / "err", "w") as err:
        proc = subprocess.Popen(
            sims.argv("--cores", "1"),
            cwd=sims.root,
            env=sims.env,
            stdout=out,
            stderr=err,
            text=True,
            start_new_session=True,
        )
    snakemake_procs.append(proc)
    [done_first] = wait_until(lambda: finished(sims, runs), "a first run to finish")
    running = wait_until(lambda: running_with_progress(sims, runs), "a run to report progress")
    (sims.root / "STOP").touch()
    assert proc.wait(timeout=TIMEOUT) == 1
    stderr = (tmp_path / "err").read_text()

    records = {run: sims.record(run) for run in runs}
    assert (records[done_first]["reason"], records[done_first]["exit_code"]) == ("exited", 0)
    assert (records[running]["reason"], records[running]["exit_code"]) == ("stopped", 123)
    later = [run for run in runs if run not in (done_first, running)]
    for run in later:
        assert records[run]["reason"] == "stopped", records[run]
        assert records[run]["message"] == NOT_STARTED.format(path=sims.root / "STOP"), run
    assert not [p for p in psutil.process_iter(["cmdline"]) if marker in (p.info["cmdline"] or [])]
    assert stderr.rstrip("\n").splitlines()[-1] == STOP_AT_END, stderr
    for run in (running, *later):
        assert f"simwarden: run {run} failed: " in stderr, run

    (sims.root / "STOP").unlink()
    kept = sims.run_dir(done_first) / "record.json"
    before = (kept.read_bytes(), kept.stat().st_mtime_ns)
    again = sims.snakemake("--cores", "1")
    assert again.returncode == 0, output(again)
    assert (kept.read_bytes(), kept.stat().st_mtime_ns) == before
    for run in (running, *later):
        assert (sims.record(run)["reason"], sims.record(run)["exit_code"]) == ("exited", 0), run
    assert STOP_AT_END not in again.stderr


def test_a_stop_file_there_at_the_start_is_said_and_no_simulation_starts(sims: Workflow) -> None:
    use(sims, "fine", "also")
    (sims.root / "STOP").touch()
    done = sims.snakemake()
    assert done.returncode == 1, output(done)
    lines = done.stderr.splitlines()
    assert lines.count(STOP_AT_START) == 1, output(done)
    assert lines[-1] == STOP_AT_END, output(done)
    for run in ("fine", "also"):
        record = sims.record(run)
        assert (record["reason"], record["exit_code"]) == ("stopped", 123), record
        assert record["message"] == NOT_STARTED.format(path=sims.root / "STOP")
        assert not (sims.run_dir(run) / "data" / "result.txt").exists()


# ---------------------------------------------------------------------------------- bad values


@pytest.mark.parametrize(
    ("values", "line"),
    [
        (
            {"min_free_disk": "lots"},
            "invalid run_config.min_free_disk 'lots': expected a size like 2GB, 500MB or 1.5GiB",
        ),
        (
            {"host_mem_max": "150%"},
            "invalid run_config.host_mem_max '150%': expected a percentage greater than 0 and at "
            "most 100, like 90 or 90%",
        ),
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
            {"stall_timeout": "soon"},
            "invalid run_config.stall_timeout 'soon': expected 90s, 10m, 2h, 1h30m, 1:30:00 "
            "(h:mm:ss), 2-00:00:00 (d-hh:mm:ss), or bare seconds",
        ),
    ],
    ids=["min_free_disk", "host_mem_max", "notify.events", "notify.email", "stall_timeout"],
)
def test_a_bad_guard_value_is_one_line_and_no_job_starts(
    sims: Workflow, values: dict[str, Any], line: str
) -> None:
    use(sims, "fine", **values)
    done = sims.snakemake()
    assert done.returncode == 125, output(done)
    said = [text for text in done.stderr.splitlines() if text.startswith("simwarden: ")]
    assert said == [f"simwarden: profiles/short/run.yaml: {line}"], output(done)
    assert not (sims.root / "results").exists()
    assert not (sims.root / "logs").exists()
