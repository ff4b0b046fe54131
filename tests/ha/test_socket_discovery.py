"""A HomeWizard Energy Socket found by zeroconf ends as a working household device.

The socket is ``HomeWizardSocketSim``: its local API v1 over real HTTP on
127.0.0.1. The announcement is HA's ``ZeroconfServiceInfo`` handed to the
config flow, as HA's shared zeroconf instance does (no multicast).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from ipaddress import ip_address
import json
from pathlib import Path
from types import MappingProxyType

from homeassistant.config_entries import (
    SOURCE_IGNORE,
    SOURCE_RECONFIGURE,
    SOURCE_ZEROCONF,
    ConfigEntryState,
    ConfigSubentry,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import yaml  # type: ignore[import-untyped]

from custom_components.stroomwijs import socket_flow
from custom_components.stroomwijs.const import DOMAIN
from custom_components.stroomwijs.device_flow import CONF_DRIVER
from custom_components.stroomwijs.diagnostics import (
    async_get_config_entry_diagnostics,
)
from custom_components.stroomwijs.engine.drivers.appliance import (
    CycleState,
    PlugAppliance,
)
from custom_components.stroomwijs.engine.drivers.boiler import Boiler
from custom_components.stroomwijs.engine.simulate.homewizard_socket import (
    HomeWizardSocketSim,
    fixed_load,
)
from custom_components.stroomwijs.engine.simulate.p1 import (
    TelegramValuesIn,
    build_telegram,
)
from custom_components.stroomwijs.socket_flow import socket_unique_id

from .charger_support import setup_loaded
from .p1_support import network_entry, p1_server, until

SERIAL = "5c2fafabc123"
V1 = "_hwenergy._tcp.local."
MANIFEST = Path(__file__).parents[2] / "custom_components/stroomwijs/manifest.json"


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


def _announcement(port: int, kind: str = V1, **properties: str) -> ZeroconfServiceInfo:
    return ZeroconfServiceInfo(
        ip_address=ip_address("127.0.0.1"),
        ip_addresses=[ip_address("127.0.0.1")],
        hostname="energysocket-ABC123.local.",
        name=f"energysocket-ABC123.{kind}",
        port=port,
        type=kind,
        properties={
            "product_type": "HWE-SKT",
            "product_name": "Energy Socket",
            "serial": SERIAL,
            "api_enabled": "1",
            "path": "/api/v1",
            **properties,
        },
    )


@asynccontextmanager
async def _household(
    hass: HomeAssistant, title: str = "Thuis"
) -> AsyncIterator[MockConfigEntry]:
    async with p1_server(_quiet, interval=0.5) as server:
        base = network_entry(server)
        entry = MockConfigEntry(domain=DOMAIN, title=title, data=dict(base.data))
        await setup_loaded(hass, entry)
        try:
            yield entry
        finally:
            await hass.async_block_till_done()
            if hass.config_entries.async_get_entry(entry.entry_id) is not None:
                await hass.config_entries.async_remove(entry.entry_id)
            await hass.async_block_till_done()


@asynccontextmanager
async def _socket(power_w: float = 2000.0) -> AsyncIterator[HomeWizardSocketSim]:
    sim = HomeWizardSocketSim(fixed_load(power_w), serial=SERIAL, power_on=True)
    await sim.async_start()
    try:
        yield sim
    finally:
        await sim.async_stop()


async def _discover(hass: HomeAssistant, port: int, **properties: str) -> dict:  # type: ignore[type-arg]
    return await hass.config_entries.flow.async_init(  # type: ignore[return-value]
        DOMAIN,
        context={"source": SOURCE_ZEROCONF},
        data=_announcement(port, **properties),
    )


def test_the_manifest_lists_the_sockets_zeroconf_type() -> None:
    """HA's shared zeroconf instance browses what the manifest lists."""
    assert V1 in json.loads(MANIFEST.read_text())["zeroconf"]


