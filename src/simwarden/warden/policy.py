"""The limit policy: given what one round of sampling saw, should the run be stopped, and why?

Pure functions of their arguments: no clock, no psutil, no file system. The supervisor measures
(an :class:`Observation`), keeps a :class:`PolicyState`, and acts on what these functions return:

- :func:`check` -> the first :class:`Breach` (a stop, or the one-time memory warning) or None;
- :func:`escalate` -> True when the stop's grace period is over and SIGKILL is due;
- :func:`next_interval` / :func:`refresh_period` -> how soon to sample / rediscover the tree.

Tests call them with fabricated observations (``tests/unit/test_policy.py``).
"""

from __future__ import annotations

import math
import signal

from simwarden.core.units import format_bytes

# typing costs ~10 ms of start-up and is needed only by type checkers here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from simwarden.warden.options import Limits

#: The :attr:`Breach.reason` of the memory warning: it is reported once and does not stop the run.
MEM_WARN = "mem_warn"
#: While a memory stop waits out its grace period, growth this far past the limit ends it early.
GRACE_MEMORY_CEILING = 1.10
#: The shortest sampling interval, however fast memory grows.
MIN_INTERVAL_S = 0.005
#: The sampling interval during a stop's grace period (when the base interval is longer).
STOPPING_INTERVAL_S = 0.05
#: The sampling interval once memory is past :data:`NEAR_LIMIT_FRACTION` of its limit.
NEAR_LIMIT_INTERVAL_S = 0.02
NEAR_LIMIT_FRACTION = 0.8
# Rediscovering the tree scans the whole process table: do it every 0.5 s, and every 50 ms
# once memory is past half its limit (new children are measured within that delay).
REFRESH_PERIOD_S = 0.5
REFRESH_NEAR_LIMIT_S = 0.05


# Observation and PolicyState are plain classes, not dataclasses: each dataclass costs ~1 ms of
# the `simwarden run` start-up, and neither needs comparing or printing.
class Observation:
    """What one round of sampling saw, as plain data (the supervisor measures it).

    A field the limits do not need may stay at its default: ``host_mem_percent`` is read only
    with a host memory limit, ``free_disk_bytes`` only with a free-disk minimum.
    ``progress_age_s`` is None until the simulation first reports progress (it never stalls
    before that).
    """

    __slots__ = (
        "rss_bytes",  # summed over the tree
        "oom_kills",  # processes the kernel killed in the run's memory cgroup so far
        "host_mem_percent",  # the host's used memory, percent
        "free_disk_bytes",  # free space where the run writes
        "stop_file",  # the stop file's path once it exists, else None
        "ended_parent",  # pid of the watched parent once it ended, else None
        "progress_age_s",  # seconds since reported progress last rose, else None
        "progress",  # the last progress reported (0..1), for the stall message
    )

    def __init__(  # noqa: PLR0913 - one keyword per quantity observed
        self,
        rss_bytes: int,
        *,
        oom_kills: int = 0,
        host_mem_percent: float | None = None,
        free_disk_bytes: int | None = None,
        stop_file: str | None = None,
        ended_parent: int | None = None,
        progress_age_s: float | None = None,
        progress: float | None = None,
    ) -> None:
        self.rss_bytes, self.oom_kills = rss_bytes, oom_kills
        self.host_mem_percent, self.free_disk_bytes = host_mem_percent, free_disk_bytes
        self.stop_file, self.ended_parent = stop_file, ended_parent
        self.progress_age_s, self.progress = progress_age_s, progress


class PolicyState:
    """What the policy remembers between samples; the supervisor updates it as it acts."""

    __slots__ = (
        "started",  # monotonic time the command started
        "stopping",  # reason of the stop under way (then no new stop is decided)
        "stop_deadline",  # end of the grace period of the stop signal sent
        "killed",  # SIGKILL was sent
        "mem_warned",  # the memory warning was given
        "signal_received",  # the first signal the warden itself got
        "signal_count",  # how many such signals (a second one means: kill now)
    )

    def __init__(
        self,
        started: float,
        *,
        stopping: str | None = None,
        stop_deadline: float | None = None,
        killed: bool = False,
        mem_warned: bool = False,
        signal_received: int | None = None,
        signal_count: int = 0,
    ) -> None:
        self.started, self.stopping, self.stop_deadline = started, stopping, stop_deadline
        self.killed, self.mem_warned = killed, mem_warned
        self.signal_received, self.signal_count = signal_received, signal_count


