"""The demo simulation (examples/demo_sim/simulate.py), run for real as a subprocess."""

from __future__ import annotations

import json
import math
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from simwarden.warden.progress import PROGRESS_PREFIX, parse_line
from simwarden.warden.record import read_samples

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo_sim"
SIM = DEMO / "simulate.py"
TIMEOUT = 60
# 40 neurons, 50 ms in quick mode = 500 steps; 3 ms bins = 30 steps -> ceil(500 / 30) = 17 bins.
TINY: dict[str, Any] = {
    "network": {"n_neurons": 40, "p_connect": 0.2},
    "input": {"rate_hz": 20.0, "n_sources": 400},
    "duration_ms": 500.0,
    "dt_ms": 0.1,
    "rate_bin_ms": 3.0,
    "seed": 3,
    "record_voltage": True,
}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PHASES = ["connect", "simulate", "figures", "write"]
# A real matplotlib backend (MPLBACKEND=module://label_saver) whose show() saves every open
# figure as <label>.png, as simwarden's pipeline does, and logs each call of show().
LABEL_SAVER = """
import os

from matplotlib.backends.backend_agg import FigureCanvasAgg as FigureCanvas  # noqa: F401


def show(*args, **kwargs):
    import matplotlib.pyplot as plt

    out = os.environ["LABEL_SAVER_DIR"]
    labels = []
    for num in plt.get_fignums():
        fig = plt.figure(num)
        labels.append(fig.get_label())
        fig.savefig(os.path.join(out, fig.get_label() + ".png"), dpi=40)
    with open(os.path.join(out, "shown.txt"), "a") as log:
        log.write(",".join(labels) + "\\n")
"""


def sim_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SIMWARDEN_") and k not in ("MPLBACKEND", "DISPLAY", "WAYLAND_DISPLAY")
    }
    env.update(extra)
    return env


def progress_lines(stdout: str) -> list[str]:
    """The values of the progress lines in ``stdout``, in order."""
    prefix = f"{PROGRESS_PREFIX} "
    return [line.removeprefix(prefix) for line in stdout.splitlines() if line.startswith(prefix)]


def write_params(path: Path, params: dict[str, Any]) -> Path:
    path.write_text(json.dumps(params), encoding="utf-8")
    return path


