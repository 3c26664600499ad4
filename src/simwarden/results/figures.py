"""Save every matplotlib figure a simulation makes, with its provenance inside each file.

The work is done by ``_autosave/simwarden_autosave_impl.py``: stdlib only, so that the start-up
hook beside it (``_autosave/sitecustomize.py``, put on the simulation's PYTHONPATH) runs in any
Python, also one that cannot import simwarden. This module is the simwarden side: checked
formats, the environment the pipeline adds to a run, saving and reading provenance back.

Files: ``<figures_dir>/<fmt>/<name>.<fmt>``; provenance as JSON in the PNG text chunk
``simwarden``, the PDF info entry ``Subject`` and the SVG element ``dc:description``.

``simwarden figures --print-pythonpath`` prints the PYTHONPATH that enables the autosave for a
script run by hand (see ``simwarden.autosave`` for the variables); ``simwarden figures
--provenance FILE...`` prints what :func:`read_provenance` reads.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import ModuleType

from simwarden.core.errors import UserError

# typing costs ~5 ms of every run's job, which loads this module; annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

HOOK_DIR = Path(__file__).resolve().parent / "_autosave"
IMPL_NAME = "simwarden_autosave_impl"
# The hook's modules, each imported under its top-level name; the first is imported by the second.
HOOK_MODULES = ("simwarden_autosave_save", IMPL_NAME)


def _load_hook_module(name: str) -> ModuleType:
    module = sys.modules.get(name)
    if module is not None:
        return module
    import importlib.util  # here: a run's job needs only autosave_env

    spec = importlib.util.spec_from_file_location(name, HOOK_DIR / f"{name}.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {HOOK_DIR / name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def load_impl() -> ModuleType:
    """The shared implementation, under its top-level name: the copy the start-up hook already
    imported if there is one, so a process never holds two (and never saves a figure twice).
    Its helper module is loaded first under its own name (the hook directory need not be on
    sys.path)."""
    for name in HOOK_MODULES:
        module = _load_hook_module(name)
    return module


_impl = load_impl()
FORMATS: tuple[str, ...] = _impl.FORMATS


def check_formats(formats: object, source: str) -> tuple[str, ...]:
    """The formats to save, each one of FORMATS, duplicates dropped, order kept.

    Accepts a list/tuple, or a comma/space separated string (a profile's ``config:`` turns lists
    into strings). An empty list is allowed and means no figures are saved. Raises UserError
    naming ``source``, the value and the accepted formats.
    """
    try:
        return tuple(_impl.parse_formats(formats))
    except ValueError as error:
        raise UserError(f"{source}: {error}") from None


def autosave_env(
    figures_dir: str | Path,
    formats: Sequence[str],
    provenance: Mapping[str, Any],
    pythonpath: str | None = None,
) -> dict[str, str]:
    """The variables to add to a simulation's environment so that its figures are saved.

    ``pythonpath`` is the PYTHONPATH the simulation would have had (None or "" = none): the hook
    directory is put in front of it. ``figures_dir`` is made absolute (the simulation runs in
    another directory). ``formats`` empty: nothing is saved, but ``plt.show()`` still never
    blocks. Raises UserError for an unknown format.
    """
    checked = check_formats(list(formats), "figure formats")
    return {
        "PYTHONPATH": hand_pythonpath({"PYTHONPATH": pythonpath or ""}),
        "MPLBACKEND": "Agg",
        _impl.ENV_DIR: os.path.abspath(figures_dir),
        _impl.ENV_FORMATS: ",".join(checked),
        _impl.ENV_SAVE: "1" if checked else "0",
        _impl.ENV_SHOW: "0",
        _impl.ENV_PROVENANCE: _impl.provenance_json(provenance),
    }


def save_figures(
    figures: Iterable[Any],
    figures_dir: str | Path,
    formats: Sequence[str],
    provenance: Mapping[str, Any],
) -> list[Path]:
    """Save matplotlib ``figures`` to ``<figures_dir>/<fmt>/<name>.<fmt>``; return the files.

    Names: the label, else the suptitle, else the first axes title, else ``figure-<number>``
    (pyplot's number, or the place in ``figures`` from 1), sanitised to ``[A-Za-z0-9._-]`` and
    made unique within this call (``name-2``, ...); existing files are replaced. A figure that
    fails to save gives one warning line on stderr and is left out of the result; it does not
    raise. Raises UserError for an unknown format.
    """
    checked = check_formats(list(formats), "save_figures formats")
    return list(_impl.save_figures(figures, figures_dir, checked, provenance))


def read_provenance(path: str | Path) -> dict[str, Any]:
    """The provenance dict stored in a ``.png``, ``.pdf`` or ``.svg`` (chosen by suffix).

    PNG through PIL; PDF and SVG by parsing the file (the PDF info dictionary is never
    compressed). Raises UserError for another suffix, a file without simwarden provenance, a
    damaged one, or one that cannot be read.
    """
    try:
        return _read(Path(path))
    except (ValueError, OSError) as error:
        raise UserError(f"reading figure provenance: {error}") from None


def _read(path: Path) -> dict[str, Any]:
    suffix = path.suffix.lower()
    if suffix == ".png":
        text = _png_text(path)
    elif suffix == ".pdf":
        text = _pdf_string(path.read_bytes(), _impl.PDF_KEY.encode())
    elif suffix == ".svg":
        text = _svg_text(path)
    else:
        shown = repr(suffix) if suffix else "no suffix"
        raise ValueError(f"{path}: {shown}: can read provenance from .png, .pdf and .svg only")
    if text is None:
        raise ValueError(f"{path}: holds no simwarden provenance")
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ValueError(f"{path}: the provenance entry is not a JSON object")
    return value


def _png_text(path: Path) -> str | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            chunks = getattr(image, "text", {})
            return chunks.get(_impl.PNG_KEY)
    except UnidentifiedImageError as error:
        raise ValueError(f"{path}: not a readable PNG ({error})") from None


_PDF_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _pdf_string(data: bytes, key: bytes) -> str | None:
    """The string value of ``/key`` in the PDF's document info dictionary (uncompressed in
    matplotlib's output), literal ``(...)`` or hex ``<...>``, UTF-16 with BOM or PDFDocEncoding
    (read as Latin-1, exact for ASCII)."""
    start, stop = 0, len(data)
    refs = re.findall(rb"/Info\s+(\d+)\s+(\d+)\s+R", data)
    if refs:  # look inside the info object only
        number, generation = refs[-1]
        found = re.search(rb"(?<!\d)" + number + rb"\s+" + generation + rb"\s+obj\b", data)
        if found:
            start = found.end()
            end = data.find(b"endobj", start)
            stop = end if end >= 0 else len(data)
    found = re.compile(rb"/" + re.escape(key) + rb"\s*([(<])").search(data, start, stop)
    if found is None:
        return None
    if found.group(1) == b"<":
        end = data.find(b">", found.end())
        try:
            raw = bytes.fromhex(data[found.end() : end].decode("ascii"))
        except ValueError:
            raise ValueError(f"damaged hex string for /{key.decode()}") from None
    else:
        raw = _pdf_literal(data, found.end())
    if raw.startswith(b"\xfe\xff"):
        return raw[2:].decode("utf-16-be")
    return raw.decode("latin-1")


def _pdf_literal(data: bytes, index: int) -> bytes:
    """A PDF literal string starting just after its ``(``: escapes, octal codes, line
    continuations and balanced parentheses."""
    out = bytearray()
    depth = 1
    while index < len(data):
        char = data[index : index + 1]
        index += 1
        if char == b"\\":
            char = data[index : index + 1]
            index += 1
            if char in _PDF_ESCAPES:
                out += _PDF_ESCAPES[char]
            elif _octal(char):
                digits = char
                while len(digits) < 3 and _octal(data[index : index + 1]):
                    digits += data[index : index + 1]
                    index += 1
                out.append(int(digits, 8) & 0xFF)
            elif char == b"\r":
                index += data[index : index + 1] == b"\n"
            elif char != b"\n":
                out += char
        elif char == b"(":
            depth += 1
            out += char
        elif char == b")":
            depth -= 1
            if depth == 0:
                return bytes(out)
            out += char
        else:
            out += char
    raise ValueError("unterminated string in the PDF info dictionary")


def _octal(char: bytes) -> bool:
    return len(char) == 1 and char in b"01234567"


def _svg_text(path: Path) -> str | None:
    from xml.etree import ElementTree

    tag = "{http://purl.org/dc/elements/1.1/}" + _impl.SVG_KEY.lower()
    try:
        for _event, element in ElementTree.iterparse(path, events=("end",)):
            if element.tag == tag:
                return element.text or ""
    except ElementTree.ParseError as error:
        raise ValueError(f"{path}: not readable SVG ({error})") from None
    return None


def install_autosave(environ: Mapping[str, str] | None = None) -> None:
    """Save this process's figures at close/exit as the SIMWARDEN_* variables say (default: the
    process environment). Only the first installation in a process counts; never raises."""
    _impl.install_from_env(environ)


def hand_pythonpath(environ: Mapping[str, str] | None = None) -> str:
    """The hook directory in front of ``environ``'s PYTHONPATH (default: this process's), once."""
    env = os.environ if environ is None else environ
    hook = str(HOOK_DIR)
    rest = [e for e in env.get("PYTHONPATH", "").split(os.pathsep) if e and e != hook]
    return os.pathsep.join([hook, *rest])
