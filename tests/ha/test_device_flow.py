"""The *Add device* forms: one per kind, checked, stored, reconfigured."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
import socket
from typing import Any

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    SOURCE_USER,
    ConfigSubentryData,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.stroomwijs.const import DOMAIN
from custom_components.stroomwijs.device_flow import (
    CONF_DRIVER,
    SUBENTRY_DEVICE,
    _hours,
    _unique_id,
    kind_of,
)
from custom_components.stroomwijs.engine.drivers.appliance import PlugAppliance
from custom_components.stroomwijs.engine.drivers.boiler import Boiler
from custom_components.stroomwijs.engine.drivers.climate_setpoint import (
    ClimateSetpointHeatPump,
)
from custom_components.stroomwijs.engine.drivers.lambda_heat_pump import (
    LambdaHeatPump,
)
from custom_components.stroomwijs.engine.simulate.lambda_heat_pump import (
    LambdaSimulator,
)
from custom_components.stroomwijs.engine.simulate.p1 import (
    TelegramValuesIn,
    build_telegram,
)
from custom_components.stroomwijs.engine.simulate.quasar import QuasarSimulator
from custom_components.stroomwijs.engine.simulate.sunspec import SunSpecSimulator

from .charger_support import setup_loaded
from .p1_support import network_entry, p1_server, until


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets; pytest-socket still limits connections to 127.0.0.1."""


def _quiet(_index: int) -> bytes:
    return build_telegram(
        TelegramValuesIn(
            timestamp=datetime.now(UTC),
            import_w=600,
            phase_import_w=(200, 200, 200),
            phase_currents_a=(1, 1, 1),
        )
    )


def _states(hass: HomeAssistant) -> None:
    for entity_id, state, attributes in (
        ("switch.sg1", "off", {}),
        ("switch.sg2", "off", {}),
        ("switch.boiler", "on", {}),
        ("switch.washer_plug", "off", {}),
        ("switch.dishwasher_start", "off", {}),
        ("binary_sensor.dishwasher_remote_start", "on", {}),
        ("sensor.dishwasher_operation", "ready", {}),
        (
            "climate.living",
            "heat",
            {"temperature": 20.0, "current_temperature": 19.5},
        ),
        ("water_heater.tank", "eco", {"temperature": 55, "current_temperature": 50}),
        (
            "sensor.living_room",
            "20.5",
            {"unit_of_measurement": "°C", "device_class": "temperature"},
        ),
        (
            "sensor.washer_power",
            "0",
            {"unit_of_measurement": "W", "device_class": "power"},
        ),
        (
            "sensor.heat_pump_power",
            "0",
            {"unit_of_measurement": "W", "device_class": "power"},
        ),
    ):
        hass.states.async_set(entity_id, state, attributes)


@asynccontextmanager
async def _household(
    hass: HomeAssistant, *devices: ConfigSubentryData
) -> AsyncIterator[MockConfigEntry]:
    _states(hass)
    async with p1_server(_quiet, interval=0.5) as server:
        base = network_entry(server)
        entry = MockConfigEntry(
            domain=DOMAIN, title="Thuis", data=dict(base.data), subentries_data=devices
        )
        await setup_loaded(hass, entry)
        try:
            yield entry
        finally:
            await hass.async_block_till_done()
            await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_block_till_done()


async def _form(hass: HomeAssistant, entry: MockConfigEntry, kind: str) -> str:
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_DEVICE), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == [
        "sg_ready",
        "climate",
        "lambda",
        "boiler",
        "plug_appliance",
        "remote_start_appliance",
        "scan",
        "profile",
    ]
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": kind}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == kind
    return str(result["flow_id"])


async def _submit(hass: HomeAssistant, flow_id: str, data: dict[str, Any]) -> Any:  # noqa: ANN401
    return await hass.config_entries.subentries.async_configure(flow_id, data)


async def _reconfigure(
    hass: HomeAssistant, entry: MockConfigEntry, sid: str
) -> dict[str, Any]:
    return await hass.config_entries.subentries.async_init(  # type: ignore[return-value]
        (entry.entry_id, SUBENTRY_DEVICE),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": sid},
    )


