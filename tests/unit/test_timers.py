"""simwarden.timers: stopwatch semantics on a fake clock, and the HDF5 layout on real files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from simwarden.timers import Timer, Timers, read_timers


class Clock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_one_shot_timer_counts_intervals_and_skips_pauses(clock: Clock) -> None:
    timer = Timer("setup", clock=clock)
    assert (timer.state, timer.elapsed, timer.count) == ("not started", 0.0, 0)
    timer.start()
    clock.advance(2.0)
    assert (timer.state, timer.elapsed, timer.count) == ("running", 2.0, 1)
    timer.pause()
    clock.advance(5.0)
    assert (timer.state, timer.elapsed, timer.count) == ("paused", 2.0, 1)
    timer.unpause()
    clock.advance(1.5)
    assert (timer.elapsed, timer.count) == (3.5, 2)
    timer.stop()
    clock.advance(10.0)
    assert (timer.state, timer.elapsed, timer.count) == ("stopped", 3.5, 2)
    with pytest.raises(RuntimeError) as raised:
        timer.start()
    assert str(raised.value) == (
        "timer 'setup': cannot start: it is stopped; a one-shot timer runs once "
        "(use cumulative=True)"
    )
    assert (timer.state, timer.elapsed, timer.count) == ("stopped", 3.5, 2)


def test_stop_while_paused_ends_without_counting_the_pause(clock: Clock) -> None:
    timer = Timer("io", clock=clock)
    timer.start()
    clock.advance(1.0)
    timer.pause()
    clock.advance(4.0)
    timer.stop()
    assert (timer.state, timer.elapsed, timer.count) == ("stopped", 1.0, 1)


def test_cumulative_timer_adds_up_restarts(clock: Clock) -> None:
    timer = Timer("step", cumulative=True, clock=clock)
    for seconds in (0.25, 0.5, 1.0):
        timer.start()
        clock.advance(seconds)
        timer.stop()
        clock.advance(100.0)  # time between the intervals is not counted
    assert (timer.elapsed, timer.count, timer.cumulative) == (1.75, 3, True)


RUNNING_ONLY = "only a running timer can be paused"
PAUSED_ONLY = "only a paused timer can be unpaused"
STARTED_ONLY = "only a running or paused timer can be stopped"
STOP_FIRST = "stop it first (or unpause a paused one)"


@pytest.mark.parametrize(
    ("setup", "action", "message"),
    [
        ((), "pause", f"cannot pause: it is not started; {RUNNING_ONLY}"),
        ((), "unpause", f"cannot unpause: it is not started; {PAUSED_ONLY}"),
        ((), "stop", f"cannot stop: it is not started; {STARTED_ONLY}"),
        (("start",), "start", f"cannot start: it is running; {STOP_FIRST}"),
        (("start",), "unpause", f"cannot unpause: it is running; {PAUSED_ONLY}"),
        (("start", "pause"), "pause", f"cannot pause: it is paused; {RUNNING_ONLY}"),
        (("start", "pause"), "start", f"cannot start: it is paused; {STOP_FIRST}"),
        (("start", "stop"), "stop", f"cannot stop: it is stopped; {STARTED_ONLY}"),
        (("start", "stop"), "pause", f"cannot pause: it is stopped; {RUNNING_ONLY}"),
    ],
)
def test_calls_in_the_wrong_order_raise_and_change_nothing(
    clock: Clock, setup: tuple[str, ...], action: str, message: str
) -> None:
    timer = Timer("t", cumulative=True, clock=clock)
    for step in setup:
        getattr(timer, step)()
        clock.advance(1.0)
    before = (timer.state, timer.elapsed, timer.count)
    with pytest.raises(RuntimeError) as raised:
        getattr(timer, action)()
    assert str(raised.value) == f"timer 't': {message}"
    assert (timer.state, timer.elapsed, timer.count) == before


@pytest.mark.parametrize("name", ["", "a/b", ".", ".."])
def test_names_that_cannot_be_datasets_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="use a non-empty name without '/'"):
        Timer(name)


def test_collection_creates_on_first_use_and_times_blocks_cumulatively(clock: Clock) -> None:
    timers = Timers(clock=clock)
    setup = timers["setup"]
    assert timers["setup"] is setup and not setup.cumulative
    setup.start()
    clock.advance(3.0)
    setup.stop()
    for _ in range(2):
        with timers.time("step") as step:
            clock.advance(0.5)
            assert step.running
    with pytest.raises(ZeroDivisionError), timers.time("step"):
        clock.advance(0.25)
        1 / 0  # noqa: B018 - the timer must stop on the way out
    assert timers["step"].cumulative and timers["step"].state == "stopped"
    assert timers["step"].count == 3
    assert timers.as_dict() == {"setup": 3.0, "step": 1.25}
    assert list(timers) == ["setup", "step"] and len(timers) == 2 and "step" in timers


def test_write_and_read_back_a_file(tmp_path: Path, clock: Clock) -> None:
    timers = Timers(clock=clock)
    with timers.time("simulate"):
        clock.advance(2.5)
    with timers.time("simulate"):
        clock.advance(0.5)
    timers["connect"].start()
    clock.advance(0.125)
    timers["connect"].stop()
    timers["write"].start()
    clock.advance(1.0)  # still running: written as elapsed so far, and keeps running
    path = tmp_path / "out.h5"
    timers.write(path)
    assert timers["write"].running

    assert read_timers(path) == {"simulate": 3.0, "connect": 0.125, "write": 1.0}
    with h5py.File(path, "r") as f:
        group = f["benchmark"]
        assert dict(group.attrs) == {"unit": "s"}
        assert list(group) == ["simulate", "connect", "write"]  # creation order
        simulate = group["simulate"]
        assert (simulate.shape, simulate.dtype, simulate.compression) == ((1,), "float64", "gzip")
        assert (simulate.attrs["count"], bool(simulate.attrs["cumulative"])) == (2, True)
        assert (group["connect"].attrs["count"], bool(group["connect"].attrs["cumulative"])) == (
            1,
            False,
        )


def test_write_replaces_the_group_and_keeps_the_rest_of_the_file(
    tmp_path: Path, clock: Clock
) -> None:
    path = tmp_path / "out.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("spikes", data=np.arange(3))
        f.create_group("benchmark").create_dataset("old", data=[9.0])
    timers = Timers(clock=clock)
    with timers.time("new"):
        clock.advance(4.0)
    timers.write(path, compression=None, dtype="float32")
    with h5py.File(path, "r") as f:
        assert list(f) == ["benchmark", "spikes"]
        assert list(f["benchmark"]) == ["new"]
        assert (f["benchmark/new"].dtype, f["benchmark/new"].compression) == ("float32", None)
        np.testing.assert_array_equal(f["spikes"][()], [0, 1, 2])
    assert read_timers(path) == {"new": 4.0}


def test_write_into_an_open_group_under_another_name(tmp_path: Path, clock: Clock) -> None:
    timers = Timers(clock=clock)
    with timers.time("a"):
        clock.advance(1.0)
    path = tmp_path / "out.h5"
    with h5py.File(path, "w") as f:
        run = f.create_group("run1")
        timers.write(run, group="timing", compression="lzf")
        assert f["run1/timing/a"].compression == "lzf"
    assert read_timers(path, group="run1/timing") == {"a": 1.0}
    assert read_timers(path) == {}


def test_read_accepts_scalars_and_skips_other_members(tmp_path: Path) -> None:
    path = tmp_path / "hand.h5"
    with h5py.File(path, "w") as f:
        group = f.create_group("benchmark")
        group.create_dataset("scalar", data=2.0)
        group.create_dataset("int", data=[3])
        group.create_dataset("series", data=[1.0, 2.0])
        group.create_dataset("label", data="text")
        group.create_group("sub")
    assert read_timers(path) == {"int": 3.0, "scalar": 2.0}


def test_bad_dtype_missing_and_foreign_files(tmp_path: Path, clock: Clock) -> None:
    timers = Timers(clock=clock)
    with pytest.raises(ValueError, match="dtype 'int32': use a float type"):
        timers.write(tmp_path / "x.h5", dtype="int32")
    assert not (tmp_path / "x.h5").exists()
    with pytest.raises(FileNotFoundError):
        read_timers(tmp_path / "missing.h5")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(OSError):
        read_timers(tmp_path / "text.h5")


def test_importing_loads_no_heavy_library() -> None:
    code = "import sys, simwarden.timers; print(sorted({'h5py', 'numpy'} & set(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
