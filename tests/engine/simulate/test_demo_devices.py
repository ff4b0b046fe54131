"""The demo's devices speak their real protocols, and the meter sees them draw.

The heat pump (Lambda, Modbus TCP) and the boiler's relay module (Modbus TCP)
are driven by the real drivers, the world API serves prices and a PV forecast
that the household's own readers accept, and every change shows in the P1
telegrams.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from custom_components.stroomwijs.engine.drivers.appliance import (
    CycleState,
    PlugAppliance,
    PlugApplianceConfig,
)
from custom_components.stroomwijs.engine.drivers.boiler import Boiler
from custom_components.stroomwijs.engine.drivers.factory import (
    build_driver,
    config_from_dict,
)
from custom_components.stroomwijs.engine.drivers.lambda_heat_pump import (
    LambdaHeatPump,
)
from custom_components.stroomwijs.engine.grid import GridConnection
from custom_components.stroomwijs.engine.household.inputs import (
    parse_price_attributes,
    parse_pv_attributes,
)
from custom_components.stroomwijs.engine.meter.core import Meter
from custom_components.stroomwijs.engine.meter.models import MeterReading
from custom_components.stroomwijs.engine.meter.stream import P1StreamReader
from custom_components.stroomwijs.engine.meter.versions import resolve_version
from custom_components.stroomwijs.engine.simulate.demo import (
    EXAMPLE_PROBLEM,
    DemoDevices,
    DemoRunner,
)
from custom_components.stroomwijs.engine.simulate.demo_world import (
    LOCAL_ZONE,
    DemoWorld,
    WorldApi,
)
from custom_components.stroomwijs.engine.simulate.entities import (
    InMemoryEntityPort,
)
from custom_components.stroomwijs.engine.simulate.household import BaseLoadProfile
from custom_components.stroomwijs.engine.simulate.washer import PlugWasherSim
from tests.conftest import SHARED_DATA
from tests.engine.drivers.device_support import SimClock

BASE_W = 1_000.0
NIGHT = datetime(2026, 11, 28, 2, 0, tzinfo=LOCAL_ZONE)
AFTERNOON = datetime(2026, 11, 28, 14, 0, tzinfo=LOCAL_ZONE)


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets; pytest-socket still limits connections to 127.0.0.1."""


async def until(predicate: Callable[[], bool], limit: float = 5.0) -> None:
    """Poll ``predicate`` (the peers run in this loop) until it holds."""
    async with asyncio.timeout(limit):
        while not predicate():  # noqa: ASYNC110 - the peers share this loop
            await asyncio.sleep(0.01)


def _world(now: datetime, shared: tuple[Path, ...] = (SHARED_DATA,)) -> DemoWorld:
    return DemoWorld.load(
        clock=lambda: now, shared_dirs=shared, example=EXAMPLE_PROBLEM
    )


async def _get(port: int, path: str) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}") as resp,
    ):
        resp.raise_for_status()
        body: dict[str, Any] = await resp.json()
        return body


