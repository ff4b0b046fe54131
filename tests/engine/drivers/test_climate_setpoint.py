"""The climate/water_heater setpoint adapter against a simulated thermostat."""

from __future__ import annotations

from datetime import datetime, timedelta
import json

import pytest

from custom_components.stroomwijs.engine.capabilities import (
    ComfortBand,
    DeviceUnavailableError,
)
from custom_components.stroomwijs.engine.drivers.climate_setpoint import (
    ClimateSetpointConfig,
    ClimateSetpointHeatPump,
)
from custom_components.stroomwijs.engine.drivers.entities import EntityCallError
from custom_components.stroomwijs.engine.drivers.heat_pump_common import (
    HeatLevel,
    HeatPumpSpec,
)
from custom_components.stroomwijs.engine.planner import Problem, solve
from custom_components.stroomwijs.engine.simulate.entities import InMemoryEntityPort
from custom_components.stroomwijs.engine.simulate.thermal import (
    ClimateEntitySim,
    HeatPumpUnit,
    ThermalHouse,
)

from .device_support import SimClock


def _rig(
    clock: SimClock, *, user_c: float = 20.5, indoor_c: float = 20.5
) -> tuple[ClimateSetpointHeatPump, ClimateEntitySim]:
    port = InMemoryEntityPort()
    unit = HeatPumpUnit(
        ThermalHouse(indoor_c=indoor_c, outdoor_c=0.0), clock=clock, target_c=user_c
    )
    climate = ClimateEntitySim(port, unit)
    config = ClimateSetpointConfig(
        device_id="hp",
        name="Heat pump",
        entity_id=climate.entity_id,
        power_entity="sensor.heat_pump_power",
        spec=HeatPumpSpec(rated_power_w=2000, boost_power_w=2400),
        comfort=ComfortBand(min_c=19.5, max_c=22.0),
    )
    return ClimateSetpointHeatPump(config, port, clock=clock), climate


async def test_boost_block_and_restore_stay_inside_the_comfort_band() -> None:
    """Boost raises to user+1 (<= max), block drops to the floor, restore returns."""
    clock = SimClock()
    driver, climate = _rig(clock)
    await driver.async_start()
    assert driver.user_setpoint_c == 20.5
    await driver.async_set_power(2400.0)
    assert climate.unit.target_c == 21.5
    assert driver.level is HeatLevel.BOOST
    clock.advance(timedelta(minutes=10))
    await driver.async_set_power(0.0)
    assert climate.unit.target_c == 19.5
    clock.advance(timedelta(minutes=10))
    await driver.async_restore()
    assert climate.unit.target_c == 20.5
    assert driver.level is HeatLevel.NORMAL


async def test_boost_never_crosses_the_top_of_the_band() -> None:
    """A user at 21.5 with boost 1 K gets 22.0, the band's top, not 22.5."""
    clock = SimClock()
    driver, climate = _rig(clock, user_c=21.5)
    await driver.async_start()
    await driver.async_set_power(2400.0)
    assert climate.unit.target_c == 22.0


async def test_preheat_really_heats_the_house_more() -> None:
    """Over two hours the boosted thermostat leaves the house warmer."""
    clock = SimClock()
    driver, climate = _rig(clock, indoor_c=20.5)
    await driver.async_start()
    await driver.async_set_power(2400.0)
    for _ in range(120):
        clock.advance(timedelta(minutes=1))
        climate.publish()
    temp = driver.temperature_c
    assert temp is not None
    assert 21.0 < temp <= 22.0 + 0.5


async def test_a_manual_change_wins_and_pins_the_adapter() -> None:
    """The user turns the dial: new user setpoint, hands off, the guard moves on."""
    clock = SimClock()
    driver, climate = _rig(clock)
    await driver.async_start()
    unsubscribe = driver.attach()
    await driver.async_set_power(2400.0)
    clock.advance(timedelta(minutes=3))
    climate.user_sets(21.0)
    assert driver.user_setpoint_c == 21.0
    assert driver.level is HeatLevel.NORMAL
    assert "manual setpoint 21" in driver.events[-1]
    rng = driver.power_range
    assert rng.min_w == rng.max_w == 2000.0
    clock.advance(timedelta(minutes=30))
    await driver.async_set_power(0.0)
    assert climate.unit.target_c == 21.0  # untouched
    clock.advance(timedelta(hours=2))
    await driver.async_set_power(0.0)
    assert climate.unit.target_c == 19.5
    unsubscribe()