def run_sim(
    params: Path, outdir: Path, *, prelude: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run simulate.py; with ``prelude``, that code runs first in the same interpreter."""
    if prelude is None:
        argv = [sys.executable, str(SIM), str(params), str(outdir)]
    else:
        # As `python simulate.py ...` would: argv[0] is the script, then its arguments.
        run = (
            "import runpy, sys\nsys.argv = sys.argv[1:]\n"
            "runpy.run_path(sys.argv[0], run_name='__main__')"
        )
        script = f"{prelude}\n{run}"
        argv = [sys.executable, "-c", script, str(SIM), str(params), str(outdir)]
    return subprocess.run(
        argv,
        env=sim_env(**env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


class Lines:
    """Collects a pipe's lines in a thread so a test can wait for one with a deadline."""

    def __init__(self, stream: Any) -> None:
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: Any) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, prefix: str, timeout: float = TIMEOUT) -> str:
        """Return the first line starting with ``prefix``; fail at EOF or after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            if line is None:
                raise AssertionError(f"no line starting with {prefix!r} before EOF: {self.seen}")
            self.seen.append(line)
            if line.startswith(prefix):
                return line

    def rest(self) -> list[str]:
        """All remaining lines; call after the process exited."""
        self._thread.join(TIMEOUT)
        while (line := self._queue.get_nowait()) is not None:
            self.seen.append(line)
        return self.seen


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test starts; every one is killed if still running and reaped."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=TIMEOUT)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def read_h5(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    with h5py.File(path, "r") as f:
        data: dict[str, np.ndarray] = {}
        f.visititems(
            lambda name, obj: (
                data.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None
            )
        )
        attrs = {key: f.attrs[key] for key in f.attrs}
        attrs["population_rate.bin_ms"] = f["population_rate"].attrs["bin_ms"]
    return data, attrs


def label_saver(tmp_path: Path) -> dict[str, str]:
    """Environment that makes plt.show() save each figure by label into tmp_path/shown/."""
    (tmp_path / "backend").mkdir()
    (tmp_path / "backend" / "label_saver.py").write_text(LABEL_SAVER, encoding="utf-8")
    (tmp_path / "shown").mkdir()
    return {
        "MPLBACKEND": "module://label_saver",
        "PYTHONPATH": str(tmp_path / "backend"),
        "LABEL_SAVER_DIR": str(tmp_path / "shown"),
    }


def benchmark_group(
    path: Path,
) -> tuple[dict[str, Any], list[tuple[str, tuple[int, ...], int, bool]]]:
    """The ``benchmark`` group: its attributes and (name, shape, count, cumulative) per dataset."""
    with h5py.File(path, "r") as f:
        group = f["benchmark"]
        rows = [
            (name, item.shape, int(item.attrs["count"]), bool(item.attrs["cumulative"]))
            for name, item in group.items()
        ]
        return dict(group.attrs), rows


def test_quick_run_writes_exact_shapes_timers_and_labelled_figures(tmp_path: Path) -> None:
    from simwarden.timers import read_timers

    params = write_params(tmp_path / "tiny.json", TINY)
    out = tmp_path / "out"
    done = run_sim(params, out, SIMWARDEN_QUICK="1", **label_saver(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    lines = [line for line in done.stdout.splitlines() if not line.startswith(PROGRESS_PREFIX)]
    assert lines[0] == "quick mode (SIMWARDEN_QUICK=1): duration 500 ms -> 50 ms"
    assert lines[1].startswith("running: 40 neurons (32 excitatory, 8 inhibitory), ")
    assert len(lines) == 6  # quick, running, 3 x progress, done
    # Outside simwarden the progress helper prints its line: every 5% of the 500 steps, and 100%.
    assert progress_lines(done.stdout) == [*(f"{k}/500" for k in range(0, 500, 25)), "500/500"]
    assert parse_line(f"{PROGRESS_PREFIX} 500/500") == 1.0

    data, attrs = read_h5(out / "output.h5")
    assert sorted(data) == [
        "benchmark/connect",
        "benchmark/figures",
        "benchmark/simulate",
        "benchmark/write",
        "population_rate/rate_hz",
        "population_rate/t_ms",
        "spikes/neuron_ids",
        "spikes/times_ms",
        "voltage_mv",
    ]
    n_spikes = int(attrs["n_spikes"])
    assert n_spikes > 0
    assert data["spikes/times_ms"].shape == data["spikes/neuron_ids"].shape == (n_spikes,)
    assert data["spikes/neuron_ids"].dtype == np.int32
    assert data["voltage_mv"].shape == (40, 500)
    assert data["voltage_mv"].dtype == np.float64
    assert data["population_rate/rate_hz"].shape == (17,)
    np.testing.assert_allclose(data["population_rate/t_ms"], np.arange(17) * 3.0)
    times = data["spikes/times_ms"]
    assert np.all(np.diff(times) >= 0) and times[-1] < 50.0
    assert data["spikes/neuron_ids"].min() >= 0 and data["spikes/neuron_ids"].max() < 40
    # Rates times bin widths (the last bin holds 20 steps) give back the spike count.
    widths_s = np.array([30] * 16 + [20]) * 0.1 / 1000.0
    assert np.sum(data["population_rate/rate_hz"] * widths_s * 40) == pytest.approx(n_spikes)

    assert attrs["completed"] == True  # noqa: E712  (numpy bool)
    assert attrs["stopped_by"] == ""
    assert (attrs["steps_done"], attrs["steps_total"]) == (500, 500)
    assert attrs["n_neurons_run"] == 40 and attrs["network.n_neurons"] == 40
    assert attrs["quick"] == True  # noqa: E712
    assert attrs["population_rate.bin_ms"] == pytest.approx(3.0)
    resolved = json.loads(attrs["params_json"])
    assert resolved["neuron"]["tau_m_ms"] == 20.0  # default filled in
    assert attrs["neuron.v_threshold_mv"] == 20.0

    timers = read_timers(out / "output.h5")
    assert list(timers) == PHASES
    assert all(seconds > 0 for seconds in timers.values()), timers
    assert benchmark_group(out / "output.h5") == (
        {"unit": "s"},
        [(name, (1,), 1, True) for name in PHASES],
    )
    phases = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in timers.items())
    assert lines[-1].startswith(f"done: {n_spikes} spikes, mean rate ")
    assert lines[-1].endswith(f" s ({phases})")
    assert f"wrote {out / 'output.h5'} and made 3 figures in " in lines[-1]

    # The script saves nothing itself; its one plt.show() gets the three labelled figures.
    assert sorted(p.name for p in out.iterdir()) == ["output.h5"]
    shown = tmp_path / "shown"
    assert (shown / "shown.txt").read_text() == "raster,population_rate,voltage\n"
    for label in ("raster", "population_rate", "voltage"):
        assert (shown / f"{label}.png").read_bytes()[:8] == PNG_MAGIC


def test_timers_fall_back_to_the_same_layout_without_simwarden(tmp_path: Path) -> None:
    from simwarden.timers import read_timers

    params = write_params(tmp_path / "tiny.json", {**TINY, "record_voltage": False})
    # sys.modules[name] = None is how Python marks a module as not importable.
    blocked = "import sys\nsys.modules['simwarden'] = None"
    done = run_sim(params, tmp_path / "out", prelude=blocked, SIMWARDEN_QUICK="1")
    assert done.returncode == 0, done.stdout + done.stderr
    # Its progress fallback prints the line simwarden's helper would.
    assert progress_lines(done.stdout)[-2:] == ["475/500", "500/500"]
    check = run_sim(
        params,
        tmp_path / "unused",
        prelude=blocked + "\nimport simwarden.timers",
    )
    assert check.stderr.splitlines()[-1] == (
        "ModuleNotFoundError: No module named 'simwarden.timers'; 'simwarden' is not a package"
    )
    output = tmp_path / "out" / "output.h5"
    assert list(read_timers(output)) == PHASES
    assert benchmark_group(output) == ({"unit": "s"}, [(name, (1,), 1, True) for name in PHASES])


def test_under_the_warden_progress_goes_to_the_progress_file_and_reaches_100_percent(
    tmp_path: Path,
) -> None:
    params = write_params(tmp_path / "tiny.json", {**TINY, "record_voltage": False})
    record, samples = tmp_path / "record.json", tmp_path / "samples.tsv"
    argv = [sys.executable, "-m", "simwarden", "run", "--record", str(record)]
    argv += ["--samples", str(samples), "--", sys.executable, str(SIM), str(params)]
    done = subprocess.run(
        [*argv, str(tmp_path / "out")],
        env=sim_env(SIMWARDEN_QUICK="1", MPLBACKEND="Agg"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert progress_lines(done.stdout) == []  # reported through SIMWARDEN_PROGRESS_FILE
    data = json.loads(record.read_text())
    assert (data["reason"], data["progress"]) == ("exited", 1.0)
    reported = [p for p in read_samples(samples)["progress"] if not math.isnan(p)]
    assert reported == sorted(reported) and all(0 <= p <= 1 for p in reported)


def test_scale_and_seed_reproducibility(tmp_path: Path) -> None:
    params = write_params(tmp_path / "tiny.json", {**TINY, "record_voltage": False})
    first = run_sim(params, tmp_path / "a", SIMWARDEN_QUICK="1", SIMWARDEN_SCALE="1.5")
    second = run_sim(params, tmp_path / "b", SIMWARDEN_QUICK="1", SIMWARDEN_SCALE="1.5")
    for done in (first, second):
        assert done.returncode == 0, done.stdout + done.stderr
        assert "scale (SIMWARDEN_SCALE=1.5): 40 -> 60 neurons" in done.stdout.splitlines()
    a, attrs = read_h5(tmp_path / "a" / "output.h5")
    b, _ = read_h5(tmp_path / "b" / "output.h5")
    assert "voltage_mv" not in a
    assert attrs["n_neurons_run"] == 60 and attrs["network.n_neurons"] == 40
    assert attrs["n_excitatory"] == 48
    assert a["spikes/neuron_ids"].max() < 60
    for key in a:
        if not key.startswith("benchmark/"):  # seconds differ from run to run
            np.testing.assert_array_equal(a[key], b[key])
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["output.h5"]


@pytest.mark.parametrize(
    ("signame", "code", "record_voltage"),
    [("SIGTERM", 143, False), ("SIGINT", 130, False), ("SIGUSR1", 0, True)],
)
def test_stop_signal_flushes_partial_result(
    tmp_path: Path,
    procs: list[subprocess.Popen[str]],
    signame: str,
    code: int,
    record_voltage: bool,
) -> None:
    # Long enough never to finish by itself (the voltage run: 20 x 500000 steps, committed lazily).
    duration = 50_000.0 if record_voltage else 1_000_000.0
    params = {
        **TINY,
        "network": {"n_neurons": 20},
        "duration_ms": duration,
        "record_voltage": record_voltage,
    }
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, str(SIM), str(write_params(tmp_path / "p.json", params)), str(out)],
        env=sim_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    procs.append(proc)
    lines = Lines(proc.stdout)
    lines.wait_for("running: ")
    proc.send_signal(getattr(signal, signame))
    assert proc.wait(timeout=TIMEOUT) == code
    stdout = lines.rest()
    assert proc.stderr is not None and proc.stderr.read() == ""
    assert stdout[-1].startswith(f"stopped by {signame} at t = ")
    assert stdout[-1].endswith(f"(completed=False), no figures, exit {code}")

    data, attrs = read_h5(out / "output.h5")
    steps_total = round(duration / 0.1)
    done_steps = int(attrs["steps_done"])
    assert attrs["completed"] == False  # noqa: E712  (numpy bool)
    assert attrs["stopped_by"] == signame
    assert attrs["steps_total"] == steps_total
    assert 0 <= done_steps < steps_total
    assert data["population_rate/rate_hz"].shape == (math.ceil(done_steps / 30),)
    assert data["spikes/times_ms"].shape == (int(attrs["n_spikes"]),)
    if data["spikes/times_ms"].size:
        assert data["spikes/times_ms"].max() < done_steps * 0.1
    if record_voltage:
        assert data["voltage_mv"].shape == (20, done_steps)
    else:
        assert "voltage_mv" not in data
    assert sorted(p.name for p in out.iterdir()) == ["output.h5"]  # no figures when stopped
    assert benchmark_group(out / "output.h5")[1] == [
        (name, (1,), 1, True) for name in ("connect", "simulate", "write")
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"network": {"n_neurons": -5}}',
            "network.n_neurons = -5: must be >= 1 (see schema.json)",
        ),
        (
            '{"netwrk": {}}',
            "unknown key 'netwrk' (accepted: dt_ms, duration_ms, input, network, neuron, "
            "rate_bin_ms, record_voltage, seed) (see schema.json)",
        ),
        (
            '{"record_voltage": "yes"}',
            'record_voltage = "yes": must be true or false (see schema.json)',
        ),
        (
            '{"network": {"p_connect": 2}, "seed": 1.5}',
            "network.p_connect = 2: must be <= 1; seed = 1.5: must be an integer (see schema.json)",
        ),
        (
            '{"neuron": {"v_reset_mv": 25}}',
            "neuron.v_reset_mv = 25: must be below neuron.v_threshold_mv = 20.0 (see schema.json)",
        ),
        ('{"network": ', "not valid JSON: Expecting value at line 1 column 13"),
        ("[1]", "the parameter set = [1]: must be an object (see schema.json)"),
    ],
)
def test_bad_params_give_one_line(tmp_path: Path, content: str, message: str) -> None:
    params = tmp_path / "bad.json"
    params.write_text(content, encoding="utf-8")
    done = run_sim(params, tmp_path / "out")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [f"simulate.py: error: {params}: {message}"]
    assert not (tmp_path / "out").exists()


def test_missing_params_file_and_bad_environment(tmp_path: Path) -> None:
    missing = run_sim(tmp_path / "nope.json", tmp_path / "out")
    assert missing.returncode == 2
    assert missing.stderr.splitlines() == [
        f"simulate.py: error: cannot read parameter file {tmp_path / 'nope.json'}: "
        "No such file or directory"
    ]
    params = write_params(tmp_path / "tiny.json", TINY)
    bad_scale = run_sim(params, tmp_path / "out", SIMWARDEN_SCALE="-1")
    assert bad_scale.returncode == 2
    assert bad_scale.stderr.splitlines() == [
        "simulate.py: error: SIMWARDEN_SCALE='-1': use a number > 0, e.g. 0.5 or 2"
    ]
    assert not (tmp_path / "out").exists()


def test_schema_is_strict_draft_2020_12() -> None:
    from jsonschema import Draft202012Validator

    schema = json.loads((DEMO / "schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    readme = (DEMO / "README.md").read_text(encoding="utf-8")

    def walk(node: dict[str, Any], path: str) -> None:
        assert node.get("description"), f"{path or 'root'} lacks a description"
        if node["type"] == "object":
            assert node["additionalProperties"] is False, path
            for key, sub in node["properties"].items():
                walk(sub, f"{path}.{key}" if path else key)
        else:
            assert "default" in node, path
            assert f"`{path}`" in readme, f"README.md does not document {path}"

    walk(schema, "")
    validator = Draft202012Validator(schema)
    for example in sorted((DEMO / "params").glob("*.json")):
        errors = list(validator.iter_errors(json.loads(example.read_text(encoding="utf-8"))))
        assert errors == [], example
    assert list(validator.iter_errors({"network": {"n_neurons": -5}}))
