"""Did a rerun give the same results? A reproduction's files against the record's manifest.

Every manifest entry (``results/runs/<run>/data/...``, ``results/figures/<run>/...``, or a kept
attempt's ``results/failed/<run>/attempt-N/{data,figures}/...``) is matched with the file at the
same place under the reproduction's ``data/`` or ``figures/`` directory and gets one verdict:

- ``identical``: its sha256 is the manifest's;
- ``equal by value`` / ``equal within tolerance``: bytes differ, but the run's own file (still
  the manifest's bytes) and the reproduction's are equal as
  :func:`simwarden.results.outputs.compare_outputs` judges them (HDF5 by dataset values, PNG by
  pixels), or a PDF/SVG figure differs only in the creation date matplotlib writes into it;
- ``different`` (with the datasets that differ), ``missing in the reproduction``, or ``new in
  the reproduction`` (a file the manifest does not list). A bytes difference whose original
  file is gone or changed since the run cannot be compared by value: ``different``, saying so.

Package versions that differ between the record's ``environment.packages`` and the
reproduction's are listed: they are the usual reason for a difference.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from simwarden.pipeline import layout
from simwarden.results.outputs import (
    DEFAULT_ATOL,
    DEFAULT_RTOL,
    IDENTICAL,
    WITHIN_TOLERANCE,
    FileComparison,
    compare_outputs,
    count_verdicts,
)
from simwarden.warden.record import Record

EQUAL_BY_VALUE = "equal by value"
EQUAL_BUT_DATE = "equal but for the creation date"
DIFFERENT = "different"
MISSING = "missing in the reproduction"
NEW = "new in the reproduction"
# Verdicts that make a reproduction fail (exit 1).
FAILING = frozenset((DIFFERENT, MISSING, NEW))
# What matplotlib stamps into a vector figure at every save (SOURCE_DATE_EPOCH aside).
_DATES = re.compile(rb"/CreationDate \(D:[^)]*\)|<dc:date>[^<]*</dc:date>")
_VECTOR = (".pdf", ".svg")
# simwarden.timers writes a run's phase timers here (its default group, which bench collect
# reads): how fast the run was, which no rerun repeats, so never a difference of its results.
TIMERS_GROUP = "/benchmark/"
# A manifest path: the run's data or figures, or a kept attempt's, then the file's own path.
_PLACES = (
    re.compile(r"results/runs/(?P<run>.+)/(?P<kind>data)/(?P<rel>.+)"),
    re.compile(r"results/failed/(?P<run>.+)/attempt-\d+/(?P<kind>data|figures)/(?P<rel>.+)"),
    re.compile(r"results/(?P<kind>figures)/(?P<run>.+?)/(?P<rel>(?:png|pdf|svg)/.+)"),
)


@dataclass(frozen=True)
class FileVerdict:
    """One manifest entry (or a new file, ``path`` then under the reproduction) and its verdict."""

    path: str
    verdict: str
    detail: str | None = None

    @property
    def fails(self) -> bool:
        return self.verdict in FAILING

    def describe(self) -> str:
        """``results/runs/a/data/output.h5: different (/rates: max |diff| 0.5)``."""
        return f"{self.path}: {self.verdict}" + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True)
class PackageChange:
    """A distribution whose version differs (None: not imported on that side)."""

    name: str
    recorded: str | None
    now: str | None

    def describe(self) -> str:
        return f"{self.name} {self.recorded or 'not imported'} -> {self.now or 'not imported'}"


@dataclass(frozen=True)
class ReproduceReport:
    """A reproduction of ``run`` judged against its record."""

    run: str
    original: Record
    reproduction: Record
    files: tuple[FileVerdict, ...]
    packages: tuple[PackageChange, ...]

    @property
    def reproduced(self) -> bool:
        """Every file identical or equal, none missing or new."""
        return not any(item.fails for item in self.files)

    def counts(self) -> str:
        """``3 files: 2 identical, 1 equal by value``, or ``no output files``."""
        return count_verdicts([item.verdict for item in self.files])


def judge(
    original: Record,
    reproduction: Record,
    workdir: Path,
    scratch: tuple[Path, Path],
    tolerance: tuple[float, float] = (DEFAULT_RTOL, DEFAULT_ATOL),
) -> ReproduceReport:
    """Judge the reproduction's files (``scratch``: its data and figures directories) against
    ``original.manifest``, whose paths are relative to ``workdir`` (see the module docstring).
    ``tolerance`` is ``(rtol, atol)`` for HDF5 values."""
    bases = {"data": scratch[0], "figures": scratch[1]}
    listed: set[Path] = set()
    verdicts: list[FileVerdict] = []
    by_value = _ByValue(workdir, bases, tolerance)
    for entry in original.manifest:
        path = str(entry.get("path", ""))
        place = _place(path)
        if place is None:
            continue
        new = bases[place[0]] / place[1]
        listed.add(new)
        verdicts.append(_verdict(entry, new, workdir, place, by_value))
    for kind, base in bases.items():
        for new in _files(base):
            if new not in listed:
                shown = f"{kind}/{new.relative_to(base).as_posix()}"
                verdicts.append(FileVerdict(shown, NEW))
    return ReproduceReport(
        run=(original.context.run if original.context else None) or "?",
        original=original,
        reproduction=reproduction,
        files=tuple(verdicts),
        packages=package_changes(original, reproduction),
    )


def _place(path: str) -> tuple[str, str] | None:
    """``(data|figures, path inside it)`` of a manifest path; None for another path."""
    for pattern in _PLACES:
        if match := pattern.fullmatch(path):
            return match["kind"], match["rel"]
    return None


def _verdict(
    entry: dict[str, object], new: Path, workdir: Path, place: tuple[str, str], by_value: _ByValue
) -> FileVerdict:
    """One manifest entry's verdict (see the module docstring); ``new`` its reproduction."""
    path = str(entry.get("path", ""))
    old = workdir / path
    if not new.is_file():
        return FileVerdict(path, MISSING)
    digest = sha256_of(new)
    if digest == entry.get("sha256"):
        return FileVerdict(path, IDENTICAL)
    if not old.is_file() or sha256_of(old) != entry.get("sha256"):
        why = "gone" if not old.is_file() else "changed since the run"
        return FileVerdict(path, DIFFERENT, f"bytes differ; the run's own file is {why}")
    if new.suffix.lower() in _VECTOR and _undated(old) == _undated(new):
        return FileVerdict(path, EQUAL_BUT_DATE)
    return by_value.verdict(path, old, place)


