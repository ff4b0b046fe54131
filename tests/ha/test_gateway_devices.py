"""A heat pump and a boiler of a household that runs in the gateway, in HA.

Everything is real: a ``stroomwijs gateway`` process, a P1 telegram stream
on loopback, a simulated Lambda heat pump and a boiler on a Modbus relay
module (both pymodbus servers on loopback, which the gateway's drivers
reach), and Home Assistant with the integration as the gateway's client.
The device entities are the in-process ones (same unique ids), read from the
gateway's snapshots and commanded through its API.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import yaml

from custom_components.stroomwijs.const import DOMAIN
from custom_components.stroomwijs.device_flow import CONF_DRIVER, SUBENTRY_DEVICE
from custom_components.stroomwijs.driver_view import HEAT_LEVELS
from custom_components.stroomwijs.engine.household import DeviceConfig
from custom_components.stroomwijs.engine.simulate.boiler import (
    BoilerModbusRelaySim,
    TankSim,
)
from custom_components.stroomwijs.engine.simulate.lambda_heat_pump import (
    LambdaSimulator,
)
from custom_components.stroomwijs.engine.simulate.p1 import P1TelegramServer
from custom_components.stroomwijs.engine.simulate.thermal import ThermalHouse
from custom_components.stroomwijs.remote_household import CONF_GATEWAY, RemoteDriver
from tests.gateway.conftest import GatewayProcess, free_port, house_telegram

from .p1_support import network_entry
from .test_gateway_remote import _setup, _until


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets; everything here binds 127.0.0.1."""


@pytest.fixture
async def p1() -> AsyncIterator[P1TelegramServer]:
    """Serve 1.5 kW of house load, a telegram every half second."""
    server = P1TelegramServer(lambda _i: house_telegram(1500.0), interval=0.5)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[GatewayProcess]:
    """Run a gateway process that starts with an empty household."""
    document = tmp_path / "household.yaml"
    document.write_text(
        yaml.safe_dump({"version": 1, "name": "Empty", "ocpp": {"enabled": True}}),
        encoding="utf-8",
    )
    process = GatewayProcess(
        config=document, state_dir=tmp_path / "state", log=tmp_path / "gateway.log"
    )
    await process.start("--ocpp-host", "127.0.0.1", "--ocpp-port", str(free_port()))
    yield process
    if process.alive:
        await process.terminate()


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
async def heat_pump() -> AsyncIterator[LambdaSimulator]:
    """Run a simulated Lambda on a free loopback port."""
    pump = LambdaSimulator(clock=_now, house=ThermalHouse(indoor_c=20.4, outdoor_c=4.0))
    await pump.async_start("127.0.0.1", 0)
    yield pump
    await pump.async_stop()


@pytest.fixture
async def relay() -> AsyncIterator[tuple[BoilerModbusRelaySim, int]]:
    """Run a boiler's Modbus relay module (tank at 52 °C) on a free port."""
    sim = BoilerModbusRelaySim(TankSim(clock=_now, temperature_c=52.0))
    port = await sim.async_start("127.0.0.1", 0)
    yield sim, port
    await sim.async_stop()


def _device(title: str, driver: dict[str, Any]) -> ConfigSubentryData:
    return ConfigSubentryData(
        data={CONF_DRIVER: driver},
        subentry_type=SUBENTRY_DEVICE,
        title=title,
        unique_id=None,
    )


