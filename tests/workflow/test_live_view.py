"""Watching a run: ``snakemake --logger simwarden`` through the real CLI with its output to a
pipe (plain lines, asserted line by line), the plugin chosen in a profile, and ``simwarden
status`` showing a running simulation's progress.

The simulations are scripts in a lab repository built here: one reports its progress on stdout
(``SIMWARDEN_PROGRESS 2/4``) and then waits for the test's go file, so the test sees the
live view show it running at 50 % before letting it finish; one allocates memory until the
warden stops it, at both attempts.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

from simwarden.warden.record import read_last_sample
from tests.conftest import TIMEOUT
from tests.workflow.conftest import Workflow, copy_workflow, git, wait_until

# Reports 2 of 4 steps, waits for the go file (a minute at most), reports 4 of 4.
PROGRESSING = """\
import time
from pathlib import Path

GO = Path({go!r})
print("SIMWARDEN_PROGRESS {first}", flush=True)
deadline = time.monotonic() + 60
while not GO.exists() and time.monotonic() < deadline:
    time.sleep(0.02)
print("SIMWARDEN_PROGRESS 4/4", flush=True)
"""
# 10 MB more every 20 ms, each byte written: over any budget below 1 GB within seconds.
HUNGRY = """\
import time

chunks = []
for _ in range(100):
    chunks.append(b"x" * 10_000_000)
    time.sleep(0.02)
time.sleep(60)
"""
BUDGET_MB = 100
TIME = r"\d\d:\d\d:\d\d"
# Every line the plugin writes without a terminal (its documented formats).
PLUGIN_LINE = re.compile(
    rf"{TIME} (?:▶ .+|✓ .+|✗ .+ failed(?: \(attempt \d+\))?(?:: .+ — (?:retried|final))?"
    r"|· .+: running.*|jobs \d+(?:/\d+)? done.*)"
)
SUMMARY_HEADER = re.compile(r"simwarden: RUN +STATE +REASON +ATTEMPTS +PEAK +WALL +CAUSE")


def lab_workflow(parent: Path, cache: Path, scripts: dict[str, str]) -> Workflow:
    """The workflow with one simulation per script (run id = its name) of a lab repository."""
    lab = parent / "lab"
    lab.mkdir()
    for name, text in scripts.items():
        (lab / f"{name}.py").write_text(text)
    git("init", "--quiet", "--initial-branch=main", cwd=lab)
    git("add", ".", cwd=lab)
    git("commit", "--quiet", "-m", "lab", cwd=lab)
    flow = copy_workflow(parent / "wf", cache)
    config = flow.config()
    for key in ("repository", "commit", "runner", "param_schema", "param_sets", "sweeps"):
        config.pop(key, None)
    config["simulations"] = {
        name: {
            "repository": str(lab),
            "commit": "main",
            "runner": {"kind": "python", "script": f"{name}.py"},
        }
        for name in scripts
    }
    flow.write_config(config)
    flow.update_run_config(mem_mb=BUDGET_MB, retries=1)
    return flow


class Output:
    """The lines a process writes to its stdout pipe, collected by a thread as they come."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert process.stdout is not None
        stdout = process.stdout
        self.thread = threading.Thread(target=lambda: self.lines.extend(stdout), daemon=True)
        self.thread.start()

    def has(self, pattern: str) -> bool:
        return any(re.fullmatch(pattern, line.rstrip("\n")) for line in list(self.lines))

    def text(self) -> str:
        self.thread.join(timeout=TIMEOUT)
        return "".join(self.lines)


def subsequence(lines: list[str], patterns: list[str]) -> bool:
    """Each pattern matches a line, in this order (other lines may come between)."""
    position = 0
    for pattern in patterns:
        while position < len(lines) and not re.fullmatch(pattern, lines[position]):
            position += 1
        if position == len(lines):
            return False
        position += 1
    return True


