"""The Bonsai runner through the real ``snakemake``, with a stand-in for Bonsai.exe.

This is a stand-in because Bonsai.exe cannot run on Linux here: it is a Windows .NET Framework
program, and this machine has neither Bonsai nor mono. The stand-in is a Python script named
Bonsai.exe that checks the command line Bonsai accepts (``WORKFLOW --no-editor --start
-p:Name=Value...``), writes the properties it received to ``$SIMWARDEN_OUTDIR/props.json``, and,
like Bonsai, exits 0 after printing a .NET exception when the workflow throws (``Throw=True``).
"""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

from tests.workflow.conftest import Workflow, git, output

STAND_IN = """\
#!{python}
# Stand-in for Bonsai.exe (which cannot run on Linux): checks Bonsai's command line, records
# the properties it was given, and fails like Bonsai does (exception on stderr, exit 0).
import json
import os
import sys

args = sys.argv[1:]
if len(args) < 3 or not args[0].endswith(".bonsai") or not os.path.isfile(args[0]):
    sys.exit("usage: Bonsai.exe WORKFLOW.bonsai --no-editor --start [-p:Name=Value ...]")
if args[1:3] != ["--no-editor", "--start"]:
    sys.exit("expected --no-editor --start after the workflow, got " + repr(args[1:3]))
props = dict()
for arg in args[3:]:
    if not arg.startswith("-p:") or "=" not in arg:
        sys.exit("not a property: " + repr(arg))
    name, value = arg[3:].split("=", 1)
    props[name] = value
outdir = os.environ["SIMWARDEN_OUTDIR"]
with open(os.path.join(outdir, "props.json"), "w") as handle:
    json.dump(props, handle)
with open(os.path.join(outdir, "workflow.txt"), "w") as handle:
    handle.write(args[0])
print("Bonsai stand-in: workflow started")
if props.get("Throw") == "True":
    sys.stderr.write(
        "System.InvalidOperationException: boom\\n"
        "   at Bonsai.Expressions.Sink.Process(IObservable`1 source)\\n"
        "   at Bonsai.WorkflowRunner.Run(ExpressionBuilderGraph workflow)\\n"
    )
sys.exit(0)
"""
WORKFLOW_XML = """\
<?xml version="1.0" encoding="utf-8"?>
<WorkflowBuilder Version="2.8.0" xmlns="https://bonsai-rx.org/2018/workflow">
  <Workflow><Nodes /><Edges /></Workflow>
</WorkflowBuilder>
"""
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "Name": {"type": "string"},
        "Rate": {"type": "number"},
        "Count": {"type": "integer"},
        "Flag": {"type": "boolean"},
        "Throw": {"type": "boolean", "default": False},
    },
}
HOSTILE = "$(touch pwned); rm -rf x"


def make_bonsai_repo(path: Path) -> tuple[Path, str]:
    """A git repository with workflow.bonsai, schema.json and the Bonsai.exe stand-in."""
    path.mkdir()
    git("init", "-q", "-b", "main", cwd=path)
    (path / "workflow.bonsai").write_text(WORKFLOW_XML)
    (path / "schema.json").write_text(json.dumps(SCHEMA, indent=2))
    exe = path / "Bonsai.exe"
    exe.write_text(STAND_IN.replace("{python}", sys.executable))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    git("add", ".", cwd=path)
    git("commit", "-q", "-m", "bonsai workflow", cwd=path)
    return exe, git("rev-parse", "HEAD", cwd=path)


def test_bonsai_properties_arrive_and_a_thrown_exception_fails_the_run(
    workflow: Workflow, tmp_path: Path
) -> None:
    exe, sha = make_bonsai_repo(tmp_path / "bonsai-repo")
    config = workflow.config()
    config.update(
        repository=str(tmp_path / "bonsai-repo"),
        commit=sha,
        runner={"kind": "bonsai", "bonsai": str(exe), "workflow": "workflow.bonsai"},
        param_schema="schema.json",
    )
    workflow.write_config(config)
    workflow.set_runs(
        ok={"Name": HOSTILE, "Rate": 2.5, "Count": 3, "Flag": True},
        throw={"Name": "x", "Throw": True},
    )
    done = workflow.snakemake()
    assert done.returncode == 1, output(done)

    data = workflow.run_dir("ok") / "data"
    assert json.loads((data / "props.json").read_text()) == {
        "Count": "3",
        "Flag": "True",
        "Name": HOSTILE,
        "Rate": "2.5",
        "Throw": "False",
    }
    # One checkout: results/code/<code id>.json (the one-simulation config's only one).
    (code,) = (workflow.root / "results" / "code").glob("*.json")
    provenance = json.loads(code.read_text())
    assert (data / "workflow.txt").read_text() == str(Path(provenance["path"]) / "workflow.bonsai")
    record = workflow.record("ok")
    assert (record["reason"], record["exit_code"]) == ("exited", 0), record["message"]
    assert not list(tmp_path.rglob("pwned")), "a shell ran the value"

    # Bonsai itself exited 0; the run's record says it failed, and why, with the .NET
    # exception as its error; the attempt is kept, and it was final at once (exit code 1).
    record = workflow.record("throw")
    line = "Bonsai exited 0 but its workflow threw: System.InvalidOperationException: boom"
    assert (record["reason"], record["command_exit_code"], record["exit_code"]) == ("exited", 0, 1)
    assert (record["message"], record["attempts"]) == (line, 1)
    assert record["error"] == {
        "type": "System.InvalidOperationException",
        "message": "boom",
        "where": None,
        "traceback": "System.InvalidOperationException: boom\n"
        "   at Bonsai.Expressions.Sink.Process(IObservable`1 source)\n"
        "   at Bonsai.WorkflowRunner.Run(ExpressionBuilderGraph workflow)",
    }
    assert workflow.attempt_record("throw", 1) == record
    assert (workflow.attempt_dir("throw", 1) / "data" / "props.json").is_file()
    assert line in done.stderr, output(done)
    assert (
        "simwarden: run throw failed: System.InvalidOperationException: boom"
        in done.stderr.splitlines()
    ), output(done)
    log = (workflow.root / "logs" / "run_simulation" / "throw.log").read_text()
    assert line in log
