"""The simulations of a workflow config, in one shape whichever shape the config has.

A config names its simulation in one of two shapes:

- **one simulation**: ``repository``, ``commit`` (or ``commits:``, a list), ``runner`` and
  optional ``param_schema``, ``param_sets`` and ``sweeps`` at the top level (the embedded demo;
  run ids are the param set and sweep point names: ``small``, ``rate__input.rate_hz-15.0``,
  with ``@<commit>`` appended when several commits are listed: ``small@v0.3``);
- **several**: ``simulations:``, a mapping of name -> entry with the same keys, and ``commits:``
  (a list) in place of ``commit`` to run every param set at each commit.

:func:`simulations_of` turns either into a list of :class:`Simulation`; :mod:`.plan` expands them
into runs. The ids made here (:func:`safe_ref`, :func:`check_run_path`) are what every run path
is built from.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from simwarden.core.errors import UserError

# The keys of one simulation, at the top level (one-simulation config) or in an entry.
SIMULATION_KEYS = (
    "repository",
    "commit",
    "commits",
    "runner",
    "param_schema",
    "param_sets",
    "sweeps",
)
GLOB_CHARS = "*?["
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
_SEGMENT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]*\Z")
_UNSAFE_RE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_SEGMENT = 255  # longest file name on common filesystems


@dataclass(frozen=True)
class Simulation:
    """One simulation as the config gives it (a glob entry is still one :class:`Simulation`).

    ``name`` is None for the one-simulation config; ``key`` is where it sits in the config
    (``simulations.lif``, or ``""`` at the top level) for messages; ``refs`` are the commits as
    written, in config order (more than one: every run id gets an ``@<ref>`` suffix).
    """

    name: str | None
    key: str
    repository: str
    refs: tuple[str, ...]
    runner: Mapping[str, Any]
    schema: str | None = None
    param_sets: Mapping[str, str] = field(default_factory=dict)
    sweeps: Mapping[str, Any] = field(default_factory=dict)

    def where(self, key: str) -> str:
        """``key`` as the config spells it for this simulation (``simulations.lif.commit``)."""
        return f"{self.key}.{key}" if self.key else key

    @property
    def glob(self) -> str | None:
        """The runner's script when it is a glob (``dev/*.py``): one simulation per match."""
        script = self.runner.get("script")
        if isinstance(script, str) and any(c in script for c in GLOB_CHARS):
            return script
        return None

    @property
    def parameterless(self) -> bool:
        """No param sets and no sweeps: the script runs once, as it is."""
        return not self.param_sets and not self.sweeps


def simulations_of(
    config: Mapping[str, Any], source: str = "config/config.yaml"
) -> list[Simulation]:
    """The simulations of a schema-checked ``config``, in config order. UserError (one line
    naming ``source`` and the key) for a config with both shapes, an entry name that is not a
    plain name, a simulation with both or neither of ``commit`` and ``commits``, or a commit
    listed twice."""
    entries = config.get("simulations")
    if entries is None:
        needed = ("repository", "commits" if "commits" in config else "commit", "runner")
        missing = [key for key in needed if not config.get(key)]
        if missing:
            raise UserError(
                f"{source}: {missing[0]}: missing; give repository, commit and runner (one "
                "simulation), or simulations: (several)"
            )
        return [_top_level(config, source)]
    mixed = [key for key in SIMULATION_KEYS if config.get(key) is not None]
    if mixed:
        raise UserError(
            f"{source}: {mixed[0]}: give it inside each entry of simulations (a config has "
            "either simulations: or one repository/commit/runner at the top level)"
        )
    if not entries:
        raise UserError(f"{source}: simulations: no entries; add at least one simulation")
    return [_entry(str(name), entry, source) for name, entry in entries.items()]


def _top_level(config: Mapping[str, Any], source: str) -> Simulation:
    return Simulation(
        name=None,
        key="",
        repository=str(config.get("repository") or ""),
        refs=_refs(config, source, ""),
        runner=dict(config.get("runner") or {}),
        schema=config.get("param_schema"),
        param_sets={str(k): str(v) for k, v in (config.get("param_sets") or {}).items()},
        sweeps=dict(config.get("sweeps") or {}),
    )


def _entry(name: str, entry: Mapping[str, Any], source: str) -> Simulation:
    key = f"simulations.{name}"
    if not _NAME_RE.match(name) or len(name) > _MAX_SEGMENT:
        raise UserError(
            f"{source}: {key}: {name!r} is not a simulation name; use letters, digits, '.', "
            "'_', '-', starting with a letter or digit (it names the runs: NAME/SET@COMMIT)"
        )
    return Simulation(
        name=name,
        key=key,
        repository=str(entry["repository"]),
        refs=_refs(entry, source, key),
        runner=dict(entry["runner"]),
        schema=entry.get("param_schema"),
        param_sets={str(k): str(v) for k, v in (entry.get("param_sets") or {}).items()},
        sweeps=dict(entry.get("sweeps") or {}),
    )


def _refs(entry: Mapping[str, Any], source: str, key: str) -> tuple[str, ...]:
    """The commits of one simulation (``entry`` is the config's top level when ``key`` is ""):
    ``commit`` or ``commits``, never both nor neither, none listed twice."""
    if ("commit" in entry) == ("commits" in entry):
        raise UserError(
            f"{source}: {key or 'commits'}: give commit (one) or commits (a list), not both"
        )
    refs = [entry["commit"]] if "commit" in entry else list(entry["commits"])
    if len(set(refs)) != len(refs):
        twice = next(ref for ref in refs if refs.count(ref) > 1)
        where = f"{key}.commits" if key else "commits"
        raise UserError(f"{source}: {where}: {twice!r} is listed twice")
    return tuple(str(ref) for ref in refs)


def safe_ref(ref: str) -> str:
    """A commit as the config writes it, made one run-id segment: runs of characters other than
    ``A-Za-z0-9._-`` become ``_`` (``feature/x`` -> ``feature_x``), leading ``.``/``_``/``-``
    are dropped; an empty result or one too long becomes 12 hex digits of its SHA-256."""
    cleaned = _UNSAFE_RE.sub("_", ref).lstrip("._-")
    if cleaned and len(cleaned) <= 64:
        return cleaned
    return hashlib.sha256(ref.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def repository_slug(repository: str) -> str:
    """A readable name for a repository as written: its last path part without ``.git`` or
    ``.bundle`` (``examples/demo-sim.bundle`` -> ``demo-sim``); ``repo`` when nothing is left."""
    name = repository.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    name = re.sub(r"\.(git|bundle)$", "", name)
    return safe_ref(name) if name.strip("._-") else "repo"


def check_run_path(run: str) -> str:
    """Return ``run`` if it is a legal run id, else raise UserError: segments of
    ``[A-Za-z0-9][A-Za-z0-9._@-]*`` (at most 255 characters each) joined by ``/``, so never
    ``..``, an absolute path, a backslash or an option-like ``-x``."""
    segments = run.split("/") if isinstance(run, str) else [""]
    if not all(_SEGMENT_RE.match(s) and len(s) <= _MAX_SEGMENT for s in segments):
        raise UserError(
            f"unsafe run id {run!r}: use segments of A-Z a-z 0-9 . _ @ - (each starting with a "
            "letter or digit) joined by /"
        )
    return run
