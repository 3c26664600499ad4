"""Fixtures for the SLURM tests: one real single-node SLURM for the session (tests/slurm/cluster.py)
and copies of the workflow to submit to it.

Where SLURM cannot run (packages missing and not installable, not root, daemons do not come up)
the tests skip with the reason; with ``SIMWARDEN_REQUIRE_SLURM=1`` that skip is a failure.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.slurm.cluster import ClusterError, SlurmCluster
from tests.system_packages import require_debian_packages
from tests.workflow.conftest import (  # noqa: F401 - shared_cache and workflow are fixtures
    BUNDLE,
    COPIED,
    SNAKEMAKE,
    Workflow,
    shared_cache,
    workflow,
)

REQUIRE_ENV = "SIMWARDEN_REQUIRE_SLURM"
PACKAGES = ("slurmctld", "slurmd", "munge")
PROGRAMS = ("slurmctld", "slurmd", "munged", "sbatch", "squeue", "sinfo", "scancel")
START_TIMEOUT_S = 60
# The plugin's realistic defaults (sacct, first check after 40 s) do not suit a cluster without
# slurmdbd: sacct fails there and the status check then never ends. The tests pass these instead
# (squeue is reliable while MinJobAge >= 3x the init delay: the test cluster keeps 300 s).
TEST_FLAGS = (
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "1",
    "--seconds-between-status-checks",
    "1",
    # Keep the SLURM output of successful jobs too: the tests read it.
    "--slurm-keep-successful-logs",
)
# Every snakemake call is bounded by GNU timeout (a hung status check ignores SIGTERM: -k kills).
SNAKEMAKE_TIMEOUT_S = 150
# Snakemake's job block ("rule X:", "jobid: N", "resources: ..., mem_mb=300, ...") and the
# plugin's "Job N has been submitted with SLURM jobid M (log: PATH)".
_RULE = re.compile(r"^\s*(?:local)?rule (\w+):\s*$")
_JOBID = re.compile(r"^\s*jobid: (\d+)\s*$")
_RESOURCES = re.compile(r"^\s*resources: (.*)$")
_SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (\S+?)\)")
_LOG_PATH = re.compile(r"/rule_\w+/(?:(.+)/)?\d+\.log$")


def _cannot(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1 makes this a failure instead of a skip)")
    pytest.skip(reason)


def profile_partition() -> str:
    """The partition profiles/slurm submits to (the test cluster offers it beside its default)."""
    profile = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())
    return str(profile["default-resources"]["slurm_partition"])


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[SlurmCluster]:
    """A running single-node SLURM, stopped (daemons reaped, /etc/slurm restored) at the end
    of the session, also when a test failed."""
    require_debian_packages(PACKAGES, PROGRAMS, REQUIRE_ENV)
    if os.geteuid() != 0:
        _cannot("the test SLURM runs slurmd and munged as root; run the SLURM tests as root")
    cluster = SlurmCluster(partitions=[profile_partition()])
    try:
        cluster.start(timeout=START_TIMEOUT_S)
    except ClusterError as error:
        _cannot(f"SLURM did not start: {error}")
    yield cluster
    survivors = cluster.stop()
    assert not survivors, f"still running after the SLURM test cluster stopped: {survivors}"


@pytest.fixture
def running_cluster(slurm_cluster: SlurmCluster) -> SlurmCluster:
    """The session's cluster, started again if a test stopped it."""
    try:
        slurm_cluster.start(timeout=START_TIMEOUT_S)
    except ClusterError as error:
        _cannot(f"SLURM did not start: {error}")
    return slurm_cluster


@dataclass(frozen=True)
class Submitted:
    """One job as Snakemake announced it and the plugin reported its submission."""

    rule: str
    wildcards: str  # as the plugin names the log directory ("" without wildcards)
    resources: dict[str, str]  # as Snakemake printed them for this attempt (mem_mb, runtime...)
    log: Path  # SLURM's output file (the plugin deletes it when the job succeeded)