async def test_a_discovered_socket_becomes_a_boiler_that_is_planned_and_switched(  # noqa: PLR0915
    hass: HomeAssistant,
) -> None:
    """Discovered, confirmed, the boiler role, then switched and read back."""
    async with _household(hass) as entry, _socket() as sim:
        household = entry.runtime_data.household
        meter = household.meter
        result = await _discover(hass, sim.port)
        assert result["type"] is FlowResultType.FORM
        assert result["step_id"] == "socket_confirm"
        assert result["description_placeholders"]["name"] == "Energy Socket"
        flow = hass.config_entries.flow.async_get(result["flow_id"])
        assert flow["context"]["title_placeholders"] == {"name": "Energy Socket"}
        assert flow["context"]["unique_id"] == socket_unique_id(SERIAL)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"household": entry.entry_id, "role": "boiler"}
        )
        assert result["step_id"] == "socket_boiler"
        assert ("GET", "/api") in sim.requests  # it was asked who it is
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {"name": "Boiler", "volume_l": 80, "power_w": 2000, "thermostat_c": 65},
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "device_added"
        sid = next(iter(entry.subentries))
        sub = entry.subentries[sid]
        assert sub.unique_id == socket_unique_id(SERIAL)
        assert sub.data[CONF_DRIVER]["socket"] == {
            "host": "127.0.0.1",
            "port": sim.port,
            "serial": SERIAL,
        }
        await hass.async_block_till_done()
        await until(
            lambda: sid in entry.runtime_data.household.devices.drivers, limit=10
        )
        household = entry.runtime_data.household
        boiler = household.devices.drivers[sid]
        assert isinstance(boiler, Boiler)
        assert any(gd.device_id == sid for gd in household.guard.devices)
        # Read back: the plug's power, also as the device's HA sensor.
        await household.devices.async_poll(force=True)
        assert boiler.power_w == pytest.approx(2000.0)
        household.notify()
        await hass.async_block_till_done()
        entity_id = er.async_get(hass).async_get_entity_id(
            "sensor", DOMAIN, f"{sid}_driver_power"
        )
        assert entity_id is not None
        assert float(hass.states.get(entity_id).state) == pytest.approx(2000.0)
        device = dr.async_get(hass).async_get_device_by_identifier(
            (DOMAIN, sid), entry.entry_id
        )
        assert device is not None
        assert device.manufacturer == "HomeWizard"
        # Switched: the guard's command reaches the plug over HTTP.
        await boiler.async_set_power(0.0)
        assert not sim.power_on
        await boiler.async_set_power(2000.0)
        assert sim.power_on
        # Planned: the household's plan has the boiler in it.
        for _ in range(3):  # a loaded test machine can time the solver out
            await household.async_plan_now()
            if household.plan_inputs is not None:
                break
        assert household.plan_inputs is not None
        assert sid in {d["id"] for d in household.plan_inputs.problem["devices"]}
        assert household.planned_power_w(sid) is not None
        # The same socket is not offered again.
        again = await _discover(hass, sim.port)
        assert again["type"] is FlowResultType.ABORT
        assert again["reason"] == "already_configured"
        del meter


async def test_a_discovered_socket_as_an_appliance_is_armed_and_started(
    hass: HomeAssistant,
) -> None:
    """The appliance role: armed switches the plug off, the start switches it on."""
    async with _household(hass) as entry, _socket(power_w=3.0) as sim:
        result = await _discover(hass, sim.port)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"household": entry.entry_id, "role": "plug_appliance"}
        )
        assert result["step_id"] == "socket_plug_appliance"
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {"name": "Dishwasher", "appliance": "dishwasher", "deadline_hours": 8},
        )
        assert result["reason"] == "device_added"
        sid = next(iter(entry.subentries))
        await hass.async_block_till_done()
        await until(
            lambda: sid in entry.runtime_data.household.devices.drivers, limit=10
        )
        household = entry.runtime_data.household
        washer = household.devices.drivers[sid]
        assert isinstance(washer, PlugAppliance)
        await household.devices.async_poll(force=True)
        await household.async_arm_appliance(sid)
        assert washer.state is CycleState.ARMED
        assert not sim.power_on
        await washer.async_start()
        assert sim.power_on
        assert washer.state is CycleState.RUNNING
        # Reconfigure opens it as a driver profile and keeps its identity.
        result = await hass.config_entries.subentries.async_init(
            (entry.entry_id, "device"),
            context={"source": SOURCE_RECONFIGURE, "subentry_id": sid},
        )
        assert result["step_id"] == "profile"
        profile = yaml.safe_load(
            {str(k): k for k in result["data_schema"].schema}["profile"].default()
        )
        profile["device"]["default_deadline"] = {"hours": 6}
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"],
            {"name": "Dishwasher", "profile": yaml.safe_dump(profile)},
        )
        assert result["reason"] == "reconfigure_successful"
        assert entry.subentries[sid].unique_id == socket_unique_id(SERIAL)
        device = entry.subentries[sid].data[CONF_DRIVER]["device"]
        assert device["default_deadline"] == {"hours": 6}


async def test_an_ignored_socket_stays_ignored(hass: HomeAssistant) -> None:
    """Ignoring the discovery is respected on its next announcement."""
    async with _household(hass), _socket() as sim:
        result = await _discover(hass, sim.port)
        hass.config_entries.flow.async_abort(result["flow_id"])
        ignored = await hass.config_entries.flow.async_init(
            DOMAIN,
            context={"source": SOURCE_IGNORE},
            data={"unique_id": socket_unique_id(SERIAL), "title": "Energy Socket"},
        )
        assert ignored["type"] is FlowResultType.CREATE_ENTRY
        again = await _discover(hass, sim.port)
        assert again["type"] is FlowResultType.ABORT
        assert again["reason"] == "already_configured"


