"""The benchmark table: one row per run from the warden's record, Snakemake's ``benchmark:``
file, the validated parameters and the simulation's own timers; the ``simwarden bench`` command
(comparing two tables lives in ``bench_compare``, resource suggestions in ``bench_suggest``).

    simwarden bench collect [--results DIR] [--benchmarks DIR] [--logs DIR] [--runs RUN ...]
    simwarden bench compare OLD NEW [--threshold 0.1] [--min-change-s 0.5] [--min-change-mb 5]
    simwarden bench suggest [TABLE_OR_DIR ...] [--margin 0.2]

pandas (and PyTables, for the .h5 copy) is imported inside the functions that need it.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simwarden.core.errors import UserError
from simwarden.core.fsutil import replace_atomically

if TYPE_CHECKING:
    import pandas

PathLike = str | os.PathLike[str]
Warn = Callable[[str], None]

SIMULATION_RULE = "run_simulation"
TABLE_KEY = "benchmarks"
# Snakemake's benchmark columns, under Snakemake's names (the first ten of its TSV).
SNAKEMAKE_COLUMNS = tuple(
    "s h:m:s max_rss max_vms max_uss max_pss io_in io_out mean_load cpu_time".split()
)
# The columns taken from the warden's record (or the provenance file), first in every table.
RECORD_COLUMNS = tuple(
    "run commit repository run_config attempt reason exit_code wall_s cpu_s peak_rss_mb "
    "mem_limit_mb".split()
)
TABLE_SUFFIXES = (".csv", ".h5", ".hdf5", ".hdf")
DEFAULT_METRICS = ("wall_s", "peak_rss_mb", "cpu_s")
_MISSING = ("", "NA", "-", "nan", "NaN")
# Decimals kept in the table: ms and kB for the record's numbers, us for the simulation's
# timers and Snakemake's (averaged) columns; more digits are only float noise (0.1 + 0.2).
_DECIMALS = {"wall_s": 3, "cpu_s": 3, "peak_rss_mb": 3, "mem_limit_mb": 3}
_FINE_DECIMALS = 6


def _warn_stderr(message: str) -> None:
    print(f"simwarden: warning: {message}", file=sys.stderr)


# --- collect ---------------------------------------------------------------------------------


class _Problems:
    """The files of one run that could not be used, for its single warning line."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: Path, what: str) -> None:
        self.items.append(f"{path} {what}")


def _read_json(path: Path, problems: _Problems | None) -> dict[str, Any] | None:
    """The JSON object in ``path``; None (and a problem noted) when missing or unusable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if problems is not None:
            problems.add(path, "is missing")
        return None
    except json.JSONDecodeError as error:
        if problems is not None:
            problems.add(path, f"is not valid JSON ({error.msg} at line {error.lineno})")
        return None
    except (OSError, UnicodeDecodeError) as error:
        if problems is not None:
            problems.add(path, f"cannot be read ({getattr(error, 'strerror', None) or error})")
        return None
    if not isinstance(data, dict):
        if problems is not None:
            problems.add(path, "is not a JSON object")
        return None
    return data


def _flatten(params: Mapping[str, Any], prefix: str = "param.") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"param.a.b": 1}``; lists become their JSON text."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        elif isinstance(value, list):
            flat[name] = json.dumps(value, sort_keys=True)
        else:
            flat[name] = value
    return flat


def _last_attempt(logs: Path, run: str) -> tuple[Path, int] | None:
    """The kept record of ``run``'s highest-numbered failed attempt, if any."""
    from simwarden.pipeline.layout import kept_attempts

    found = kept_attempts(logs / f"{run}.log")
    if not found:
        return None
    number, path = found[-1]
    return path, number


