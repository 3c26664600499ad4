"""The pure limit policy (simwarden.warden.policy) with fabricated observations: no process runs."""

from __future__ import annotations

import signal

import pytest

from simwarden.warden.options import Limits
from simwarden.warden.policy import (
    MEM_WARN,
    MIN_INTERVAL_S,
    NEAR_LIMIT_INTERVAL_S,
    REFRESH_NEAR_LIMIT_S,
    REFRESH_PERIOD_S,
    STOPPING_INTERVAL_S,
    Breach,
    Observation,
    PolicyState,
    check,
    escalate,
    next_interval,
    refresh_period,
)

MB = 1_000_000
T0 = 1000.0  # the monotonic time the command started
ALL_LIMITS = Limits(
    mem_bytes=100 * MB,
    mem_warn_bytes=80 * MB,
    host_mem_percent=90.0,
    timeout_s=60.0,
    min_free_disk_bytes=500 * MB,
)


def state(**kwargs: object) -> PolicyState:
    return PolicyState(started=T0, **kwargs)  # type: ignore[arg-type]


def fine(**kwargs: object) -> Observation:
    """An observation inside every one of ALL_LIMITS, with ``kwargs`` changed."""
    values: dict[str, object] = {
        "rss_bytes": 50 * MB,
        "host_mem_percent": 40.0,
        "free_disk_bytes": 2000 * MB,
    }
    return Observation(**(values | kwargs))  # type: ignore[arg-type]


# -- check: no breach ------------------------------------------------------------------------------
def test_no_breach_below_every_limit():
    assert check(ALL_LIMITS, fine(), T0 + 59.0, state()) is None


def test_no_limits_means_no_breach_however_large():
    huge = Observation(rss_bytes=10**15, host_mem_percent=100.0, free_disk_bytes=0)
    assert check(Limits(), huge, T0 + 10**6, state()) is None


def test_values_exactly_at_a_limit_do_not_breach_it():
    at_limits = fine(rss_bytes=100 * MB, host_mem_percent=90.0, free_disk_bytes=500 * MB)
    # Only the warning level (80 MB) is passed, and that warning was given already.
    breach = check(ALL_LIMITS, at_limits, T0 + 60.0, state(mem_warned=True))
    assert breach is None


# -- check: memory ---------------------------------------------------------------------------------
def test_memory_one_byte_over_the_limit_stops_by_poll():
    breach = check(ALL_LIMITS, fine(rss_bytes=100 * MB + 1), T0 + 1.0, state(mem_warned=True))
    assert breach == Breach("memory", "memory 100.0 MB over limit 100.0 MB", stopped_by="poll")
    assert breach.stops


def test_memory_far_over_the_limit_is_a_memory_breach_not_a_warning():
    breach = check(ALL_LIMITS, fine(rss_bytes=150 * MB), T0 + 1.0, state())
    assert breach == Breach("memory", "memory 150.0 MB over limit 100.0 MB", stopped_by="poll")


def test_kernel_oom_kill_in_the_cgroup_is_a_memory_breach_by_cgroup():
    breach = check(ALL_LIMITS, fine(oom_kills=1), T0 + 1.0, state())
    assert breach == Breach(
        "memory",
        "memory limit 100.0 MB hit: the kernel killed a process of the tree",
        stopped_by="cgroup",
    )


# -- check: the memory warning ---------------------------------------------------------------------
def test_memory_warning_is_given_when_crossed_and_does_not_stop():
    breach = check(ALL_LIMITS, fine(rss_bytes=80 * MB + 1), T0 + 1.0, state())
    assert breach == Breach(MEM_WARN, "memory 80.0 MB passed warning level 80.0 MB; still running")
    assert not breach.stops


def test_memory_warning_is_given_once_only():
    crossed = fine(rss_bytes=90 * MB)
    assert check(ALL_LIMITS, crossed, T0 + 1.0, state(mem_warned=True)) is None
    assert check(ALL_LIMITS, fine(rss_bytes=80 * MB), T0 + 1.0, state()) is None  # at, not over


