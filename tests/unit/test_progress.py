"""Progress reports (docs/progress.md): parsing, the ETA, the stall stop, the progress file, the
in-simulation helper, and the stop file present at the start; end to end on real processes."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import simwarden.progress as helper
from simwarden.warden import Limits, RunOptions, run
from simwarden.warden import progress as warden_progress
from simwarden.warden.events import Event
from simwarden.warden.progress import (
    LINE_MAX_BYTES,
    PROGRESS_FILE_ENV,
    MalformedProgress,
    ProgressFile,
    ProgressScanner,
    ProgressTracker,
    RunProgress,
    estimate_eta,
    parse_line,
    parse_value,
    quote,
)
from simwarden.warden.record import SAMPLE_COLUMNS, read_samples
from tests.conftest import PYTHON, TIMEOUT, pid_alive, simwarden_argv

if sys.platform != "linux":  # pragma: no cover - the suite is run on Linux
    pytestmark = pytest.mark.skip(reason="process-tree tests are written for Linux")

PROGRESS = SAMPLE_COLUMNS.index("progress")
ETA = SAMPLE_COLUMNS.index("eta_s")


# -- parsing ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "fraction"),
    [
        ("310/400", 0.775),
        ("0/400", 0.0),
        ("400/400", 1.0),
        ("2.5/10", 0.25),
        (".5/2", 0.25),
        ("1e3/4e3", 0.25),
        ("42%", 0.42),
        ("0%", 0.0),
        ("100%", 1.0),
        ("12.5%", 0.125),
        (" 3/4\n", 0.75),
    ],
)
def test_parse_value_reads_done_of_total_and_percent(text, fraction):
    assert parse_value(text) == fraction


@pytest.mark.parametrize(
    "text",
    [
        "abc",
        "",
        "5/4",
        "3/0",
        "0/0",
        "-1/4",
        "1/-4",
        "101%",
        "-5%",
        "nan%",
        "inf/inf",
        "1e999/1e999",
        "1e999%",
        "3 / 4",
        "3/4%",
        "42",
        "0x10/0x20",
        "1_0/20",
        "½%",
    ],
)
def test_parse_value_refuses_anything_else(text):
    with pytest.raises(MalformedProgress, match="expected DONE/TOTAL or PERCENT%$"):
        parse_value(text)


@pytest.mark.parametrize(
    ("line", "fraction"),
    [
        ("SIMWARDEN_PROGRESS 310/400", 0.775),
        ("SIMWARDEN_PROGRESS 42%", 0.42),
        ("SIMWARDEN_PROGRESS\t42% of step 3 (t = 4.2 ms)", 0.42),
        ("SIMWARDEN_PROGRESS   1/2\r", 0.5),
        ("step 3: ok", None),
        ("", None),
        (" SIMWARDEN_PROGRESS 1/2", None),  # the prefix must start the line
        ("progress: SIMWARDEN_PROGRESS 1/2", None),
        ("SIMWARDEN_PROGRESS_FILE=/tmp/x/progress", None),  # an environment dump
        ("SIMWARDEN_PROGRESSES 1/2", None),
    ],
)
def test_parse_line_finds_the_value_after_the_prefix(line, fraction):
    assert parse_line(line) == fraction


@pytest.mark.parametrize(
    "line",
    [
        "SIMWARDEN_PROGRESS abc",
        "SIMWARDEN_PROGRESS",
        "SIMWARDEN_PROGRESS  ",
        "SIMWARDEN_PROGRESS 9/8",
    ],
)
def test_parse_line_with_the_prefix_and_a_bad_value_is_malformed(line):
    with pytest.raises(MalformedProgress):
        parse_line(line)


def test_a_quoted_report_is_cut():
    assert quote("  SIMWARDEN_PROGRESS abc \n") == "'SIMWARDEN_PROGRESS abc'"
    long = "SIMWARDEN_PROGRESS " + "x" * 100
    assert quote(long) == repr(long[:59] + "…")


# -- the ETA and the tracker -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("first", "last", "eta"),
    [
        ((10.0, 0.1), (20.0, 0.3), 35.0),  # 0.02 per s since the first report; 0.7 left
        ((10.0, 0.25), (10.0, 0.25), 30.0),  # one report: the rate since the start (0, 0)
        ((5.0, 0.0), (15.0, 0.5), 10.0),
        ((5.0, 0.2), (8.0, 1.0), 0.0),  # done
        ((0.0, 1.0), (0.0, 1.0), 0.0),
        ((10.0, 0.5), (20.0, 0.5), None),  # no rise
        ((10.0, 0.5), (20.0, 0.25), None),  # fell
        ((10.0, 0.0), (10.0, 0.0), None),  # one report of 0
        ((0.0, 0.5), (0.0, 0.5), None),  # one report at the very start
    ],
)
def test_estimate_eta(first, last, eta):
    assert estimate_eta(first, last) == eta


def test_the_tracker_times_rises_counts_down_and_ignores_repeats():
    tracker = ProgressTracker(started=100.0)
    assert (tracker.value, tracker.first_report) == (None, None)
    assert (tracker.stall_age(150.0), tracker.eta_s(150.0)) == (None, None)
    tracker.update(0.25, 110.0)  # one report: 10 s for a quarter, 30 s left
    assert (tracker.value, tracker.first_report) == (0.25, 110.0)
    assert (tracker.stall_age(112.0), tracker.eta_s(112.0)) == (2.0, 28.0)
    tracker.update(0.25, 115.0)  # a repeat is no progress: the stall clock keeps running
    assert (tracker.stall_age(116.0), tracker.eta_s(116.0)) == (6.0, 24.0)
    tracker.update(0.5, 120.0)  # 0.25 more in 10 s since the first report: 20 s left
    assert (tracker.stall_age(121.0), tracker.eta_s(121.0)) == (1.0, 19.0)
    assert tracker.eta_s(400.0) == 0.0  # counted down, never below 0
    tracker.update(0.1, 125.0)  # fell (a new phase): kept, but not progress
    assert (tracker.value, tracker.stall_age(126.0), tracker.eta_s(126.0)) == (0.1, 6.0, None)
    tracker.update(1.0, 130.0)
    assert (tracker.value, tracker.stall_age(130.0), tracker.eta_s(131.0)) == (1.0, 0.0, 0.0)
    assert tracker.first_report == 110.0


# -- finding progress lines in a stream ------------------------------------------------------------
def scan(*chunks: bytes) -> list[bytes]:
    found: list[bytes] = []
    scanner = ProgressScanner(found.append)
    for chunk in (*chunks, b""):
        scanner.feed(chunk)
    return found


def test_the_scanner_finds_lines_across_chunks_and_only_at_line_starts():
    assert scan(b"a\nSIMWARDEN_PROGRESS 1/4\nb\nSIMWARDEN_PROGRESS 2/4\n") == [
        b"SIMWARDEN_PROGRESS 1/4",
        b"SIMWARDEN_PROGRESS 2/4",
    ]
    # The prefix split over three chunks, the value over two; the first line of a chunk.
    assert scan(b"x\nSIMWAR", b"DEN_PROG", b"RESS 3/", b"4\nSIMWARDEN_PROGRESS 5%\n") == [
        b"SIMWARDEN_PROGRESS 3/4",
        b"SIMWARDEN_PROGRESS 5%",
    ]
    assert scan(b"say SIMWARDEN_PROGRESS 1/2\n", b"  SIMWARDEN_PROGRESS 1/2\n") == []
    assert scan(b"SIMW", b"ARDEX 1/2\nSIMWARDEN_PROGRESS 7%") == [b"SIMWARDEN_PROGRESS 7%"]
    assert scan(b"SIMWARDEN_PROGRESS 1/2\r\n") == [b"SIMWARDEN_PROGRESS 1/2\r"]


def test_the_scanner_never_keeps_an_endless_line():
    endless = b"SIMWARDEN_PROGRESS " + b"9" * LINE_MAX_BYTES
    assert scan(endless[:100], endless[100:], b"9\nSIMWARDEN_PROGRESS 1%\n") == [
        b"SIMWARDEN_PROGRESS 1%"
    ]


# -- one run's progress: lines and the file -------------------------------------------------------
def test_run_progress_reads_the_file_when_it_changes_and_warns_once(tmp_path):
    said: list[str] = []
    clock = iter([5.0, 6.0]).__next__
    progress = RunProgress(ProgressTracker(0.0), ProgressFile(str(tmp_path)), said.append, clock)
    target = tmp_path / "progress"
    assert progress.file.environment({"A": "1"}) == {"A": "1", PROGRESS_FILE_ENV: str(target)}
    progress.poll_file(1.0)  # no file yet
    target.write_text("")  # emptied by a shell's '>' before it writes: no report yet
    progress.poll_file(1.5)
    assert (progress.tracker.value, said) == (None, [])
    target.write_text("abc and more\n")
    progress.poll_file(2.0)
    assert said == [
        "ignored a malformed progress report 'abc and more' in SIMWARDEN_PROGRESS_FILE: "
        "expected DONE/TOTAL or PERCENT%"
    ]
    target.write_text("3/4\n")
    progress.poll_file(3.0)
    assert (progress.tracker.value, progress.tracker.first_report) == (0.75, 3.0)
    progress.line(b"SIMWARDEN_PROGRESS nope")  # a second malformed report: not said again
    progress.line(b"SIMWARDEN_PROGRESS 7/8\r")  # at clock() = 5.0
    assert (progress.tracker.value, progress.tracker.stall_age(5.5), len(said)) == (0.875, 0.5, 1)
    progress.poll_file(6.0)  # unchanged: not read again (it would set 0.75)
    assert progress.tracker.value == 0.875
    progress.poll_file(7.0, always=True)  # read regardless: the file's 3/4 is the latest report
    assert progress.tracker.value == 0.75
    progress.file.remove()
    progress.file.remove()  # gone already: nothing
    assert not target.exists()
    assert ProgressFile(None).environment({PROGRESS_FILE_ENV: "outer"}) == {}


# -- the helper a simulation calls -----------------------------------------------------------------
def test_the_helper_and_the_warden_spell_the_convention_alike():
    assert (helper.PROGRESS_PREFIX, helper.PROGRESS_FILE_ENV) == (
        warden_progress.PROGRESS_PREFIX,
        warden_progress.PROGRESS_FILE_ENV,
    )


def test_the_helper_replaces_the_progress_file_atomically(tmp_path, monkeypatch):
    target = tmp_path / "progress"
    monkeypatch.setenv("SIMWARDEN_PROGRESS_FILE", str(target))
    helper.report(310, 400)
    assert target.read_text() == "310/400\n"
    first_inode = target.stat().st_ino
    helper.report(42)
    assert target.read_text() == "42/100\n"
    assert target.stat().st_ino != first_inode  # a new file renamed over it, not rewritten
    helper.report(2.5, 10.0)
    assert target.read_text() == "2.5/10\n"
    assert parse_value(target.read_text()) == 0.25
    assert [p.name for p in tmp_path.iterdir()] == ["progress"]  # no temporary file left


def test_the_helper_prints_the_line_outside_simwarden(capsys, monkeypatch):
    monkeypatch.delenv("SIMWARDEN_PROGRESS_FILE", raising=False)
    helper.report(310, 400)
    helper.report(99.5)
    assert capsys.readouterr().out == "SIMWARDEN_PROGRESS 310/400\nSIMWARDEN_PROGRESS 99.5/100\n"


def test_the_helper_skips_a_file_it_cannot_write(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SIMWARDEN_PROGRESS_FILE", str(tmp_path / "gone" / "progress"))
    helper.report(1, 2)  # the warden's directory is gone: no error, nothing printed
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((-1, 10), "report(): done must be between 0 and total (10), not -1"),
        ((11, 10), "report(): done must be between 0 and total (10), not 11"),
        ((101,), "report(): done must be between 0 and total (100), not 101"),
        ((1, 0), "report(): total must be above 0, not 0"),
        ((1, -5), "report(): total must be above 0, not -5"),
        ((math.nan, 10), "report(): done must be a finite number, not nan"),
        ((1, math.inf), "report(): total must be a finite number, not inf"),
        (("a lot", 10), "report(): done must be a number, not 'a lot'"),
        ((None,), "report(): done must be a number, not None"),
    ],
)
def test_the_helper_refuses_bad_arguments(args, message, tmp_path, monkeypatch):
    monkeypatch.setenv("SIMWARDEN_PROGRESS_FILE", str(tmp_path / "progress"))
    with pytest.raises(ValueError) as raised:
        helper.report(*args)
    assert str(raised.value) == message
    assert not (tmp_path / "progress").exists()


def test_the_helper_imports_nothing_of_the_warden():
    code = (
        "import sys, simwarden.progress; "
        "print(sorted(m for m in sys.modules if m.startswith(('simwarden.warden', 'psutil'))))"
    )
    done = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, timeout=TIMEOUT)
    assert done.stdout == "[]\n", done.stderr


# -- end to end: simwarden run ---------------------------------------------------------------------
def warden(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        simwarden_argv(*args), capture_output=True, text=True, timeout=TIMEOUT, **kwargs
    )


def explain(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


def script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(WAIT_FOR_ROW) + textwrap.dedent(body))
    return str(path)


# Scripts synchronise on the warden: they wait (within a deadline) until the samples file's last
# row shows what they reported, so every report has a row of its own.
WAIT_FOR_ROW = """
    import os, sys, time

    def last_row(samples):
        try:
            lines = open(samples).read().splitlines()
        except FileNotFoundError:  # the warden has not made it yet
            return None
        return lines[-1].split("\\t") if len(lines) > 1 else None

    def wait_for_row(samples, column, ok):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            row = last_row(samples)
            if row is not None and len(row) > column and ok(row[column]):
                return
            time.sleep(0.01)
        sys.exit(f"the samples never showed it: {last_row(samples)}")
