"""The summary plot: every run's wall time and peak memory as a stdlib SVG, read back with
xml.etree (how many bars or dots, their colour per end reason, where they are, every label),
from rows, from the benchmark CSV, and through ``python -m simwarden.jobs plot_summary``."""

from __future__ import annotations

import csv
import math
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from simwarden.core.errors import UserError
from simwarden.results.plots import plot_summary
from simwarden.results.plots.common import CATEGORY_COLOURS
from simwarden.results.plots.summary import (
    BAR_MAX_RUNS,
    SCATTER_MAX_CAUSES,
    plot_summary_csv,
    read_summary_csv,
    short_cause,
    summary_figure,
    summary_layout,
    summary_rows,
)
from simwarden.results.plots.summary_draw import (
    DOT_SIZE,
    FAILED_DOT_SIZE,
    LEFT,
    MEM_PANEL,
    NO_RUNS_HEIGHT,
    PLOT_TOP,
    RIGHT,
    ROW,
    SCATTER_HEIGHT,
    WALL_PANEL,
    bars_height,
    free_baseline,
)
from tests.conftest import PYTHON, TIMEOUT

SVG = "{http://www.w3.org/2000/svg}"
CAUSE = "ModuleNotFoundError: No module named 'brian' (src/tuned.py:2)"
ROWS: list[dict[str, Any]] = [
    {"run": "small", "reason": "exited", "exit_code": 0, "wall_s": 2.424, "peak_rss_mb": 94.2},
    {"run": "big", "reason": "memory", "exit_code": 137, "wall_s": 8.795, "peak_rss_mb": 401.8},
    {"run": "fast", "reason": "exited", "exit_code": 1, "wall_s": 0.5, "peak_rss_mb": 12.0},
    {"run": "slow", "reason": "timeout", "exit_code": 124, "wall_s": 60.0, "peak_rss_mb": None},
    {"run": "cut", "reason": "signal", "exit_code": 130, "wall_s": math.nan, "peak_rss_mb": 50.0},
]
FAILED_ROWS: list[dict[str, Any]] = [
    {"run": "crash", "reason": "exited", "exit_code": 1, "wall_s": 0.4, "peak_rss_mb": 20.0,
     "attempts": 1, "error": CAUSE},
    {"run": "fits", "reason": "exited", "exit_code": 0, "wall_s": 3.0, "peak_rss_mb": 610.0,
     "attempts": 2, "error": None},
    {"run": "hungry", "reason": "memory", "exit_code": 137, "wall_s": 2.5, "peak_rss_mb": 801.0,
     "attempts": 2, "error": "stopped (memory): memory 801.0 MB over limit 800.0 MB"},
    {"run": "small", "reason": "exited", "exit_code": 0, "wall_s": 1.0, "peak_rss_mb": 50.0,
     "attempts": 1, "error": math.nan},
]  # fmt: skip
REASONS = [("exited", 0), ("exited", 1), ("memory", 137), ("timeout", 124), ("disk", 121)]


def sweep(count: int) -> list[dict[str, Any]]:
    """``count`` runs cycling through five end reasons, times 1..1000 s, peaks 10..910 MB."""
    return [
        {
            "run": f"sweep__x-{i:05d}",
            "reason": REASONS[i % 5][0],
            "exit_code": REASONS[i % 5][1],
            "wall_s": 1.0 + (i * 37 % 1000),
            "peak_rss_mb": 10.0 + (i * 53 % 900),
        }
        for i in range(count)
    ]


