"""The run_simulation job's command line: the JSON argument the rule formats, the job it makes
again in ``python -m simwarden.jobs``, and the entry point's own argument checks."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import pytest

from simwarden.jobs import USAGE, parse
from simwarden.pipeline.config import RunConfig
from simwarden.pipeline.job_spec import (
    SPEC_FIELDS,
    JobArgument,
    UntrackedText,
    job_from_spec,
    run_paths,
)

SECTION = {
    "name": "short",
    "mem_mb": 300,
    "runtime_min": 1,
    "timeout": "60s",
    "grace": "2s",
    "retries": 1,
    "retry_on": ["memory"],
    "stop_signal": "TERM",
    "stop_file": "STOP",
    "env": {"SIMWARDEN_QUICK": "1"},
}
HOSTILE = "$(touch pwned); rm -rf x `id` 'q' \"dq\""


def fields(**changes: object) -> dict[str, object]:
    spec: dict[str, object] = {
        "run": "lif/small@v0.3",
        "code": "results/code/lif@v0.3.json",
        "env_files": [],
        "runner": {"kind": "command", "command": ["echo", HOSTILE]},
        "run_config": SECTION,
        "figure_formats": ["png"],
        "simulation": "lif",
        "param_set": "small",
        "ref": "v0.3",
        "config_files": ["config/config.yaml"],
        "snakemake_version": "9.27.1",
    }
    return spec | changes


def test_the_argument_is_made_only_when_formatted_and_survives_the_shell() -> None:
    made: list[int] = []

    def make() -> dict[str, object]:
        made.append(1)
        return fields()

    argument = JobArgument(make)
    assert made == []
    # What Snakemake does with {params.job:q}: shlex-quoted into a bash command line.
    line = f"printf %s {shlex.quote(format(argument, ''))}"
    out = subprocess.run(["bash", "-c", line], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == fields()
    assert made == [1]


def test_an_argument_missing_a_field_is_a_bug_said_at_once() -> None:
    spec = fields()
    del spec["ref"]
    with pytest.raises(ValueError, match="job argument lacks ref"):
        str(JobArgument(lambda: spec))


def test_the_job_gets_the_layout_s_paths_and_the_run_config_checked() -> None:
    job = job_from_spec(fields(), mem_mb=600, runtime_min=2.0, attempt=2)
    assert job.record == "results/runs/lif/small@v0.3/record.json"
    assert job.samples == "results/runs/lif/small@v0.3/samples.tsv"
    assert job.outdir == "results/runs/lif/small@v0.3/data"
    assert job.figures_dir == "results/figures/lif/small@v0.3"
    assert job.params_file == "results/params/lif/small@v0.3.json"
    assert job.log == "logs/run_simulation/lif/small@v0.3.log"
    assert run_paths("a")["plot"] == "results/plots/a.resources.svg"
    assert (job.mem_mb, job.runtime_min, job.attempt) == (600, 2.0, 2)
    assert job.run_config == RunConfig.from_config(SECTION)
    assert job.run_config.timeout_s == 60.0
    assert "stop_file" not in (job.run_config_section or {})  # watch-only keys are not tracked
    assert job.runner == {"kind": "command", "command": ["echo", HOSTILE]}
    assert (job.python, job.env_id, job.snakemake_version) == (None, None, "9.27.1")
    assert set(SPEC_FIELDS) == set(fields())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], USAGE),
        (["validate", "{}"], USAGE),
        (["run_simulation", "{}", "--mem-mb", "1"], USAGE),
        (
            ["run_simulation", "{}", "--mem-mb", "1", "--runtime", "2", "--bogus", "3"],
            "unexpected option '--bogus'",
        ),
        (
            ["run_simulation", "{}", "--mem-mb", "lots", "--runtime", "2", "--attempt", "1"],
            "--mem-mb 'lots': expected a number",
        ),
    ],
)
def test_a_malformed_command_line_is_refused(argv: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        parse(argv)


def test_a_malformed_command_line_exits_2_with_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "simwarden.jobs", "run_simulation"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"simwarden.jobs: {USAGE}"]


def test_options_in_any_order() -> None:
    argv = ["run_simulation", "{}", "--attempt", "3", "--runtime", "1.5", "--mem-mb", "400"]
    assert parse(argv) == ("{}", {"--attempt": 3, "--runtime": 1.5, "--mem-mb": 400})


def test_an_untracked_text_formats_as_itself_and_is_not_a_str() -> None:
    text = UntrackedText("/venv/bin/python3")
    assert f"{text} -m simwarden.jobs" == "/venv/bin/python3 -m simwarden.jobs"
    # Snakemake tracks only params of builtin types (persistence._serialize_param_builtin).
    assert not isinstance(text, str | int | float | list | tuple | dict)
