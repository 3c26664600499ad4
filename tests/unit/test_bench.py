"""simwarden.results.table on small real files: records, Snakemake benchmark TSVs, HDF5 timers."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import h5py
import pandas as pd
import pytest

from simwarden.cli import main as simwarden_main
from simwarden.cli.bench import main as bench_main
from simwarden.core.errors import UserError
from simwarden.results import commits as bench_commits
from simwarden.results import compare as bench_compare
from simwarden.results import suggest as bench_suggest
from simwarden.results import table as bench
from simwarden.timers import Timers

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time"
REPO = "/src/demo-sim.bundle"
OLD_COMMIT = "71d87757eadd7abef2e0c38caada0572f4f7ad3a"
NEW_COMMIT = "9777f8893e520d1555b5eb4e04400beb9c67ce16"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record(  # noqa: PLR0917 - a test fixture: every field has a default, calls name them
    reason: str = "exited",
    exit_code: int = 0,
    wall_s: float = 2.5,
    cpu: tuple[float, float] = (1.25, 0.25),
    peak_bytes: int = 94_000_000,
    mem_bytes: int | None = 400_000_000,
    context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A warden record with the fields the table uses (as the warden writes them)."""
    data: dict[str, Any] = {
        "reason": reason,
        "exit_code": exit_code,
        "wall_s": wall_s,
        "cpu_user_s": cpu[0],
        "cpu_system_s": cpu[1],
        "peak_rss_bytes": peak_bytes,
        "limits": {"mem_bytes": mem_bytes, "timeout_s": 60},
        "message": "command exited",
    }
    if context is not None:
        data["context"] = context
    return data