"""
REPORTS = f"""
    samples = sys.argv[1]
    for done in (1, 2, 3, 4):
        print(f"SIMWARDEN_PROGRESS {{done}}/4", file=sys.stdout if done % 2 else sys.stderr)
        sys.stdout.flush()
        wait_for_row(samples, {PROGRESS}, lambda cell: cell and float(cell) == done / 4)
"""


def test_progress_lines_fill_the_samples_and_the_record(tmp_path):
    reports = script(tmp_path, "reports.py", REPORTS)
    samples, record = tmp_path / "samples.tsv", tmp_path / "record.json"
    result = warden(
        "run", "--samples", str(samples), "--record", str(record), "--", PYTHON, reports,
        str(samples),
    )  # fmt: skip
    assert result.returncode == 0, explain(result)
    assert result.stdout == "SIMWARDEN_PROGRESS 1/4\nSIMWARDEN_PROGRESS 3/4\n"
    assert result.stderr == "SIMWARDEN_PROGRESS 2/4\nSIMWARDEN_PROGRESS 4/4\n"
    rows = [line.split("\t") for line in samples.read_text().splitlines()[1:]]
    reported = [row for row in rows if row[PROGRESS]]
    assert [row[PROGRESS] for row in rows[-len(reported) :]] == [r[PROGRESS] for r in reported]
    assert sorted({float(row[PROGRESS]) for row in reported}) == [0.25, 0.5, 0.75, 1.0]
    assert float(rows[-1][PROGRESS]) == 1.0 and float(rows[-1][ETA]) == 0.0
    etas = [float(row[ETA]) for row in reported]
    assert all(math.isfinite(eta) and eta >= 0 for eta in etas), etas
    assert all(row[ETA] == "" for row in rows if not row[PROGRESS])
    assert read_samples(samples)["progress"][-1] == 1.0
    data = json.loads(record.read_text())
    assert (data["reason"], data["exit_code"], data["progress"]) == ("exited", 0, 1.0)
    assert data["stderr_tail"] == []  # progress lines say how far it got, not what went wrong


def test_the_progress_file_from_a_shell_command_is_read_and_removed(tmp_path):
    samples, record, named = tmp_path / "samples.tsv", tmp_path / "r.json", tmp_path / "named"
    column = PROGRESS + 1
    shell = (
        'echo "$SIMWARDEN_PROGRESS_FILE" > "$1"; echo 3/4 > "$SIMWARDEN_PROGRESS_FILE"; '
        f'until tail -n 1 "$2" 2>/dev/null | cut -f {column} | grep -qx 0.7500; '
        "do sleep 0.01; done; "
        'echo 100% > "$SIMWARDEN_PROGRESS_FILE"'
    )
    result = warden(
        "run", "--timeout", "60s", "--samples", str(samples), "--record", str(record),
        "--", "sh", "-c", shell, "sh", str(named), str(samples),
    )  # fmt: skip
    assert result.returncode == 0, explain(result)
    assert result.stderr == ""
    path = Path(named.read_text().strip())
    assert path.name == "progress" and not path.exists() and not path.parent.exists()
    assert 0.75 in read_samples(samples)["progress"]
    assert json.loads(record.read_text())["progress"] == 1.0  # read once more at the end


def test_a_malformed_report_is_said_once_and_never_fails_the_run(tmp_path):
    code = (
        "import sys\n"
        "print('SIMWARDEN_PROGRESS abc', flush=True)\n"
        "print('SIMWARDEN_PROGRESS 5/4', flush=True)\n"
        "print('SIMWARDEN_PROGRESS 1/2', file=sys.stderr, flush=True)\n"
    )
    record = tmp_path / "r.json"
    result = warden("run", "--quiet", "--record", str(record), "--", PYTHON, "-c", code)
    assert result.returncode == 0, explain(result)
    assert (result.stdout, result.stderr) == (
        "",
        "simwarden: ignored a malformed progress report 'SIMWARDEN_PROGRESS abc': "
        "expected DONE/TOTAL or PERCENT%\n",
    )
    assert json.loads(record.read_text())["progress"] == 0.5


STALLS = """
    open(sys.argv[1], "w").write(f"{os.getpid()}\\n")
    print("SIMWARDEN_PROGRESS 1/10", flush=True)
    time.sleep(TIMEOUT)