class Breach:
    """A limit crossed: ``reason`` is one of the record's REASONS, or :data:`MEM_WARN`.

    ``message`` is the one line said and recorded. ``stopped_by`` is ``"poll"`` or ``"cgroup"`` for
    a memory stop; ``signal`` is the signal a ``"signal"`` stop stands for (SIGHUP for an ended
    parent). Equal when every field is (a plain class: see :class:`Observation`).
    """

    __slots__ = ("reason", "message", "stopped_by", "signal")

    def __init__(
        self, reason: str, message: str, stopped_by: str | None = None, signal: int | None = None
    ) -> None:
        self.reason, self.message, self.stopped_by, self.signal = (
            reason,
            message,
            stopped_by,
            signal,
        )

    def _values(self) -> tuple[str, str, str | None, int | None]:
        return self.reason, self.message, self.stopped_by, self.signal

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Breach) and self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return "Breach(reason={!r}, message={!r}, stopped_by={!r}, signal={!r})".format(
            *self._values()
        )

    @property
    def stops(self) -> bool:
        """False for the memory warning, True for every breach that stops the run."""
        return self.reason != MEM_WARN


def signal_name(signum: int) -> str:
    """``SIGTERM`` for 15; the number as text for a number that names no signal."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return str(signum)


def kernel_kill_message(limits: Limits) -> str:
    """The message of a memory stop the kernel made (cgroup OOM kill)."""
    limit = format_bytes(limits.mem_bytes or 0)
    return f"memory limit {limit} hit: the kernel killed a process of the tree"


def check(limits: Limits, sample: Observation, now: float, state: PolicyState) -> Breach | None:
    """The first limit ``sample`` breaks at monotonic time ``now``, or None.

    In order: a signal to the warden, a cgroup OOM kill, memory over the limit (strictly above),
    the memory warning (strictly above its level, once: not when ``state.mem_warned``), the
    timeout (strictly more time than allowed), a stall (progress not risen for strictly longer
    than the stall timeout), host memory (strictly above), free disk (strictly below), the stop
    file, an ended parent. While a stop is under way (``state.stopping``) nothing
    new is decided. After a :data:`MEM_WARN` breach the caller sets ``mem_warned`` and calls again:
    the warning does not hide a later limit of the same sample.
    """
    if state.stopping is not None:
        return None
    if state.signal_received:
        name = signal_name(state.signal_received)
        return Breach("signal", f"warden received {name}", signal=state.signal_received)
    return _memory(limits, sample, state) or _other_limits(limits, sample, now, state)


def _memory(limits: Limits, sample: Observation, state: PolicyState) -> Breach | None:
    if sample.oom_kills > 0:
        return Breach("memory", kernel_kill_message(limits), stopped_by="cgroup")
    rss = sample.rss_bytes
    if limits.mem_bytes and rss > limits.mem_bytes:
        message = f"memory {format_bytes(rss)} over limit {format_bytes(limits.mem_bytes)}"
        return Breach("memory", message, stopped_by="poll")
    if limits.mem_warn_bytes and not state.mem_warned and rss > limits.mem_warn_bytes:
        message = (
            f"memory {format_bytes(rss)} passed warning level "
            f"{format_bytes(limits.mem_warn_bytes)}; still running"
        )
        return Breach(MEM_WARN, message)
    return None


def _other_limits(
    limits: Limits, sample: Observation, now: float, state: PolicyState
) -> Breach | None:
    if limits.timeout_s is not None and now - state.started > limits.timeout_s:
        return Breach("timeout", f"time limit {limits.timeout_s:g} s reached")
    stalled = _stall(limits, sample)
    if stalled is not None:
        return stalled
    used = sample.host_mem_percent
    if limits.host_mem_percent is not None and used is not None and used > limits.host_mem_percent:
        message = f"host memory use {used:.1f}% over {limits.host_mem_percent:g}%"
        return Breach("host_memory", message)
    free, minimum = sample.free_disk_bytes, limits.min_free_disk_bytes
    if minimum is not None and free is not None and free < minimum:
        return Breach("disk", f"free disk {format_bytes(free)} below {format_bytes(minimum)}")
    if sample.stop_file is not None:
        return Breach("stopped", f"stop file {sample.stop_file!r} appeared")
    if sample.ended_parent is not None:
        why = f"parent process {sample.ended_parent} ended (nobody is waiting for this run)"
        return Breach("signal", why, signal=signal.SIGHUP)
    return None


def _stall(limits: Limits, sample: Observation) -> Breach | None:
    age, limit = sample.progress_age_s, limits.stall_timeout_s
    if limit is None or age is None or age <= limit:
        return None
    last = "" if sample.progress is None else f"; last report {percent_text(sample.progress)}"
    # Rounded up to 0.1 s, so an age just above the limit does not read as equal to it (the
    # 1e-6 keeps float noise such as 0.3 * 10 = 3.0000000000000004 from rounding up).
    shown = math.ceil(age * 10 - 1e-6) / 10
    message = f"no progress for {shown:g} s (stall timeout {limit:g} s{last})"
    return Breach("stalled", message)


def percent_text(fraction: float) -> str:
    """``42%`` for 0.42, ``77.5%`` for 0.775: a progress fraction as a percentage, 0.1 precise."""
    return f"{round(fraction * 100, 1):g}%"


def escalate(limits: Limits, sample: Observation, now: float, state: PolicyState) -> bool:
    """True when SIGKILL is due for a stop under way (``state.stop_deadline`` set, not killed).

    Due when the grace period is over (``now >= stop_deadline``), when a memory stop's tree grew
    past :data:`GRACE_MEMORY_CEILING` times the limit (strictly), or when the warden got a second
    signal (the user is impatient).
    """
    if state.stop_deadline is None or state.killed:
        return False
    ceiling = (
        state.stopping == "memory"
        and bool(limits.mem_bytes)
        and sample.rss_bytes > (limits.mem_bytes or 0) * GRACE_MEMORY_CEILING
    )
    return now >= state.stop_deadline or ceiling or state.signal_count > 1


#: With a kernel limit (cgroup) in force, the assumed fastest growth of the tree's memory, bytes/s,
#: for :func:`next_interval` to wait past the base interval while memory is far below the limit.
ASSUMED_GROWTH_BPS = 1_000_000_000
#: The longest sampling interval with a kernel limit in force (never below the base interval).
KERNEL_LIMIT_MAX_INTERVAL_S = 0.5


def next_interval(  # noqa: PLR0913 - what the pace depends on, each by keyword
    limits: Limits,
    interval_s: float,
    state: PolicyState,
    *,
    rss_bytes: int,
    now: float,
    previous: tuple[float, int] | None,
    kernel_limit: bool = False,
) -> float:
    """Seconds until the next sample: ``interval_s``, shorter as memory nears its limit.

    ``previous`` is the last sample's ``(time, rss_bytes)``. During a stop: at most
    :data:`STOPPING_INTERVAL_S`. With a memory limit and growing memory: at most half the time the
    growth rate needs to reach the limit (not below :data:`MIN_INTERVAL_S`), and at most
    :data:`NEAR_LIMIT_INTERVAL_S` past :data:`NEAR_LIMIT_FRACTION` of the limit.

    ``kernel_limit`` (a cgroup enforces the memory limit, so samples are for the record and an
    early polite stop): the pace may exceed ``interval_s``, up to
    :data:`KERNEL_LIMIT_MAX_INTERVAL_S`, as long as a tree growing at :data:`ASSUMED_GROWTH_BPS`
    (or faster, as last seen) needs at least twice that long to reach the limit; a timeout is
    then still checked no later than at its deadline (or ``interval_s`` after it). Bound: a
    tree growing no faster than the larger of the two rates is sampled before it has used half
    of the headroom it had at the last sample, as without ``kernel_limit``.
    """
    if state.stop_deadline is not None:
        return min(interval_s, STOPPING_INTERVAL_S)
    limit = limits.mem_bytes
    if not limit:
        return interval_s
    if kernel_limit:
        interval_s = _relaxed(limits, interval_s, state, limit - rss_bytes, now)
    if previous is None or now <= previous[0]:
        return interval_s
    rate = (rss_bytes - previous[1]) / (now - previous[0])
    if rate > 0:
        interval_s = min(interval_s, max(MIN_INTERVAL_S, 0.5 * (limit - rss_bytes) / rate))
    if rss_bytes > NEAR_LIMIT_FRACTION * limit:
        interval_s = min(interval_s, NEAR_LIMIT_INTERVAL_S)
    return interval_s


def _relaxed(
    limits: Limits, interval_s: float, state: PolicyState, headroom: int, now: float
) -> float:
    """The base interval stretched by the headroom at the assumed growth (see next_interval)."""
    relaxed = min(KERNEL_LIMIT_MAX_INTERVAL_S, 0.5 * headroom / ASSUMED_GROWTH_BPS)
    if limits.timeout_s is not None:
        relaxed = min(relaxed, state.started + limits.timeout_s - now)
    return max(interval_s, relaxed)


def refresh_period(limits: Limits, previous_rss: int | None, state: PolicyState) -> float:
    """Seconds between rediscoveries of the tree: shorter near the memory limit or when stopping."""
    limit = limits.mem_bytes
    near = bool(limit and previous_rss is not None and previous_rss > limit / 2)
    if near or state.stop_deadline is not None:
        return REFRESH_NEAR_LIMIT_S
    return REFRESH_PERIOD_S
