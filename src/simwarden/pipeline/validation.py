"""Every run's parameter set loaded, its sweep values laid over it, checked against its schema,
defaults filled in, as ``results/params/<run>.json``: when the Snakefile is parsed, for every run
whose schema can be read then, and by the one ``validate_params`` job for the rest (runs whose
schema is inside a checkout that is not fetched yet: the first run, a new commit).

Why not a job per run: each cost a fresh Python (~0.2 s), most of a short run's overhead in a
sweep. Why not one job for every run: Snakemake redoes every job downstream of a job it redoes,
so one edited parameter set would redo the whole sweep. Written when the Snakefile is parsed, a
run's parameter file is a source file to Snakemake, rewritten only when its content changes, so
exactly the runs whose parameters changed are redone (mtime and checksum, Snakemake's own rules).

The index (:data:`~simwarden.pipeline.layout.PARAMS_INDEX`, run -> digest of what its parameters
are made of) lets a parse skip the runs whose sources did not change: a no-op rerun of 10,000
runs reads a few small files, not 10,000. A refused set does not stop the others. A run that
has a valid parameter file from before keeps it (so neither its results nor, once the set is
fixed back, its staleness are touched: a typo in a sweep's base set must not throw away the
sweep); a run without one gets its problem lines instead (a JSON array), and fails saying every
one of them, before the simulation starts. ``_errors.json``
(:data:`~simwarden.pipeline.layout.PARAMS_ERRORS`) keeps them per run (for ``simwarden status``
and check_runs, which fails the workflow) while any set is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simwarden.core.errors import UserError
from simwarden.pipeline import layout

# How many runs' problems the error itself lists; the errors file has every one.
SHOWN_RUNS = 10


@dataclass(frozen=True)
class ParamSource:
    """What one run's validated parameters are made of."""

    param_file: str | None  # None: a script without param sets starts from {}
    overrides: Mapping[str, Any]  # the sweep point's values, laid over the file's
    schema: str | None  # inside the checkout, or ``workflow:PATH``; None: no validation
    code: str  # the checkout's provenance file (results/code/<code>.json)

    @property
    def schema_file(self) -> str | None:
        """The file the schema is read from when it is not inside the checkout, else None."""
        if self.schema and self.schema.startswith("workflow:"):
            return self.schema.removeprefix("workflow:")
        return None

    @property
    def needs_checkout(self) -> bool:
        """Whether the schema is inside the checkout (readable once it is fetched)."""
        return bool(self.schema) and self.schema_file is None


@dataclass
class ValidationPlan:
    """Every run's :class:`ParamSource`. Not a type Snakemake can serialise, so it is not
    tracked when a rule takes it as a param (:meth:`digest` is)."""

    sources: dict[str, ParamSource]
    root: Path = Path(".")  # the workflow directory (results/ is under it)
    _file_digests: dict[str, str] = field(default_factory=dict, repr=False)

    def unfetched(self) -> list[str]:
        """The runs whose schema is inside a checkout that is not fetched yet: only the
        validate_params job, after fetch_code, can validate them."""
        fetched: dict[str, bool] = {}
        unfetched = []
        for run, source in self.sources.items():
            if source.needs_checkout:
                if source.code not in fetched:
                    fetched[source.code] = (self.root / source.code).is_file()
                if not fetched[source.code]:
                    unfetched.append(run)
        return unfetched

    def stale(self) -> list[str]:
        """The runs whose parameter file is missing, or whose sources changed since the index
        says they were validated (a run that was never validated among them)."""
        index = _read_index(self.root)
        return [
            run
            for run in self.sources
            if index.get(run) != self.source_digest(run)
            or not (self.root / layout.for_run(layout.PARAMS, run)).is_file()
        ]

    def pending(self) -> list[str]:
        """What the validate_params job validates, as a job's own Snakemake sees it (SLURM,
        after fetch_code and before or after the job): the stale runs without a file yet, or
        with a parameter set from before (not a refusal, nor a set kept because the new one is
        refused: those are in ``_errors.json``). The main process's
        :func:`validate_when_parsed` leaves exactly these (the runs of unfetched checkouts)."""
        refused = layout.refused_params(self.root)
        pending = []
        for run in self.stale():
            text = _read_or_none(self.root / layout.for_run(layout.PARAMS, run))
            if run not in refused and (text is None or _holds_parameters(text)):
                pending.append(run)
        return pending

    def source_digest(self, run: str) -> str:
        """What ``run``'s validated parameters are made of, as a digest. Each file is read once
        per plan; a missing file digests as missing."""
        source = self.sources[run]
        parts = [json.dumps(_plain(source), sort_keys=True, separators=(",", ":"))]
        for path in (source.param_file, source.schema_file):
            if path:
                parts.append(self._file_digest(path))
        if source.needs_checkout:  # the commit (in the code file) fixes the schema's content
            parts.append(self._file_digest(source.code))
        return _sha256("\n".join(parts))

    def _file_digest(self, path: str) -> str:
        if path not in self._file_digests:
            try:
                data = (self.root / path).read_bytes()
            except OSError:
                self._file_digests[path] = "missing"
            else:
                self._file_digests[path] = hashlib.sha256(data).hexdigest()
        return self._file_digests[path]

    def inputs(self, runs: Iterable[str]) -> list[str]:
        """The files validating ``runs`` reads (parameter files, workflow schemas, the code files
        of checkouts holding a schema), each once, in a stable order."""
        files: dict[str, None] = {}
        for run in runs:
            source = self.sources[run]
            for path in (source.param_file, source.schema_file):
                if path:
                    files[path] = None
            if source.needs_checkout:
                files[source.code] = None
        return list(files)