def _entry(
    p1: P1TelegramServer,
    gateway: GatewayProcess,
    heat_pump: LambdaSimulator,
    relay_port: int,
) -> MockConfigEntry:
    base = network_entry(
        p1,
        **{
            CONF_GATEWAY: {
                "host": "127.0.0.1",
                "port": gateway.api_port,
                "token": gateway.token,
            }
        },
    )
    return MockConfigEntry(
        domain=DOMAIN,
        title="Thuis",
        data=dict(base.data),
        subentries_data=(
            _device(
                "Warmtepomp",
                {
                    "driver": "lambda",
                    "host": "127.0.0.1",
                    "port": heat_pump.port,
                    "spec": {"rated_power_w": 2200, "boost_power_w": 2600},
                    "rules": {"min_between_changes": {"seconds": 3}},
                    "timeout_s": 2.0,
                    "reconnect_s": 1.0,
                },
            ),
            _device(
                "Boiler",
                {
                    "driver": "boiler",
                    "control": "modbus",
                    "modbus": {
                        "host": "127.0.0.1",
                        "port": relay_port,
                        "temperature_register": 100,
                        "timeout_s": 2.0,
                        "reconnect_s": 1.0,
                    },
                    "volume_l": 120,
                    "power_w": 2000,
                },
            ),
        ),
    )


def _sid(entry: MockConfigEntry, title: str) -> str:
    return next(sid for sid, sub in entry.subentries.items() if sub.title == title)


def _entity_id(hass: HomeAssistant, platform: str, unique_id: str) -> str:
    entity_id = er.async_get(hass).async_get_entity_id(platform, DOMAIN, unique_id)
    assert entity_id is not None, unique_id
    return entity_id


def _value(hass: HomeAssistant, platform: str, unique_id: str) -> str | None:
    state = hass.states.get(_entity_id(hass, platform, unique_id))
    return None if state is None else state.state


def _known(value: str | None) -> bool:
    return value not in {None, "unknown", "unavailable"}