def test_after_the_warning_a_later_limit_of_the_same_sample_is_found():
    crossed = fine(rss_bytes=90 * MB)
    assert check(ALL_LIMITS, crossed, T0 + 61.0, state()).reason == MEM_WARN
    breach = check(ALL_LIMITS, crossed, T0 + 61.0, state(mem_warned=True))
    assert breach == Breach("timeout", "time limit 60 s reached")


# -- check: time, host memory, disk, stop file, parent, signal ------------------------------------
def test_timeout_after_the_limit_not_at_it():
    assert check(ALL_LIMITS, fine(), T0 + 60.0, state()) is None
    breach = check(ALL_LIMITS, fine(), T0 + 60.5, state())
    assert breach == Breach("timeout", "time limit 60 s reached")


def test_host_memory_over_its_percent():
    breach = check(ALL_LIMITS, fine(host_mem_percent=93.25), T0 + 1.0, state())
    assert breach == Breach("host_memory", "host memory use 93.2% over 90%")


def test_host_memory_not_measured_is_no_breach():
    assert check(ALL_LIMITS, fine(host_mem_percent=None), T0 + 1.0, state()) is None


def test_free_disk_below_its_minimum():
    breach = check(ALL_LIMITS, fine(free_disk_bytes=500 * MB - 1), T0 + 1.0, state())
    assert breach == Breach("disk", "free disk 500.0 MB below 500.0 MB")
    breach = check(ALL_LIMITS, fine(free_disk_bytes=2 * MB), T0 + 1.0, state())
    assert breach == Breach("disk", "free disk 2.00 MB below 500.0 MB")


def test_stop_file_seen():
    breach = check(ALL_LIMITS, fine(stop_file="/tmp/STOP"), T0 + 1.0, state())
    assert breach == Breach("stopped", "stop file '/tmp/STOP' appeared")


def test_ended_parent_stops_as_sighup():
    breach = check(ALL_LIMITS, fine(ended_parent=4242), T0 + 1.0, state())
    assert breach == Breach(
        "signal",
        "parent process 4242 ended (nobody is waiting for this run)",
        signal=signal.SIGHUP,
    )


def test_signal_to_the_warden_comes_first():
    over_everything = fine(rss_bytes=500 * MB, stop_file="/tmp/STOP")
    breach = check(ALL_LIMITS, over_everything, T0 + 99.0, state(signal_received=signal.SIGINT))
    assert breach == Breach("signal", "warden received SIGINT", signal=signal.SIGINT)


def test_order_memory_before_timeout_before_host_before_disk():
    everything = fine(rss_bytes=500 * MB, host_mem_percent=99.0, free_disk_bytes=0)
    assert check(ALL_LIMITS, everything, T0 + 99.0, state()).reason == "memory"
    no_memory = fine(host_mem_percent=99.0, free_disk_bytes=0)
    assert check(ALL_LIMITS, no_memory, T0 + 99.0, state()).reason == "timeout"
    assert check(ALL_LIMITS, no_memory, T0 + 1.0, state()).reason == "host_memory"


# -- check: a stall ----------------------------------------------------------------------------
STALL_LIMITS = Limits(timeout_s=60.0, stall_timeout_s=30.0, host_mem_percent=90.0)


def test_a_stall_strictly_past_its_timeout_stops_naming_the_last_report():
    at = fine(progress_age_s=30.0, progress=0.42)
    assert check(STALL_LIMITS, at, T0 + 40.0, state()) is None
    breach = check(STALL_LIMITS, fine(progress_age_s=30.01, progress=0.42), T0 + 40.0, state())
    assert breach == Breach(
        "stalled", "no progress for 30.1 s (stall timeout 30 s; last report 42%)"
    )
    assert breach.stops
    exact = check(STALL_LIMITS, fine(progress_age_s=31.0, progress=0.775), T0 + 40.0, state())
    assert exact == Breach(
        "stalled", "no progress for 31 s (stall timeout 30 s; last report 77.5%)"
    )


