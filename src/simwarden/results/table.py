"""The benchmark table: one row per run from the warden's record, Snakemake's ``benchmark:``
file, the validated parameters and the simulation's own timers, and the table's files (CSV, HDF5,
HTML). Comparing two tables lives in :mod:`simwarden.results.compare`, resource suggestions in
:mod:`simwarden.results.suggest`; the ``simwarden bench`` command in ``simwarden.cli.bench``.

Paths under the results and benchmarks directories are those of
:mod:`simwarden.pipeline.layout`. pandas (and PyTables, for the .h5 copy) is imported inside the
functions that need it.
"""

from __future__ import annotations

import csv
import datetime
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simwarden.core.errors import UserError
from simwarden.core.fsutil import replace_atomically
from simwarden.pipeline import layout
from simwarden.results.attempts import kept_attempts_in, retry_summary
from simwarden.results.values import (
    MISSING_CELLS,
    PathLike,
    Problems,
    Warn,
    is_missing,
    is_number,
    load_record,
    read_json,
    warn,
)

if TYPE_CHECKING:
    import pandas

    from simwarden.warden.record import Record

SIMULATION_RULE = layout.RUN_SIMULATION
TABLE_KEY = "benchmarks"
# Snakemake's benchmark columns, under Snakemake's names (the first ten of its TSV).
SNAKEMAKE_COLUMNS: tuple[str, ...] = ("s", "h:m:s", "max_rss", "max_vms", "max_uss", "max_pss")
SNAKEMAKE_COLUMNS += ("io_in", "io_out", "mean_load", "cpu_time")
# The columns taken from the warden's record (or the provenance file), first in every table.
# ``attempt``: the attempt the row's record is of; ``attempts``: how many the run took;
# ``retried``: why earlier attempts stopped (``attempt 1 stopped (memory)``), empty for none;
# ``error``: the one-line cause of a failed run (Record.cause), empty for a run that did not fail.
# ``simulation``, ``param_set``, ``ref``: the record's context (the config's simulation, its
# parameter set, the commit as the config names it), empty for records without them.
RECORD_COLUMNS: tuple[str, ...] = ("run", "simulation", "param_set", "ref", "commit")
RECORD_COLUMNS += ("repository", "run_config", "attempt", "attempts", "retried", "reason")
RECORD_COLUMNS += ("exit_code",)
RECORD_COLUMNS += ("error", "wall_s", "cpu_s", "peak_rss_mb", "mem_limit_mb")
# Columns read as text from a CSV table, whatever they look like.
TEXT_COLUMNS = ("run", "simulation", "param_set", "ref")
TABLE_SUFFIXES = (".csv", ".h5", ".hdf5", ".hdf")
DEFAULT_METRICS = ("wall_s", "peak_rss_mb", "cpu_s")
# Decimals kept in the table: ms and kB for the record's numbers, us for the simulation's
# timers and Snakemake's (averaged) columns; more digits are only float noise (0.1 + 0.2).
_DECIMALS = {"wall_s": 3, "cpu_s": 3, "peak_rss_mb": 3, "mem_limit_mb": 3}
_FINE_DECIMALS = 6


def under(directory: Path, template: str, root: str, run: str) -> Path:
    """A :mod:`~simwarden.pipeline.layout` path of ``run`` with its top directory ``root``
    (``results``, ``benchmarks``, ``logs``) replaced by ``directory``."""
    return directory / Path(layout.for_run(template, run)).relative_to(root)


def table_paths(results: Path) -> tuple[Path, Path]:
    """Where ``bench collect`` writes the table under ``results``: the .csv and the .h5."""
    return (
        under(results, layout.TABLE_CSV, layout.RESULTS, ""),
        under(results, layout.TABLE_H5, layout.RESULTS, ""),
    )


