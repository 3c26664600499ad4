"""Failed runs through the real ``snakemake``: the cause said, what they made kept, only memory
retried, the aggregates and the report made with the failures in them, one summary at the end,
and the next invocation redoing only the failed runs.

The simulations live in a small git repository the test builds, one executable per run
(``sims/<run>``), run by the command runner as ``{repo}/sims/{run} {params} {outdir}``:

- ``crash`` draws a figure, then raises AttributeError;
- ``missing`` imports a module that does not exist;
- ``hungry`` holds 180 MB: over its first budget (120 MB), within the retry's (240 MB);
- ``loud`` (a shell script) writes to stderr and exits 3;
- ``fine`` writes its data and ends well.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from simwarden.pipeline import layout
from simwarden.results.end_summary import format_end_summary, rows_from_status
from tests.conftest import TIMEOUT
from tests.workflow.conftest import Workflow, output

FIRST_BUDGET_MB = 120
PY = f"#!{sys.executable}\n"
SIMS = {
    "crash": PY
    + """\
import matplotlib.pyplot as plt

fig, ax = plt.subplots()
ax.plot([0, 1, 2], [3, 1, 2])
ax.set_title("raster")
ax.plott([1])
""",
    "missing": PY
    + """\
import sys
import brian
""",
    # 180 MB of written bytes (b"x" * n: every page touched), held while the warden samples.
    "hungry": PY
    + """\
import sys
import time

block = b"x" * (180 * 10**6)
deadline = time.monotonic() + 1.5
while time.monotonic() < deadline:
    time.sleep(0.05)
open(sys.argv[2] + "/held.txt", "w").write(str(len(block)))
""",
    "loud": """\
#!/bin/sh
echo "reading input.dat" >&2
echo "cannot open input.dat" >&2
exit 3
""",
    "fine": PY
    + """\
import sys

open(sys.argv[2] + "/result.txt", "w").write("42")
""",
}
FAILED = ("crash", "missing", "loud")
CAUSES = {
    "crash": "AttributeError: 'Axes' object has no attribute 'plott' (sims/crash:7)",
    "missing": "ModuleNotFoundError: No module named 'brian' (sims/missing:3)",
    "loud": "cannot open input.dat",
}


@pytest.fixture
def failing(workflow: Workflow, tmp_path: Path) -> Workflow:
    workflow.use_scripts(tmp_path / "sims-repo", SIMS, ["png"], "five simulations")
    workflow.set_runs(**{name: {"seed": 1} for name in SIMS})
    workflow.update_run_config(mem_mb=FIRST_BUDGET_MB, retries=1, timeout="60s")
    return workflow


def summary_rows(stderr: str, count: int) -> list[list[str]]:
    """The end summary's last ``count`` + 1 table lines (header first), cells split on 2+
    spaces; fails unless they are the lines just before the count and redo lines."""
    lines = stderr.rstrip("\n").splitlines()
    table = lines[-(count + 3) : -2]
    assert all(line.startswith("simwarden: ") for line in table), stderr
    return [re.split(r" {2,}", line.removeprefix("simwarden: ").strip()) for line in table]


def table_rows(flow: Workflow) -> dict[str, dict[str, Any]]:
    with (flow.root / layout.TABLE_CSV).open() as handle:
        return {row["run"]: row for row in csv.DictReader(handle)}


def made(directory: Path) -> list[str]:
    """What is in a directory, without Snakemake's timestamp file of a directory output."""
    return sorted(p.name for p in directory.iterdir() if p.name != ".snakemake_timestamp")


def check_records(flow: Workflow) -> None:
    """The exact cause in each record; one attempt for what more memory cannot fix."""
    for run in FAILED:
        record = flow.record(run)
        assert (record["reason"], record["attempts"]) == ("exited", 1), (run, record)
        assert [n for n, _ in layout.failed_attempts(run, flow.root)] == [1], run
        # Why it was not retried is in the record (status and the Failures page show it).
        assert record["retry_note"] == (
            f"not retried: exit code {record['exit_code']} is not in run_config.retry_on [memory]"
        ), (run, record)
    crash = flow.record("crash")
    assert crash["exit_code"] == 1
    assert (crash["error"]["type"], crash["error"]["message"], crash["error"]["where"]) == (
        "AttributeError",
        "'Axes' object has no attribute 'plott'",
        "sims/crash:7",
    )
    missing = flow.record("missing")["error"]
    assert (missing["type"], missing["message"], missing["where"]) == (
        "ModuleNotFoundError",
        "No module named 'brian'",
        "sims/missing:3",
    )
    loud = flow.record("loud")
    assert (loud["exit_code"], loud["error"]) == (3, None)
    assert loud["stderr_tail"] == ["reading input.dat", "cannot open input.dat"]


