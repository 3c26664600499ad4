"""`simwarden run` end to end on real processes: limits, stops, exit codes, records, no orphans."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from simwarden.warden import Limits, RunOptions, cgroup, run
from simwarden.warden.record import SAMPLE_COLUMNS
from tests.conftest import PYTHON, TIMEOUT, pid_alive, simwarden_argv, wait_for_file

MB = 1000**2
HAS_CGROUP = cgroup.create(10 * MB, f"simwarden-probe-{os.getpid()}")
if HAS_CGROUP:
    HAS_CGROUP.remove()


def warden(*args: str, cwd: Path | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        simwarden_argv(*args), capture_output=True, text=True, timeout=TIMEOUT, cwd=cwd, **kwargs
    )


def explain(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


def script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return str(path)


# A process that writes its pid, then grows about 1 GB/s in 10 MB steps until killed.
GROW = """
    import os, sys, time
    open(sys.argv[1], "w").write(f"{os.getpid()}\\n")
    blocks = []
    while True:
        blocks.append(bytearray(10_000_000))
        time.sleep(0.01)
"""


@pytest.mark.parametrize("mechanism", ["poll", "auto"])
def test_memory_limit_stops_tree_with_137_and_records_memory(tmp_path, mechanism):
    grow = script(tmp_path, "grow.py", GROW)
    record = tmp_path / "record.json"
    samples = tmp_path / "samples.tsv"
    result = warden(
        "run",
        "--mem",
        "200MB",
        "--mechanism",
        mechanism,
        "--record",
        str(record),
        "--samples",
        str(samples),
        "--",
        PYTHON,
        grow,
        str(tmp_path / "pid"),
    )
    assert result.returncode == 137, explain(result)
    data = json.loads(record.read_text())
    assert data["reason"] == "memory"
    assert data["exit_code"] == 137
    assert data["limits"]["mem_bytes"] == 200 * MB
    assert data["mechanism"] == ("cgroup" if mechanism == "auto" and HAS_CGROUP else "poll")
    assert 150 * MB < data["peak_rss_bytes"] <= 200 * MB * 1.2
    assert data["kernel_peak_rss_bytes"] <= 200 * MB * 1.2
    assert "stopped (memory)" in result.stderr
    # The stop line and the summary line; a kernel kill seen only after the tree was gone (the
    # cgroup won the race against the next sample) has nothing to stop: the summary alone.
    lines = 1 if data["stopped_by"] == "cgroup" and "sending" not in result.stderr else 2
    assert result.stderr.count("\n") == lines, explain(result)
    pid = int((tmp_path / "pid").read_text())
    assert not pid_alive(pid)
    rows = samples.read_text().splitlines()
    assert rows[0] == "\t".join(SAMPLE_COLUMNS)
    assert {row.split("\t")[8] for row in rows[1:]} == {str(200 * MB)}  # mem_limit_bytes
    assert len(rows) - 1 == data["samples"]
    assert max(int(row.split("\t")[1]) for row in rows[1:]) == data["peak_rss_bytes"]


@pytest.mark.skipif(
    not HAS_CGROUP,
    reason="no writable memory cgroup (needs root + cgroup v1 memory controller or delegated v2)",
)
def test_cgroup_backstop_kills_at_the_limit_when_polling_is_too_slow(tmp_path):
    grow = script(tmp_path, "grow.py", GROW)
    record = tmp_path / "record.json"
    # Sampling every 30 s: only the kernel can catch this in time.
    result = warden(
        "run",
        "--mem",
        "150MB",
        "--mechanism",
        "cgroup",
        "--interval",
        "30s",
        "--record",
        str(record),
        "--notify-cmd",
        f"sh -c 'echo \"$SIMWARDEN_EVENT $SIMWARDEN_REASON\" >> {tmp_path / 'events'}'",
        "--",
        PYTHON,
        grow,
        str(tmp_path / "pid"),
    )
    assert result.returncode == 137, explain(result)
    data = json.loads(record.read_text())
    assert (data["reason"], data["mechanism"], data["stopped_by"]) == ("memory", "cgroup", "cgroup")
    # A stop no sample saw is still told as a stop (a mail per memory stop), then the end.
    assert (tmp_path / "events").read_text().splitlines() == ["stop memory", "end memory"]
    # Zero overshoot of what the cgroup charges; RSS also counts shared libraries loaded elsewhere.
    assert data["cgroup_peak_bytes"] <= 150 * MB
    assert data["kernel_peak_rss_bytes"] < 150 * MB + 20 * MB
    assert data["wall_s"] < 25


def test_timeout_gives_124_quickly(tmp_path):
    record = tmp_path / "r.json"
    result = warden("run", "--timeout", "1s", "--record", str(record), "--", "sleep", "30")
    assert result.returncode == 124, explain(result)
    data = json.loads(record.read_text())
    assert data["reason"] == "timeout"
    assert 1.0 <= data["wall_s"] < 10
    assert data["command_signal"] == "SIGTERM"


@pytest.mark.parametrize(("code", "expected"), [("0", 0), ("3", 3), ("255", 255)])
def test_own_exit_code_passes_through(code, expected, tmp_path):
    record = tmp_path / "r.json"
    result = warden(
        "run", "--record", str(record), "--", PYTHON, "-c", f"import sys; sys.exit({code})"
    )
    assert result.returncode == expected, explain(result)
    data = json.loads(record.read_text())
    assert (data["reason"], data["exit_code"], data["command_exit_code"]) == (
        "exited",
        expected,
        expected,
    )
    assert result.stderr == ""


def test_command_killed_by_its_own_signal_gives_128_plus_n(tmp_path):
    result = warden("run", "--", PYTHON, "-c", "import os, signal; os.kill(os.getpid(), 9)")
    assert result.returncode == 137


ESCAPE = """
    import os, sys, time
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork() == 0:
            with open(sys.argv[1] + ".tmp", "w") as f:
                f.write(f"{os.getpid()}\\n")
            os.rename(sys.argv[1] + ".tmp", sys.argv[1])
            time.sleep(1000)
        os._exit(0)
    os.waitpid(pid, 0)
    while not os.path.exists(sys.argv[1]):
        time.sleep(0.01)
