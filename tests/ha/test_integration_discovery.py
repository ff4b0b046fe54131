"""Home Connect, Miele, Daikin, OpenEVSE and EEBus announcements.

The announcements are HA's ``ZeroconfServiceInfo`` handed to the config
flow, as HA's shared zeroconf instance does (no multicast). The other
integrations' devices and entities are registry rows, as those
integrations make them.
"""

from __future__ import annotations

from ipaddress import ip_address
import json
import logging
from pathlib import Path
from typing import Any

from homeassistant.config_entries import SOURCE_IGNORE, SOURCE_ZEROCONF
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.stroomwijs.adoption import appliance_kind
from custom_components.stroomwijs.charger import CONF_OCPP_PORT
from custom_components.stroomwijs.const import DOMAIN
from custom_components.stroomwijs.device_flow import CONF_DRIVER
from custom_components.stroomwijs.diagnostics import (
    async_get_config_entry_diagnostics,
)
from custom_components.stroomwijs.engine.drivers.appliance import (
    RemoteStartAppliance,
)
from custom_components.stroomwijs.engine.drivers.climate_setpoint import (
    ClimateSetpointHeatPump,
)
from custom_components.stroomwijs.integration_discovery import (
    EEBUS_NODES,
    runs_ocpp_server,
)

from .p1_support import until
from .test_socket_discovery import _household

MANIFEST = Path(__file__).parents[2] / "custom_components/stroomwijs/manifest.json"
HAID = "SIEMENS-SN658X06TE-68A40E000001"
MIELE_ID = "000123456789"
DAIKIN_MAC = "a4:0d:bc:01:02:03"


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets; pytest-socket still limits connections to 127.0.0.1."""


def _announcement(kind: str, name: str, **txt: str) -> ZeroconfServiceInfo:
    service = f"_{kind}._tcp.local."
    return ZeroconfServiceInfo(
        ip_address=ip_address("127.0.0.1"),
        ip_addresses=[ip_address("127.0.0.1")],
        hostname=f"{name.lower()}.local.",
        name=f"{name}.{service}",
        port=443,
        type=service,
        properties=txt,
    )


HOME_CONNECT = _announcement("homeconnect", HAID, haid=HAID, type="Dishwasher")
MIELE = _announcement("mieleathome", f"Miele-{MIELE_ID}", id=MIELE_ID)
DAIKIN = _announcement("dkapi", "daikin-unit", mac=DAIKIN_MAC.replace(":", ""))
OPENEVSE = _announcement("openevse", "openevse-7b2c", id="openevse-7b2c")
SHIP = _announcement(
    "ship", "Vaillant-aroTHERM", ski="0123abcd", brand="Vaillant", type="HeatPump"
)


async def _discover(hass: HomeAssistant, info: ZeroconfServiceInfo) -> dict:  # type: ignore[type-arg]
    return await hass.config_entries.flow.async_init(  # type: ignore[return-value]
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=info
    )


def _integration(
    hass: HomeAssistant,
    domain: str,
    name: str,
    *,
    identifier: str | None = None,
    mac: str | None = None,
    model: str | None = None,
) -> tuple[MockConfigEntry, dr.DeviceEntry]:
    owner = MockConfigEntry(domain=domain, title=name)
    owner.add_to_hass(hass)
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=owner.entry_id,
        identifiers={(domain, identifier)} if identifier else set(),
        connections={(dr.CONNECTION_NETWORK_MAC, mac)} if mac else set(),
        name=name,
        model=model,
    )
    return owner, device


def _entity(
    hass: HomeAssistant,
    domain: str,
    owner: MockConfigEntry,
    device: dr.DeviceEntry,
    object_id: str,
    **extra: Any,  # noqa: ANN401
) -> str:
    return (
        er.async_get(hass)
        .async_get_or_create(
            domain,
            owner.domain,
            object_id,
            suggested_object_id=object_id,
            device_id=device.id,
            config_entry=owner,
            **extra,
        )
        .entity_id
    )


def test_the_manifest_lists_every_type_of_the_issue() -> None:
    """HA's shared zeroconf instance browses what the manifest lists."""
    zeroconf = json.loads(MANIFEST.read_text())["zeroconf"]
    for kind in (
        "_hwenergy",
        "_homewizard",
        "_shelly",
        "_dkapi",
        "_homeconnect",
        "_mieleathome",
        "_openevse",
        "_ship",
    ):
        assert f"{kind}._tcp.local." in zeroconf


