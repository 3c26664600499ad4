"""``simwarden status`` per simulation: the runs grouped by simulation and commit with a count
per state, and the runs of one simulation picked out (``--simulation NAME``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from simwarden.core.errors import UserError
from simwarden.results.status import STATES, RunStatus


@dataclass(frozen=True)
class StatusGroup:
    """The runs of one simulation at one commit (as the config names it): how many are in each
    state, in :data:`STATES` order, states with no run left out."""

    simulation: str | None
    ref: str | None
    counts: tuple[tuple[str, int], ...]

    @property
    def label(self) -> str:
        """``lif @ v0.3``; ``-`` stands for the simulation of a one-simulation config."""
        name = self.simulation or "-"
        return f"{name} @ {self.ref}" if self.ref else name

    @property
    def summary(self) -> str:
        """``3 runs: 2 up to date, 1 failed``."""
        total = sum(n for _, n in self.counts)
        counted = ", ".join(f"{n} {state}" for state, n in self.counts)
        return f"{total} run{'s' if total != 1 else ''}: {counted}"


def group_status(statuses: Sequence[RunStatus]) -> list[StatusGroup]:
    """One group per (simulation, commit), in the order the runs are planned."""
    members: dict[tuple[str | None, str | None], list[str]] = {}
    for status in statuses:
        members.setdefault((status.simulation, status.ref), []).append(status.state)
    return [
        StatusGroup(simulation, ref, tuple((s, states.count(s)) for s in STATES if s in states))
        for (simulation, ref), states in members.items()
    ]


def select_simulation(statuses: Sequence[RunStatus], name: str) -> list[RunStatus]:
    """The runs of simulation ``name``: its own, and for a collection entry (``dev``) those of
    every script in it (``dev/plot_a``...). UserError naming the simulations there are when
    none matches."""
    picked = [
        s
        for s in statuses
        if s.simulation is not None
        and (s.simulation == name or s.simulation.startswith(f"{name}/"))
    ]
    if picked:
        return picked
    known = list(dict.fromkeys(s.simulation for s in statuses if s.simulation is not None))
    shown = ", ".join(known) if known else "none: this config runs one simulation"
    raise UserError(f"--simulation {name!r}: no such simulation; simulations: {shown}")