class _ByValue:
    """compare_outputs on the directories holding a run's file and its reproduction, each pair
    of directories compared once."""

    def __init__(
        self, workdir: Path, bases: dict[str, Path], tolerance: tuple[float, float]
    ) -> None:
        self.workdir, self.bases, self.tolerance = workdir, bases, tolerance
        self.done: dict[tuple[Path, Path], dict[str, FileComparison]] = {}

    def verdict(self, path: str, old: Path, place: tuple[str, str]) -> FileVerdict:
        """The verdict of the run's file ``old`` (manifest ``path``) by value."""
        kind, rel = place
        key = (old.parents[rel.count("/")], self.bases[kind])
        if key not in self.done:
            compared = compare_outputs(
                *key, *self.tolerance, labels=("the run", "the reproduction")
            )
            self.done[key] = {item.path: item for item in compared.files}
        found = self.done[key][rel]
        results = tuple(d for d in found.datasets if not d.path.startswith(TIMERS_GROUP))
        if found.verdict == "different" and found.datasets:
            if not results:
                return FileVerdict(path, EQUAL_BY_VALUE, f"but for the timers in {TIMERS_GROUP}")
            return FileVerdict(path, DIFFERENT, "; ".join(d.describe() for d in results))
        said = found.describe().removeprefix(f"{rel}: ")
        if found.differs:
            return FileVerdict(path, DIFFERENT, said.removeprefix("different (").rstrip(")"))
        if found.verdict == WITHIN_TOLERANCE:
            return FileVerdict(path, WITHIN_TOLERANCE, said.split(" (", 1)[-1].rstrip(")"))
        return FileVerdict(path, EQUAL_BY_VALUE)


