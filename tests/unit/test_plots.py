"""The run plot's SVG from real samples and records, with exact figure content (where each value
is drawn, every label). The summary plot: tests/unit/test_summary_plot.py."""

from __future__ import annotations

import io
import json
import math
import subprocess
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from simwarden.core.errors import UserError
from simwarden.results.plots import common, plot_run
from simwarden.results.plots.axes import Scale
from simwarden.results.plots.common import CATEGORY_COLOURS, category, legend_entries
from simwarden.results.plots.run import (
    load_samples,
    placeholder_plot,
    run_annotations,
    run_figure,
    run_name,
)
from simwarden.results.plots.run_draw import (
    COLUMNS,
    CPU_BOTTOM,
    CPU_MARGIN,
    CPU_TOP,
    LEFT,
    MEM_BOTTOM,
    MEM_MARGIN,
    MEM_TOP,
    RIGHT,
    X_MARGIN,
    Frame,
)
from simwarden.results.plots.summary import summary_title
from simwarden.warden import Limits, RunOptions, run
from simwarden.warden.record import Record, format_sample_row, samples_header
from tests.conftest import PYTHON

MB = 1000**2
HEADER = "time_s\trss_bytes\tcpu_percent\tprocesses\tread_bytes\twrite_bytes\n"

# The first attempt of the demo's `big` run as the pipeline records it (results trimmed to the
# keys plots read), with the context the pipeline adds.
BIG_ATTEMPT1: dict[str, Any] = {
    "start": "2026-11-21T20:56:15.208+00:00",
    "end": "2026-11-21T20:56:24.003+00:00",
    "wall_s": 8.795,
    "exit_code": 137,
    "reason": "memory",
    "message": "stopped (memory): memory 401.8 MB over limit 400.0 MB; peak 401.8 MB after 8.8 s;"
    " exit 137",
    "command_exit_code": 143,
    "command_signal": None,
    "stopped_by": "poll",
    "limits": {
        "disk_path": None,
        "host_mem_percent": None,
        "mem_bytes": 400000000,
        "mem_warn_bytes": 320000000,
        "min_free_disk_bytes": None,
        "timeout_s": 1800,
    },
    "peak_rss_bytes": 401768448,
    "context": {
        "run": "big",
        "repository": "examples/demo-sim.bundle",
        "commit": "71d87757eadd7abef2e0c38caada0572f4f7ad3a",
        "params_hash": "0f3c",
        "run_config": "std",
        "attempt": 1,
        "mem_mb": 400,
        "runtime_min": 30,
    },
}


def samples_text(rows: list[tuple[float, int, float]]) -> str:
    return HEADER + "".join(f"{t:.3f}\t{rss}\t{cpu:.1f}\t1\t0\t0\n" for t, rss, cpu in rows)


def write_run(
    tmp_path: Path, record: Any, rows: list[tuple[float, int, float]]
) -> tuple[Path, Path]:
    run_dir = tmp_path / "runs" / "big"
    run_dir.mkdir(parents=True)
    (run_dir / "record.json").write_text(json.dumps(record))
    (run_dir / "samples.tsv").write_text(samples_text(rows))
    return run_dir / "samples.tsv", run_dir / "record.json"


GROWING = [(0.1 * i, 20 * MB * i + 10 * MB, 50.0 + i) for i in range(21)]  # up to 410 MB at 2 s


def only_png(directory: Path) -> list[str]:
    """The directory's file names: no temp file may be left beside the plot."""
    return sorted(p.name for p in directory.iterdir())


SVG = "{http://www.w3.org/2000/svg}"


def svg_root(document: str | Path) -> ET.Element:
    """The parsed SVG (a file or its text), checked to be one of 1000 x 600 user units."""
    text = document.read_text(encoding="utf-8") if isinstance(document, Path) else document
    root = ET.fromstring(text)
    assert (root.tag, root.get("viewBox")) == (f"{SVG}svg", "0 0 1000 600")
    return root