def root_of(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    return root


def texts(root: ET.Element) -> list[str]:
    """Every text shown, in document order (the title element first)."""
    return [e.text for e in root.iter() if e.tag in (f"{SVG}text", f"{SVG}title") and e.text]


def of_class(root: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in root.iter() if e.get("class") == name]


def size_of(root: ET.Element) -> tuple[int, int]:
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"
    return int(root.get("width", "0")), int(root.get("height", "0"))


def marks(path: ET.Element) -> list[tuple[float, float]]:
    """The points of a dots or rings path (``M<x> <y>...`` per mark)."""
    return [
        (float(x), float(y)) for x, y in re.findall(r"M(-?[\d.]+) (-?[\d.]+)", path.get("d", ""))
    ]


def files(directory: Path) -> list[str]:
    """No temp file may be left beside the plot."""
    return sorted(p.name for p in directory.iterdir())


# -- the rows --------------------------------------------------------------------------------------
def test_summary_rows_sorted_by_run_with_missing_values_as_none():
    table = summary_rows(ROWS)
    assert [(r.run, r.category, r.wall_s, r.peak_mb) for r in table] == [
        ("big", "memory", 8.795, 401.8),
        ("cut", "signal", None, 50.0),
        ("fast", "failed", 0.5, 12.0),
        ("slow", "timeout", 60.0, None),
        ("small", "exited ok", 2.424, 94.2),
    ]


def test_csv_text_cells_give_the_same_rows_as_values():
    as_text = [
        {
            k: "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
            for k, v in row.items()
        }
        for row in FAILED_ROWS
    ]
    assert summary_rows(as_text) == summary_rows(FAILED_ROWS)
    # Exit codes written as floats by an older table, and an empty exit code (failed).
    assert (
        summary_rows([{"run": "a", "reason": "exited", "exit_code": "0.0"}])[0].category
        == "exited ok"
    )
    assert (
        summary_rows([{"run": "a", "reason": "exited", "exit_code": " "}])[0].category == "failed"
    )


def test_summary_rows_from_a_dataframe_equal_the_dicts():
    import pandas as pd

    frame = pd.DataFrame(ROWS)
    assert summary_rows(frame) == summary_rows(ROWS)
    nullable = frame.astype({"exit_code": "Int64"})
    nullable.loc[0, "exit_code"] = pd.NA
    assert summary_rows(nullable)[-1].category == "failed"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"reason": "exited"}, r"benchmark row 0: no 'run'; rows need run, reason, exit_code"),
        ({"run": "a", "reason": ""}, r"benchmark row 0: no 'reason'"),
        (
            {"run": "a", "reason": "exited", "wall_s": "fast"},
            r"run 'a': wall_s 'fast' is not a number",
        ),
    ],
)
def test_bad_summary_rows_are_user_errors_and_write_nothing(tmp_path, row, message):
    with pytest.raises(UserError, match=message):
        plot_summary([row], tmp_path / "summary.svg")
    assert files(tmp_path) == []


def test_layout_bars_up_to_the_limit_then_a_scatter():
    assert [summary_layout(n) for n in (0, 5, BAR_MAX_RUNS, BAR_MAX_RUNS + 1)] == [
        "bars",
        "bars",
        "bars",
        "scatter",
    ]
    assert bars_height(0) == bars_height(1) == int(PLOT_TOP + ROW + 56)
    assert bars_height(BAR_MAX_RUNS) == int(PLOT_TOP + BAR_MAX_RUNS * ROW + 56)


def test_short_cause_keeps_short_text_and_cuts_long_text():
    assert short_cause("ValueError: boom (sim.py:12)") == "ValueError: boom (sim.py:12)"
    assert short_cause("a\n  b") == "a b"
    assert short_cause("x" * 60, width=10) == "xxxxxxxxx…"
    long = "AttributeError: 'NoneType' object has no attribute 'spikes' (crash.py:10)"
    assert short_cause(long, width=48) == "AttributeError: 'NoneType' object… (crash.py:10)"


# -- bars ------------------------------------------------------------------------------------------
def test_long_run_ids_keep_their_ends_the_values_that_tell_a_sweep_s_runs_apart(tmp_path):
    rows = [
        {"run": f"model/variant__learning_rate-0.001_seed-{seed}", "reason": "exited",
         "exit_code": 0, "wall_s": 1.0, "peak_rss_mb": 10.0}
        for seed in (1, 2)
    ]  # fmt: skip
    root = root_of(plot_summary(rows, tmp_path / "s.svg"))
    assert [e.text for e in of_class(root, "run")] == [
        "model/variant_…-0.001_seed-1",
        "model/variant_…-0.001_seed-2",
    ]


