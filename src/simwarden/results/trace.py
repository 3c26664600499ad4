"""Where did this file come from? ``simwarden trace PATH``: the run that made a file.

A file under the workflow's ``results/`` is placed by its path: a run's directory
(``results/runs/<run>/...``: data, record, samples), its figures (``results/figures/<run>/...``)
or a kept failed attempt (``results/failed/<run>/attempt-N/...``, whose own record is read). A
figure anywhere else (copied into a paper's folder) carries its provenance: the run id names the
record in the workflow directory, used when its commit and parameters hash match the figure's.

The file is then checked against the record's manifest: ``unchanged since the run`` (its sha256
is the one recorded), ``changed since the run``, or, for a copy found by its bytes, which
manifest entry it is a copy of. A file inside a run's data or figures directory that the
manifest does not list was not made by the run: :class:`NotTraced`, as is a file no run's path
or provenance points to.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from simwarden.core.errors import UserError
from simwarden.pipeline import layout
from simwarden.results.reproduce import sha256_of
from simwarden.warden.record import Record, RunContext, read_record

FIGURE_SUFFIXES = (".png", ".pdf", ".svg")
UNCHANGED = "unchanged since the run"
CHANGED = "changed since the run"
NO_MANIFEST = "not checked: the record has no manifest (it predates manifests)"
NO_RECORD = "not checked: no record of its run here (trace in the workflow directory, or -d DIR)"
LATER_RUN = "not checked: the run's record here is of a later run (another commit or parameters)"
RECORD_FILE = "the run's record"
SAMPLES_FILE = "the run's samples file"
_ATTEMPT = re.compile(r"attempt-\d+")


class NotTraced(Exception):  # noqa: N818 - a verdict, not a failure of the program
    """No run made this file; ``str()`` is the one line saying so (exit 1)."""


@dataclass(frozen=True)
class FileCheck:
    """The traced file against the manifest: ``state`` is one of the module's states;
    ``entry`` the manifest entry it matched (by path, or by bytes for a copy), else None."""

    path: str
    sha256: str
    size: int
    state: str
    entry: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Trace:
    """A file and the run it came from: the record (None when only the figure's provenance is
    known) and the context (the record's, else the provenance's)."""

    file: FileCheck
    context: RunContext
    record: Record | None
    record_path: str | None
    note: str | None = None


def trace(path: str | Path, workdir: str | Path = ".") -> Trace:
    """Trace ``path`` (see the module docstring) in the workflow directory ``workdir``.

    Raises UserError for a file that does not exist or a record that cannot be read, and
    :class:`NotTraced` for a file no run of this workflow made.
    """
    file, root = Path(path), Path(workdir).resolve()
    if not file.is_file():
        raise UserError(f"{path}: no such file; give a file under results/ or a saved figure")
    located = _locate(file.resolve(), root)
    if located is not None:
        record_path, inside = located
        record = read_record(root / record_path)
        check = _check(file, record, _relative(file.resolve(), root), inside)
        return Trace(check, record.context or RunContext(), record, record_path)
    if file.suffix.lower() in FIGURE_SUFFIXES:
        return _trace_figure(file, root)
    raise NotTraced(
        f"{path}: no run of this workflow made this file (not in a run's directory under "
        f"{root / layout.RESULTS}, and no simwarden provenance)"
    )


def _relative(file: Path, root: Path) -> str | None:
    return file.relative_to(root).as_posix() if file.is_relative_to(root) else None


def _locate(file: Path, root: Path) -> tuple[str, bool] | None:
    """``(record path relative to root, file is inside a data or figures directory)`` for a
    file in a run's place under ``results/``; None for another file."""
    rel = _relative(file, root)
    if rel is None:
        return None
    parts = PurePosixPath(rel).parts
    if parts[:2] == (layout.RESULTS, "failed"):
        for i, part in enumerate(parts[3:-1], start=3):
            if (
                _ATTEMPT.fullmatch(part)
                and (root.joinpath(*parts[: i + 1], "record.json")).is_file()
            ):
                inside = parts[i + 1] in ("data", "figures") and len(parts) > i + 2
                return "/".join((*parts[: i + 1], "record.json")), inside
        return None
    if parts[:2] not in ((layout.RESULTS, "runs"), (layout.RESULTS, "figures")):
        return None
    for end in range(len(parts) - 1, 2, -1):  # the deepest run directory first
        record = layout.for_run(layout.RECORD, "/".join(parts[2:end]))
        if (root / record).is_file():
            inside = parts[1] == "figures" or (parts[end] == "data" and len(parts) > end + 1)
            return record, inside
    return None