def read_benchmark_tsv(path: PathLike) -> dict[str, Any]:
    """Snakemake's ``benchmark:`` file as ``{column: value}`` for :data:`SNAKEMAKE_COLUMNS`.

    Several rows (``repeat()``) are averaged and ``h:m:s`` is recomputed from the mean ``s``;
    ``NA`` or ``-`` cells are None. Raises ValueError when the file is not such a table (no
    ``s`` column, no rows, a number that is not one) and OSError when it cannot be read.
    """
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    if not rows or "s" not in rows[0]:
        raise ValueError("has no Snakemake benchmark header (s, h:m:s, max_rss, ...)")
    header, body = rows[0], [row for row in rows[1:] if row]
    if not body:
        raise ValueError("has a header but no rows")
    values: dict[str, Any] = {}
    for column in SNAKEMAKE_COLUMNS:
        if column not in header or column == "h:m:s":
            continue
        index = header.index(column)
        numbers: list[float] = []
        for row in body:
            cell = row[index].strip() if index < len(row) else ""
            if cell in _MISSING:
                continue
            try:
                numbers.append(float(cell))
            except ValueError:
                raise ValueError(f"column {column!r}: {cell!r} is not a number") from None
        values[column] = sum(numbers) / len(numbers) if numbers else None
    if "h:m:s" in header:
        if len(body) == 1:
            cell = body[0][header.index("h:m:s")] if header.index("h:m:s") < len(body[0]) else ""
            values["h:m:s"] = None if cell.strip() in _MISSING else cell.strip()
        elif values.get("s") is not None:
            values["h:m:s"] = str(datetime.timedelta(seconds=int(values["s"])))
    return values


def _record_columns(
    record: Mapping[str, Any], provenance: Callable[[], Mapping[str, Any]], attempt: int | None
) -> dict[str, Any]:
    context = record.get("context") if isinstance(record.get("context"), Mapping) else None
    if context is not None:
        commit, repository = context.get("commit"), context.get("repository")
        run_config, attempt = context.get("run_config"), context.get("attempt", attempt)
    else:  # records written before the context existed: the workflow's current code
        code = provenance()
        commit, repository, run_config = code.get("commit"), code.get("url"), None
    user, system = record.get("cpu_user_s"), record.get("cpu_system_s")
    peak = record.get("peak_rss_bytes")
    limits = record.get("limits") if isinstance(record.get("limits"), Mapping) else {}
    limit = limits.get("mem_bytes")
    return {
        "commit": commit,
        "repository": repository,
        "run_config": run_config,
        "attempt": attempt,
        "reason": record.get("reason"),
        "exit_code": record.get("exit_code"),
        "wall_s": record.get("wall_s"),
        "cpu_s": user + system if _is_number(user) and _is_number(system) else None,
        "peak_rss_mb": peak / 1e6 if _is_number(peak) else None,
        "mem_limit_mb": limit / 1e6 if _is_number(limit) else None,
    }


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _collect_run(
    run: str,
    results: Path,
    benchmarks: Path,
    logs: Path,
    provenance: Callable[[], Mapping[str, Any]],
    problems: _Problems,
) -> dict[str, Any] | None:
    row: dict[str, Any] = {"run": run}
    found = False
    params = _read_json(results / "params" / f"{run}.json", problems)
    if params is not None:
        found = True
        row.update(_flatten(params))

    record_path = results / "runs" / run / "record.json"
    complete = record_path.exists()
    attempt: int | None = None
    if complete:
        record = _read_json(record_path, problems)
    else:
        kept = _last_attempt(logs / SIMULATION_RULE, run)
        if kept is None:
            problems.add(record_path, "is missing (and no failed attempt was kept)")
            record = None
        else:
            record_path, attempt = kept
            record = _read_json(record_path, problems)
    if record is not None:
        found = True
        columns = _record_columns(record, provenance, attempt)
        for key in ("attempt", "exit_code"):  # integers or nothing: a corrupt value is named
            value = columns[key]
            if value is not None and (not _is_number(value) or value != int(value)):
                problems.add(record_path, f"has {key} {value!r}, not an integer (left empty)")
                columns[key] = None
        row.update(columns)

    tsv = benchmarks / SIMULATION_RULE / f"{run}.tsv"
    try:
        row.update(read_benchmark_tsv(tsv))
        found = True
    except FileNotFoundError:
        if complete:  # a failed job's benchmark file is deleted with its other outputs
            problems.add(tsv, "is missing")
    except (OSError, UnicodeDecodeError, ValueError) as error:
        problems.add(tsv, str(error) if isinstance(error, ValueError) else "cannot be read")

    data = results / "runs" / run / "data"
    if data.is_dir():
        from simwarden.timers import read_timers

        for path in sorted(data.rglob("*.h5")):
            if path.name.startswith("."):  # a simulation's own temp files
                continue
            try:
                timers = read_timers(path)
            except OSError:
                problems.add(path, "is not a readable HDF5 file")
                continue
            for name, seconds in timers.items():
                row.setdefault(f"timer.{name}", seconds)
                found = True
    return row if found else None