async def test_heat_pump_and_boiler_entities_through_the_gateway(  # noqa: PLR0915
    hass: HomeAssistant,
    p1: P1TelegramServer,
    gateway: GatewayProcess,
    heat_pump: LambdaSimulator,
    relay: tuple[BoilerModbusRelaySim, int],
) -> None:
    """Devices, values, the plan switch and refusals, all through the gateway."""
    entry = _entry(p1, gateway, heat_pump, relay[1])
    tank_sim = relay[0].tank
    remote = await _setup(hass, entry)
    assert entry.runtime_data.household is None
    hp, boiler = _sid(entry, "Warmtepomp"), _sid(entry, "Boiler")
    assert set(remote.drivers) == {hp, boiler}
    await _until(lambda: remote.drivers[hp].available, 60)
    await _until(lambda: remote.drivers[boiler].available, 60)

    # One device each, under the household, named after its driver.
    devices = dr.async_get(hass)
    pump_device = devices.async_get_device_by_identifier((DOMAIN, hp), entry.entry_id)
    assert pump_device is not None
    assert pump_device.manufacturer == "Lambda Wärmepumpen"
    assert pump_device.model == "EU-L heat pump (Modbus TCP)"
    assert pump_device.via_device_id == entry.runtime_data.household_device_id
    boiler_device = devices.async_get_device_by_identifier(
        (DOMAIN, boiler), entry.entry_id
    )
    assert boiler_device is not None
    assert boiler_device.model == "Electric boiler (Modbus relay)"

    # What the gateway's drivers read, in the in-process entities.
    await _until(lambda: _known(_value(hass, "sensor", f"{hp}_room_temperature")))
    room = float(_value(hass, "sensor", f"{hp}_room_temperature") or "nan")
    assert room == pytest.approx(heat_pump.house.indoor_c, abs=0.5)
    assert _value(hass, "sensor", f"{hp}_heat_pump_level") in HEAT_LEVELS
    assert _known(_value(hass, "sensor", f"{hp}_driver_power"))
    assert int(_value(hass, "sensor", f"{hp}_blocks_left_today") or "-1") in range(4)
    minutes = _value(hass, "sensor", f"{hp}_blocked_minutes_left_today")
    assert 0 <= int(minutes or "-1") <= 120
    await _until(lambda: _known(_value(hass, "sensor", f"{boiler}_tank_temperature")))
    tank = float(_value(hass, "sensor", f"{boiler}_tank_temperature") or "nan")
    assert tank == pytest.approx(tank_sim.temperature_c, abs=2.0)
    state = hass.states.get(_entity_id(hass, "sensor", f"{boiler}_tank_temperature"))
    assert state is not None
    assert state.attributes["estimated"] is False
    assert _known(_value(hass, "sensor", f"{boiler}_legionella_due"))
    heating = _value(hass, "binary_sensor", f"{boiler}_boiler_heating")
    assert heating == ("on" if tank_sim.supply_on else "off")
    # No appliance controls on a heat pump or a boiler.
    registry = er.async_get(hass)
    for sid in (hp, boiler):
        for platform, key in (("button", "arm"), ("datetime", "finish_by")):
            assert (
                registry.async_get_entity_id(platform, DOMAIN, f"{sid}_{key}") is None
            )
        assert _value(hass, "sensor", f"{sid}_planned_power") != "unavailable"
        assert _value(hass, "select", f"{sid}_device_override") == "auto"
        assert _value(hass, "number", f"{sid}_override_duration") == "60.0"

    # The plan switch: the gateway's household leaves the boiler to itself.
    switch = _entity_id(hass, "switch", f"{boiler}_device_planned")
    assert _value(hass, "switch", f"{boiler}_device_planned") == "on"
    await hass.services.async_call(
        "switch", "turn_off", {"entity_id": switch}, blocking=True
    )
    await _until(lambda: remote.device_data(boiler).get("planned") is False)
    await _until(lambda: _value(hass, "switch", f"{boiler}_device_planned") == "off")
    await hass.services.async_call(
        "switch", "turn_on", {"entity_id": switch}, blocking=True
    )
    await _until(lambda: _value(hass, "switch", f"{boiler}_device_planned") == "on")

    # Boost and block: the gateway's household holds the override; its
    # blocking rules refuse a change right after the block, in the same
    # translated error as in this process.
    select = _entity_id(hass, "select", f"{hp}_device_override")
    for _attempt in range(20):  # the gateway's plan may just have changed it
        try:
            await hass.services.async_call(
                "select",
                "select_option",
                {"entity_id": select, "option": "block"},
                blocking=True,
            )
            break
        except ServiceValidationError as err:
            if err.translation_key != "override_refused_too_soon":
                raise
            await asyncio.sleep(1)
    await _until(
        lambda: (remote.device_data(hp).get("override") or {}).get("mode") == "block"
    )
    await _until(lambda: _value(hass, "select", f"{hp}_device_override") == "block")
    until = hass.states.get(select).attributes["until"]
    assert until == remote.drivers[hp].override_until.isoformat()
    await _until(lambda: _value(hass, "sensor", f"{hp}_heat_pump_level") == "block")
    with pytest.raises(ServiceValidationError) as too_soon:
        await hass.services.async_call(
            "select",
            "select_option",
            {"entity_id": select, "option": "boost"},
            blocking=True,
        )
    assert too_soon.value.translation_key == "override_refused_too_soon"
    assert too_soon.value.translation_placeholders["device"] == "Warmtepomp"
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": select, "option": "auto"},
        blocking=True,
    )
    await _until(lambda: remote.device_data(hp).get("override") is None)
    await _until(lambda: _value(hass, "select", f"{hp}_device_override") == "auto")

    # run_before names an appliance: a heat pump is refused, in HA and in the
    # gateway (which checks what it is told, whoever sends it).
    with pytest.raises(ServiceValidationError) as refused:
        await hass.services.async_call(
            DOMAIN,
            "run_before",
            {
                "device_id": pump_device.id,
                "finish_by": (_now() + timedelta(hours=4)).isoformat(),
            },
            blocking=True,
        )
    assert refused.value.translation_key == "appliance_not_found"
    with pytest.raises(HomeAssistantError, match="not an appliance"):
        await remote.async_command("arm_appliance", device_id=hp)
    with pytest.raises(HomeAssistantError, match="no heat pump, boiler or appliance"):
        await remote.async_command("set_device_planned", device_id="x", planned=True)
    with pytest.raises(HomeAssistantError, match="finish_by"):
        await remote.async_command("run_before", device_id=hp)

    # The gateway goes away: every device entity is unavailable, controls too.
    await gateway.terminate()
    await _until(
        lambda: _value(hass, "switch", f"{boiler}_device_planned") == "unavailable"
    )
    for key in ("room_temperature", "planned_power", "driver_power"):
        assert _value(hass, "sensor", f"{hp}_{key}") == "unavailable"
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_hostile_device_data_reads_safely() -> None:  # noqa: PLR0915
    """Whatever a snapshot's device holds, the view answers None or the safe side."""
    remote: Any = type("Remote", (), {})()
    remote.available = True
    data: dict[str, Any] = {}
    remote.device_data = lambda _device_id: data
    device = DeviceConfig(
        id="hp",
        kind="driver",
        name="Warmtepomp",
        driver={"driver": "lambda", "host": "127.0.0.1", "spec": {"rated_power_w": 1}},
    )
    view = RemoteDriver(remote, device)
    assert view.title == "Warmtepomp"
    assert not view.available
    assert view.planned  # planned unless the gateway says not
    assert view.planned_power_w() is None
    data.update(
        {
            "available": "yes",
            "planned": 0,
            "power_w": True,
            "temperature_c": "20",
            "sg_mode": "overdrive",
            "level": 3,
            "blocks_left_today": 2.6,
            "blocked_minutes_left_today": float("inf"),
            "heating": "on",
            "tank_estimated": None,
            "legionella_due": "2026-01-01T10:00",
            "on_gas": 1,
            "cycle_state": "exploded",
            "deadline": 12,
            "latest_start": "never",
            "remote_start_allowed": [],
            "planned_w": 1500,
            "planned_next_w": "x",
            "override": {"mode": "melt", "until": "soon"},
        }
    )
    assert view.override_mode == "auto"
    assert view.override_until is None
    data["override"] = "boost"
    assert view.override_mode == "auto"
    assert not view.available
    assert view.planned
    assert view.power_w is None
    assert view.temperature_c is None
    assert view.sg_mode is None
    assert view.level is None
    assert view.blocks_left_today == 3
    assert view.heating is None
    assert view.tank_estimated is None
    assert view.legionella_due is None  # no time zone
    assert view.on_gas is None
    assert view.cycle_state is None
    assert view.deadline is None
    assert view.latest_start is None
    assert view.remote_start_allowed is None
    assert view.planned_power_w() == 1500.0
    assert view.planned_power_w(slots_ahead=1) is None
    # JSON as Python reads it may carry NaN and Infinity: unknown, never a value.
    data.update(
        {
            "power_w": float("nan"),
            "temperature_c": float("-inf"),
            "blocked_minutes_left_today": float("inf"),
            "planned_w": float("nan"),
        }
    )
    assert view.power_w is None
    assert view.temperature_c is None
    assert view.blocked_minutes_left_today is None
    assert view.planned_power_w() is None
    sent: list[tuple[str, dict[str, Any]]] = []

    async def _command(kind: str, **fields: Any) -> None:  # noqa: ANN401
        sent.append((kind, fields))

    remote.async_command = _command
    finish_by = datetime(2026, 1, 14, 18, 0, tzinfo=UTC)
    await view.async_run_before(finish_by)
    await view.async_arm()
    await view.async_disarm()
    await view.async_set_planned(planned=False)
    await view.async_set_override("boost", timedelta(minutes=90))
    await view.async_set_override(None, None)
    assert sent == [
        ("run_before", {"device_id": "hp", "finish_by": finish_by.isoformat()}),
        ("arm_appliance", {"device_id": "hp"}),
        ("disarm_appliance", {"device_id": "hp"}),
        ("set_device_planned", {"device_id": "hp", "planned": False}),
        (
            "set_device_override",
            {"device_id": "hp", "mode": "boost", "duration_min": 90.0},
        ),
        (
            "set_device_override",
            {"device_id": "hp", "mode": "auto", "duration_min": None},
        ),
    ]
    calls: list[int] = []
    unsubscribe = view.add_listener(lambda: calls.append(1))
    view.changed()
    unsubscribe()
    view.changed()
    assert calls == [1]
