"""A real single-node SLURM for tests: munged, slurmctld and slurmd as root on loopback.

``SlurmCluster(partitions=[...]).start()`` writes ``/etc/slurm/slurm.conf`` (the only place the
job step finds it: the slurm-jobstep plugin clears ``SLURM_CONF``), starts the three daemons in
the foreground as children of this process with every state directory, log, pid file, the munge
key and socket in one temp dir, and returns once ``sinfo`` shows the node idle. ``stop()`` cancels
the jobs, stops and reaps the daemons and every ``slurmstepd`` they left, puts back a
``slurm.conf`` that was there before (one this module wrote in an earlier, killed session is not
kept) and removes the temp dir. Both are idempotent; ``stop()`` returns what survived.

Measured on a 2-core VM (Debian slurm 22.05.8): the node is idle 1–11 s after the start.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import psutil

CONF = Path("/etc/slurm/slurm.conf")
# A site's own slurm.conf, kept while the tests own CONF (restored at stop, or by the next start).
BACKUP = CONF.with_name("slurm.conf.simwarden-orig")
MARKER = "# Written by simwarden tests/slurm/cluster.py"
NODE = "localhost"
DEFAULT_PARTITION = "debug"
DAEMONS = ("munged", "slurmctld", "slurmd")
# A job's record stays visible to squeue this long after it ends: the executor plugin's squeue
# status check needs MinJobAge >= 3x its init delay, and a finished job must not vanish before
# Snakemake has seen it.
MIN_JOB_AGE_S = 300
COMMAND_TIMEOUT_S = 30


class ClusterError(RuntimeError):
    """SLURM could not be started; the message names the step and quotes the daemon's log."""


def _die_with_parent() -> None:
    # The daemons get SIGTERM if the test process dies without stopping them (PR_SET_PDEATHSIG).
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM, 0, 0, 0)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no {path.name})"