def svg_texts(document: str | Path) -> set[str]:
    """Every text the SVG shows, and its title."""
    root = svg_root(document)
    return {e.text for e in root.iter() if e.tag in (f"{SVG}text", f"{SVG}title") and e.text}


def by_class(document: str | Path, name: str) -> list[ET.Element]:
    return [e for e in svg_root(document).iter() if e.get("class") == name]


def points(element: ET.Element) -> list[tuple[float, float]]:
    return [tuple(map(float, pair.split(","))) for pair in element.get("points", "").split()]


def path_start(element: ET.Element) -> tuple[float, float]:
    """Where a marker path starts: the marked point (``M<x> <y>...``)."""
    x, y = element.get("d", "")[1:].split("l")[0].split("m")[0].split()
    return float(x), float(y)


def scales(seconds: float, mem_top_mb: float, cpu_top: float = 100.0) -> Frame:
    """The plot's scales for a run of ``seconds`` whose largest memory level is ``mem_top_mb``."""
    return Frame(
        Scale(0.0, seconds * X_MARGIN, LEFT, RIGHT),
        Scale(0.0, mem_top_mb * MEM_MARGIN, MEM_BOTTOM, MEM_TOP),
        Scale(0.0, cpu_top * CPU_MARGIN, CPU_BOTTOM, CPU_TOP),
    )


def near(got: Any, expected: Any) -> bool:
    """``got`` (read from the SVG, one decimal) is ``expected`` written with one decimal: a
    number or a sequence of them, compared element by element."""
    if isinstance(got, int | float):
        return abs(got - expected) <= 0.05 + 1e-9
    return len(got) == len(expected) and all(map(near, got, expected))


# -- labels ----------------------------------------------------------------------------------------
def test_annotations_of_a_memory_stop_with_context():
    labels = run_annotations(Record.from_dict(BIG_ATTEMPT1), "ignored")
    assert labels.title == "big · commit 71d8775 · run config std · attempt 1"
    assert labels.end == "memory: stopped at 402 MB / limit 400 MB"
    assert labels.peak == "peak 402 MB"
    assert labels.limit == "limit 400 MB"
    assert labels.warn == "warn 320 MB"


def test_annotations_of_an_old_record_without_context_or_limits():
    record = {"reason": "exited", "exit_code": 0, "wall_s": 2.424, "peak_rss_bytes": 3_500_000}
    labels = run_annotations(Record.from_dict(record), "small")
    assert (labels.title, labels.end, labels.peak, labels.limit, labels.warn) == (
        "small",
        "exited 0",
        "peak 3.5 MB",
        None,
        None,
    )
    nulls = {**record, "context": {"run": None, "commit": None, "run_config": None}}
    assert run_annotations(Record.from_dict(nulls), "small").title == "small"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"reason": "exited", "exit_code": 0}, "exited 0"),
        ({"reason": "exited", "exit_code": 3}, "exited 3 (failed)"),
        (
            {"reason": "exited", "exit_code": 139, "command_signal": "SIGSEGV"},
            "exited 139 (SIGSEGV)",
        ),
        (
            {"stopped_by": "cgroup", "peak_rss_bytes": 380 * MB},
            "memory: kernel killed at 380 MB / limit 400 MB",
        ),
        ({"limits": {"mem_bytes": None}}, "memory: stopped at 402 MB"),
        (
            {"reason": "timeout", "exit_code": 124, "wall_s": 60.04, "limits": {"timeout_s": 60}},
            "timeout: stopped after 60.0 s / limit 60 s",
        ),
        (
            {"reason": "host_memory", "exit_code": 122, "limits": {"host_mem_percent": 90.0}},
            "host_memory: stopped, host memory use over 90%",
        ),
        (
            {"reason": "disk", "exit_code": 121, "limits": {"min_free_disk_bytes": 2 * 10**9}},
            "disk: stopped, free disk below 2.00 GB",
        ),
        ({"reason": "signal", "exit_code": 130}, "signal: the warden was interrupted (exit 130)"),
        ({"reason": "stopped", "exit_code": 123}, "stopped: the stop file appeared"),
        ({"reason": "eaten", "exit_code": 9}, "eaten (exit 9)"),
    ],
)
def test_end_label_for_each_reason(changes, expected):
    assert run_annotations(Record.from_dict({**BIG_ATTEMPT1, **changes}), "big").end == expected