# --- collect ---------------------------------------------------------------------------------


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
            if cell in MISSING_CELLS:
                continue
            try:
                numbers.append(float(cell))
            except ValueError:
                raise ValueError(f"column {column!r}: {cell!r} is not a number") from None
        values[column] = sum(numbers) / len(numbers) if numbers else None
    if "h:m:s" in header:
        if len(body) == 1:
            cell = body[0][header.index("h:m:s")] if header.index("h:m:s") < len(body[0]) else ""
            values["h:m:s"] = None if cell.strip() in MISSING_CELLS else cell.strip()
        elif values.get("s") is not None:
            values["h:m:s"] = str(datetime.timedelta(seconds=int(values["s"])))
    return values


def _record_columns(
    record: Record, provenance: Callable[[], Mapping[str, Any]], attempt: int | None
) -> dict[str, Any]:
    context = record.context
    if context is not None:
        commit, repository, run_config = context.commit, context.repository, context.run_config
        attempt = context.attempt if context.attempt is not None else attempt
        named = [context.simulation, context.param_set, context.ref]
    else:  # records written before the context existed: the workflow's current code
        code = provenance()
        commit, repository, run_config = code.get("commit"), code.get("url"), None
        named = [None, None, None]
    user, system = record.cpu_user_s, record.cpu_system_s
    peak = record.peak_bytes
    limit = record.limits.get("mem_bytes")
    return {
        **dict(zip(("simulation", "param_set", "ref"), named, strict=True)),
        "commit": commit,
        "repository": repository,
        "run_config": run_config,
        "attempt": attempt,
        "attempts": record.attempts,
        "retried": None,  # filled from the kept attempts by _record_part
        "reason": record.reason,
        "exit_code": record.exit_code,
        "error": record.cause,
        "wall_s": record.wall_s,
        "cpu_s": user + system if is_number(user) and is_number(system) else None,
        "peak_rss_mb": peak / 1e6 if is_number(peak) else None,
        "mem_limit_mb": limit / 1e6 if is_number(limit) else None,
    }


class _RunFiles:
    """Where one run's files are, under the results and benchmarks directories."""

    def __init__(self, run: str, results: Path, benchmarks: Path) -> None:
        self.params = under(results, layout.PARAMS, layout.RESULTS, run)
        self.failed = under(results, layout.FAILED_RUN, layout.RESULTS, run)
        self.record = under(results, layout.RECORD, layout.RESULTS, run)
        self.data = under(results, layout.DATA, layout.RESULTS, run)
        self.benchmark = under(
            benchmarks, layout.benchmark(SIMULATION_RULE, run), layout.BENCHMARKS, ""
        )


def _record_part(
    files: _RunFiles, provenance: Callable[[], Mapping[str, Any]], problems: Problems
) -> dict[str, Any] | None:
    """The record columns: from ``record.json``, else from the last kept failed attempt
    (``failed/<run>/attempt-<N>/record.json``). ``attempts`` is the record's, else the highest
    attempt number known (the record's context, the kept attempts)."""
    record_path, attempt = files.record, None
    kept = kept_attempts_in(files.failed)
    if not record_path.exists():
        if not kept:
            problems.add(record_path, "is missing (and no failed attempt was kept)")
            return None
        attempt, record_path = kept[-1].number, kept[-1].record
    record = load_record(record_path, problems)
    numbers = [a.number for a in kept]
    if record is None:
        return {"attempts": max(numbers)} if numbers else None
    columns = _record_columns(record, provenance, attempt)
    value = columns["attempt"]  # an integer or nothing: a corrupt value is named
    if value is not None and (not is_number(value) or value != int(value)):
        problems.add(record_path, f"has attempt {value!r}, not an integer (left empty)")
        columns["attempt"] = value = None
    if columns["attempts"] is None and (numbers or value is not None):
        columns["attempts"] = max([*numbers, *([int(value)] if value is not None else [])])
    final = columns["attempts"]
    earlier = [a for a in kept if not isinstance(final, int) or a.number < final]
    columns["retried"] = (retry_summary(earlier) or "").removeprefix("retried: ") or None
    return columns


