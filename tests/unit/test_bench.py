"""simwarden.bench on small real files: records, Snakemake benchmark TSVs, HDF5 timers."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import h5py
import pandas as pd
import pytest

from simwarden import bench, bench_compare, bench_suggest
from simwarden.cli import main as simwarden_main
from simwarden.errors import UserError
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


def record(
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


def context(run: str, attempt: int = 1, mem_mb: int = 400) -> dict[str, Any]:
    return {
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
    - ``c``: failed twice for memory; only the kept attempt records exist
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

    write_json(results / "runs" / "a" / "record.json", record(context=context("a")))
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

    logs = tmp_path / "logs" / "run_simulation"
    for attempt, mem_mb in ((1, 400), (2, 800)):
        failed = record(
            reason="memory",
            exit_code=137,
            wall_s=4.0 * attempt,
            peak_bytes=mem_mb * 10**6,
            mem_bytes=mem_mb * 10**6,
            context=context("c", attempt, mem_mb),
        )
        write_json(logs / f"c.log.attempt{attempt}.record.json", failed)
    write_json(logs / "cc.log.attempt9.record.json", record())  # another run's record
    write(results / "runs" / "d" / "record.json", '{"reason": ')
    return tmp_path


def collect(project: Path, runs: list[str], warnings: list[str]) -> pd.DataFrame:
    return bench.collect(
        runs,
        project / "results",
        project / "benchmarks",
        project / "logs",
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
        "commit": NEW_COMMIT,
        "repository": REPO,
        "run_config": "short",
        "attempt": 1,
        "reason": "exited",
        "exit_code": 0,
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
    d = values(table, "d")
    assert (d["param.input.rate_hz"], d["param.seed"], d["reason"], d["wall_s"]) == (
        40.0,
        2,
        None,
        None,
    )
    assert str(table["attempt"].dtype) == "Int64" and str(table["exit_code"].dtype) == "Int64"


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
    assert (b["wall_s"], b["commit"], b["s"], b["param.seed"]) == (10.0, None, None, 1)


def test_collect_of_nothing_is_an_empty_table_with_the_fixed_columns(tmp_path: Path) -> None:
    table = bench.collect([], tmp_path / "results", warn=pytest.fail)
    assert list(table.columns) == [*bench.RECORD_COLUMNS, *bench.SNAKEMAKE_COLUMNS]
    assert len(table) == 0


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


def table_file(path: Path, rows: list[dict[str, Any]]) -> Path:
    frame = pd.DataFrame(rows)
    bench.write_table(frame, path.with_suffix(".csv"), path.with_suffix(".h5"))
    return path


def two_tables(tmp_path: Path) -> tuple[Path, Path]:
    a = table_file(
        tmp_path / "a.csv",
        [
            {"run": "small", "wall_s": 10.0, "peak_rss_mb": 100.0, "cpu_s": 8.0},
            {"run": "big", "wall_s": 50.0, "peak_rss_mb": 400.0, "cpu_s": 40.0},
            {"run": "gone", "wall_s": 1.0, "peak_rss_mb": 1.0, "cpu_s": 1.0},
        ],
    )
    b = table_file(
        tmp_path / "b.csv",
        [
            {"run": "big", "wall_s": 51.0, "peak_rss_mb": 500.0, "cpu_s": 40.0},
            {"run": "small", "wall_s": 11.0, "peak_rss_mb": 90.0, "cpu_s": None},
            {"run": "new", "wall_s": 2.0, "peak_rss_mb": 2.0, "cpu_s": 2.0},
        ],
    )
    return a, b


def test_compare_flags_the_known_regression(tmp_path: Path) -> None:
    a, b = two_tables(tmp_path)
    result = bench_compare.compare(a, b)
    assert (result.only_in_a, result.only_in_b) == (["gone"], ["new"])
    assert [(c.run, c.metric, c.before, c.after) for c in result.changes] == [
        ("small", "wall_s", 10.0, 11.0),
        ("small", "peak_rss_mb", 100.0, 90.0),
        ("small", "cpu_s", 8.0, None),
        ("big", "wall_s", 50.0, 51.0),
        ("big", "peak_rss_mb", 400.0, 500.0),
        ("big", "cpu_s", 40.0, 40.0),
    ]
    ratios = [c.ratio for c in result.changes]
    assert ratios == pytest.approx([0.1, -0.1, None, 0.02, 0.25, 0.0])  # type: ignore[arg-type]
    # +10.0% is not above the 10% threshold (up to rounding): only big's memory regressed.
    assert [(c.run, c.metric) for c in result.regressions] == [("big", "peak_rss_mb")]
    assert result.format() == "\n".join(
        [
            f"A = {a} (3 runs), B = {b} (3 runs); regression: B/A - 1 > +10%",
            "run    wall_s            peak_rss_mb           cpu_s",
            "small  10 -> 11  +10.0%  100 -> 90  -10.0%     8 -> n/a  n/a",
            "big    50 -> 51  +2.0%   400 -> 500  +25.0% !  40 -> 40  +0.0%",
            "only in A: gone",
            "only in B: new",
            "1 regression: big peak_rss_mb +25.0%",
        ]
    )


def test_compare_reads_h5_and_checks_its_inputs(tmp_path: Path) -> None:
    a, b = two_tables(tmp_path)
    result = bench_compare.compare(a.with_suffix(".h5"), b, threshold=0.3, metrics=["peak_rss_mb"])
    assert result.regressions == [] and result.format().endswith("\nno regressions")
    with pytest.raises(UserError, match=r"a\.csv: no column 'io_in'; metrics it has: wall_s, "):
        bench_compare.compare(a, b, metrics=["io_in"])
    with pytest.raises(UserError, match=r"missing\.csv: no such file; run `simwarden bench"):
        bench_compare.compare(tmp_path / "missing.csv", b)
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


def test_cli_compare_exit_codes_and_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = two_tables(tmp_path)
    assert bench.cli_main(["compare", str(a), str(b)]) == 1
    assert capsys.readouterr().out.endswith("1 regression: big peak_rss_mb +25.0%\n")
    assert bench.cli_main(["compare", str(a), str(b), "--threshold", "0.25"]) == 0
    assert capsys.readouterr().out.endswith("\nno regressions\n")

    assert simwarden_main(["bench", "compare", str(tmp_path / "nope.csv"), str(b)]) == 125
    err = capsys.readouterr().err
    assert err == (
        f"simwarden: {tmp_path / 'nope.csv'}: no such file; run `simwarden bench collect` first\n"
    )
    assert simwarden_main(["bench", "compare", str(a), str(b), "--threshold", "-1"]) == 125
    assert capsys.readouterr().err == (
        "simwarden: --threshold '-1': use a fraction >= 0, e.g. 0.1 for 10%\n"
    )
    assert simwarden_main(["bench", "compare", str(a)]) == 125
    assert capsys.readouterr().err == (
        "simwarden: the following arguments are required: B (see: simwarden bench compare --help)\n"
    )


def test_cli_collect_defaults_to_every_parameter_set(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    assert bench.cli_main(["collect"]) == 0
    captured = capsys.readouterr()
    columns = len(bench.RECORD_COLUMNS) + 4 + len(bench.SNAKEMAKE_COLUMNS) + 2
    assert captured.out == (
        f"wrote results/benchmarks.csv and results/benchmarks.h5: 4 runs, {columns} columns\n"
    )
    assert captured.err.count("simwarden: warning: bench collect: run d: ") == 1
    assert list(bench.read_table("results/benchmarks.h5")["run"]) == ["a", "b", "c", "d"]

    assert bench.cli_main(["collect", "--runs", "a"]) == 0
    assert list(bench.read_table("results/benchmarks.csv")["run"]) == ["a"]
    with pytest.raises(UserError, match=r"^elsewhere/params: no parameter sets \(\*\.json\)"):
        bench.cli_main(["collect", "--results", "elsewhere"])


def suggest_tree(tmp_path: Path) -> Path:
    """Records of three runs (one stopped for memory) and benchmarks of two rules."""
    root = tmp_path / "wf"
    runs = root / "results" / "runs"
    write_json(runs / "small" / "record.json", record(wall_s=2.4, peak_bytes=94_195_712))
    write_json(runs / "big" / "record.json", record(wall_s=70.0, peak_bytes=423_100_000))
    write_json(
        root / "logs" / "run_simulation" / "big.log.attempt1.record.json",
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
        f"{HEADER}\n0.5\t0:00:00\tNA\t1\t1\t1\t0\t0\t0\t0\n",
    )
    write(
        marks / "run_simulation" / "big.tsv", f"{HEADER}\n99\t0:01:39\t999\t1\t1\t1\t0\t0\t0\t0\n"
    )
    write(marks / "broken" / "x.tsv", f"{HEADER}\n")
    write(root / ".snakemake" / "hidden" / "record.json", json.dumps(record(peak_bytes=10**10)))
    return root


def test_suggest_arithmetic_and_snippet(tmp_path: Path) -> None:
    root = suggest_tree(tmp_path)
    warnings: list[str] = []
    found = bench_suggest.suggest([root], margin=0.2, warn=warnings.append)
    assert warnings == [
        f"bench suggest: skipped 1 unusable file(s): {root}/benchmarks/broken/x.tsv",
        "bench suggest: left out 1 run(s) that were stopped or failed (their peak is a lower "
        "bound, not what they need)",
    ]
    assert [(s.rule, s.mem_mb, s.runtime, s.samples, s.source) for s in found] == [
        # 0.5 s, no memory measured: runtime only.
        ("fetch_code", None, 1, 1, "Snakemake benchmarks"),
        # From the warden's records, not the Snakemake benchmark (999 MB) of the same rule:
        # 423.1 MB * 1.2 = 507.72 -> 510; 70 s * 1.2 = 84 s -> 2 min.
        ("run_simulation", 510, 2, 2, "warden records"),
        # 100 MB * 1.2 = 120 exactly (no rounding up to 130); 119 s * 1.2 = 142.8 s -> 3 min.
        ("validate_params", 120, 3, 2, "Snakemake benchmarks"),
    ]
    assert bench_suggest.format_suggestions(found) == (
        "# Largest measured peak memory and wall time per rule plus a 20% margin;\n"
        "# mem_mb rounded up to the next 10 MB, runtime (minutes) to whole minutes, at least 1.\n"
        "# fetch_code: 1 sample (Snakemake benchmarks): peak n/a, longest 0.5 s\n"
        "# run_simulation: 2 samples (warden records): peak 423.1 MB, longest 70.0 s\n"
        "# validate_params: 2 samples (Snakemake benchmarks): peak 100.0 MB, longest 119.0 s\n"
        "# run_simulation in simwarden's workflow: better put these in the profile's run.yaml "
        "(run_config.mem_mb,\n"
        "# runtime_min): set-resources replaces the mem_mb x attempt that retries rely on.\n"
        "set-resources:\n"
        "  fetch_code:\n"
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
            {"run": "a", "reason": "exited", "exit_code": 0, "peak_rss_mb": 55.0, "wall_s": 1.0},
            {"run": "b", "reason": "memory", "exit_code": 137, "peak_rss_mb": 900.0},
            {"run": "c", "reason": None, "exit_code": None, "max_rss": 61.0, "s": 30.0},
        ],
    )
    found = bench_suggest.suggest([table.with_suffix(".h5")], margin=0.0, warn=lambda _: None)
    assert [(s.rule, s.mem_mb, s.runtime, s.samples, s.source) for s in found] == [
        ("run_simulation", 70, 1, 2, "benchmark tables"),
    ]
    tsv = write(tmp_path / "marks" / "plot" / "x.tsv", f"{HEADER}\n61\t0\t5\t1\t1\t1\t0\t0\t0\t0\n")
    rec = write_json(tmp_path / "r.json", record(wall_s=59.0, peak_bytes=1_000_000))
    found = bench_suggest.suggest([tsv, rec, table], margin=1.0, warn=lambda _: None)
    assert [(s.rule, s.mem_mb, s.runtime, s.samples, s.margin) for s in found] == [
        ("plot", 10, 3, 1, 1.0),
        # max(1, 55, 61) MB * 2 = 122 -> 130; max(59, 1, 30) s * 2 = 118 s -> 2 min.
        ("run_simulation", 130, 2, 3, 1.0),
    ]
    assert found[1].source == "warden records and benchmark tables"
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
    assert bench.cli_main(["suggest", "--margin", "0"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Largest measured peak memory and wall time per rule plus a 0% ")
    assert "  run_simulation:\n    mem_mb: 430\n    runtime: 2\n" in out
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match=r"^no usable records or benchmark files under .*empty"):
        bench.cli_main(["suggest", str(empty)])
    monkeypatch.chdir(empty)
    with pytest.raises(UserError, match=r"^no results/ or benchmarks/ here"):
        bench.cli_main(["suggest"])


def test_importing_loads_no_heavy_library() -> None:
    code = (
        "import sys, simwarden.bench; "
        "print(sorted({'pandas', 'h5py', 'numpy', 'tables'} & set(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