def test_run_name_from_the_record_path():
    assert run_name(Path("results/runs/big/record.json")) == "big"
    assert run_name(Path("results/failed/big/attempt-1/record.json")) == "big"
    assert run_name(Path("elsewhere/big.attempt1.record.json")) == "big.attempt1"


@pytest.mark.parametrize(
    ("reason", "exit_code", "category"),
    [
        ("exited", 0, "exited ok"),
        ("exited", 1, "failed"),
        ("exited", None, "failed"),
        ("memory", 137, "memory"),
        ("timeout", 124, "timeout"),
        ("host_memory", 122, "host_memory"),
        ("disk", 121, "disk"),
        ("signal", 143, "signal"),
        ("stopped", 123, "stopped"),
        ("exited ok", 0, "other"),
        ("new_reason", 5, "other"),
    ],
)
def test_category_of_a_run(reason, exit_code, category):
    assert common.category(reason, exit_code) == category


def test_colours_are_fixed_and_distinct():
    assert CATEGORY_COLOURS == {
        "exited ok": "#009E73",
        "failed": "#CC79A7",
        "memory": "#D55E00",
        "timeout": "#E69F00",
        "host_memory": "#F0E442",
        "disk": "#0072B2",
        "signal": "#56B4E9",
        "stopped": "#999999",
        "refused": "#666666",
        "other": "#000000",
    }
    assert len(set(CATEGORY_COLOURS.values())) == len(CATEGORY_COLOURS)
    assert category("refused", 125) == "refused"
    assert legend_entries(["refused", "exited ok"]) == [
        ("exited ok (1)", "#009E73"),
        ("refused (never started) (1)", "#666666"),
    ]


def test_legend_entries_in_fixed_order_with_counts():
    categories = ["memory", "exited ok", "failed", "memory", "exited ok", "exited ok", "timeout"]
    assert legend_entries(categories) == [
        ("exited ok (3)", "#009E73"),
        ("failed (exit ≠ 0) (1)", "#CC79A7"),
        ("memory (2)", "#D55E00"),
        ("timeout (1)", "#E69F00"),
    ]
    assert legend_entries([]) == []
    assert (
        summary_title(categories) == "7 runs: 3 exited ok, 1 failed (exit ≠ 0), 2 memory, 1 timeout"
    )
    assert summary_title(["signal"]) == "1 run: 1 signal"
    assert summary_title([]) == "no runs"


