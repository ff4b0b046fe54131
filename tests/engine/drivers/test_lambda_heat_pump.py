"""The Lambda heat-pump driver against the simulated pump on a real Modbus socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
import json
import logging
import time

import pytest

from custom_components.stroomwijs.engine.capabilities import (
    ComfortBand,
    DeviceUnavailableError,
    PowerMeter,
    PowerSettable,
    Thermal,
)
from custom_components.stroomwijs.engine.drivers.heat_pump_common import (
    HeatLevel,
    HeatPumpSpec,
)
from custom_components.stroomwijs.engine.drivers.lambda_heat_pump import (
    LambdaConfig,
    LambdaHeatPump,
)
from custom_components.stroomwijs.engine.planner import Problem, solve
from custom_components.stroomwijs.engine.simulate.lambda_heat_pump import (
    HC_MODE_AUTOMATIC,
    HC_MODE_OFF,
    REG_HC_MODE,
    LambdaSimulator,
)
from custom_components.stroomwijs.engine.simulate.thermal import ThermalHouse

from .device_support import SimClock


@pytest.fixture
def clock() -> SimClock:
    """Return the simulation clock."""
    return SimClock(datetime(2026, 1, 14, 7, 0, tzinfo=UTC))


@pytest.fixture
async def sim(clock: SimClock) -> AsyncIterator[LambdaSimulator]:
    """Run a simulated Lambda on 127.0.0.1, free port."""
    pump = LambdaSimulator(
        clock=clock, house=ThermalHouse(indoor_c=20.0, outdoor_c=-1.5)
    )
    await pump.async_start("127.0.0.1", 0)
    yield pump
    await pump.async_stop()


def _config(port: int, **extra: object) -> LambdaConfig:
    settings: dict[str, object] = {
        "device_id": "lambda",
        "host": "127.0.0.1",
        "port": port,
        "spec": HeatPumpSpec(rated_power_w=2200, boost_power_w=2200),
        "comfort": ComfortBand(min_c=19.0, max_c=22.0),
        "reconnect_s": 0.0,
        "timeout_s": 1.0,
    }
    settings.update(extra)
    return LambdaConfig(**settings)  # type: ignore[arg-type]


@pytest.fixture
async def driver(
    sim: LambdaSimulator, clock: SimClock
) -> AsyncIterator[LambdaHeatPump]:
    """Connect the driver and read once."""
    pump = LambdaHeatPump(_config(sim.port), clock=clock)
    await pump.async_update()
    yield pump
    pump.close()


async def test_reads_power_temperatures_energy_and_state(
    driver: LambdaHeatPump, sim: LambdaSimulator, clock: SimClock
) -> None:
    """Values come back scaled as Lambda documents them."""
    assert isinstance(driver, PowerSettable)
    assert isinstance(driver, PowerMeter)
    assert isinstance(driver, Thermal)
    clock.advance(timedelta(minutes=30))
    reading = await driver.async_update()
    assert reading.outdoor_c == -1.5
    assert sim.unit.running
    assert reading.power_w == 2200.0
    assert reading.flow_c == 35.0
    assert reading.return_c == 30.0
    assert reading.cop == pytest.approx(3.5 + 0.08 * (-1.5 - 7.0), abs=0.01)
    assert reading.heating_kw == pytest.approx(6.2, abs=0.1)
    assert reading.tank_c == 48.0
    assert reading.room_c == pytest.approx(sim.house.indoor_c, abs=0.05)
    assert driver.energy_kwh == pytest.approx(sim.unit.energy_kwh, abs=0.001)
    assert driver.energy_kwh == pytest.approx(2.2 * 0.5, abs=0.05)
    assert driver.available


async def test_block_switches_the_circuit_off_and_restores_the_users_mode(
    driver: LambdaHeatPump, sim: LambdaSimulator, clock: SimClock
) -> None:
    """0 W writes mode 0 and stops the compressor; normal writes the old mode back."""
    clock.advance(timedelta(minutes=15))
    await driver.async_update()
    assert sim.unit.running
    await driver.async_set_power(0.0)
    assert sim.hc_mode == HC_MODE_OFF
    clock.advance(timedelta(seconds=30))
    reading = await driver.async_update()
    assert not sim.unit.running
    assert reading.power_w == 0.0
    clock.advance(timedelta(minutes=20))
    await driver.async_set_power(2200.0)
    assert sim.hc_mode == HC_MODE_AUTOMATIC
    assert (REG_HC_MODE, HC_MODE_OFF) in sim.writes


async def test_boost_raises_the_room_setpoint_within_the_band_and_back(
    driver: LambdaHeatPump, sim: LambdaSimulator, clock: SimClock
) -> None:
    """Boost: 20.5 -> 21.5 degC in register 5051; normal: back to 20.5."""
    spec = HeatPumpSpec(rated_power_w=2000, boost_power_w=2200)
    driver.config = _config(sim.port, boost_k=1.0, spec=spec)
    await driver.async_set_power(2200.0)
    assert driver.level is HeatLevel.BOOST
    assert sim.unit.target_c == 21.5
    clock.advance(timedelta(minutes=10))
    await driver.async_set_power(2000.0)
    assert sim.unit.target_c == 20.5


async def test_blocking_rules_apply_to_the_modbus_block(
    driver: LambdaHeatPump, clock: SimClock
) -> None:
    """Three blocks, then power_range stays at the rated power."""
    for _ in range(3):
        await driver.async_set_power(0.0)
        clock.advance(timedelta(minutes=10))
        await driver.async_update()
        await driver.async_set_power(2200.0)
        clock.advance(timedelta(minutes=10))
    assert driver.power_range.min_w == 2200.0
    with pytest.raises(DeviceUnavailableError, match="3 blocks"):
        await driver.async_set_power(0.0)


async def test_a_manual_setpoint_is_adopted(
    driver: LambdaHeatPump, sim: LambdaSimulator, clock: SimClock
) -> None:
    """The user changes 5051 on the pump's display: it becomes the user's setpoint."""
    sim.unit.target_c = 21.0
    clock.advance(timedelta(minutes=1))
    await driver.async_update()
    assert driver.user_setpoint_c == 21.0
    assert "manual room setpoint 21" in driver.events[-1]


async def test_state_survives_a_restart_mid_block(
    driver: LambdaHeatPump, sim: LambdaSimulator, clock: SimClock
) -> None:
    """A new driver from stored JSON knows the block, the mode to restore, the count."""
    await driver.async_set_power(0.0)
    clock.advance(timedelta(minutes=10))
    saved = json.dumps(driver.export_state())
    driver.close()
    fresh = LambdaHeatPump(_config(sim.port), clock=clock)
    fresh.restore_state(json.loads(saved))
    await fresh.async_update()
    assert fresh.level is HeatLevel.BLOCK
    assert fresh.blocking_budget().blocks_left_today == 2
    await fresh.async_set_power(2200.0)
    assert sim.hc_mode == HC_MODE_AUTOMATIC
    fresh.close()


async def test_server_gone_then_back_reconnects_and_logs_once_each_way(
    sim: LambdaSimulator, clock: SimClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Stop the server: unavailable (logged once); start it again: reconnected."""
    caplog.set_level(logging.INFO)
    pump = LambdaHeatPump(_config(sim.port), clock=clock)
    await pump.async_update()
    port = sim.port
    await sim.async_stop()
    for _ in range(3):
        with pytest.raises(DeviceUnavailableError):
            await pump.async_update()
    assert not pump.available
    await sim.async_start("127.0.0.1", port)
    await pump.async_update()
    assert pump.available
    messages = [r.getMessage() for r in caplog.records]
    assert sum("unavailable" in m for m in messages) == 1
    assert sum("is back" in m for m in messages) == 1
    pump.close()