def _sid(entry: MockConfigEntry, title: str) -> str:
    return next(sid for sid, sub in entry.subentries.items() if sub.title == title)


async def _reloaded(hass: HomeAssistant, entry: MockConfigEntry, sid: str) -> Any:  # noqa: ANN401
    """Wait for the household that has ``sid``'s driver; return the driver."""
    await hass.async_block_till_done()
    await until(
        lambda: (
            getattr(entry, "runtime_data", None) is not None
            and sid in entry.runtime_data.household.devices.drivers
        ),
        limit=10,
    )
    return entry.runtime_data.household.devices.drivers[sid]


SG_FORM: dict[str, Any] = {
    "name": "Heat pump",
    "relay_1_entity": "switch.sg1",
    "relay_2_entity": "switch.sg2",
    "rated_power_w": 2500,
    "comfort_min_c": 19.5,
    "comfort_max_c": 22,
    "room_temperature_entity": "sensor.living_room",
}


async def test_an_sg_ready_heat_pump_from_its_form(hass: HomeAssistant) -> None:
    """Field errors, the stored mapping, a duplicate, a reconfigure."""
    async with _household(hass) as entry:
        flow = await _form(hass, entry, "sg_ready")
        result = await _submit(hass, flow, {**SG_FORM, "relay_2_entity": "switch.sg1"})
        assert result["errors"] == {"relay_2_entity": "same_relay"}
        result = await _submit(hass, flow, {**SG_FORM, "comfort_min_c": 23})
        assert result["errors"] == {"comfort_max_c": "comfort_band"}
        result = await _submit(hass, flow, SG_FORM)
        assert result["type"] is FlowResultType.CREATE_ENTRY
        sid = _sid(entry, "Heat pump")
        assert entry.subentries[sid].unique_id == "sg_ready_switch.sg1"
        assert entry.subentries[sid].data[CONF_DRIVER] == {
            "driver": "sg_ready",
            "room_temperature_entity": "sensor.living_room",
            "spec": {"rated_power_w": 2500.0},
            "comfort": {"min_c": 19.5, "max_c": 22.0},
            "relay_1_entity": "switch.sg1",
            "relay_2_entity": "switch.sg2",
        }
        await _reloaded(hass, entry, sid)
        # The same relays again: refused.
        flow = await _form(hass, entry, "sg_ready")
        result = await _submit(hass, flow, {**SG_FORM, "name": "Again"})
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "already_configured"
        # Reconfigure: the form holds what is stored; a cleared sensor goes.
        result = await _reconfigure(hass, entry, sid)
        assert result["step_id"] == "sg_ready"
        schema = {str(k): k for k in result["data_schema"].schema}
        assert schema["relay_1_entity"].default() == "switch.sg1"
        assert schema["room_temperature_entity"].description == {
            "suggested_value": "sensor.living_room"
        }
        changed = {
            **SG_FORM,
            "name": "Warmtepomp",
            "rated_power_w": 3000,
            "boost_power_w": 3500,
        }
        del changed["room_temperature_entity"]
        result = await _submit(hass, result["flow_id"], changed)
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reconfigure_successful"
        stored = entry.subentries[sid]
        assert stored.title == "Warmtepomp"
        assert "room_temperature_entity" not in stored.data[CONF_DRIVER]
        assert stored.data[CONF_DRIVER]["spec"] == {
            "rated_power_w": 3000.0,
            "boost_power_w": 3500.0,
        }
        await hass.async_block_till_done()
        driver = await _reloaded(hass, entry, sid)
        assert driver.name == "Warmtepomp"