# -- plot_run --------------------------------------------------------------------------------------
def test_plot_run_of_a_memory_stop(tmp_path):
    samples, record = write_run(tmp_path, BIG_ATTEMPT1, GROWING)
    out = tmp_path / "figures" / "big.resources.svg"  # the directory does not exist yet
    assert plot_run(samples, record, out) == out
    assert only_png(out.parent) == ["big.resources.svg"]
    shown = svg_texts(out)
    assert {
        "big · commit 71d8775 · run config std · attempt 1",
        "memory: stopped at 402 MB / limit 400 MB",
        BIG_ATTEMPT1["message"],
        "peak 402 MB",
        "limit 400 MB",
        "warn 320 MB",
        "RSS (tree)",
        "CPU %",
        "memory (MB)",
        "time since start (s)",
        "400 MB",
        "100 %",
        "8 s",
    } <= shown
    assert "no samples" not in shown
    # Largest memory level: the last sample, 410 MB; the run ends at its wall time, 8.795 s.
    frame = scales(8.795, 410.0)
    (limit,) = by_class(out, "limit")
    (warn,) = by_class(out, "warn")
    ends = [float(limit.get(k)) for k in ("x1", "y1", "x2", "y2")]
    assert near(ends, [LEFT, frame.mem(400.0), RIGHT, frame.mem(400.0)])
    assert near(float(warn.get("y1")), frame.mem(320.0))
    (rss,) = by_class(out, "rss")
    expected = [(frame.x(t), frame.mem(rss / MB)) for t, rss, _ in GROWING]
    assert near(points(rss), expected)
    (peak,) = by_class(out, "peak")
    assert near(path_start(peak), (frame.x(2.0), frame.mem(410.0)))
    ends = by_class(out, "end")
    assert len(ends) == 2 and all(near(float(e.get("x1")), frame.x(8.795)) for e in ends)
    assert {e.get("stroke") for e in ends} == {CATEGORY_COLOURS["memory"]}


def test_plot_run_title_argument_and_replacing_an_old_plot(tmp_path):
    samples, record = write_run(tmp_path, BIG_ATTEMPT1, GROWING)
    out = tmp_path / "big.svg"
    out.write_bytes(b"old")
    plot_run(str(samples), str(record), str(out), title="my title")
    assert {"my title"} <= svg_texts(out)
    assert "big · commit 71d8775 · run config std · attempt 1" not in svg_texts(out)
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["big.svg"]


def test_a_run_that_ended_well_has_no_cause_line(tmp_path):
    record = {"reason": "exited", "exit_code": 0, "wall_s": 2.0, "peak_rss_bytes": 410 * MB}
    samples, record_path = write_run(tmp_path, record, GROWING)
    out = plot_run(samples, record_path, tmp_path / "ok.svg")
    assert by_class(out, "cause") == [] and by_class(out, "limit") == []
    assert {"big", "exited 0", "peak 410 MB"} <= svg_texts(out)
    (end,) = {e.get("stroke") for e in by_class(out, "end")}
    assert end == CATEGORY_COLOURS["exited ok"]


def test_plot_run_with_header_only_samples_notes_no_samples(tmp_path):
    record = {"reason": "exited", "exit_code": 0, "wall_s": 0.01, "peak_rss_bytes": 0}
    samples, record_path = write_run(tmp_path, record, [])
    assert samples.read_text() == HEADER
    out = plot_run(samples, record_path, tmp_path / "empty.svg")
    assert {"no samples", "exited 0", "big"} <= svg_texts(out)
    assert len(by_class(out, "no-samples")) == 2  # in both panels
    assert by_class(out, "rss") == [] and by_class(out, "peak") == []


def test_plot_run_with_missing_or_empty_samples_file_still_plots(tmp_path):
    samples, record = write_run(tmp_path, BIG_ATTEMPT1, [])
    samples.unlink()
    assert "no samples" in svg_texts(plot_run(samples, record, tmp_path / "a.svg"))
    samples.write_text("")
    assert "no samples" in svg_texts(plot_run(samples, record, tmp_path / "b.svg"))


def test_a_single_sample_is_a_dot(tmp_path):
    samples, record = write_run(tmp_path, BIG_ATTEMPT1, [(0.5, 300 * MB, 80.0)])
    out = plot_run(samples, record, tmp_path / "one.svg")
    frame = scales(8.795, 401.768448)  # the record's peak is the largest level
    (dot,) = by_class(out, "rss")
    assert dot.tag == f"{SVG}circle"
    assert near((float(dot.get("cx")), float(dot.get("cy"))), (frame.x(0.5), frame.mem(300.0)))
    assert path_start(by_class(out, "peak")[0]) == (float(dot.get("cx")), float(dot.get("cy")))