async def test_a_miele_appliance_waits_for_its_integration_then_is_adopted(
    hass: HomeAssistant,
) -> None:
    """Confirm: first the Miele integration, then its device's adoption form."""
    async with _household(hass) as entry:
        result = await _discover(hass, MIELE)
        assert result["step_id"] == "integration_confirm"
        assert result["description_placeholders"]["integration"] == "Miele"
        flow_id = result["flow_id"]
        choice = {"household": entry.entry_id}
        result = await hass.config_entries.flow.async_configure(flow_id, choice)
        assert result["errors"] == {"base": "integration_missing"}
        owner, device = _integration(
            hass, "miele", "Washer", identifier="other", model="Washing machine"
        )
        result = await hass.config_entries.flow.async_configure(flow_id, choice)
        assert result["errors"] == {"base": "integration_device_missing"}
        owner, device = _integration(
            hass, "miele", "Wasmachine", identifier=MIELE_ID, model="Washing machine"
        )
        start = _entity(
            hass, "button", owner, device, "wm_start", translation_key="start"
        )
        remote = _entity(
            hass,
            "binary_sensor",
            owner,
            device,
            "wm_remote",
            translation_key="remote_control",
        )
        status = _entity(
            hass, "sensor", owner, device, "wm_status", translation_key="status"
        )
        hass.states.async_set(remote, "on")
        hass.states.async_set(status, "programmed")
        result = await hass.config_entries.flow.async_configure(flow_id, choice)
        assert result["step_id"] == "adopt_remote_start_appliance"
        result = await hass.config_entries.flow.async_configure(
            flow_id,
            {
                "name": "Wasmachine",
                "appliance": "washing_machine",
                "start_entity": start,
                "remote_start_entity": remote,
                "operation_state_entity": status,
                "deadline_hours": 10,
            },
        )
        assert result["reason"] == "device_added"
        sid = next(iter(entry.subentries))
        assert entry.subentries[sid].data[CONF_DRIVER]["start_entity"] == start
        await hass.async_block_till_done()
        await until(
            lambda: sid in entry.runtime_data.household.devices.drivers, limit=10
        )
        washer = entry.runtime_data.household.devices.drivers[sid]
        assert isinstance(washer, RemoteStartAppliance)
        # Announced again: the same flow id would come back; a new flow for
        # the device now finds it in the household.
        again = await _discover(hass, MIELE)
        result = await hass.config_entries.flow.async_configure(
            again["flow_id"], choice
        )
        assert result["reason"] == "device_already_added"


async def test_a_daikin_unit_is_adopted_as_a_heat_pump_by_its_mac(
    hass: HomeAssistant,
) -> None:
    """_dkapi._tcp: the Daikin device with the announced MAC, its climate entity."""
    async with _household(hass) as entry:
        owner, device = _integration(hass, "daikin", "Woonkamer", mac=DAIKIN_MAC)
        climate = _entity(
            hass,
            "climate",
            owner,
            device,
            "woonkamer",
            capabilities={"hvac_modes": ["heat", "cool", "off"]},
        )
        hass.states.async_set(
            climate, "heat", {"temperature": 20.5, "current_temperature": 20.0}
        )
        result = await _discover(hass, DAIKIN)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"household": entry.entry_id}
        )
        assert result["step_id"] == "adopt_climate"
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {
                "name": "Woonkamer",
                "entity_id": climate,
                "rated_power_w": 1200,
                "comfort_min_c": 19.5,
                "comfort_max_c": 22,
            },
        )
        assert result["reason"] == "device_added", result
        sid = next(iter(entry.subentries))
        await hass.async_block_till_done()
        await until(
            lambda: sid in entry.runtime_data.household.devices.drivers, limit=10
        )
        assert isinstance(
            entry.runtime_data.household.devices.drivers[sid], ClimateSetpointHeatPump
        )