def test_bars_one_per_run_and_value_in_the_colour_of_its_end(tmp_path):
    out = plot_summary(ROWS, tmp_path / "plots" / "summary.svg")
    assert files(out.parent) == ["summary.svg"]
    root = root_of(out)
    assert size_of(root) == (1000, bars_height(5))
    title = "5 runs: 1 exited ok, 1 failed (exit ≠ 0), 1 memory, 1 timeout, 1 signal"
    shown = texts(root)
    assert shown[:2] == [title, title]  # the document's title, then the heading
    assert [e.text for e in of_class(root, "legend")] == [
        "exited ok (1)",
        "failed (exit ≠ 0) (1)",
        "memory (1)",
        "timeout (1)",
        "signal (1)",
    ]
    assert [e.text for e in of_class(root, "run")] == ["big", "cut", "fast", "slow", "small"]
    values = [e.text for e in of_class(root, "value")]
    assert values == ["8.8 s", "n/a", "0.5 s", "60.0 s", "2.4 s"] + [
        "401.8 MB", "50.0 MB", "12.0 MB", "n/a", "94.2 MB"
    ]  # fmt: skip
    assert {"wall time (s)", "peak memory (MB)"} <= set(shown)
    bars = of_class(root, "bar")
    # No bar for a missing value: cut has no wall time, slow no peak.
    colours = {
        "big": "memory",
        "cut": "signal",
        "fast": "failed",
        "slow": "timeout",
        "small": "exited ok",
    }
    assert [(b.get("data-run"), b.get("fill")) for b in bars] == [
        (run, CATEGORY_COLOURS[colours[run]])
        for run in ("big", "fast", "slow", "small", "big", "cut", "fast", "small")
    ]
    # Bars start at their panel's left edge, one row each from the top, lengths proportional.
    wall = {b.get("data-run"): b for b in bars[:4]}
    assert {float(b.get("x", "")) for b in bars[:4]} == {WALL_PANEL[0]}
    assert {float(b.get("x", "")) for b in bars[4:]} == {MEM_PANEL[0]}
    assert [float(b.get("y", "")) for b in bars[:4]] == [
        PLOT_TOP + i * ROW + 2 for i in (0, 2, 3, 4)
    ]
    width = {run: float(b.get("width", "")) for run, b in wall.items()}
    assert width["big"] / width["slow"] == pytest.approx(8.795 / 60.0, abs=0.002)
    assert of_class(root, "retry") == []


def test_failed_runs_show_their_cause_and_retried_runs_are_hatched(tmp_path):
    root = root_of(plot_summary(FAILED_ROWS, tmp_path / "summary.svg"))
    assert [e.text for e in of_class(root, "value")][:4] == [
        "0.4 s  ModuleNotFoundError: No module… (src/tuned.py:2)",
        "3.0 s",
        "2.5 s  stopped (memory): memory 801.0 MB over limit 80…",
        "1.0 s",
    ]
    assert [e.text for e in of_class(root, "legend")] == [
        "exited ok (2)",
        "failed (exit ≠ 0) (1)",
        "memory (1)",
        "needed a retry (2)",
    ]
    bars = {(b.get("data-run"), b.get("x")): b for b in of_class(root, "bar")}
    overlays = of_class(root, "retry")
    assert len(overlays) == 4  # fits and hungry, in both panels
    for overlay in overlays:
        (bar,) = [
            b
            for b in bars.values()
            if (b.get("x"), b.get("y")) == (overlay.get("x"), overlay.get("y"))
        ]
        assert bar.get("data-run") in {"fits", "hungry"}
        assert (overlay.get("width"), overlay.get("fill")) == (bar.get("width"), "url(#retry)")
    patterns = list(root.iter(f"{SVG}pattern"))
    assert [p.get("id") for p in patterns] == ["retry"]