@dataclass
class Run:
    """A finished snakemake call and the SLURM jobs it submitted."""

    flow: Workflow
    done: subprocess.CompletedProcess[str]
    jobs: dict[str, Submitted]  # by SLURM job id

    @property
    def text(self) -> str:
        done = self.done
        return f"exit {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"

    def finished(
        self, cluster: SlurmCluster, rule: str | None = None
    ) -> list[tuple[Submitted, dict[str, str]]]:
        """This run's SLURM jobs (of ``rule``, or all) in submission order, each with the
        jobcomp record SLURM wrote when it ended (JobState, Partition, TimeLimit, ProcCnt, Tres)."""
        records = {record["JobId"]: record for record in cluster.finished_jobs()}
        found = []
        for job_id, job in sorted(self.jobs.items(), key=lambda item: int(item[0])):
            if rule is None or job.rule == rule:
                assert job_id in records, f"no jobcomp record for job {job_id}\n{self.text}"
                found.append((job, records[job_id]))
        return found


def snakemake(flow: Workflow, *args: str, profiles: tuple[str, ...] = ("short", "slurm")) -> Run:
    """Run snakemake with ``--profile profiles/P`` for each of ``profiles`` (and, with slurm,
    the test's status-check flags) in ``flow``, bounded by GNU timeout; the whole process group
    is killed if even that hangs."""
    argv = ["timeout", "-k", "10", str(SNAKEMAKE_TIMEOUT_S), *SNAKEMAKE]
    for profile in profiles:
        argv += ["--profile", f"profiles/{profile}"]
    if "slurm" in profiles:
        argv += TEST_FLAGS
    argv += args
    done = run_bounded(argv, flow)
    return Run(flow, done, submitted_jobs(done.stdout + "\n" + done.stderr))


def run_bounded(
    argv: list[str], flow: Workflow, *, merge_output: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` (already bounded by GNU timeout) in ``flow`` in its own session; kill its
    whole process group if even that hangs or the test is interrupted. With ``merge_output``,
    stderr goes into stdout (one stream, in the order written)."""
    process = subprocess.Popen(
        argv,
        cwd=flow.root,
        env=flow.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge_output else subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=SNAKEMAKE_TIMEOUT_S + 30)
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr or "")


def submitted_jobs(text: str) -> dict[str, Submitted]:
    """The SLURM jobs a snakemake output announces, by SLURM job id, each with the resources
    of the attempt it ran (a retried job is announced again with its new resources)."""
    announced: dict[str, tuple[str, dict[str, str]]] = {}
    jobs: dict[str, Submitted] = {}
    rule: str | None = None
    jobid: str | None = None
    for line in text.splitlines():
        if match := _RULE.match(line):
            rule, jobid = match.group(1), None
        elif rule and (match := _JOBID.match(line)):
            jobid = match.group(1)
        elif rule and jobid and (match := _RESOURCES.match(line)):
            items = (item.split("=", 1) for item in match.group(1).split(", ") if "=" in item)
            announced[jobid] = (rule, dict(items))
        elif match := _SUBMITTED.search(line):
            job, slurm_id, log = match.groups()
            assert job in announced, f"job {job} submitted before Snakemake announced it"
            where = _LOG_PATH.search(log)
            assert where, f"unexpected SLURM log path {log}"
            job_rule, resources = announced[job]
            jobs[slurm_id] = Submitted(job_rule, where.group(1) or "", resources, Path(log))
    return jobs


def tres_mem_mb(record: dict[str, str]) -> int:
    """The memory a jobcomp record says the job was allocated, in MB (SLURM's M)."""
    tres = dict(item.split("=", 1) for item in record["Tres"].split(","))
    value, unit = re.fullmatch(r"(\d+)([MGT])", tres["mem"]).groups()  # type: ignore[union-attr]
    return int(value) * {"M": 1, "G": 1024, "T": 1024**2}[unit]
