"""Runs from parameter sets: sweeps expanded into points, stable filesystem-safe run ids, the
parameters hash, and sweep values laid over a parameter set."""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import re
from collections.abc import Mapping

from simwarden.core.errors import UserError
from simwarden.pipeline.params.text import plain, show, type_name

# typing costs ~5 ms of every run's job, which hashes its parameters here; annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SWEEP_KINDS = ("grid", "zip")

_UNSAFE_RE = re.compile(r"[^A-Za-z0-9._-]+")
_RUN_ID_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*\Z")
# Readable sweep ids join "key-value" pairs with "_": keys never hold "-" and values never hold
# "_", so the id can be split back into its pairs and two different points never share one.
_ID_KEY_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._]*\Z")
_ID_VALUE_RE = re.compile(r"[A-Za-z0-9.-]+\Z")
_HASH_LEN = 12
_MIN_ID_LEN = 32
_MAX_RUN_ID_LEN = 255  # longest file name on common filesystems


def deep_merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``base`` with ``overrides`` laid over it: nested mappings merge key by
    key, anything else replaces the base value. Neither argument is modified."""
    merged = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def params_hash(params: Mapping[str, Any]) -> str:
    """SHA-256 hex digest of the canonical JSON of ``params`` (sorted keys, no spaces, ASCII).

    Key order does not matter; types do (``1``, ``1.0``, ``"1"`` and ``True`` all differ).
    """
    return hashlib.sha256(_canonical_json(params).encode("ascii")).hexdigest()


def _canonical_json(value: Any) -> str:
    return json.dumps(plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=True)


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
        raise UserError(f"{where}: the base parameters must be a mapping, got {show(base)}")
    runs: dict[str, dict[str, Any]] = {}
    points: dict[str, dict[str, Any]] = {}
    for point in _sweep_points(sweep, where):
        params = copy.deepcopy(plain(base))
        for key, value in point.items():
            _set_path(params, key, copy.deepcopy(plain(value)), where)
        rid = run_id(base_name, point)
        if rid in runs:
            msg = (
                f"{where}: run id {rid!r} comes up twice ({show(points[rid])} and "
                f"{show(point)}); remove the repeated values"
            )
            raise UserError(msg)
        runs[rid] = params
        points[rid] = point
    return runs


def _sweep_axes(sweep: Any, where: str) -> dict[str, dict[str, list[Any]]]:
    """``{"grid": {key: values}, "zip": {...}}`` of a checked sweep (kinds given only)."""
    if not isinstance(sweep, Mapping):
        raise UserError(f"{where}: expected a mapping with grid and/or zip, got {show(sweep)}")
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
            msg = f"{where}: {kind} must map dotted keys to lists of values, got {show(lists)}"
            raise UserError(msg)
        for key, values in lists.items():
            _split_path(key, where)
            if not isinstance(values, list | tuple) or not values:
                msg = (
                    f"{where}: {kind}.{key} must be a non-empty list of values, got {show(values)}"
                )
                raise UserError(msg)
        axes[kind] = {key: list(values) for key, values in lists.items()}
    if not axes:
        raise UserError(f"{where}: give grid and/or zip")
    return axes


def _sweep_points(sweep: Any, where: str) -> list[dict[str, Any]]:
    """Every point of the sweep as ``{dotted key: value}``: grid outermost, then zip."""
    axes = _sweep_axes(sweep, where)
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
    return [
        {**grid_point, **zip_point}
        for grid_point, zip_point in itertools.product(grid_points, zip_points)
    ]


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
                f"{where}: cannot set {key}: {parent} is {type_name(child)} "
                f"({show(child)}), not a mapping; sweep a key inside a mapping"
            )
            raise UserError(msg)
        node = child
    node[leaf] = value