"""


def test_a_run_whose_progress_stops_rising_is_stopped_as_stalled(tmp_path):
    stalls = script(tmp_path, "stalls.py", f"TIMEOUT = {TIMEOUT}\n" + textwrap.dedent(STALLS))
    record, pid_file = tmp_path / "r.json", tmp_path / "pid"
    result = warden(
        "run", "--stall-timeout", "1s", "--grace", "1s", "--record", str(record),
        "--", PYTHON, stalls, str(pid_file),
    )  # fmt: skip
    assert result.returncode == 120, explain(result)
    data = json.loads(record.read_text())
    assert (data["reason"], data["exit_code"], data["progress"]) == ("stalled", 120, 0.1)
    assert data["limits"]["stall_timeout_s"] == 1.0
    assert re.fullmatch(
        r"stopped \(stalled\): no progress for [\d.]+ s \(stall timeout 1 s; last report 10%\); "
        r"peak [\d.]+ MB after [\d.]+ s; exit 120",
        data["message"],
    ), data["message"]
    assert not pid_alive(int(pid_file.read_text()))


NEVER_REPORTS = """
    wait_for_row(sys.argv[1], 0, lambda cell: float(cell) > 1.0)  # past 3 stall timeouts
"""


def test_a_run_that_never_reports_never_stalls(tmp_path):
    quiet = script(tmp_path, "quiet.py", NEVER_REPORTS)
    samples, record = tmp_path / "samples.tsv", tmp_path / "r.json"
    result = warden(
        "run", "--stall-timeout", "0.3s", "--samples", str(samples), "--record", str(record),
        "--", PYTHON, quiet, str(samples),
    )  # fmt: skip
    assert result.returncode == 0, explain(result)
    data = json.loads(record.read_text())
    assert (data["reason"], data["progress"]) == ("exited", None)
    assert all(math.isnan(p) for p in read_samples(samples)["progress"])


HOOK = """
    import json, os, sys
    events = {k: v for k, v in os.environ.items() if k.startswith("SIMWARDEN_")}
    with open(sys.argv[1], "a") as f:
        f.write(json.dumps(events) + "\\n")