def _benchmark_part(files: _RunFiles, complete: bool, problems: Problems) -> dict[str, Any] | None:
    """Snakemake's benchmark columns of the run, or None (a problem noted when unusable)."""
    try:
        return read_benchmark_tsv(files.benchmark)
    except FileNotFoundError:
        if complete:  # a failed job's benchmark file is deleted with its other outputs
            problems.add(files.benchmark, "is missing")
    except (OSError, UnicodeDecodeError, ValueError) as error:
        detail = str(error) if isinstance(error, ValueError) else "cannot be read"
        problems.add(files.benchmark, detail)
    return None


def _timers_part(data: Path, problems: Problems) -> dict[str, Any]:
    """``timer.<name>`` of every ``*.h5`` under ``data`` (the first file, in path order, wins)."""
    found: dict[str, Any] = {}
    if not data.is_dir():
        return found
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
            found.setdefault(f"timer.{name}", seconds)
    return found


def _params_part(path: Path, problems: Problems) -> dict[str, Any] | None:
    """The run's parameters as ``param.*`` columns; None when they cannot be used (noted), or,
    unnoted, for a refused parameter set: its file holds the problem lines, not an object (the
    run's record, reason refused, says them)."""
    noted = Problems()
    params = read_json(path, noted)
    if params is not None:
        return _flatten(params)
    if not _holds_refusal(path):
        problems.items.extend(noted.items)
    return None


def _holds_refusal(path: Path) -> bool:
    """Whether ``path`` holds a refused parameter set's problem lines (a JSON list of strings)."""
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(found, list) and all(isinstance(line, str) for line in found)


def _collect_run(
    files: _RunFiles, provenance: Callable[[], Mapping[str, Any]], problems: Problems
) -> dict[str, Any] | None:
    """The row of one run, or None when none of its files could be used."""
    complete = files.record.exists()
    parts = [
        _params_part(files.params, problems),
        _record_part(files, provenance, problems),
        _benchmark_part(files, complete, problems),
        _timers_part(files.data, problems) or None,
    ]
    if all(part is None for part in parts):
        return None
    row: dict[str, Any] = {}
    for part in parts:
        row.update(part or {})
    return row


