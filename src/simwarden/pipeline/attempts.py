"""What a failed attempt leaves, and how a failed run is redone: the files behind the decisions
of :mod:`simwarden.pipeline.job`.

A failed attempt's record, samples, the tail of its log, its data and its figures move to
``results/failed/<run>/attempt-<N>/`` (:func:`keep_attempt`), where nothing can pass them for a
complete result. simwarden never deletes them: when the run is redone, its next first attempt
moves the earlier invocation's attempts aside to
``results/failed/<run>/_earlier/<end time>-attempt-<N>/`` (:func:`shelve_kept_attempts`; ``_``
never starts a run id, so this cannot collide with a run's directory); delete
``results/failed/`` by hand when you no longer need them. When an attempt is final,
:func:`write_failed_run` writes the run's outputs (the failure record, the samples, empty data
and figures directories) so
Snakemake sees the job complete and the aggregates run, and :func:`touch_rerun_marker` marks the
run to be redone by the next invocation.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from simwarden.core.fields import Fields
from simwarden.pipeline import layout
from simwarden.warden.record import Record, RecordError, RunContext, read_record, samples_header

# How many of the job log's last lines a kept attempt holds (log-tail.txt).
LOG_TAIL_LINES = 50
# Said in the job's log and kept in a refused run's record (retry_note).
NOT_RETRIED_REFUSED = "not retried: more memory or time cannot fix a run that cannot start"


class AttemptFiles(Fields, frozen=True):
    """The files of one ``run_simulation`` attempt (the job's outputs and its log)."""

    record: Path
    samples: Path
    data: Path
    figures: Path | None
    log: Path


EARLIER = "_earlier"


def shelve_kept_attempts(run: str, root: str | os.PathLike[str] = ".") -> list[Path]:
    """Move every kept attempt of ``run`` (an earlier invocation's: the run is being redone) to
    ``_earlier/<end time>-attempt-<N>/`` beside them, so the redo's attempts start at 1 and
    nothing is lost; returns where they went. The end time is the kept record's (UTC, compact),
    else the directory's modification time; a name already taken gets ``-2``, ``-3``, ..."""
    moved = []
    for number, directory in layout.failed_attempts(run, root):
        shelf = directory.parent / EARLIER
        shelf.mkdir(exist_ok=True)
        base = f"{_end_stamp(directory)}-attempt-{number}"
        target, n = shelf / base, 1
        while target.exists():
            n += 1
            target = shelf / f"{base}-{n}"
        os.replace(directory, target)
        moved.append(target)
    return moved


def _end_stamp(directory: Path) -> str:
    """``20261130T141502Z`` from the kept record's ``end``, else the directory's mtime."""
    import datetime as dt

    try:
        end = read_record(directory / "record.json").end
        when = dt.datetime.fromisoformat(end) if end else None
    except (OSError, ValueError, RecordError):
        when = None
    if when is None:
        when = dt.datetime.fromtimestamp(directory.stat().st_mtime, dt.UTC)
    return when.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def log_tail(path: str | os.PathLike[str], lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of the text file ``path`` ("" when it cannot be read)."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    kept = text.splitlines()[-lines:]
    return "".join(f"{line}\n" for line in kept)


def earlier_attempts(run: str, attempt: int, root: str | os.PathLike[str] = ".") -> str | None:
    """Before an attempt runs: attempt 1 shelves an earlier invocation's kept attempts (history
    now, :func:`shelve_kept_attempts`) and returns None; a retry gets the line its job's log
    should hold about the attempts before it (:func:`earlier_attempts_line`): Snakemake starts
    each attempt's log afresh, so theirs are only in their kept log tails."""
    if attempt == 1:
        shelve_kept_attempts(run, root)
        return None
    return earlier_attempts_line(run, attempt, root)


def earlier_attempts_line(run: str, attempt: int, root: str | os.PathLike[str] = ".") -> str | None:
    """``run big (attempt 2): attempt 1 ended: stopped (memory): ...; kept in
    results/failed/big/attempt-1/``: how this invocation's attempts before ``attempt`` ended,
    from their kept records (``unreadable record`` for a damaged one); None when none is kept."""
    ended = []
    for number, directory in layout.failed_attempts(run, root):
        if number >= attempt:
            continue
        try:
            cause = read_record(directory / "record.json").cause or "failed"
        except (OSError, RecordError):
            cause = "unreadable record"
        ended.append(f"attempt {number} ended: {cause}; kept in {layout.where_kept(run, number)}")
    return f"run {run} (attempt {attempt}): {'; '.join(ended)}" if ended else None


def keep_attempt(
    files: AttemptFiles, record: Record, run: str, attempt: int, root: str | os.PathLike[str]
) -> Path:
    """Move what attempt ``attempt`` of ``run`` made to its kept directory and return it:
    ``record`` as record.json, the samples, the log's tail as log-tail.txt, data/ and figures/
    (empty when the attempt made none). The attempt's record file is removed from the run's
    outputs, so nothing there passes for a result."""
    from simwarden.core.fsutil import write_json_atomic

    kept = layout.failed_attempt_dir(run, attempt, root)
    if kept.exists():  # only an interrupted keep of this same attempt leaves one
        shutil.rmtree(kept)
    kept.mkdir(parents=True)
    write_json_atomic(kept / "record.json", kept_record(files, record, kept, root).to_dict())
    files.record.unlink(missing_ok=True)
    if files.samples.exists():
        os.replace(files.samples, kept / "samples.tsv")
    else:
        (kept / "samples.tsv").write_text(samples_header())
    (kept / "log-tail.txt").write_text(log_tail(files.log), encoding="utf-8")
    for name, made in (("data", files.data), ("figures", files.figures)):
        if made is not None and made.is_dir():
            shutil.move(made, kept / name)
        else:
            (kept / name).mkdir()
    return kept


def kept_record(
    files: AttemptFiles, record: Record, kept: Path, root: str | os.PathLike[str]
) -> Record:
    """``record`` with its manifest naming the copies in ``kept`` (``kept/data/...``,
    ``kept/figures/...``) in place of the attempt's data and figures directories; paths stay
    relative to ``root``, the workflow directory."""
    from simwarden.pipeline.manifest import relocate_manifest

    def shown(path: Path) -> str:
        return Path(os.path.relpath(path.absolute(), Path(root).absolute())).as_posix()

    moves = {shown(files.data): shown(kept / "data")}
    if files.figures is not None:
        moves[shown(files.figures)] = shown(kept / "figures")
    return record.replace(manifest=relocate_manifest(record.manifest, moves))


def write_failed_run(
    files: AttemptFiles, record: Record, kept: Path, root: str | os.PathLike[str] = "."
) -> None:
    """The outputs of a run whose last attempt failed: ``record`` (the failure record, its
    manifest naming the kept files under ``root``), the samples of the kept attempt, and empty
    data and figures directories."""
    write_run_outputs(files, kept_record(files, record, kept, root), kept / "samples.tsv")


def write_run_outputs(files: AttemptFiles, record: Record, samples: Path | None = None) -> None:
    """A failed run's outputs: empty data and figures directories, ``samples`` copied (None: a
    samples file with only its header: the run never started) and ``record``, written last and
    atomically, so a job killed on the way leaves no record that looks complete."""
    from simwarden.core.fsutil import write_json_atomic

    for directory in (files.data, files.figures):
        if directory is not None:
            if directory.exists():
                shutil.rmtree(directory)
            directory.mkdir(parents=True)
    files.samples.parent.mkdir(parents=True, exist_ok=True)
    if samples is None:
        files.samples.write_text(samples_header())
    else:
        shutil.copyfile(samples, files.samples)
    files.record.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(files.record, record.to_dict())


def refused_record(message: str, context: RunContext) -> Record:
    """The record of a run that could not start (``message`` says why): reason ``refused``, exit
    code 125, no command, no samples, the attempt of ``context`` its only one."""
    import time

    from simwarden.core.errors import EXIT_USER_ERROR

    stamp = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    return Record(
        start=stamp,
        end=stamp,
        wall_s=0.0,
        exit_code=EXIT_USER_ERROR,
        reason="refused",
        message=message,
        samples=0,
        context=context,
        attempts=context.attempt,
        retry_note=NOT_RETRIED_REFUSED,
    )


def rerun_marker(run: str, root: str | os.PathLike[str] = ".") -> Path:
    """``logs/run_simulation/<run>.failed`` under ``root``: see :data:`layout.RERUN_MARKER`."""
    return Path(root) / layout.for_run(layout.RERUN_MARKER, run)


def touch_rerun_marker(run: str, root: str | os.PathLike[str] = ".", why: str = "") -> Path:
    """(Re)write ``run``'s rerun marker: the next invocation redoes the run.

    Snakemake redoes a job for an input newer than its oldest output only when the input's
    content differs from the checksum it recorded when the job ended, so every write holds new
    content: ``why`` (e.g. ``run a failed: <cause>``) and the moment it was written, in ns."""
    import time

    marker = rerun_marker(run, root)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(f"{why or f'run {run} failed'}\nmarked at {time.time_ns()}\n")
    return marker


def failed_runs(runs: Iterable[str], root: str | os.PathLike[str] = ".") -> list[str]:
    """One line per run of ``runs`` whose record says it failed (``run a failed: <cause>``) or
    cannot be read (the error, naming the file); a run with no record is not counted.

    Each such run's rerun marker is rewritten: Snakemake touches a job's outputs when it ends
    and records its inputs' checksums then, so only a marker written after that (here, from
    check_runs and the end handlers) makes the next invocation redo a run that failed again."""
    lines = []
    for run in runs:
        try:
            record = read_record(Path(root) / layout.for_run(layout.RECORD, run))
        except FileNotFoundError:
            continue
        except RecordError as error:
            lines.append(f"run {run}: {error}")
        else:
            if not record.failed:
                continue
            lines.append(f"run {run} failed: {record.cause}")
        touch_rerun_marker(run, root, lines[-1])
    return lines


def refused_and_kept(runs: Iterable[str], root: str | os.PathLike[str] = ".") -> list[str]:
    """One line per run of ``runs`` whose parameter set is refused now (``_errors.json``) while
    its record is not a refusal: a run that ended before keeps its results and is not run again
    (see :mod:`simwarden.pipeline.validation`), but the workflow must still end in an error.
    A run whose own record says refused is :func:`failed_runs`'s. No rerun marker: there is
    nothing to redo until the set is fixed (and a fix back to the same set redoes nothing)."""
    refused = layout.refused_params(root)
    lines = []
    for run in runs:
        if not (problems := refused.get(run)):
            continue
        try:
            record = read_record(Path(root) / layout.for_run(layout.RECORD, run))
        except (OSError, RecordError):
            record = None
        if record is None or record.reason != "refused":
            lines.append(
                f"run {run}: its parameter set is refused, so it was not run again (its "
                f"results are from the set before): {'; '.join(problems)}"
            )
    return lines