"""


def test_double_forked_setsid_grandchild_is_found_and_killed(tmp_path):
    escape = script(tmp_path, "escape.py", ESCAPE)
    record = tmp_path / "r.json"
    result = warden(
        "run",
        "--grace",
        "1s",
        "--record",
        str(record),
        "--",
        PYTHON,
        escape,
        str(tmp_path / "escapee"),
    )
    assert result.returncode == 0, explain(result)
    escapee = int((tmp_path / "escapee").read_text())
    assert not pid_alive(escapee)
    data = json.loads(record.read_text())
    assert (data["reason"], data["leftover_processes"]) == ("exited", 1)
    assert "left 1 process(es) running" in result.stderr


TREE = """
    import os, subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1000)"])
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(f"{os.getpid()} {child.pid}\\n")
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    time.sleep(1000)
"""


def test_sigkilled_warden_leaves_no_process(tmp_path, procs):
    tree = script(tmp_path, "tree.py", TREE)
    pids_file = tmp_path / "pids"
    process = subprocess.Popen(simwarden_argv("run", "--", PYTHON, tree, str(pids_file)))
    procs.append(process)
    pids = [int(p) for p in wait_for_file(pids_file, process).split()]
    process.kill()
    process.wait(timeout=TIMEOUT)
    import psutil

    gone, alive = psutil.wait_procs([psutil.Process(p) for p in pids if pid_alive(p)], timeout=10)
    assert [p.pid for p in alive if pid_alive(p.pid)] == []


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_to_warden_stops_tree_and_records_signal(tmp_path, procs, signum, code):
    tree = script(tmp_path, "tree.py", TREE)
    pids_file, record = tmp_path / "pids", tmp_path / "r.json"
    process = subprocess.Popen(
        simwarden_argv("run", "--record", str(record), "--", PYTHON, tree, str(pids_file)),
        stderr=subprocess.PIPE,
        text=True,
    )
    procs.append(process)
    pids = [int(p) for p in wait_for_file(pids_file, process).split()]
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=TIMEOUT)
    assert process.returncode == code, stderr
    assert [p for p in pids if pid_alive(p)] == []
    data = json.loads(record.read_text())
    assert data["reason"] == "signal"
    assert f"warden received {signal.Signals(signum).name}" in stderr


# A parent that starts the warden and waits for it, as Snakemake does with a job's script.
PARENT = """
    import subprocess, sys
    warden = subprocess.Popen(sys.argv[2:])
    open(sys.argv[1], "w").write(f"{warden.pid}\\n")
    warden.wait()
