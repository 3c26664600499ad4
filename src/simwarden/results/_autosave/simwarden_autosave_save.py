"""Save pyplot figures with their provenance inside each file: formats, names, provenance, the
atomic save. Part of simwarden's figure autosave (see ``simwarden_autosave_impl`` beside it).

Standalone on purpose: stdlib only (matplotlib is the program's own), syntax for Python >= 3.8,
because the simulation's interpreter may be another environment that cannot import simwarden.
It is imported under this top-level name, from this directory on PYTHONPATH or loaded by
``simwarden.results.figures``. Reading provenance back is simwarden.results.figures' job.
"""

from __future__ import annotations

import os
import sys

# Every Python started with the hook on its path imports this module: keep start-up imports to
# the few above (json, re, pathlib, subprocess are imported where needed).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from pathlib import Path
    from typing import Any

FORMATS = ("png", "pdf", "svg")
DEFAULT_FORMATS = ("png",)
DEFAULT_DIR = "figures"
ENV_DIR = "SIMWARDEN_FIGURES_DIR"
ENV_FORMATS = "SIMWARDEN_FIGURE_FORMATS"
ENV_SAVE = "SIMWARDEN_SAVE_FIGURES"
ENV_SHOW = "SIMWARDEN_SHOW_FIGURES"
ENV_PROVENANCE = "SIMWARDEN_FIGURES_PROVENANCE"
PNG_KEY = "simwarden"  # PNG text chunk holding the provenance JSON
PDF_KEY = "Subject"  # PDF info entry holding it (matplotlib accepts only the standard keys)
SVG_KEY = "Description"  # Dublin Core element holding it (dc:description)
CONTEXT_KEYS = (
    "run",
    "repository",
    "commit",
    "params_hash",
    "run_config",
    "attempt",
    "mem_mb",
    "runtime_min",
    "simulation",
    "param_set",
    "ref",
    "runner",
    "params",
    "run_config_section",
    "source_diff_sha256",
)


def warn(message: str) -> None:
    """One line on stderr; silent if stderr is gone (pythonw, closed at exit)."""
    stream = sys.stderr
    if stream is None:
        return
    try:
        stream.write(f"simwarden: {message}\n")
        stream.flush()
    except (OSError, ValueError):
        pass


# --- formats, names ---------------------------------------------------------------------------


def split_formats(value: object) -> tuple[list[str], list[object]]:
    """``(accepted, refused)`` from a list/tuple of names or a comma/space separated string.

    Names are stripped and lower-cased; duplicates are dropped, first order kept; ``[]`` and ``""``
    give no formats. Anything but a str, list or tuple is refused whole.
    """
    if isinstance(value, str):
        items: list[object] = [*value.replace(",", " ").split()]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        return [], [value]
    good: list[str] = []
    bad: list[object] = []
    for item in items:
        name = item.strip().lower() if isinstance(item, str) else None
        if name not in FORMATS:
            bad.append(item)
        elif name not in good:
            good.append(name)
    return good, bad


def parse_formats(value: object) -> tuple[str, ...]:
    """Checked formats (see split_formats); raises ValueError naming the value and the first bad
    entry."""
    good, bad = split_formats(value)
    if bad:
        listed = isinstance(value, (str, list, tuple))
        what = f"unknown format {bad[0]!r} in " if listed else ""
        msg = (
            f"{what}figure formats {value!r}: accepted: {', '.join(FORMATS)} as a list, "
            "e.g. [png, pdf] (an empty list saves no figures)"
        )
        raise ValueError(msg)
    return tuple(good)


def sanitize_name(text: str, max_length: int = 100) -> str:
    """``text`` with every run of characters outside ``[A-Za-z0-9._-]`` replaced by one ``_``,
    without leading/trailing ``._-`` (no hidden files, nothing that looks like an option), cut to
    ``max_length``; ``""`` if nothing is left."""
    import re

    name = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-")
    return name[:max_length].strip("._-")


def figure_name(figure: Any, number: object) -> str:
    """The figure's label, else its suptitle, else the first axes title (centre, left, right),
    sanitised; ``figure-<number>`` when none of them leaves any character."""
    candidates = [figure.get_label()]
    get_suptitle = getattr(figure, "get_suptitle", None)  # matplotlib >= 3.8
    suptitle = getattr(figure, "_suptitle", None)
    if get_suptitle is not None:
        candidates.append(get_suptitle())
    elif suptitle is not None:
        candidates.append(suptitle.get_text())
    for axes in figure.axes:
        candidates.extend(axes.get_title(loc) for loc in ("center", "left", "right"))
    for text in candidates:
        name = sanitize_name(str(text or ""))
        if name:
            return name
    return f"figure-{number}"


def unique_name(name: str, taken: set[str]) -> str:
    """``name``, or ``name-2``, ``name-3``, ... whichever is not in ``taken`` (compared
    case-insensitively, for case-insensitive file systems); adds the result to ``taken``."""
    candidate, count = name, 1
    while candidate.casefold() in taken:
        count += 1
        candidate = f"{name}-{count}"
    taken.add(candidate.casefold())
    return candidate


def figure_number(figure: Any, default: object) -> object:
    """pyplot's number for ``figure``; ``default`` for a figure pyplot does not manage."""
    # matplotlib >= 3.10 keeps it in _number (Figure.number raises for unmanaged figures).
    number = getattr(figure, "_number", None)
    if number is None:
        number = getattr(figure, "number", None)
    return default if number is None else number


# --- provenance -------------------------------------------------------------------------------


