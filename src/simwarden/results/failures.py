"""The report's page of failed runs (``results/failures.html``): for every run that failed, why
(its reason and one-line cause), the traceback, its attempts, where its files are kept and the
figures it drew before it failed, embedded, so the page works on its own (also inside
``snakemake --report``).

Records are read through :mod:`simwarden.warden.record` (tolerantly, via
:func:`simwarden.results.values.load_record`); kept attempts through
:mod:`simwarden.results.attempts`. Stdlib only.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from simwarden.core.fsutil import replace_atomically
from simwarden.pipeline import layout
from simwarden.results.attempts import KeptAttempt, failure_reason, kept_attempts
from simwarden.results.values import Problems, Warn, load_record, warn
from simwarden.warden.record import Record

NO_FAILURES = "No run failed."
TITLE = "Failed runs"
_STYLE = (
    "body{font-family:sans-serif;font-size:14px;max-width:70em;margin:1em auto;padding:0 1em}"
    "table{border-collapse:collapse}th,td{padding:3px 8px;border-bottom:1px solid #ddd;"
    "text-align:left;vertical-align:top}th{background:#f4f4f4}"
    "pre{background:#f8f8f8;padding:8px;overflow-x:auto;font-size:12px}"
    "figure{display:inline-block;margin:0 1em 1em 0}img{max-width:100%;border:1px solid #ccc}"
    "figcaption{font-size:12px;color:#555}code{background:#f4f4f4;padding:0 3px}"
)


@dataclass(frozen=True)
class Failure:
    """One failed run as the page shows it. ``record`` is the record of its last attempt (None
    when no record of it could be read), ``record_path`` where it was read (relative to the
    workflow directory); ``kept`` its kept attempts, in order."""

    run: str
    record: Record | None
    record_path: Path | None
    kept: tuple[KeptAttempt, ...]
    attempts: int | None

    @property
    def reason(self) -> str:
        """``memory``, ``exit code 1``, ... (see :func:`failure_reason`); ``unknown`` without
        a record."""
        return failure_reason(self.record) if self.record is not None else "unknown"

    @property
    def cause(self) -> str:
        """The record's one-line cause, else its message, else what is known."""
        if self.record is None:
            return "no readable record"
        return self.record.cause or self.record.message or self.reason


def find_failures(runs: Sequence[str], workdir: Path, warn: Warn = warn) -> list[Failure]:
    """The failed runs among ``runs`` in the workflow directory ``workdir``, in the order given.

    A run failed when its record (``results/runs/<run>/record.json``) says so
    (:attr:`Record.failed`), or when it has no usable record but kept failed attempts
    (``results/failed/<run>/attempt-<N>/``; the last readable one's record is shown). A record
    that is corrupt or half-written is named in one ``warn`` line per run and the run is shown
    from the rest."""
    failures = []
    for run in runs:
        problems = Problems()
        final_path = workdir / layout.for_run(layout.RECORD, run)
        final = load_record(final_path, problems) if final_path.exists() else None
        kept = tuple(kept_attempts(run, workdir))
        record, source = final, final_path if final is not None else None
        if final is None:
            for attempt in reversed(kept):
                record = load_record(attempt.record, problems)
                if record is not None:
                    source = attempt.record
                    break
        source = source.relative_to(workdir) if source is not None else None
        if problems.items:
            warn(f"failures page: run {run}: {'; '.join(problems.items)}; shown from the rest")
        if not (record is not None and record.failed) and not (final is None and kept):
            continue
        attempts = record.attempts if record is not None else None
        if attempts is None and record is not None and record.context is not None:
            attempts = record.context.attempt
        numbers = [a.number for a in kept]
        attempts = max([*numbers, *([attempts] if attempts else [])], default=None)
        failures.append(Failure(run, record, source, kept, attempts))
    return failures