def collect(
    runs: Sequence[str],
    results_dir: PathLike = "results",
    benchmarks_dir: PathLike = "benchmarks",
    logs_dir: PathLike = "logs",
    warn: Warn = _warn_stderr,
) -> pandas.DataFrame:
    """One row per run, in the order given: :data:`RECORD_COLUMNS`, ``param.<dotted.key>``
    from ``results/params/{run}.json``, :data:`SNAKEMAKE_COLUMNS` from
    ``benchmarks/run_simulation/{run}.tsv``, and ``timer.<name>`` from the ``benchmark`` group
    of every ``*.h5`` under ``results/runs/{run}/data`` (the first file, in path order, wins).

    ``commit`` and ``repository`` come from the record's context, or for older records from
    ``results/code/provenance.json``. A run without ``record.json`` whose failed attempts were
    kept (``logs/run_simulation/{run}.log.attempt{N}.record.json``) gets its row from the last
    attempt (``attempt`` = N, ``reason`` e.g. ``memory``). Files that are missing or unusable are
    named in one ``warn`` line per run; the row is made from the rest, or left out when nothing
    was found. Columns always present: the record and Snakemake columns (empty when unknown).
    """
    import pandas as pd

    results, benchmarks, logs = Path(results_dir), Path(benchmarks_dir), Path(logs_dir)
    code: dict[str, Any] | None = None

    def provenance() -> Mapping[str, Any]:
        nonlocal code
        if code is None:
            problems = _Problems()
            code = _read_json(results / "code" / "provenance.json", problems) or {}
            if problems.items:
                warn(f"bench collect: {problems.items[0]}; commit and repository left empty")
        return code

    rows: list[dict[str, Any]] = []
    for run in runs:
        problems = _Problems()
        row = _collect_run(str(run), results, benchmarks, logs, provenance, problems)
        if row is not None:
            rows.append(_rounded(row))
        if problems.items:
            outcome = "row made from the rest" if row is not None else "no row"
            warn(f"bench collect: run {run}: {'; '.join(problems.items)}; {outcome}")
    params = _first_seen(key for row in rows for key in row if key.startswith("param."))
    timers = _first_seen(key for row in rows for key in row if key.startswith("timer."))
    columns = [*RECORD_COLUMNS, *params, *SNAKEMAKE_COLUMNS, *timers]
    table = pd.DataFrame(rows, columns=columns)
    for column in ("attempt", "exit_code"):
        table[column] = pd.to_numeric(table[column]).astype("Int64")
    return table


