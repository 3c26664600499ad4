"""A run_simulation job described on its command line: the rule's ``shell:`` passes one JSON
argument (:class:`JobArgument`) to ``python -m simwarden.jobs``, which makes the
:class:`~simwarden.pipeline.job.SimulationJob` again (:func:`job_from_spec`).

Why not ``script:``: its ``snakemake.script`` import costs ~100 ms per job, most of a short run's
overhead in a sweep. The argument is quoted by Snakemake (``{params.job:q}``, shlex), so no user
value is ever read by the shell as anything but one argv entry.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

# typing costs start-up time and is needed only by type checkers here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from simwarden.pipeline.job import FigureEnv, SimulationJob

# The fields of the JSON argument: what is neither a resource (mem_mb, runtime and attempt are
# options of their own, evaluated by Snakemake for each attempt) nor a path the layout makes
# from the run id (params, record, samples, data, figures, plot, log: see :func:`run_paths`).
SPEC_FIELDS = (
    "run",
    "code",
    "env_files",
    "runner",
    "run_config",
    "figure_formats",
    "simulation",
    "param_set",
    "ref",
    "config_files",
    "snakemake_version",
)


class JobArgument:
    """The JSON argument of one job, made only when Snakemake formats the shell command (a dry
    run of 10,000 jobs makes none). Snakemake cannot serialise it, so it is not a tracked param
    (the rule tracks what shapes a run in its other params)."""

    def __init__(self, make: Callable[[], Mapping[str, Any]]) -> None:
        self._make = make

    def __str__(self) -> str:
        spec = dict(self._make())
        missing = [name for name in SPEC_FIELDS if name not in spec]
        if missing:
            raise ValueError(f"job argument lacks {', '.join(missing)}")
        return json.dumps(spec, sort_keys=True, separators=(",", ":"))

    __repr__ = __str__


class UntrackedText:
    """A text for a rule's shell command that Snakemake does not track as a param (it cannot
    serialise it): the interpreter that runs the job is ``.venv/bin/python3`` under
    ``snakemake`` and ``.venv/bin/python`` under ``python -m snakemake``; neither is a reason to
    redo a run."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__


def job_from_spec(
    spec: Mapping[str, Any],
    *,
    mem_mb: int | None,
    runtime_min: float | None,
    attempt: int,
    figure_env: FigureEnv | None = None,
) -> SimulationJob:
    """The job a :class:`JobArgument` described (its JSON, parsed). The run config is checked
    again here (cheap; it was checked when the Snakefile was parsed, so a problem is a bug)."""
    from simwarden.pipeline.config import RunConfig, tracked_run_config
    from simwarden.pipeline.job import SimulationJob

    env_files = spec["env_files"]
    python = env_id = None
    if env_files:  # the run's own environment (runner.environment)
        from simwarden.pipeline.envs import env_id_of, env_python

        python, env_id = env_python(env_files), env_id_of(env_files)

    section = spec["run_config"]
    paths = run_paths(spec["run"])
    return SimulationJob(
        run=spec["run"],
        params_file=paths["params"],
        code=spec["code"],
        record=paths["record"],
        samples=paths["samples"],
        outdir=paths["data"],
        log=paths["log"],
        runner=spec["runner"],
        run_config=RunConfig.from_config(section),
        run_config_section=tracked_run_config(section),
        mem_mb=mem_mb,
        runtime_min=runtime_min,
        attempt=attempt,
        figures_dir=paths["figures"],
        figure_formats=tuple(spec["figure_formats"]),
        figure_env=figure_env,
        simulation=spec["simulation"],
        param_set=spec["param_set"],
        ref=spec["ref"],
        config_files=tuple(spec["config_files"]),
        python=python,
        env_id=env_id,
        snakemake_version=spec["snakemake_version"],
    )


def run_paths(run: str) -> dict[str, str]:
    """The files of ``run``'s job, as the run_simulation rule declares them (from the layout)."""
    from simwarden.pipeline import layout

    return {
        "params": layout.for_run(layout.PARAMS, run),
        "record": layout.for_run(layout.RECORD, run),
        "samples": layout.for_run(layout.SAMPLES, run),
        "data": layout.for_run(layout.DATA, run),
        "figures": layout.for_run(layout.FIGURES, run),
        "plot": layout.for_run(layout.RESOURCES_PLOT, run),
        "log": layout.for_run(layout.log(layout.RUN_SIMULATION), run),
    }
