"""The user's boost and block of a heat pump or boiler, in the engine's Household.

The household is the simulated one of ``test_household_devices`` (SG-Ready
heat pump on relays, boiler on a metered plug, washer; 1.2 kW of base load):
an override wins over the plan, ends by itself, survives a restart, still
yields to the DSO limit (and says so), and the SG-Ready rules refuse a
manual block they forbid.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from custom_components.stroomwijs.engine.drivers.sg_ready import (
    SgReadyHeatPump,
    SgReadyMode,
)
from custom_components.stroomwijs.engine.household import (
    HouseholdEvent,
    MemoryStateStore,
    OverrideRefusedError,
)

from .test_household_devices import START, _home, _run


async def test_a_boost_wins_over_the_plan_and_ends_by_itself() -> None:
    """Boiler boosted for 30 min: on, out of the plan, then back to the plan."""
    house, household, _unit, tank, _machine = await _home()
    tank.temperature_c = 50.0
    await household.async_plan_now()
    await household.async_set_device_override("boiler", "boost", timedelta(minutes=30))
    override = household.devices.overrides["boiler"]
    assert override.mode == "boost"
    assert override.setpoint_w == 2000.0
    assert override.until == START + timedelta(minutes=30)
    assert "boiler" in household.guard.status().overrides
    status = await household.async_plan_now()
    assert any("Boiler: not planned (manual boost" in r for r in status.reasons)
    await _run(house, household, 60)
    assert household.devices.drivers["boiler"].is_on  # type: ignore[union-attr]
    await _run(house, household, 30 * 60)
    assert "boiler" not in household.devices.overrides
    assert "boiler" not in household.guard.status().overrides
    # Ending one that is not there does nothing; an appliance cannot be boosted.
    await household.async_set_device_override("boiler", None)
    with pytest.raises(OverrideRefusedError) as err:
        await household.async_set_device_override(
            "washer", "boost", timedelta(minutes=30)
        )
    assert err.value.reason == "not_heating"
    with pytest.raises(KeyError):
        await household.async_set_device_override("x", "boost", timedelta(hours=1))
    with pytest.raises(OverrideRefusedError) as err:
        await household.async_set_device_override("boiler", "boost", timedelta(0))
    assert err.value.reason == "duration"
    with pytest.raises(OverrideRefusedError) as err:
        await household.async_set_device_override("boiler", "melt", timedelta(hours=1))
    assert err.value.reason == "mode"
    with pytest.raises(ValueError, match="duration"):
        await household.async_set_device_override("boiler", "boost")
    await household.async_stop()


async def test_a_manual_block_obeys_the_sg_ready_rules() -> None:
    """Blocks a day, blocked time a day and the time between changes still hold."""
    _house, household, _unit, _tank, _machine = await _home()
    pump = household.devices.drivers["heat_pump"]
    assert isinstance(pump, SgReadyHeatPump)
    ledger = pump.ledger
    # Blocked 110 of the 120 minutes today: a 60 minute block is refused.
    ledger.record_change(START - timedelta(hours=3), blocked=True)
    ledger.record_change(START - timedelta(minutes=70), blocked=False)
    with pytest.raises(OverrideRefusedError) as err:
        await household.async_set_device_override(
            "heat_pump", "block", timedelta(hours=1)
        )
    assert err.value.reason == "block_time"
    assert err.value.details["minutes"] == "10"
    # Three blocks today: refused whatever the time.
    ledger.record_change(START - timedelta(minutes=60), blocked=True)
    ledger.record_change(START - timedelta(minutes=59), blocked=False)
    ledger.record_change(START - timedelta(minutes=50), blocked=True)
    ledger.record_change(START - timedelta(minutes=49), blocked=False)
    with pytest.raises(OverrideRefusedError) as err:
        await household.async_set_device_override(
            "heat_pump", "block", timedelta(minutes=5)
        )
    assert err.value.reason == "max_blocks"
    assert "heat_pump" not in household.devices.overrides
    await household.async_stop()


async def test_a_manual_block_and_a_change_too_soon() -> None:
    """A change right after the last is refused; then a block blocks.

    This pump has no boost level: a boost is refused as such.
    """
    house, household, _unit, _tank, _machine = await _home()
    pump = household.devices.drivers["heat_pump"]
    assert isinstance(pump, SgReadyHeatPump)
    with pytest.raises(OverrideRefusedError) as err:
        await household.async_set_device_override(
            "heat_pump", "boost", timedelta(minutes=30)
        )
    assert err.value.reason == "no_boost"
    pump.ledger.record_change(START - timedelta(minutes=2), blocked=False)
    with pytest.raises(OverrideRefusedError) as err:
        await household.async_set_device_override(
            "heat_pump", "block", timedelta(minutes=45)
        )
    assert err.value.reason == "too_soon"
    assert err.value.details["minutes"] == "10"
    await _run(house, household, 9 * 60)
    await household.async_set_device_override(
        "heat_pump", "block", timedelta(minutes=45)
    )
    await _run(house, household, 20)
    assert pump.mode is SgReadyMode.BLOCKED
    assert household.devices.overrides["heat_pump"].mode == "block"
    await household.async_stop()


async def test_an_override_survives_a_restart() -> None:
    """The boost and its end come back; one that ended while away is lifted."""
    store = MemoryStateStore()
    _house, household, _unit, _tank, _machine = await _home(store)
    await household.async_set_device_override("boiler", "boost", timedelta(hours=2))
    await household.async_stop()
    _house, again, _unit, _tank, _machine = await _home(store)
    override = again.devices.overrides["boiler"]
    assert override.mode == "boost"
    assert override.until == START + timedelta(hours=2)
    assert "boiler" in again.guard.status().overrides
    await again.async_stop()
    # Saved with an end that has passed by the next start: not restored.
    state = await store.async_load()
    assert state is not None
    state["devices"]["_overrides"]["boiler"]["until"] = (
        START - timedelta(minutes=1)
    ).isoformat()
    state["devices"]["_overrides"]["nobody"] = {"mode": "boost"}
    await store.async_save(state)
    _house, third, _unit, _tank, _machine = await _home(store)
    assert third.devices.overrides == {}
    assert "boiler" not in third.guard.status().overrides
    await third.async_stop()


async def test_the_dso_limit_still_holds_a_boost_and_the_user_is_told() -> None:
    """A boost over a 2.5 kW limit is held back; an intervention says so."""
    house, household, _unit, tank, _machine = await _home()
    tank.temperature_c = 45.0
    events: list[HouseholdEvent] = []
    household.subscribe(events.append)
    household.set_manual_limit(
        import_w=2500.0, duration=timedelta(hours=1), label="test"
    )
    await household.async_set_device_override("boiler", "boost", timedelta(hours=1))
    readings = await _run(house, household, 5 * 60)
    late = [r for r in readings if r.timestamp >= START + timedelta(minutes=1)]
    assert max(r.import_w for r in late) <= 2500.0 + 1.0
    held = [
        e
        for e in events
        if e.data.get("device_id") == "boiler"
        and e.kind in {"override_limited", "emergency"}
    ]
    assert held, [e.kind for e in events]
    notice = household.guard.status().override_notice
    assert notice is not None
    assert "boiler" in notice
    # The override stays: it is the limit, not the user, that holds it back.
    assert household.devices.overrides["boiler"].mode == "boost"
    await household.async_stop()