async def test_a_socket_at_a_new_address_keeps_its_device(hass: HomeAssistant) -> None:
    """The new address is stored; the running household follows it, no reload."""
    async with _household(hass) as entry, _socket() as first:
        result = await _discover(hass, first.port)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"household": entry.entry_id, "role": "boiler"}
        )
        await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {"name": "Boiler", "volume_l": 80, "power_w": 2000, "thermostat_c": 65},
        )
        sid = next(iter(entry.subentries))
        await hass.async_block_till_done()
        await until(
            lambda: sid in entry.runtime_data.household.devices.drivers, limit=10
        )
        household = entry.runtime_data.household
        driver = household.devices.drivers[sid]
        # The socket's serial (its MAC) and address stay out of the diagnostics.
        diagnostics = repr(await async_get_config_entry_diagnostics(hass, entry))
        assert SERIAL not in diagnostics.lower()
        assert "127.0.0.1" not in diagnostics
        async with _socket(power_w=1500.0) as moved:
            again = await _discover(hass, moved.port)
            assert again["reason"] == "already_configured"
            socket = entry.subentries[sid].data[CONF_DRIVER]["socket"]
            assert socket["port"] == moved.port
            assert len(entry.subentries) == 1
            await hass.async_block_till_done()
            assert entry.runtime_data.household is household  # not reloaded
            assert household.devices.drivers[sid] is driver
            stored = household.config.device(sid)
            assert stored is not None
            assert stored.driver["socket"]["port"] == moved.port
            await household.devices.async_poll(force=True)
            assert driver.power_w == pytest.approx(1500.0)
            assert ("GET", "/api") in moved.requests  # its serial checked there
            # The same address again changes nothing.
            before = dict(entry.subentries[sid].data)
            await _discover(hass, moved.port)
            assert dict(entry.subentries[sid].data) == before
            # A household that is not running stores it and is set up again.
            await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_block_till_done()
            await _discover(hass, first.port)
            assert entry.subentries[sid].data[CONF_DRIVER]["socket"]["port"] == (
                first.port
            )
            await hass.async_block_till_done()
            await until(lambda: entry.state is ConfigEntryState.LOADED, limit=10)


@pytest.mark.parametrize(
    ("kind", "properties", "reason"),
    [
        ("_homewizard._tcp.local.", {"product_type": "HWE-KWH3"}, "not_p1_meter"),
        ("_homewizard._tcp.local.", {"product_type": "HWE-BAT"}, "not_p1_meter"),
        (V1, {"api_enabled": "0"}, "socket_api_disabled"),
        (V1, {"serial": "not-a-serial"}, "invalid_discovery"),
    ],
)
async def test_a_socket_that_cannot_be_driven_is_not_offered(
    hass: HomeAssistant, kind: str, properties: dict[str, str], reason: str
) -> None:
    """Another HomeWizard product, the local API off, no usable serial: aborted."""
    async with _household(hass):
        result = await hass.config_entries.flow.async_init(
            DOMAIN,
            context={"source": SOURCE_ZEROCONF},
            data=_announcement(80, kind, **properties),
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == reason


async def test_a_socket_without_a_household_waits_for_one(hass: HomeAssistant) -> None:
    """No household yet: nothing to add the socket to."""
    result = await _discover(hass, 80)
    assert result["reason"] == "socket_household_first"


async def test_the_confirm_step_checks_the_socket_and_the_household(
    hass: HomeAssistant,
) -> None:
    """Unreachable, a stranger at the address, a household gone, a bad tank."""
    async with _household(hass) as entry, _household(hass, "Schuur") as shed:
        async with _socket() as sim:
            result = await _discover(hass, sim.port)
            flow_id = result["flow_id"]
            sim.serial = "5c2faf000000"
            result = await hass.config_entries.flow.async_configure(
                flow_id, {"household": entry.entry_id, "role": "boiler"}
            )
            assert result["errors"] == {"base": "socket_unreachable"}
            assert "another device" in result["description_placeholders"]["error"]
            sim.serial = SERIAL
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"household": entry.entry_id, "role": "boiler"}
        )
        assert result["errors"] == {"base": "socket_unreachable"}
        await hass.config_entries.async_remove(shed.entry_id)
        await hass.async_block_till_done()
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"household": shed.entry_id, "role": "boiler"}
        )
        assert result["errors"] == {"household": "household_gone"}
        async with _socket() as sim:
            flow = hass.config_entries.flow._progress[flow_id]
            flow._socket["port"] = sim.port  # type: ignore[attr-defined]
            result = await hass.config_entries.flow.async_configure(
                flow_id, {"household": entry.entry_id, "role": "boiler"}
            )
            assert result["step_id"] == "socket_boiler"
            result = await hass.config_entries.flow.async_configure(
                flow_id,
                {"name": "", "volume_l": 80, "power_w": 2000, "thermostat_c": 50},
            )
            assert result["errors"] == {"base": "invalid_device"}
            assert "disinfect" in result["description_placeholders"]["error"]
            result = await hass.config_entries.flow.async_configure(
                flow_id,
                {
                    "name": "",
                    "volume_l": 80,
                    "power_w": 2000,
                    "thermostat_c": 65,
                    "temperature_entity": "sensor.tank",
                },
            )
            assert result["reason"] == "device_added"
            sub = next(iter(entry.subentries.values()))
            assert sub.title == "Energy Socket"
            device = sub.data[CONF_DRIVER]["device"]
            assert device["temperature_entity"] == "sensor.tank"