def package_changes(original: Record, reproduction: Record) -> tuple[PackageChange, ...]:
    """The distributions imported on either side whose versions differ, by name."""
    old = _packages(original)
    new = _packages(reproduction)
    return tuple(
        PackageChange(name, old.get(name), new.get(name))
        for name in sorted(old.keys() | new.keys())
        if old.get(name) != new.get(name)
    )


def _packages(record: Record) -> dict[str, str]:
    packages = (record.environment or {}).get("packages")
    return {str(k): str(v) for k, v in packages.items()} if isinstance(packages, dict) else {}


def _files(directory: Path) -> Iterator[Path]:
    """Regular files under ``directory``, hidden ones (a name starting with ``.``) left out, as
    the manifest and compare_outputs leave them out."""
    if not directory.is_dir():
        return
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory)
        if path.is_file() and not any(part.startswith(".") for part in rel.parts):
            yield path


def sha256_of(path: Path) -> str:
    """The file's sha256 as hex; OSError when it cannot be read."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _undated(path: Path) -> str:
    return hashlib.sha256(_DATES.sub(b"", path.read_bytes())).hexdigest()


def format_report(report: ReproduceReport, scratch: str) -> str:
    """The report ``simwarden reproduce RUN`` prints: what ran, each file's verdict, package
    versions that differ, and a last line saying whether the run was reproduced."""
    context = report.original.context
    commit = (context.commit or "?")[:12] if context else "?"
    lines = [
        f"reproduce {report.run}: commit {commit} of {context.repository if context else '?'}",
        f"  original      {_ending(report.original)}",
        f"  reproduction  {_ending(report.reproduction)} in {scratch}",
    ]
    width = max((len(item.path) for item in report.files), default=0)
    for item in report.files:
        detail = f" ({item.detail})" if item.detail else ""
        lines.append(f"  {item.path:<{width}}  {item.verdict}{detail}")
    if report.packages:
        changed = ", ".join(change.describe() for change in report.packages)
        lines.append(f"  packages      differ from the record: {changed}")
    elif report.original.environment is not None:
        lines.append("  packages      the versions the record lists")
    lines.append(summary_line(report))
    return "\n".join(lines)


def summary_line(report: ReproduceReport) -> str:
    """``a: reproduced (3 files: 2 identical, 1 equal by value)`` or ``a: NOT reproduced
    (...): <the first differing file>``; one line per run for ``--all``."""
    head = f"{report.run}: {'reproduced' if report.reproduced else 'NOT reproduced'}"
    line = f"{head} ({report.counts()})"
    failing = [item for item in report.files if item.fails]
    if failing:
        line += f": {failing[0].describe()}" + (
            f" and {len(failing) - 1} more" if len(failing) > 1 else ""
        )
    return line


def _ending(record: Record) -> str:
    """``ended well (exit 0)`` or ``failed: <cause> (exit 137)``."""
    if record.failed:
        return f"failed: {record.cause} (exit {record.exit_code})"
    return f"ended well (exit {record.exit_code})"


def figure_formats(record: Record) -> tuple[str, ...]:
    """The figure formats the run saved (``png``, ``pdf``...), from its manifest, sorted."""
    found = set()
    for entry in record.manifest:
        place = _place(str(entry.get("path", "")))
        if place is not None and place[0] == "figures" and "/" in place[1]:
            found.add(place[1].split("/", 1)[0])
    return tuple(sorted(found))


def recorded_runs(workdir: Path) -> list[str]:
    """The ids of the runs that have a record under ``workdir``, sorted."""
    base = workdir / layout.for_run(layout.RUN_DIR, "")
    return sorted(path.parent.relative_to(base).as_posix() for path in base.rglob("record.json"))


def no_record(run: str, workdir: Path) -> str:
    """The one line for a run without a record: the path expected, near run ids if any."""
    import difflib

    expected = layout.for_run(layout.RECORD, run)
    near = difflib.get_close_matches(run, recorded_runs(workdir), n=3)
    hint = f"; did you mean {', '.join(near)}?" if near else ""
    return (
        f"run {run!r} has no record ({expected} not found){hint}; simwarden status lists the "
        "runs of this workflow; nothing was run"
    )