def test_no_runs_and_a_missing_or_empty_table_say_no_runs(tmp_path):
    root = root_of(plot_summary([], tmp_path / "a.svg"))
    assert size_of(root) == (1000, NO_RUNS_HEIGHT)
    assert texts(root) == ["no runs", "no runs", "no runs"]
    assert of_class(root, "bar") == []
    root = root_of(plot_summary_csv(tmp_path / "missing.csv", tmp_path / "b.svg"))
    assert texts(root) == [
        "no runs",
        "no runs",
        f"{tmp_path / 'missing.csv'}: no such file",
        "no runs",
    ]
    for content in ("", "run,reason,exit_code,wall_s,peak_rss_mb\n", "run,reason\n\n\n"):
        (tmp_path / "t.csv").write_text(content)
        assert (
            texts(root_of(plot_summary_csv(tmp_path / "t.csv", tmp_path / "c.svg")))
            == ["no runs"] * 3
        )


def test_hostile_run_ids_and_causes_are_escaped(tmp_path):
    rows = [{"run": 'a<b>&"c\'', "reason": "exited", "exit_code": 2, "wall_s": 1.0,
             "peak_rss_mb": 5.0, "error": "bad <tag> & \x00 byte"}]  # fmt: skip
    root = root_of(plot_summary(rows, tmp_path / "s.svg"))  # parses: valid XML
    assert "a<b>&\"c'" in texts(root)
    assert "1.0 s  bad <tag> & \ufffd byte" in texts(root)


# -- scatter ---------------------------------------------------------------------------------------
def test_many_runs_are_one_dot_each_in_the_colour_of_their_end(tmp_path):
    rows = sweep(1000)
    rows[7]["wall_s"] = None
    root = root_of(plot_summary(rows, tmp_path / "summary.svg"))
    assert size_of(root) == (1000, SCATTER_HEIGHT)
    shown = texts(root)
    assert (
        shown[0]
        == "1000 runs: 200 exited ok, 200 failed (exit ≠ 0), 200 memory, 200 timeout, 200 disk"
    )
    assert [e.text for e in of_class(root, "legend")] == [
        "exited ok (200)",
        "failed (exit ≠ 0) (200)",
        "memory (200)",
        "timeout (200)",
        "disk (200)",
    ]
    assert "1 run(s) without wall time or peak not shown" in shown
    assert "wall time (s, log scale)" in shown  # 1 s to 1000 s
    assert not any(text.startswith("sweep__x-") for text in shown)  # no per-run labels
    paths = {p.get("data-category"): p for p in of_class(root, "points")}
    assert list(paths) == ["exited ok", "failed", "memory", "timeout", "disk"]
    for name, path in paths.items():
        assert (path.get("stroke"), path.get("stroke-linecap")) == (CATEGORY_COLOURS[name], "round")
        # A failure is a bigger, opaque dot, to be seen among thousands of runs that ended ok.
        size = (DOT_SIZE, "0.8") if name == "exited ok" else (FAILED_DOT_SIZE, "1")
        assert (float(path.get("stroke-width", "")), path.get("stroke-opacity")) == size
        members = [r for r in rows if summary_rows([r])[0].category == name and r["wall_s"]]
        assert path.get("data-runs") == str(len(members))
        # One dot per run, but one per whole pixel: runs drawn on the same pixel are one dot.
        dots = marks(path)
        assert len(dots) == len(set(dots)) <= len(members)
        assert all(LEFT <= x <= RIGHT and PLOT_TOP <= y <= 530 for x, y in dots)


