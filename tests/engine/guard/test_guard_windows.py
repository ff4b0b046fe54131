"""The guard against DSO time windows in a simulated household."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from custom_components.stroomwijs.engine.guard import InterventionKind

from .support import build_rig, evening_window

AMS = ZoneInfo("Europe/Amsterdam")


async def test_window_start_brings_import_under_limit_within_two_telegrams() -> None:
    """At 16:00 an 8 kW window starts; two telegrams later import is under it."""
    window = evening_window(time(16, 0), time(21, 0), 8_000)
    start = datetime(2026, 11, 23, 15, 59, 0, tzinfo=AMS)
    rig = build_rig(start=start, windows=(window,))
    await rig.run(40)  # 15:59:00 -> 15:59:40, no limit yet: everything runs
    before = rig.house.history[-1]
    assert before.net_power_w > 15_000
    await rig.run(120)  # across 16:00
    window_start = datetime(2026, 11, 23, 16, 0, tzinfo=AMS).astimezone(UTC)
    after = [r for r in rig.house.history if r.timestamp >= window_start]
    limit = 8_000
    # Every reading from the second telegram after the start holds the limit.
    assert all(r.net_power_w <= limit for r in after[1:]), [
        round(r.net_power_w) for r in after[:5]
    ]
    curtailed = [i for i in rig.log if i.kind is InterventionKind.CURTAIL]
    # The EV goes first, to its minimum; the boiler next.
    assert curtailed[0].device_id == "ev"
    assert rig.ev.setpoint_w is not None
    assert rig.ev.setpoint_w < 11_040
    assert rig.guard.status().limit_source == "window:evening"


async def test_window_start_without_lookahead_holds_within_reaction_bound() -> None:
    """With no look-ahead, the breach ends within the devices' reaction bound."""
    window = evening_window(time(16, 0), time(21, 0), 8_000)
    start = datetime(2026, 11, 23, 15, 59, 50, tzinfo=AMS)
    rig = build_rig(start=start, windows=(window,), lookahead=timedelta(0))
    await rig.run(60)
    window_start = datetime(2026, 11, 23, 16, 0, tzinfo=AMS).astimezone(UTC)
    bound = rig.guard.reaction_bound(timedelta(seconds=1))
    late = [
        r
        for r in rig.house.history
        if r.timestamp >= window_start + bound and r.net_power_w > 8_000
    ]
    assert not late


async def test_window_end_releases_devices_one_by_one_with_random_stagger() -> None:
    """After the window, devices come back one at a time, seconds apart."""
    window = evening_window(time(16, 0), time(16, 5), 3_000)
    start = datetime(2026, 11, 23, 15, 59, 30, tzinfo=AMS)
    rig = build_rig(start=start, windows=(window,))
    await rig.run(60 * 7)
    end = datetime(2026, 11, 23, 16, 5, tzinfo=AMS).astimezone(UTC)
    releases = [i for i in rig.log if i.kind is InterventionKind.RELEASE]
    assert len({i.device_id for i in releases}) == 3
    assert all(i.timestamp > end for i in releases)
    gaps = [(b.timestamp - a.timestamp).total_seconds() for a, b in pairwise(releases)]
    cfg = rig.guard.config
    assert all(gap >= cfg.stagger_min.total_seconds() for gap in gaps)
    assert len(set(gaps)) > 1  # random, not a fixed rhythm
    # No rebound: import never jumps by more than one device's worth at once.
    after = [r.net_power_w for r in rig.house.history if r.timestamp >= end]
    steps = [b - a for a, b in pairwise(after)]
    assert max(steps) < 11_100
    assert rig.guard.status().curtailed == ()
    assert rig.ev.setpoint_w == 11_040


async def test_guard_releases_in_reverse_order_of_curtailment() -> None:
    """The EV, curtailed first, is the last to get its power back.

    The window outlasts the heat pump's minimum off time, so nothing but the
    release order decides.
    """
    window = evening_window(time(16, 0), time(16, 6), 4_000)
    start = datetime(2026, 11, 23, 15, 59, 30, tzinfo=AMS)
    rig = build_rig(start=start, windows=(window,))
    await rig.run(60 * 9)
    releases = [i.device_id for i in rig.log if i.kind is InterventionKind.RELEASE]
    assert releases[-1] == "ev"
    assert releases.index("heat_pump") < releases.index("ev")