async def test_world_api_serves_prices_and_pv_the_household_can_read() -> None:
    """Nord Pool prices of the real 2025 day, tomorrow's after 13:00; a PV forecast."""
    world = _world(AFTERNOON)
    api = WorldApi(world, lambda: {"ok": True}, lambda _on: None)
    port = await api.start()
    try:
        prices = await _get(port, "/api/prices")
        forecast = await _get(port, "/api/pv_forecast")
        assert await _get(port, "/api/state") == {"ok": True}
    finally:
        await api.stop()
    series = parse_price_attributes(prices)
    assert series.step == timedelta(minutes=15)
    assert len(series.values) == 2 * 96
    assert series.start == AFTERNOON.replace(hour=0)
    # The same calendar day of 2025, from the shared CSV (EUR/MWh -> EUR/kWh).
    with (SHARED_DATA / "prices_NL_2025.csv").open(encoding="utf-8") as handle:
        real = {
            row["start_utc"]: float(row["price_eur_per_mwh"])
            for row in csv.DictReader(handle)
        }
    midnight_2025 = datetime(2025, 11, 28, tzinfo=LOCAL_ZONE).astimezone(UTC)
    assert series.values[0] == pytest.approx(
        real[midnight_2025.strftime("%Y-%m-%dT%H:%M:%SZ")] / 1000.0
    )
    assert series.values[40] == pytest.approx(
        real[(midnight_2025 + timedelta(hours=10)).strftime("%Y-%m-%dT%H:%M:%SZ")]
        / 1000.0
    )
    pv = parse_pv_attributes(forecast)
    assert pv.step == timedelta(hours=1)
    assert max(pv.values) > 0.1
    today = sum(pv.values[:24])
    assert today == pytest.approx(forecast["energy_production_today_kwh"], abs=0.05)
    # Forecast and production differ, but not wildly (+-20 % per hour).
    produced = sum(
        kw * (step / timedelta(hours=1))
        for _start, step, kw in world.pv_day(AFTERNOON.date())
    )
    assert today != pytest.approx(produced, rel=1e-6)
    assert today == pytest.approx(produced, rel=0.2)


def test_tomorrows_prices_are_unknown_before_13h() -> None:
    """Like the market: before 13:00 only today's prices are published."""
    attributes = _world(AFTERNOON.replace(hour=11)).nordpool_attributes()
    assert len(attributes["raw_today"]) == 96
    assert attributes["raw_tomorrow"] == []
    assert attributes["tomorrow_valid"] is False


def test_without_shared_data_the_reference_prices_and_pv_are_used(
    tmp_path: Path,
) -> None:
    """A plain clone: the example household's real prices and PV repeat."""
    world = _world(AFTERNOON, shared=(tmp_path,))
    series = parse_price_attributes(world.nordpool_attributes())
    assert len(series.values) == 2 * 96
    assert all(-1.0 < value < 2.0 for value in series.values)
    assert max(kw for _s, _d, kw in world.pv_day(AFTERNOON.date())) > 0.1


async def test_devices_are_driven_over_modbus_and_the_meter_sees_them() -> None:
    """Real drivers read and switch the simulators; telegrams follow."""
    world = _world(NIGHT)
    devices = DemoDevices(world, clock=lambda: NIGHT)
    devices.tank.temperature_c = 50.0  # the element heats (thermostat 65 degC)
    runner = DemoRunner(
        BaseLoadProfile.constant(BASE_W),
        "ws://127.0.0.1:9",  # no central system: the car stays away
        p1_port=0,
        tick_s=0.05,
        backoff_max_s=5.0,
        clock=lambda: NIGHT,
        devices=devices,
    )
    await runner.start()
    meter = Meter(grid=GridConnection(phases=3, fuse_a=25), stale_after=2.0)
    readings: list[MeterReading] = []
    meter.subscribe(readings.append)
    reader = P1StreamReader(
        meter, runner.server.url, resolve_version("5"), idle_timeout=2.0
    )
    reader.start()
    port = InMemoryEntityPort()
    heat_pump = build_driver(
        config_from_dict(
            {
                "driver": "lambda",
                "device_id": "heat_pump",
                "host": "127.0.0.1",
                "port": devices.ports[0],
                "spec": {"rated_power_w": 2200},
            }
        ),
        port=port,
        clock=lambda: NIGHT,
    )
    boiler = build_driver(
        config_from_dict(
            {
                "driver": "boiler",
                "device_id": "boiler",
                "name": "Boiler",
                "control": "modbus",
                "modbus": {
                    "host": "127.0.0.1",
                    "port": devices.ports[1],
                    "coil": 0,
                    "temperature_register": 100,
                },
                "volume_l": 120,
                "power_w": 2000,
            }
        ),
        port=port,
        clock=lambda: NIGHT,
    )
    assert isinstance(heat_pump, LambdaHeatPump)
    assert isinstance(boiler, Boiler)
    try:
        await heat_pump.async_update()
        assert heat_pump.temperature_c == pytest.approx(devices.house.indoor_c, abs=0.1)
        await boiler.async_update()
        assert boiler.temperature_c == pytest.approx(50.0, abs=0.1)
        hp_w = devices.heat_pump.unit.power_w
        # Night: no PV, no washer; base load + heat pump, the relay is open.
        await until(
            lambda: (
                bool(readings)
                and readings[-1].net_power_w == pytest.approx(BASE_W + hp_w, abs=5.0)
            )
        )
        await boiler.async_set_power(2_000.0)
        assert devices.tank.supply_on
        # ... and now the boiler's element too.
        await until(
            lambda: (
                bool(readings)
                and readings[-1].net_power_w
                == pytest.approx(BASE_W + hp_w + 2_000.0, abs=5.0)
            )
        )
        await boiler.async_set_power(0.0)
        assert not devices.tank.supply_on
        await until(
            lambda: readings[-1].net_power_w == pytest.approx(BASE_W + hp_w, abs=5.0)
        )
        state = devices.state()
        assert state["boiler"] == {
            "power_w": 0.0,
            "relay_on": False,
            "tank_c": 50.0,
            "energy_kwh": 0.0,
        }
    finally:
        await reader.stop()
        await runner.stop()