async def test_a_peer_that_does_not_answer_fails_within_the_timeout(
    sim: LambdaSimulator, clock: SimClock
) -> None:
    """A hung gateway costs a bounded wait, never a stalled driver."""
    pump = LambdaHeatPump(_config(sim.port, timeout_s=0.2), clock=clock)
    await pump.async_update()
    sim.delay_s = 1.5
    started = time.monotonic()
    with pytest.raises(DeviceUnavailableError):
        await pump.async_update()
    assert time.monotonic() - started < 1.2
    sim.delay_s = 0.0
    pump.close()
    await asyncio.sleep(1.5)  # let the simulated late answer finish


async def test_planner_input_uses_the_measured_outdoor_temperature(
    driver: LambdaHeatPump,
) -> None:
    """Without a forecast the measured outdoor temperature is held flat."""
    data = driver.planner_input(slots=4)
    assert data["outdoor_c"] == [-1.5] * 4
    assert data["kind"] == "heat_pump"
    assert data["house"]["indoor_c"] == 20.0


def test_config_rejects_indexes_outside_the_map() -> None:
    """A heating circuit 12 does not exist in Lambda's map."""
    with pytest.raises(ValueError, match="heating_circuit_index"):
        LambdaConfig(
            device_id="x",
            host="127.0.0.1",
            spec=HeatPumpSpec(rated_power_w=2000),
            heating_circuit_index=12,
        )