def test_dots_sit_where_their_values_are_on_linear_axes(tmp_path):
    rows = [
        {"run": f"r{i:03d}", "reason": "exited", "exit_code": 0, "wall_s": 10.0 * (i + 1),
         "peak_rss_mb": 100.0 * (i % 7)}
        for i in range(BAR_MAX_RUNS + 1)
    ]  # fmt: skip
    root = root_of(plot_summary(rows, tmp_path / "s.svg"))
    assert "wall time (s)" in texts(root)  # 10 s .. 610 s: less than 100x, linear
    (path,) = of_class(root, "points")
    dots = marks(path)
    assert len(dots) == BAR_MAX_RUNS + 1 == int(path.get("data-runs", ""))
    x_hi, y_hi = 610.0 * 1.05, 600.0 * 1.1
    expected = [
        (
            round(LEFT + r["wall_s"] / x_hi * (RIGHT - LEFT)),
            round(530 - r["peak_rss_mb"] / y_hi * (530 - PLOT_TOP)),
        )
        for r in rows
    ]
    assert dots == expected


def test_scatter_rings_retries_and_labels_a_few_failures(tmp_path):
    rows = [
        {"run": f"r{i:03d}", "reason": "exited", "exit_code": 0, "wall_s": 1.0 + i,
         "peak_rss_mb": 10.0 + 5 * i, "attempts": 2 if i % 10 == 0 else 1}
        for i in range(BAR_MAX_RUNS + 5)
    ]  # fmt: skip
    rows[3] |= {"exit_code": 1, "error": CAUSE}
    rows[-1] |= {"reason": "memory", "exit_code": 137, "error": "stopped (memory)"}
    root = root_of(plot_summary(rows, tmp_path / "s.svg"))
    assert "needed a retry (7)" in [e.text for e in of_class(root, "legend")]
    (rings,) = of_class(root, "retried")
    assert (rings.get("data-runs"), len(marks(rings))) == ("7", 7)
    # A label that would leave the figure on the right ends left of its dot.
    causes = [(e.text, e.get("text-anchor")) for e in of_class(root, "cause")]
    assert causes == [(f"r003: {short_cause(CAUSE)}", None), ("r064: stopped (memory)", "end")]
    for i in range(3, 3 + SCATTER_MAX_CAUSES):  # with r064, one failure too many to label
        rows[i] |= {"exit_code": 1, "error": CAUSE}
    root = root_of(plot_summary(rows, tmp_path / "s.svg"))
    assert of_class(root, "cause") == []


def test_failures_at_one_spot_get_labels_that_do_not_overlap(tmp_path):
    """Five points of a sweep that failed alike sit on one spot: their labels stack downwards
    CAUSE_LINE apart, each moved one with a leader line back to its dot."""
    rows = [
        {"run": f"pts__x-{i}", "reason": "exited", "exit_code": 0, "wall_s": 0.05 + i / 1000,
         "peak_rss_mb": 13.0}
        for i in range(200)
    ]  # fmt: skip
    for i in (17, 77, 117, 177, 199):
        rows[i] = rows[i] | {"exit_code": 1, "wall_s": 0.12, "error": f"bad input x={i}"}
    root = root_of(plot_summary(rows, tmp_path / "s.svg"))
    labels = of_class(root, "cause")
    assert sorted(e.text or "" for e in labels) == sorted(
        f"pts__x-{i}: bad input x={i}" for i in (17, 77, 117, 177, 199)
    )
    baselines = sorted(float(e.get("y", "")) for e in labels)
    assert [round(b - baselines[0], 6) for b in baselines] == [0, 11, 22, 33, 44]
    assert len(of_class(root, "leader")) == 4


def test_free_baseline_moves_only_past_labels_sharing_width():
    placed = [(100.0, 200.0, 50.0), (300.0, 400.0, 50.0)]
    assert free_baseline(placed, 210.0, 290.0, 50.0) == 50.0  # between them: stays
    assert free_baseline(placed, 150.0, 250.0, 45.0) == 61.0  # under the first one
    assert free_baseline([*placed, (150.0, 250.0, 61.0)], 180.0, 320.0, 52.0) == 72.0


def test_10000_runs_stay_a_small_file(tmp_path):
    out = plot_summary(sweep(10_000), tmp_path / "s.svg")
    root = root_of(out)
    assert texts(root)[0].startswith("10000 runs: 2000 exited ok")
    assert sum(int(p.get("data-runs", "")) for p in of_class(root, "points")) == 10_000
    assert out.stat().st_size < 250_000


