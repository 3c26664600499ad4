"""Validating parameter sets (and the workflow config) against a JSON Schema, draft 2020-12:
defaults filled in, ``format: size`` and ``format: duration`` asserted, and every problem reported
at once, one line each naming the file, the key, the value found and what is accepted.
"""

from __future__ import annotations

import copy
import difflib
import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simwarden.core.errors import UserError
from simwarden.pipeline.params.load import load_json, load_yaml
from simwarden.pipeline.params.text import key_path, one_line, path_sort_key, show, type_name

FORMAT_FORMS = {
    "size": "a size like 500MB, 1.5GiB, 4*1024**3, 80%, or a number of MB",
    "duration": "a duration like 90s, 10m, 2h, 1:30:00, or a number of seconds",
}


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
            details.append(f"got {show(self.value)}")
        if self.accepted:
            details.append(f"accepted: {self.accepted}")
        tail = f" ({'; '.join(details)})" if details else ""
        return f"{self.source}: {key_path(self.path)}: {self.message}{tail}"


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
    return schema_checker(schema)(params, source)


def schema_checker(
    schema: dict[str, Any] | Path,
) -> Callable[[dict[str, Any], str], dict[str, Any]]:
    """:func:`validate` with the schema read and checked once: ``check(params, source)``, for
    many parameter sets against one schema (a sweep). An invalid schema raises UserError here."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    schema_source = str(schema) if isinstance(schema, Path) else "schema"
    schema_dict = load_schema(schema) if isinstance(schema, Path) else schema
    try:
        Draft202012Validator.check_schema(schema_dict)
    except SchemaError as exc:
        where = key_path(tuple(exc.absolute_path))
        msg = f"{schema_source}: invalid JSON Schema at {where}: {one_line(exc.message)}"
        raise UserError(msg) from exc
    validator = _defaulting_validator_class()(schema_dict, format_checker=_format_checker())

    def check(params: dict[str, Any], source: str) -> dict[str, Any]:
        result = copy.deepcopy(params)
        problems: list[Problem] = []
        for error in validator.iter_errors(result):
            for problem in _problems_from_error(error, source):
                if problem not in problems:
                    problems.append(problem)
        if problems:
            problems.sort(key=lambda problem: (path_sort_key(problem.path), problem.message))
            raise ParamError(problems)
        return result

    return check


def load_schema(path: Path) -> dict[str, Any]:
    """Read a JSON Schema from a ``.json``/``.yaml`` file; UserError naming the file if it is
    missing, of another type, unparsable, or not a mapping at the top."""
    suffix = path.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        raise UserError(f"{path}: unknown schema file type {path.suffix!r}; use .json or .yaml")
    if not path.exists():
        raise UserError(f"{path}: schema file does not exist")
    text = path.read_text(encoding="utf-8")
    data = load_json(text, path) if suffix == ".json" else load_yaml(text, path)
    if not isinstance(data, dict | bool):
        raise UserError(f"{path}: schema top level is {type_name(data)}, expected a mapping")
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

    extended: type = validators.extend(  # type: ignore[no-untyped-call]
        Draft202012Validator, {"properties": properties_with_defaults}
    )
    return extended


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


# What each JSON Schema keyword's failure is called in a problem line.
_MESSAGES = {
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


def _problems_from_error(error: Any, source: str) -> list[Problem]:
    path = tuple(error.absolute_path)
    keyword = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    instance = error.instance
    if keyword == "additionalProperties" and error.validator_value is False:
        return _unknown_keys(schema, instance, path, source)
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
        form = FORMAT_FORMS.get(error.validator_value, f"a {error.validator_value} string")
        message = f"not a valid {error.validator_value}"
        return [Problem(source, path, message, instance, True, form)]
    if keyword in ("oneOf", "anyOf"):
        options = " | ".join(_describe(option) or "(any)" for option in error.validator_value)
        message = "matches none of the allowed forms"
        if keyword == "oneOf" and not error.context:
            message = "matches more than one of the allowed forms"
        return [Problem(source, path, message, instance, True, options)]
    message = _MESSAGES.get(keyword, one_line(error.message))
    return [Problem(source, path, message, instance, True, _describe(schema) or "see the schema")]


def _unknown_keys(
    schema: dict[str, Any], instance: Any, path: tuple[str | int, ...], source: str
) -> list[Problem]:
    """One problem per key that ``additionalProperties: false`` refused, with a close match."""
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
            Problem(source, (*path, extra), f"unknown key{hint}", instance[extra], True, accepted)
        )
    return problems


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
        parts.append("one of " + ", ".join(show(value) for value in schema["enum"]))
    if "const" in schema:
        parts.append("exactly " + show(schema["const"]))
    if "format" in schema:
        parts.append(FORMAT_FORMS.get(schema["format"], f"format {schema['format']}"))
    for keyword, symbol in (
        ("minimum", ">="),
        ("exclusiveMinimum", ">"),
        ("maximum", "<="),
        ("exclusiveMaximum", "<"),
        ("multipleOf", "a multiple of"),
    ):
        if keyword in schema:
            parts.append(f"{symbol} {show(schema[keyword])}")
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