def test_nan_cells_break_the_curve_and_never_raise(tmp_path):
    samples, record = write_run(tmp_path, BIG_ATTEMPT1, GROWING)
    lines = samples.read_text().splitlines(keepends=True)
    lines[4] = "0.300\tnan\t53.0\t1\t0\t0\n"  # sample 3's RSS (line 0 is the header)
    lines[8] = "0.700\t150000000\tnan\t1\t0\t0\n"  # sample 7's CPU
    samples.write_text("".join(lines))
    out = plot_run(samples, record, tmp_path / "nan.svg")
    assert [len(points(e)) for e in by_class(out, "rss")] == [3, 17]
    assert [len(points(e)) for e in by_class(out, "cpu")] == [7, 13]


def test_progress_is_drawn_when_the_samples_have_it(tmp_path):
    record = {**BIG_ATTEMPT1, "progress": 0.42}
    samples, record_path = write_run(tmp_path, record, GROWING)
    rows = [HEADER.rstrip("\n") + "\tprogress\teta_s\tmem_limit_bytes\n"]
    for i, (t, rss, cpu) in enumerate(GROWING):
        progress = "" if i < 5 else f"{i / 50:.4f}"
        rows.append(f"{t:.3f}\t{rss}\t{cpu:.1f}\t1\t0\t0\t{progress}\t\t{400 * MB}\n")
    samples.write_text("".join(rows))
    out = plot_run(samples, record_path, tmp_path / "p.svg")
    (line,) = by_class(out, "progress")
    frame = scales(8.795, 410.0)
    assert near(points(line)[0], (frame.x(0.5), frame.cpu(10.0)))
    assert near(points(line)[-1], (frame.x(2.0), frame.cpu(40.0)))
    shown = svg_texts(out)
    assert "progress %" in shown
    (cause,) = by_class(out, "cause")
    assert cause.text.endswith("; exit 137 · progress 42 %")


def test_hostile_strings_are_escaped(tmp_path):
    hostile = "a<b>&\"c'</text><script>x</script>]]>\x00\x1b[31m\ud800"
    record = {
        **BIG_ATTEMPT1,
        "reason": "exited",
        "exit_code": 1,
        "error": None,
        "stderr_tail": [hostile],
        "context": {**BIG_ATTEMPT1["context"], "run": hostile},
    }
    samples, record_path = write_run(tmp_path, record, GROWING)
    out = plot_run(samples, record_path, tmp_path / "h.svg", title=None)
    shown = svg_texts(out)  # parses: valid XML
    clean = "a<b>&\"c'</text><script>x</script>]]>\ufffd\ufffd[31m\ufffd"
    assert f"{clean} · commit 71d8775 · run config std · attempt 1" in shown
    (cause,) = by_class(out, "cause")
    assert cause.text == clean
    assert "<script>" not in out.read_text(encoding="utf-8")


def test_100000_samples_are_downsampled_and_keep_the_spike(tmp_path):
    count = 100_000
    rows = [(i * 0.1, 100 * MB + (i % 7) * MB, 50.0) for i in range(count)]
    rows[54_321] = (rows[54_321][0], 900 * MB, 400.0)  # one sample: the spike
    record = {**BIG_ATTEMPT1, "wall_s": count * 0.1, "peak_rss_bytes": 900 * MB}
    samples, record_path = write_run(tmp_path, record, rows)
    out = plot_run(samples, record_path, tmp_path / "long.svg")
    frame = scales(count * 0.1, 900.0, 400.0)
    (rss,) = by_class(out, "rss")
    drawn = points(rss)
    assert len(drawn) <= 2 * COLUMNS
    top = min(drawn, key=lambda point: point[1])  # pixels grow downwards
    assert near(top, (frame.x(5432.1), frame.mem(900.0)))
    assert near(max(y for _, y in drawn), frame.mem(100.0))  # the lows survive too
    (cpu,) = by_class(out, "cpu")
    assert near(min(y for _, y in points(cpu)), frame.cpu(400.0))
    assert path_start(by_class(out, "peak")[0]) == top
    assert {"0 min", "100 min", "time since start (min)"} <= svg_texts(out)


