"""The boiler driver against the simulated tank: plug, water heater and Modbus."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json

import pytest

from custom_components.stroomwijs.engine.capabilities import (
    DeviceUnavailableError,
    PowerSettable,
    Thermal,
)
from custom_components.stroomwijs.engine.drivers.boiler import (
    Boiler,
    BoilerConfig,
    ControlKind,
    LegionellaPolicy,
    ModbusRelay,
)
from custom_components.stroomwijs.engine.planner.core import solve
from custom_components.stroomwijs.engine.planner.problem import Problem
from custom_components.stroomwijs.engine.simulate.boiler import (
    BoilerModbusRelaySim,
    BoilerPlugSim,
    TankSim,
    WaterHeaterSim,
)
from custom_components.stroomwijs.engine.simulate.entities import InMemoryEntityPort

from .device_support import SimClock


def _plug(
    clock: SimClock,
    *,
    temperature_c: float = 50.0,
    sensor: bool = False,
    metered: bool = True,
    draw_scale: float = 1.0,
) -> tuple[Boiler, BoilerPlugSim]:
    port = InMemoryEntityPort()
    tank = TankSim(clock=clock, temperature_c=temperature_c, draw_scale=draw_scale)
    plug = BoilerPlugSim(
        port,
        tank,
        power_sensor="sensor.boiler_power" if metered else None,
        temperature_sensor="sensor.boiler_temperature" if sensor else None,
    )
    config = BoilerConfig(
        device_id="boiler",
        name="Boiler",
        control=ControlKind.SWITCH,
        entity_id=plug.switch,
        power_entity=plug.power_sensor,
        temperature_entity=plug.temperature_sensor,
        volume_l=120,
        power_w=2000,
    )
    return Boiler(config, port, clock=clock), plug


async def _run(boiler: Boiler, sim: object, clock: SimClock, minutes: int) -> None:
    for _ in range(minutes):
        clock.advance(timedelta(minutes=1))
        sim.publish()  # type: ignore[attr-defined]
        await boiler.async_update()


async def test_plug_switches_and_the_thermostat_stop_resets_the_estimate() -> None:
    """No sensor: when the plug is on but draws 0 W the tank is at 65 degC."""
    clock = SimClock()
    boiler, plug = _plug(clock, temperature_c=50.0)
    assert isinstance(boiler, PowerSettable)
    assert isinstance(boiler, Thermal)
    await boiler.async_update()
    assert boiler.temperature_c is None  # nothing known yet
    await boiler.async_set_power(2000.0)
    assert plug.tank.supply_on
    await _run(boiler, plug, clock, 5)
    assert boiler.power_w == 2000.0
    await _run(boiler, plug, clock, 120)
    assert plug.tank.power_w == 0.0  # the thermostat stopped it
    assert boiler.thermostat_stops == 1
    estimate = boiler.temperature_c
    assert estimate is not None
    assert estimate == pytest.approx(plug.tank.temperature_c, abs=0.5)
    await boiler.async_set_power(0.0)
    assert not plug.tank.supply_on


async def test_energy_balance_estimate_follows_the_real_tank() -> None:
    """Six hours of draws and loss later the estimate is within 3 K."""
    clock = SimClock(datetime(2026, 1, 14, 5, 0, tzinfo=UTC))
    boiler, plug = _plug(clock, temperature_c=60.0, draw_scale=1.2)
    boiler.restore_state({"estimate_c": 60.0})
    await boiler.async_update()
    await _run(boiler, plug, clock, 360)
    estimate = boiler.temperature_c
    assert estimate is not None
    assert abs(estimate - plug.tank.temperature_c) < 3.0
    assert estimate < 60.0


async def test_the_tank_never_stays_below_40_degrees() -> None:
    """Below 40 degC the driver heats by itself and refuses to be switched off."""
    clock = SimClock(datetime(2026, 1, 14, 6, 0, tzinfo=UTC))
    boiler, plug = _plug(clock, temperature_c=41.0, sensor=True, draw_scale=1.5)
    await boiler.async_update()
    assert boiler.power_range.min_w == 0.0
    await _run(boiler, plug, clock, 120)
    assert plug.tank.supply_on
    assert "below 40 degC" in " ".join(boiler.events)
    assert plug.tank.min_seen_c > 39.5
    plug.tank.temperature_c = 39.0
    plug.publish()
    assert boiler.power_range.min_w == 2000.0
    with pytest.raises(DeviceUnavailableError, match="stays on"):
        await boiler.async_set_power(0.0)


async def test_legionella_window_is_offered_to_the_planner_in_cheap_hours() -> None:
    """Due within a day: the plan reaches 60 degC in the window's cheap slot."""
    clock = SimClock(datetime(2026, 1, 14, 0, 0, tzinfo=UTC))
    boiler, _ = _plug(clock, temperature_c=55.0, sensor=True)
    boiler.restore_state(
        {"last_legionella": (clock.now - timedelta(days=6, hours=20)).isoformat()}
    )
    await boiler.async_update()
    data = boiler.planner_input(start=clock.now, slots=16)
    window = data["legionella"]
    assert window["due"] is True
    assert window["window_end"] == "2026-01-14T04:00:00+00:00"
    prices = [0.30] * 16
    prices[9] = 0.05  # 02:15-02:30 is cheap
    plan = solve(
        Problem.from_dict(
            {
                "start": "2026-01-14T00:00:00Z",
                "horizon_slots": 16,
                "prices": {"tariff": "dynamic", "spot_eur_per_kwh": prices},
                "grid": {"fuse": "1x35"},
                "base_load_kw": 0.2,
                "devices": [data],
            }
        )
    ).to_dict()
    result = plan["devices"]["boiler"]
    assert result["legionella_slot"] is not None
    assert max(result["temperature_c"]) >= 60.0


