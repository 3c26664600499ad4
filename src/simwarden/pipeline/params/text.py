"""How parameter problems are worded: key paths, shown values and type names, shared by the
loaders, the schema check and the sweeps so every message reads the same."""

from __future__ import annotations

import json
from collections.abc import Mapping

# typing costs ~5 ms of every run's job, which loads this module; annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def key_path(parts: tuple[str | int, ...]) -> str:
    """``("input", "rates", 2)`` -> ``input.rates[2]``; ``()`` -> ``(top level)``."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def path_sort_key(parts: tuple[str | int, ...]) -> tuple[tuple[int, str | int], ...]:
    """A sort key for key paths that orders list indices before names at each level."""
    return tuple((0, part) if isinstance(part, int) else (1, str(part)) for part in parts)


def plain(value: Any) -> Any:
    """Mappings -> dicts and tuples -> lists, recursively, so ``json`` accepts any Mapping."""
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def show(value: Any, limit: int = 60) -> str:
    """``value`` as compact JSON (``repr`` if JSON cannot hold it), cut to ``limit`` characters."""
    try:
        text = json.dumps(plain(value), ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def type_name(value: Any) -> str:
    """``value``'s kind in user words, with its article: ``a mapping``, ``an integer``, ``null``."""
    if value is None:
        return "null"
    names = {dict: "mapping", list: "list", str: "string", bool: "boolean", int: "integer"}
    name = names.get(type(value), "number" if isinstance(value, float) else type(value).__name__)
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines too) made one space."""
    return " ".join(str(text).split())