def test_samples_cut_short_by_a_kill_keep_the_whole_rows(tmp_path):
    path = tmp_path / "samples.tsv"
    path.write_text(samples_text([(0.1, 5 * MB, 10.0), (0.2, 7 * MB, 20.0)]) + "0.300\t9000")
    series = load_samples(path)
    assert (series.time_s, series.rss_mb, series.cpu_percent) == (
        [0.1, 0.2],
        [5.0, 7.0],
        [10.0, 20.0],
    )


def test_the_fast_reader_reads_what_read_samples_reads(tmp_path):
    """A whole file goes the column-wise way, one with a row cut short through read_samples:
    the same rows give the same series."""
    rows = "".join(
        format_sample_row(i * 0.25, rss_bytes=i * 999_999, cpu_percent=i * 1.5, processes=1,
                          read_b=0, write_b=0, progress=None if i < 3 else i / 10)
        for i in range(10)
    )  # fmt: skip
    whole, cut = tmp_path / "whole.tsv", tmp_path / "cut.tsv"
    whole.write_text(samples_header() + rows)
    cut.write_text(samples_header() + rows + "2.500\t12")
    fast, slow = load_samples(whole), load_samples(cut)
    assert fast.time_s == slow.time_s == [i * 0.25 for i in range(10)]
    assert fast.rss_mb == slow.rss_mb == [i * 999_999 / MB for i in range(10)]
    assert fast.cpu_percent == slow.cpu_percent
    assert [math.isnan(v) for v in fast.progress_percent] == [True] * 3 + [False] * 7
    expected = [float(f"{i / 10:.4f}") * 100 for i in range(3, 10)]
    assert fast.progress_percent[3:] == slow.progress_percent[3:] == expected


def test_samples_with_a_foreign_header_is_a_user_error(tmp_path):
    path = tmp_path / "samples.tsv"
    path.write_text("a\tb\n1\t2\n")
    with pytest.raises(UserError, match=r"samples '.*samples\.tsv': header 'a\\tb' lacks time_s"):
        load_samples(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, r"record '.*record\.json' does not exist: run the simulation first or fix the path"),
        ('{"reason": "memo', r"record '.*record\.json' is not valid JSON \(.*line 1\): corrupt"),
        ("[1, 2]", r"record '.*record\.json' has no 'reason': not a simwarden record"),
        ('{"exit_code": 0}', r"record '.*record\.json' has no 'reason'"),
        (
            '{"reason": "memory", "limits": {"mem_bytes": "400MB"}}',
            r"record '.*record\.json': limits\.mem_bytes '400MB' is not a number; corrupt",
        ),
        ('{"reason": "exited", "context": "big"}', r"context must be an object or null"),
    ],
)
def test_missing_or_corrupt_record_is_a_user_error_naming_the_file(tmp_path, content, message):
    samples, record = write_run(tmp_path, {}, GROWING)
    if content is None:
        record.unlink()
    else:
        record.write_text(content)
    out = tmp_path / "out" / "plot.svg"
    with pytest.raises(UserError, match=message):
        plot_run(samples, record, out)
    assert not out.parent.exists()


def test_output_that_is_a_directory_is_a_user_error(tmp_path):
    samples, record = write_run(tmp_path, BIG_ATTEMPT1, GROWING)
    with pytest.raises(UserError, match=r"plot output '.*' is a directory; give a \.svg file path"):
        plot_run(samples, record, tmp_path)


def test_placeholder_plot_says_why_there_is_no_plot(tmp_path):
    out = placeholder_plot(tmp_path / "plots" / "x.svg", "no plot: OSError: <disk> full")
    assert svg_texts(out) == {"no plot", "no plot: OSError: <disk> full"}
    assert only_png(out.parent) == ["x.svg"]