def write_failures_html(runs: Sequence[str], workdir: Path, path: Path) -> None:
    """Write the page of failed runs among ``runs`` (of the workflow in ``workdir``) to
    ``path``, atomically: one self-contained HTML file (figures embedded as base64 PNG).

    For each failed run: its reason and cause, the traceback (or the last lines of stderr) in
    a collapsible ``<details>``, its attempts, where its files are kept
    (``results/failed/<run>/attempt-<N>/``) and every PNG figure its kept attempts saved
    (``figures/png/``). With no failed run the page says "No run failed.". Corrupt records are
    named in one warning line per run (see :func:`find_failures`)."""
    failures = find_failures(runs, Path(workdir))
    parts = [
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>",
        f"<title>{TITLE}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{TITLE}</h1>",
    ]
    if not failures:
        parts.append(f"<p>{NO_FAILURES}</p>")
    else:
        parts.append(f"<p>{len(failures)} of {len(runs)} runs failed.</p>")
        parts.append(_index(failures))
        parts.extend(_section(failure) for failure in failures)
    parts.append("</body></html>\n")
    page = "\n".join(parts)
    replace_atomically(path, lambda tmp: tmp.write_text(page, encoding="utf-8"))


def _e(text: object) -> str:
    return html.escape(str(text))


def _index(failures: Sequence[Failure]) -> str:
    rows = "".join(
        f"<tr><td><a href='#run-{_e(f.run)}'>{_e(f.run)}</a></td><td>{_e(f.reason)}</td>"
        f"<td>{_e(f.cause)}</td><td>{_e(f.attempts or '')}</td></tr>"
        for f in failures
    )
    return (
        f"<table><tr><th>run</th><th>reason</th><th>cause</th><th>attempts</th></tr>{rows}</table>"
    )


def _section(failure: Failure) -> str:
    """One failed run: what, why, where, and its figures."""
    record = failure.record
    lines = [
        f"<h2 id='run-{_e(failure.run)}'>{_e(failure.run)}</h2>",
        "<table>",
        f"<tr><th>reason</th><td>{_e(failure.reason)}</td></tr>",
        f"<tr><th>cause</th><td>{_e(failure.cause)}</td></tr>",
        f"<tr><th>attempts</th><td>{_e(failure.attempts or '')}"
        f"{_e(f' ({record.retry_note})') if record is not None and record.retry_note else ''}"
        "</td></tr>",
        f"<tr><th>record</th><td><code>{_e(failure.record_path or 'none readable')}</code>"
        "</td></tr>",
        f"<tr><th>files kept in</th><td>{_kept_list(failure)}</td></tr>",
        "</table>",
    ]
    if record is not None and record.error is not None and record.error.traceback:
        lines.append(_details("traceback", record.error.traceback))
    elif record is not None and record.stderr_tail:
        lines.append(_details("last lines of stderr", "\n".join(record.stderr_tail)))
    lines.extend(_figures(failure))
    return "\n".join(lines)


def _kept_list(failure: Failure) -> str:
    if not failure.kept:
        return "nothing kept"
    return "<br>".join(
        f"<code>{_e(layout.where_kept(failure.run, attempt.number))}</code>"
        for attempt in failure.kept
    )


def _details(summary: str, text: str) -> str:
    return f"<details><summary>{_e(summary)}</summary><pre>{_e(text)}</pre></details>"


def _figures(failure: Failure) -> list[str]:
    """The kept attempts' PNG figures as embedded images, each captioned with its attempt."""
    shown = []
    for attempt in failure.kept:
        for png in attempt.pngs():
            try:
                data = base64.b64encode(png.read_bytes()).decode("ascii")
            except OSError:
                continue
            caption = f"attempt {attempt.number}: {png.stem}"
            shown.append(
                f"<figure><img alt='{_e(caption)}' src='data:image/png;base64,{data}'>"
                f"<figcaption>{_e(caption)}</figcaption></figure>"
            )
    if not shown:
        return []
    return ["<h3>figures it saved before it failed</h3>", *shown]