async def test_an_overdue_legionella_run_is_never_skipped() -> None:
    """Past the deadline the driver runs it itself until the thermostat stops."""
    clock = SimClock()
    boiler, plug = _plug(clock, temperature_c=50.0)
    boiler.restore_state(
        {"last_legionella": (clock.now - timedelta(days=7, minutes=5)).isoformat()}
    )
    await boiler.async_update()
    assert plug.tank.supply_on
    assert boiler.power_range.min_w == 2000.0
    with pytest.raises(DeviceUnavailableError, match="legionella"):
        await boiler.async_set_power(0.0)
    await _run(boiler, plug, clock, 200)
    assert plug.tank.max_seen_c >= 60.0
    assert "legionella run complete" in boiler.events
    last = boiler.last_legionella
    assert last is not None
    assert clock.now - last < timedelta(hours=4)
    assert boiler.power_range.min_w == 0.0


async def test_water_heater_holds_40_when_off_and_heats_to_60_for_legionella() -> None:
    """Off sets 40 degC, on sets the normal 55 degC, a due run sets 60 degC."""
    clock = SimClock()
    port = InMemoryEntityPort()
    tank = TankSim(clock=clock, temperature_c=50.0, thermostat_c=55.0)
    heater = WaterHeaterSim(port, tank)
    boiler = Boiler(
        BoilerConfig(
            device_id="boiler",
            name="Boiler",
            control=ControlKind.WATER_HEATER,
            entity_id=heater.entity_id,
            power_entity="sensor.boiler_power",
            volume_l=120,
            power_w=2000,
            thermostat_c=55.0,
        ),
        port,
        clock=clock,
    )
    boiler.restore_state({"last_legionella": clock.now.isoformat()})
    await boiler.async_update()
    await boiler.async_set_power(0.0)
    assert tank.thermostat_c == 40.0
    await boiler.async_set_power(2000.0)
    assert tank.thermostat_c == 55.0
    assert boiler.temperature_c == 50.0
    clock.advance(timedelta(days=6, hours=12))
    heater.publish()
    await boiler.async_set_power(0.0)
    await boiler.async_set_power(2000.0)
    assert tank.thermostat_c == 60.0
    await _run(boiler, heater, clock, 180)
    assert boiler.last_legionella is not None
    assert clock.now - boiler.last_legionella < timedelta(hours=3)
    assert tank.thermostat_c == 55.0


async def test_modbus_relay_switches_the_coil_and_reads_the_tank() -> None:
    """A relay module on a real Modbus socket: coil 0 and register 100."""
    clock = SimClock()
    tank = TankSim(clock=clock, temperature_c=47.3)
    relay = BoilerModbusRelaySim(tank)
    port_number = await relay.async_start("127.0.0.1", 0)
    boiler = Boiler(
        BoilerConfig(
            device_id="boiler",
            name="Boiler",
            control=ControlKind.MODBUS,
            modbus=ModbusRelay(
                host="127.0.0.1",
                port=port_number,
                temperature_register=100,
                reconnect_s=0,
                timeout_s=0.5,
            ),
            volume_l=150,
            power_w=3000,
        ),
        clock=clock,
    )
    try:
        await boiler.async_update()
        assert boiler.temperature_c == 47.3
        assert boiler.is_on is False
        await boiler.async_set_power(3000.0)
        assert tank.supply_on
        await boiler.async_update()
        assert boiler.is_on is True
        await boiler.async_set_power(0.0)
        assert not tank.supply_on
        await relay.async_stop()
        with pytest.raises(DeviceUnavailableError):
            await boiler.async_update()
        assert not boiler.available
    finally:
        boiler.close()
        await relay.async_stop()


def test_state_round_trips_and_bad_state_is_rejected() -> None:
    """JSON export/import; a future legionella date or text estimate raises."""
    clock = SimClock()
    boiler, _ = _plug(clock)
    boiler.restore_state({"last_legionella": "2026-01-10T03:00:00+00:00"})
    again, _ = _plug(clock)
    again.restore_state(json.loads(json.dumps(boiler.export_state())))
    assert again.last_legionella == boiler.last_legionella
    with pytest.raises(ValueError, match="not ahead"):
        again.restore_state({"last_legionella": "2030-01-01T00:00:00+00:00"})
    with pytest.raises(ValueError, match="number"):
        again.restore_state({"estimate_c": "hot"})


def test_config_errors_are_clear() -> None:
    """A switch boiler whose thermostat cannot reach 60 degC cannot disinfect."""
    with pytest.raises(ValueError, match="cannot disinfect"):
        BoilerConfig(
            device_id="b",
            name="b",
            control=ControlKind.SWITCH,
            entity_id="switch.b",
            volume_l=80,
            power_w=1500,
            thermostat_c=55,
        )
    with pytest.raises(ValueError, match="entity_id"):
        BoilerConfig(
            device_id="b", name="b", control=ControlKind.SWITCH, volume_l=80, power_w=1
        )
    with pytest.raises(ValueError, match="legionella temperature"):
        LegionellaPolicy(temperature_c=50)


async def test_idle_from_switch_on_is_no_thermostat_stop() -> None:
    """A hot tank idle right after switch-on is not reset to 65 degC."""
    clock = SimClock()
    boiler, plug = _plug(clock, temperature_c=62.0)
    plug.tank.heating = False  # inside the thermostat's hysteresis
    boiler.restore_state({"estimate_c": 62.0})
    await boiler.async_update()
    await boiler.async_set_power(2000.0)
    await _run(boiler, plug, clock, 5)
    assert plug.tank.power_w == 0.0
    assert boiler.thermostat_stops == 0
    estimate = boiler.temperature_c
    assert estimate is not None
    assert estimate < 62.0
