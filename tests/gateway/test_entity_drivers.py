"""A thermostat, boilers and a washer on a plug, driven through the relay.

The same in-process gateway and "Home Assistant" as ``test_entity_relay.py``,
with the engine's entity simulators behind the relayed entities: a
``climate`` entity heating a thermal house (the thermostat adapter), a
``water_heater`` tank and a tank behind a switched, metered plug (both
boilers). Boosts and blocks from the API reach each simulator through Home
Assistant's service calls (``set_temperature``, ``turn_on``/``turn_off``).
A washing machine on a metered plug is armed and started the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from custom_components.stroomwijs.engine.capabilities import DeviceUnavailableError
from custom_components.stroomwijs.engine.drivers.climate_setpoint import (
    ClimateSetpointConfig,
    ClimateSetpointHeatPump,
)
from custom_components.stroomwijs.engine.drivers.heat_pump_common import HeatPumpSpec
from custom_components.stroomwijs.engine.gateway.api import GatewayApi
from custom_components.stroomwijs.engine.gateway.client import GatewayClient
from custom_components.stroomwijs.engine.gateway.service import (
    Gateway,
    GatewayOptions,
    write_config,
)
from custom_components.stroomwijs.engine.household import HouseholdConfig
from custom_components.stroomwijs.engine.simulate.boiler import (
    BoilerPlugSim,
    TankSim,
    WaterHeaterSim,
)
from custom_components.stroomwijs.engine.simulate.entities import InMemoryEntityPort
from custom_components.stroomwijs.engine.simulate.p1 import P1TelegramServer
from custom_components.stroomwijs.engine.simulate.thermal import (
    ClimateEntitySim,
    HeatPumpUnit,
    ThermalHouse,
)
from custom_components.stroomwijs.engine.simulate.washer import (
    PlugWasherSim,
    WashingMachineSim,
)

from .conftest import house_telegram
from .test_entity_relay import TOKEN, FakeHomeAssistant, _until

ENTITIES = (
    "climate.heat_pump",
    "sensor.heat_pump_power",
    "water_heater.boiler",
    "sensor.heater_power",
    "switch.boiler",
    "sensor.boiler_power",
)


def _now() -> datetime:
    return datetime.now(UTC)


def _document(p1_port: int) -> dict[str, Any]:
    return {
        "version": 1,
        "name": "Entities",
        "time_zone": "Europe/Amsterdam",
        "meter": {
            "source": "network",
            "host": "127.0.0.1",
            "tcp_port": p1_port,
            "dsmr_version": "5",
        },
        "devices": [
            {
                "id": "hp",
                "kind": "driver",
                "name": "Thermostat",
                "driver": {
                    "driver": "climate",
                    "entity_id": "climate.heat_pump",
                    "power_entity": "sensor.heat_pump_power",
                    "spec": {"rated_power_w": 2000, "boost_power_w": 2600},
                    "min_between_changes": {"seconds": 0},
                },
            },
            {
                "id": "heater",
                "kind": "driver",
                "name": "Water heater",
                "driver": {
                    "driver": "boiler",
                    "control": "water_heater",
                    "entity_id": "water_heater.boiler",
                    "power_entity": "sensor.heater_power",
                    "volume_l": 120,
                    "power_w": 2000,
                    "thermostat_c": 55,
                },
            },
            {
                "id": "plug",
                "kind": "driver",
                "name": "Plug boiler",
                "driver": {
                    "driver": "boiler",
                    "control": "switch",
                    "entity_id": "switch.boiler",
                    "power_entity": "sensor.boiler_power",
                    "volume_l": 80,
                    "power_w": 2000,
                },
            },
        ],
        "optimiser": {"horizon_hours": 24, "time_limit_s": 5},
    }


@pytest.fixture
async def p1() -> AsyncIterator[P1TelegramServer]:
    """Serve 1.5 kW of house load, a telegram every half second."""
    server = P1TelegramServer(lambda _i: house_telegram(1500.0), interval=0.5)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def api(tmp_path: Path, p1: P1TelegramServer) -> AsyncIterator[GatewayApi]:
    """Run the household's gateway in-process, its API on a free port."""
    config = HouseholdConfig.from_dict(_document(p1.port))
    path = tmp_path / "household.yaml"
    write_config(path, config)
    gateway = Gateway(GatewayOptions(config_path=path, state_dir=tmp_path), config)
    api = GatewayApi(gateway, TOKEN, host="127.0.0.1", port=0, snapshot_interval_s=0.2)
    await api.async_start()
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(gateway.async_run(stop))
    yield api
    stop.set()
    await task
    await api.async_stop()


async def _override(client: GatewayClient, device_id: str, mode: str) -> None:
    """Boost, block or release; a change the device's rules hold back waits."""
    fields: dict[str, Any] = {"device_id": device_id, "mode": mode}
    if mode != "auto":
        fields["duration_min"] = 30
    await client.async_request("set_device_override", **fields)


