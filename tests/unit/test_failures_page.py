"""The report's page of failed runs (simwarden.results.failures), from records, kept attempts
and figures fabricated as the pipeline leaves them."""

from __future__ import annotations

import base64
import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from simwarden.pipeline import layout
from simwarden.results.failures import NO_FAILURES, find_failures, write_failures_html

CRASH_ERROR = {
    "type": "AttributeError",
    "message": "'Network' object has no attribute 'rates'",
    "where": "src/draw_then_fail.py:14",
    "traceback": (
        "Traceback (most recent call last):\n"
        '  File "src/draw_then_fail.py", line 14, in <module>\n'
        "    print(net.rates)\n"
        "AttributeError: 'Network' object has no attribute 'rates'\n"
    ),
}
MEMORY_STOP = "stopped (memory): memory 130.2 MB over limit 120.0 MB; peak 130.2 MB after 2.5 s"


def record(attempt: int, **changes: Any) -> dict[str, Any]:
    data = {
        "reason": "exited",
        "exit_code": 0,
        "command_exit_code": 0,
        "message": "command exited",
        "wall_s": 1.5,
        "attempts": attempt,
        "context": {"run": "x", "attempt": attempt, "commit": "71d8775"},
    }
    return data | changes


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)


def keep(workdir: Path, run: str, attempt: int, data: Any, pngs: dict[str, bytes] = {}) -> Path:  # noqa: B006 - read only
    kept = layout.failed_attempt_dir(run, attempt, workdir)
    write_json(kept / "record.json", data)
    (kept / "data").mkdir()
    (kept / "figures" / "png").mkdir(parents=True)
    for name, content in pngs.items():
        (kept / "figures" / "png" / f"{name}.png").write_bytes(content)
    return kept


# Two small real PNGs (the bytes matter only as bytes: the page embeds them as they are).
RASTER = b"\x89PNG\r\n\x1a\n" + b"raster-figure-bytes"
RATE = b"\x89PNG\r\n\x1a\n" + b"rate-figure-bytes"


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    """A sweep after one invocation: ``ok`` fine, ``fits`` retried for memory and fine,
    ``crash`` drew two figures then raised, ``stderr`` a command that wrote to stderr and
    exited 3, ``hungry`` out of memory on both attempts, ``cut`` a failure record cut short
    with its attempt kept."""
    runs = tmp_path / "results" / "runs"
    write_json(runs / "ok" / "record.json", record(1))
    keep(tmp_path, "fits", 1, record(1, reason="memory", exit_code=137, message=MEMORY_STOP))
    write_json(runs / "fits" / "record.json", record(2))
    crash = record(1, exit_code=1, command_exit_code=1, error=CRASH_ERROR)
    keep(tmp_path, "crash", 1, crash, {"raster": RASTER, "rate": RATE})
    write_json(runs / "crash" / "record.json", crash)
    stderr = record(
        1, exit_code=3, command_exit_code=3, stderr_tail=["loading", "fatal: no input <x.csv>"]
    )
    keep(tmp_path, "stderr", 1, stderr)
    write_json(runs / "stderr" / "record.json", stderr)
    stop = record(1, reason="memory", exit_code=137, message=MEMORY_STOP)
    keep(tmp_path, "hungry", 1, stop)
    keep(tmp_path, "hungry", 2, stop | {"attempts": 2, "context": {"attempt": 2}})
    write_json(runs / "hungry" / "record.json", stop | {"attempts": 2, "context": {"attempt": 2}})
    keep(tmp_path, "cut", 1, stderr)
    write_json(runs / "cut" / "record.json", '{"reason": "exited", "exit_code": 3, "mess')
    return tmp_path


RUNS = ["ok", "fits", "crash", "stderr", "hungry", "cut", "never"]