def _wait(condition: Callable[[], object], timeout: float, step: float = 0.1) -> bool:
    """Poll ``condition()`` until truthy; False after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)


def probe_node() -> tuple[int, int]:
    """``(cpus, real_memory_mb)`` of this machine as ``slurmd -C`` reports them."""
    try:
        done = subprocess.run(
            ["slurmd", "-C"], capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ClusterError(f"slurmd -C failed: {error}") from error
    found = dict(re.findall(r"\b(CPUs|RealMemory)=(\d+)", done.stdout))
    if done.returncode != 0 or len(found) != 2:
        raise ClusterError(f"slurmd -C exited {done.returncode}: {done.stdout}{done.stderr}")
    return int(found["CPUs"]), int(found["RealMemory"])


def slurm_conf(root: Path, cpus: int, memory_mb: int, partitions: Sequence[str]) -> str:
    """slurm.conf for one node on 127.0.0.1 whose state lives under ``root``.

    The first partition (``debug``) is the default; each name in ``partitions`` gets a
    partition of its own on the same node, so a job that lands there asked for it.
    """
    names = [DEFAULT_PARTITION, *(p for p in partitions if p != DEFAULT_PARTITION)]
    lines = [
        MARKER,
        "ClusterName=simwarden-test",
        f"SlurmctldHost={NODE}(127.0.0.1)",
        # Free ports, so a cluster left over by a killed session cannot answer for this one.
        f"SlurmctldPort={_free_port()}",
        f"SlurmdPort={_free_port()}",
        "CommunicationParameters=NoCtldInAddrAny,NoInAddrAny",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"AuthInfo=socket={root / 'munge' / 'munge.socket'}",
        "SlurmUser=root",
        "SlurmdUser=root",
        f"StateSaveLocation={root / 'state'}",
        f"SlurmdSpoolDir={root / 'spool'}",
        f"SlurmctldPidFile={root / 'slurmctld.pid'}",
        f"SlurmdPidFile={root / 'slurmd.pid'}",
        f"SlurmctldLogFile={root / 'slurmctld.log'}",
        f"SlurmdLogFile={root / 'slurmd.log'}",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "MpiDefault=none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_CPU_Memory",
        "DefMemPerCPU=1000",
        # SLURM's own memory enforcement, sampled every second: the backstop behind the warden.
        "JobAcctGatherType=jobacct_gather/linux",
        "JobAcctGatherParams=OverMemoryKill",
        "JobAcctGatherFrequency=task=1",
        "AccountingStorageType=accounting_storage/none",
        # One line per finished job with what it was given (tests read the requests from it).
        "JobCompType=jobcomp/filetxt",
        f"JobCompLoc={root / 'jobcomp.txt'}",
        f"MinJobAge={MIN_JOB_AGE_S}",
        "ReturnToService=2",
        # Periodic scheduling pass every second (default 60 s) besides the one on submission.
        "SchedulerParameters=sched_interval=1",
        f"NodeName={NODE} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN",
    ]
    for index, name in enumerate(names):
        default = "YES" if index == 0 else "NO"
        lines.append(
            f"PartitionName={name} Nodes={NODE} Default={default} MaxTime=INFINITE State=UP"
        )
    return "\n".join(lines) + "\n"


def parse_jobcomp(text: str) -> list[dict[str, str]]:
    """The records of a ``jobcomp/filetxt`` file, one ``{field: value}`` per finished job."""
    return [dict(re.findall(r"(\w+)=(\S*)", line)) for line in text.splitlines() if line.strip()]


class SlurmCluster:
    """One node, its daemons and its config; see the module docstring."""

    def __init__(self, partitions: Sequence[str] = ()) -> None:
        self.partitions = list(partitions)
        self.root: Path | None = None
        self.daemons: dict[str, subprocess.Popen[bytes]] = {}
        self.started_at = 0.0
        self.start_seconds = 0.0
        self._backup: Path | None = None
        self._wrote_conf = False

    # -- start -----------------------------------------------------------------------------------
    def start(self, timeout: float = 60) -> None:
        """Write the config, start the daemons, wait for the idle node; ClusterError if not.

        On failure everything already started is stopped again before the error is raised.
        """
        if self.daemons:
            return
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout: float) -> None:
        self.started_at = time.time()
        begin = time.monotonic()
        cpus, memory_mb = probe_node()
        self.root = Path(tempfile.mkdtemp(prefix="simwarden-slurm-"))
        # munged wants every directory up to its socket searchable by all (clients connect
        # as any user); the key file itself stays private.
        self.root.chmod(0o755)
        for name in ("munge", "state", "spool"):
            (self.root / name).mkdir(mode=0o755)
        key = self.root / "munge" / "munge.key"
        # Created private: a key readable for a moment could be copied and used to forge
        # credentials to a slurmd running as root.
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
        with os.fdopen(fd, "wb") as handle:
            handle.write(os.urandom(1024))
        self._write_conf(slurm_conf(self.root, cpus, memory_mb, self.partitions))
        munge = self.root / "munge"
        self._spawn(
            "munged",
            [
                "munged",
                "--foreground",
                f"--socket={munge / 'munge.socket'}",
                f"--key-file={key}",
                f"--pid-file={munge / 'munged.pid'}",
                f"--log-file={self.root / 'munged.log'}",
                f"--seed-file={munge / 'munged.seed'}",
            ],
        )
        self._await("munged socket", lambda: (munge / "munge.socket").exists(), timeout)
        self._spawn("slurmctld", ["slurmctld", "-D", "-f", str(CONF)])
        self._spawn("slurmd", ["slurmd", "-D", "-N", NODE, "-f", str(CONF)])
        self._await("the node to be idle in sinfo", self._node_idle, timeout)
        self.start_seconds = time.monotonic() - begin

    def _write_conf(self, text: str) -> None:
        CONF.parent.mkdir(parents=True, exist_ok=True)
        # The backup of a site's own slurm.conf lives beside it, not in the temp dir, so a
        # session killed before stop() still leaves it for the next session to restore.
        if CONF.exists() and not CONF.read_text(errors="replace").startswith(MARKER):
            shutil.copy2(CONF, BACKUP)
        if BACKUP.exists():
            self._backup = BACKUP
        CONF.write_text(text)
        self._wrote_conf = True

    def _spawn(self, name: str, argv: list[str]) -> None:
        assert self.root is not None
        with open(self.root / f"{name}.out", "wb") as out:
            self.daemons[name] = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    def _await(self, what: str, condition: Callable[[], object], timeout: float) -> None:
        def ready() -> bool:
            for name, process in self.daemons.items():
                if process.poll() is not None:
                    last = self._last_line(name)
                    raise ClusterError(
                        f"{name} exited {process.returncode}: {last}{self._logs(name)}"
                    )
            return bool(condition())

        if not _wait(ready, timeout, step=0.2):
            raise ClusterError(f"timed out after {timeout} s waiting for {what}: {self._logs()}")

    def _last_line(self, name: str) -> str:
        """The daemon's last words: the last line of its output, else of its log file."""
        assert self.root is not None
        for suffix in ("out", "log"):
            lines = _tail(self.root / f"{name}.{suffix}", 1).strip()
            if lines and not lines.startswith("(no "):
                return lines
        return "(no output)"

    def _logs(self, *names: str) -> str:
        assert self.root is not None
        parts = []
        for name in names or tuple(self.daemons):
            parts.append(f"\n--- {name}.log\n{_tail(self.root / f'{name}.log')}")
            parts.append(f"\n--- {name}.out\n{_tail(self.root / f'{name}.out')}")
        return "".join(parts)

    def _node_idle(self) -> bool:
        done = self.run("sinfo", "--noheader", "--Node", "--format=%N %t")
        return done.returncode == 0 and f"{NODE} idle" in done.stdout

    # -- use -------------------------------------------------------------------------------------
    def run(
        self, *argv: str, timeout: float = COMMAND_TIMEOUT_S
    ) -> subprocess.CompletedProcess[str]:
        """Run a SLURM client command (sinfo, squeue, scancel...) against this cluster."""
        return subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )

    def jobs_in_queue(self) -> list[str]:
        """Ids of the jobs squeue still shows as pending or running."""
        done = self.run("squeue", "--noheader", "--states=PD,R,CG,CF", "--format=%i")
        return done.stdout.split() if done.returncode == 0 else []

    def finished_jobs(self) -> list[dict[str, str]]:
        """The jobcomp record of every job that ended (JobId, JobState, Partition, TimeLimit,
        ProcCnt, ExitCode, and in ``Tres`` the memory it requested)."""
        assert self.root is not None
        path = self.root / "jobcomp.txt"
        return parse_jobcomp(path.read_text()) if path.exists() else []

    def pids(self) -> dict[str, int]:
        return {name: process.pid for name, process in self.daemons.items()}

    def _stepds(self) -> list[psutil.Process]:
        """slurmstepd processes started since this cluster started (its job steps); none if it
        never started."""
        found: list[psutil.Process] = []
        if not self.started_at:
            return found
        for proc in psutil.process_iter(["name", "create_time"]):
            if proc.info["name"] == "slurmstepd" and proc.info["create_time"] >= self.started_at:
                found.append(proc)
        return found

    # -- stop ------------------------------------------------------------------------------------
    def stop(self, timeout: float = 30) -> list[str]:
        """Cancel every job, stop and reap the daemons and their job steps, restore
        /etc/slurm/slurm.conf, remove the temp dir. Returns the survivors (empty when clean)."""
        try:
            self._cancel_jobs(timeout / 3)
            for name in ("slurmd", "slurmctld", "munged"):
                process = self.daemons.get(name)
                if process is not None and process.poll() is None:
                    process.terminate()
                    try:
                        process.wait(timeout=timeout / 3)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait(timeout=timeout / 3)
            stepds = self._stepds()
            for proc in stepds:
                with contextlib.suppress(psutil.NoSuchProcess):
                    proc.kill()
            psutil.wait_procs(stepds, timeout=timeout / 3)
            survivors = [
                f"{name} pid {process.pid}"
                for name, process in self.daemons.items()
                if process.poll() is None
            ]
            return survivors + [f"slurmstepd pid {proc.pid}" for proc in self._stepds()]
        finally:
            self.daemons = {}
            self._restore_conf()
            if self.root is not None:
                shutil.rmtree(self.root, ignore_errors=True)
                self.root = None

    def _cancel_jobs(self, timeout: float) -> None:
        """scancel what is still queued and wait for its job steps to end (best effort: the
        daemons are stopped next anyway)."""
        slurmctld = self.daemons.get("slurmctld")
        if slurmctld is None or slurmctld.poll() is not None:
            return
        try:
            queued = self.jobs_in_queue()
            if queued:
                self.run("scancel", *queued)
                _wait(lambda: not self.jobs_in_queue() and not self._stepds(), timeout)
        except (OSError, subprocess.TimeoutExpired):
            pass

    def _restore_conf(self) -> None:
        if self._backup is not None and self._backup.exists():
            shutil.copy2(self._backup, CONF)
            self._backup.unlink()
        elif self._wrote_conf:
            CONF.unlink(missing_ok=True)
        self._backup = None
        self._wrote_conf = False

    def __enter__(self) -> SlurmCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