"""


@pytest.mark.parametrize("via_shell", [False, True], ids=["direct", "via-bash"])
def test_an_orphaned_warden_stops_its_run_and_records_why(tmp_path, procs, via_shell):
    """The parent is killed outright. Via bash (``bash -c "simwarden ...; true"`` does not exec
    simwarden, as older bash never does), the shell survives and the warden watches its parent."""
    import shlex

    import psutil

    tree = script(tmp_path, "tree.py", TREE)
    parent = script(tmp_path, "parent.py", PARENT)
    pids_file, warden_pid_file, record = tmp_path / "pids", tmp_path / "warden", tmp_path / "r.json"
    argv = simwarden_argv(
        "run", "--stop-when-orphaned", "--grace", "2s", "--record", str(record),
        "--", PYTHON, tree, str(pids_file),
    )  # fmt: skip
    if via_shell:
        argv = ["bash", "-c", f"{shlex.join(argv)}; true"]
    process = subprocess.Popen([PYTHON, parent, str(warden_pid_file), *argv])
    procs.append(process)
    started_pid = int(wait_for_file(warden_pid_file, process))
    warden_proc = psutil.Process(started_pid)
    if via_shell:  # the shell's child is the warden
        warden_proc = wait_until_child(warden_proc)
    warden_pid = warden_proc.pid
    pids = [int(p) for p in wait_for_file(pids_file, process).split()]
    family = warden_proc.children(recursive=True)  # its sentinel and the command's tree
    process.kill()  # the parent dies without a word, like a SIGKILLed Snakemake
    process.wait(timeout=TIMEOUT)
    # The warden stops its tree, writes its record and ends; whoever adopted it reaps it.
    text = wait_for_file(record, timeout=TIMEOUT)
    gone, alive = psutil.wait_procs([warden_proc, *family], timeout=TIMEOUT)
    assert alive == []
    # Whatever outlived its parent was adopted by this process if it is a subreaper: reap it.
    for pid in {warden_pid, started_pid, *(p.pid for p in family)}:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    data = json.loads(text)
    assert (data["reason"], data["exit_code"]) == ("signal", 129), data["message"]
    assert data["message"].startswith(f"stopped (signal): parent process {process.pid} ended")
    assert [p for p in pids if pid_alive(p)] == []


def wait_until_child(process):
    """The first child of ``process`` (polled until it exists, within TIMEOUT)."""
    import time

    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        children = process.children()
        if children:
            return children[0]
        time.sleep(0.01)
    raise AssertionError(f"process {process.pid} started no child")


OBSTINATE = """
    import os, signal, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    open(sys.argv[1], "w").write("ready\\n")
    time.sleep(1000)
"""


def test_stop_escalates_to_sigkill_after_grace(tmp_path):
    obstinate = script(tmp_path, "obstinate.py", OBSTINATE)
    record = tmp_path / "r.json"
    result = warden(
        "run",
        "--timeout",
        "0.5s",
        "--grace",
        "0.5s",
        "--record",
        str(record),
        "--",
        PYTHON,
        obstinate,
        str(tmp_path / "ready"),
    )
    assert result.returncode == 124, explain(result)
    data = json.loads(record.read_text())
    assert (data["killed"], data["command_signal"]) == (True, "SIGKILL")
    assert 1.0 <= data["wall_s"] < 10


POLITE = """
    import os, signal, sys, time
    def flush(signum, frame):
        open(sys.argv[2], "w").write(signal.Signals(signum).name + "\\n")
        sys.exit(0)
    signal.signal(signal.SIGUSR1, flush)
    open(sys.argv[1], "w").write("ready\\n")
    time.sleep(1000)