def test_find_failures_lists_every_failed_run_with_its_cause(sweep: Path) -> None:
    warnings: list[str] = []
    failures = find_failures(RUNS, sweep, warn=warnings.append)
    assert [
        (f.run, f.reason, f.cause, f.attempts, [a.number for a in f.kept], str(f.record_path))
        for f in failures
    ] == [
        (
            "crash",
            "exit code 1",
            "AttributeError: 'Network' object has no attribute 'rates' (src/draw_then_fail.py:14)",
            1,
            [1],
            "results/runs/crash/record.json",
        ),
        (
            "stderr",
            "exit code 3",
            "fatal: no input <x.csv>",
            1,
            [1],
            "results/runs/stderr/record.json",
        ),
        ("hungry", "memory", MEMORY_STOP, 2, [1, 2], "results/runs/hungry/record.json"),
        # Its record cannot be read: named once, shown from its kept attempt.
        (
            "cut",
            "exit code 3",
            "fatal: no input <x.csv>",
            1,
            [1],
            "results/failed/cut/attempt-1/record.json",
        ),
    ]
    assert warnings == [
        f"failures page: run cut: {sweep}/results/runs/cut/record.json is not valid JSON "
        "(Unterminated string starting at at line 1); shown from the rest"
    ]


class Page(HTMLParser):
    """The parts of the page a reader sees: text per element, images, open/closed details."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.images: list[dict[str, str | None]] = []
        self.details = 0
        self.ids: list[str] = []
        self.hidden = False  # inside <style> or <title>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hidden = tag in ("style", "title")
        found = dict(attrs)
        if tag == "img":
            self.images.append(found)
        if tag == "details":
            self.details += 1
        if found.get("id"):
            self.ids.append(str(found["id"]))

    def handle_endtag(self, tag: str) -> None:
        self.hidden = False

    def handle_data(self, data: str) -> None:
        if data.strip() and not self.hidden:
            self.text.append(data.strip())


def read_page(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def test_the_page_shows_cause_traceback_kept_files_and_figures(sweep: Path) -> None:
    out = sweep / layout.FAILURES_HTML
    write_failures_html(RUNS, sweep, out)
    assert sorted(p.name for p in out.parent.iterdir()) == ["failed", "failures.html", "runs"]
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert "http" not in html  # self-contained: nothing fetched
    page = read_page(out)
    assert page.ids == ["run-crash", "run-stderr", "run-hungry", "run-cut"]
    text = page.text
    assert "4 of 7 runs failed." in text
    # The index table, one row per failed run: run, reason, cause, attempts.
    start = text.index("attempts") + 1
    assert text[start : start + 4] == [
        "crash",
        "exit code 1",
        "AttributeError: 'Network' object has no attribute 'rates' (src/draw_then_fail.py:14)",
        "1",
    ]
    assert "results/failed/crash/attempt-1/" in text
    assert [t for t in text if t.startswith("results/failed/hungry/")] == [
        "results/failed/hungry/attempt-1/",
        "results/failed/hungry/attempt-2/",
    ]
    # The traceback (crash) and the stderr tail (stderr, cut) fold away: three <details>.
    assert page.details == 3
    assert CRASH_ERROR["traceback"].strip() in text
    assert "loading\nfatal: no input <x.csv>" in text  # escaped "<x.csv>" reads back as text
    assert "fatal: no input <x.csv>" not in html  # ... because it was escaped
    assert [(image["alt"], image["src"]) for image in page.images] == [
        ("attempt 1: raster", "data:image/png;base64," + base64.b64encode(RASTER).decode()),
        ("attempt 1: rate", "data:image/png;base64," + base64.b64encode(RATE).decode()),
    ]


def test_with_no_failure_the_page_says_so(tmp_path: Path) -> None:
    write_json(tmp_path / "results" / "runs" / "ok" / "record.json", record(1))
    out = tmp_path / "results" / "failures.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("old page")
    write_failures_html(["ok"], tmp_path, out)
    page = read_page(out)
    assert page.text == ["Failed runs", NO_FAILURES]
    assert NO_FAILURES == "No run failed."
    assert sorted(p.name for p in out.parent.iterdir()) == ["failures.html", "runs"]
    write_failures_html([], tmp_path, out)
    assert read_page(out).text[-1] == NO_FAILURES