def _check(file: Path, record: Record, rel: str | None, inside: bool) -> FileCheck:
    """The file against ``record.manifest`` (``rel``: its path in the workflow, None outside)."""
    digest, size = sha256_of(file), file.stat().st_size
    shown = rel or str(file)
    if rel is not None and not inside:
        name = PurePosixPath(rel).name
        state = {"record.json": RECORD_FILE, "samples.tsv": SAMPLES_FILE}.get(name)
        if state is None:
            raise NotTraced(f"{shown}: not a file the run made (not in its data or figures)")
        return FileCheck(shown, digest, size, state)
    if not record.manifest:
        return FileCheck(shown, digest, size, NO_MANIFEST)
    by_path = next((e for e in record.manifest if rel is not None and e.get("path") == rel), None)
    if by_path is not None:
        state = UNCHANGED if by_path.get("sha256") == digest else CHANGED
        return FileCheck(shown, digest, size, state, by_path)
    copy = next((e for e in record.manifest if e.get("sha256") == digest), None)
    if copy is not None:
        return FileCheck(shown, digest, size, f"{UNCHANGED} (a copy of {copy.get('path')})", copy)
    if rel is None:  # a figure elsewhere whose provenance names the run: it changed
        return FileCheck(shown, digest, size, f"{CHANGED} (its bytes are in no manifest entry)")
    raise NotTraced(f"{shown}: the run's manifest does not list it: no run made this file")


def _trace_figure(file: Path, root: Path) -> Trace:
    """A figure outside a run's place: its provenance, and the run's record when it matches."""
    from simwarden.results.figures import read_provenance

    try:
        provenance = read_provenance(file)
    except UserError:
        raise NotTraced(f"{file}: holds no simwarden provenance: no run made this file") from None
    context = RunContext.from_dict(provenance)
    record_path = layout.for_run(layout.RECORD, context.run) if context.run else None
    if record_path is None or not (root / record_path).is_file():
        check = FileCheck(str(file), sha256_of(file), file.stat().st_size, NO_RECORD)
        note = "no record of this run in this workflow directory: the figure's provenance only"
        return Trace(check, context, None, None, note)
    record = read_record(root / record_path)
    recorded = record.context or RunContext()
    if (recorded.commit, recorded.params_hash) != (context.commit, context.params_hash):
        check = FileCheck(str(file), sha256_of(file), file.stat().st_size, LATER_RUN)
        note = f"{record_path} is of a later run (another commit or parameters): provenance only"
        return Trace(check, context, None, None, note)
    return Trace(_check(file, record, None, True), recorded, record, record_path)


def trace_dict(found: Trace) -> dict[str, Any]:
    """The trace as JSON data (``simwarden trace --format json``): the same content as the text."""
    context, record = found.context, found.record
    environment = (record.environment if record else None) or {}
    return {
        "file": {
            "path": found.file.path,
            "state": found.file.state,
            "sha256": found.file.sha256,
            "size": found.file.size,
            "manifest_entry": dict(found.file.entry) if found.file.entry else None,
        },
        "run": context.run,
        "attempt": context.attempt,
        "record": found.record_path,
        "failed": record.failed if record else None,
        "cause": record.cause if record else None,
        "repository": context.repository,
        "commit": context.commit,
        "ref": context.ref,
        "source_diff_sha256": context.source_diff_sha256,
        "params_hash": context.params_hash,
        "params": context.params,
        "run_config": context.run_config,
        "run_config_section": context.run_config_section,
        "runner": context.runner,
        "environment": environment or None,
        "host": record.host if record else None,
        "start": record.start if record else None,
        "end": record.end if record else None,
        "simwarden_version": environment.get("simwarden_version")
        or (record.simwarden_version if record else None),
        "snakemake_version": environment.get("snakemake_version"),
        "note": found.note,
    }