def context(
    run: str, attempt: int = 1, mem_mb: int = 400, named: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A run context; ``named``: its (simulation, param_set, ref), absent when not given."""
    return {
        **dict(zip(("simulation", "param_set", "ref"), named, strict=False)),
        "run": run,
        "repository": REPO,
        "commit": NEW_COMMIT,
        "params_hash": "abc123",
        "run_config": "short",
        "attempt": attempt,
        "mem_mb": mem_mb,
        "runtime_min": 1,
    }


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_json(path: Path, data: Any) -> Path:
    return write(path, json.dumps(data))


def timers_file(path: Path, **seconds: float) -> None:
    """An HDF5 output file with a ``benchmark`` group written by real Timers."""
    clock = Clock()
    timers = Timers(clock=clock)
    for name, spent in seconds.items():
        with timers.time(name):
            clock.now += spent
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f.create_dataset("spikes", data=[1.0, 2.0])
    timers.write(path)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A workflow directory after a run of four parameter sets:

    - ``a``: complete, record with context, one benchmark row, timers in data/output.h5
    - ``b``: complete, an older record without context, two benchmark rows (repeat)
    - ``c``: stopped twice for memory; only the kept attempts exist (Snakemake was stopped
      before the last attempt could write the run's outputs)
    - ``d``: validated, its record is corrupt and its benchmark file missing
    """
    results = tmp_path / "results"
    write_json(
        results / "code" / "provenance.json",
        {"url": REPO, "commit": OLD_COMMIT, "path": "/cache/x", "ref": None, "dirty": False},
    )
    for run, rate, mode in (("a", 10.0, "fast"), ("b", 20.0, 3), ("c", 30.0, "fast")):
        params = {"input": {"rate_hz": rate}, "mode": mode, "seed": 1, "tags": [1, 2]}
        write_json(results / "params" / f"{run}.json", params)
    write_json(results / "params" / "d.json", {"input": {"rate_hz": 40.0}, "seed": 2})

    named = ("lif", "small", "v0.3")
    write_json(results / "runs" / "a" / "record.json", record(context=context("a", named=named)))
    timers_file(results / "runs" / "a" / "data" / "output.h5", connect=0.5, simulate=2.0)
    write(results / "runs" / "a" / "data" / ".output.h5.partial", "not hdf5")
    write(
        tmp_path / "benchmarks" / "run_simulation" / "a.tsv",
        f"{HEADER}\n3.06\t0:00:03\t135.38\t407.10\t64.39\t86.53\t0.01\t0.17\t36.72\t1.28\n",
    )

    b = record(wall_s=10.0, cpu=(7.0, 1.0), peak_bytes=200_000_000, mem_bytes=None)
    write_json(results / "runs" / "b" / "record.json", b)
    write(
        tmp_path / "benchmarks" / "run_simulation" / "b.tsv",
        f"{HEADER}\n10.0\t0:00:10\t250\t500\t200\t210\tNA\t1.0\t50\t8.0\n"
        f"12.0\t0:00:12\t270\t520\t220\t230\tNA\t3.0\t70\t9.0\n",
    )

    for attempt, mem_mb in ((1, 400), (2, 800)):
        failed = record(
            reason="memory",
            exit_code=137,
            wall_s=4.0 * attempt,
            peak_bytes=mem_mb * 10**6,
            mem_bytes=mem_mb * 10**6,
            context=context("c", attempt, mem_mb),
        )
        failed["message"] = f"stopped (memory): memory {mem_mb + 1}.0 MB over limit {mem_mb}.0 MB"
        write_json(results / "failed" / "c" / f"attempt-{attempt}" / "record.json", failed)
    write_json(results / "failed" / "cc" / "attempt-9" / "record.json", record())  # another run
    write(results / "runs" / "d" / "record.json", '{"reason": ')
    return tmp_path


def collect(project: Path, runs: list[str], warnings: list[str]) -> pd.DataFrame:
    return bench.collect(
        runs,
        project / "results",
        project / "benchmarks",
        warn=warnings.append,
    )


def values(table: pd.DataFrame, run: str) -> dict[str, Any]:
    """One row as plain values, missing ones as None."""
    row = table.set_index("run").loc[run]
    return {key: (None if pd.isna(value) else value) for key, value in row.items()}


def test_collect_makes_one_row_per_run_from_every_source(project: Path) -> None:
    warnings: list[str] = []
    table = collect(project, ["a", "b", "c", "d", "e"], warnings)
    results = project / "results"
    assert warnings == [
        f"bench collect: run d: {results}/runs/d/record.json is not valid JSON (Expecting value "
        f"at line 1); {project}/benchmarks/run_simulation/d.tsv is missing; row made from the rest",
        f"bench collect: run e: {results}/params/e.json is missing; {results}/runs/e/record.json "
        "is missing (and no failed attempt was kept); no row",
    ]
    assert list(table["run"]) == ["a", "b", "c", "d"]
    assert list(table.columns) == [
        *bench.RECORD_COLUMNS,
        "param.input.rate_hz",
        "param.mode",
        "param.seed",
        "param.tags",
        *bench.SNAKEMAKE_COLUMNS,
        "timer.connect",
        "timer.simulate",
    ]
    a = values(table, "a")
    assert a == {
        "simulation": "lif",
        "param_set": "small",
        "ref": "v0.3",
        "commit": NEW_COMMIT,
        "repository": REPO,
        "run_config": "short",
        "attempt": 1,
        "attempts": 1,
        "retried": None,
        "reason": "exited",
        "exit_code": 0,
        "error": None,
        "wall_s": 2.5,
        "cpu_s": 1.5,
        "peak_rss_mb": 94.0,
        "mem_limit_mb": 400.0,
        "param.input.rate_hz": 10.0,
        "param.mode": "fast",
        "param.seed": 1,
        "param.tags": "[1, 2]",
        "s": 3.06,
        "h:m:s": "0:00:03",
        "max_rss": 135.38,
        "max_vms": 407.10,
        "max_uss": 64.39,
        "max_pss": 86.53,
        "io_in": 0.01,
        "io_out": 0.17,
        "mean_load": 36.72,
        "cpu_time": 1.28,
        "timer.connect": 0.5,
        "timer.simulate": 2.0,
    }
    b = values(table, "b")
    # No context in the record: commit and repository from the provenance file.
    assert (b["simulation"], b["param_set"], b["ref"]) == (None, None, None)
    assert (b["commit"], b["repository"], b["run_config"], b["attempt"]) == (
        OLD_COMMIT,
        REPO,
        None,
        None,
    )
    assert (b["cpu_s"], b["peak_rss_mb"], b["mem_limit_mb"], b["param.mode"]) == (
        8.0,
        200.0,
        None,
        3,
    )
    # Two benchmark rows (repeat) are averaged; h:m:s is recomputed, NA stays empty.
    assert (b["s"], b["h:m:s"], b["max_rss"], b["io_in"], b["io_out"]) == (
        11.0,
        "0:00:11",
        260.0,
        None,
        2.0,
    )
    assert (b["timer.connect"], b["timer.simulate"]) == (None, None)
    c = values(table, "c")
    assert (c["reason"], c["exit_code"], c["attempt"], c["wall_s"], c["peak_rss_mb"]) == (
        "memory",
        137,
        2,
        8.0,
        800.0,
    )
    assert (c["mem_limit_mb"], c["commit"], c["s"]) == (800.0, NEW_COMMIT, None)
    assert (c["attempts"], c["error"]) == (
        2,
        "stopped (memory): memory 801.0 MB over limit 800.0 MB",
    )
    # Why the earlier attempt stopped: the retry is visible in the table, not only in a plot.
    assert c["retried"] == "attempt 1 stopped (memory)"
    d = values(table, "d")
    assert (d["param.input.rate_hz"], d["param.seed"], d["reason"], d["wall_s"]) == (
        40.0,
        2,
        None,
        None,
    )
    assert (b["attempts"], b["error"], d["attempts"], d["error"]) == (None, None, None, None)
    for column in ("attempt", "attempts", "exit_code"):
        assert str(table[column].dtype) == "Int64", column


def test_collect_names_bad_benchmark_params_and_h5_files_once_per_run(project: Path) -> None:
    write(project / "benchmarks" / "run_simulation" / "a.tsv", "time\tvalue\n1\t2\n")
    write(project / "benchmarks" / "run_simulation" / "b.tsv", f"{HEADER}\nfast\t0\t1\n")
    write(project / "results" / "params" / "a.json", "[1, 2]")
    write(project / "results" / "runs" / "a" / "data" / "sub" / "broken.h5", "no")
    (project / "results" / "code" / "provenance.json").unlink()
    warnings: list[str] = []
    table = collect(project, ["a", "b"], warnings)
    results, benchmarks = project / "results", project / "benchmarks" / "run_simulation"
    assert warnings == [
        f"bench collect: run a: {results}/params/a.json is not a JSON object; {benchmarks}/a.tsv "
        f"has no Snakemake benchmark header (s, h:m:s, max_rss, ...); "
        f"{results}/runs/a/data/sub/broken.h5 is not a readable HDF5 file; row made from the rest",
        f"bench collect: {results}/code/provenance.json is missing; commit and repository left "
        "empty",
        f"bench collect: run b: {benchmarks}/b.tsv column 's': 'fast' is not a number; "
        "row made from the rest",
    ]
    a, b = values(table, "a"), values(table, "b")
    assert (a["wall_s"], a["s"], a["timer.simulate"], a["param.seed"]) == (2.5, None, 2.0, None)
    # A refused parameter set's file holds its problem lines: no parameters, and no warning
    # (the run's record says why it was refused).
    write(project / "results" / "params" / "a.json", '["config/params/a.yaml: seed: too small"]')
    warnings.clear()
    collect(project, ["a"], warnings)
    assert warnings == [
        f"bench collect: run a: {benchmarks}/a.tsv has no Snakemake benchmark header (s, h:m:s, "
        f"max_rss, ...); {results}/runs/a/data/sub/broken.h5 is not a readable HDF5 file; row "
        "made from the rest",
    ]
    assert (b["wall_s"], b["commit"], b["s"], b["param.seed"]) == (10.0, None, None, 1)


def test_collect_of_nothing_is_an_empty_table_with_the_fixed_columns(tmp_path: Path) -> None:
    table = bench.collect([], tmp_path / "results", warn=pytest.fail)
    assert list(table.columns) == [*bench.RECORD_COLUMNS, *bench.SNAKEMAKE_COLUMNS]
    assert len(table) == 0


def test_an_integer_parameter_stays_an_integer_when_another_run_lacks_it(tmp_path: Path) -> None:
    """A column with a missing cell is float in pandas: seed 1 would read 1.0 in the CSV."""
    results = tmp_path / "results"
    write_json(results / "params" / "a.json", {"seed": 1, "gain": 2.0, "flag": True})
    write_json(results / "params" / "b.json", {"gain": 3})
    for run in ("a", "b"):
        write_json(results / "runs" / run / "record.json", record(context=context(run)))
    table = bench.collect(["a", "b"], results, tmp_path / "benchmarks")
    bench.write_table(table, tmp_path / "t.csv", tmp_path / "t.h5")
    rows = list(csv.DictReader((tmp_path / "t.csv").open()))
    assert [(r["param.seed"], r["param.gain"], r["param.flag"]) for r in rows] == [
        ("1", "2.0", "True"),
        ("", "3.0", ""),
    ]


def test_collect_rounds_measured_floats_and_leaves_parameters(tmp_path: Path) -> None:
    """Sums and divisions leave float noise (0.1 + 0.2 = 0.30000000000000004): the CSV shows
    wall_s, cpu_s, peak_rss_mb, mem_limit_mb to 3 decimals, timers and Snakemake's averaged
    columns to 6, parameters as they were."""
    results = tmp_path / "results"
    write_json(results / "params" / "r.json", {"x": 0.1 + 0.2})
    rec = record(wall_s=1.23456789, cpu=(0.1, 0.2), peak_bytes=94_195_712, mem_bytes=123_456_789)
    write_json(results / "runs" / "r" / "record.json", rec | {"context": context("r")})
    write(
        tmp_path / "benchmarks" / "run_simulation" / "r.tsv",
        f"{HEADER}\n0.1\t0:00:00\t1\t1\t1\t1\t0.1\t1\t1\t1\n"
        f"0.2\t0:00:00\t2\t2\t2\t2\t0.2\t2\t2\t2\n",
    )
    clock = Clock()
    clock.now = 0.1
    timers = Timers(clock=clock)
    with timers.time("third"):  # 0.33333333333333337
        clock.now += 1 / 3
    with timers.time("fifth"):  # 0.19999999999999996
        clock.now += 0.2
    data = results / "runs" / "r" / "data" / "out.h5"
    data.parent.mkdir(parents=True)
    timers.write(data)
    table = bench.collect(["r"], results, tmp_path / "benchmarks")
    bench.write_table(table, tmp_path / "t.csv", tmp_path / "t.h5")
    header, row = (tmp_path / "t.csv").read_text().splitlines()
    assert header.split(",") == [
        *bench.RECORD_COLUMNS,
        "param.x",
        *bench.SNAKEMAKE_COLUMNS,
        "timer.third",
        "timer.fifth",
    ]
    assert row == (
        f"r,,,,{NEW_COMMIT},{REPO},short,1,1,,exited,0,,1.235,0.3,94.196,123.457,0.30000000000000004,"
        "0.15,0:00:00,1.5,1.5,1.5,1.5,0.15,1.5,1.5,1.5,0.333333,0.2"
    )


def test_write_table_csv_and_h5_round_trip_with_mixed_types(project: Path) -> None:
    table = collect(project, ["a", "b", "c", "d"], [])
    out = project / "out"
    bench.write_table(table, out / "benchmarks.csv", out / "benchmarks.h5")
    assert sorted(p.name for p in out.iterdir()) == ["benchmarks.csv", "benchmarks.h5"]

    from_csv = bench.read_table(out / "benchmarks.csv")
    from_h5 = bench.read_table(out / "benchmarks.h5")
    for loaded in (from_csv, from_h5):
        assert list(loaded.columns) == list(table.columns)
        assert list(loaded["run"]) == ["a", "b", "c", "d"]
        assert list(loaded["wall_s"].iloc[:3]) == [2.5, 10.0, 8.0]
        assert math.isnan(loaded["wall_s"].iloc[3])
        assert list(loaded["timer.simulate"].iloc[:1]) == [2.0]
    # In HDF5, a column of mixed values is text, a gappy integer column float, text gaps "".
    assert list(from_h5["param.mode"]) == ["fast", "3", "fast", ""]
    assert list(from_h5["commit"]) == [NEW_COMMIT, OLD_COMMIT, NEW_COMMIT, ""]
    assert str(from_h5["exit_code"].dtype) == "float64"
    assert list(from_h5["exit_code"].iloc[:3]) == [0.0, 0.0, 137.0]
    assert list(from_csv["exit_code"].iloc[:3]) == [0, 0, 137]
    with pd.HDFStore(out / "benchmarks.h5", mode="r") as store:
        assert store.keys() == ["/benchmarks"]

    # Writing again replaces both files and leaves no temp file behind.
    bench.write_table(table.iloc[:1], out / "benchmarks.csv", out / "benchmarks.h5")
    assert sorted(p.name for p in out.iterdir()) == ["benchmarks.csv", "benchmarks.h5"]
    assert list(bench.read_table(out / "benchmarks.h5")["run"]) == ["a"]


def test_write_html_escapes_values(tmp_path: Path) -> None:
    table = pd.DataFrame({"run": ["<b>x</b>"], "wall_s": [1.23456]})
    bench.write_html(table, tmp_path / "t.html")
    page = (tmp_path / "t.html").read_text()
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<td>1.235</td>" in page
    assert page.startswith("<!DOCTYPE html>") and "<p>1 runs</p>" in page


def test_write_html_tints_failed_rows_says_how_many_and_shortens_commits(tmp_path: Path) -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    table = pd.DataFrame(
        {
            "run": ["ok", "crash", "fine"],
            "commit": [sha, sha, None],
            "error": ["", "ValueError: boom (sim.py:3)", None],
        }
    )
    bench.write_html(table, tmp_path / "t.html")
    page = (tmp_path / "t.html").read_text()
    assert (
        "<p>3 runs: 2 ok, 1 failed (tinted; why each failed, its traceback and kept figures: "
        "<a href='failures.html'>failures.html</a>)</p>"
    ) in page
    rows = page[page.index("<tbody>") :].split("<tr")[1:]
    assert [row.startswith(' class="failed">') for row in rows] == [False, True, False]
    assert "<td>0123456789ab</td>" in rows[0] and sha not in page


def table_file(path: Path, rows: list[dict[str, Any]]) -> Path:
    frame = pd.DataFrame(rows)
    bench.write_table(frame, path.with_suffix(".csv"), path.with_suffix(".h5"))
    return path


def two_tables(tmp_path: Path) -> tuple[Path, Path]:
    """OLD: commit OLD_COMMIT, run config std; NEW: commit NEW_COMMIT, run config short."""
    old = {"commit": OLD_COMMIT, "run_config": "std", "reason": "exited", "exit_code": 0}
    new = {"commit": NEW_COMMIT, "run_config": "short", "reason": "exited", "exit_code": 0}
    a = table_file(
        tmp_path / "a.csv",
        [
            {"run": "small", "wall_s": 10.0, "peak_rss_mb": 100.0, "cpu_s": 8.0} | old,
            {"run": "big", "wall_s": 50.0, "peak_rss_mb": 400.0, "cpu_s": 40.0} | old,
            {"run": "tiny", "wall_s": 0.2, "peak_rss_mb": 20.0, "cpu_s": 0.1} | old,
            {"run": "gone", "wall_s": 1.0, "peak_rss_mb": 1.0, "cpu_s": 1.0} | old,
        ],
    )
    b = table_file(
        tmp_path / "b.csv",
        [
            {"run": "big", "wall_s": 51.0, "peak_rss_mb": 500.0, "cpu_s": 40.0} | new,
            {"run": "small", "wall_s": 11.0, "peak_rss_mb": 90.0, "cpu_s": None} | new,
            {"run": "tiny", "wall_s": 0.5, "peak_rss_mb": 24.0, "cpu_s": 0.1} | new,
            {"run": "new", "wall_s": 2.0, "peak_rss_mb": 2.0, "cpu_s": 2.0} | new,
        ],
    )
    return a, b


def test_compare_flags_the_known_regression(tmp_path: Path) -> None:
    a, b = two_tables(tmp_path)
    result = bench_compare.compare(a, b)
    assert (result.only_in_old, result.only_in_new) == (["gone"], ["new"])
    assert [(c.run, c.metric, c.before, c.after, c.minimum) for c in result.changes] == [
        ("small", "wall_s", 10.0, 11.0, 0.5),
        ("small", "peak_rss_mb", 100.0, 90.0, 5.0),
        ("small", "cpu_s", 8.0, None, 0.5),
        ("big", "wall_s", 50.0, 51.0, 0.5),
        ("big", "peak_rss_mb", 400.0, 500.0, 5.0),
        ("big", "cpu_s", 40.0, 40.0, 0.5),
        ("tiny", "wall_s", 0.2, 0.5, 0.5),
        ("tiny", "peak_rss_mb", 20.0, 24.0, 5.0),
        ("tiny", "cpu_s", 0.1, 0.1, 0.5),
    ]
    ratios = [c.ratio for c in result.changes]
    expected = [0.1, -0.1, None, 0.02, 0.25, 0.0, 1.5, 0.2, 0.0]
    assert ratios == pytest.approx(expected)  # type: ignore[arg-type]
    # +10.0% is not above the 10% threshold (up to rounding); big's wall time rose by 1 s but
    # only 2%; tiny's +150% is 0.3 s and its +20% is 4 MB: within the minimum rise.
    assert [(c.run, c.metric) for c in result.regressions] == [("big", "peak_rss_mb")]
    assert [(c.run, c.metric) for c in result.changes if c.too_small] == [
        ("tiny", "wall_s"),
        ("tiny", "peak_rss_mb"),
    ]
    assert result.format() == "\n".join(
        [
            f"OLD = {a} (4 runs; run config std; commit 71d8775)",
            f"NEW = {b} (4 runs; run config short; commit 9777f88)",
            "comparing commit 71d8775 -> 9777f88 and run config std -> short",
            "regression: NEW/OLD - 1 > +10% and a rise above 0.5 s (times) or 5 MB (memory)",
            "run    wall_s               peak_rss_mb           cpu_s",
            "small  10 -> 11  +10.0%     100 -> 90  -10.0%     8 -> n/a  n/a",
            "big    50 -> 51  +2.0%      400 -> 500  +25.0% !  40 -> 40  +0.0%",
            "tiny   0.2 -> 0.5  +150.0%  20 -> 24  +20.0%      0.1 -> 0.1  +0.0%",
            "only in OLD: gone",
            "only in NEW: new",
            "not flagged, rise within the minimum: tiny wall_s +150.0% (+0.3 s), "
            "tiny peak_rss_mb +20.0% (+4 MB)",
            "1 regression: big peak_rss_mb +25.0%",
        ]
    )
    # Without minimum rises, tiny's changes are regressions too.
    result = bench_compare.compare(a, b, min_change_s=0, min_change_mb=0)
    assert [(c.run, c.metric) for c in result.regressions] == [
        ("big", "peak_rss_mb"),
        ("tiny", "wall_s"),
        ("tiny", "peak_rss_mb"),
    ]
    # A rise exactly at the minimum is not above it: 20 -> 24 MB with a 4 MB minimum.
    result = bench_compare.compare(a, b, min_change_s=0.3, min_change_mb=4)
    assert [(c.run, c.metric) for c in result.regressions] == [("big", "peak_rss_mb")]


def test_compare_header_says_what_differs(tmp_path: Path) -> None:
    def frame(commits: list[str | None], configs: list[str | None]) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "run": [f"r{i}" for i in range(len(commits))],
                "commit": commits,
                "run_config": configs,
                "wall_s": [1.0] * len(commits),
            }
        )

    def header(old: pd.DataFrame, new: pd.DataFrame) -> list[str]:
        return bench_compare.compare(old, new, metrics=["wall_s"]).format().splitlines()[:3]

    std = frame([OLD_COMMIT, OLD_COMMIT], ["std", "std"])
    assert header(std, std) == [
        "OLD = table (2 runs; run config std; commit 71d8775)",
        "NEW = table (2 runs; run config std; commit 71d8775)",
        "same commit and run config: differences are noise of the machine",
    ]
    short = frame([OLD_COMMIT, None], ["short", "short"])
    assert header(std, short)[2] == "comparing run config std -> short; same commit 71d8775"
    mixed = frame([NEW_COMMIT, OLD_COMMIT], ["std", None])
    assert header(std, mixed)[1:] == [
        "NEW = table (2 runs; run config std; commits 9777f88, 71d8775)",
        "comparing commit 71d8775 -> 9777f88, 71d8775; same run config std",
    ]
    bare = frame([None], [None])
    assert header(bare, std)[0] == "OLD = table (1 run; run config unknown; commit unknown)"
    assert header(bare, std)[2] == "commit and run config not recorded in both tables"
    assert header(frame([OLD_COMMIT], [None]), frame([NEW_COMMIT], [None]))[2] == (
        "comparing commit 71d8775 -> 9777f88; run config not recorded in both tables"
    )