def _rounded(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with its measured floats rounded (see ``_DECIMALS``); parameters untouched."""
    for key, value in row.items():
        if key in _DECIMALS:
            decimals = _DECIMALS[key]
        elif key.startswith("timer.") or key in SNAKEMAKE_COLUMNS:
            decimals = _FINE_DECIMALS
        else:
            continue
        if isinstance(value, float) and math.isfinite(value):
            row[key] = round(value, decimals)
    return row


def _first_seen(keys: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(keys))


# --- files -----------------------------------------------------------------------------------


def _hdf_ready(table: pandas.DataFrame) -> pandas.DataFrame:
    """A copy PyTables can store: nullable numbers become NumPy ones (float64 with NaN when
    they have gaps), numbers held as objects float64, every other column text ("" if empty)."""
    import pandas as pd
    from pandas.api import types

    out = pd.DataFrame(index=table.index)
    for column in table.columns:
        series = table[column]
        dtype = series.dtype
        extension = isinstance(dtype, pd.api.extensions.ExtensionDtype)
        gaps = bool(series.isna().any())
        if extension and types.is_numeric_dtype(dtype) and not gaps:
            out[column] = series.to_numpy(dtype=dtype.numpy_dtype)  # type: ignore[union-attr]
        elif extension and types.is_numeric_dtype(dtype) and not types.is_bool_dtype(dtype):
            out[column] = series.astype("float64")
        elif not extension and dtype.kind in "biuf":
            out[column] = series
        else:
            present = [v for v in series if not _is_missing(v)]
            if present and all(_is_number(v) for v in present):
                out[column] = pd.to_numeric(series, errors="coerce").astype("float64")
            else:
                out[column] = series.map(lambda v: "" if _is_missing(v) else str(v)).astype(object)
    return out


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _as_float(value: Any) -> float | None:
    if _is_missing(value):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def write_table(table: pandas.DataFrame, csv_path: PathLike, h5_path: PathLike) -> None:
    """Write ``table`` as CSV and as HDF5 (key ``benchmarks``, PyTables table format), each
    to a temp file renamed into place, so a reader never sees a partial file.

    In the .h5 copy, columns of mixed types become text (empty for missing values), nullable
    integers become float64 when they have gaps; the CSV keeps the values as they are.
    """
    replace_atomically(csv_path, lambda tmp: table.to_csv(tmp, index=False))
    ready = _hdf_ready(table)
    replace_atomically(
        h5_path, lambda tmp: ready.to_hdf(tmp, key=TABLE_KEY, mode="w", format="table")
    )


def write_html(table: pandas.DataFrame, html_path: PathLike, title: str = "Benchmarks") -> None:
    """A self-contained HTML page showing ``table`` (values escaped), written atomically."""
    import html

    body = table.to_html(index=False, na_rep="", float_format=lambda v: f"{v:.4g}", border=0)
    page = (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:sans-serif;font-size:13px}table{border-collapse:collapse}"
        "th,td{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}"
        "th{position:sticky;top:0;background:#f4f4f4}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{len(table)} runs</p>\n{body}\n</body></html>\n"
    )
    replace_atomically(html_path, lambda tmp: tmp.write_text(page, encoding="utf-8"))


def read_table(path: PathLike) -> pandas.DataFrame:
    """A benchmark table written by :func:`write_table` (.csv, or .h5/.hdf5/.hdf).

    Raises UserError naming the file when it is missing, of another kind, unreadable, or has
    no ``run`` column. Run ids are read as text.
    """
    import pandas as pd

    source = Path(path)
    suffix = source.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise UserError(
            f"{source}: not a benchmark table; give a .csv or .h5 file written by "
            "`simwarden bench collect`"
        )
    if not source.is_file():
        raise UserError(f"{source}: no such file; run `simwarden bench collect` first")
    try:
        if suffix == ".csv":
            table = pd.read_csv(source, dtype={"run": str}, keep_default_na=True)
        else:
            table = pd.read_hdf(source, key=TABLE_KEY)
    except KeyError:
        raise UserError(f"{source}: has no {TABLE_KEY!r} table") from None
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UserError(f"{source}: cannot be read as a benchmark table ({first})") from None
    if not isinstance(table, pd.DataFrame) or "run" not in table.columns:
        raise UserError(f"{source}: has no 'run' column; is it a `simwarden bench` table?")
    table["run"] = table["run"].astype(str)
    return table


# --- command line ----------------------------------------------------------------------------

EPILOG = """\
examples:
  simwarden bench collect            # results/params/*.json -> results/benchmarks.{csv,h5}
  simwarden bench compare old.csv results/benchmarks.csv --threshold 0.2 --min-change-s 2
  simwarden bench suggest results benchmarks --margin 0.3

exit codes: 0 done (compare: no regression), 1 compare found a regression,
125 bad arguments or files (one line on stderr)
"""


def _build_parser() -> argparse.ArgumentParser:
    from simwarden.cli import _Parser
    from simwarden.results.compare import DEFAULT_MIN_CHANGE_MB, DEFAULT_MIN_CHANGE_S

    parser = _Parser(
        prog="simwarden bench",
        description="The benchmark table: collect it, compare two, suggest mem_mb/runtime.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    collect_cmd = commands.add_parser(
        "collect",
        help="one row per run -> results/benchmarks.csv and results/benchmarks.h5",
        description="Collect records, Snakemake benchmarks, parameters and timers into one table.",
    )
    collect_cmd.add_argument(
        "--results",
        default="results",
        metavar="DIR",
        help="params/, runs/, code/ are read here; the table is written here (default results)",
    )
    collect_cmd.add_argument(
        "--benchmarks",
        default="benchmarks",
        metavar="DIR",
        help="Snakemake's benchmark files (default benchmarks)",
    )
    collect_cmd.add_argument(
        "--logs", default="logs", metavar="DIR", help="kept failed-attempt records (default logs)"
    )
    collect_cmd.add_argument(
        "--runs", nargs="+", metavar="RUN", help="run ids (default: every RESULTS/params/*.json)"
    )
    compare_cmd = commands.add_parser(
        "compare",
        help="compare two tables run by run; exit 1 on a regression",
        description=(
            "Compare table NEW with table OLD run by run (default wall_s, peak_rss_mb, cpu_s). "
            "A regression is NEW/OLD - 1 above --threshold with a rise above --min-change-s "
            "(times) or --min-change-mb (memory)."
        ),
    )
    compare_cmd.add_argument(
        "old",
        metavar="OLD",
        help="the reference table (.csv or .h5), e.g. a copy of an earlier results/benchmarks.csv",
    )
    compare_cmd.add_argument(
        "new", metavar="NEW", help="the table to check (.csv or .h5), e.g. results/benchmarks.csv"
    )
    compare_cmd.add_argument(
        "--threshold",
        type=_fraction("--threshold"),
        default=0.10,
        help="flag NEW/OLD - 1 above this as a regression (default 0.1 = +10%%)",
    )
    compare_cmd.add_argument(
        "--min-change-s",
        type=_at_least_zero("--min-change-s", "seconds >= 0, e.g. 0.5"),
        default=DEFAULT_MIN_CHANGE_S,
        metavar="SECONDS",
        help="a time (wall_s, cpu_s, s, cpu_time, timer.*) must also rise by more than this "
        "to be a regression (default 0.5)",
    )
    compare_cmd.add_argument(
        "--min-change-mb",
        type=_at_least_zero("--min-change-mb", "MB >= 0, e.g. 5"),
        default=DEFAULT_MIN_CHANGE_MB,
        metavar="MB",
        help="a memory peak (peak_rss_mb, max_rss, max_vms, max_uss, max_pss) must also rise "
        "by more than this to be a regression (default 5)",
    )
    compare_cmd.add_argument(
        "--metrics",
        nargs="+",
        default=list(DEFAULT_METRICS),
        metavar="COLUMN",
        help="columns to compare (default: wall_s peak_rss_mb cpu_s)",
    )
    suggest_cmd = commands.add_parser(
        "suggest",
        help="propose mem_mb and runtime per rule (a profile's set-resources:)",
        description="Propose mem_mb and runtime per rule from the measured peaks.",
    )
    suggest_cmd.add_argument(
        "sources",
        nargs="*",
        metavar="TABLE_OR_DIR",
        help="tables, records, benchmark files or directories (default: results benchmarks)",
    )
    suggest_cmd.add_argument(
        "--margin",
        type=_fraction("--margin"),
        default=0.2,
        help="headroom added to the largest measured value (default 0.2 = 20%%)",
    )
    return parser


def _fraction(option: str) -> Callable[[str], float]:
    return _at_least_zero(option, "a fraction >= 0, e.g. 0.1 for 10%")


def _at_least_zero(option: str, accepted: str) -> Callable[[str], float]:
    """An argparse ``type``: a finite number >= 0, else UserError ``OPTION 'x': use ACCEPTED``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value >= 0):
            raise UserError(f"{option} {text!r}: use {accepted}")
        return value

    return parse