def test_plain_lines_show_progress_failures_with_their_cause_then_the_summary(
    tmp_path: Path, shared_cache: Path, snakemake_procs: list[subprocess.Popen[str]]
) -> None:
    go = tmp_path / "go"
    scripts = {"progress": PROGRESSING.format(go=str(go), first="2/4"), "hungry": HUNGRY}
    flow = lab_workflow(tmp_path, shared_cache, scripts)
    argv = flow.argv("--logger", "simwarden", "--logger-simwarden-interval", "0.2")
    process = subprocess.Popen(
        argv,
        cwd=flow.root,
        env=flow.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    snakemake_procs.append(process)
    output = Output(process)
    # The live view shows the run at the progress it reported, while it waits.
    running = rf"{TIME} · run progress \(attempt 1\): running 50 % · .*/{BUDGET_MB} MB · \d+ s"
    wait_until(lambda: output.has(running) or process.poll() is not None, "50 % in the view")
    go.touch()
    assert process.wait(timeout=TIMEOUT) == 1  # hungry failed: check_runs fails the workflow
    text = output.text()
    assert output.has(running), text
    assert "\x1b" not in text, text
    lines = text.splitlines()
    ours = [i for i, line in enumerate(lines) if re.match(rf"{TIME} ", line)]
    assert all(PLUGIN_LINE.fullmatch(lines[i]) for i in ours), [lines[i] for i in ours]
    stop = r"stopped \(memory\): memory [\d.]+ MB over limit {} MB; .*"
    assert subsequence(
        lines,
        [
            rf"{TIME} ▶ run progress \(attempt 1\)",
            running,
            rf"{TIME} ✓ run progress \(attempt 1\) · \d+ s · peak \d+ MB",
        ],
    ), text
    hungry = [line for line in lines if re.match(rf"{TIME} [▶✓✗] run hungry", line)]
    assert len(hungry) == 4, text
    for line, pattern in zip(
        hungry,
        [
            rf"{TIME} ▶ run hungry \(attempt 1\)",
            rf"{TIME} ✗ run hungry failed \(attempt 1\): {stop.format('100.0')} — retried",
            rf"{TIME} ▶ run hungry \(attempt 2\)",
            rf"{TIME} ✗ run hungry failed \(attempt 2\): {stop.format('200.0')} — final",
        ],
        strict=True,
    ):
        assert re.fullmatch(pattern, line), f"{line!r} !~ {pattern!r}\n{text}"
    # Another rule's failure: the line, then Snakemake's own error lines.
    failed = lines.index(next(line for line in lines if line.endswith("✗ check_runs failed")))
    assert lines[failed + 1] == "Error in rule check_runs:", text
    # The end: the plugin's last line is the jobs line, the end summary follows, once.
    last = ours[-1]
    assert re.fullmatch(rf"{TIME} jobs \d+/\d+ done \(\d+ %\) · .*", lines[last]), text
    assert SUMMARY_HEADER.fullmatch(lines[last + 1]), text
    assert sum(bool(SUMMARY_HEADER.fullmatch(line)) for line in lines) == 1, text
    summary = lines[last + 1 :]
    assert all(line.startswith("simwarden: ") for line in summary), text
    assert any(re.match(r"simwarden: hungry +failed +memory +2 ", line) for line in summary)
    assert "simwarden: 2 runs: 1 ok, 1 failed" in summary, text


def status(flow: Workflow, *args: str) -> str:
    done = flow.simwarden("status", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_status_shows_a_running_simulation_s_progress_with_the_view_set_in_a_profile(
    tmp_path: Path, shared_cache: Path, snakemake_procs: list[subprocess.Popen[str]]
) -> None:
    go = tmp_path / "never"  # the simulation waits until Snakemake is interrupted
    flow = lab_workflow(
        tmp_path, shared_cache, {"slow": PROGRESSING.format(go=str(go), first="1/4")}
    )
    # The plugin and its options from a profile stacked on the run config's.
    (flow.root / "profiles" / "watch").mkdir()
    (flow.root / "profiles" / "watch" / "config.yaml").write_text(
        "logger: [simwarden]\nlogger-simwarden-plain: true\nlogger-simwarden-interval: 0.5\n"
    )
    log = tmp_path / "snakemake.out"
    with log.open("w") as out:
        process = subprocess.Popen(
            [*flow.argv(), "--profile", "profiles/watch"],
            cwd=flow.root,
            env=flow.env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    snakemake_procs.append(process)
    samples = flow.run_dir("slow") / "samples.tsv"

    def reported() -> dict[str, float] | None:
        assert process.poll() is None, log.read_text()
        row = read_last_sample(samples)
        return row if row and not math.isnan(row.get("progress", math.nan)) else None

    row = wait_until(reported, "the progress in the samples file")
    assert row["progress"] == 0.25
    table = status(flow).splitlines()
    [line] = [line for line in table if line.startswith("slow ")]
    assert re.match(rf"slow +running 25 % · (ETA .+ · )?\d+/{BUDGET_MB} MB · \d+ s ", line), table
    rows: list[dict[str, Any]] = json.loads(status(flow, "--format", "json"))
    [running] = [r for r in rows if r["run"] == "slow"]
    assert (running["state"], running["progress"], running["mem_limit_bytes"]) == (
        "running",
        0.25,
        BUDGET_MB * 10**6,
    )
    assert running["elapsed_s"] > 0 and running["rss_bytes"] > 0
    os.killpg(process.pid, signal.SIGINT)  # as Ctrl-C does: the whole process group
    process.wait(timeout=TIMEOUT)
    text = log.read_text()
    assert re.search(rf"^{TIME} ▶ run slow \(attempt 1\)$", text, re.MULTILINE), text
    assert re.search(rf"^{TIME} · run slow \(attempt 1\): running 25 % ", text, re.MULTILINE), text
    assert "\x1b" not in text