def check_memory_retry(flow: Workflow) -> None:
    """The memory stop was retried once with twice the budget, and fitted."""
    hungry = flow.record("hungry")
    assert (hungry["reason"], hungry["exit_code"]) == ("exited", 0), hungry
    assert hungry["context"]["attempt"] == 2
    assert hungry["limits"]["mem_bytes"] == 2 * FIRST_BUDGET_MB * 10**6
    kept = layout.failed_attempts("hungry", flow.root)
    assert [n for n, _ in kept] == [1]
    first = json.loads((kept[0][1] / "record.json").read_text())
    assert (first["reason"], first["exit_code"], first["attempts"]) == ("memory", 137, 1)
    assert (flow.run_dir("hungry") / "data" / "held.txt").read_text() == str(180 * 10**6)
    assert not (flow.root / layout.for_run(layout.RERUN_MARKER, "hungry")).exists()


def check_kept(flow: Workflow) -> None:
    """What the crash made is kept; nothing in the run's own outputs passes for a result; the
    job's log says in one line that it failed, why, and why it was not retried."""
    crash_kept = layout.failed_attempt_dir("crash", 1, flow.root)
    assert (crash_kept / "figures" / "png" / "raster.png").stat().st_size > 0
    assert (crash_kept / "data").is_dir()
    assert "AttributeError" in (crash_kept / "log-tail.txt").read_text()
    assert made(flow.run_dir("crash") / "data") == []
    assert made(flow.root / "results" / "figures" / "crash") == []
    log = (flow.root / layout.log(layout.RUN_SIMULATION, "missing")).read_text()
    assert (
        f"simwarden: run missing failed (attempt 1): {CAUSES['missing']}; not retried: exit "
        "code 1 is not in run_config.retry_on [memory]; its files are kept in "
        "results/failed/missing/attempt-1; to give the simulation its packages, list them in a "
        "requirements.txt in its repository and name it in runner.environment (README: The "
        "simulation's own environment)"
    ) in log.splitlines(), log


def check_aggregates(flow: Workflow) -> None:
    """The table, the summary plot and the page of failures were made, every run in them."""
    for path in (layout.TABLE_CSV, layout.SUMMARY_PLOT, layout.FAILURES_HTML):
        assert (flow.root / path).stat().st_size > 0, path
    rows = table_rows(flow)
    assert sorted(rows) == sorted(SIMS)
    for run, cause in CAUSES.items():
        assert rows[run]["error"] == cause, rows[run]
    assert rows["hungry"]["error"] == ""
    check_summary_plot(flow)
    failures_page = (flow.root / layout.FAILURES_HTML).read_text()
    for run in FAILED:
        assert f"results/failed/{run}/attempt-1" in failures_page, run
    assert not (flow.root / layout.RUNS_OK).exists()


def check_summary_plot(flow: Workflow) -> None:
    """The summary plot counts the failed runs, says each one's cause after its wall time, and
    hatches the run a retry fixed (its bar in both panels)."""
    from xml.etree import ElementTree

    from simwarden.results.plots.summary import short_cause

    root = ElementTree.parse(flow.root / layout.SUMMARY_PLOT).getroot()
    shown = [e.text or "" for e in root.iter("{http://www.w3.org/2000/svg}text")]
    assert shown[0] == "5 runs: 2 exited ok, 3 failed (exit ≠ 0)", shown
    assert "needed a retry (1)" in shown, shown
    values = [e.text or "" for e in root.iter() if e.get("class") == "value"]
    for cause in CAUSES.values():
        assert sum(v.endswith(f"  {short_cause(cause)}") for v in values) == 1, (cause, values)
    hatched = [e for e in root.iter() if e.get("class") == "retry"]
    bars = {
        (e.get("x"), e.get("y")): e.get("data-run") for e in root.iter() if e.get("class") == "bar"
    }
    assert [bars[(e.get("x"), e.get("y"))] for e in hatched] == ["hungry", "hungry"]


def simwarden_status(flow: Workflow, *args: str) -> subprocess.CompletedProcess[str]:
    return flow.simwarden("status", *args)


def check_status(flow: Workflow) -> None:
    """``simwarden status`` says each failed run's cause, and ``--check`` agrees with
    Snakemake's exit status."""
    done = simwarden_status(flow, "--format", "json")
    assert done.returncode == 0, output(done)
    rows = {row["run"]: row for row in json.loads(done.stdout)}
    for run, cause in CAUSES.items():
        assert (rows[run]["state"], rows[run]["cause"]) == ("failed", cause), rows[run]
    assert rows["hungry"]["state"] == "up to date", rows["hungry"]
    check = simwarden_status(flow, "--check")
    assert check.returncode == 1, output(check)


