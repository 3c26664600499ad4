"""Parameter sets: load YAML/JSON/CamStim-style ``.cfg``, validate against a JSON Schema, expand
sweeps into runs, and name each run with a stable, filesystem-safe id.

Nothing here calls ``eval``: ``.cfg`` values go through :func:`ast.literal_eval` only, and only when
they are bracketed or quoted. Every problem with user input raises
:class:`~simwarden.core.errors.UserError` naming the file and key; schema validation collects all
problems into one :class:`ParamError`.
"""

from __future__ import annotations

import ast
import copy
import difflib
import functools
import hashlib
import itertools
import json
import math
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simwarden.core.errors import UserError
from simwarden.core.fsutil import write_json_atomic  # noqa: F401  (re-exported for the rules)

PARAM_SUFFIXES = (".yaml", ".yml", ".json", ".cfg", ".ini")
SWEEP_KINDS = ("grid", "zip")

_ENV_RE = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_INT_RE = re.compile(r"[+-]?[0-9]+\Z")
_FLOAT_RE = re.compile(r"[+-]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_BOOLS = {"true": True, "yes": True, "false": False, "no": False}
_NONES = {"none", "null"}
_UNSAFE_RE = re.compile(r"[^A-Za-z0-9._-]+")
_RUN_ID_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*\Z")
# Readable sweep ids join "key-value" pairs with "_": keys never hold "-" and values never hold
# "_", so the id can be split back into its pairs and two different points never share one.
_ID_KEY_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._]*\Z")
_ID_VALUE_RE = re.compile(r"[A-Za-z0-9.-]+\Z")
_HASH_LEN = 12
_MIN_ID_LEN = 32
_MAX_RUN_ID_LEN = 255  # longest file name on common filesystems

_FORMAT_FORMS = {
    "size": "a size like 500MB, 1.5GiB, 4*1024**3, 80%, or a number of MB",
    "duration": "a duration like 90s, 10m, 2h, 1:30:00, or a number of seconds",
}


# --------------------------------------------------------------------------------------- loading


def load_param_file(path: Path) -> dict[str, Any]:
    """Load one parameter set and return it as a plain, JSON-compatible dict.

    The suffix picks the parser: ``.yaml``/``.yml`` (safe YAML), ``.json``, or ``.cfg``/``.ini``
    (CamStim style, see :func:`_load_cfg`). Duplicate keys are refused in every format. A missing
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
    if suffix in (".yaml", ".yml"):
        data = _load_yaml(text, path)
    elif suffix == ".json":
        data = _load_json(text, path)
    else:
        data = _load_cfg(text, path)
    if not isinstance(data, dict):
        msg = (
            f"{path}: top level is {_type_name(data)}, "
            "expected a mapping of parameter names to values"
        )
        raise UserError(msg)
    _check_json_compatible(data, path, ())
    return data


@functools.cache
def _unique_key_loader() -> type:
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
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
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader


def _load_yaml(text: str, path: Path) -> Any:
    import yaml

    try:
        # A SafeLoader subclass: no YAML tag can construct arbitrary objects or run code.
        return yaml.load(text, Loader=_unique_key_loader())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise UserError(f"{where}: not valid YAML: {_one_line(problem)}; fix the syntax") from exc


def _load_json(text: str, path: Path) -> Any:
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


def _load_cfg(text: str, path: Path) -> dict[str, Any]:
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
        raise UserError(f"{where}: {_one_line(exc.message)}; keep one of them") from exc
    except configparser.Error as exc:
        raise UserError(f"{path}: not a valid .cfg file: {_one_line(exc.message)}") from exc
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


_NOT_PLAIN = object()


def _plain_literal(value: Any) -> Any:
    """``value`` as JSON-compatible data (tuples -> lists), or ``_NOT_PLAIN`` (sets, bytes...)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else _NOT_PLAIN
    if isinstance(value, list | tuple):
        items = [_plain_literal(item) for item in value]
        return _NOT_PLAIN if any(item is _NOT_PLAIN for item in items) else items
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            return _NOT_PLAIN
        items = {key: _plain_literal(item) for key, item in value.items()}
        return _NOT_PLAIN if any(item is _NOT_PLAIN for item in items.values()) else items
    return _NOT_PLAIN