async def test_a_home_connect_dishwasher_gets_the_remote_start_form(
    hass: HomeAssistant,
) -> None:
    """Its remote start and operation state are filled in; the start is chosen."""
    async with _household(hass) as entry:
        owner, device = _integration(
            hass, "home_connect", "Dishwasher", identifier=HAID, model="SN658X06TE"
        )
        remote = _entity(
            hass,
            "binary_sensor",
            owner,
            device,
            "dw_remote_start",
            translation_key="remote_start",
        )
        state = _entity(
            hass,
            "sensor",
            owner,
            device,
            "dw_operation_state",
            translation_key="operation_state",
        )
        result = await _discover(hass, HOME_CONNECT)
        assert result["description_placeholders"]["integration"] == "Home Connect"
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"household": entry.entry_id}
        )
        assert result["step_id"] == "adopt_remote_start_appliance"
        defaults = {
            str(key): key.default()
            for key in result["data_schema"].schema
            if callable(getattr(key, "default", None))
        }
        assert defaults["remote_start_entity"] == remote
        assert defaults["operation_state_entity"] == state
        assert defaults["appliance"] == "dishwasher"


async def test_an_integration_device_with_nothing_to_drive(
    hass: HomeAssistant,
) -> None:
    """A Daikin device without a heating climate entity: the form says so."""
    async with _household(hass) as entry, _household(hass, "Schuur") as shed:
        owner, device = _integration(hass, "daikin", "Koeler", mac=DAIKIN_MAC)
        _entity(
            hass,
            "climate",
            owner,
            device,
            "koeler",
            capabilities={"hvac_modes": ["cool", "off"]},
        )
        result = await _discover(hass, DAIKIN)
        flow_id = result["flow_id"]
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"household": entry.entry_id}
        )
        assert result["errors"] == {"base": "integration_nothing_to_drive"}
        await hass.config_entries.async_remove(shed.entry_id)
        await hass.async_block_till_done()
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"household": shed.entry_id}
        )
        assert result["errors"] == {"household": "household_gone"}


async def test_openevse_is_shown_the_ocpp_url(hass: HomeAssistant) -> None:
    """Without the OCPP server the form says so; with it, the URL to enter."""
    async with _household(hass) as entry:
        result = await _discover(hass, OPENEVSE)
        assert result["step_id"] == "openevse_confirm"
        assert result["errors"] == {"base": "ocpp_server_off"}
        flow_id = result["flow_id"]
        result = await hass.config_entries.flow.async_configure(flow_id, {})
        assert result["errors"] == {"base": "ocpp_server_off"}
        hass.config_entries.async_update_entry(
            entry, options={**entry.options, CONF_OCPP_PORT: 9000}
        )
        result = await hass.config_entries.flow.async_configure(flow_id, {})
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "openevse_use_ocpp"
        url = result["description_placeholders"]["url"]
        assert url.startswith("ws://")
        assert url.endswith(":9000/ocpp/")