async def test_thermostat_and_boilers_follow_boosts_and_blocks(
    api: GatewayApi,
) -> None:
    """set_temperature and turn_on/turn_off reach the simulators through HA."""
    home = FakeHomeAssistant(ids=ENTITIES, relays=False)
    unit = HeatPumpUnit(
        ThermalHouse(indoor_c=20.5, outdoor_c=5.0), clock=_now, target_c=20.5
    )
    climate = ClimateEntitySim(home.entities, unit)
    heater_tank = TankSim(clock=_now, temperature_c=50.0, thermostat_c=55.0)
    WaterHeaterSim(home.entities, heater_tank, power_sensor="sensor.heater_power")
    plug_tank = TankSim(clock=_now, temperature_c=55.0, thermostat_c=60.0)
    plug_tank.supply_on = True
    BoilerPlugSim(home.entities, plug_tank)
    await _until(lambda: api.gateway.household is not None)
    client = home.start(api.port)
    try:
        household = api.gateway.household
        assert household is not None
        await _until(
            lambda: all(d.available for d in household.devices.drivers.values())
        )
        assert api.gateway.status()["entities"]["known"] == len(ENTITIES)

        # The thermostat: a block lowers the setpoint (by setback_k, not below
        # the comfort band), a boost raises it; both are HA service calls.
        await _override(client, "hp", "block")
        await _until(lambda: unit.target_c < 20.5)
        assert unit.target_c >= 19.5
        await _override(client, "hp", "boost")
        await _until(lambda: unit.target_c > 20.5)
        assert unit.target_c <= 22.0
        assert climate.entity_id in {c.entity_id for c in home.calls}

        # The water heater: a block holds 40 °C, a boost its own 55 °C.
        await _override(client, "heater", "block")
        await _until(lambda: heater_tank.thermostat_c == 40.0)
        await _override(client, "heater", "boost")
        # (60 °C when its weekly legionella run is due: none is on record.)
        await _until(lambda: heater_tank.thermostat_c in {55.0, 60.0})

        # The boiler on a plug: off and on again.
        await _override(client, "plug", "block")
        await _until(lambda: not plug_tank.supply_on)
        await _override(client, "plug", "boost")
        await _until(lambda: plug_tank.supply_on)
        services = {(c.domain, c.service) for c in home.calls}
        assert {
            ("climate", "set_temperature"),
            ("water_heater", "set_temperature"),
            ("switch", "turn_off"),
            ("switch", "turn_on"),
        } <= services

        # Home Assistant away: all three unavailable in the gateway.
        await home.disconnect()
        await _until(
            lambda: not any(d.available for d in household.devices.drivers.values())
        )
    finally:
        if home.client is not None:
            await home.disconnect()


async def test_a_thermostat_missing_at_start_is_taken_on_when_it_comes() -> None:
    """No setpoint at start (HA not there yet): the first poll that sees one."""
    port = InMemoryEntityPort()
    adapter = ClimateSetpointHeatPump(
        ClimateSetpointConfig(
            device_id="hp",
            name="Thermostat",
            entity_id="climate.heat_pump",
            spec=HeatPumpSpec(rated_power_w=2000, boost_power_w=2600),
            min_between_changes=timedelta(0),
        ),
        port,
        clock=_now,
    )
    with pytest.raises(DeviceUnavailableError):
        await adapter.async_start()
    assert not adapter.available
    unit = HeatPumpUnit(
        ThermalHouse(indoor_c=20.5, outdoor_c=5.0), clock=_now, target_c=21.0
    )
    ClimateEntitySim(port, unit)
    await adapter.async_update()
    assert adapter.available
    assert adapter.user_setpoint_c == 21.0
    await adapter.async_set_power(0.0)  # block: the setpoint goes down
    assert unit.target_c == 19.5
    await adapter.async_restore()
    assert unit.target_c == 21.0


async def test_a_washer_on_a_plug_is_armed_and_started_through_the_relay(
    tmp_path: Path, p1: P1TelegramServer
) -> None:
    """Arm: the plug goes off through HA; a near deadline: the plug goes on."""
    config = HouseholdConfig.from_dict(
        {
            **_document(p1.port),
            "devices": [
                {
                    "id": "washer",
                    "kind": "driver",
                    "name": "Wasmachine",
                    "driver": {
                        "driver": "plug_appliance",
                        "plug_entity": "switch.washer_plug",
                        "power_entity": "sensor.washer_power",
                    },
                }
            ],
        }
    )
    path = tmp_path / "household.yaml"
    write_config(path, config)
    gateway = Gateway(GatewayOptions(config_path=path, state_dir=tmp_path), config)
    api = GatewayApi(gateway, TOKEN, host="127.0.0.1", port=0)
    await api.async_start()
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(gateway.async_run(stop))
    home = FakeHomeAssistant(
        ids=("switch.washer_plug", "sensor.washer_power"), relays=False
    )
    machine = WashingMachineSim(clock=_now)
    PlugWasherSim(home.entities, machine)
    try:
        await _until(lambda: gateway.household is not None)
        client = home.start(api.port)
        household = gateway.household
        assert household is not None
        await _until(lambda: household.devices.drivers["washer"].available)
        assert machine.powered
        armed = await client.async_request("arm_appliance", device_id="washer")
        assert armed["cycle_state"] == "armed"
        assert not machine.powered  # switched off through Home Assistant
        # Due in a minute: past its latest start, so the driver starts it.
        finish_by = (_now() + timedelta(minutes=1)).isoformat()
        await client.async_request(
            "run_before", device_id="washer", finish_by=finish_by
        )
        await _until(lambda: machine.powered, 40)
        assert ("switch", "turn_on") in {(c.domain, c.service) for c in home.calls}
    finally:
        if home.client is not None:
            await home.disconnect()
        stop.set()
        await task
        await api.async_stop()
