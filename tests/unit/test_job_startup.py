"""What keeps a run's job (``python -m simwarden.jobs run_simulation ...``) quick to start: on a
successful run it loads neither ``dataclasses`` (with ``inspect``) nor ``typing``; its classes
are :class:`simwarden.core.fields.Fields`, which behave as the dataclasses they replace."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from simwarden.core.fields import Fields, FrozenError, field
from tests.conftest import TIMEOUT, modules_loaded_by

HEAVY = ("dataclasses", "inspect", "typing")

# What a successful run's job imports: the entry point, what it and run_simulation import where
# they run (the job's spec, the guard, the figures' environment, the runner, the notifiers, the
# warden, the manifest, the parameters' hash) and the resource plot.
JOB_IMPORTS = (
    "simwarden.jobs",
    "simwarden.pipeline.job",
    "simwarden.pipeline.job_spec",
    "simwarden.pipeline.scripting",
    "simwarden.pipeline.config",
    "simwarden.pipeline.runners",
    "simwarden.pipeline.watching",
    "simwarden.pipeline.manifest",
    "simwarden.pipeline.params",
    "simwarden.results.figures",
    "simwarden.results.plots.run",
    "simwarden.warden",
    "simwarden.warden.supervisor",
    "simwarden.warden.record",
    "simwarden.warden.events",
)


def test_what_a_run_s_job_imports_leaves_dataclasses_inspect_and_typing_unloaded():
    loaded = modules_loaded_by(
        "import importlib\n"
        f"for name in {JOB_IMPORTS!r}:\n"
        "    importlib.import_module(name)\n"
        "from simwarden.pipeline.params import params_hash\n"
        "from simwarden.warden import run\n"
    )
    assert set(JOB_IMPORTS) <= loaded
    assert sorted(loaded & set(HEAVY)) == []


# Runs the job as ``python -m simwarden.jobs`` does, then writes its exit code and every module
# it loaded to the file named by argv[1].
JOB_THEN_MODULES = """\
import runpy, sys
out, sys.argv = sys.argv[1], ["simwarden.jobs", *sys.argv[2:]]
try:
    runpy.run_module("simwarden.jobs", run_name="__main__")
except SystemExit as end:
    code = end.code
with open(out, "w") as handle:
    handle.write(" ".join([str(code), *sorted(sys.modules)]))
"""


def test_a_real_successful_job_loads_none_of_them(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    code_file = tmp_path / "results" / "code" / "sim.json"
    code_file.parent.mkdir(parents=True)
    code_file.write_text(json.dumps({"path": str(checkout), "commit": "0" * 40}))
    params = tmp_path / "results" / "params" / "r1.json"
    params.parent.mkdir(parents=True)
    params.write_text('{"seed": 1}')
    spec = {
        "run": "r1",
        "code": "results/code/sim.json",
        "env_files": [],
        "runner": {"kind": "command", "command": [sys.executable, "-c", "pass"]},
        "run_config": {"name": "t", "mem_mb": 200, "runtime_min": 1, "grace": "1s"},
        "figure_formats": ["png"],
        "simulation": None,
        "param_set": None,
        "ref": "v1",
        "config_files": [],
        "snakemake_version": "9.27.1",
    }
    job = ["run_simulation", json.dumps(spec), "--mem-mb", "200", "--runtime", "1"]
    out = tmp_path / "modules.txt"
    subprocess.run(
        [sys.executable, "-c", JOB_THEN_MODULES, str(out), *job, "--attempt", "1"],
        cwd=tmp_path,
        timeout=TIMEOUT,
        check=True,
    )
    code, *loaded = out.read_text().split()
    assert code == "0"
    record = json.loads((tmp_path / "results" / "runs" / "r1" / "record.json").read_text())
    assert (record["reason"], record["exit_code"], record["context"]["run"]) == ("exited", 0, "r1")
    plot = tmp_path / "results" / "plots" / "r1.resources.svg"
    drawn = plot.read_text()
    assert drawn.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<svg ')
    assert "no plot" not in drawn  # the plot, not the placeholder of a plot that failed
    assert "simwarden.results.plots.run" in loaded
    assert sorted(set(loaded) & set(HEAVY)) == []


class Point(Fields, frozen=True):
    x: float
    y: float = 0.0


class Bag(Fields):
    name: str
    items: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.name = self.name.strip()


def test_fields_classes_behave_as_dataclasses():
    assert Point(1) == Point(1, 0.0) == Point(x=1, y=0.0) != Point(1, 2)
    assert repr(Point(1, y=2)) == "Point(x=1, y=2)"
    assert Point.field_names() == ("x", "y")
    assert Point(1).as_dict() == {"x": 1, "y": 0.0}
    assert Point(1).replace(y=3) == Point(1, 3)
    assert {Point(1): "a"}[Point(1, 0.0)] == "a"  # frozen: hashable by its fields
    with pytest.raises(FrozenError, match="cannot assign to field 'x' of a frozen Point"):
        Point(1).x = 2  # type: ignore[misc]
    assert isinstance(FrozenError("x"), AttributeError)  # as dataclasses.FrozenInstanceError
    first, second = Bag(" a "), Bag("b")
    assert first.name == "a"  # __post_init__ ran
    first.items.append("x")
    assert (first.items, second.items) == (["x"], [])  # a fresh default per instance
    assert first.replace(name=" c ").as_dict() == {"name": "c", "items": ["x"]}
    with pytest.raises(TypeError, match="unhashable"):
        hash(second)  # not frozen: unhashable, as a dataclass with eq


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Point(), "Point() missing the argument 'x'"),
        (lambda: Point(1, 2, 3), "Point() takes 2 arguments, got 3"),
        (lambda: Point(1, x=2), "Point() got a second value for argument 'x'"),
        (lambda: Point(1, z=2), "Point() got an unexpected argument 'z'"),
        (lambda: Point(1).replace(z=2), "Point() got an unexpected argument 'z'"),
    ],
)
def test_a_wrong_argument_is_a_type_error(make, message):
    with pytest.raises(TypeError) as caught:
        make()
    assert str(caught.value) == message


def test_a_field_without_a_default_after_one_with_is_refused():
    with pytest.raises(TypeError, match="field 'b' without a default follows 'a'"):

        class Wrong(Fields):  # noqa: F841 - refused while being made
            a: int = 1
            b: int