def format_trace(found: Trace) -> str:
    """The trace as text: one ``label  value`` line per fact, parameters and run config
    indented below their line (dotted keys, JSON values)."""
    data = trace_dict(found)
    lines = [data["file"]["path"], f"  file          {data['file']['state']}"]
    lines.append(f"                sha256 {data['file']['sha256']}, {data['file']['size']} bytes")
    lines += _run_lines(data)
    lines.append(f"  parameters    params hash {data['params_hash'] or 'not recorded'}")
    lines += [f"    {key} = {value}" for key, value in _flat(data["params"] or {})]
    lines.append(f"  run config    {data['run_config'] or 'not recorded'}")
    lines += [f"    {key} = {value}" for key, value in _flat(data["run_config_section"] or {})]
    lines += _environment_lines(data)
    if data["note"]:
        lines.append(f"  note          {data['note']}")
    return "\n".join(lines)


def _run_lines(data: Mapping[str, Any]) -> list[str]:
    attempt = f" (attempt {data['attempt']})" if data["attempt"] else ""
    if data["failed"] is None:
        ended = ""
    else:
        ended = f", failed: {data['cause']}" if data["failed"] else ", ended well"
    ref = data["ref"] if data["ref"] and data["ref"] != data["commit"] else None
    diff = data["source_diff_sha256"]
    return [
        f"  run           {data['run']}{attempt}{ended}",
        f"  record        {data['record'] or 'none in this workflow directory'}",
        f"  repository    {data['repository']}",
        f"  commit        {data['commit']}" + (f" ({ref})" if ref else ""),
        f"  local changes {_changes(diff)}",
    ]


def _changes(diff: str | None) -> str:
    """A dirty local source, said with what it means: the run used the commit."""
    if not diff:
        return "none"
    return (
        f"diff sha256 {diff} (uncommitted, not in the run: it ran the commit; the diff is "
        f"diffs/{diff}.diff in the cache)"
    )


def _environment_lines(data: Mapping[str, Any]) -> list[str]:
    environment = data["environment"] or {}
    packages = environment.get("packages") or {}
    listed = ", ".join(f"{name} {version}" for name, version in sorted(packages.items()))
    host = data["host"] or {}
    where = f"{host.get('name', '?')} ({host.get('platform', '?')})" if host else "not recorded"
    python = environment.get("executable") or environment.get("python")
    version = environment.get("version_line") or environment.get("python_version")
    return [
        f"  packages      {listed or 'not recorded'}",
        f"  interpreter   {python or 'not recorded'}"
        + (f" ({version})" if version else "")
        + (f", environment {environment['env_id']}" if environment.get("env_id") else ""),
        f"  host          {where}",
        f"  time          {data['start'] or '?'} to {data['end'] or '?'}",
        f"  versions      simwarden {data['simwarden_version'] or '?'}, "
        f"snakemake {data['snakemake_version'] or '?'}",
    ]


def _flat(values: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Nested mappings as sorted ``(dotted.key, JSON value)`` pairs."""
    pairs: list[tuple[str, str]] = []
    for key in sorted(values):
        value = values[key]
        if isinstance(value, Mapping) and value:
            pairs += _flat(value, f"{prefix}{key}.")
        else:
            pairs.append((f"{prefix}{key}", json.dumps(value, sort_keys=True)))
    return pairs