def check_end(done: subprocess.CompletedProcess[str]) -> None:
    """check_runs said which runs failed; the end summary is the last thing on stderr."""
    for run in FAILED:
        assert f"simwarden: run {run} failed: {CAUSES[run]}" in done.stderr, output(done)
    assert done.stderr.rstrip("\n").splitlines()[-2:] == [
        "simwarden: 5 runs: 2 ok, 3 failed",
        "simwarden: redo the failed runs: snakemake --profile profiles/short",
    ], output(done)
    header, *summary = summary_rows(done.stderr, len(SIMS))
    assert header == ["RUN", "STATE", "REASON", "ATTEMPTS", "PEAK", "WALL", "CAUSE"]
    shown = {row[0]: row for row in summary}
    assert sorted(shown) == sorted(SIMS)
    for run in FAILED:
        # A failed run that exited says its code: "exited" alone reads as success.
        code = 3 if run == "loud" else 1
        assert shown[run][1:4] == ["failed", f"exited {code}", "1"], shown[run]
        assert shown[run][6] == CAUSES[run], shown[run]
    assert shown["hungry"][1:4] == ["ok", "exited", "2"]
    # The memory stop that a retry fixed is in the summary, from the kept attempt.
    assert shown["hungry"][6] == "retried: attempt 1 stopped (memory)", shown["hungry"]
    assert re.fullmatch(r"\d+ MB", shown["hungry"][4]), shown["hungry"]


def test_failed_runs_are_explained_kept_aggregated_and_redone_alone(failing: Workflow) -> None:
    flow = failing
    done = flow.snakemake()
    assert done.returncode == 1, output(done)
    check_records(flow)
    check_memory_retry(flow)
    check_kept(flow)
    check_aggregates(flow)
    check_status(flow)
    check_end(done)

    # The report works after a partial failure.
    report = flow.snakemake("--report", "report.html")
    assert report.returncode == 0, output(report)
    assert (flow.root / "report.html").stat().st_size > 0

    # The next invocation redoes only the failed runs (and the aggregates), twice over: the
    # rerun markers stay newer than the outputs of a run that failed again.
    redo = [
        ("all", None),
        ("check_runs", None),
        ("collect_benchmarks", None),
        ("plot_summary", None),
        *[("run_simulation", run) for run in sorted(FAILED)],
    ]
    assert flow.dry_run() == redo
    starts = {run: flow.record(run)["start"] for run in SIMS}
    again = flow.snakemake()
    assert again.returncode == 1, output(again)
    for run in SIMS:
        changed = flow.record(run)["start"] != starts[run]
        assert changed == (run in FAILED), run
    assert flow.dry_run() == redo


def test_a_retry_on_value_that_is_not_a_reason_is_one_line(failing: Workflow) -> None:
    failing.update_run_config(retry_on=["memory", "exit"])
    done = subprocess.run(
        failing.argv("--dry-run"),
        cwd=failing.root,
        env=failing.env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 125, output(done)
    assert (
        "simwarden: profiles/short/run.yaml: invalid run_config.retry_on 'exit': expected a list "
        "of memory, timeout (other failures cannot be fixed by more resources)"
    ) in done.stderr.splitlines(), output(done)


def test_after_a_success_the_summary_is_what_status_says(
    workflow: Workflow, tmp_path: Path
) -> None:
    """A success that did every run's job says its summary from the records (no second parse of
    the workflow): the same lines as ``simwarden status``'s verdicts make, a retry included."""
    sims = {name: SIMS[name] for name in ("hungry", "fine")}
    workflow.use_scripts(tmp_path / "sims-repo", sims, ["png"], "two simulations")
    workflow.set_runs(**{name: {"seed": 1} for name in sims})
    workflow.update_run_config(mem_mb=FIRST_BUDGET_MB, retries=1, timeout="60s")
    done = workflow.snakemake()
    assert done.returncode == 0, output(done)
    statuses = json.loads(simwarden_status(workflow, "--format", "json").stdout)
    runs = [status["run"] for status in statuses]
    assert sorted(runs) == ["fine", "hungry"]
    expected = format_end_summary(
        rows_from_status(statuses, runs, workflow.root),
        ["snakemake", "--profile", "profiles/short"],
    )
    said = done.stderr.rstrip("\n").splitlines()[-len(expected) :]
    assert said == [f"simwarden: {line}" for line in expected], output(done)
    assert said[-1] == "simwarden: 2 runs: 2 ok, 0 failed", output(done)
    hungry = next(line for line in said if line.startswith("simwarden: hungry "))
    assert hungry.endswith("retried: attempt 1 stopped (memory)"), hungry