def _check_json_compatible(value: Any, path: Path, keys: tuple[str | int, ...]) -> None:
    where = _key_path(keys)
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                msg = (
                    f"{path}: {_key_path((*keys, str(key)))}: key {key!r} is "
                    f"{_type_name(key)}, not a string; quote it"
                )
                raise UserError(msg)
            _check_json_compatible(item, path, (*keys, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_json_compatible(item, path, (*keys, index))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise UserError(f"{path}: {where}: {value!r} cannot be stored in JSON; use a number")
    elif not (value is None or isinstance(value, bool | int | str)):
        msg = f"{path}: {where}: {_type_name(value)} cannot be stored in JSON; quote it"
        raise UserError(msg)


# ------------------------------------------------------------------------------------ validation


@dataclass(frozen=True)
class Problem:
    """One validation problem: where it is, what is wrong, the value found, what is accepted."""

    source: str
    path: tuple[str | int, ...]
    message: str
    value: Any = None
    has_value: bool = False
    accepted: str = ""

    def __str__(self) -> str:
        details = []
        if self.has_value:
            details.append(f"got {_show(self.value)}")
        if self.accepted:
            details.append(f"accepted: {self.accepted}")
        tail = f" ({'; '.join(details)})" if details else ""
        return f"{self.source}: {_key_path(self.path)}: {self.message}{tail}"


class ParamError(UserError):
    """All problems found in one parameter set; ``str()`` gives one line per problem.

    Each line reads ``<file>: <key.path>: <problem> (got <value>; accepted: <what>)``.
    """

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


def validate(
    params: dict[str, Any], schema: dict[str, Any] | Path, *, source: str
) -> dict[str, Any]:
    """Validate ``params`` against a draft 2020-12 ``schema`` and return a copy with defaults.

    ``schema`` is a dict or a path to a ``.json``/``.yaml`` file. Every ``default`` of a property
    is filled in when the key is absent, also inside nested objects that are present or that
    themselves have a default (give a nested object ``"default": {}`` to get its inner defaults
    when the user leaves it out). Defaults are filled before checking, so a bad default is
    reported too; defaults inside ``oneOf``/``anyOf`` branches are filled even for branches that
    do not match, so keep defaults out of those. ``format: size`` and ``format: duration`` (and
    the standard formats) are asserted. All problems are raised together as one
    :class:`ParamError`, sorted by key path, each naming ``source``. ``params`` is not modified.
    An invalid schema raises :class:`UserError`.
    """
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    schema_source = str(schema) if isinstance(schema, Path) else "schema"
    schema_dict = _load_schema(schema) if isinstance(schema, Path) else schema
    try:
        Draft202012Validator.check_schema(schema_dict)
    except SchemaError as exc:
        where = _key_path(tuple(exc.absolute_path))
        msg = f"{schema_source}: invalid JSON Schema at {where}: {_one_line(exc.message)}"
        raise UserError(msg) from exc
    result = copy.deepcopy(params)
    validator = _defaulting_validator_class()(schema_dict, format_checker=_format_checker())
    problems: list[Problem] = []
    for error in validator.iter_errors(result):
        for problem in _problems_from_error(error, source):
            if problem not in problems:
                problems.append(problem)
    if problems:
        problems.sort(key=lambda problem: (_path_sort_key(problem.path), problem.message))
        raise ParamError(problems)
    return result


def _load_schema(path: Path) -> dict[str, Any]:
    suffix = path.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        raise UserError(f"{path}: unknown schema file type {path.suffix!r}; use .json or .yaml")
    if not path.exists():
        raise UserError(f"{path}: schema file does not exist")
    text = path.read_text(encoding="utf-8")
    data = _load_json(text, path) if suffix == ".json" else _load_yaml(text, path)
    if not isinstance(data, dict | bool):
        raise UserError(f"{path}: schema top level is {_type_name(data)}, expected a mapping")
    return data  # type: ignore[return-value]


@functools.cache
def _defaulting_validator_class() -> type:
    """Draft202012Validator whose ``properties`` keyword first fills absent keys' defaults.

    This is the "extend with set defaults" recipe from the jsonschema FAQ; defaults are deep
    copied so the schema never shares (and never sees changes to) a mutable default.
    """
    from jsonschema import Draft202012Validator, validators

    check_properties = Draft202012Validator.VALIDATORS["properties"]

    def properties_with_defaults(
        validator: Any, properties: dict[str, Any], instance: Any, schema: dict[str, Any]
    ) -> Iterator[Any]:
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if isinstance(subschema, dict) and "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from check_properties(validator, properties, instance, schema)

    return validators.extend(Draft202012Validator, {"properties": properties_with_defaults})


def _format_checker() -> Any:
    from jsonschema import FormatChecker

    checker = FormatChecker()

    @checker.checks("size", raises=UserError)
    def _is_size(instance: object) -> bool:
        from simwarden.core.units import parse_size

        if isinstance(instance, str | int | float) and not isinstance(instance, bool):
            parse_size(instance)
        return True

    @checker.checks("duration", raises=UserError)
    def _is_duration(instance: object) -> bool:
        from simwarden.core.units import parse_duration

        if isinstance(instance, str | int | float) and not isinstance(instance, bool):
            parse_duration(instance)
        return True

    return checker


def _problems_from_error(error: Any, source: str) -> list[Problem]:
    path = tuple(error.absolute_path)
    keyword = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    instance = error.instance
    if keyword == "additionalProperties" and error.validator_value is False:
        known = sorted(schema.get("properties", {}))
        patterns = sorted(schema.get("patternProperties", {}))
        accepted = ", ".join(known) if known else "no keys"
        if patterns:
            accepted = f"{accepted}; or keys matching {', '.join(patterns)}"
        extras = [
            key
            for key in instance
            if key not in known and not any(re.search(pattern, key) for pattern in patterns)
        ]
        problems = []
        for extra in sorted(extras, key=str):
            close = difflib.get_close_matches(str(extra), known, n=1)
            hint = f", did you mean {close[0]!r}?" if close else ""
            problems.append(
                Problem(
                    source, (*path, extra), f"unknown key{hint}", instance[extra], True, accepted
                )
            )
        return problems
    if keyword == "required":
        properties = schema.get("properties", {})
        return [
            Problem(
                source,
                (*path, name),
                "missing required key",
                accepted=_describe(properties.get(name, {})) or "any value",
            )
            for name in error.validator_value
            if isinstance(instance, dict) and name not in instance
        ]
    if keyword == "format":
        form = _FORMAT_FORMS.get(error.validator_value, f"a {error.validator_value} string")
        message = f"not a valid {error.validator_value}"
        return [Problem(source, path, message, instance, True, form)]
    if keyword in ("oneOf", "anyOf"):
        options = " | ".join(_describe(option) or "(any)" for option in error.validator_value)
        message = "matches none of the allowed forms"
        if keyword == "oneOf" and not error.context:
            message = "matches more than one of the allowed forms"
        return [Problem(source, path, message, instance, True, options)]
    messages = {
        "type": "wrong type",
        "enum": "not one of the allowed values",
        "const": "not the allowed value",
        "minimum": "too small",
        "exclusiveMinimum": "too small",
        "maximum": "too large",
        "exclusiveMaximum": "too large",
        "multipleOf": "not a multiple of the step",
        "minLength": "too short",
        "maxLength": "too long",
        "pattern": "does not match the pattern",
        "minItems": "too few items",
        "maxItems": "too many items",
        "uniqueItems": "items repeat",
        "minProperties": "too few keys",
        "maxProperties": "too many keys",
    }
    message = messages.get(keyword, _one_line(error.message))
    return [Problem(source, path, message, instance, True, _describe(schema) or "see the schema")]


def _describe(schema: Any) -> str:
    """A short human summary of what ``schema`` accepts, e.g. ``integer >= 1, <= 10``."""
    if schema is False:
        return "nothing"
    if not isinstance(schema, dict):
        return ""
    parts: list[str] = []
    kinds = schema.get("type")
    if kinds:
        parts.append(" or ".join(kinds) if isinstance(kinds, list) else str(kinds))
    if "enum" in schema:
        parts.append("one of " + ", ".join(_show(value) for value in schema["enum"]))
    if "const" in schema:
        parts.append("exactly " + _show(schema["const"]))
    if "format" in schema:
        parts.append(_FORMAT_FORMS.get(schema["format"], f"format {schema['format']}"))
    for keyword, symbol in (
        ("minimum", ">="),
        ("exclusiveMinimum", ">"),
        ("maximum", "<="),
        ("exclusiveMaximum", "<"),
        ("multipleOf", "a multiple of"),
    ):
        if keyword in schema:
            parts.append(f"{symbol} {_show(schema[keyword])}")
    for keyword, words in (
        ("minLength", "at least {} characters"),
        ("maxLength", "at most {} characters"),
        ("pattern", "matching {}"),
        ("minItems", "at least {} items"),
        ("maxItems", "at most {} items"),
    ):
        if keyword in schema:
            parts.append(words.format(schema[keyword]))
    if schema.get("uniqueItems"):
        parts.append("no repeated items")
    return ", ".join(parts)


# --------------------------------------------------------------------------------------- run ids


def params_hash(params: Mapping[str, Any]) -> str:
    """SHA-256 hex digest of the canonical JSON of ``params`` (sorted keys, no spaces, ASCII).

    Key order does not matter; types do (``1``, ``1.0``, ``"1"`` and ``True`` all differ).
    """
    return hashlib.sha256(_canonical_json(params).encode("ascii")).hexdigest()


def _canonical_json(value: Any) -> str:
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _plain(value: Any) -> Any:
    """Mappings -> dicts and tuples -> lists, recursively, so ``json`` accepts any Mapping."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def run_id(name: str | None, params: Mapping[str, Any], *, max_len: int = 64) -> str:
    """A stable, filesystem-safe id for a run, at most ``max_len`` characters (>= 32).

    ``params`` are the values that set this run apart from its named base: empty for a plain
    named set, the swept ``{dotted.key: value}`` for a sweep point (or a whole set when ``name``
    is None). The id uses only ``[A-Za-z0-9._-]``, never starts with ``.`` or ``-``, and does not
    depend on key order:

    - named set: the name, when it is already safe and fits; otherwise the name with unsafe runs
      replaced by ``_`` and its ends trimmed, shortened, plus ``__<12 hex of sha256(name)>``
      (``../etc`` -> ``etc__<hex>``) so that different names ("a b", "a_b") never share an id;
    - sweep point: ``<base>__k1-v1_k2-v2`` (keys sorted) when every key and value is readable
      (scalars, keys without ``-``, string values without ``_`` that do not read as a number)
      and it fits; else ``<base>__<12 hex of params_hash(params)>``; without a name, no
      ``<base>__`` prefix.
    """
    if max_len < _MIN_ID_LEN:
        raise ValueError(f"max_len must be at least {_MIN_ID_LEN}, got {max_len}")
    if not params:
        return _safe_name(name, max_len) if name is not None else params_hash({})[:_HASH_LEN]
    pairs = _readable_pairs(params)
    base = _safe_name(name, max_len - 2 - _HASH_LEN) if name is not None else ""
    if pairs is not None:
        readable = f"{base}__{pairs}" if base else pairs
        if len(readable) <= max_len:
            return readable
    digest = params_hash(params)[:_HASH_LEN]
    return f"{base}__{digest}" if base else digest


def _safe_name(name: str, limit: int) -> str:
    cleaned = _UNSAFE_RE.sub("_", name).lstrip(".-")
    if cleaned == name and cleaned and len(cleaned) <= limit:
        return cleaned
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_LEN]
    prefix = cleaned[: limit - 2 - _HASH_LEN].strip("_.-")
    return f"{prefix}__{digest}" if prefix else digest


def _readable_pairs(params: Mapping[str, Any]) -> str | None:
    pairs = []
    for key in sorted(params):
        if not isinstance(key, str) or not _ID_KEY_RE.match(key):
            return None
        value = _readable_value(params[key])
        if value is None:
            return None
        pairs.append(f"{key}-{value}")
    return "_".join(pairs)


def _readable_value(value: Any) -> str | None:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            return None
        text = repr(value)
    elif isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            text = value
        else:  # "1", "true", "null" would read like the number/bool/None itself
            return None
    else:
        return None
    return text if _ID_VALUE_RE.match(text) else None


def check_run_id(run: str) -> str:
    """Return ``run`` if it is a safe run id (as :func:`run_id` makes), else raise UserError.

    Safe: 1-255 characters from ``[A-Za-z0-9._-]``, not starting with ``.`` or ``-`` (so never
    ``.``, ``..``, ``../x``, ``a/b``, ``a\\b``, a NUL byte or an option-like ``-x``).
    """
    if not isinstance(run, str) or not _RUN_ID_RE.match(run) or len(run) > _MAX_RUN_ID_LEN:
        msg = (
            f"unsafe run id {run!r}: use 1-{_MAX_RUN_ID_LEN} characters from A-Z a-z 0-9 . _ - "
            "not starting with . or -; take ids from the config, not typed paths"
        )
        raise UserError(msg)
    return run


# ---------------------------------------------------------------------------------------- sweeps


def expand_sweep(
    base_name: str, base: Mapping[str, Any], sweep: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """Expand ``sweep`` over ``base`` into ``{run_id: params}``, in a deterministic order.

    ``sweep = {"grid": {"a.b": [1, 2], "c": [...]}, "zip": {"d": [...], "e": [...]}}``. Keys are
    dotted paths into the nested params (missing intermediate mappings are created). ``grid``
    is the cartesian product, in the order the keys are given, the last key varying fastest;
    ``zip`` steps its lists in lock-step (all the same length); with both, every grid point is
    combined with every zip point (grid outermost). Each run's params are a fresh deep copy; its
    id is :func:`run_id` of ``base_name`` and the swept values. Raises UserError for a key other
    than grid/zip, neither given, a value that is not a non-empty list, unequal zip lengths, a
    path in both, an empty path segment, a parent that is not a mapping, and repeated run ids.
    """
    where = f"sweep of {base_name!r}"
    if not isinstance(base, Mapping):
        raise UserError(f"{where}: the base parameters must be a mapping, got {_show(base)}")
    if not isinstance(sweep, Mapping):
        raise UserError(f"{where}: expected a mapping with grid and/or zip, got {_show(sweep)}")
    unknown = [key for key in sweep if key not in SWEEP_KINDS]
    if unknown:
        msg = f"{where}: unknown key {unknown[0]!r}; accepted: {', '.join(SWEEP_KINDS)}"
        raise UserError(msg)
    axes: dict[str, dict[str, list[Any]]] = {}
    for kind in SWEEP_KINDS:
        if kind not in sweep:
            continue
        lists = sweep[kind]
        if not isinstance(lists, Mapping) or not lists:
            msg = f"{where}: {kind} must map dotted keys to lists of values, got {_show(lists)}"
            raise UserError(msg)
        for key, values in lists.items():
            _split_path(key, where)
            if not isinstance(values, list | tuple) or not values:
                msg = (
                    f"{where}: {kind}.{key} must be a non-empty list of values, got {_show(values)}"
                )
                raise UserError(msg)
        axes[kind] = {key: list(values) for key, values in lists.items()}
    if not axes:
        raise UserError(f"{where}: give grid and/or zip")
    grid, zipped = axes.get("grid", {}), axes.get("zip", {})
    both = sorted(set(grid) & set(zipped))
    if both:
        raise UserError(f"{where}: {both[0]!r} is in both grid and zip; keep it in one")
    lengths = {key: len(values) for key, values in zipped.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{key} has {length}" for key, length in lengths.items())
        raise UserError(f"{where}: zip lists must have the same length ({shown})")
    grid_points = [
        dict(zip(grid, combo, strict=True)) for combo in itertools.product(*grid.values())
    ]
    zip_length = next(iter(lengths.values()), 1)
    zip_points = [{key: values[i] for key, values in zipped.items()} for i in range(zip_length)]
    runs: dict[str, dict[str, Any]] = {}
    points: dict[str, dict[str, Any]] = {}
    for grid_point, zip_point in itertools.product(grid_points, zip_points):
        point = {**grid_point, **zip_point}
        params = copy.deepcopy(_plain(base))
        for key, value in point.items():
            _set_path(params, key, copy.deepcopy(_plain(value)), where)
        rid = run_id(base_name, point)
        if rid in runs:
            msg = (
                f"{where}: run id {rid!r} comes up twice ({_show(points[rid])} and "
                f"{_show(point)}); remove the repeated values"
            )
            raise UserError(msg)
        runs[rid] = params
        points[rid] = point
    return runs


def _split_path(key: Any, where: str) -> list[str]:
    parts = key.split(".") if isinstance(key, str) else []
    if not parts or not all(parts):
        msg = f"{where}: {key!r} is not a dotted key path like network.n_neurons"
        raise UserError(msg)
    return parts


def _set_path(params: dict[str, Any], key: str, value: Any, where: str) -> None:
    *parents, leaf = _split_path(key, where)
    node = params
    for depth, part in enumerate(parents):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            parent = ".".join(parents[: depth + 1])
            msg = (
                f"{where}: cannot set {key}: {parent} is {_type_name(child)} "
                f"({_show(child)}), not a mapping; sweep a key inside a mapping"
            )
            raise UserError(msg)
        node = child
    node[leaf] = value


# ----------------------------------------------------------------------------------------- files


# --------------------------------------------------------------------------------------- helpers


def _key_path(parts: tuple[str | int, ...]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _path_sort_key(parts: tuple[str | int, ...]) -> tuple[tuple[int, str | int], ...]:
    return tuple((0, part) if isinstance(part, int) else (1, str(part)) for part in parts)


def _show(value: Any, limit: int = 60) -> str:
    try:
        text = json.dumps(_plain(value), ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _type_name(value: Any) -> str:
    """``value``'s kind in user words, with its article: ``a mapping``, ``an integer``, ``null``."""
    if value is None:
        return "null"
    names = {dict: "mapping", list: "list", str: "string", bool: "boolean", int: "integer"}
    name = names.get(type(value), "number" if isinstance(value, float) else type(value).__name__)
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
