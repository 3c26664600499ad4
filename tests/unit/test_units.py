"""Sizes, durations and percentages: every accepted form, and one clear error for the rest."""

import pytest

from simwarden.core.errors import UserError
from simwarden.core.units import format_bytes, parse_duration, parse_percent, parse_size

GIB = 1024**3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500MB", 500_000_000),
        ("500mb", 500_000_000),
        ("500 MB", 500_000_000),
        ("1.5GiB", int(1.5 * GIB)),
        ("2G", 2_000_000_000),
        ("64KiB", 65536),
        ("4*1024**3", 4 * GIB),
        ("1024**2", 1024**2),
        ("3 * 7", 21),
        ("1000", 1_000_000_000),  # bare number = MB, as Snakemake's mem_mb
        ("0.5", 500_000),
        (200, 200_000_000),
        ("1TB", 10**12),
        ("10B", 10),
    ],
)
def test_sizes(text, expected):
    assert parse_size(text) == expected


def test_percent_size_uses_total_memory():
    assert parse_size("80%", total=lambda: 1000) == 800
    assert parse_size("100%", total=lambda: 4096) == 4096


@pytest.mark.parametrize(
    "text",
    [
        "-5MB",
        "5XB",
        "150%",
        "0%",
        "1e999",
        "__import__('os')",
        "",
        "  ",
        "MB",
        "5MBB",
        "2**3**4",
        "4*1024**99",
        "1e3",
        "nan",
        "inf",
        "5 M B",
        "4*-1",
        "0",
        "0MB",
        "10**100",
    ],
)
def test_bad_sizes_name_the_value_and_the_accepted_forms(text):
    with pytest.raises(UserError) as caught:
        parse_size(text, "--mem")
    message = str(caught.value)
    assert "\n" not in message
    assert "--mem" in message
    assert repr(text) in message


def test_size_error_lists_accepted_forms():
    with pytest.raises(UserError, match=r"expected a number with a unit \(500MB, 1.5GiB\)"):
        parse_size("5XB", "--mem")


def test_zero_allowed_only_when_asked():
    assert parse_size("0", allow_zero=True) == 0


def test_percent_refused_where_meaningless():
    with pytest.raises(UserError, match="--min-free-disk"):
        parse_size("10%", "--min-free-disk", allow_percent=False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", 90.0),
        ("10m", 600.0),
        ("10min", 600.0),
        ("2h", 7200.0),
        ("1h30m", 5400.0),
        ("1:30:00", 5400.0),
        ("1:30", 90.0),
        ("2-00:00:00", 172800.0),
        ("500ms", 0.5),
        ("1d", 86400.0),
        ("45", 45.0),
        ("0.25", 0.25),
        (30, 30.0),
    ],
)
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "-5s",
        "5x",
        "",
        "1e999",
        "s",
        "1:99:00",
        "1:00:60",
        "__import__('os')",
        "0",
        "0s",
        "1h 30",
        "10 parsecs",
        "inf",
    ],
)
def test_bad_durations(text):
    with pytest.raises(UserError) as caught:
        parse_duration(text, "--timeout")
    assert "--timeout" in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"), [("90", 90.0), ("90%", 90.0), ("0.5", 0.5), ("100", 100.0)]
)
def test_percentages(text, expected):
    assert parse_percent(text) == expected


@pytest.mark.parametrize("text", ["150%", "0", "-1", "", "abc", "1e999", "101"])
def test_bad_percentages(text):
    with pytest.raises(UserError, match="percentage greater than 0 and at most 100"):
        parse_percent(text, "--host-mem-max")


def test_format_bytes():
    assert format_bytes(200_093_696) == "200.1 MB"
    assert format_bytes(1_500_000_000) == "1.50 GB"
    assert format_bytes(512) == "512 B"