def provenance_json(provenance: Mapping[str, Any]) -> str:
    """Compact, ASCII-only JSON (so that every format stores it byte for byte); values JSON
    cannot hold are stored as their ``str()``."""
    import json

    return json.dumps(
        dict(provenance), sort_keys=True, ensure_ascii=True, separators=(",", ":"), default=str
    )


def _parsed_provenance(text: str) -> str | None:
    """``text``'s JSON object as :func:`provenance_json` writes it; None (and one warning line)
    when it is not a JSON object."""
    import json

    try:
        provenance = json.loads(text)
    except ValueError:
        provenance = None
    if not isinstance(provenance, dict):
        warn(f"{ENV_PROVENANCE} is not a JSON object; recording what is known instead")
        return None
    return provenance_json(provenance)


def hand_provenance(start_dir: str, argv0: str | None) -> dict[str, Any]:
    """What is known about a run started by hand: the script, and the repository and commit of
    the script's directory (``git rev-parse``; None outside a git work tree, without commits, or
    without git). ``argv0`` is resolved against ``start_dir``, the working directory at start."""
    import subprocess

    script = None
    if argv0 and argv0 not in ("-c", "-m", "-"):
        candidate = os.path.join(start_dir, argv0)
        if os.path.isfile(candidate):
            script = os.path.abspath(candidate)
    where = os.path.dirname(script) if script else start_dir
    repository = commit = None
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--show-toplevel", "HEAD"],
            cwd=where,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        result = None
    if result is not None and result.returncode == 0:
        lines = result.stdout.splitlines()
        if len(lines) == 2:
            repository, commit = lines
    context: dict[str, Any] = dict.fromkeys(CONTEXT_KEYS)
    context.update(repository=repository, commit=commit, script=script)
    return context


def _metadata(fmt: str, name: str, text: str) -> dict[str, str]:
    # simwarden.results.figures.read_provenance reads these back.
    key = {"png": PNG_KEY, "pdf": PDF_KEY, "svg": SVG_KEY}[fmt]
    return {"Title": name, key: text}


# --- saving -----------------------------------------------------------------------------------


class Saver:
    """Writes figures to ``<figures_dir>/<fmt>/<name>.<fmt>``, each through a temporary file
    renamed into place (a failed save leaves no partial file). Names are unique over the
    saver's lifetime; an existing file of the same name is replaced.

    ``provenance=None`` means a run by hand: hand_provenance() is computed at the first save.
    ``provenance_text`` (in place of ``provenance``): its JSON object, parsed at the first save;
    text that is not a JSON object is warned about then, and what is known recorded instead.
    """

    def __init__(
        self,
        figures_dir: str | os.PathLike[str],
        formats: Iterable[str],
        provenance: Mapping[str, Any] | None,
        start_dir: str | None = None,
        *,
        provenance_text: str | None = None,
    ) -> None:
        self._dir = os.fspath(figures_dir)  # pathlib is imported at the first save
        self.formats = parse_formats(list(formats))
        self._provenance = None if provenance is None else provenance_json(provenance)
        self._pending_text = provenance_text if provenance is None else None
        self._start_dir = start_dir or os.getcwd()
        self._taken: set[str] = set()

    @property
    def figures_dir(self) -> Path:
        from pathlib import Path

        return Path(self._dir)

    def provenance_text(self) -> str:
        if self._pending_text is not None:
            self._provenance = _parsed_provenance(self._pending_text)
            self._pending_text = None
        if self._provenance is None:
            argv0 = sys.argv[0] if getattr(sys, "argv", None) else None
            self._provenance = provenance_json(hand_provenance(self._start_dir, argv0))
        return self._provenance

    def save(self, figures: Iterable[Any]) -> list[Path]:
        """Save each figure in every format; a figure that is not pyplot's is numbered by its
        place in ``figures`` (from 1). Returns the files written; failures are warned, not
        raised."""
        written: list[Path] = []
        for index, figure in enumerate(figures, 1):
            written.extend(self.save_one(figure, figure_number(figure, index)))
        return written

    def save_one(self, figure: Any, number: object) -> list[Path]:
        """Save one figure; never raises (Exception): prints one warning line naming the figure,
        the formats that failed and the first error, and returns the files that were written."""
        name = f"figure-{number}"
        try:
            name = unique_name(figure_name(figure, number), self._taken)
            text = self.provenance_text()
        except Exception as error:  # a broken figure object must not break the program
            warn(f"figure {name!r} not saved: {describe(error)}")
            return []
        written: list[Path] = []
        failed: list[str] = []
        first_error: BaseException | None = None
        for fmt in self.formats:
            target = self.figures_dir / fmt / f"{name}.{fmt}"
            try:
                _save_atomic(figure, target, fmt, _metadata(fmt, name, text))
            except Exception as error:  # whatever savefig raises, the program goes on
                failed.append(fmt)
                first_error = first_error or error
            else:
                written.append(target)
        if first_error is not None:
            warn(f"figure {name!r} not saved ({', '.join(failed)}): {describe(first_error)}")
        return written


def _save_atomic(figure: Any, target: Path, fmt: str, metadata: dict[str, str]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        figure.savefig(partial, format=fmt, metadata=metadata)
        os.replace(partial, target)
    except BaseException:
        try:
            os.unlink(partial)
        except OSError:
            pass
        raise


def describe(error: BaseException) -> str:
    """``Type: message`` of ``error`` on one line, cut to about 300 characters."""
    text = " ".join(str(error).split())
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def save_figures(
    figures: Iterable[Any],
    figures_dir: str | os.PathLike[str],
    formats: Iterable[str],
    provenance: Mapping[str, Any] | None,
) -> list[Path]:
    """Save ``figures`` once with a fresh set of names (see Saver.save)."""
    return Saver(figures_dir, formats, provenance).save(figures)