"""


def test_a_stop_file_present_at_the_start_keeps_the_command_from_starting(tmp_path):
    stop, marker = tmp_path / "STOP", tmp_path / "marker"
    stop.write_text("")
    record, samples, log = tmp_path / "r.json", tmp_path / "s.tsv", tmp_path / "run.log"
    hook = tmp_path / "hook.py"
    hook.write_text(textwrap.dedent(HOOK))
    events_file = tmp_path / "events.jsonl"
    result = warden(
        "run", "--stop-file", str(stop), "--record", str(record), "--samples", str(samples),
        "--log", str(log), "--notify-cmd", f"{PYTHON} {hook} {events_file}",
        "--", PYTHON, "-c", "import pathlib, sys; pathlib.Path(sys.argv[1]).write_text('ran')",
        str(marker),
    )  # fmt: skip
    assert result.returncode == 123, explain(result)
    message = f"stop file {str(stop)!r} exists: the command was not started (remove it to run)"
    assert result.stderr == f"simwarden: {message}\n"
    assert not marker.exists()
    data = json.loads(record.read_text())
    assert (data["reason"], data["exit_code"], data["message"]) == ("stopped", 123, message)
    assert (data["command_exit_code"], data["samples"], data["progress"]) == (None, 0, None)
    assert samples.read_text() == "\t".join(SAMPLE_COLUMNS) + "\n"
    assert log.read_text() == f"simwarden: {message}\n"
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    assert [(e["SIMWARDEN_EVENT"], e["SIMWARDEN_REASON"]) for e in events] == [
        ("stop", "stopped"),
        ("end", "stopped"),
    ]
    assert events[0]["SIMWARDEN_MESSAGE"] == message


class Recorder:
    """A notifier that keeps what it is sent."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def send(self, event: Event) -> None:
        self.events.append(event)


def test_every_event_names_the_run(tmp_path):
    stalls = script(tmp_path, "stalls.py", f"TIMEOUT = {TIMEOUT}\n" + textwrap.dedent(STALLS))
    recorder = Recorder()
    options = RunOptions(
        limits=Limits(stall_timeout_s=0.5),
        grace_s=1.0,
        notifiers=[recorder],
        console=open(os.devnull, "w"),  # noqa: SIM115 - closed below
        label="run big (attempt 2)",
        context={"run": "lif/big", "simulation": "lif", "attempt": 2, "commit": "abc"},
    )
    try:
        result = run([PYTHON, stalls, str(tmp_path / "pid")], options)
    finally:
        options.console.close()
    assert (result.exit_code, result.reason) == (120, "stalled")
    named = {"label": "run big (attempt 2)", "run": "lif/big", "simulation": "lif", "attempt": "2"}
    assert [event.kind for event in recorder.events] == ["stop", "end"]
    for event in recorder.events:
        assert {key: event.fields.get(key) for key in named} == named, event
    assert recorder.events[0].fields["reason"] == "stalled"
    assert recorder.events[1].fields["progress"] == "0.1"
