"""Timers a simulation puts around its own phases, written into its HDF5 output.

    from simwarden.timers import Timers

    timers = Timers()
    with timers.time("connect"):
        build_network()
    timers["simulate"].start()
    ...
    timers["simulate"].stop()
    timers.write("output.h5")          # group "benchmark": one dataset per timer

``simwarden bench collect`` turns every ``benchmark`` group under a run's data directory into
``timer.<name>`` columns of the benchmark table. The clock is :func:`time.perf_counter` unless
another one is given (tests pass a fake one). h5py is imported only by :meth:`Timers.write` and
:func:`read_timers`.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

Clock = Callable[[], float]

_IDLE, _RUNNING, _PAUSED, _STOPPED = "not started", "running", "paused", "stopped"


class Timer:
    """A stopwatch: ``start`` .. (``pause`` .. ``unpause``)* .. ``stop``.

    A one-shot timer (the default) can be started once; a ``cumulative`` one may be started
    again after ``stop`` and adds up all its intervals. Calls in the wrong order (pausing a timer
    that is not running, stopping one that never started, starting a running one) raise
    RuntimeError naming the timer and its state; the timer is left as it was.
    """

    def __init__(self, name: str, cumulative: bool = False, clock: Clock = time.perf_counter):
        if not name or "/" in name or name in (".", ".."):
            raise ValueError(f"timer name {name!r}: use a non-empty name without '/'")
        self.name = name
        self.cumulative = cumulative
        self._clock = clock
        self._state = _IDLE
        self._total = 0.0
        self._since = 0.0
        self._count = 0

    def __repr__(self) -> str:
        return f"Timer({self.name!r}, {self._state}, elapsed={self.elapsed:.6g} s)"

    @property
    def state(self) -> str:
        """``"not started"``, ``"running"``, ``"paused"`` or ``"stopped"``."""
        return self._state

    @property
    def running(self) -> bool:
        return self._state == _RUNNING

    @property
    def elapsed(self) -> float:
        """Seconds timed so far, including the interval still running (0.0 before start)."""
        if self._state == _RUNNING:
            return self._total + (self._clock() - self._since)
        return self._total

    @property
    def count(self) -> int:
        """Intervals timed: each ``start`` and ``unpause`` begins one (a running one counts)."""
        return self._count

    def _wrong(self, action: str, hint: str) -> RuntimeError:
        return RuntimeError(f"timer {self.name!r}: cannot {action}: it is {self._state}; {hint}")

    def _begin(self) -> None:
        self._since = self._clock()
        self._state = _RUNNING
        self._count += 1

    def _end(self) -> None:
        self._total += self._clock() - self._since

    def start(self) -> None:
        """Begin timing. A cumulative timer may be started again after ``stop``."""
        if self._state == _STOPPED and not self.cumulative:
            raise self._wrong("start", "a one-shot timer runs once (use cumulative=True)")
        if self._state in (_RUNNING, _PAUSED):
            raise self._wrong("start", "stop it first (or unpause a paused one)")
        self._begin()

    def pause(self) -> None:
        """Stop counting until :meth:`unpause`."""
        if self._state != _RUNNING:
            raise self._wrong("pause", "only a running timer can be paused")
        self._end()
        self._state = _PAUSED

    def unpause(self) -> None:
        """Resume a paused timer (a new interval)."""
        if self._state != _PAUSED:
            raise self._wrong("unpause", "only a paused timer can be unpaused")
        self._begin()

    def stop(self) -> None:
        """End timing; a paused timer stops without counting the pause."""
        if self._state == _RUNNING:
            self._end()
        elif self._state != _PAUSED:
            raise self._wrong("stop", "only a running or paused timer can be stopped")
        self._state = _STOPPED


class Timers:
    """Named timers, created on first use, kept in creation order.

    ``timers["name"]`` is a one-shot :class:`Timer`; ``with timers.time("name"):`` times the
    block with a cumulative one (a block entered several times adds up; the timer is stopped
    also when the block raises).
    """

    def __init__(self, clock: Clock = time.perf_counter) -> None:
        self._clock = clock
        self._timers: dict[str, Timer] = {}

    def timer(self, name: str, cumulative: bool = False) -> Timer:
        """The timer called ``name``, created (with ``cumulative``) if it does not exist yet."""
        found = self._timers.get(name)
        if found is None:
            found = self._timers[name] = Timer(name, cumulative=cumulative, clock=self._clock)
        return found

    def __getitem__(self, name: str) -> Timer:
        return self.timer(name)

    def __contains__(self, name: object) -> bool:
        return name in self._timers

    def __iter__(self) -> Iterator[str]:
        return iter(self._timers)

    def __len__(self) -> int:
        return len(self._timers)

    @contextlib.contextmanager
    def time(self, name: str) -> Iterator[Timer]:
        """Time the ``with`` block with the cumulative timer ``name``."""
        timer = self.timer(name, cumulative=True)
        timer.start()
        try:
            yield timer
        finally:
            if timer.state in (_RUNNING, _PAUSED):
                timer.stop()

    def as_dict(self) -> dict[str, float]:
        """``{name: elapsed seconds}`` in creation order (running timers: so far)."""
        return {name: timer.elapsed for name, timer in self._timers.items()}

    def write(
        self,
        target: str | os.PathLike[str] | Any,
        group: str = "benchmark",
        compression: str | None = "gzip",
        dtype: str = "float64",
    ) -> None:
        """Write every timer into ``group`` of an HDF5 file, replacing that group if it exists.

        ``target`` is a path (the file is created if missing, else opened for appending) or an
        open, writable h5py File/Group. Each timer becomes a one-element dataset of ``dtype``
        holding its elapsed seconds (HDF5 cannot compress a scalar dataset, so ``compression``,
        e.g. ``"gzip"``, ``"lzf"`` or None, applies to these), with attributes ``count`` and
        ``cumulative``, in creation order; the group gets ``unit = "s"``. Running timers are
        written as elapsed so far and keep running. Raises ValueError for a ``dtype`` that is
        not a float type.
        """
        import h5py
        import numpy as np

        kind = np.dtype(dtype)
        if kind.kind != "f":
            raise ValueError(f"dtype {dtype!r}: use a float type such as 'float64' or 'float32'")
        if isinstance(target, h5py.Group):
            self._write_into(target, group, compression, kind)
            return
        with h5py.File(target, "a") as handle:
            self._write_into(handle, group, compression, kind)

    def _write_into(self, parent: Any, group: str, compression: str | None, kind: Any) -> None:
        if group in parent:
            del parent[group]
        node = parent.create_group(group, track_order=True)
        node.attrs["unit"] = "s"
        for name, timer in self._timers.items():
            data = node.create_dataset(
                name, data=[timer.elapsed], dtype=kind, chunks=(1,), compression=compression
            )
            data.attrs["count"] = timer.count
            data.attrs["cumulative"] = timer.cumulative


def read_timers(path: str | os.PathLike[str], group: str = "benchmark") -> dict[str, float]:
    """``{name: elapsed seconds}`` from ``group`` of the HDF5 file at ``path``, in written order.

    Returns ``{}`` when the file has no such group. Scalar and one-element datasets are both
    read; anything else in the group is skipped. A missing file raises FileNotFoundError, a file
    that is not HDF5 OSError.
    """
    import h5py
    import numpy as np

    with h5py.File(path, "r") as handle:
        node = handle.get(group)
        if not isinstance(node, h5py.Group):
            return {}
        found: dict[str, float] = {}
        for name, item in node.items():
            if isinstance(item, h5py.Dataset) and item.size == 1 and item.dtype.kind in "fiu":
                found[name] = float(np.asarray(item[()]).reshape(-1)[0])
        return found