def _plain(source: ParamSource) -> dict[str, Any]:
    return {
        "param_file": source.param_file,
        "overrides": source.overrides,
        "schema": source.schema,
        "code": source.code,
    }


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def validate_when_parsed(plan: ValidationPlan) -> list[str]:
    """In the main Snakemake process, when the Snakefile is parsed: validate every stale run
    that can be validated now; returns the runs left to the validate_params job (their schema
    is in a checkout not fetched yet). A refused set is one line here; its run fails saying
    why (see :func:`validate_all`)."""
    from simwarden.core.log import say

    unfetched = set(plan.unfetched())
    stale = plan.stale()
    now = [run for run in stale if run not in unfetched]
    refused = validate_all(plan, now) if now else {}
    if refused:
        say(
            f"{_count(refused)} refused ({_shown(sorted(refused))}): a run that ran before "
            "keeps its results and is not run again, the others fail saying why; every "
            f"problem is in {layout.PARAMS_ERRORS}"
        )
    return [run for run in stale if run in unfetched]


def _count(runs: Mapping[str, list[str]]) -> str:
    return "1 parameter set is" if len(runs) == 1 else f"{len(runs)} parameter sets are"


def _shown(runs: list[str]) -> str:
    """The first runs' ids, and how many more."""
    more = len(runs) - SHOWN_RUNS
    return ", ".join(runs[:SHOWN_RUNS]) + (f" and {more} more" if more > 0 else "")


def validate_all(plan: ValidationPlan, runs: Iterable[str]) -> dict[str, list[str]]:
    """Validate ``runs`` of ``plan`` and write each one's ``results/params/<run>.json`` when it
    changed: the validated set; for a refused set, the list of its problem lines (a JSON array,
    never a parameter set: its run_simulation job fails saying them, see :func:`refusal`, and
    the others run), unless the file holds a valid set from before, which is kept (the run and
    its results stay as they were). The valid runs' digests go into the index, every refused
    run's problems into ``_errors.json`` (removed when there are none). Returns the refused
    runs' problem lines."""
    from simwarden.core.fsutil import json_text, replace_atomically, write_json_atomic

    # Files read afresh: the plan may come from before fetch_code wrote a code file.
    plan = ValidationPlan(plan.sources, plan.root)
    validated, problems = _check_every_run(plan, list(runs))
    contents = {run: json_text(params) for run, params in validated.items()}
    contents.update({run: json_text(lines) for run, lines in problems.items()})
    for run, text in contents.items():
        path = plan.root / layout.for_run(layout.PARAMS, run)
        current = _read_or_none(path)
        if run in problems and _holds_parameters(current):
            continue  # a valid set from before: its run and results stay as they are
        if current != text:
            # Not fsynced (10,000 fsyncs take minutes); a file a crash left short fails to
            # parse in its run's job, and the index below (written after it) is not updated.
            write = lambda tmp, t=text: tmp.write_text(t, encoding="utf-8")  # noqa: E731
            replace_atomically(path, write, durable=False)
    index = _read_index(plan.root)
    index.update({run: plan.source_digest(run) for run in validated})
    for run in problems:
        index.pop(run, None)
    write_json_atomic(plan.root / layout.PARAMS_INDEX, index, durable=False)
    errors = {
        run: lines
        for run, lines in layout.refused_params(plan.root).items()
        if run in plan.sources and run not in validated
    }
    errors.update(problems)
    errors_file = plan.root / layout.PARAMS_ERRORS
    if errors:
        write_json_atomic(errors_file, errors)
    else:
        errors_file.unlink(missing_ok=True)
    return problems