"""


def test_stop_signal_usr1_lets_simulation_flush_itself(tmp_path):
    polite = script(tmp_path, "polite.py", POLITE)
    record, flushed = tmp_path / "r.json", tmp_path / "flushed"
    stop = tmp_path / "STOP"
    process = subprocess.Popen(
        simwarden_argv(
            "run",
            "--stop-signal",
            "USR1",
            "--stop-file",
            str(stop),
            "--record",
            str(record),
            "--",
            PYTHON,
            polite,
            str(tmp_path / "ready"),
            str(flushed),
        ),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_file(tmp_path / "ready", process)
        stop.write_text("")
        _, stderr = process.communicate(timeout=TIMEOUT)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 123, stderr
    assert flushed.read_text() == "SIGUSR1\n"
    data = json.loads(record.read_text())
    assert (data["reason"], data["killed"], data["stop_signal"], data["command_exit_code"]) == (
        "stopped",
        False,
        "SIGUSR1",
        0,
    )


def test_disk_guard_stops_with_121(tmp_path):
    record = tmp_path / "r.json"
    result = warden(
        "run",
        "--min-free-disk",
        "1000000TB",
        "--disk-path",
        str(tmp_path),
        "--record",
        str(record),
        "--",
        "sleep",
        "30",
    )
    assert result.returncode == 121, explain(result)
    assert json.loads(record.read_text())["reason"] == "disk"
    assert "below 1000000000.0 GB: sending SIGTERM" in result.stderr


def test_host_memory_guard_stops_with_122(tmp_path):
    record = tmp_path / "r.json"
    result = warden("run", "--host-mem-max", "0.001", "--record", str(record), "--", "sleep", "30")
    assert result.returncode == 122, explain(result)
    assert json.loads(record.read_text())["reason"] == "host_memory"


def test_log_captures_output_and_still_shows_it(tmp_path):
    log = tmp_path / "run.log"
    code = "import sys; print('to stdout'); print('to stderr', file=sys.stderr)"
    result = warden("run", "--log", str(log), "--", PYTHON, "-c", code)
    assert result.returncode == 0, explain(result)
    assert result.stdout == "to stdout\n"
    assert result.stderr == "to stderr\n"
    assert sorted(log.read_text().splitlines()) == ["to stderr", "to stdout"]
    quiet = warden("run", "--quiet", "--log", str(log), "--", PYTHON, "-c", code)
    assert (quiet.stdout, quiet.stderr) == ("", "")
    assert sorted(log.read_text().splitlines()) == ["to stderr", "to stdout"]


HOOK = """
    import json, os, sys
    events = {k: v for k, v in os.environ.items() if k.startswith("SIMWARDEN_")}
    with open(sys.argv[1], "a") as f:
        f.write(json.dumps(events) + "\\n")
