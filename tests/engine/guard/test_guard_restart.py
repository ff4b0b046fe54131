"""Restarts (issue 10, defects 18 and 19): state survives, no device stays stuck.

The Home Assistant host persists what ``export_state`` returns (as JSON) and
hands it back to ``restore_state`` after a restart, then calls
``Guard.async_reassert``. These tests play that restart on the simulated
household: the devices keep whatever setpoint they had, the engine objects
are new.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
import math
import random
from typing import Any

import pytest

from custom_components.stroomwijs.engine.guard import Guard, InterventionKind
from custom_components.stroomwijs.engine.limits import LimitStack, ManualLimitSource

from .support import Rig, build_rig

START = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def through_json(state: dict[str, Any]) -> Any:  # noqa: ANN401 - whatever JSON gives
    """Return the state as the host's store gives it back."""
    return json.loads(json.dumps(state, allow_nan=False))


def restart(rig: Rig, limits: LimitStack) -> Guard:
    """Build a new guard over the same devices, as after a restart."""
    guard = Guard(
        rig.guard.config,
        rig.guard.devices,
        limits=limits,
        rng=random.Random(3),  # noqa: S311 - reproducible stagger
    )
    guard.subscribe(rig.log.append)
    rig.guard = guard
    return guard


async def test_a_restart_mid_limit_keeps_the_limit_and_leaves_no_device_stuck() -> None:
    """3 kW manual limit for 30 minutes, a restart at minute 10 (the demo case)."""
    rig = build_rig(start=START)
    manual = ManualLimitSource()
    rig.limits.add(manual)
    manual.set_limit(now=START, import_w=3_000, duration=timedelta(minutes=30))
    await rig.run(600)
    assert rig.ev.setpoint_w == 0.0
    saved_manual = through_json(manual.export_state())
    saved_guard = through_json(rig.guard.export_state())
    count_before = rig.guard.status().interventions_today
    assert count_before > 0

    # Restart: new engine objects, the devices stay where they were.
    rig.house.now += timedelta(seconds=30)
    now = rig.house.now
    manual = ManualLimitSource()
    assert manual.restore_state(saved_manual, now)
    guard = restart(rig, LimitStack([manual]))
    assert guard.restore_state(saved_guard, now)
    assert guard.status().interventions_today == count_before
    logged = len(rig.log)
    await guard.async_reassert(now)
    # Every device was told again (clamped: no reading since the restart yet).
    told = {i.device_id for i in rig.log[logged:]}
    assert {"ev"} <= told
    assert {i.kind for i in rig.log[logged:]} <= {
        InterventionKind.REASSERT,
        InterventionKind.PLAN_CLAMPED,
    }

    await rig.run(60)
    status = guard.status()
    assert status.limit_source == "manual:user"
    assert status.import_limit_w == 3_000
    assert all(r.net_power_w <= 3_000 for r in rig.house.history[-40:])

    # The manual limit ends at minute 30: everything comes back, the car too.
    await rig.run(int((START + timedelta(minutes=33) - rig.house.now).total_seconds()))
    assert guard.status().limit_source == "fuse"
    assert rig.ev.setpoint_w == pytest.approx(11_040)
    assert rig.boiler.is_on
    assert rig.heat_pump.is_on


async def test_reassert_clamps_to_the_headroom_and_releases_later() -> None:
    """Right after a restart there is no reading yet: nothing is raised blind."""
    rig = build_rig(start=START)
    await rig.guard.async_set_override("ev", 0.0, rig.house.now)
    await rig.run(5)
    guard = restart(rig, LimitStack())
    await guard.async_reassert(rig.house.now)
    assert rig.ev.setpoint_w == 0.0  # no reading yet: no headroom is known
    await rig.run(120)
    assert rig.ev.setpoint_w == pytest.approx(11_040)


async def test_resume_after_an_override_sets_the_car_charging_again() -> None:
    """Ending an override without a plan returns the car to charging."""
    rig = build_rig(start=START)
    await rig.run(5)
    await rig.guard.async_set_override("ev", 0.0, rig.house.now)
    await rig.run(10)
    assert rig.ev.setpoint_w == 0.0
    await rig.guard.async_set_override("ev", None, rig.house.now)
    await rig.run(10)
    assert rig.ev.setpoint_w == pytest.approx(11_040)


async def test_an_override_survives_a_restart() -> None:
    """A user's 5 kW override is restored and sent again."""
    rig = build_rig(start=START)
    await rig.run(5)
    await rig.guard.async_set_override("ev", 5_000.0, rig.house.now)
    await rig.run(5)
    saved = through_json(rig.guard.export_state())
    assert saved["overrides"] == {"ev": 5_000.0}
    rig.ev.commands.clear()
    guard = restart(rig, LimitStack())
    assert guard.restore_state(saved, rig.house.now)
    assert guard.status().overrides == ("ev",)
    await guard.async_reassert(rig.house.now)
    assert rig.ev.commands[-1][1] == 5_000.0


async def test_the_interventions_count_of_another_day_starts_at_zero() -> None:
    """Restored after local midnight: the count is of yesterday."""
    rig = build_rig(start=START)
    await rig.guard.async_set_override("ev", 5_000.0, rig.house.now)
    saved = through_json(rig.guard.export_state())
    guard = restart(rig, LimitStack())
    guard.restore_state(saved, START + timedelta(days=1))
    assert guard.status().interventions_today == 0


@pytest.mark.parametrize(
    "stored",
    [
        None,
        [],
        "garbage",
        {"version": 99},
        {"version": 1, "overrides": "ev"},
        {"version": 1, "overrides": {"ev": math.nan}},
        {"version": 1, "overrides": {"ev": math.inf}},
        {"version": 1, "overrides": {"ev": "5000"}},
        {"version": 1, "overrides": {"ev": True}},
        {"version": 1, "overrides": {"ev": 1e12}},
        {"version": 1, "overrides": {"ghost": 1_000}},
        {"version": 1, "overrides": {"ev": None}},
        {"version": 1, "interventions_today": -3, "day": "2026-11-23"},
        {"version": 1, "interventions_today": 5, "day": "not a day"},
        {"version": 1, "interventions_today": 1e300, "day": "2026-11-23"},
    ],
)
def test_hostile_stored_guard_state_is_ignored_never_raised(stored: object) -> None:
    """Whatever the store gives back, restoring logs and goes on."""
    rig = build_rig(start=START)
    assert not rig.guard.restore_state(stored, START)
    status = rig.guard.status()
    assert status.overrides == ()
    assert status.interventions_today == 0