def test_compare_reads_h5_and_checks_its_inputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = two_tables(tmp_path)
    result = bench_compare.compare(a.with_suffix(".h5"), b, threshold=0.3, metrics=["peak_rss_mb"])
    assert result.regressions == [] and result.format().endswith("\nno regressions")
    assert result.format().splitlines()[0] == (
        f"OLD = {a.with_suffix('.h5')} (4 runs; run config std; commit 71d8775)"
    )
    # Only numeric measurement columns are offered: not commit, run_config, reason, exit_code.
    numeric = "numeric columns it has: wall_s, peak_rss_mb, cpu_s (give those to --metrics)"
    with pytest.raises(UserError) as error:
        bench_compare.compare(a, b, metrics=["io_in", "wall_s", "commit"])
    assert str(error.value) == (
        f"{a}: cannot compare 'io_in' (no such column), 'commit' (not numbers); {numeric}"
    )
    with pytest.raises(UserError) as error:
        bench_compare.compare(a.with_suffix(".h5"), b, metrics=["run_config"])
    assert str(error.value) == (
        f"{a.with_suffix('.h5')}: cannot compare 'run_config' (not numbers); {numeric}"
    )
    with pytest.raises(UserError) as error:
        bench_compare.compare(tmp_path / "missing.csv", b)
    assert str(error.value) == f"{tmp_path / 'missing.csv'}: file not found; check the path"
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError) as error:
        bench_compare.compare(a, "results/benchmarks.csv")
    assert str(error.value) == (
        "results/benchmarks.csv: file not found; run `simwarden bench collect` first"
    )
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(UserError, match=r"dir\.csv: is a directory; give a \.csv or \.h5"):
        bench_compare.compare(tmp_path / "dir.csv", b)
    with pytest.raises(UserError, match=r"a\.txt: not a benchmark table; give a \.csv or \.h5"):
        bench_compare.compare(tmp_path / "a.txt", b)
    write(tmp_path / "nokey.h5", "")
    with h5py.File(tmp_path / "nokey.h5", "w") as f:
        f.create_dataset("x", data=[1])
    with pytest.raises(UserError, match=r"nokey\.h5: has no 'benchmarks' table"):
        bench_compare.compare(tmp_path / "nokey.h5", b)
    twice = table_file(tmp_path / "twice.csv", [{"run": "x", "wall_s": 1}] * 2)
    with pytest.raises(UserError, match=r"twice\.csv: run id 'x' appears more than once"):
        bench_compare.compare(twice, twice, metrics=["wall_s"])
    write(tmp_path / "norun.csv", "wall_s\n1\n")
    with pytest.raises(UserError, match=r"norun\.csv: has no 'run' column"):
        bench_compare.compare(tmp_path / "norun.csv", b)
    with pytest.raises(UserError, match=r"^--min-change-mb -5\.0: use MB >= 0, e\.g\. 5$"):
        bench_compare.compare(a, b, min_change_mb=-5.0)


