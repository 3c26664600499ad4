"""Loading parameter sets: YAML, JSON and CamStim-style ``.cfg``/``.ini`` into plain,
JSON-compatible dicts.

Nothing here calls ``eval``: ``.cfg`` values go through :func:`ast.literal_eval` only, and only when
they are bracketed or quoted. YAML is read with a SafeLoader that refuses duplicate keys, and a
file whose aliases would expand past :data:`MAX_ALIAS_EXPANSION` values ("billion laughs") is
refused before anything is built from it. Every problem raises
:class:`~simwarden.core.errors.UserError` naming the file, and the line when the parser gives one.
"""

from __future__ import annotations

import ast
import functools
import json
import math
import os
import re
from pathlib import Path
from typing import Any

from simwarden.core.errors import UserError
from simwarden.pipeline.params.text import key_path, one_line, type_name

PARAM_SUFFIXES = (".yaml", ".yml", ".json", ".cfg", ".ini")
# How many values YAML aliases may add to a file once expanded (a value reached through N
# aliases counts N times). Sharing a block a few times stays far below; the 520-byte "billion
# laughs" file expands to 10**9 and is refused without being built.
MAX_ALIAS_EXPANSION = 100_000

_ENV_RE = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_INT_RE = re.compile(r"[+-]?[0-9]+\Z")
_FLOAT_RE = re.compile(r"[+-]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_BOOLS = {"true": True, "yes": True, "false": False, "no": False}
_NONES = {"none", "null"}
_NOT_PLAIN = object()


def load_param_file(path: Path) -> dict[str, Any]:
    """Load one parameter set and return it as a plain, JSON-compatible dict.

    The suffix picks the parser: ``.yaml``/``.yml`` (safe YAML), ``.json``, or ``.cfg``/``.ini``
    (CamStim style, see :func:`load_cfg`). Duplicate keys are refused in every format. A missing
    or unreadable file, an unknown suffix, unparsable or empty content, a top level that is not a
    mapping, and values JSON cannot hold (dates, non-string keys, NaN, infinity) raise
    :class:`UserError` naming the file, and the line when the parser reports one.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in PARAM_SUFFIXES:
        msg = (
            f"{path}: unknown parameter file type {path.suffix!r}; "
            f"accepted: {', '.join(PARAM_SUFFIXES)}"
        )
        raise UserError(msg)
    text = _read_text(path)
    if suffix in (".yaml", ".yml"):
        data = load_yaml(text, path)
    elif suffix == ".json":
        data = load_json(text, path)
    else:
        data = load_cfg(text, path)
    if not isinstance(data, dict):
        msg = (
            f"{path}: top level is {type_name(data)}, "
            "expected a mapping of parameter names to values"
        )
        raise UserError(msg)
    check_json_compatible(data, path, ())
    return data


def _read_text(path: Path) -> str:
    if not path.exists():
        raise UserError(f"{path}: parameter file does not exist; check the path in the config")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(
            f"{path}: not UTF-8 text (bad byte at offset {exc.start}); save it as UTF-8"
        ) from exc
    except OSError as exc:
        raise UserError(f"{path}: cannot read parameter file: {exc.strerror}") from exc
    if not text.strip():
        raise UserError(f"{path}: parameter file is empty; write {{}} for a set of defaults only")
    return text


@functools.cache
def _unique_key_loader(fast: bool = False) -> type:
    """The loader class: on libyaml's C parser when ``fast`` and libyaml is there (a 10,000-point
    sweep in the config reads ~7x faster), else on the pure-Python SafeLoader."""
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader) if fast else yaml.SafeLoader

    class UniqueKeyLoader(base):  # type: ignore[valid-type,misc]
        """SafeLoader that refuses duplicate mapping keys instead of keeping the last one."""

        def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # "<<: *anchor" may be overridden
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                except TypeError:  # unhashable key; the base class reports it
                    break
                if duplicate:
                    raise yaml.MarkedYAMLError(
                        problem=f"duplicate key {key!r}", problem_mark=key_node.start_mark
                    )
                seen.add(key)
            mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
            return mapping

    return UniqueKeyLoader


def load_yaml(text: str, path: Path) -> Any:
    """Safe-load YAML ``text`` read from ``path``; refuse duplicate keys, recursive aliases and
    aliases that expand past :data:`MAX_ALIAS_EXPANSION` values, in one line naming ``path``."""
    import yaml

    try:
        return _load_yaml(text, path, fast=True)
    except (yaml.YAMLError, RecursionError):
        # Read again by the pure-Python parser, whose wording (and line) the error gives.
        return _load_yaml(text, path, fast=False)


def _load_yaml(text: str, path: Path, *, fast: bool) -> Any:
    """:func:`load_yaml` with one loader; with ``fast`` a YAML or recursion error is raised as
    it is (the caller reads the text again for the message)."""
    import yaml

    # A SafeLoader subclass: no YAML tag can construct arbitrary objects or run code.
    loader = _unique_key_loader(fast)(text)
    try:
        node = loader.get_single_node()  # the node graph: aliases are shared, nothing expanded
        if node is None:
            return None
        _check_alias_expansion(node, path)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        if fast:
            raise
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise UserError(f"{where}: not valid YAML: {one_line(problem)}; fix the syntax") from exc
    except RecursionError:
        if fast:
            raise
        raise UserError(f"{path}: nested too deeply to read; flatten the structure") from None
    finally:
        loader.dispose()


def _children(node: Any) -> list[Any]:
    import yaml

    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    return []


def _check_alias_expansion(root: Any, path: Path) -> None:
    """Count the values the node graph expands to, each shared node walked once (memoised
    sizes), and refuse a graph that aliases blow up or that contains itself."""
    cap = 10 * MAX_ALIAS_EXPANSION  # sizes are clipped here: no huge integers, same verdict
    sizes: dict[int, int] = {}
    ancestors: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            ancestors.discard(key)
            sizes[key] = min(cap, 1 + sum(sizes[id(child)] for child in _children(node)))
            continue
        if key in sizes:
            continue
        if key in ancestors:
            raise UserError(f"{path}: a YAML alias refers to its own value; write it out")
        ancestors.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    if sizes[id(root)] - len(sizes) > MAX_ALIAS_EXPANSION:
        raise UserError(
            f"{path}: refused: its YAML aliases expand to more than {MAX_ALIAS_EXPANSION} "
            "values; write the values out or use fewer nested aliases"
        )


def load_json(text: str, path: Path) -> Any:
    """Parse JSON ``text`` read from ``path``, refusing duplicate keys, in one line naming it."""

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise UserError(f"{path}: duplicate key {key!r}; keep one of them")
            result[key] = value
        return result

    try:
        return json.loads(text, object_pairs_hook=unique)
    except json.JSONDecodeError as exc:
        msg = f"{path}:{exc.lineno}: not valid JSON: {exc.msg} (column {exc.colno}); fix the syntax"
        raise UserError(msg) from exc
    except RecursionError:
        raise UserError(f"{path}: nested too deeply to read; flatten the structure") from None


def load_cfg(text: str, path: Path) -> dict[str, Any]:
    """CamStim-style config: ``[section]`` headers with ``key = value`` lines.

    Returns ``{section: {key: value}}`` with keys as written (case kept). ``[DEFAULT]`` keys are
    inherited by every section, as configparser does, and do not form a section of their own.
    In values, ``${VAR}`` and ``$VAR`` are replaced from the environment (``$$`` is a literal
    ``$``) before conversion, see :func:`convert_cfg_value`.
    """
    import configparser

    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep key case
    try:
        parser.read_string(text, source=str(path))
    except configparser.ParsingError as exc:
        line = getattr(exc, "lineno", None) or (exc.errors[0][0] if exc.errors else None)
        where = f"{path}:{line}" if line else str(path)
        msg = f"{where}: not a valid .cfg file: expected [section] headers and key = value lines"
        raise UserError(msg) from exc
    except (configparser.DuplicateSectionError, configparser.DuplicateOptionError) as exc:
        where = f"{path}:{exc.lineno}" if exc.lineno else str(path)
        raise UserError(f"{where}: {one_line(exc.message)}; keep one of them") from exc
    except configparser.Error as exc:
        raise UserError(f"{path}: not a valid .cfg file: {one_line(exc.message)}") from exc
    if not parser.sections():
        msg = f"{path}: no [section] found; CamStim-style files put keys under [section] headers"
        raise UserError(msg)
    result: dict[str, Any] = {}
    for section in parser.sections():
        values: dict[str, Any] = {}
        for key in parser.options(section):
            raw = parser.get(section, key)
            values[key] = convert_cfg_value(_substitute_env(raw, path, section, key))
        result[section] = values
    return result


def _substitute_env(raw: str, path: Path, section: str, key: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name is None:  # "$$"
            return "$"
        if name not in os.environ:
            msg = (
                f"{path}: [{section}] {key}: environment variable {name} is not set; "
                "export it or write the value directly"
            )
            raise UserError(msg)
        return os.environ[name]

    return _ENV_RE.sub(replace, raw)


def convert_cfg_value(raw: str) -> Any:
    """Convert one ``.cfg`` value string to a JSON-compatible value.

    In order: ``true/false/yes/no`` (any case) -> bool; ``none/null`` (any case) -> None; integer
    and decimal literals -> int/float (``nan``, ``inf``, ``0x10`` and ``1_000`` stay strings);
    a value wrapped in ``[...]``, ``(...)``, ``{...}`` or matching quotes ->
    :func:`ast.literal_eval` (tuples become lists) when that gives plain data, else the string
    unchanged; anything else, including unbracketed ``a, b``, stays a string. Code is never run.
    """
    text = raw.strip()
    lowered = text.lower()
    if lowered in _BOOLS:
        return _BOOLS[lowered]
    if lowered in _NONES:
        return None
    if _INT_RE.match(text):
        return int(text)
    if _FLOAT_RE.match(text):
        return float(text)
    if len(text) >= 2 and (
        (text[0], text[-1]) in (("[", "]"), ("(", ")"), ("{", "}"))
        or (text[0] == text[-1] and text[0] in "'\"")
    ):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return text
        plain = _plain_literal(value)
        return text if plain is _NOT_PLAIN else plain
    return text


def _plain_literal(value: Any) -> Any:
    """``value`` as JSON-compatible data (tuples -> lists), or ``_NOT_PLAIN`` (sets, bytes...)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else _NOT_PLAIN
    if isinstance(value, list | tuple):
        listed = [_plain_literal(item) for item in value]
        return _NOT_PLAIN if any(item is _NOT_PLAIN for item in listed) else listed
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            return _NOT_PLAIN
        mapped = {key: _plain_literal(item) for key, item in value.items()}
        return _NOT_PLAIN if any(item is _NOT_PLAIN for item in mapped.values()) else mapped
    return _NOT_PLAIN


def check_json_compatible(value: Any, path: Path, keys: tuple[str | int, ...]) -> None:
    """Raise UserError naming ``path`` and the key when ``value`` holds something JSON cannot
    (a non-string key, NaN or infinity, a date or another object)."""
    where = key_path(keys)
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                msg = (
                    f"{path}: {key_path((*keys, str(key)))}: key {key!r} is "
                    f"{type_name(key)}, not a string; quote it"
                )
                raise UserError(msg)
            check_json_compatible(item, path, (*keys, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_json_compatible(item, path, (*keys, index))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise UserError(f"{path}: {where}: {value!r} cannot be stored in JSON; use a number")
    elif not (value is None or isinstance(value, bool | int | str)):
        msg = f"{path}: {where}: {type_name(value)} cannot be stored in JSON; quote it"
        raise UserError(msg)