async def test_a_thermostat_heat_pump_and_a_boiler(hass: HomeAssistant) -> None:
    """Climate adapter with its sensors; boilers on a water heater or switch."""
    async with _household(hass) as entry:
        flow = await _form(hass, entry, "climate")
        result = await _submit(
            hass,
            flow,
            {
                "name": "  ",
                "entity_id": "climate.living",
                "rated_power_w": 1800,
                "comfort_min_c": 19,
                "comfort_max_c": 21.5,
                "room_temperature_entity": "sensor.living_room",
                "power_entity": "sensor.heat_pump_power",
            },
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["title"] == "Device"
        sid = _sid(entry, "Device")
        assert isinstance(await _reloaded(hass, entry, sid), ClimateSetpointHeatPump)

        flow = await _form(hass, entry, "boiler")
        boiler = {
            "name": "Boiler",
            "entity_id": "switch.boiler",
            "volume_l": 80,
            "power_w": 1500,
            "thermostat_c": 55,
        }
        result = await _submit(hass, flow, boiler)
        assert result["errors"] == {"base": "invalid_device"}
        assert "disinfect" in result["description_placeholders"]["error"]
        result = await _submit(hass, flow, {**boiler, "thermostat_c": 65})
        assert result["type"] is FlowResultType.CREATE_ENTRY
        driver = await _reloaded(hass, entry, _sid(entry, "Boiler"))
        assert isinstance(driver, Boiler)
        assert driver.config.control.value == "switch"

        flow = await _form(hass, entry, "boiler")
        result = await _submit(
            hass,
            flow,
            {**boiler, "name": "Tank", "entity_id": "water_heater.tank"},
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        driver = await _reloaded(hass, entry, _sid(entry, "Tank"))
        assert driver.config.control.value == "water_heater"
        assert driver.config.thermostat_c == 55


async def test_appliances_on_a_plug_and_with_remote_start(
    hass: HomeAssistant,
) -> None:
    """Kind, plug and power sensor, deadline; the remote-start entities."""
    async with _household(hass) as entry:
        flow = await _form(hass, entry, "plug_appliance")
        result = await _submit(
            hass,
            flow,
            {
                "name": "Washer",
                "appliance": "washing_machine",
                "plug_entity": "switch.washer_plug",
                "power_entity": "sensor.washer_power",
                "deadline_hours": 8,
            },
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        sid = _sid(entry, "Washer")
        assert entry.subentries[sid].data[CONF_DRIVER]["default_deadline"] == {
            "hours": 8.0
        }
        assert isinstance(await _reloaded(hass, entry, sid), PlugAppliance)
        result = await _reconfigure(hass, entry, sid)
        schema = {str(k): k for k in result["data_schema"].schema}
        assert schema["deadline_hours"].default() == 8.0
        assert schema["appliance"].default() == "washing_machine"

        flow = await _form(hass, entry, "remote_start_appliance")
        result = await _submit(
            hass,
            flow,
            {
                "name": "Dishwasher",
                "appliance": "dishwasher",
                "remote_start_entity": "binary_sensor.dishwasher_remote_start",
                "operation_state_entity": "sensor.dishwasher_operation",
                "start_entity": "switch.dishwasher_start",
                "deadline_hours": 12,
            },
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        sid = _sid(entry, "Dishwasher")
        assert entry.subentries[sid].unique_id == (
            "remote_start_appliance_switch.dishwasher_start"
        )
        driver = await _reloaded(hass, entry, sid)
        assert driver.config.kind.value == "dishwasher"


@asynccontextmanager
async def _lambda() -> AsyncIterator[LambdaSimulator]:
    pump = LambdaSimulator(clock=lambda: datetime.now(UTC))
    await pump.async_start("127.0.0.1", 0)
    try:
        yield pump
    finally:
        await pump.async_stop()


async def _scan(hass: HomeAssistant, flow: str, data: dict[str, Any]) -> Any:  # noqa: ANN401
    """Submit a scan; wait for its progress task; return the step after it."""
    result = await _submit(hass, flow, data)
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    assert result["progress_action"] == "scan"
    await hass.async_block_till_done()
    return await hass.config_entries.subentries.async_configure(flow)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_lambda_heat_pump_is_read_before_it_is_added(
    hass: HomeAssistant,
) -> None:
    """A bad host, nothing listening, then the simulator on loopback."""
    async with _household(hass) as entry, _lambda() as pump:
        form = {
            "name": "Lambda",
            "host": "127.0.0.1:502",
            "port": 502,
            "unit_id": 1,
            "rated_power_w": 2200,
            "comfort_min_c": 19,
            "comfort_max_c": 22,
        }
        flow = await _form(hass, entry, "lambda")
        result = await _submit(hass, flow, form)
        assert result["errors"] == {"base": "invalid_host"}
        result = await _submit(
            hass, flow, {**form, "host": "127.0.0.1", "port": _closed_port()}
        )
        assert result["errors"] == {"base": "cannot_connect"}
        result = await _submit(
            hass, flow, {**form, "host": "127.0.0.1", "port": pump.port}
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        sid = _sid(entry, "Lambda")
        assert entry.subentries[sid].unique_id == f"lambda_127.0.0.1:{pump.port}:1"
        driver = await _reloaded(hass, entry, sid)
        assert isinstance(driver, LambdaHeatPump)
        await until(lambda: driver.temperature_c is not None, limit=20)
        # Reconfigure keeps the address unless it is changed, and reads again.
        result = await _reconfigure(hass, entry, sid)
        assert result["step_id"] == "lambda"
        schema = {str(k): k for k in result["data_schema"].schema}
        assert schema["port"].default() == pump.port
        result = await _submit(
            hass,
            result["flow_id"],
            {**form, "host": "127.0.0.1", "port": pump.port, "comfort_max_c": 23},
        )
        assert result["reason"] == "reconfigure_successful"
        assert entry.subentries[sid].data[CONF_DRIVER]["comfort"]["max_c"] == 23


HYBRID_YAML = """
driver: hybrid
hybrid:
  gas_switch_entity: switch.boiler
  gas: {max_kw: 20, eur_per_m3: 1.35}
heat_pump:
  driver: climate
  entity_id: climate.living
  spec: {rated_power_w: 1800}
"""


async def test_a_profile_and_its_reconfigure(hass: HomeAssistant) -> None:
    """A hybrid in YAML; its reconfigure shows the YAML; errors name the field."""
    async with _household(
        hass,
        ConfigSubentryData(
            data={
                CONF_DRIVER: {
                    "driver": "plug_appliance",
                    "plug_entity": "switch.washer_plug",
                    "power_entity": "sensor.washer_power",
                    "default_deadline": 36_000,
                }
            },
            subentry_type=SUBENTRY_DEVICE,
            title="Old washer",
            unique_id=None,
        ),
    ) as entry:
        flow = await _form(hass, entry, "profile")
        result = await _submit(
            hass, flow, {"name": "Hybrid", "profile": "driver: [unclosed"}
        )
        assert result["errors"] == {"base": "invalid_device"}
        assert "YAML" in result["description_placeholders"]["error"]
        result = await _submit(hass, flow, {"name": "Hybrid", "profile": "- a list"})
        assert "mapping" in result["description_placeholders"]["error"]
        result = await _submit(hass, flow, {"name": "Hybrid", "profile": HYBRID_YAML})
        assert result["type"] is FlowResultType.CREATE_ENTRY
        sid = _sid(entry, "Hybrid")
        await _reloaded(hass, entry, sid)
        result = await _reconfigure(hass, entry, sid)
        assert result["step_id"] == "profile"
        schema = {str(k): k for k in result["data_schema"].schema}
        assert "gas_switch_entity: switch.boiler" in schema["profile"].default()
        result = await _submit(
            hass,
            result["flow_id"],
            {"name": "Hybrid", "profile": HYBRID_YAML.replace("20", "24")},
        )
        assert result["reason"] == "reconfigure_successful"
        assert entry.subentries[sid].data[CONF_DRIVER]["hybrid"]["gas"]["max_kw"] == 24
        # A mapping written with seconds opens in the form in hours.
        old = _sid(entry, "Old washer")
        result = await _reconfigure(hass, entry, old)
        assert result["step_id"] == "plug_appliance"
        schema = {str(k): k for k in result["data_schema"].schema}
        assert schema["deadline_hours"].default() == 10.0
        await hass.async_block_till_done()


def test_forms_of_stored_mappings() -> None:
    """Which form edits a mapping; deadlines in every shape become hours."""
    assert kind_of({"driver": "boiler", "control": "modbus"}) == "profile"
    assert kind_of({"driver": "boiler", "control": "switch"}) == "boiler"
    assert kind_of({"driver": "hybrid"}) == "profile"
    assert kind_of({"driver": "sg_ready"}) == "sg_ready"
    assert _hours({"hours": 1, "minutes": 30, "seconds": 36}) == pytest.approx(1.51)
    assert _hours(7200) == 2.0
    assert _hours(None) is None


def test_a_lambda_profile_without_port_or_unit_gets_the_drivers_defaults() -> None:
    """The unique id of a Lambda profile that leaves port and unit out (no 500)."""
    assert (
        _unique_id("lambda", {"driver": "lambda", "host": "127.0.0.1"})
        == "lambda_127.0.0.1:502:1"
    )
    assert (
        _unique_id("lambda", {"host": "10.0.0.9", "port": 5020, "unit_id": 3})
        == "lambda_10.0.0.9:5020:3"
    )


def test_each_channel_of_a_shelly_is_its_own_device() -> None:
    """Channel 0 has the id discovery finds; another channel one of its own.

    All channels had ``shelly_<mac>``, so a second channel of a 2PM added
    by a profile was refused as configured already.
    """
    socket = {"host": "10.0.0.7", "mac": "A8032ABE54DC"}
    shelly = {"driver": "shelly", "device": {"driver": "boiler"}}
    assert _unique_id("boiler", {**shelly, "socket": socket}) == "shelly_a8032abe54dc"
    assert (
        _unique_id("boiler", {**shelly, "socket": {**socket, "channel": 0}})
        == "shelly_a8032abe54dc"
    )
    assert (
        _unique_id("boiler", {**shelly, "socket": {**socket, "channel": 1}})
        == "shelly_a8032abe54dc_1"
    )


async def test_a_scan_finds_a_lambda_and_fills_in_its_form(
    hass: HomeAssistant,
) -> None:
    """On loopback only: a bad target, nothing found, a Quasar, then a Lambda."""
    quasar, sunspec = QuasarSimulator(), SunSpecSimulator()
    quasar_port = await quasar.async_start("127.0.0.1", 0)
    sunspec_port = await sunspec.async_start("127.0.0.1", 0)
    try:
        async with _household(hass) as entry, _lambda() as pump:
            flow = await _form(hass, entry, "scan")
            for bad in ("heatpump.local", "10.0.0.0/16", "224.0.0.1"):
                result = await _submit(hass, flow, {"target": bad, "port": 502})
                assert result["errors"] == {"target": "invalid_target"}, bad
            result = await _scan(
                hass, flow, {"target": "127.0.0.1", "port": _closed_port()}
            )
            assert result["errors"] == {"base": "nothing_found"}
            assert result["description_placeholders"]["result"] == (
                "1 addresses scanned."
            )
            result = await _scan(
                hass, flow, {"target": "127.0.0.1/32", "port": quasar_port}
            )
            assert result["errors"] == {"base": "nothing_found"}
            assert (
                "Wallbox Quasar at 127.0.0.1"
                in (result["description_placeholders"]["result"])
            )
            result = await _scan(
                hass, flow, {"target": "127.0.0.1", "port": sunspec_port}
            )
            assert (
                "SunSpec device Fronius"
                in (result["description_placeholders"]["result"])
            )
            result = await _scan(hass, flow, {"target": "127.0.0.1", "port": pump.port})
            assert result["step_id"] == "scan_pick"
            result = await _submit(hass, flow, {"found": f"127.0.0.1|{pump.port}|1"})
            assert result["step_id"] == "lambda"
            schema = {str(k): k for k in result["data_schema"].schema}
            assert schema["host"].default() == "127.0.0.1"
            assert schema["port"].default() == pump.port
            result = await _submit(
                hass,
                flow,
                {
                    "name": "Lambda",
                    "host": "127.0.0.1",
                    "port": pump.port,
                    "unit_id": 1,
                    "rated_power_w": 2200,
                    "comfort_min_c": 19,
                    "comfort_max_c": 22,
                },
            )
            assert result["type"] is FlowResultType.CREATE_ENTRY
            assert isinstance(
                await _reloaded(hass, entry, _sid(entry, "Lambda")), LambdaHeatPump
            )
    finally:
        await quasar.async_stop()
        await sunspec.async_stop()