async def test_the_demo_user_loads_the_washer_for_the_plan_and_the_driver_runs_it() -> (
    None
):
    """09:30: plug off, loaded, start pressed; armed, the plan's start, the end seen.

    The washer of the demo on its plug (as the demo's Home Assistant shows it)
    with the household's real plug-appliance driver; the arming is what the
    demo's automation does with ``stroomwijs.run_before``.
    """
    clock = SimClock(datetime(2026, 11, 28, 9, 0, tzinfo=LOCAL_ZONE).astimezone(UTC))
    devices = DemoDevices(_world(NIGHT), clock=clock)
    port = InMemoryEntityPort()
    plug = PlugWasherSim(
        port,
        devices.washer,
        plug="switch.demo_washer_plug",
        power_sensor="sensor.demo_washer_power",
    )
    washer = PlugAppliance(
        PlugApplianceConfig(
            device_id="washer",
            name="Washing machine",
            plug_entity=plug.plug,
            power_entity=plug.power_sensor,
        ),
        port,
        clock=clock,
    )

    async def run(seconds: int) -> None:
        for _ in range(seconds // 10):
            clock.advance(timedelta(seconds=10))
            devices.user()
            plug.publish()
            await washer.async_update()

    await run(20 * 60)
    assert devices.washer.state == "idle"  # 09:20: not yet
    await run(15 * 60)  # 09:35
    assert devices.washer.state == "armed"
    assert not devices.washer.powered  # the user switched the plug off
    assert devices.state()["washer"]["state"] == "armed"  # type: ignore[index]
    await washer.async_arm(clock() + timedelta(hours=8))
    assert washer.state is CycleState.ARMED
    await run(60 * 60)
    assert devices.washer.state == "armed"  # waits for the plan
    await washer.async_start()  # the plan's start: the plug goes on
    assert devices.washer.state == "running"
    await run(int(devices.washer.duration_s) + 10 * 60)
    assert devices.washer.state == "finished"
    assert devices.washer.cycles_done == 1
    assert washer.state is CycleState.IDLE
    assert "cycle finished" in washer.events[-1]
    assert devices.washer.powered  # left on for unloading
    # Once a day: not again today, again tomorrow at 09:30.
    devices.user()
    assert devices.washer.state == "finished"
    clock.advance(timedelta(days=1))
    clock.now = clock.now.replace(minute=0)
    await run(40 * 60)
    assert devices.washer.state == "armed"
    assert not devices.washer.powered
