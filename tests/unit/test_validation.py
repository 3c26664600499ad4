"""Parameter validation: one set (sweep values over the file, defaults, every error at once), and
every run's set written as results/params/<run>.json only when it changed, at parse time or by
the validate_params job for runs whose checkout is not fetched yet."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from simwarden.core.errors import UserError
from simwarden.pipeline import layout
from simwarden.pipeline.validation import (
    SHOWN_RUNS,
    ParamSource,
    ValidationPlan,
    Validator,
    refusal,
    validate_all,
    validate_when_parsed,
)

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "input": {
            "type": "object",
            "default": {},
            "properties": {
                "rate_hz": {"type": "number", "minimum": 0},
                "n": {"type": "integer", "default": 5},
            },
        },
        "seed": {"type": "integer", "minimum": 0, "default": 1},
    },
}
CODE = "results/code/sim@abc.json"


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workflow directory: two parameter files (named relative to it, as config.yaml names
    them) and a fetched checkout holding the schema."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config" / "params").mkdir(parents=True)
    (tmp_path / "config" / "params" / "small.yaml").write_text("input: {rate_hz: 20.0}\n")
    (tmp_path / "config" / "params" / "fast.json").write_text('{"seed": 3}\n')
    fetch(tmp_path)
    return tmp_path


def fetch(root: Path) -> None:
    """What fetch_code leaves: the checkout (with its schema) and its code file."""
    checkout = root / "checkout"
    checkout.mkdir(exist_ok=True)
    (checkout / "schema.json").write_text(json.dumps(SCHEMA))
    (root / CODE).parent.mkdir(parents=True, exist_ok=True)
    (root / CODE).write_text(json.dumps({"path": str(checkout)}))


def source(param_file: str | None = "config/params/small.yaml", **keys: Any) -> ParamSource:
    return ParamSource(
        param_file=param_file,
        overrides=keys.get("overrides", {}),
        schema=keys.get("schema", "schema.json"),
        code=CODE,
    )


def params_of(src: ParamSource) -> dict[str, Any]:
    return Validator().params_of(src)


def written(root: Path, run: str) -> Any:
    return json.loads((root / layout.for_run(layout.PARAMS, run)).read_text())


# -- one parameter set -----------------------------------------------------------------------


def test_sweep_values_are_laid_over_the_file_and_defaults_filled(lab: Path) -> None:
    assert params_of(source(overrides={"input": {"n": 7}})) == {
        "input": {"rate_hz": 20.0, "n": 7},
        "seed": 1,
    }


def test_a_workflow_schema_is_read_beside_the_workflow(lab: Path) -> None:
    (lab / "my.schema.json").write_text(json.dumps(SCHEMA))
    src = source("config/params/fast.json", schema="workflow:my.schema.json")
    assert params_of(src) == {"input": {"n": 5}, "seed": 3}


def test_every_error_is_reported_with_the_sweep_values(lab: Path) -> None:
    with pytest.raises(UserError) as error:
        params_of(source(overrides={"input": {"rate_hz": -1}, "seed": "x"}))
    lines = str(error.value).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(
        'config/params/small.yaml (with {"input": {"rate_hz": -1}, "seed": "x"}): input.rate_hz'
    )
    assert "seed: wrong type" in lines[1]


@pytest.mark.parametrize(
    ("schema", "fragment"),
    [
        ("../outside.json", "param_schema '../outside.json' points outside the repository"),
        ("nope.json", "param_schema 'nope.json' not found"),
        ("workflow:nope.json", "param_schema 'workflow:nope.json' not found"),
    ],
)
def test_a_bad_schema_path_is_refused(lab: Path, schema: str, fragment: str) -> None:
    (lab / "outside.json").write_text(json.dumps(SCHEMA))
    with pytest.raises(UserError, match=fragment.replace(".", r"\.")):
        params_of(source(schema=schema))


def test_without_a_param_file_or_schema_the_set_is_empty(lab: Path) -> None:
    assert params_of(source(None, schema=None)) == {}


def test_without_a_param_file_the_schema_defaults_are_filled(lab: Path) -> None:
    assert params_of(source(None)) == {"input": {"n": 5}, "seed": 1}


# -- every run -------------------------------------------------------------------------------


def sweep(points: int) -> ValidationPlan:
    return ValidationPlan(
        {f"seed-{i}": source(overrides={"seed": i}) for i in range(points)}
        | {"fast": source("config/params/fast.json")}
    )


def test_only_files_whose_content_changed_are_rewritten(lab: Path) -> None:
    plan = sweep(3)
    assert validate_when_parsed(plan) == []
    assert written(lab, "seed-2") == {"input": {"rate_hz": 20.0, "n": 5}, "seed": 2}
    assert written(lab, "fast") == {"input": {"n": 5}, "seed": 3}
    paths = {run: lab / layout.for_run(layout.PARAMS, run) for run in plan.sources}
    old = {run: path.stat().st_mtime_ns - 10**9 for run, path in paths.items()}
    for run, path in paths.items():
        os.utime(path, ns=(old[run], old[run]))

    (lab / "config" / "params" / "fast.json").write_text('{"seed": 4}\n')
    (lab / "config" / "params" / "small.yaml").write_text("input: {rate_hz: 20.0}  # same\n")
    assert validate_when_parsed(ValidationPlan(dict(plan.sources))) == []
    assert written(lab, "fast")["seed"] == 4
    changed = {run for run, path in paths.items() if path.stat().st_mtime_ns != old[run]}
    assert changed == {"fast"}


def test_an_unchanged_source_is_not_validated_again(lab: Path) -> None:
    plan = sweep(2)
    validate_when_parsed(plan)
    # The schema is gone from the checkout, but nothing the runs are made of changed: the index
    # says they were validated, so the parse reads no schema at all.
    (lab / "checkout" / "schema.json").unlink()
    assert validate_when_parsed(ValidationPlan(dict(plan.sources))) == []
    # A removed parameter file is written again (and so needs the schema): refused, its file
    # holds the problem (its run fails saying it).
    (lab / layout.for_run(layout.PARAMS, "seed-1")).unlink()
    assert validate_when_parsed(ValidationPlan(dict(plan.sources))) == []
    missing = lab / "checkout" / "schema.json"
    problem = [f"config: param_schema 'schema.json' not found ({missing})"]
    assert json.loads((lab / layout.PARAMS_ERRORS).read_text()) == {"seed-1": problem}
    assert written(lab, "seed-1") == problem


def test_runs_whose_checkout_is_not_fetched_are_left_to_the_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config" / "params").mkdir(parents=True)
    (tmp_path / "config" / "params" / "small.yaml").write_text("input: {rate_hz: 20.0}\n")
    plan = ValidationPlan(
        {
            "checked": source(),
            "plain": source(schema=None),
            "beside": source(schema="workflow:my.schema.json"),
        }
    )
    (tmp_path / "my.schema.json").write_text(json.dumps(SCHEMA))
    assert validate_when_parsed(plan) == ["checked"]
    assert plan.inputs(["checked"]) == ["config/params/small.yaml", CODE]
    assert written(tmp_path, "plain") == {"input": {"rate_hz": 20.0}}
    assert not (tmp_path / layout.for_run(layout.PARAMS, "checked")).exists()

    # A job's own Snakemake (SLURM) parses after fetch_code: it sees the same pending run.
    fetch(tmp_path)
    assert ValidationPlan(dict(plan.sources)).pending() == ["checked"]
    assert validate_all(plan, ["checked"]) == {}
    assert ValidationPlan(dict(plan.sources)).pending() == []
    assert written(tmp_path, "checked") == {"input": {"rate_hz": 20.0, "n": 5}, "seed": 1}
    assert validate_when_parsed(ValidationPlan(dict(plan.sources))) == []


def test_a_refused_set_holds_its_problems_and_the_others_are_written(
    lab: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = {f"bad-{i:02d}": source(overrides={"seed": -i - 1}) for i in range(SHOWN_RUNS + 2)}
    plan = ValidationPlan({"good": source(), **runs})
    assert validate_when_parsed(plan) == []
    assert capsys.readouterr().err.splitlines() == [
        f"simwarden: {SHOWN_RUNS + 2} parameter sets are refused (bad-00, bad-01, bad-02, "
        "bad-03, bad-04, bad-05, bad-06, bad-07, bad-08, bad-09 and 2 more): a run that ran "
        "before keeps its results and is not run again, the others fail saying why; every "
        f"problem is in {layout.PARAMS_ERRORS}"
    ]
    too_small = 'config/params/small.yaml (with {{"seed": {0}}}): seed: too small (got {0}; '
    too_small += "accepted: integer, >= 0)"
    assert written(lab, "bad-00") == [too_small.format(-1)]
    assert refusal(written(lab, "bad-00")) == [too_small.format(-1)]
    assert refusal(written(lab, "good")) is None
    assert written(lab, "good") == {"input": {"rate_hz": 20.0, "n": 5}, "seed": 1}
    errors = json.loads((lab / layout.PARAMS_ERRORS).read_text())
    assert errors["bad-11"] == [too_small.format(-12)]
    assert sorted(errors) == sorted(runs)
    # Refused runs are validated again at every parse (they are not in the index), and are no
    # job's: a job's own Snakemake sees nothing pending.
    assert ValidationPlan(dict(plan.sources)).stale() == sorted(runs)
    assert ValidationPlan(dict(plan.sources)).pending() == []

    fixed = ValidationPlan({"good": source(), "bad-00": source(overrides={"seed": 1})})
    assert validate_when_parsed(fixed) == []
    assert not (lab / layout.PARAMS_ERRORS).exists()
    assert written(lab, "bad-00") == written(lab, "good")


def test_a_typo_in_a_sweep_s_base_set_keeps_every_file_as_it_was_until_fixed_back(
    lab: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A sweep that ran: its base set gets a bad value. Each run's parameter file keeps the set
    it ran with (a rewrite would make Snakemake redo the run, and its refusal would replace the
    results); the problems are in _errors.json, and no job's Snakemake sees them pending. Fixed
    back as it was, nothing is rewritten: nothing is redone."""
    plan = sweep(3)
    assert validate_when_parsed(plan) == []
    paths = {run: lab / layout.for_run(layout.PARAMS, run) for run in plan.sources}
    before = {run: (path.read_bytes(), path.stat().st_mtime_ns) for run, path in paths.items()}
    small = lab / "config" / "params" / "small.yaml"
    good = small.read_text()
    capsys.readouterr()

    small.write_text("input: {rate_hz: -1.0}\n")
    assert validate_when_parsed(ValidationPlan(dict(plan.sources))) == []
    assert "3 parameter sets are refused (seed-0, seed-1, seed-2)" in capsys.readouterr().err
    assert {run: (p.read_bytes(), p.stat().st_mtime_ns) for run, p in paths.items()} == before
    refused = json.loads((lab / layout.PARAMS_ERRORS).read_text())
    assert sorted(refused) == ["seed-0", "seed-1", "seed-2"]
    assert refused["seed-1"] == [
        'config/params/small.yaml (with {"seed": 1}): input.rate_hz: too small (got -1.0; '
        "accepted: number, >= 0)"
    ]
    assert ValidationPlan(dict(plan.sources)).pending() == []

    small.write_text(good)
    assert validate_when_parsed(ValidationPlan(dict(plan.sources))) == []
    assert {run: (p.read_bytes(), p.stat().st_mtime_ns) for run, p in paths.items()} == before
    assert not (lab / layout.PARAMS_ERRORS).exists()
    assert ValidationPlan(dict(plan.sources)).stale() == []


def test_the_digest_follows_the_files_content(lab: Path) -> None:
    before = sweep(1).source_digest("fast")
    assert sweep(1).source_digest("fast") == before
    (lab / "config" / "params" / "fast.json").write_text('{"seed": 5}\n')
    assert sweep(1).source_digest("fast") != before
