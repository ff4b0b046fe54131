"""Devices already in Home Assistant are proposed, confirmed and then driven."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from homeassistant.config_entries import SOURCE_IGNORE
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.stroomwijs.adoption import async_propose, proposals
from custom_components.stroomwijs.const import DOMAIN
from custom_components.stroomwijs.device_flow import CONF_DRIVER
from custom_components.stroomwijs.engine.drivers.appliance import (
    PlugAppliance,
    RemoteStartAppliance,
)
from custom_components.stroomwijs.engine.drivers.climate_setpoint import (
    ClimateSetpointHeatPump,
)
from custom_components.stroomwijs.engine.simulate.p1 import (
    TelegramValuesIn,
    build_telegram,
)

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


def _device(
    hass: HomeAssistant, platform: str, name: str, model: str = ""
) -> tuple[MockConfigEntry, dr.DeviceEntry]:
    owner = MockConfigEntry(domain=platform, title=name)
    owner.add_to_hass(hass)
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=owner.entry_id,
        identifiers={(platform, name)},
        name=name,
        manufacturer=platform.capitalize(),
        model=model or None,
    )
    return owner, device


def _entity(  # noqa: PLR0917 - one registry row
    hass: HomeAssistant,
    domain: str,
    platform: str,
    object_id: str,
    device: dr.DeviceEntry,
    owner: MockConfigEntry,
    **extra: Any,  # noqa: ANN401
) -> str:
    entry = er.async_get(hass).async_get_or_create(
        domain,
        platform,
        object_id,
        suggested_object_id=object_id,
        device_id=device.id,
        config_entry=owner,
        **extra,
    )
    return entry.entity_id


def _home(hass: HomeAssistant) -> dict[str, str]:
    """Register a thermostat, a water heater, a metered plug, a Miele washer, a lamp."""
    ids: dict[str, str] = {}
    owner, thermostat = _device(hass, "thermo", "Living room")
    ids["climate"] = _entity(
        hass,
        "climate",
        "thermo",
        "living",
        thermostat,
        owner,
        capabilities={"hvac_modes": ["heat", "off"], "min_temp": 7, "max_temp": 30},
    )
    hass.states.async_set(
        ids["climate"],
        "heat",
        {"temperature": 20.0, "current_temperature": 19.5, "hvac_modes": ["heat"]},
    )
    owner, cooler = _device(hass, "thermo", "Bedroom")
    ids["cooler"] = _entity(
        hass,
        "climate",
        "thermo",
        "bedroom",
        cooler,
        owner,
        capabilities={"hvac_modes": ["cool", "off"]},
    )
    owner, tank = _device(hass, "tank", "Tank")
    ids["water_heater"] = _entity(hass, "water_heater", "tank", "tank", tank, owner)
    owner, plug = _device(hass, "plugs", "Washer plug")
    ids["plug"] = _entity(hass, "switch", "plugs", "washer_plug", plug, owner)
    ids["plug_power"] = _entity(
        hass,
        "sensor",
        "plugs",
        "washer_plug_power",
        plug,
        owner,
        original_device_class="power",
    )
    hass.states.async_set(ids["plug"], "off")
    hass.states.async_set(ids["plug_power"], "0", {"unit_of_measurement": "W"})
    owner, lamp = _device(hass, "plugs", "Lamp")
    ids["lamp"] = _entity(hass, "switch", "plugs", "lamp", lamp, owner)
    owner, miele = _device(hass, "miele", "Washer", model="Washing machine")
    ids["start"] = _entity(
        hass, "button", "miele", "washer_start", miele, owner, translation_key="start"
    )
    ids["remote"] = _entity(
        hass,
        "binary_sensor",
        "miele",
        "washer_remote",
        miele,
        owner,
        translation_key="remote_control",
    )
    ids["status"] = _entity(
        hass,
        "sensor",
        "miele",
        "washer_status",
        miele,
        owner,
        translation_key="status",
    )
    return ids


@asynccontextmanager
async def _household(hass: HomeAssistant) -> AsyncIterator[MockConfigEntry]:
    async with p1_server(_quiet, interval=0.5) as server:
        base = network_entry(server)
        entry = MockConfigEntry(domain=DOMAIN, title="Thuis", data=dict(base.data))
        await setup_loaded(hass, entry)
        try:
            yield entry
        finally:
            await hass.async_block_till_done()
            await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_block_till_done()


def _proposed(hass: HomeAssistant) -> dict[str, dict[str, Any]]:
    return {
        str(flow["context"]["unique_id"]): dict(flow)
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if str(flow["context"].get("unique_id", "")).startswith("adopt_")
    }


async def test_devices_in_home_assistant_are_proposed_and_adopted(
    hass: HomeAssistant,
) -> None:
    """Four proposals with reasons; a confirmed thermostat is driven."""
    ids = _home(hass)
    setpoints: list[float] = []

    async def _set_temperature(call: ServiceCall) -> None:
        setpoints.append(float(call.data["temperature"]))
        state = hass.states.get(ids["climate"])
        assert state is not None
        hass.states.async_set(
            ids["climate"],
            "heat",
            {**state.attributes, "temperature": call.data["temperature"]},
        )

    hass.services.async_register("climate", "set_temperature", _set_temperature)
    async with _household(hass) as entry:
        await hass.async_block_till_done()
        proposed = _proposed(hass)
        assert set(proposed) == {
            f"adopt_climate_{ids['climate']}",
            f"adopt_boiler_{ids['water_heater']}",
            f"adopt_plug_appliance_{ids['plug']}",
            f"adopt_remote_start_appliance_{ids['start']}",
        }
        assert {flow["step_id"] for flow in proposed.values()} == {
            "adopt_climate",
            "adopt_boiler",
            "adopt_plug_appliance",
            "adopt_remote_start_appliance",
        }
        climate_flow = proposed[f"adopt_climate_{ids['climate']}"]["flow_id"]
        form = {
            "name": "Living room",
            "entity_id": ids["climate"],
            "rated_power_w": 1800,
            "boost_power_w": 2400,
            "comfort_min_c": 22,
            "comfort_max_c": 21,
        }
        result = await hass.config_entries.flow.async_configure(climate_flow, form)
        assert result["errors"] == {"comfort_max_c": "comfort_band"}
        result = await hass.config_entries.flow.async_configure(
            climate_flow, {**form, "comfort_min_c": 19.5, "comfort_max_c": 22}
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "device_added"
        sid = next(iter(entry.subentries))
        assert entry.subentries[sid].data[CONF_DRIVER]["entity_id"] == ids["climate"]
        await hass.async_block_till_done()
        await until(
            lambda: (
                getattr(entry, "runtime_data", None) is not None
                and sid in entry.runtime_data.household.devices.drivers
            ),
            limit=10,
        )
        driver = entry.runtime_data.household.devices.drivers[sid]
        assert isinstance(driver, ClimateSetpointHeatPump)
        # Controllable: a boost raises the thermostat's setpoint in its band.
        await driver.async_set_power(driver.config.spec.max_w)
        assert setpoints[-1] == 21.0
        assert hass.states.get(ids["climate"]).attributes["temperature"] == 21.0
        # The adopted thermostat is not proposed again.
        assert f"adopt_climate_{ids['climate']}" not in {
            f"adopt_{p.kind}_{p.entity}" for p in proposals(hass, entry)
        }

        # The plug: the appliance's kind and deadline, then it is there.
        plug_flow = proposed[f"adopt_plug_appliance_{ids['plug']}"]["flow_id"]
        result = await hass.config_entries.flow.async_configure(
            plug_flow,
            {
                "name": "Washer plug",
                "appliance": "dishwasher",
                "plug_entity": ids["plug"],
                "power_entity": ids["plug_power"],
                "deadline_hours": 10,
            },
        )
        assert result["reason"] == "device_added"
        await hass.async_block_till_done()
        plug_sid = next(s for s in entry.subentries if s != sid)
        await until(
            lambda: (
                getattr(entry, "runtime_data", None) is not None
                and plug_sid in entry.runtime_data.household.devices.drivers
            ),
            limit=10,
        )
        plug = entry.runtime_data.household.devices.drivers[plug_sid]
        assert isinstance(plug, PlugAppliance)
        assert plug.config.kind.value == "dishwasher"

        # The Miele washer: its entities are filled in; confirm as it is.
        miele_flow = proposed[f"adopt_remote_start_appliance_{ids['start']}"]
        shown = await hass.config_entries.flow.async_configure(miele_flow["flow_id"])
        schema = {str(k): k for k in shown["data_schema"].schema}
        assert schema["remote_start_entity"].default() == ids["remote"]
        assert schema["operation_state_entity"].default() == ids["status"]
        result = await hass.config_entries.flow.async_configure(
            miele_flow["flow_id"],
            {
                "name": "Washer",
                "appliance": "washing_machine",
                "remote_start_entity": ids["remote"],
                "operation_state_entity": ids["status"],
                "start_entity": ids["start"],
                "deadline_hours": 12,
            },
        )
        assert result["reason"] == "device_added"
        await hass.async_block_till_done()
        await until(
            lambda: (
                getattr(entry, "runtime_data", None) is not None
                and any(
                    isinstance(d, RemoteStartAppliance)
                    for d in entry.runtime_data.household.devices.drivers.values()
                )
            ),
            limit=10,
        )


async def test_an_ignored_proposal_stays_ignored_and_new_entities_are_seen(
    hass: HomeAssistant,
) -> None:
    """Ignore the boiler; it is not proposed again; a new water heater is."""
    ids = _home(hass)
    async with _household(hass) as entry:
        await hass.async_block_till_done()
        unique_id = f"adopt_boiler_{ids['water_heater']}"
        flow = _proposed(hass)[unique_id]
        hass.config_entries.flow.async_abort(flow["flow_id"])
        result = await hass.config_entries.flow.async_init(
            DOMAIN,
            context={"source": SOURCE_IGNORE},
            data={"unique_id": unique_id, "title": "Tank"},
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        async_propose(hass, entry)
        await hass.async_block_till_done()
        assert unique_id not in _proposed(hass)
        # A water heater added later is proposed after a short wait.
        owner, device = _device(hass, "tank", "Garage tank")
        garage = _entity(hass, "water_heater", "tank", "garage", device, owner)
        await hass.async_block_till_done()
        assert f"adopt_boiler_{garage}" not in _proposed(hass)
        async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=11))
        await hass.async_block_till_done()
        assert f"adopt_boiler_{garage}" in _proposed(hass)


async def test_a_proposal_whose_household_went_or_was_added_meanwhile(
    hass: HomeAssistant,
) -> None:
    """The plug added by hand meanwhile; the household removed meanwhile."""
    ids = _home(hass)
    async with _household(hass) as entry:
        await hass.async_block_till_done()
        proposed = _proposed(hass)
        plug_flow = proposed[f"adopt_plug_appliance_{ids['plug']}"]["flow_id"]
        form = {
            "name": "Washer plug",
            "appliance": "washing_machine",
            "plug_entity": ids["plug"],
            "power_entity": ids["plug_power"],
            "deadline_hours": 12,
        }
        second = await hass.config_entries.flow.async_init(
            DOMAIN,
            context={"source": "integration_discovery"},
            data={
                "adopt": "plug_appliance",
                "entry_id": entry.entry_id,
                "name": "Again",
                "entity": "switch.other",
                "values": {},
            },
        )
        assert second["step_id"] == "adopt_plug_appliance"
        result = await hass.config_entries.flow.async_configure(plug_flow, form)
        assert result["reason"] == "device_added"
        result = await hass.config_entries.flow.async_configure(second["flow_id"], form)
        assert result["reason"] == "device_already_added"
        boiler_flow = proposed[f"adopt_boiler_{ids['water_heater']}"]["flow_id"]
        await hass.async_block_till_done()
    assert await hass.config_entries.async_remove(entry.entry_id)
    result = await hass.config_entries.flow.async_configure(
        boiler_flow,
        {
            "name": "Tank",
            "entity_id": ids["water_heater"],
            "volume_l": 120,
            "power_w": 2000,
            "thermostat_c": 65,
        },
    )
    assert result["reason"] == "household_gone"