def test_cli_compare_exit_codes_and_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = two_tables(tmp_path)
    assert bench_main(["compare", str(a), str(b)]) == 1
    assert capsys.readouterr().out.endswith("1 regression: big peak_rss_mb +25.0%\n")
    assert bench_main(["compare", str(a), str(b), "--threshold", "0.25"]) == 0
    assert capsys.readouterr().out.endswith("\nno regressions\n")
    argv = ["compare", str(a), str(b), "--min-change-s", "0.2", "--min-change-mb", "3.5"]
    assert bench_main(argv) == 1
    out = capsys.readouterr().out
    assert (
        "regression: NEW/OLD - 1 > +10% and a rise above 0.2 s (times) or 3.5 MB (memory)\n" in out
    )
    assert out.endswith(
        "3 regressions: big peak_rss_mb +25.0%, tiny wall_s +150.0%, tiny peak_rss_mb +20.0%\n"
    )

    assert simwarden_main(["bench", "compare", str(tmp_path / "nope.csv"), str(b)]) == 125
    err = capsys.readouterr().err
    assert err == f"simwarden: {tmp_path / 'nope.csv'}: file not found; check the path\n"
    assert simwarden_main(["bench", "compare", str(a), str(b), "--threshold", "-1"]) == 125
    assert capsys.readouterr().err == (
        "simwarden: --threshold '-1': use a fraction >= 0, e.g. 0.1 for 10%\n"
    )
    assert simwarden_main(["bench", "compare", str(a), str(b), "--min-change-s", "x"]) == 125
    assert capsys.readouterr().err == "simwarden: --min-change-s 'x': use seconds >= 0, e.g. 0.5\n"
    assert simwarden_main(["bench", "compare", str(a), str(b), "--metrics", "reason"]) == 125
    assert capsys.readouterr().err == (
        f"simwarden: {a}: cannot compare 'reason' (not numbers); numeric columns it has: "
        "wall_s, peak_rss_mb, cpu_s (give those to --metrics)\n"
    )
    assert simwarden_main(["bench", "compare", str(a)]) == 125
    assert capsys.readouterr().err == (
        "simwarden: the following arguments are required: NEW "
        "(see: simwarden bench compare --help)\n"
    )