async def test_an_eebus_node_is_recorded_not_offered(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """_ship._tcp: logged once and kept for the diagnostics; aborted."""
    caplog.set_level(logging.INFO)
    for _ in range(2):
        result = await _discover(hass, SHIP)
        assert result["reason"] == "eebus_not_supported"
    nodes = hass.data[EEBUS_NODES]
    assert list(nodes) == ["ship_0123abcd"]
    assert nodes["ship_0123abcd"]["kind"] == "heat_pump"
    assert sum("EEBus node" in r.getMessage() for r in caplog.records) == 1
    async with _household(hass) as entry:
        diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    [node] = diagnostics["eebus_nodes"]
    assert node["note"] == "EEBus node by Vaillant: recorded for a later bridge"
    assert node["host"] == "**REDACTED**"


async def test_ignored_or_without_a_household(hass: HomeAssistant) -> None:
    """No household: aborted; an ignored appliance stays ignored."""
    result = await _discover(hass, MIELE)
    assert result["reason"] == "household_first"
    async with _household(hass):
        result = await _discover(hass, MIELE)
        hass.config_entries.flow.async_abort(result["flow_id"])
        ignored = await hass.config_entries.flow.async_init(
            DOMAIN,
            context={"source": SOURCE_IGNORE},
            data={"unique_id": f"mieleathome_{MIELE_ID}", "title": "Miele"},
        )
        assert ignored["type"] is FlowResultType.CREATE_ENTRY
        result = await _discover(hass, MIELE)
        assert result["reason"] == "already_configured"


def test_a_dishwasher_is_not_a_washer() -> None:
    """The appliance kind reads the longer word first (Miele and Home Connect)."""
    assert appliance_kind("Dishwasher G 7310") == "dishwasher"
    assert appliance_kind("Tumble dryer") == "dryer"
    assert appliance_kind("Washer WWV 980") == "washing_machine"
    assert appliance_kind("SN658X06TE") == "washing_machine"


async def test_the_edges_of_the_integration_discovery(hass: HomeAssistant) -> None:
    """No usable address, too many EEBus nodes, a household gone, no state entity."""
    link_local = ZeroconfServiceInfo(
        ip_address=ip_address("fe80::1"),
        ip_addresses=[ip_address("fe80::1")],
        hostname="",
        name="x._mieleathome._tcp.local.",
        port=443,
        type="_mieleathome._tcp.local.",
        properties={},
    )
    assert (await _discover(hass, link_local))["reason"] == "invalid_discovery"
    for index in range(40):
        await _discover(hass, _announcement("ship", f"node{index}", ski=f"ski{index}"))
    assert len(hass.data[EEBUS_NODES]) == 32
    async with _household(hass) as entry:
        owner, device = _integration(
            hass, "home_connect", "Oven", identifier=HAID, model="HB678GBS6"
        )
        _entity(
            hass,
            "binary_sensor",
            owner,
            device,
            "oven_remote_start",
            translation_key="remote_start",
        )
        result = await _discover(hass, HOME_CONNECT)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"household": entry.entry_id}
        )
        assert result["errors"] == {"base": "integration_nothing_to_drive"}
        pending = [await _discover(hass, MIELE), await _discover(hass, OPENEVSE)]
    for flow in pending:
        result = await hass.config_entries.flow.async_configure(
            flow["flow_id"], {"household": entry.entry_id} if flow is pending[0] else {}
        )
        assert result["reason"] == "household_first"


def test_the_ocpp_server_runs_with_an_ocpp_charger_or_switched_on() -> None:
    """As the engine decides: the port in the options, or an OCPP charger."""
    plain = MockConfigEntry(domain=DOMAIN, data={})
    assert not runs_ocpp_server(plain)
    assert runs_ocpp_server(MockConfigEntry(domain=DOMAIN, options={"ocpp_port": 9100}))
    subentry = {
        "data": {"kind": "ocpp", "charger_id": "evse-1"},
        "subentry_type": "charger",
        "title": "EVSE",
        "unique_id": "evse-1",
    }
    quasar = {**subentry, "data": {"kind": "quasar"}, "unique_id": "q"}
    assert runs_ocpp_server(MockConfigEntry(domain=DOMAIN, subentries_data=[subentry]))
    assert not runs_ocpp_server(
        MockConfigEntry(domain=DOMAIN, subentries_data=[quasar])
    )