# -- the benchmark CSV and the job's entry point ---------------------------------------------------
def test_the_csv_the_table_writes_draws_what_its_rows_draw(tmp_path):
    import pandas as pd

    from simwarden.results.table import RECORD_COLUMNS, write_table

    frame = pd.DataFrame(
        [{c: row.get(c) for c in RECORD_COLUMNS} | {"param.seed": 1} for row in FAILED_ROWS]
    )
    frame = frame.astype({"attempts": "Int64", "exit_code": "Int64"})
    write_table(frame, tmp_path / "benchmarks.csv", tmp_path / "benchmarks.h5")
    rows = read_summary_csv(tmp_path / "benchmarks.csv")
    assert rows[0] == {
        "run": "crash",
        "reason": "exited",
        "exit_code": "1",
        "wall_s": "0.4",
        "peak_rss_mb": "20.0",
        "attempts": "1",
        "error": CAUSE,
    }
    assert rows[3]["error"] == ""
    from_csv = plot_summary_csv(tmp_path / "benchmarks.csv", tmp_path / "a.svg").read_text()
    assert from_csv == summary_figure(summary_rows(FAILED_ROWS))[0]


def jobs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "simwarden.jobs", "plot_summary", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=["run", "reason", "exit_code", "wall_s", "peak_rss_mb"]
        )
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_the_job_draws_the_summary_of_the_csv(tmp_path):
    table = write_csv(tmp_path / "benchmarks.csv", [r for r in ROWS if r["run"] != "cut"])
    done = jobs(str(table), str(tmp_path / "plots" / "summary.svg"))
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    root = root_of(tmp_path / "plots" / "summary.svg")
    assert texts(root)[0] == "4 runs: 1 exited ok, 1 failed (exit ≠ 0), 1 memory, 1 timeout"
    assert len(of_class(root, "bar")) == 7


def test_a_summary_that_cannot_be_drawn_is_a_placeholder_and_one_line(tmp_path):
    table = write_csv(
        tmp_path / "benchmarks.csv", [{"run": "a", "reason": "exited", "wall_s": "fast"}]
    )
    out = tmp_path / "summary.svg"
    done = jobs(str(table), str(out))
    why = (
        "UserError: run 'a': wall_s 'fast' is not a number; the benchmark table needs numbers "
        "or empty cells there"
    )
    assert (done.returncode, done.stdout) == (0, "")
    assert done.stderr == f"simwarden: the summary plot {out} could not be drawn: {why}\n"
    assert texts(root_of(out)) == ["no plot", f"no plot: {why}"]
    (tmp_path / "latin1.csv").write_bytes(b"run,reason\n\xe9t\xe9,exited\n")
    done = jobs(str(tmp_path / "latin1.csv"), str(out))
    assert (done.returncode, done.stderr.count("\n")) == (0, 1)
    assert "cannot be read as a benchmark table" in texts(root_of(out))[1]


def test_a_malformed_command_line_exits_2():
    done = jobs("only-one")
    assert (done.returncode, done.stderr) == (
        2,
        "simwarden.jobs: usage: python -m simwarden.jobs plot_summary TABLE_CSV OUT_SVG\n",
    )


def test_the_job_imports_no_heavy_library(tmp_path):
    table = write_csv(tmp_path / "benchmarks.csv", ROWS)
    code = (
        "import sys; from simwarden.jobs import main; "
        f"assert main(['plot_summary', {str(table)!r}, {str(tmp_path / 's.svg')!r}]) == 0; "
        "print(sorted(m for m in ('matplotlib', 'numpy', 'pandas', 'PIL', 'snakemake', 'yaml') "
        "if m in sys.modules))"
    )
    done = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, timeout=TIMEOUT)
    assert (done.returncode, done.stdout, done.stderr) == (0, "[]\n", "")