async def test_restart_mid_boost_restores_the_users_setpoint() -> None:
    """Stored state keeps the user's setpoint although the dial shows the boost."""
    clock = SimClock()
    driver, climate = _rig(clock)
    await driver.async_start()
    await driver.async_set_power(2400.0)
    saved = json.dumps(driver.export_state())
    fresh = ClimateSetpointHeatPump(driver.config, climate.port, clock=clock)
    fresh.restore_state(json.loads(saved))
    await fresh.async_start()
    assert fresh.user_setpoint_c == 20.5
    await fresh.async_restore()
    assert climate.unit.target_c == 20.5


async def test_failed_call_raises_and_marks_unavailable() -> None:
    """A thermostat that refuses the call raises DeviceUnavailableError."""
    clock = SimClock()
    driver, climate = _rig(clock)
    await driver.async_start()
    climate.port.fail_calls(climate.entity_id)
    with pytest.raises(EntityCallError):
        await driver.async_set_power(0.0)
    assert isinstance(EntityCallError("x"), DeviceUnavailableError)
    assert not driver.available


def test_config_rejects_a_sensor_as_thermostat() -> None:
    """Only climate and water_heater entities can be steered."""
    with pytest.raises(ValueError, match="domains"):
        ClimateSetpointConfig(
            device_id="hp",
            name="hp",
            entity_id="sensor.room",
            spec=HeatPumpSpec(rated_power_w=2000),
        )


def _planned_now_kw(data: dict[str, object], start: datetime) -> float:
    """Plan the heat pump alone (flat price) and return its first slot's power."""
    problem = {
        "start": start.isoformat(),
        "prices": {"spot_eur_per_kwh": [0.2] * 8, "export": {"basis": "spot"}},
        "base_load_kw": 0.0,
        "pv_kw": 0.0,
        "grid": {"fuse": "3x25"},
        "devices": [{**data, "id": "hp"}],
        "solver": {"time_limit_s": 20.0},
    }
    return solve(Problem.from_dict(problem)).devices["hp"].setpoint_kw[0]


async def test_planner_state_follows_the_level_not_the_power_sensor() -> None:
    """Right after a block the planner sees the pump off, whatever the sensor says.

    A power sensor lags (and the compressor runs out its minimum on-time):
    read as "on for seconds, minimum run N minutes" the plan would ask to
    unblock at once, which the adapter refuses (changed too recently), so it
    stayed blocked while its planned power said it runs. After an unblock a
    compressor that has not restarted yet is "on", not "off".
    """
    clock = SimClock()
    driver, climate = _rig(clock, indoor_c=20.0)
    await driver.async_start()
    clock.advance(timedelta(minutes=15))
    climate.publish()
    await driver.async_set_power(0.0)
    assert driver.level is HeatLevel.BLOCK
    clock.advance(timedelta(seconds=5))
    # The sensor still shows the compressor running.
    climate.port.set_state(
        "sensor.heat_pump_power", 2000.0, {"unit_of_measurement": "W"}
    )
    assert driver.power_w == 2000.0
    data = driver.planner_input([0.0] * 8)
    assert data["is_on"] is False
    assert data["in_state_for_minutes"] < 1.0
    assert _planned_now_kw(data, clock()) == 0.0
    assert driver.power_range.min_w == driver.power_range.max_w == 0.0

    clock.advance(timedelta(minutes=20))
    await driver.async_set_power(2000.0)
    assert driver.level is HeatLevel.NORMAL
    clock.advance(timedelta(seconds=5))
    climate.port.set_state("sensor.heat_pump_power", 0.0, {"unit_of_measurement": "W"})
    data = driver.planner_input([0.0] * 8)
    assert data["is_on"] is True
    assert _planned_now_kw(data, clock()) > 0.0
