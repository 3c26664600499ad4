"""The stdlib SVG plot's parts: escaping, ticks, tick labels, NaN breaks and downsampling."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from simwarden.results.plots.axes import (
    Scale,
    downsample,
    finite_runs,
    mb_label,
    nice_ticks,
    percent_label,
    time_unit,
)
from simwarden.results.plots.svg import Svg, clip, clip_middle, escape

NAN = math.nan


def test_escape_makes_any_text_valid_xml():
    assert escape('<a href="x">&\'') == "&lt;a href=&quot;x&quot;&gt;&amp;&apos;"
    assert escape("a\nb\tc\rd") == "a b c d"
    assert escape("\x00\x1b[0m\ud800\uffff ok") == "\ufffd\ufffd[0m\ufffd\ufffd ok"
    svg = Svg("t<i>tle")
    svg.text(1, 2, "\x07<&>", class_='c"l')
    root = ET.fromstring(svg.render())
    texts = [e.text for e in root.iter() if e.tag.endswith(("text", "title"))]
    assert texts == ["t<i>tle", "\ufffd<&>"]
    assert [e.get("class") for e in root.iter() if e.tag.endswith("}text")] == ['c"l']


def test_clip_middle_keeps_both_ends_of_a_long_name():
    assert clip_middle("abc", 3) == "abc"
    assert clip_middle("abcd", 3) == "a…d"
    assert clip_middle("sweep__alpha-0.125_beta-2_seed-17", 20) == "sweep__alp…2_seed-17"
    assert len(clip_middle("x" * 100, 28)) == 28


def test_clip_keeps_short_text_and_marks_a_cut():
    assert clip("abc", 3) == "abc"
    assert clip("abcd", 3) == "ab…"


@pytest.mark.parametrize(
    ("lo", "hi", "count", "ticks"),
    [
        (0, 471.5, 5, [0, 100, 200, 300, 400]),
        (0, 110, 3, [0, 50, 100]),
        (0, 8.97, 8, [0, 2, 4, 6, 8]),
        (0, 170, 8, [0, 25, 50, 75, 100, 125, 150]),
        (0, 0.0115, 5, [0, 0.0025, 0.005, 0.0075, 0.01]),
        (0, 0, 5, [0]),
        (0, NAN, 5, [0]),
    ],
)
def test_nice_ticks(lo, hi, count, ticks):
    assert nice_ticks(lo, hi, count) == ticks


def test_tick_labels_carry_units():
    assert [mb_label(v) for v in (0, 2.5, 10, 12.5, 400, 1500)] == [
        "0 MB",
        "2.5 MB",
        "10 MB",
        "12.5 MB",
        "400 MB",
        "1500 MB",
    ]
    assert percent_label(150.0) == "150 %"
    assert [time_unit(s) for s in (9.0, 300.0, 301.0, 18_000.0, 18_001.0)] == [
        ("s", 1.0),
        ("s", 1.0),
        ("min", 60.0),
        ("min", 60.0),
        ("h", 3600.0),
    ]


def test_scale_maps_both_ways_round_and_an_empty_range_to_its_start():
    y = Scale(0.0, 200.0, 365.0, 70.0)
    assert (y(0.0), y(100.0), y(200.0)) == (365.0, 217.5, 70.0)
    a, b = y.linear()
    assert a * 100.0 + b == 217.5
    assert Scale(1.0, 1.0, 80.0, 790.0)(5.0) == 80.0


def test_finite_runs_break_at_nan_and_put_times_in_order():
    times, values = [0.0, 1.0, 2.0, 3.0, 4.0], [1.0, NAN, 3.0, 4.0, math.inf]
    assert finite_runs(times, values) == [([0.0], [1.0]), ([2.0, 3.0], [3.0, 4.0])]
    assert finite_runs([2.0, 1.0], [20.0, 10.0]) == [([1.0, 2.0], [10.0, 20.0])]
    assert finite_runs([0.0, 1.0], []) == []  # a column the file lacks
    assert finite_runs([], []) == []
    assert finite_runs([0.0], [NAN]) == []
    same_times, same_values = [0.0, 1.0], [5.0, 6.0]
    ((t, v),) = finite_runs(same_times, same_values)
    assert t is same_times and v is same_values  # the common case copies nothing


def test_downsample_keeps_each_columns_low_and_high_in_time_order():
    times = [float(i) for i in range(40)]
    values = [float(i % 10) for i in range(40)]
    values[13] = 99.0
    assert downsample(times, values, 5) == (times, values)  # 8 a column: drawn as they are
    xs, ys = downsample(times, values, 4)  # 10 samples a column
    assert list(zip(xs, ys, strict=True)) == [
        (0.0, 0.0),
        (9.0, 9.0),
        (10.0, 0.0),
        (13.0, 99.0),
        (20.0, 0.0),
        (29.0, 9.0),
        (30.0, 0.0),
        (39.0, 9.0),
    ]
    flat = [5.0] * 40
    assert downsample(times, flat, 4) == ([0.0, 10.0, 20.0, 30.0], [5.0] * 4)