def test_no_stall_without_a_report_or_without_a_stall_timeout():
    never_reported = fine(progress_age_s=None, progress=None)
    assert check(STALL_LIMITS, never_reported, T0 + 59.0, state()) is None
    assert check(ALL_LIMITS, fine(progress_age_s=10**6, progress=0.5), T0 + 1.0, state()) is None


def test_a_stall_comes_after_the_timeout_and_before_host_memory():
    stalled_and_more = fine(progress_age_s=45.0, progress=0.5, host_mem_percent=99.0)
    assert check(STALL_LIMITS, stalled_and_more, T0 + 61.0, state()).reason == "timeout"
    assert check(STALL_LIMITS, stalled_and_more, T0 + 50.0, state()).reason == "stalled"


@pytest.mark.parametrize("stopping", ["memory", "timeout", "signal"])
def test_nothing_new_is_decided_while_a_stop_is_under_way(stopping):
    everything = fine(rss_bytes=500 * MB, oom_kills=3, stop_file="/tmp/STOP")
    assert check(ALL_LIMITS, everything, T0 + 99.0, state(stopping=stopping)) is None
    with_signal = state(stopping=stopping, signal_received=signal.SIGTERM)
    assert check(ALL_LIMITS, everything, T0 + 99.0, with_signal) is None


# -- escalate: the grace period --------------------------------------------------------------------
def grace(**kwargs: object) -> PolicyState:
    """A memory stop under way whose grace period ends at T0 + 15."""
    return state(**({"stopping": "memory", "stop_deadline": T0 + 15.0} | kwargs))


def test_no_kill_during_grace_while_growth_stays_within_110_percent():
    ceiling = Observation(rss_bytes=110 * MB)  # 1.1 x 100 MB: at the ceiling, not past it
    assert escalate(ALL_LIMITS, ceiling, T0 + 14.0, grace()) is False


def test_kill_during_grace_when_growth_passes_110_percent():
    past = Observation(rss_bytes=110 * MB + 1)
    assert escalate(ALL_LIMITS, past, T0 + 10.5, grace()) is True


def test_growth_past_the_ceiling_does_not_cut_short_another_stop():
    past = Observation(rss_bytes=300 * MB)
    assert escalate(ALL_LIMITS, past, T0 + 10.5, grace(stopping="timeout")) is False
    assert escalate(Limits(), past, T0 + 10.5, grace()) is False


def test_kill_when_the_grace_period_is_over():
    calm = Observation(rss_bytes=1 * MB)
    assert escalate(ALL_LIMITS, calm, T0 + 14.999, grace()) is False
    assert escalate(ALL_LIMITS, calm, T0 + 15.0, grace()) is True


def test_second_signal_kills_at_once():
    calm = Observation(rss_bytes=1 * MB)
    impatient = grace(stopping="signal", signal_count=2)
    assert escalate(ALL_LIMITS, calm, T0 + 1.0, impatient) is True
    assert escalate(ALL_LIMITS, calm, T0 + 1.0, grace(stopping="signal", signal_count=1)) is False


def test_no_kill_without_a_stop_or_after_the_kill():
    past = Observation(rss_bytes=500 * MB)
    assert escalate(ALL_LIMITS, past, T0 + 99.0, state()) is False
    assert escalate(ALL_LIMITS, past, T0 + 99.0, grace(killed=True)) is False


# -- next_interval and refresh_period --------------------------------------------------------------
def interval(
    limits: Limits, base: float, rss: int, now: float, previous, *, kernel_limit=False, **kwargs
) -> float:
    return next_interval(
        limits,
        base,
        state(**kwargs),
        rss_bytes=rss,
        now=now,
        previous=previous,
        kernel_limit=kernel_limit,
    )