def refusal(params: object) -> list[str] | None:
    """The problem lines a refused run's parameter file holds instead of parameters (a list:
    a parameter set is always an object), None for a parameter set."""
    if isinstance(params, list):
        return [str(line) for line in params]
    return None


def _read_index(root: Path) -> dict[str, str]:
    try:
        index = json.loads((root / layout.PARAMS_INDEX).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return index if isinstance(index, dict) else {}


def _check_every_run(
    plan: ValidationPlan, runs: list[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
    """(validated params per run, problem lines per refused run)."""
    validator = Validator(plan.root)
    validated: dict[str, dict[str, Any]] = {}
    problems: dict[str, list[str]] = {}
    for run in runs:
        source = plan.sources[run]
        try:
            validated[run] = validator.params_of(source)
        except UserError as error:
            problems[run] = str(error).splitlines()
    return validated, problems


class Validator:
    """Validates parameter sets, reading each parameter file and schema once (a sweep of 10,000
    points shares one file and one schema). A file or schema that cannot be read fails every
    set that uses it, each with the same message."""

    def __init__(self, root: Path = Path(".")) -> None:
        self._root = root
        self._loaded: dict[str, Any] = {}
        self._checkers: dict[tuple[str, str], Any] = {}

    def params_of(self, source: ParamSource) -> dict[str, Any]:
        """``source``'s parameters: its file's (``{}`` without one), the sweep values laid over
        them, checked against its schema with defaults filled (as they are without a schema).
        UserError naming the file, the sweep values and every problem."""
        from simwarden.pipeline.params import deep_merge

        param_file = source.param_file
        base = _cached(self._loaded, param_file or "", lambda: _load(self._root, param_file))
        params: dict[str, Any] = deep_merge(base, source.overrides)
        if source.schema:
            schema, code = source.schema, source.code
            make = lambda: _checker(self._root, schema, code)  # noqa: E731
            check = _cached(self._checkers, (schema, code), make)
            params = check(params, _described(source))
        return params


def _load(root: Path, param_file: str | None) -> dict[str, Any]:
    from simwarden.pipeline.params import load_param_file

    return load_param_file(root / param_file) if param_file else {}


def _checker(root: Path, schema: str, code: str) -> Callable[[dict[str, Any], str], dict[str, Any]]:
    from simwarden.pipeline.params import schema_checker

    return schema_checker(schema_path(schema, str(root / code), root))


def schema_path(schema: str, code: str, root: Path = Path(".")) -> Path:
    """The parameter schema's file: ``workflow:PATH`` beside the workflow (``root``), else
    ``schema`` inside the checkout named by the provenance file ``code`` (never outside it)."""
    from simwarden.pipeline.codefile import read_code_file

    if schema.startswith("workflow:"):
        path = root / schema.removeprefix("workflow:")
    else:
        checkout = Path(read_code_file(code)["path"])
        path = checkout / schema
        if not path.resolve().is_relative_to(checkout.resolve()):
            raise UserError(f"config: param_schema {schema!r} points outside the repository")
    if not path.is_file():
        raise UserError(f"config: param_schema {schema!r} not found ({path})")
    return path


def _cached(cache: dict[Any, Any], key: Any, make: Callable[[], Any]) -> Any:
    """``make()`` once per key; a UserError is cached too and raised again for every run that
    shares the key (each run names its own problem)."""
    if key not in cache:
        try:
            cache[key] = make()
        except UserError as error:
            cache[key] = error
    value = cache[key]
    if isinstance(value, UserError):
        raise value
    return value


def _described(source: ParamSource) -> str:
    """How a problem names the parameter set: its file, and the sweep values laid over it."""
    name = source.param_file or "the empty parameter set"
    if source.overrides:
        return f"{name} (with {json.dumps(source.overrides, sort_keys=True)})"
    return name


def _holds_parameters(text: str | None) -> bool:
    """Whether a parameter file's text is a parameter set (a JSON object), not a refusal's
    problem lines (an array) nor missing."""
    return text is not None and not text.lstrip().startswith("[")


def _read_or_none(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None
