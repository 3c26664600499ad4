"""Commits side by side inside one benchmark table: ``simwarden bench compare --by commit``.

Rows are grouped by (``simulation``, ``param_set``); in each group every ref (the commit as the
config names it; the short SHA when a row has none) is compared with the group's first ref in
table order, or with the ref given as ``base``. A pair gets the change of each metric, through
:func:`simwarden.results.compare.compare` (the same arithmetic and regression rule as between
two tables), and the comparison of the two runs' data directories
(``results/runs/<run>/data``, see :mod:`simwarden.results.outputs`).

:func:`compare_commits` returns the pairs as rows, :func:`write_commit_comparison_html` makes a
page of them, :class:`CommitComparison` ``.format()`` is what the command prints.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simwarden.core.errors import UserError
from simwarden.core.fsutil import replace_atomically
from simwarden.core.log import say
from simwarden.pipeline import layout
from simwarden.results.compare import (
    DEFAULT_MIN_CHANGE_MB,
    DEFAULT_MIN_CHANGE_S,
    SHORT_SHA,
    Change,
    check_metrics,
    compare,
    read_compared,
)
from simwarden.results.outputs import (
    DEFAULT_ATOL,
    DEFAULT_RTOL,
    IDENTICAL,
    WITHIN_TOLERANCE,
    OutputComparison,
    check_tolerance,
    compare_outputs,
)
from simwarden.results.table import DEFAULT_METRICS, under
from simwarden.results.values import PathLike, is_missing

if TYPE_CHECKING:
    import pandas

# The columns --by commit needs (param_set may be absent: every run is then its own set).
NEEDED_COLUMNS = ("simulation", "ref")


@dataclass(frozen=True)
class CommitPair:
    """One simulation and parameter set at two refs: ``base_ref`` (run ``base_run``) and ``ref``
    (run ``run``). ``simulation``/``param_set`` are "" when the table has none; ``changes`` are
    the metrics of ``run`` against ``base_run``; ``missing_dirs`` the data directories that do
    not exist (a named difference)."""

    simulation: str
    param_set: str
    base_ref: str
    ref: str
    base_run: str
    run: str
    changes: tuple[Change, ...]
    outputs: OutputComparison
    missing_dirs: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """``lif/small``: the simulation and parameter set, or the run id when both are empty."""
        return "/".join(part for part in (self.simulation, self.param_set) if part) or self.run

    @property
    def head(self) -> str:
        """``lif/small: v1 -> v2``."""
        return f"{self.label}: {self.base_ref} -> {self.ref}"

    @property
    def regressions(self) -> list[Change]:
        """The metrics flagged as regressions."""
        return [change for change in self.changes if change.regression]

    @property
    def differs(self) -> bool:
        """An output file differs, is missing on one side or unreadable, or a data directory
        does not exist."""
        return self.outputs.differs or bool(self.missing_dirs)

    def lines(self) -> list[str]:
        """One line per metric, then one per data directory missing and per file, each
        beginning with :attr:`head`: ``lif/small: v1 -> v2  output.h5: different (...)``."""
        found = [f"{self.head}  {c.metric} {c.describe()}" for c in self.changes]
        found += [f"{self.head}  outputs: no data directory {d}" for d in self.missing_dirs]
        found += [f"{self.head}  {item.describe()}" for item in self.outputs.files]
        if not self.outputs.files and not self.missing_dirs:
            found.append(f"{self.head}  outputs: no output files")
        return found


@dataclass
class CommitComparison:
    """Every pair of one table (see the module's docstring) and what could not be paired."""

    label: str
    runs: int
    base: str | None
    threshold: float
    min_change_s: float
    min_change_mb: float
    rtol: float
    atol: float
    pairs: list[CommitPair] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[tuple[CommitPair, Change]]:
        """Every flagged metric, with its pair."""
        return [(pair, change) for pair in self.pairs for change in pair.regressions]

    @property
    def differs(self) -> list[CommitPair]:
        """The pairs whose outputs differ."""
        return [pair for pair in self.pairs if pair.differs]

    def format(self) -> str:
        """The header (table, base, regression rule, tolerance), the lines of every pair, what
        could not be paired, then the regressions and the pairs whose outputs differ."""
        base = f"ref {self.base}" if self.base else "the first ref of each simulation/param set"
        lines = [
            f"TABLE = {self.label} ({self.runs} run{'s' if self.runs != 1 else ''}); "
            f"each ref against {base}",
            f"regression: NEW/OLD - 1 > {self.threshold * 100:+g}% and a rise above "
            f"{self.min_change_s:g} s (times) or {self.min_change_mb:g} MB (memory); outputs "
            f"equal within rtol {self.rtol:g}, atol {self.atol:g}",
        ]
        for pair in self.pairs:
            lines += pair.lines()
        if not self.pairs:
            lines.append("no simulation/param set has runs at two refs")
        lines += self.notes
        flagged = self.regressions
        if flagged:
            listed = ", ".join(f"{p.head} {c.metric} {c.ratio:+.1%}" for p, c in flagged)
            lines.append(f"{len(flagged)} regression{'s' if len(flagged) != 1 else ''}: {listed}")
        else:
            lines.append("no regressions")
        differ = self.differs
        if differ:
            listed = ", ".join(f"{p.head} ({_changed_files(p)})" for p in differ)
            pairs = f"{len(differ)} pair{'s' if len(differ) != 1 else ''}"
            lines.append(f"outputs differ in {pairs}: {listed}")
        else:
            lines.append("outputs: no differences")
        return "\n".join(lines)


def _changed_files(pair: CommitPair) -> str:
    names = [item.path for item in pair.outputs.different_files]
    return ", ".join(names or ["no data directory"])


def _text(value: Any) -> str:
    return "" if is_missing(value) else str(value).strip()


@dataclass
class _Group:
    simulation: str
    param_set: str
    refs: dict[str, int] = field(default_factory=dict)  # ref -> row position, table order


def _groups(table: pandas.DataFrame, label: str) -> tuple[list[_Group], list[str]]:
    """The (simulation, param_set) groups in table order, and the runs with no ref or commit."""
    missing = [column for column in NEEDED_COLUMNS if column not in table.columns]
    if missing:
        raise UserError(
            f"{label}: has no {' or '.join(repr(c) for c in missing)} column; --by commit needs "
            "a table collected by `simwarden bench collect` from runs that record them"
        )
    groups: dict[tuple[str, str], _Group] = {}
    unnamed: list[str] = []
    runs = [str(run) for run in table["run"]]
    for position, row in enumerate(table.to_dict("records")):
        commit = _text(row.get("commit"))[:SHORT_SHA]
        ref = _text(row["ref"]) or commit
        if not ref:
            unnamed.append(runs[position])
            continue
        key = (_text(row["simulation"]), _text(row.get("param_set")))
        group = groups.setdefault(key, _Group(*key))
        if ref in group.refs:
            first = runs[group.refs[ref]]
            raise UserError(
                f"{label}: runs {first!r} and {runs[position]!r} are both "
                f"{'/'.join(p for p in key if p) or 'one run'} at ref {ref!r}"
            )
        group.refs[ref] = position
    return list(groups.values()), unnamed


def _data_dir(results: Path, run: str) -> Path:
    return under(results, layout.DATA, layout.RESULTS, run)


def _pairs(
    groups: list[_Group], base: str | None, notes: list[str]
) -> list[tuple[_Group, str, str]]:
    """(group, base ref, ref) for every ref of every group that has its base; notes the rest."""
    planned = []
    for group in groups:
        name = "/".join(p for p in (group.simulation, group.param_set) if p) or "(unnamed)"
        first = base or next(iter(group.refs))
        if first not in group.refs:
            notes.append(f"{name}: no run at ref {first} (refs {', '.join(group.refs)})")
            continue
        others = [ref for ref in group.refs if ref != first]
        if not others:
            notes.append(f"{name}: only ref {first}, nothing to compare")
        planned += [(group, first, ref) for ref in others]
    return planned


def commit_comparison(  # noqa: PLR0913 - the two tolerances and compare's own settings
    table: PathLike | pandas.DataFrame,
    results_dir: PathLike | None = None,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    *,
    base: str | None = None,
    threshold: float = 0.10,
    metrics: Sequence[str] = DEFAULT_METRICS,
    min_change_s: float = DEFAULT_MIN_CHANGE_S,
    min_change_mb: float = DEFAULT_MIN_CHANGE_MB,
) -> CommitComparison:
    """Every ref of every (simulation, param_set) of ``table`` (a path, or a DataFrame) against
    its base (see the module's docstring). Data directories are found under ``results_dir``
    (default: the table's directory, i.e. ``results/``).

    Raises UserError when the table cannot be read, lacks a ``simulation`` or ``ref`` column or
    a metric, holds two runs of one group at the same ref, no run is at ``base``, or a
    tolerance or threshold is negative.
    """
    rtol, atol = check_tolerance("--rtol", rtol), check_tolerance("--atol", atol)
    if isinstance(table, str | os.PathLike):
        label, frame = str(table), read_compared(table)
        results_dir = Path(table).parent if results_dir is None else results_dir
    else:
        label, frame = "table", table
        results_dir = layout.RESULTS if results_dir is None else results_dir
    groups, unnamed = _groups(frame, label)
    metrics = tuple(metrics)
    check_metrics(frame, label, metrics)
    if base is not None and not any(base in group.refs for group in groups):
        refs = dict.fromkeys(ref for group in groups for ref in group.refs)
        raise UserError(f"{label}: no run at ref {base!r}; refs in it: {', '.join(refs)}")
    result = CommitComparison(
        label, len(frame), base, threshold, min_change_s, min_change_mb, rtol, atol
    )
    planned = _pairs(groups, base, result.notes)
    if unnamed:
        result.notes.append(f"no ref or commit, not compared: {', '.join(unnamed)}")
    changes = _metric_changes(frame, planned, metrics, threshold, (min_change_s, min_change_mb))
    runs = [str(run) for run in frame["run"]]
    for number, (group, first, ref) in enumerate(planned):
        base_run, run = runs[group.refs[first]], runs[group.refs[ref]]
        dirs = [_data_dir(Path(results_dir), name) for name in (base_run, run)]
        outputs = compare_outputs(dirs[0], dirs[1], rtol, atol, labels=(first, ref))
        absent = tuple(str(d) for d in dirs if not d.is_dir())
        pair = CommitPair(
            group.simulation,
            group.param_set,
            first,
            ref,
            base_run,
            run,
            changes.get(str(number), ()),
            outputs,
            absent,
        )
        result.pairs.append(pair)
    return result


def _metric_changes(
    frame: pandas.DataFrame,
    planned: list[tuple[_Group, str, str]],
    metrics: tuple[str, ...],
    threshold: float,
    minimum: tuple[float, float],
) -> dict[str, tuple[Change, ...]]:
    """The changes of each planned pair, keyed by its position as text: one call of
    :func:`compare` with the base rows as OLD and the compared rows as NEW, both renamed to the
    pair's position so that they match."""
    if not planned:
        return {}
    old = frame.iloc[[group.refs[first] for group, first, _ in planned]].copy()
    new = frame.iloc[[group.refs[ref] for group, _, ref in planned]].copy()
    old["run"] = new["run"] = [str(number) for number in range(len(planned))]
    found = compare(old, new, threshold, metrics, min_change_s=minimum[0], min_change_mb=minimum[1])
    changes: dict[str, list[Change]] = {}
    for change in found.changes:
        changes.setdefault(change.run, []).append(change)
    return {key: tuple(value) for key, value in changes.items()}


def compare_commits(
    table: PathLike | pandas.DataFrame,
    results_dir: PathLike | None = None,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    *,
    base: str | None = None,
) -> list[CommitPair]:
    """The pairs of :func:`commit_comparison` with the default metrics and regression rule: one
    row per (simulation, param_set, ref) compared with its base, in table order."""
    return commit_comparison(table, results_dir, rtol, atol, base=base).pairs


_STYLE = (
    "body{font-family:sans-serif;font-size:13px}table{border-collapse:collapse}"
    "th,td{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}"
    "th{background:#f4f4f4}.bad{color:#b00;font-weight:bold}.ok{color:#070}"
)


def verdict(pair: CommitPair) -> str:
    """Did the results change? ``identical``, ``equal within tolerance``, or ``different:``
    and the files that differ (``different: out.h5``) or ``no data directory``."""
    if pair.missing_dirs:
        return "different: no data directory"
    if pair.differs:
        return f"different: {_changed_files(pair)}"
    if any(item.verdict == WITHIN_TOLERANCE for item in pair.outputs.files):
        return WITHIN_TOLERANCE
    return IDENTICAL if pair.outputs.files else "no output files"


def _html_row(pair: CommitPair) -> str:
    import html

    def cell(text: str, bad: bool) -> str:
        return f"<span class='{'bad' if bad else 'ok'}'>{html.escape(text)}</span>"

    metrics = "<br>".join(cell(f"{c.metric} {c.describe()}", c.regression) for c in pair.changes)
    files = [cell(f"no data directory {d}", True) for d in pair.missing_dirs]
    files += [cell(item.describe(), item.differs) for item in pair.outputs.files]
    cells = [pair.label, f"{pair.base_ref} \u2192 {pair.ref}", f"{pair.base_run} / {pair.run}"]
    texts = [html.escape(text) for text in cells]
    texts += [metrics, cell(verdict(pair), pair.differs), "<br>".join(files) or "no output files"]
    return "<tr>" + "".join(f"<td>{text}</td>" for text in texts) + "</tr>"


def write_commit_comparison_html(
    rows: Sequence[CommitPair],
    path: PathLike,
    title: str = "Commits compared",
    *,
    empty: str = "no pairs",
) -> Path:
    """A self-contained HTML page (no scripts, no external files) with one table row per pair:
    simulation/param set, refs, runs, the metric changes (both values; regressions in red), the
    verdict and that of every output file (differences in red); written atomically. With no
    pairs the page is the title and one line, ``empty``. Returns ``path``."""
    import html

    names = ("simulation", "refs", "runs", "metrics", "results", "outputs")
    header = "".join(f"<th>{name}</th>" for name in names)
    body = "\n".join(_html_row(pair) for pair in rows)
    differ = sum(pair.differs for pair in rows)
    shown = (
        f"<p>{len(rows)} pair{'s' if len(rows) != 1 else ''}, outputs differ in {differ}</p>\n"
        f"<table><thead><tr>{header}</tr></thead><tbody>\n{body}\n</tbody></table>\n"
        if rows
        else f"<p>{html.escape(empty)}</p>\n"
    )
    page = (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{shown}</body></html>\n"
    )
    return replace_atomically(path, lambda tmp: tmp.write_text(page, encoding="utf-8"))


def compare_table_outputs(
    old: PathLike, new: PathLike, runs: Sequence[str], rtol: float, atol: float
) -> list[tuple[str, OutputComparison]]:
    """For two tables in two different directories (each a ``results/``), the outputs of each
    of ``runs`` whose data directory exists beside both tables, in the order given; [] when
    both tables share a directory (their runs' data would be compared with itself)."""
    roots = [Path(old).parent, Path(new).parent]
    if roots[0].resolve() == roots[1].resolve():
        return []
    found = []
    for run in runs:
        dirs = [_data_dir(root, run) for root in roots]
        if all(d.is_dir() for d in dirs):
            found.append((run, compare_outputs(dirs[0], dirs[1], rtol, atol, ("OLD", "NEW"))))
    return found


# The workflow's page when nothing has two commits (one line, as the brief of the page says).
NO_PAIRS = "No simulation lists two commits: nothing to compare."
CSV_COLUMNS = (
    ("simulation", "param_set", "base_ref", "ref", "base_run", "run", "results")
    + tuple(f"{side}{metric}" for metric in DEFAULT_METRICS for side in ("base_", ""))
    + ("file", "verdict", "detail")
)


def _csv_rows(pair: CommitPair) -> list[dict[str, Any]]:
    """One row per file of ``pair`` (and per missing data directory; one row when it has
    neither): both runs' metrics, the file's verdict and what differs."""
    head: dict[str, Any] = {
        "simulation": pair.simulation,
        "param_set": pair.param_set,
        "base_ref": pair.base_ref,
        "ref": pair.ref,
        "base_run": pair.base_run,
        "run": pair.run,
        "results": verdict(pair),
    }
    for change in pair.changes:
        head[f"base_{change.metric}"], head[change.metric] = change.before, change.after
    rows = [{**head, "verdict": "no data directory", "detail": d} for d in pair.missing_dirs]
    for item in pair.outputs.files:
        detail = "; ".join(d.describe() for d in item.datasets)
        detail = detail or item.side or item.error or item.detail or ""
        rows.append({**head, "file": item.path, "verdict": item.verdict, "detail": detail})
    return rows or [{**head, "verdict": "no output files"}]


def write_commit_pages(
    table: pandas.DataFrame,
    html: PathLike,
    csv: PathLike,
    results_dir: PathLike = layout.RESULTS,
    *,
    warn: Callable[[str], object] = say,
) -> list[CommitPair]:
    """The workflow's "Did the results change?": every pair of ``table`` (see
    :func:`commit_comparison`, default tolerance and regression rule) as a page, ``html``, and a
    CSV, ``csv``, one row per pair and file (:data:`CSV_COLUMNS`). With no simulation at two
    commits the page is one line, :data:`NO_PAIRS`; a table that cannot be compared (a metric
    that is not numbers, two runs of one simulation at one ref) is one ``warn`` line and a page
    saying why. Returns the pairs."""
    import csv as csv_module

    pairs: list[CommitPair] = []
    empty = NO_PAIRS
    if all(column in table.columns for column in NEEDED_COLUMNS) and len(table):
        try:
            pairs = commit_comparison(table, results_dir).pairs
        except UserError as error:
            empty = f"Not compared: {error}"
            warn(f"{Path(html).name}: {empty}")
    write_commit_comparison_html(pairs, html, "Did the results change?", empty=empty)

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="", encoding="utf-8") as handle:
            writer = csv_module.DictWriter(handle, CSV_COLUMNS, restval="")
            writer.writeheader()
            writer.writerows(row for pair in pairs for row in _csv_rows(pair))

    replace_atomically(csv, write)
    return pairs