"""


def test_mem_warn_and_stop_reach_a_command_hook(tmp_path):
    grow = script(tmp_path, "grow.py", GROW)
    hook = script(tmp_path, "hook.py", HOOK)
    events_file = tmp_path / "events.jsonl"
    result = warden(
        "run",
        "--mem",
        "300MB",
        "--mem-warn",
        "100MB",
        "--mechanism",
        "poll",
        "--notify-cmd",
        f"{PYTHON} {hook} {events_file}",
        "--",
        PYTHON,
        grow,
        str(tmp_path / "pid"),
    )
    assert result.returncode == 137, explain(result)
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    assert [e["SIMWARDEN_EVENT"] for e in events] == ["mem_warn", "stop", "end"]
    assert events[0]["SIMWARDEN_LIMIT_BYTES"] == str(100 * MB)
    assert events[1]["SIMWARDEN_REASON"] == "memory"
    assert "passed warning level 100.0 MB" in result.stderr


def test_python_api_returns_result_object(tmp_path):
    result = run(
        [PYTHON, "-c", "import sys; sys.exit(4)"],
        RunOptions(limits=Limits(timeout_s=60), record=str(tmp_path / "r.json")),
    )
    assert (result.exit_code, result.reason) == (4, "exited")
    assert result.record["limits"]["timeout_s"] == 60
    assert json.loads((tmp_path / "r.json").read_text())["exit_code"] == 4
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temp file left behind


MARKER_CMD = "import pathlib, sys; pathlib.Path(sys.argv[1]).write_text('ran')"


@pytest.mark.parametrize(
    ("options", "fragment", "code"),
    [
        (["--mem", "-5MB"], "invalid --mem '-5MB'", 125),
        (["--mem", "5XB"], "invalid --mem '5XB'", 125),
        (["--mem", "150%"], "invalid --mem '150%'", 125),
        (["--mem", "1e999"], "invalid --mem '1e999'", 125),
        (["--mem", "__import__('os')"], "invalid --mem \"__import__('os')\"", 125),
        (["--mem", ""], "invalid --mem ''", 125),
        (["--timeout", "5 parsecs"], "invalid --timeout '5 parsecs'", 125),
        (["--stall-timeout", "soon"], "invalid --stall-timeout 'soon'", 125),
        (["--stall-timeout", "0"], "invalid --stall-timeout '0': must be greater than zero", 125),
        (["--stall-timeout", "-5m"], "invalid --stall-timeout '-5m'", 125),
        (["--host-mem-max", "150%"], "invalid --host-mem-max '150%'", 125),
        (["--grace", "-1"], "invalid --grace '-1'", 125),
        (["--stop-signal", "KILL"], "invalid --stop-signal 'KILL'", 125),
        (["--frobnicate"], "unrecognized arguments: --frobnicate", 125),
        (
            ["--record", "/nonexistent/dir/r.json"],
            "directory '/nonexistent/dir' does not exist",
            125,
        ),
        (["--mem", "100MB", "--mem-warn", "200MB"], "--mem-warn 200.0 MB must be below --mem", 125),
    ],
)
def test_bad_input_one_line_no_child(tmp_path, options, fragment, code):
    marker = tmp_path / "marker"
    result = warden("run", *options, "--", PYTHON, "-c", MARKER_CMD, str(marker))
    assert result.returncode == code, explain(result)
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("simwarden: "), explain(
        result
    )
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr
    assert not marker.exists()


def test_missing_double_dash_is_explained(tmp_path):
    marker = tmp_path / "marker"
    result = warden("run", "--mem", "1GB", PYTHON, "-c", MARKER_CMD, str(marker))
    assert result.returncode == 125
    assert result.stderr == (
        "simwarden: missing '--' before the command: simwarden run [options] -- COMMAND [ARG...]\n"
    )
    assert not marker.exists()


@pytest.mark.parametrize(
    ("command", "code", "fragment"),
    [
        (["no-such-program-xyz"], 127, "command not found: 'no-such-program-xyz' is not on PATH"),
        (["./missing.sh"], 127, "command not found: './missing.sh' does not exist"),
        ([], 125, "no command after '--'"),
    ],
)
def test_command_errors(tmp_path, command, code, fragment):
    result = warden("run", "--", *command, cwd=tmp_path)
    assert result.returncode == code, explain(result)
    assert result.stderr.startswith(f"simwarden: {fragment}"), explain(result)
    assert result.stderr.count("\n") == 1, explain(result)


def test_not_executable_is_126(tmp_path):
    target = tmp_path / "data.txt"
    target.write_text("not a program")
    result = warden("run", "--", "./data.txt", cwd=tmp_path)
    assert result.returncode == 126
    assert result.stderr == "simwarden: command not executable: './data.txt'\n"


def test_run_path_imports_no_heavy_library():
    code = (
        "import sys; from simwarden.cli import main; main(['run', '--', 'true']); "
        "print(sorted(m for m in ('pandas', 'h5py', 'matplotlib', 'git', 'numpy', 'yaml') "
        "if m in sys.modules))"
    )
    result = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, timeout=TIMEOUT)
    assert result.stdout == "[]\n", result.stderr


def test_help_lists_exit_codes():
    result = warden("run", "--help")
    assert result.returncode == 0
    assert "137 memory limit" in result.stdout and "124 timeout" in result.stdout
    assert "120 no progress reported for --stall-timeout" in result.stdout


if sys.platform != "linux":  # pragma: no cover - the suite is run on Linux
    pytestmark = pytest.mark.skip(reason="process-tree tests are written for Linux")


def test_the_notifier_secrets_never_reach_the_command(tmp_path: Path) -> None:
    """``simwarden run --notify-email ... --log L`` with the SMTP password in the environment:
    a command that prints its environment must not put the password into L or onto stdout."""
    log = tmp_path / "run.log"
    env = {**os.environ, "SIMWARDEN_SMTP_PASSWORD": "hunter2-secret", "SIMWARDEN_SMTP_USER": "u"}
    env.update(SIMWARDEN_SMTP_HOST="127.0.0.1", SIMWARDEN_SMTP_PORT="9")  # never reached
    show = "import os; print(sorted(k for k in os.environ if k.startswith('SIMWARDEN_SMTP')))"
    done = warden(
        "run",
        "--notify-email",
        "lab@example.org",
        "--log",
        str(log),
        "--",
        PYTHON,
        "-c",
        show,
        env=env,
    )
    assert done.returncode == 0, explain(done)
    assert done.stdout == "[]\n"
    assert log.read_text() == "[]\n"
    assert "hunter2-secret" not in done.stdout + done.stderr + log.read_text()


def test_a_reader_that_goes_away_ends_the_command_as_without_the_warden(tmp_path):
    """``simwarden run -- yes | head -n 3``: head reads three lines and exits; yes's next write
    fails (SIGPIPE) as in a plain pipe, so the warden ends with 128 + 13 instead of copying
    output nobody reads for ever."""
    record = tmp_path / "record.json"
    warden = subprocess.Popen(
        simwarden_argv("run", "--record", str(record), "--", "yes"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        head = subprocess.run(
            ["head", "-n", "3"], stdin=warden.stdout, capture_output=True, timeout=TIMEOUT
        )
        warden.stdout.close()  # only head holds the read end now
        assert head.stdout == b"y\ny\ny\n"
        assert warden.wait(timeout=TIMEOUT) == 128 + signal.SIGPIPE
    finally:
        if warden.poll() is None:
            warden.kill()
            warden.wait()
        warden.stderr.close()
    data = json.loads(record.read_text())
    assert (data["reason"], data["command_signal"]) == ("exited", "SIGPIPE")