def test_the_plot_imports_no_heavy_library():
    code = (
        "import sys; import simwarden.results.plots.run; "
        "print(sorted(m for m in ('matplotlib', 'numpy', 'pandas', 'PIL') if m in sys.modules))"
    )
    done = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, "[]\n", "")


GROW = """
    import time
    blocks = []
    while True:
        blocks.append(bytearray(10_000_000))
        time.sleep(0.01)
"""


def test_plot_run_of_a_real_memory_kill_by_the_warden(tmp_path):
    grow = tmp_path / "grow.py"
    grow.write_text(textwrap.dedent(GROW))
    record, samples = tmp_path / "record.json", tmp_path / "samples.tsv"
    result = run(
        [PYTHON, str(grow)],
        RunOptions(
            limits=Limits(mem_bytes=100 * MB, mem_warn_bytes=80 * MB, timeout_s=60),
            record=str(record),
            samples=str(samples),
            mechanism="poll",
            grace_s=1.0,
            console=io.StringIO(),
            context={"run": "grow", "commit": "abcdef0123456789", "run_config": "short"},
        ),
    )
    assert (result.exit_code, result.reason) == (137, "memory")
    peak = result.record["peak_rss_bytes"]
    assert 100 * MB < peak < 200 * MB
    out = plot_run(samples, record, tmp_path / "grow.svg")
    expected_end = f"memory: stopped at {round(peak / MB)} MB / limit 100 MB"
    assert {
        "grow · commit abcdef0 · run config short",
        expected_end,
        f"peak {round(peak / MB)} MB",
        "limit 100 MB",
        "warn 80 MB",
    } <= svg_texts(out)
    assert max(load_samples(samples).rss_mb) == peak / MB


# -- every attempt of a run ------------------------------------------------------------------------
def workflow_run(tmp_path: Path) -> tuple[Path, Path]:
    """The demo's ``big`` run in a workflow directory: attempt 1 stopped for memory at 400 MB
    and kept in results/failed/big/attempt-1/, attempt 2 (800 MB) fitted."""
    kept = tmp_path / "results" / "failed" / "big" / "attempt-1"
    (kept / "figures" / "png").mkdir(parents=True)
    (kept / "record.json").write_text(json.dumps(BIG_ATTEMPT1))
    (kept / "samples.tsv").write_text(samples_text(GROWING))
    second = {
        **BIG_ATTEMPT1,
        "reason": "exited",
        "exit_code": 0,
        "command_exit_code": 0,
        "wall_s": 3.0,
        "peak_rss_bytes": 610 * MB,
        "limits": {**BIG_ATTEMPT1["limits"], "mem_bytes": 800 * MB, "mem_warn_bytes": 640 * MB},
        "context": {**BIG_ATTEMPT1["context"], "attempt": 2, "mem_mb": 800},
        "attempts": 2,
    }
    run_dir = tmp_path / "results" / "runs" / "big"
    run_dir.mkdir(parents=True)
    (run_dir / "record.json").write_text(json.dumps(second))
    rows = [(0.1 * i, 30 * MB * i + 10 * MB, 60.0) for i in range(21)]  # up to 610 MB at 2 s
    (run_dir / "samples.tsv").write_text(samples_text(rows))
    return run_dir / "samples.tsv", run_dir / "record.json"


