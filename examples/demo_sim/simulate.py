#!/usr/bin/env python3
"""Leaky integrate-and-fire network: sparse random E/I connectivity driven by Poisson input.

Usage: ``python simulate.py PARAMS_JSON OUTDIR``

Writes ``OUTDIR/output.h5`` (with the time each phase took in its ``benchmark`` group) and
makes labelled figures, shown with ``plt.show()`` at the end: under simwarden's pipeline they are
saved by label, by hand they are shown. Environment: ``SIMWARDEN_QUICK=1`` divides the duration
by 10, ``SIMWARDEN_SCALE=F`` multiplies the number of neurons by F.
It reports its progress to simwarden every 5% of the steps (``simwarden.progress.report``; by
hand, a ``SIMWARDEN_PROGRESS done/total`` line on stdout).
SIGTERM/SIGINT stop the run at the next step and exit 128+N; SIGUSR1 stops it and exits 0.
Either way ``output.h5`` holds the steps done so far with the attribute ``completed=False``.
Exit codes: 0 done (or stopped by SIGUSR1), 1 output could not be written, 2 bad parameters,
arguments or environment, 130/143 stopped by SIGINT/SIGTERM. See README.md.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np

try:
    from simwarden.timers import Timers
except ImportError:  # simwarden is not installed: the part of its Timers this script uses

    class Timers:  # type: ignore[no-redef]
        """Cumulative phase timers, written in the same layout as ``simwarden.timers``."""

        def __init__(self) -> None:
            self._seconds: dict[str, float] = {}
            self._count: dict[str, int] = {}

        @contextlib.contextmanager
        def time(self, name: str) -> Iterator[None]:
            begin = time.perf_counter()
            try:
                yield
            finally:
                spent = time.perf_counter() - begin
                self._seconds[name] = self._seconds.get(name, 0.0) + spent
                self._count[name] = self._count.get(name, 0) + 1

        def as_dict(self) -> dict[str, float]:
            return dict(self._seconds)

        def write(self, target: Any, group: str = "benchmark") -> None:
            if group in target:
                del target[group]
            node = target.create_group(group, track_order=True)
            node.attrs["unit"] = "s"
            for name, seconds in self._seconds.items():
                data = node.create_dataset(
                    name, data=[seconds], dtype="float64", chunks=(1,), compression="gzip"
                )
                data.attrs["count"] = self._count[name]
                data.attrs["cumulative"] = True


try:
    from simwarden.progress import report as report_progress
except ImportError:  # simwarden is not installed: the line its helper prints outside simwarden

    def report_progress(done: float, total: float = 100) -> None:
        print(f"SIMWARDEN_PROGRESS {done:g}/{total:g}", flush=True)


HERE = Path(__file__).resolve().parent
SCHEMA_PATH = HERE / "schema.json"
PROG = "simulate.py"
EXIT_WRITE_FAILED = 1
EXIT_BAD_INPUT = 2
# Stop signals and the exit code each one ends the run with.
STOP_SIGNALS: dict[str, int] = {"SIGTERM": 128 + 15, "SIGINT": 128 + 2, "SIGUSR1": 0}
# How many progress reports a run makes (one every 5% of the steps), plus the last one.
PROGRESS_REPORTS = 20
RASTER_MAX_SPIKES = 200_000
VOLTAGE_WRITE_BLOCK_BYTES = 4 * 1024**2


class InputError(Exception):
    """Bad parameters, arguments or environment; the message is one line for the user."""


def say(message: str) -> None:
    """Print one progress line to stdout right away (stdout is often a pipe)."""
    print(message, flush=True)


# --- parameters ----------------------------------------------------------------------------


def _show(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, float) or math.isfinite(value) else str(value)


def _check(value: Any, schema: dict[str, Any], where: str, errors: list[str]) -> Any:
    """Check ``value`` against the subset of JSON Schema that schema.json uses; fill defaults.

    Returns the value with defaults filled in (objects are copied, never changed in place).
    Integral floats such as ``400.0`` pass as integers (as in JSON Schema) and become ints.
    """
    kind = schema.get("type")
    label = where or "the parameter set"
    if kind == "object":
        if not isinstance(value, dict):
            errors.append(f"{label} = {_show(value)}: must be an object")
            return value
        props: dict[str, Any] = schema.get("properties", {})
        out: dict[str, Any] = {}
        for key in value:
            if key not in props and schema.get("additionalProperties") is False:
                path = f"{where}.{key}" if where else key
                errors.append(f"unknown key {path!r} (accepted: {', '.join(sorted(props))})")
        for key, sub in props.items():
            path = f"{where}.{key}" if where else key
            if key in value:
                out[key] = _check(value[key], sub, path, errors)
            elif "default" in sub:
                out[key] = _check(copy.deepcopy(sub["default"]), sub, path, errors)
        return out
    if kind == "boolean":
        if not isinstance(value, bool):
            errors.append(f"{label} = {_show(value)}: must be true or false")
        return value
    if kind in ("integer", "number"):
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if not numeric or not math.isfinite(value):
            errors.append(f"{label} = {_show(value)}: must be a finite {kind}")
            return value
        if kind == "integer":
            if isinstance(value, float) and not value.is_integer():
                errors.append(f"{label} = {_show(value)}: must be an integer")
                return value
            value = int(value)
        bounds = (
            ("minimum", lambda v, b: v >= b, ">="),
            ("exclusiveMinimum", lambda v, b: v > b, ">"),
            ("maximum", lambda v, b: v <= b, "<="),
            ("exclusiveMaximum", lambda v, b: v < b, "<"),
        )
        for name, ok, op in bounds:
            if name in schema and not ok(value, schema[name]):
                errors.append(f"{label} = {_show(value)}: must be {op} {schema[name]}")
        return value
    raise InputError(f"{SCHEMA_PATH}: {label}: unsupported schema type {kind!r}")


def load_params(path: Path, schema_path: Path = SCHEMA_PATH) -> dict[str, Any]:
    """Read a parameter set from a JSON file, validate it, and fill in the defaults.

    Raises InputError naming the file and every bad key at once (joined with ``; ``).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read parameter file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(
            f"cannot read parameter file {path}: not UTF-8 text ({exc.reason})"
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"{path}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        raise InputError(msg) from None
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    errors: list[str] = []
    params = _check(data, schema, "", errors)
    if not errors:
        neuron = params["neuron"]
        if neuron["v_reset_mv"] >= neuron["v_threshold_mv"]:
            errors.append(
                f"neuron.v_reset_mv = {_show(neuron['v_reset_mv'])}: must be below "
                f"neuron.v_threshold_mv = {_show(neuron['v_threshold_mv'])}"
            )
    if errors:
        raise InputError(f"{path}: " + "; ".join(errors) + f" (see {schema_path.name})")
    return params


@dataclass(frozen=True)
class Settings:
    """What the environment changes about a run."""

    quick: bool
    scale: float


def read_settings(environ: dict[str, str] | os._Environ[str]) -> Settings:
    """Read SIMWARDEN_QUICK (1/0, true/false, yes/no, on/off; unset = off) and SIMWARDEN_SCALE.

    SIMWARDEN_SCALE must be a finite number > 0 (unset or empty = 1.0).
    """
    raw_quick = environ.get("SIMWARDEN_QUICK", "").strip().lower()
    if raw_quick in ("1", "true", "yes", "on"):
        quick = True
    elif raw_quick in ("", "0", "false", "no", "off"):
        quick = False
    else:
        raise InputError(f"SIMWARDEN_QUICK={raw_quick!r}: use 1 (quick mode) or 0")
    raw_scale = environ.get("SIMWARDEN_SCALE", "").strip()
    try:
        scale = float(raw_scale) if raw_scale else 1.0
    except ValueError:
        scale = math.nan
    if not (math.isfinite(scale) and scale > 0):
        raise InputError(f"SIMWARDEN_SCALE={raw_scale!r}: use a number > 0, e.g. 0.5 or 2")
    return Settings(quick=quick, scale=scale)


def flatten(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"network": {"n_neurons": 4}}`` -> ``{"network.n_neurons": 4}``."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


# --- model ---------------------------------------------------------------------------------


class StopRequest:
    """Remembers the first stop signal; the simulation loop polls it once per step."""

    def __init__(self) -> None:
        self.name: str | None = None

    def install(self) -> None:
        for name in STOP_SIGNALS:
            signum = getattr(signal, name, None)
            if signum is not None:
                signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.name is None:
            self.name = signal.Signals(signum).name


@dataclass
class Result:
    """Output of one run; arrays cover the ``steps_done`` steps actually simulated."""

    n_neurons: int
    n_excitatory: int
    n_synapses: int
    steps_total: int
    steps_done: int
    spike_steps: np.ndarray  # int64, sorted
    spike_ids: np.ndarray  # int32
    voltage: np.ndarray | None  # (n_neurons, steps_total), Fortran order; cols >= steps_done unset


def connect(
    rng: np.random.Generator, n: int, p: float, n_exc: int, w_exc: float, w_inh: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random sparse connectivity in CSR form, row = presynaptic neuron, no self-connections.

    Returns ``(indptr, targets, weights)``; ``weights`` depend only on the presynaptic type.
    """
    counts = rng.binomial(n - 1, p, size=n) if n > 1 else np.zeros(n, dtype=np.int64)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    targets = np.empty(int(indptr[-1]), dtype=np.int32)
    for pre in range(n):
        row = np.sort(rng.choice(n - 1, size=int(counts[pre]), replace=False))
        row[row >= pre] += 1  # skip self
        targets[indptr[pre] : indptr[pre + 1]] = row
    weights = np.where(np.repeat(np.arange(n), counts) < n_exc, w_exc, w_inh)
    return indptr, targets, weights


def simulate(
    params: dict[str, Any],
    n: int,
    steps: int,
    stop: StopRequest,
    progress: bool = True,
    timers: Timers | None = None,
) -> Result:
    """Run the network for ``steps`` steps of ``dt_ms`` or until ``stop`` is set.

    Membrane update per step (exact for the leak): v <- v_rest + (v - v_rest) * exp(-dt/tau)
    + recurrent and external jumps; neurons in their refractory period sit at v_reset.
    Building the connectivity is timed as ``connect``, the steps as ``simulate``. The steps
    done are reported to simwarden every ``steps / PROGRESS_REPORTS`` steps and at the end.
    """
    timers = Timers() if timers is None else timers
    net, neu, inp = params["network"], params["neuron"], params["input"]
    dt = params["dt_ms"]
    rng = np.random.default_rng(params["seed"])
    n_exc = round(net["exc_fraction"] * n)
    w_exc = net["weight_mv"]
    with timers.time("connect"):
        indptr, targets, weights = connect(
            rng, n, net["p_connect"], n_exc, w_exc, -net["g_inhibition"] * w_exc
        )
    delay = max(1, round(net["delay_ms"] / dt))
    ring = np.zeros((delay + 1, n))  # pending recurrent input, slot = step % (delay + 1)
    decay = math.exp(-dt / neu["tau_m_ms"])
    v_rest, v_reset, v_th = neu["v_rest_mv"], neu["v_reset_mv"], neu["v_threshold_mv"]
    ref_steps = round(neu["t_ref_ms"] / dt)
    ext_lam = inp["n_sources"] * inp["rate_hz"] * dt / 1000.0
    v = np.full(n, float(v_rest))
    ref_left = np.zeros(n, dtype=np.int64)
    # Fortran order: each step writes one contiguous column, so memory pages (also numpy's
    # transparent huge pages) are committed as the run proceeds and the resident size grows
    # steadily to n * steps * 8 bytes, as a real recording would.
    voltage = np.empty((n, steps), order="F") if params["record_voltage"] else None

    rec_steps: list[np.ndarray] = []
    rec_ids: list[np.ndarray] = []
    n_spikes = 0
    marks = {steps * q // 4: q * 25 for q in (1, 2, 3)} if progress and steps >= 4 else {}
    report_every = max(1, steps // PROGRESS_REPORTS)
    if progress:
        mem = f", voltage trace {n * steps * 8 / 1e6:.0f} MB" if voltage is not None else ""
        say(
            f"running: {n} neurons ({n_exc} excitatory, {n - n_exc} inhibitory), "
            f"{len(targets)} synapses, {steps} steps of {dt:g} ms, seed {params['seed']}{mem}"
        )
    with timers.time("simulate"):
        done = 0
        for k in range(steps):
            if stop.name is not None:
                break
            if k % report_every == 0:
                report_progress(k, steps)
            if k in marks:
                say(f"progress: {marks[k]}% (t = {k * dt:.1f} ms, {n_spikes} spikes)")
            now = ring[k % (delay + 1)]
            if ext_lam > 0:
                now += rng.poisson(ext_lam, n) * w_exc
            v -= v_rest
            v *= decay
            v += v_rest
            v += now
            now[:] = 0.0
            refractory = ref_left > 0
            v[refractory] = v_reset
            ref_left[refractory] -= 1
            fired = np.flatnonzero(v >= v_th)
            if fired.size:
                v[fired] = v_reset
                ref_left[fired] = ref_steps
                rec_steps.append(np.full(fired.size, k, dtype=np.int64))
                rec_ids.append(fired.astype(np.int32))
                n_spikes += fired.size
                # Synapse indices of all fired rows, without a Python loop over them.
                starts, lens = indptr[fired], indptr[fired + 1] - indptr[fired]
                total = int(lens.sum())
                if total:
                    offsets = np.repeat(starts - np.cumsum(lens) + lens, lens) + np.arange(total)
                    ring[(k + delay) % (delay + 1)] += np.bincount(
                        targets[offsets], weights=weights[offsets], minlength=n
                    )
            if voltage is not None:
                voltage[:, k] = v
            done = k + 1
        report_progress(done, steps)
    empty_i64, empty_i32 = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32)
    return Result(
        n_neurons=n,
        n_excitatory=n_exc,
        n_synapses=len(targets),
        steps_total=steps,
        steps_done=done,
        spike_steps=np.concatenate(rec_steps) if rec_steps else empty_i64,
        spike_ids=np.concatenate(rec_ids) if rec_ids else empty_i32,
        voltage=voltage,
    )


def population_rate(result: Result, bin_steps: int, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(bin_start_ms, rate_hz)`` over ``ceil(steps_done / bin_steps)`` bins.

    The last bin may be shorter than the others; its rate is divided by its own width.
    """
    n_bins = -(-result.steps_done // bin_steps)
    counts = np.bincount(result.spike_steps // bin_steps, minlength=n_bins).astype(np.float64)
    widths = np.full(n_bins, bin_steps, dtype=np.float64)
    if n_bins:
        widths[-1] = result.steps_done - (n_bins - 1) * bin_steps
    rate = counts / (result.n_neurons * widths * dt / 1000.0)
    return np.arange(n_bins) * bin_steps * dt, rate


# --- output --------------------------------------------------------------------------------


def code_version() -> str:
    """Contents of the VERSION file beside this script (added by the release), else ``unknown``."""
    try:
        return (HERE / "VERSION").read_text(encoding="utf-8").strip() or "unknown"
    except OSError:
        return "unknown"


def write_output(
    path: Path,
    result: Result,
    params: dict[str, Any],
    attrs: dict[str, Any],
    bin_steps: int,
    timers: Timers,
) -> None:
    """Write ``output.h5`` via a temporary file renamed into place.

    A run killed while writing therefore leaves no ``output.h5`` rather than a truncated one.
    The voltage trace is written in blocks of rows (about 4 MB each), so that writing it,
    also a partial one, never copies the whole array. Writing the data is timed as ``write``;
    then every timer goes into the group ``benchmark``, in the same file.
    """
    import h5py

    dt = params["dt_ms"]
    tmp = path.with_name(f".{path.name}.partial")
    with h5py.File(tmp, "w") as f:
        with timers.time("write"):
            _write_data(f, result, params, attrs, bin_steps, dt)
        timers.write(f)
    os.replace(tmp, path)


def _write_data(
    f: Any, result: Result, params: dict[str, Any], attrs: dict[str, Any], bin_steps: int, dt: float
) -> None:
    spikes = f.create_group("spikes")
    spikes.create_dataset("times_ms", data=result.spike_steps * dt)
    spikes.create_dataset("neuron_ids", data=result.spike_ids)
    t_ms, rate = population_rate(result, bin_steps, dt)
    group = f.create_group("population_rate")
    group.create_dataset("t_ms", data=t_ms)
    group.create_dataset("rate_hz", data=rate)
    group.attrs["bin_ms"] = bin_steps * dt
    if result.voltage is not None:
        n, done = result.n_neurons, result.steps_done
        dset = f.create_dataset("voltage_mv", shape=(n, done), dtype=np.float64)
        # Whole rows at a time: the file is written front to back. (Column blocks would
        # scatter small writes over the file, which crawls when a memory cgroup leaves
        # little room for the page cache.)
        rows = max(1, VOLTAGE_WRITE_BLOCK_BYTES // max(1, done * 8))
        for start in range(0, n if done else 0, rows):
            stop = min(start + rows, n)
            dset[start:stop, :] = np.ascontiguousarray(result.voltage[start:stop, :done])
    for key, value in flatten(params).items():
        f.attrs[key] = value
    f.attrs["params_json"] = json.dumps(params, sort_keys=True)
    for key, value in attrs.items():
        f.attrs[key] = value


def _use_backend() -> None:
    """Under simwarden (``SIMWARDEN_RUN_ID`` set), use Agg unless a backend was chosen already.

    Then ``plt.show()`` never waits for windows to be closed in a pipeline run, even with a
    display; by hand, matplotlib picks its usual (interactive, if there is a display) backend.
    """
    import matplotlib

    if not os.environ.get("SIMWARDEN_RUN_ID"):
        return
    chosen = getattr(matplotlib.rcParams, "_get_backend_or_none", None)
    configured = chosen() if chosen is not None else os.environ.get("MPLBACKEND")
    if not configured:
        matplotlib.use("Agg")


def make_figures(result: Result, params: dict[str, Any], bin_steps: int) -> list[Any]:
    """Make the raster, population-rate (and voltage) figures, labelled by those names.

    Nothing is saved here: ``main`` calls ``plt.show()`` at the end, and simwarden's pipeline
    saves every open figure under its label (``raster``, ``population_rate``, ``voltage``).
    """
    _use_backend()
    import matplotlib.pyplot as plt

    dt = params["dt_ms"]
    figures: list[Any] = []
    times = result.spike_steps * dt
    span = (0.0, result.steps_done * dt)

    fig, ax = plt.subplots(figsize=(8, 4))
    fig.set_label("raster")
    shown = min(times.size, RASTER_MAX_SPIKES)
    exc = result.spike_ids[:shown] < result.n_excitatory
    for mask, color in ((exc, "tab:red"), (~exc, "tab:blue")):
        ax.plot(
            times[:shown][mask], result.spike_ids[:shown][mask], ".", color=color, ms=1.5, mew=0
        )
    cut = "" if shown == times.size else f", first {shown} of {times.size} spikes"
    ax.set_title(f"Spike raster: {result.n_neurons} LIF neurons{cut}")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neuron id (E below, I above)")
    ax.set_xlim(*span)
    ax.set_ylim(-0.5, result.n_neurons - 0.5)
    fig.tight_layout()
    figures.append(fig)

    t_ms, rate = population_rate(result, bin_steps, dt)
    fig, ax = plt.subplots(figsize=(8, 3))
    fig.set_label("population_rate")
    ax.step(t_ms, rate, where="post", color="black", linewidth=0.8)
    if rate.size:
        ax.axhline(
            rate.mean(), color="tab:orange", linestyle="--", label=f"mean {rate.mean():.1f} Hz"
        )
        ax.legend(loc="upper right")
    ax.set_title(f"Population rate ({bin_steps * dt:g} ms bins)")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("rate (Hz per neuron)")
    ax.set_xlim(*span)
    fig.tight_layout()
    figures.append(fig)

    if result.voltage is not None:
        fig, ax = plt.subplots(figsize=(8, 3))
        fig.set_label("voltage")
        t_axis = np.arange(result.steps_done) * dt
        picks = np.unique(
            np.linspace(0, result.n_neurons - 1, min(3, result.n_neurons)).astype(int)
        )
        for i in picks:
            ax.plot(t_axis, result.voltage[i, : result.steps_done], linewidth=0.6, label=f"#{i}")
        ax.axhline(
            params["neuron"]["v_threshold_mv"], color="grey", linestyle=":", label="threshold"
        )
        ax.set_title(f"Membrane potential of {len(picks)} neurons")
        ax.set_xlabel("time (ms)")
        ax.set_ylabel("V (mV)")
        ax.legend(loc="upper right", fontsize="small")
        fig.tight_layout()
        figures.append(fig)
    return figures


def show_figures() -> None:
    """``plt.show()``: shows the figures by hand; under the pipeline it returns at once."""
    import matplotlib.pyplot as plt

    plt.show()


# --- entry point ---------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    """Run the simulation; return the exit code (see the module docstring)."""
    if len(argv) != 2 or argv[0] in ("-h", "--help"):
        print(f"usage: python {PROG} PARAMS_JSON OUTDIR", file=sys.stderr)
        return EXIT_BAD_INPUT
    params_path, outdir = Path(argv[0]), Path(argv[1])
    try:
        params = load_params(params_path)
        settings = read_settings(os.environ)
    except InputError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"{PROG}: error: cannot create output directory {outdir}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT

    # Loaded before the run, so that flushing after a stop (often a memory stop, with little
    # headroom left) costs no extra memory for the import.
    import h5py  # noqa: F401

    stop = StopRequest()
    stop.install()
    started = time.monotonic()
    duration = params["duration_ms"]
    if settings.quick:
        say(f"quick mode (SIMWARDEN_QUICK=1): duration {duration:g} ms -> {duration / 10:g} ms")
        duration /= 10
    n = params["network"]["n_neurons"]
    n_scaled = max(1, round(n * settings.scale))
    if settings.scale != 1.0:
        say(f"scale (SIMWARDEN_SCALE={settings.scale:g}): {n} -> {n_scaled} neurons")
    dt = params["dt_ms"]
    steps = max(1, round(duration / dt))
    bin_steps = max(1, round(params["rate_bin_ms"] / dt))

    timers = Timers()
    result = simulate(params, n_scaled, steps, stop, timers=timers)
    completed = result.steps_done == steps
    rate = (
        result.spike_ids.size / (n_scaled * result.steps_done * dt / 1000.0)
        if result.steps_done
        else 0.0
    )
    attrs = {
        "completed": completed,
        "stopped_by": "" if completed else str(stop.name),
        "steps_done": result.steps_done,
        "steps_total": steps,
        "duration_ms_run": steps * dt,
        "n_neurons_run": n_scaled,
        "n_excitatory": result.n_excitatory,
        "n_synapses": result.n_synapses,
        "n_spikes": result.spike_ids.size,
        "mean_rate_hz": rate,
        "quick": settings.quick,
        "scale": settings.scale,
        "code_version": code_version(),
    }
    figures: list[Any] = []
    if stop.name is None:
        with timers.time("figures"):
            figures = make_figures(result, params, bin_steps)
    out = outdir / "output.h5"
    try:
        write_output(out, result, params, attrs, bin_steps, timers)
    except OSError as exc:
        print(f"{PROG}: error: cannot write {out}: {exc}", file=sys.stderr)
        return EXIT_WRITE_FAILED
    if stop.name is not None:
        if figures:  # the stop came while they were made: a stopped run shows none
            import matplotlib.pyplot as plt

            plt.close("all")
        code = STOP_SIGNALS[stop.name]
        what = "partial" if not completed else "complete"
        say(
            f"stopped by {stop.name} at t = {result.steps_done * dt:.1f} ms "
            f"(step {result.steps_done} of {steps}): wrote {what} {out} "
            f"(completed={completed}), no figures, exit {code}"
        )
        return code
    phases = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in timers.as_dict().items())
    say(
        f"done: {result.spike_ids.size} spikes, mean rate {rate:.1f} Hz; wrote {out} and made "
        f"{len(figures)} figures in {time.monotonic() - started:.1f} s ({phases})"
    )
    show_figures()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