async def test_a_socket_added_meanwhile_or_a_household_gone_ends_the_flow(
    hass: HomeAssistant,
) -> None:
    """The steps abort when the socket got added or its household went."""
    form = {"name": "B", "volume_l": 80, "power_w": 2000, "thermostat_c": 65}
    async with _socket() as sim:
        async with _household(hass) as entry:
            result = await _discover(hass, sim.port)
            result = await hass.config_entries.flow.async_configure(
                result["flow_id"], {"household": entry.entry_id, "role": "boiler"}
            )
            # Added meanwhile by another way in (a driver profile, say).
            hass.config_entries.async_add_subentry(
                entry,
                ConfigSubentry(
                    data=MappingProxyType({CONF_DRIVER: {}}),
                    subentry_type="device",
                    title="B",
                    unique_id=socket_unique_id(SERIAL),
                ),
            )
            result = await hass.config_entries.flow.async_configure(
                result["flow_id"], form
            )
            assert result["reason"] == "device_already_added"
            hass.config_entries.async_remove_subentry(
                entry, next(iter(entry.subentries))
            )
            await hass.async_block_till_done()
        async with _household(hass, "Nieuw") as entry:
            result = await _discover(hass, sim.port)
            confirm = result["flow_id"]
            result = await _discover(hass, sim.port)  # the same socket once more
            assert result["reason"] == "already_in_progress"
            result = await hass.config_entries.flow.async_configure(
                confirm, {"household": entry.entry_id, "role": "boiler"}
            )
            await hass.config_entries.async_remove(entry.entry_id)
            await hass.async_block_till_done()
            result = await hass.config_entries.flow.async_configure(confirm, form)
            assert result["reason"] == "household_gone"
        async with _household(hass, "Later") as entry:
            result = await _discover(hass, sim.port)
            await hass.config_entries.async_remove(entry.entry_id)
            await hass.async_block_till_done()
            result = await hass.config_entries.flow.async_configure(
                result["flow_id"], {"household": entry.entry_id, "role": "boiler"}
            )
            assert result["reason"] == "socket_household_first"


async def test_a_socket_announced_on_api_v2_is_offered_through_api_v1(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """_homewizard._tcp: the same flow; the confirm step says when v1 is off."""
    v2 = "_homewizard._tcp.local."
    async with _household(hass) as entry, _socket() as sim:
        monkeypatch.setattr(socket_flow, "SOCKET_V1_PORT", sim.port)
        sim.api_enabled = False
        info = _announcement(443, v2, api_enabled="-")
        info.properties.pop("api_enabled")
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_ZEROCONF}, data=info
        )
        assert result["step_id"] == "socket_confirm"
        flow_id = result["flow_id"]
        again = await _discover(hass, sim.port)  # its v1 announcement: one flow
        assert again["reason"] == "already_in_progress"
        choice = {"household": entry.entry_id, "role": "boiler"}
        result = await hass.config_entries.flow.async_configure(flow_id, choice)
        assert result["errors"] == {"base": "socket_unreachable"}
        assert "switched off" in result["description_placeholders"]["error"]
        sim.api_enabled = True
        result = await hass.config_entries.flow.async_configure(flow_id, choice)
        assert result["step_id"] == "socket_boiler"
        result = await hass.config_entries.flow.async_configure(
            flow_id,
            {"name": "Boiler", "volume_l": 80, "power_w": 2000, "thermostat_c": 65},
        )
        assert result["reason"] == "device_added"
        sid = next(iter(entry.subentries))
        assert entry.subentries[sid].data[CONF_DRIVER]["socket"]["port"] == sim.port
        # Announced on v2 again: its v1 port is kept, not the v2 one.
        monkeypatch.setattr(socket_flow, "SOCKET_V1_PORT", 80)
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_ZEROCONF}, data=info
        )
        assert result["reason"] == "already_configured"
        assert entry.subentries[sid].data[CONF_DRIVER]["socket"]["port"] == sim.port
