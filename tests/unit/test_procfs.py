"""How the warden reads processes: /proc directly on Linux (procfs), psutil elsewhere (psproc).

Both backends must report what psutil reports, so the peak and CPU in a record do not depend on
which one ran; the tree walk must find children born under members it already knows.
"""

from __future__ import annotations

import os
import subprocess
import sys

import psutil
import pytest

from simwarden.warden import procfs, psproc
from simwarden.warden.proctree import ProcessTree, host_info, processes
from tests.conftest import TIMEOUT, wait_for_file

pytestmark = pytest.mark.skipif(not procfs.AVAILABLE, reason="needs Linux /proc to compare")
BACKENDS = pytest.mark.parametrize("backend", [procfs, psproc], ids=["procfs", "psproc"])

# Holds 40 MB, reads and writes a file, burns some CPU, says "ready" and sleeps.
STEADY = """
import os, sys, time
block = bytearray(40 * 1024 * 1024)
for i in range(0, len(block), 4096):
    block[i] = 1
with open(sys.argv[1] + ".data", "wb") as f:
    f.write(os.urandom(1 << 20)); f.flush(); os.fsync(f.fileno())
sum(range(2_000_000))
open(sys.argv[1] + ".tmp", "w").write("ready\\n")
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(120)
"""


def start(procs, argv):
    process = subprocess.Popen(argv, start_new_session=True)
    procs.append(process)
    return process


@pytest.fixture
def steady(tmp_path, procs):
    ready = tmp_path / "ready"
    process = start(procs, [sys.executable, "-c", STEADY, str(ready)])
    wait_for_file(ready, process)
    return process


@BACKENDS
def test_a_steady_process_reads_as_psutil_reads_it(steady, backend):
    reference = psutil.Process(steady.pid)
    with reference.oneshot():
        rss, times, io = reference.memory_info().rss, reference.cpu_times(), reference.io_counters()
    proc = backend.Proc(steady.pid)
    assert proc.ppid == os.getpid()
    measured = proc.measure()
    assert measured is not None
    # CPU seconds equal but for float rounding (0.09 vs 0.09000000000000001: user and system
    # ticks are summed before or after the division by the clock rate).
    assert measured[1] == pytest.approx(times.user + times.system, abs=1e-9)
    assert (measured[0], measured[2], measured[3]) == (rss, io.read_bytes, io.write_bytes)
    assert rss >= 40 * 1024 * 1024
    assert io.write_bytes >= 1 << 20
    assert proc.alive() is True
    assert proc.name() == reference.name()


@BACKENDS
def test_a_zombie_measures_none_and_is_not_alive_then_reads_as_gone(procs, backend):
    process = start(procs, [sys.executable, "-c", "pass"])
    proc = backend.Proc(process.pid)
    os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)  # ended, not reaped: a zombie
    assert proc.measure() is None
    assert proc.alive() is False
    process.wait(timeout=TIMEOUT)
    with pytest.raises(procfs.ProcessGone):
        proc.measure()
    with pytest.raises(procfs.ProcessGone):
        backend.Proc(process.pid)


def test_a_pid_taken_by_another_process_reads_as_gone(steady):
    proc = procfs.Proc(steady.pid)
    # The same pid with another start time is what a reused pid looks like.
    other = procfs.Proc(steady.pid)
    other._start = b"1"  # noqa: SLF001 - stands in for a process started earlier
    assert other.alive() is False
    with pytest.raises(procfs.ProcessGone):
        other.measure()
    assert proc.alive() is True


@BACKENDS
def test_children_are_the_pids_whose_parent_it_is(steady, procs, backend):
    second = start(procs, ["sleep", "60"])
    expected = {p.pid for p in psutil.Process().children()}
    assert {steady.pid, second.pid} <= expected
    assert set(backend.children(os.getpid())) == expected
    assert backend.children(steady.pid) == []


@BACKENDS
def test_host_memory_is_psutils(backend):
    total, available = backend.host_memory()
    assert total == psutil.virtual_memory().total
    assert 0 < available <= total
    assert 0.0 <= backend.host_memory_percent() <= 100.0


def test_linux_reads_proc_and_the_host_facts_match_platform():
    import platform

    assert processes() is procfs
    host = host_info()
    assert host["name"] == platform.node()
    assert host["python"] == platform.python_version()
    assert host["memory_bytes"] == psutil.virtual_memory().total


# The root starts a child; once told to, that child starts a grandchild.
FAMILY = """
import os, subprocess, sys, time
d = sys.argv[1]
if len(sys.argv) == 2:
    child = subprocess.Popen([sys.executable, __file__, d, "child"])
    open(d + "/child.tmp", "w").write(f"{child.pid}\\n"); os.replace(d + "/child.tmp", d + "/child")
    child.wait()
else:
    while not os.path.exists(d + "/go"):
        time.sleep(0.01)
    grandchild = subprocess.Popen(["sleep", "60"])
    open(d + "/gc.tmp", "w").write(f"{grandchild.pid}\\n"); os.replace(d + "/gc.tmp", d + "/gc")
    grandchild.wait()
"""


def test_the_walk_finds_a_grandchild_born_under_a_known_member(tmp_path, procs, monkeypatch):
    script = tmp_path / "family.py"
    script.write_text(FAMILY)
    root = start(procs, [sys.executable, str(script), str(tmp_path)])
    child = int(wait_for_file(tmp_path / "child", root))
    tree = ProcessTree(root.pid)
    tree.refresh()
    assert set(tree.pids()) == {root.pid, child}
    (tmp_path / "go").touch()
    grandchild = int(wait_for_file(tmp_path / "gc", root))
    tree.refresh()
    assert set(tree.pids()) == {root.pid, child, grandchild}
    for budget in (procfs.WALK_BUDGET, 0):  # walking the children files, then one scan of /proc
        monkeypatch.setattr(procfs, "WALK_BUDGET", budget)
        assert procfs.descendants([root.pid]) == {root.pid, child, grandchild}
    assert psproc.descendants([root.pid]) == {root.pid, child, grandchild}
    sample = tree.sample()
    assert sample.processes == 3
    expected = sum(psutil.Process(pid).memory_info().rss for pid in (root.pid, child, grandchild))
    assert sample.rss_bytes == expected


def test_without_the_children_file_a_scan_finds_the_same_children(steady, procs, monkeypatch):
    second = start(procs, ["sleep", "60"])
    with_file = set(procfs.children(os.getpid()))
    monkeypatch.setattr(procfs, "_HAS_CHILDREN_FILE", False)
    assert set(procfs.children(os.getpid())) == with_file
    assert {steady.pid, second.pid} <= with_file