def test_interval_is_the_base_without_a_memory_limit_or_growth():
    assert interval(Limits(), 0.1, 90 * MB, 2.0, (1.0, 0)) == 0.1
    assert interval(ALL_LIMITS, 0.1, 10 * MB, 2.0, None) == 0.1  # first sample
    assert interval(ALL_LIMITS, 0.1, 10 * MB, 2.0, (1.0, 20 * MB)) == 0.1  # shrinking


def test_interval_shrinks_to_half_the_time_to_the_limit():
    # 0 -> 40 MB in 0.5 s: 80 MB/s; 60 MB left: reached in 0.75 s; sample again in 0.375 s.
    assert interval(ALL_LIMITS, 1.0, 40 * MB, 1.0, (0.5, 0)) == 0.375
    assert interval(ALL_LIMITS, 0.1, 40 * MB, 1.0, (0.5, 0)) == 0.1  # never above the base


def test_interval_near_the_limit_is_short():
    # Past 80 % of the limit, growing slowly or not at all: every 20 ms.
    assert interval(ALL_LIMITS, 0.1, 81 * MB, 2.0, (1.0, 81 * MB)) == NEAR_LIMIT_INTERVAL_S == 0.02


def test_interval_has_a_floor_however_fast_memory_grows():
    limits = Limits(mem_bytes=1000 * MB)
    assert interval(limits, 0.1, 790 * MB, 1.03125, (1.0, 0)) == MIN_INTERVAL_S == 0.005


def test_interval_during_a_stop():
    assert interval(ALL_LIMITS, 0.1, 1 * MB, 2.0, None, stop_deadline=5.0) == STOPPING_INTERVAL_S
    assert interval(ALL_LIMITS, 0.01, 1 * MB, 2.0, None, stop_deadline=5.0) == 0.01


def test_refresh_period_shortens_past_half_the_limit_or_in_a_stop():
    assert refresh_period(ALL_LIMITS, None, state()) == REFRESH_PERIOD_S == 0.5
    assert refresh_period(ALL_LIMITS, 50 * MB, state()) == REFRESH_PERIOD_S
    assert refresh_period(ALL_LIMITS, 50 * MB + 1, state()) == REFRESH_NEAR_LIMIT_S == 0.05
    assert refresh_period(Limits(), 10**12, state()) == REFRESH_PERIOD_S
    assert refresh_period(Limits(), None, state(stop_deadline=5.0)) == REFRESH_NEAR_LIMIT_S


def test_a_kernel_limit_lets_the_pace_follow_the_headroom():
    # 2 GB limit, 10 MB used: 1990 MB at the assumed 1 GB/s is 1.99 s; half, capped at 0.5.
    big = Limits(mem_bytes=2000 * MB)
    assert interval(big, 0.1, 10 * MB, 2.0, (1.0, 10 * MB), kernel_limit=True) == 0.5
    limits = Limits(mem_bytes=1000 * MB)
    # 700 MB used: 300 MB left, 0.15 s at the assumed rate.
    assert interval(limits, 0.1, 700 * MB, 2.0, (1.0, 700 * MB), kernel_limit=True) == 0.15
    # Never below the base, and growth seen or nearness to the limit shorten it as before.
    assert interval(limits, 0.1, 950 * MB, 2.0, (1.0, 950 * MB), kernel_limit=True) == 0.02
    assert interval(limits, 0.1, 500 * MB, 2.0, (1.9, 0), kernel_limit=True) == pytest.approx(0.05)
    # Without a kernel limit the base interval is the longest.
    assert interval(limits, 0.1, 10 * MB, 2.0, (1.0, 10 * MB)) == 0.1


def test_a_kernel_limit_pace_still_meets_the_timeout():
    limits = Limits(mem_bytes=1000 * MB, timeout_s=60.0)
    now = T0 + 59.8  # 0.2 s before the deadline: the next sample comes at it
    pace = interval(limits, 0.1, 10 * MB, now, (now - 0.5, 10 * MB), kernel_limit=True)
    assert pace == pytest.approx(0.2)