def cli_main(argv: list[str]) -> int:
    """``simwarden bench collect|compare|suggest``; returns the exit code.

    Bad arguments and files raise UserError (the caller prints one line and exits 125).
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "collect":
        results = Path(args.results)
        if args.runs:
            runs = list(args.runs)
        else:
            params_dir = results / "params"
            runs = sorted(p.stem for p in params_dir.glob("*.json")) if params_dir.is_dir() else []
            if not runs:
                raise UserError(
                    f"{params_dir}: no parameter sets (*.json); run the workflow first, or pass "
                    "--results DIR / --runs RUN ..."
                )
        table = collect(runs, results, args.benchmarks, args.logs)
        if table.empty:  # keep the last good table rather than replace it by an empty one
            raise UserError(
                f"no run of {', '.join(runs)} has a record, benchmark or parameters under "
                f"{results} or {args.benchmarks}: nothing written (check --runs / --results)"
            )
        csv_path, h5_path = results / "benchmarks.csv", results / "benchmarks.h5"
        write_table(table, csv_path, h5_path)
        print(f"wrote {csv_path} and {h5_path}: {len(table)} runs, {len(table.columns)} columns")
        return 0
    if args.command == "compare":
        from simwarden.results.compare import compare

        result = compare(
            args.old,
            args.new,
            args.threshold,
            tuple(args.metrics),
            min_change_s=args.min_change_s,
            min_change_mb=args.min_change_mb,
        )
        print(result.format())
        return 1 if result.regressions else 0
    from simwarden.results.suggest import format_suggestions, suggest

    sources = args.sources or [p for p in ("results", "benchmarks") if Path(p).exists()]
    if not sources:
        raise UserError("no results/ or benchmarks/ here: pass the tables or directories to read")
    found = suggest(sources, args.margin)
    if not found:
        raise UserError(
            f"no usable records or benchmark files under {', '.join(map(str, sources))}; "
            "run the workflow first"
        )
    print(format_suggestions(found), end="")
    return 0
