"""Property: over random load traces the guard never leaves a breach standing.

A breach is a reading above the effective import limit. Base load jumps are
outside the guard's control, so a breach may appear; the property is that it
never lasts longer than the guard's reaction bound (the slowest device's
reaction delay plus two telegrams) after the last jump, as long as the
uncontrollable load alone fits under the limit.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta

from hypothesis import given, strategies as st

from custom_components.stroomwijs.engine.simulate.household import BaseLoadProfile

from .support import build_rig, evening_window

START = datetime(2026, 11, 23, 15, 58, tzinfo=UTC)
TELEGRAM = timedelta(seconds=1)

segments = st.lists(
    st.tuples(st.integers(5, 90), st.floats(0, 5_500)), min_size=2, max_size=8
)


async def _longest_breach(
    trace: list[tuple[int, float]], limit_w: float, ev_delay_s: int
) -> tuple[float, float]:
    starts: list[datetime] = []
    watts: list[float] = []
    at = START
    for seconds, value in trace:
        starts.append(at)
        watts.append(value)
        at += timedelta(seconds=seconds)
    base = BaseLoadProfile(starts, watts, noise_w=0.0)
    window = evening_window(time(15, 0), time(23, 0), limit_w)
    rig = build_rig(
        start=START,
        base=base,
        windows=(window,),
        ev_delay=timedelta(seconds=ev_delay_s),
    )
    total = sum(seconds for seconds, _ in trace) + 30
    await rig.run(total)
    steps = set(starts)
    longest = 0.0
    breach_since: datetime | None = None
    for reading in rig.house.history:
        if reading.net_power_w > limit_w + 1e-6:
            # A base-load jump is a new disturbance: the clock starts again.
            if breach_since is None or reading.timestamp in steps:
                breach_since = reading.timestamp
            longest = max(
                longest, (reading.timestamp - breach_since).total_seconds() + 1
            )
        else:
            breach_since = None
    bound = rig.guard.reaction_bound(TELEGRAM).total_seconds()
    return longest, bound


@given(
    trace=segments,
    limit_w=st.floats(6_000, 16_000),
    ev_delay_s=st.integers(1, 5),
)
def test_guard_never_leaves_the_limit_breached_longer_than_its_reaction_bound(
    trace: list[tuple[int, float]], limit_w: float, ev_delay_s: int
) -> None:
    """Random base-load steps under a random limit: every breach ends in time."""
    longest, bound = asyncio.run(_longest_breach(trace, limit_w, ev_delay_s))
    assert longest <= bound, (longest, bound)


async def _interventions_after_settling(base_w: float, limit_w: float) -> int:
    window = evening_window(time(15, 0), time(23, 0), limit_w)
    rig = build_rig(
        start=START, base=BaseLoadProfile.constant(base_w), windows=(window,)
    )
    await rig.run(180)
    settled = len(rig.log)
    await rig.run(600)
    return len(rig.log) - settled


@given(base_w=st.floats(0, 5_500), limit_w=st.floats(6_000, 16_000))
def test_guard_settles_and_does_not_oscillate_under_a_steady_load(
    base_w: float, limit_w: float
) -> None:
    """Steady load, steady limit: after settling the guard leaves things be."""
    assert asyncio.run(_interventions_after_settling(base_w, limit_w)) == 0