def test_plot_run_lays_every_attempt_end_to_end(tmp_path):
    samples, record = workflow_run(tmp_path)
    out = plot_run(samples, record, tmp_path / "big.svg")
    document, title = run_figure(samples, record, None)
    assert title == "big · commit 71d8775 · run config std · attempt 2"
    assert document == out.read_text(encoding="utf-8")
    shown = svg_texts(out)
    assert {
        title,
        "attempt 1: memory: stopped at 402 MB / limit 400 MB",
        "attempt 2: exited 0",
        "limit 400 MB (attempt 1)",
        "limit 800 MB (attempt 2)",
        "memory stop (attempt 1)",
        "warn 640 MB",
        "peak 610 MB",
        "time since start (s), attempts end to end",
    } <= shown
    assert "limit 800 MB" not in shown and "warn 320 MB" not in shown
    assert by_class(out, "cause") == []  # the run (its last attempt) ended well
    # Attempt 1 from 0 s; attempt 2 starts where attempt 1 ended (its wall time, 8.795 s). The
    # largest level is attempt 2's limit, 800 MB.
    frame = scales(8.795 + 3.0, 800.0)
    starts_ends = [(points(e)[0][0], points(e)[-1][0]) for e in by_class(out, "rss")]
    expected = [(0.0, 2.0), (8.795, 10.795)]
    assert near(starts_ends, [(frame.x(t0), frame.x(t1)) for t0, t1 in expected])
    limits = by_class(out, "limit")
    assert near(
        [float(e.get(k)) for e in limits for k in ("x1", "x2", "y1")],
        [frame.x(0.0), frame.x(8.795), frame.mem(400.0)]
        + [frame.x(8.795), frame.x(11.795), frame.mem(800.0)],
    )
    (stop,) = by_class(out, "memory-stop")
    assert near(path_start(stop), (frame.x(8.795), frame.mem(401.768448)))
    assert stop.get("stroke") == CATEGORY_COLOURS["memory"]


def test_plot_run_leaves_out_the_final_attempt_s_own_kept_copy(tmp_path):
    samples, record = workflow_run(tmp_path)
    final = json.loads(record.read_text())
    final.update(reason="memory", exit_code=137)
    record.write_text(json.dumps(final))
    kept = tmp_path / "results" / "failed" / "big" / "attempt-2"
    kept.mkdir()
    (kept / "record.json").write_text(json.dumps(final))
    shown = svg_texts(run_figure(samples, record, None)[0])
    assert {
        "attempt 1: memory: stopped at 402 MB / limit 400 MB",
        "memory stop (attempt 2)",
    } <= shown
    assert not any(text.startswith("attempt 3") for text in shown)


def test_a_damaged_kept_attempt_is_named_and_left_out(tmp_path, capsys):
    samples, record = workflow_run(tmp_path)
    kept = tmp_path / "results" / "failed" / "big" / "attempt-1" / "record.json"
    kept.write_text('{"reason": ')
    document, _ = run_figure(samples, record, None)
    assert "limit 800 MB" in svg_texts(document)  # one attempt left: drawn as a single run
    assert capsys.readouterr().err == (
        f"simwarden: warning: plot: {kept} is not valid JSON (Expecting value at line 1); "
        "attempt 1 left out of the plot\n"
    )


def test_a_corrupt_record_in_the_workflow_names_the_command_that_redoes_the_run(
    tmp_path, monkeypatch
):
    samples, record = workflow_run(tmp_path)
    record.write_text('{"reason": "exited", "wall')
    (tmp_path / "profiles" / "short").mkdir(parents=True)
    logs = tmp_path / ".snakemake" / "log"
    logs.mkdir(parents=True)
    (logs / "2026-11-21T100000.000001.snakemake.log").write_text(
        "  Command: /v/bin/snakemake --profile profiles/short\n"
    )
    monkeypatch.chdir(tmp_path)
    relative = Path("results/runs/big/record.json")
    with pytest.raises(UserError) as caught:
        plot_run(samples, relative, tmp_path / "big.svg")
    assert str(caught.value) == (
        "record 'results/runs/big/record.json' is not valid JSON (Unterminated string starting "
        "at, line 1): corrupt or cut short; to redo the run: snakemake --profile profiles/short "
        "--forcerun results/runs/big/record.json"
    )
    record.write_text('{"exit_code": 0}')
    with pytest.raises(UserError, match=r"has no 'reason': .*; to redo the run: snakemake "):
        plot_run(samples, record, tmp_path / "big.svg")