def collect(
    runs: Sequence[str],
    results_dir: PathLike = layout.RESULTS,
    benchmarks_dir: PathLike = layout.BENCHMARKS,
    *,
    warn: Warn = warn,
) -> pandas.DataFrame:
    """One row per run, in the order given: :data:`RECORD_COLUMNS`, ``param.<dotted.key>``
    from ``results/params/{run}.json``, :data:`SNAKEMAKE_COLUMNS` from
    ``benchmarks/run_simulation/{run}.tsv``, and ``timer.<name>`` from the ``benchmark`` group
    of every ``*.h5`` under ``results/runs/{run}/data`` (the first file, in path order, wins).

    ``commit`` and ``repository`` come from the record's context, or for older records from
    ``results/code/provenance.json``. A failed run's row says why: ``reason``, ``exit_code``
    and ``error`` (the record's one-line cause, e.g. ``ModuleNotFoundError: No module named
    'brian' (src/tuned.py:2)``; empty for runs that did not fail); ``attempts`` is how many
    attempts the run took. A run without ``record.json`` whose failed attempts were kept
    (``results/failed/{run}/attempt-{N}/record.json``) gets its row from the last attempt
    (``attempt`` = N, ``reason`` e.g. ``memory``). Files that are missing or unusable (also a
    corrupt failure record, or a record key of the wrong type, left empty) are named in one
    ``warn`` line per run; the row is made from the rest, or left out when nothing was found.
    Columns always present: the record and Snakemake columns (empty when unknown).
    """
    import pandas as pd

    results, benchmarks = Path(results_dir), Path(benchmarks_dir)
    code: dict[str, Any] | None = None

    def provenance() -> Mapping[str, Any]:
        nonlocal code
        if code is None:
            problems = Problems()
            path = under(results, layout.PROVENANCE, layout.RESULTS, "")
            code = read_json(path, problems) or {}
            if problems.items:
                warn(f"bench collect: {problems.items[0]}; commit and repository left empty")
        return code

    rows: list[dict[str, Any]] = []
    for run in runs:
        problems = Problems()
        files = _RunFiles(str(run), results, benchmarks)
        row = _collect_run(files, provenance, problems)
        if row is not None:
            rows.append(_rounded({"run": str(run), **row}))
        if problems.items:
            outcome = "row made from the rest" if row is not None else "no row"
            warn(f"bench collect: run {run}: {'; '.join(problems.items)}; {outcome}")
    params = _first_seen(key for row in rows for key in row if key.startswith("param."))
    timers = _first_seen(key for row in rows for key in row if key.startswith("timer."))
    columns = [*RECORD_COLUMNS, *params, *SNAKEMAKE_COLUMNS, *timers]
    table = pd.DataFrame(rows, columns=columns)
    for column in ("attempt", "attempts", "exit_code"):
        table[column] = pd.to_numeric(table[column]).astype("Int64")
    for column in params:  # an integer parameter stays one (seed 1, not 1.0), runs without it empty
        given = [row[column] for row in rows if row.get(column) is not None]
        if given and all(type(value) is int for value in given):
            table[column] = table[column].astype("Int64")
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
            present = [v for v in series if not is_missing(v)]
            if present and all(is_number(v) for v in present):
                out[column] = pd.to_numeric(series, errors="coerce").astype("float64")
            else:
                out[column] = series.map(lambda v: "" if is_missing(v) else str(v)).astype(object)
    return out


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
    """A self-contained HTML page showing ``table`` (values escaped), written atomically: how
    many runs failed (with a link to the failures page beside it), their rows tinted, commits
    as their first 12 hex digits (the CSV keeps them whole)."""
    import html

    failed = [not is_missing(value) and str(value) != "" for value in table.get("error", [])]
    shown = table.copy()
    for column in ("ref", "commit"):
        if column in shown:
            shown[column] = shown[column].map(_short_sha)
    body = shown.to_html(index=False, na_rep="", float_format=lambda v: f"{v:.4g}", border=0)
    count = f"{len(table)} runs"
    if any(failed):
        link = html.escape(Path(layout.FAILURES_HTML).name)
        count += (
            f": {len(table) - sum(failed)} ok, {sum(failed)} failed (tinted; why each failed, "
            f"its traceback and kept figures: <a href='{link}'>{link}</a>)"
        )
    page = (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:sans-serif;font-size:13px}table{border-collapse:collapse}"
        "th,td{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}"
        "th{position:sticky;top:0;background:#f4f4f4}tr.failed td{background:#fbe3e3}"
        f"</style></head><body><h1>{html.escape(title)}</h1><p>{count}</p>\n"
        f"{_mark_failed_rows(body, failed)}\n</body></html>\n"
    )
    replace_atomically(html_path, lambda tmp: tmp.write_text(page, encoding="utf-8"))


def _short_sha(value: Any) -> Any:
    """A full commit SHA as its first 12 hex digits; anything else as it is."""
    text = str(value)
    if len(text) == 40 and all(c in "0123456789abcdef" for c in text):
        return text[:12]
    return value


def _mark_failed_rows(body: str, failed: Sequence[bool]) -> str:
    """pandas' HTML table with ``class="failed"`` on the body rows flagged in ``failed`` (one
    flag per row, in order); unchanged if the rows cannot be matched to the flags."""
    head, tbody, rows = body.partition("<tbody>")
    parts = rows.split("<tr>")
    if not tbody or len(parts) - 1 != len(failed):
        return body
    rows_out = [
        ('<tr class="failed">' if bad else "<tr>") + part
        for bad, part in zip(failed, parts[1:], strict=True)
    ]
    return head + tbody + parts[0] + "".join(rows_out)


def read_table(path: PathLike) -> pandas.DataFrame:
    """A benchmark table written by :func:`write_table` (.csv, or .h5/.hdf5/.hdf).

    Raises UserError naming the file when it is missing, of another kind, unreadable, or has
    no ``run`` column. Run ids, simulations, parameter sets and refs are read as text (a ref
    ``2`` stays ``"2"``); empty cells are missing values.
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
    table: object
    try:
        if suffix == ".csv":
            text = dict.fromkeys(TEXT_COLUMNS, str)
            table = pd.read_csv(source, dtype=text, keep_default_na=True)
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