async def test_an_absurd_outdoor_register_is_not_a_temperature(
    driver: LambdaHeatPump, sim: LambdaSimulator
) -> None:
    """-3276.8 degC (a sensor fault) is no value: the planner needs a forecast."""
    sim.house.outdoor_c = -4000.0
    reading = await driver.async_update()
    assert reading.outdoor_c is None
    with pytest.raises(DeviceUnavailableError, match="no outdoor temperature"):
        driver.planner_input(slots=4)
    assert driver.planner_input([1.0] * 4)["outdoor_c"] == [1.0] * 4


def _planned_now_kw(data: dict[str, object], start: datetime) -> float:
    """Plan the heat pump alone (flat price) and return its first slot's power."""
    problem = {
        "start": start.isoformat(),
        "prices": {"spot_eur_per_kwh": [0.2] * 8, "export": {"basis": "spot"}},
        "base_load_kw": 0.0,
        "pv_kw": 0.0,
        "grid": {"fuse": "3x25"},
        "devices": [{**data, "id": "lambda"}],
        "solver": {"time_limit_s": 20.0},
    }
    return solve(Problem.from_dict(problem)).devices["lambda"].setpoint_kw[0]


async def test_planner_state_follows_the_level_not_the_last_power_reading(
    driver: LambdaHeatPump, sim: LambdaSimulator, clock: SimClock
) -> None:
    """Right after a block the planner sees the pump off, not just switched on.

    The last poll still shows the compressor running; with the time since the
    block that read "on for seconds, minimum run 10 min", so the plan asked to
    unblock at once, the driver refused ("change too soon") and stayed blocked
    while its planned power said 2,200 W (seen in the demo). After an unblock
    the compressor may not have restarted yet: that is "on", not "off".
    """
    clock.advance(timedelta(minutes=15))
    await driver.async_update()
    assert sim.unit.running
    await driver.async_set_power(0.0)
    clock.advance(timedelta(seconds=5))
    data = driver.planner_input(slots=8)
    assert data["is_on"] is False
    assert data["in_state_for_minutes"] < 1.0
    assert _planned_now_kw(data, clock()) == 0.0
    assert driver.power_range.min_w == driver.power_range.max_w == 0.0

    clock.advance(timedelta(minutes=20))
    await driver.async_update()
    await driver.async_set_power(2200.0)
    clock.advance(timedelta(seconds=5))
    await driver.async_update()
    data = driver.planner_input(slots=8)
    assert data["is_on"] is True
    assert _planned_now_kw(data, clock()) > 0.0


async def test_planner_input_carries_the_blocking_budget(
    driver: LambdaHeatPump, clock: SimClock
) -> None:
    """One 10-minute block used: two blocks and 110 min left until midnight."""
    await driver.async_set_power(0.0)
    clock.advance(timedelta(minutes=10))
    await driver.async_update()
    await driver.async_set_power(2200.0)
    clock.advance(timedelta(minutes=10))
    blocking = driver.planner_input(slots=4)["blocking"]
    assert blocking["blocks_left_today"] == 2
    assert blocking["blocked_minutes_left_today"] == pytest.approx(110.0)
    assert blocking["max_blocks_per_day"] == 3
    assert datetime.fromisoformat(blocking["day_ends"]) == datetime(
        2026, 1, 14, 23, 0, tzinfo=UTC
    )


def test_the_lambda_stays_a_modulating_pump_for_the_planner(
    driver: LambdaHeatPump,
) -> None:
    """Over Modbus the plan sets the power: no ``control: block``."""
    assert "control" not in driver.planner_input(slots=4)