def test_cli_compare_help_names_old_and_new(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        bench_main(["compare", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: simwarden bench compare [-h] ")
    assert out.split("\n\n")[0].endswith(" OLD NEW")
    assert "\n  OLD " in out and "\n  NEW " in out
    assert "--min-change-s SECONDS" in out and "--min-change-mb MB" in out


def test_cli_collect_defaults_to_every_parameter_set(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    assert bench_main(["collect"]) == 0
    captured = capsys.readouterr()
    columns = len(bench.RECORD_COLUMNS) + 4 + len(bench.SNAKEMAKE_COLUMNS) + 2
    assert captured.out == (
        f"wrote results/benchmarks.csv and results/benchmarks.h5: 4 runs, {columns} columns\n"
    )
    assert captured.err.count("simwarden: warning: bench collect: run d: ") == 1
    assert list(bench.read_table("results/benchmarks.h5")["run"]) == ["a", "b", "c", "d"]

    assert bench_main(["collect", "--runs", "a"]) == 0
    assert list(bench.read_table("results/benchmarks.csv")["run"]) == ["a"]
    with pytest.raises(UserError, match=r"^elsewhere/params: no parameter sets \(\*\.json\)"):
        bench_main(["collect", "--results", "elsewhere"])
    # A mistyped run id writes nothing: the last good table stays.
    before = Path("results/benchmarks.csv").read_bytes()
    with pytest.raises(UserError, match=r"^no run of typo has a record, .*: nothing written"):
        bench_main(["collect", "--runs", "typo"])
    assert Path("results/benchmarks.csv").read_bytes() == before


def test_failed_runs_have_their_cause_and_attempts_in_the_table(tmp_path: Path) -> None:
    """The rows of a sweep with failures, as the pipeline leaves them: a crash (its failure
    record is the run's record, its attempt kept), a run retried for memory that then fitted,
    a command that wrote to stderr and exited 3, and two damaged failure records."""
    results = tmp_path / "results"
    error = {
        "type": "ModuleNotFoundError",
        "message": "No module named 'brian'",
        "where": "src/tuned.py:2",
        "traceback": "Traceback (most recent call last):\n...",
    }
    crash = record(reason="exited", exit_code=1, context=context("crash")) | {
        "error": error,
        "attempts": 1,
    }
    write_json(results / "runs" / "crash" / "record.json", crash)
    write_json(results / "failed" / "crash" / "attempt-1" / "record.json", crash)
    stop = record(reason="memory", exit_code=137, context=context("fits", 1)) | {
        "message": "stopped (memory): memory 401.0 MB over limit 400.0 MB"
    }
    write_json(results / "failed" / "fits" / "attempt-1" / "record.json", stop)
    write_json(results / "runs" / "fits" / "record.json", record(context=context("fits", 2, 800)))
    stderr = record(reason="exited", exit_code=3, context=context("cmd")) | {
        "stderr_tail": ["reading input.csv", "error: input.csv has no column 'rate'", ""],
        "attempts": 1,
    }
    write_json(results / "runs" / "cmd" / "record.json", stderr)
    # A failure record cut short: named, the row made from the rest.
    write(results / "runs" / "cut" / "record.json", '{"reason": "exited", "exit_co')
    # No run record, and the last kept attempt's record is damaged: its number still counts.
    write(results / "failed" / "lost" / "attempt-2" / "record.json", "")
    write_json(results / "failed" / "lost" / "attempt-1" / "record.json", stop)
    for seed, run in enumerate(("crash", "fits", "cmd", "cut", "lost")):
        write_json(results / "params" / f"{run}.json", {"seed": seed})
        write(
            tmp_path / "benchmarks" / "run_simulation" / f"{run}.tsv",
            f"{HEADER}\n3.0\t0:00:03\t135\t407\t64\t86\t0.01\t0.17\t36\t1.2\n",
        )
    warnings: list[str] = []
    table = collect(tmp_path, ["crash", "fits", "cmd", "cut", "lost"], warnings)
    rows = {run: values(table, run) for run in table["run"]}
    assert {
        run: (row["reason"], row["exit_code"], row["attempt"], row["attempts"], row["error"])
        for run, row in rows.items()
    } == {
        "crash": (
            "exited",
            1,
            1,
            1,
            "ModuleNotFoundError: No module named 'brian' (src/tuned.py:2)",
        ),
        "fits": ("exited", 0, 2, 2, None),
        "cmd": ("exited", 3, 1, 1, "error: input.csv has no column 'rate'"),
        "cut": (None, None, None, None, None),
        "lost": (None, None, None, 2, None),
    }
    assert (rows["cut"]["param.seed"], rows["cut"]["s"]) == (3, 3.0)
    assert warnings == [
        f"bench collect: run cut: {results}/runs/cut/record.json is not valid JSON (Unterminated "
        "string starting at at line 1); row made from the rest",
        f"bench collect: run lost: {results}/failed/lost/attempt-2/record.json is not valid JSON "
        "(Expecting value at line 1); row made from the rest",
    ]


def test_collect_names_a_record_with_a_non_integer_exit_code(tmp_path: Path) -> None:
    bad = {**record(context=context("x")), "exit_code": "oops"}
    bad["context"]["attempt"] = 1.5
    write_json(tmp_path / "results" / "runs" / "x" / "record.json", bad)
    warnings: list[str] = []
    table = collect(tmp_path, ["x"], warnings)
    row = values(table, "x")
    assert (row["exit_code"], row["attempt"], row["reason"]) == (None, None, "exited")
    path = tmp_path / "results" / "runs" / "x" / "record.json"
    assert len(warnings) == 1
    assert f"{path} has attempt 1.5, not an integer (left empty)" in warnings[0]
    assert f"{path} has exit_code 'oops', not an integer (left empty)" in warnings[0]


def suggest_tree(tmp_path: Path) -> Path:
    """Records of three runs (one stopped for memory) and benchmarks of three rules, two of
    them short jobs whose Snakemake "peak" means nothing (as a new user saw: fetch_code 0.3 MB)."""
    root = tmp_path / "wf"
    runs = root / "results" / "runs"
    small = record(wall_s=2.4, peak_bytes=94_195_712, context=context("small"))
    big = record(
        wall_s=70.0, peak_bytes=423_100_000, context=context("big") | {"run_config": "std"}
    )
    write_json(runs / "small" / "record.json", small)
    write_json(runs / "big" / "record.json", big)
    write_json(
        root / "results" / "failed" / "big" / "attempt-1" / "record.json",
        record(reason="memory", exit_code=137, wall_s=3.0, peak_bytes=900_000_000),
    )
    write(runs / "small" / "samples.tsv", "time_s\trss_bytes\n0.1\t100\n")
    marks = root / "benchmarks"
    for run, rss, seconds in (("small", 28.77, 0.76), ("big", 100.0, 119.0)):
        write(
            marks / "validate_params" / f"{run}.tsv",
            f"{HEADER}\n{seconds}\t0:00:00\t{rss}\t33\t17\t19\t0\t0\t0\t0.2\n",
        )
    write(
        marks / "fetch_code" / "fetch_code.tsv",
        f"{HEADER}\n0.5\t0:00:00\t0.3\t1\t1\t1\t0\t0\t0\t0\n",
    )
    write(
        marks / "plot_resources" / "small.tsv",
        f"{HEADER}\n3.0\t0:00:03\t15.0\t1\t1\t1\t0\t0\t0\t0\n",
    )
    write(
        marks / "run_simulation" / "big.tsv", f"{HEADER}\n99\t0:01:39\t999\t1\t1\t1\t0\t0\t0\t0\n"
    )
    write(marks / "broken" / "x.tsv", f"{HEADER}\n")
    write(root / ".snakemake" / "hidden" / "record.json", json.dumps(record(peak_bytes=10**10)))
    return root


def test_suggest_names_the_rule_of_a_nested_run_id_and_counts_a_failed_run_once(
    tmp_path: Path,
) -> None:
    """A glob member's run id holds a '/' (model/hog): its benchmark file is still
    run_simulation's, and a failed run's record and kept attempts are one run left out."""
    root = tmp_path / "wf"
    marks = root / "benchmarks" / "run_simulation" / "model"
    write(marks / "small.tsv", f"{HEADER}\n2.0\t0:00:02\t50.0\t1\t1\t1\t0\t0\t0\t0\n")
    hog = record(reason="memory", exit_code=137, context=context("model/hog"))
    write_json(root / "results" / "runs" / "model" / "hog" / "record.json", hog)
    for attempt in (1, 2):
        kept = root / "results" / "failed" / "model" / "hog" / f"attempt-{attempt}"
        write_json(kept / "record.json", hog)
    warnings: list[str] = []
    found = bench_suggest.suggest([root], margin=0.2, warn=warnings.append)
    assert [(s.rule, s.mem_mb, s.samples) for s in found] == [("run_simulation", 100, 1)]
    assert warnings == [
        "bench suggest: left out 1 run(s) that were stopped or failed (their peak is a lower "
        "bound, not what they need)"
    ]


def test_suggest_arithmetic_and_snippet(tmp_path: Path) -> None:
    root = suggest_tree(tmp_path)
    warnings: list[str] = []
    found = bench_suggest.suggest([root], margin=0.2, warn=warnings.append)
    assert warnings == [
        f"bench suggest: skipped 1 unusable file(s): {root}/benchmarks/broken/x.tsv",
        "bench suggest: left out 1 run(s) that were stopped or failed (their peak is a lower "
        "bound, not what they need)",
    ]
    assert [
        (s.rule, s.mem_mb, s.runtime, s.samples, s.source, s.too_short, s.floored) for s in found
    ] == [
        # 0.5 s: its 0.3 MB is not a peak (too short to measure): runtime only.
        ("fetch_code", None, 1, 1, "Snakemake benchmarks", 1, False),
        # 15 MB * 1.2 = 18 -> 20, raised to the 100 MB floor; 3 s * 1.2 -> 1 min.
        ("plot_resources", 100, 1, 1, "Snakemake benchmarks", 0, True),
        # From the warden's records, not the Snakemake benchmark (999 MB) of the same rule:
        # 423.1 MB * 1.2 = 507.72 -> 510; 70 s * 1.2 = 84 s -> 2 min.
        ("run_simulation", 510, 2, 2, "warden records", 0, False),
        # The 0.76 s sample counts for runtime only; 100 MB * 1.2 = 120 exactly (no rounding
        # up to 130); 119 s * 1.2 = 142.8 s -> 3 min.
        ("validate_params", 120, 3, 2, "Snakemake benchmarks", 1, False),
    ]
    assert [(s.rule, s.run_configs, s.unrecorded) for s in found] == [
        ("fetch_code", (), 1),
        ("plot_resources", (), 1),
        ("run_simulation", ("short", "std"), 0),
        ("validate_params", (), 2),
    ]
    assert bench_suggest.format_suggestions(found) == (
        "# Largest measured peak memory and wall time per rule plus a 20% margin;\n"
        "# mem_mb rounded up to the next 10 MB, runtime (minutes) to whole minutes, at least 1;\n"
        "# floor 100 MB: a Python job needs about that.\n"
        "# Snakemake benchmarks shorter than 1 s count for runtime only: too short to measure "
        "memory.\n"
        "# run config of the samples: short, std; not recorded for 4 samples\n"
        "# fetch_code: 1 sample (Snakemake benchmarks): peak n/a (1 too short to measure), "
        "longest 0.5 s\n"
        "# plot_resources: 1 sample (Snakemake benchmarks): peak 15.0 MB (floor applies), "
        "longest 3.0 s\n"
        "# run_simulation: 2 samples (warden records): peak 423.1 MB, longest 70.0 s\n"
        "# validate_params: 2 samples (Snakemake benchmarks): peak 100.0 MB (1 too short to "
        "measure), longest 119.0 s\n"
        "# run_simulation in simwarden's workflow: better put these in the profile's run.yaml "
        "(run_config.mem_mb,\n"
        "# runtime_min): set-resources replaces the mem_mb x attempt that retries rely on.\n"
        "set-resources:\n"
        "  fetch_code:\n"
        "    runtime: 1\n"
        "  plot_resources:\n"
        "    mem_mb: 100\n"
        "    runtime: 1\n"
        "  run_simulation:\n"
        "    mem_mb: 510\n"
        "    runtime: 2\n"
        "  validate_params:\n"
        "    mem_mb: 120\n"
        "    runtime: 3\n"
    )


def test_suggest_from_tables_and_single_files(tmp_path: Path) -> None:
    table = table_file(
        tmp_path / "t.csv",
        [
            {
                "run": "a",
                "run_config": "std",
                "reason": "exited",
                "exit_code": 0,
                "peak_rss_mb": 55.0,
                "wall_s": 1.0,
            },
            {"run": "b", "run_config": "std", "reason": "memory", "peak_rss_mb": 900.0},
            {"run": "c", "run_config": None, "max_rss": 61.0, "s": 30.0},
            # Snakemake's columns only, 0.4 s: its 500 MB is no measurement of a peak.
            {"run": "d", "run_config": "full", "max_rss": 500.0, "s": 0.4},
        ],
    )
    found = bench_suggest.suggest([table.with_suffix(".h5")], margin=0.0, warn=lambda _: None)
    assert [
        (s.rule, s.mem_mb, s.runtime, s.samples, s.source, s.floored, s.too_short) for s in found
    ] == [
        # max(55, 61) MB -> 70, raised to the 100 MB floor.
        ("run_simulation", 100, 1, 3, "benchmark tables", True, 1),
    ]
    assert (found[0].run_configs, found[0].unrecorded) == (("full", "std"), 1)
    tsv = write(tmp_path / "marks" / "plot" / "x.tsv", f"{HEADER}\n61\t0\t5\t1\t1\t1\t0\t0\t0\t0\n")
    rec = write_json(tmp_path / "r.json", record(wall_s=59.0, peak_bytes=1_000_000))
    found = bench_suggest.suggest([tsv, rec, table], margin=1.0, warn=lambda _: None)
    assert [(s.rule, s.mem_mb, s.runtime, s.samples, s.margin) for s in found] == [
        ("plot", 100, 3, 1, 1.0),
        # max(1, 55, 61) MB * 2 = 122 -> 130; max(59, 1, 30, 0.4) s * 2 = 118 s -> 2 min.
        ("run_simulation", 130, 2, 4, 1.0),
    ]
    assert found[1].source == "warden records and benchmark tables"
    assert (found[1].run_configs, found[1].unrecorded, found[1].too_short) == (
        ("full", "std"),
        2,
        1,
    )
    assert bench_suggest.format_suggestions(found).splitlines()[2:5] == [
        "# floor 100 MB: a Python job needs about that.",
        "# Snakemake benchmarks shorter than 1 s count for runtime only: too short to measure "
        "memory.",
        "# run config of the samples: full, std; not recorded for 3 samples",
    ]
    only_snakemake = bench_suggest.suggest([tsv], warn=pytest.fail)
    assert bench_suggest.format_suggestions(only_snakemake).splitlines()[3] == (
        "# run config of the samples: not recorded"
    )
    assert bench_suggest.format_suggestions([]) == (
        "# nothing to suggest: no usable records or benchmark files were found\n"
    )


def test_suggest_refuses_bad_input(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"missing: no such file or directory"):
        bench_suggest.suggest([tmp_path / "missing"])
    write(tmp_path / "notes.txt", "x")
    with pytest.raises(UserError, match=r"notes\.txt: not a benchmark table \(\.csv, \.h5\)"):
        bench_suggest.suggest([tmp_path / "notes.txt"])
    with pytest.raises(UserError, match=r"--margin -0\.5: use a fraction >= 0"):
        bench_suggest.suggest([tmp_path], margin=-0.5)


def test_cli_suggest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = suggest_tree(tmp_path)
    monkeypatch.chdir(root)
    assert bench_main(["suggest", "--margin", "0"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Largest measured peak memory and wall time per rule plus a 0% ")
    assert "\n# run config of the samples: short, std; not recorded for 4 samples\n" in out
    assert "  run_simulation:\n    mem_mb: 430\n    runtime: 2\n" in out
    assert "  fetch_code:\n    runtime: 1\n  plot_resources:\n    mem_mb: 100\n" in out
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match=r"^no usable records or benchmark files under .*empty"):
        bench_main(["suggest", str(empty)])
    monkeypatch.chdir(empty)
    with pytest.raises(UserError, match=r"^no results/ or benchmarks/ here"):
        bench_main(["suggest"])


def test_importing_loads_no_heavy_library() -> None:
    code = (
        "import sys, simwarden.results.table; "
        "print(sorted({'pandas', 'h5py', 'numpy', 'tables'} & set(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


# --- compare --by commit ---------------------------------------------------------------------


def commits_tree(tmp_path: Path) -> Path:
    """A results/ tree after runs of lif (param sets small and big at refs v1 and v2, run ids
    ``lif/<set>@<ref>``) and hh (ref v1 only): small's ``/rates`` changed at v2, big's outputs
    are the same values in new files; small's wall time rose by 50% (12 s -> 18 s)."""
    results = tmp_path / "results"
    runs = [
        ("lif/small@v1", ("lif", "small", "v1"), 12.0, [1.0, 2.0, 3.0]),
        ("lif/small@v2", ("lif", "small", "v2"), 18.0, [1.0, 2.5, 3.0]),
        ("lif/big@v1", ("lif", "big", "v1"), 40.0, [4.0]),
        ("lif/big@v2", ("lif", "big", "v2"), 40.5, [4.0]),
        ("hh", ("hh", "", "v1"), 1.0, [0.0]),
    ]
    for run, named, wall_s, rates in runs:
        write_json(results / "params" / f"{run}.json", {"seed": 1})
        data = record(wall_s=wall_s, context=context(run, named=named))
        write_json(results / "runs" / run / "record.json", data)
        with h5py.File(_mkdir(results / "runs" / run / "data") / "output.h5", "w") as f:
            f.attrs["run"] = run  # the bytes differ; the values decide
            f.create_dataset("rates", data=rates)
            f.create_dataset("spikes/times", data=[0.1, 0.2])
        write(results / "runs" / run / "data" / "summary.txt", "done\n")
    return results


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_cli_compare_by_commit_names_the_changed_dataset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = commits_tree(tmp_path)
    argv = ["collect", "--results", str(results), "--benchmarks", str(tmp_path / "benchmarks")]
    assert bench_main(argv) == 0
    table = results / "benchmarks.csv"
    frame = bench.read_table(table)
    assert list(frame.columns[:5]) == ["run", "simulation", "param_set", "ref", "commit"]
    assert list(frame["run"]) == ["hh", "lif/big@v1", "lif/big@v2", "lif/small@v1", "lif/small@v2"]
    capsys.readouterr()
    assert bench_main(["compare", "--by", "commit", str(table)]) == 1  # small's wall time
    small = "lif/small: v1 -> v2 "
    big = "lif/big: v1 -> v2 "
    assert capsys.readouterr().out.splitlines() == [
        f"TABLE = {table} (5 runs); each ref against the first ref of each simulation/param set",
        "regression: NEW/OLD - 1 > +10% and a rise above 0.5 s (times) or 5 MB (memory); "
        "outputs equal within rtol 1e-05, atol 1e-08",
        f"{big} wall_s 40 -> 40.5  +1.2%",
        f"{big} peak_rss_mb 94 -> 94  +0.0%",
        f"{big} cpu_s 1.5 -> 1.5  +0.0%",
        f"{big} output.h5: identical",
        f"{big} summary.txt: identical",
        f"{small} wall_s 12 -> 18  +50.0% !",
        f"{small} peak_rss_mb 94 -> 94  +0.0%",
        f"{small} cpu_s 1.5 -> 1.5  +0.0%",
        f"{small} output.h5: different (/rates: max |diff| 0.5)",
        f"{small} summary.txt: identical",
        "hh: only ref v1, nothing to compare",
        "1 regression: lif/small: v1 -> v2 wall_s +50.0%",
        "outputs differ in 1 pair: lif/small: v1 -> v2 (output.h5)",
    ]
    # Time only: the output difference alone exits 1 with --check and 0 without it.
    time_only = ["compare", "--by", "commit", str(table), "--metrics", "peak_rss_mb"]
    assert bench_main(time_only) == 0
    assert bench_main([*time_only, "--check"]) == 1
    assert bench_main([*time_only, "--check", "--atol", "0.5"]) == 0
    out = capsys.readouterr().out
    assert f"{small} output.h5: equal within tolerance (max |diff| 0.5)\n" in out
    assert out.endswith("no regressions\noutputs: no differences\n")
    # Against a base named by hand; a ref no run has is one line.
    assert bench_main([*time_only, "--base", "v2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("; each ref against ref v2")
    assert f"{small.replace('v1 -> v2', 'v2 -> v1')} output.h5: different " in "\n".join(lines)
    assert "hh: no run at ref v2 (refs v1)" in lines
    assert simwarden_main(["bench", "compare", "--by", "commit", str(table), "--base", "v9"]) == 125
    assert capsys.readouterr().err == (
        f"simwarden: {table}: no run at ref 'v9'; refs in it: v1, v2\n"
    )


def test_cli_compare_by_commit_refuses_a_table_without_refs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = two_tables(tmp_path)  # tables written before the simulation and ref columns
    assert simwarden_main(["bench", "compare", "--by", "commit", str(a)]) == 125
    assert capsys.readouterr().err == (
        f"simwarden: {a}: has no 'simulation' or 'ref' column; --by commit needs a table "
        "collected by `simwarden bench collect` from runs that record them\n"
    )
    assert simwarden_main(["bench", "compare", "--by", "commit", str(a), str(b)]) == 125
    assert capsys.readouterr().err == (
        f"simwarden: --by commit compares inside one TABLE; got two: {a} {b}\n"
    )
    assert simwarden_main(["bench", "compare", str(a), str(b), "--base", "v1"]) == 125
    assert capsys.readouterr().err == (
        "simwarden: --base is for --by commit; give --by commit TABLE\n"
    )


def test_compare_commits_rows_and_their_page(tmp_path: Path) -> None:
    results = commits_tree(tmp_path)
    assert bench_main(["collect", "--results", str(results), "--benchmarks", str(tmp_path)]) == 0
    rows = bench_commits.compare_commits(results / "benchmarks.csv", results, 1e-5, 1e-8)
    assert [(r.label, r.base_run, r.run, r.differs) for r in rows] == [
        ("lif/big", "lif/big@v1", "lif/big@v2", False),
        ("lif/small", "lif/small@v1", "lif/small@v2", True),
    ]
    assert [f.describe() for f in rows[1].outputs.different_files] == [
        "output.h5: different (/rates: max |diff| 0.5)"
    ]
    assert [c.metric for c in rows[1].regressions] == ["wall_s"]
    page = bench_commits.write_commit_comparison_html(rows, tmp_path / "page" / "commits.html")
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "<p>2 pairs, outputs differ in 1</p>" in text
    assert "<span class='bad'>output.h5: different (/rates: max |diff| 0.5)</span>" in text
    assert "<span class='bad'>wall_s 12 -&gt; 18  +50.0% !</span>" in text
    assert "<script" not in text and "http" not in text
    assert [p.name for p in page.parent.iterdir()] == ["commits.html"]  # no temp file left
    # Data kept elsewhere: --results names it, and a run without data is a named difference.
    (tmp_path / "moved").mkdir()
    (results / "runs").rename(tmp_path / "moved" / "runs")
    moved = bench_commits.compare_commits(results / "benchmarks.csv", tmp_path / "moved")
    assert [r.differs for r in moved] == [False, True]
    gone = bench_commits.compare_commits(results / "benchmarks.csv")
    assert gone[0].lines()[-1] == (
        f"lif/big: v1 -> v2  outputs: no data directory {results}/runs/lif/big@v2/data"
    )
    assert all(r.differs for r in gone)


def test_two_table_compare_compares_outputs_when_both_data_directories_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, rates in (("old", [1.0, 2.0]), ("new", [1.0, 2.0 + 1e-9])):
        results = tmp_path / name / "results"
        write_json(results / "params" / "small.json", {"seed": 1})
        write_json(results / "runs" / "small" / "record.json", record(context=context("small")))
        with h5py.File(_mkdir(results / "runs" / "small" / "data") / "output.h5", "w") as f:
            f.create_dataset("rates", data=rates)
        argv = ["collect", "--results", str(results), "--benchmarks", str(tmp_path)]
        assert bench_main(argv) == 0
    old, new = (tmp_path / n / "results" / "benchmarks.csv" for n in ("old", "new"))
    capsys.readouterr()
    assert bench_main(["compare", str(old), str(new), "--check"]) == 0
    assert capsys.readouterr().out.splitlines()[-3:] == [
        "no regressions",
        "small: output.h5: equal within tolerance (max |diff| 1e-09)",
        "outputs: no differences",
    ]
    assert bench_main(["compare", str(old), str(new), "--atol", "0", "--rtol", "0"]) == 0
    assert bench_main(["compare", str(old), str(new), "--atol", "0", "--rtol", "0", "--check"]) == 1
    assert capsys.readouterr().out.splitlines()[-2:] == [
        "small: output.h5: different (/rates: max |diff| 1e-09)",
        "outputs differ: small",
    ]


# --- benchmarks/bench_sweep.py: its pure parts and --help (the script itself: --quick) --------

BENCH_DIR = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def bench_sweep(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The benchmark script as a module (it imports its neighbours as top-level modules)."""
    import importlib

    monkeypatch.syspath_prepend(str(BENCH_DIR))
    return importlib.import_module("bench_sweep")


def test_bench_sweep_help_names_its_options() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH_DIR / "bench_sweep.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for option in ("--quick", "--points", "--reps", "--full-max", "--out-dir"):
        assert option in done.stdout
    assert done.stderr == ""


def test_bench_sweep_clones_one_job_s_metadata_under_other_run_ids(
    tmp_path: Path, bench_sweep: Any
) -> None:
    from base64 import urlsafe_b64encode

    meta = tmp_path / ".snakemake" / "metadata"
    meta.mkdir(parents=True)
    text = '{"params": ["\'seed__seed-1\'"], "log": ["logs/x/seed__seed-1.log"], "n": 10}'
    for key in ("results/runs/seed__seed-1/record.json", "results/runs/seed__seed-10/record.json"):
        (meta / urlsafe_b64encode(key.encode()).decode()).write_text(text)
    rename = bench_sweep.run_renamer("seed__seed-1")
    assert rename("results/runs/seed__seed-10/a seed__seed-1.log", "s7") == (
        "results/runs/seed__seed-10/a s7.log"
    )
    # One job's outputs are cloned; seed__seed-10's key is not the template's and is left alone.
    assert bench_sweep.clone_metadata(tmp_path, "seed__seed-1", ["s2", "s3"], rename) == 2
    keys = sorted(bench_sweep.metadata_key(p.name) for p in meta.iterdir())
    assert keys == [
        "results/runs/s2/record.json",
        "results/runs/s3/record.json",
        "results/runs/seed__seed-1/record.json",
        "results/runs/seed__seed-10/record.json",
    ]
    s3 = meta / urlsafe_b64encode(b"results/runs/s3/record.json").decode()
    assert s3.read_text() == '{"params": ["\'s3\'"], "log": ["logs/x/s3.log"], "n": 10}'


def test_bench_sweep_report_has_a_row_per_measure_and_verdicts(
    tmp_path: Path, bench_sweep: Any
) -> None:
    def row(points: int, pipeline: float, *, full: bool) -> dict[str, Any]:
        times = {"pipeline": [pipeline, pipeline + 1.0, pipeline - 1.0], "plain": [10.0] * 3}
        found: dict[str, Any] = {"points": points, "filled": "by the last full run"}
        found |= dict.fromkeys(("dry", "status_fresh", "noop", "status_done"), times)
        found |= {"status_fresh_states": {"never run": points + 1}}
        found |= {"status_done_states": {"up to date": points + 1}}
        return found | ({"full": {"pipeline": [30.0], "plain": [20.0]}} if full else {})

    data = {
        "date": "2026-11-30 12:00 UTC",
        "argv": "--points 100 10000",
        "quick": False,
        "reps": 3,
        "full_reps": 1,
        "full_max": 1000,
        "machine": {"cores": 2, "memory_gib": 23.5, "platform": "Linux", "python": "3.11.7"}
        | {"snakemake": "9.27.1"},
        "rows": [row(100, 12.0, full=True), row(10000, 16.0, full=False)],
        "total_s": 100.0,
        "loadavg_start": [1.0, 1.0, 1.0],
        "loadavg_end": [2.0, 2.0, 2.0],
    }
    lines = bench_sweep.render(data).splitlines()
    assert [line for line in lines if line.startswith("| 10")] == [
        "| 100 | `snakemake -n --quiet`, nothing run yet | 12.00 s (11.00-13.00) | "
        "10.00 s (10.00-10.00) | 1.20x |  |",
        "| 100 | `simwarden status`, nothing run yet | 12.00 s (11.00-13.00) | "
        "10.00 s (10.00-10.00) | 1.20x |  |",
        "| 100 | full run from scratch | 30.00 s | 20.00 s | 1.50x |  |",
        "| 100 | no-op rerun (everything up to date) | 12.00 s (11.00-13.00) | "
        "10.00 s (10.00-10.00) | 1.20x |  |",
        "| 100 | `simwarden status`, everything up to date | 12.00 s (11.00-13.00) | "
        "10.00 s (10.00-10.00) | 1.20x |  |",
        # 16 s: within 2x plain, but status is over its 15 s.
        "| 10,000 | `snakemake -n --quiet`, nothing run yet | 16.00 s (15.00-17.00) | "
        "10.00 s (10.00-10.00) | 1.60x | pass |",
        "| 10,000 | `simwarden status`, nothing run yet | 16.00 s (15.00-17.00) | "
        "10.00 s (10.00-10.00) | 1.60x | FAIL |",
        "| 10,000 | full run from scratch | not measured | | | |",
        "| 10,000 | no-op rerun (everything up to date) | 16.00 s (15.00-17.00) | "
        "10.00 s (10.00-10.00) | 1.60x | pass |",
        "| 10,000 | `simwarden status`, everything up to date | 16.00 s (15.00-17.00) | "
        "10.00 s (10.00-10.00) | 1.60x | FAIL |",
    ]
    assert (
        "- N = 10,000: nothing run: {'never run': 10001}; complete: {'up to date': 10001}" in lines
    )
    bench_sweep.plot(data, tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
