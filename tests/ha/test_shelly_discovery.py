"""A Shelly Gen2+ relay found by zeroconf ends as a working household device.

The device is ``ShellySim``: its RPC API over real HTTP on 127.0.0.1. The
announcement is HA's ``ZeroconfServiceInfo`` handed to the config flow, as
HA's shared zeroconf instance does (no multicast).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from ipaddress import ip_address
import json
from pathlib import Path

from homeassistant.config_entries import SOURCE_IGNORE, SOURCE_USER, SOURCE_ZEROCONF
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
import pytest
import yaml  # type: ignore[import-untyped]

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
from custom_components.stroomwijs.engine.drivers.shelly import ShellyPlug
from custom_components.stroomwijs.engine.simulate.homewizard_socket import fixed_load
from custom_components.stroomwijs.engine.simulate.shelly import ShellySim
from custom_components.stroomwijs.shelly_flow import shelly_unique_id

from .p1_support import until
from .test_socket_discovery import _household

MAC = "a8032abe54dc"
PASSWORD = "geheim-42"  # noqa: S105 - the simulated device's
SHELLY = "_shelly._tcp.local."
HTTP = "_http._tcp.local."
MANIFEST = Path(__file__).parents[2] / "custom_components/stroomwijs/manifest.json"
BOILER = {"name": "Boiler", "volume_l": 80, "power_w": 2000, "thermostat_c": 65}


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets; pytest-socket still limits connections to 127.0.0.1."""


def _announcement(
    port: int, kind: str = SHELLY, device: str = f"shellyplusplugs-{MAC}", **txt: str
) -> ZeroconfServiceInfo:
    properties = {"gen": "2", "app": "PlusPlugS", "ver": "1.4.4", **txt}
    return ZeroconfServiceInfo(
        ip_address=ip_address("127.0.0.1"),
        ip_addresses=[ip_address("127.0.0.1")],
        hostname=f"{device}.local.",
        name=f"{device}.{kind}",
        port=port,
        type=kind,
        properties={k: v for k, v in properties.items() if v != "-"},
    )


@asynccontextmanager
async def _shelly(**settings: object) -> AsyncIterator[ShellySim]:
    sim = ShellySim(fixed_load(2000.0), power_on=True, **settings)  # type: ignore[arg-type]
    await sim.async_start()
    try:
        yield sim
    finally:
        await sim.async_stop()


async def _discover(hass: HomeAssistant, info: ZeroconfServiceInfo) -> dict:  # type: ignore[type-arg]
    return await hass.config_entries.flow.async_init(  # type: ignore[return-value]
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=info
    )


def test_the_manifest_lists_the_shelly_types() -> None:
    """HA's shared zeroconf instance browses _shelly._tcp and shelly* on _http."""
    zeroconf = json.loads(MANIFEST.read_text())["zeroconf"]
    assert SHELLY in zeroconf
    assert {"type": HTTP, "name": "shelly*"} in zeroconf


async def test_a_discovered_shelly_becomes_a_boiler_that_is_switched(
    hass: HomeAssistant,
) -> None:
    """Discovered, confirmed, the boiler role; switched and read back over RPC."""
    async with _household(hass) as entry, _shelly() as sim:
        result = await _discover(hass, _announcement(sim.port))
        assert result["type"] is FlowResultType.FORM
        assert result["step_id"] == "shelly_confirm"
        flow = hass.config_entries.flow.async_get(result["flow_id"])
        assert flow["context"]["unique_id"] == shelly_unique_id(MAC)
        assert flow["context"]["title_placeholders"] == {"name": "Shelly PlusPlugS"}
        assert sim.requests == []  # nothing asked before the user confirms
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"household": entry.entry_id, "role": "boiler"}
        )
        assert result["step_id"] == "shelly_boiler"
        assert ("GET", "/shelly") in sim.requests
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], BOILER
        )
        assert result["reason"] == "device_added"
        sid = next(iter(entry.subentries))
        sub = entry.subentries[sid]
        assert sub.unique_id == shelly_unique_id(MAC)
        assert sub.data[CONF_DRIVER]["driver"] == "shelly"
        assert sub.data[CONF_DRIVER]["socket"] == {
            "host": "127.0.0.1",
            "port": sim.port,
            "mac": MAC,
            "model": "PlusPlugS",
        }
        await hass.async_block_till_done()
        await until(
            lambda: sid in entry.runtime_data.household.devices.drivers, limit=10
        )
        household = entry.runtime_data.household
        boiler = household.devices.drivers[sid]
        assert isinstance(boiler, Boiler)
        assert isinstance(household.devices.sockets[sid], ShellyPlug)
        assert any(gd.device_id == sid for gd in household.guard.devices)
        await household.devices.async_poll(force=True)
        assert boiler.power_w == pytest.approx(2000.0)
        await boiler.async_set_power(0.0)
        assert not sim.power_on
        await boiler.async_set_power(2000.0)
        assert sim.power_on
        device = dr.async_get(hass).async_get_device_by_identifier(
            (DOMAIN, sid), entry.entry_id
        )
        assert device is not None
        assert device.manufacturer == "Shelly"
        assert device.model is not None
        assert device.model.startswith("PlusPlugS")
        # The same relay is not offered again, by either announcement.
        for kind in (SHELLY, HTTP):
            again = await _discover(hass, _announcement(sim.port, kind))
            assert again["reason"] == "already_configured"


async def test_a_shelly_with_a_password_asks_for_it(hass: HomeAssistant) -> None:
    """auth_en: no or a wrong password is asked again; the right one is kept."""
    async with _household(hass) as entry, _shelly(password=PASSWORD) as sim:
        result = await _discover(hass, _announcement(sim.port))
        choice = {"household": entry.entry_id, "role": "plug_appliance"}
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], choice
        )
        assert result["errors"] == {"password": "shelly_password"}
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {**choice, "password": "fout"}
        )
        assert result["errors"] == {"password": "shelly_password"}
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {**choice, "password": PASSWORD}
        )
        assert result["step_id"] == "shelly_plug_appliance"
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {"name": "Vaatwasser", "appliance": "dishwasher", "deadline_hours": 8},
        )
        assert result.get("reason") == "device_added", result
        sid = next(iter(entry.subentries))
        assert entry.subentries[sid].data[CONF_DRIVER]["socket"]["password"] == (
            PASSWORD
        )
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
        # The password is the household's secret: an export leaves it out,
        # and a household set up again gives it to the relay.
        config = household.config
        assert config.secrets[f"devices.{sid}.password"] == PASSWORD
        assert PASSWORD not in json.dumps(config.to_dict(include_secrets=False))
        profile = await hass.services.async_call(
            DOMAIN,
            "export_profile",
            {"config_entry_id": entry.entry_id},
            blocking=True,
            return_response=True,
        )
        assert PASSWORD not in str(profile["profile"])
        assert f"devices.{sid}.password" in profile["secrets_left_out"]
        await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
        household = entry.runtime_data.household
        await household.devices.async_poll(force=True)
        assert household.devices.sockets[sid].available
        # Removed: its secret goes with it.
        hass.config_entries.async_remove_subentry(entry, sid)
        await hass.async_block_till_done()
        assert f"devices.{sid}.password" not in household.config.secrets


@pytest.mark.parametrize(
    ("info", "reason"),
    [
        (_announcement(80, HTTP, "shellyplug-s-7c87ce123456", gen="-"), "shelly_gen1"),
        (_announcement(80, SHELLY, gen="1"), "shelly_gen1"),
        (_announcement(80, SHELLY, "myplug"), "invalid_discovery"),
        (_announcement(70000, SHELLY), "invalid_discovery"),
    ],
)
async def test_a_gen1_or_nameless_shelly_is_not_offered(
    hass: HomeAssistant, info: ZeroconfServiceInfo, reason: str
) -> None:
    """A first-generation Shelly, or one without its id in the name: aborted."""
    async with _household(hass):
        result = await _discover(hass, info)
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == reason


async def test_the_confirm_step_refuses_gen1_unmetered_and_strangers(
    hass: HomeAssistant,
) -> None:
    """What the device says at confirm wins over what it announced."""
    async with _household(hass) as entry:
        choice = {"household": entry.entry_id, "role": "boiler"}
        async with _shelly(gen=1) as sim:
            result = await _discover(hass, _announcement(sim.port))
            result = await hass.config_entries.flow.async_configure(
                result["flow_id"], choice
            )
            assert result["reason"] == "shelly_gen1"
        async with _shelly(metered=False, app="Plus1") as sim:
            result = await _discover(hass, _announcement(sim.port))
            result = await hass.config_entries.flow.async_configure(
                result["flow_id"], choice
            )
            assert result["reason"] == "shelly_not_metered"
        async with _shelly(mac="A8032A000000") as sim:
            result = await _discover(hass, _announcement(sim.port))
            flow_id = result["flow_id"]
            result = await hass.config_entries.flow.async_configure(flow_id, choice)
            assert result["errors"] == {"base": "shelly_unreachable"}
            assert "another device" in result["description_placeholders"]["error"]
        result = await hass.config_entries.flow.async_configure(flow_id, choice)
        assert result["errors"] == {"base": "shelly_unreachable"}  # gone now
        assert entry.subentries == {}


async def test_an_ignored_shelly_stays_ignored(hass: HomeAssistant) -> None:
    """Ignoring the discovery is respected on its next announcement."""
    async with _household(hass), _shelly() as sim:
        result = await _discover(hass, _announcement(sim.port))
        hass.config_entries.flow.async_abort(result["flow_id"])
        ignored = await hass.config_entries.flow.async_init(
            DOMAIN,
            context={"source": SOURCE_IGNORE},
            data={"unique_id": shelly_unique_id(MAC), "title": "Shelly"},
        )
        assert ignored["type"] is FlowResultType.CREATE_ENTRY
        again = await _discover(hass, _announcement(sim.port))
        assert again["reason"] == "already_configured"


async def test_a_shelly_at_a_new_address_is_followed_without_a_reload(
    hass: HomeAssistant,
) -> None:
    """The new address is stored; the running household follows it."""
    async with _household(hass) as entry, _shelly() as first:
        result = await _discover(hass, _announcement(first.port))
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"household": entry.entry_id, "role": "boiler"}
        )
        await hass.config_entries.flow.async_configure(result["flow_id"], BOILER)
        sid = next(iter(entry.subentries))
        await hass.async_block_till_done()
        await until(
            lambda: sid in entry.runtime_data.household.devices.drivers, limit=10
        )
        household = entry.runtime_data.household
        driver = household.devices.drivers[sid]
        # The relay's MAC and address stay out of the diagnostics.
        diagnostics = repr(await async_get_config_entry_diagnostics(hass, entry))
        assert MAC not in diagnostics.lower()
        assert "127.0.0.1" not in diagnostics
        moved = ShellySim(fixed_load(1500.0), power_on=True)
        await moved.async_start()
        try:
            again = await _discover(hass, _announcement(moved.port))
            assert again["reason"] == "already_configured"
            socket = entry.subentries[sid].data[CONF_DRIVER]["socket"]
            assert socket["port"] == moved.port
            assert socket["mac"] == MAC
            await hass.async_block_till_done()
            assert entry.runtime_data.household is household  # not reloaded
            assert household.devices.drivers[sid] is driver
            await household.devices.async_poll(force=True)
            assert driver.power_w == pytest.approx(1500.0)
            assert moved.requests[0] == ("GET", "/shelly")  # its MAC checked there
        finally:
            await moved.async_stop()


async def test_a_shelly_without_a_household_or_a_usable_answer(
    hass: HomeAssistant,
) -> None:
    """No household, a household gone, a password that cannot be one."""
    result = await _discover(hass, _announcement(80))
    assert result["reason"] == "socket_household_first"
    async with _shelly(password=PASSWORD) as sim:
        async with _household(hass) as entry, _household(hass, "Schuur") as shed:
            result = await _discover(hass, _announcement(sim.port))
            flow_id = result["flow_id"]
            result = await hass.config_entries.flow.async_configure(
                flow_id,
                {"household": entry.entry_id, "role": "boiler", "password": "a\nb"},
            )
            assert result["errors"] == {"password": "shelly_password"}
            await hass.config_entries.async_remove(shed.entry_id)
            await hass.async_block_till_done()
            result = await hass.config_entries.flow.async_configure(
                flow_id, {"household": shed.entry_id, "role": "boiler"}
            )
            assert result["errors"] == {"household": "household_gone"}
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"household": entry.entry_id, "role": "boiler"}
        )
        assert result["reason"] == "socket_household_first"


async def test_a_shelly_added_by_a_profile_is_known_to_its_announcement(
    hass: HomeAssistant,
) -> None:
    """Add device > profile: the same unique id, so discovery finds the device."""
    async with _household(hass) as entry, _shelly(password=PASSWORD) as sim:
        result = await hass.config_entries.subentries.async_init(
            (entry.entry_id, "device"), context={"source": SOURCE_USER}
        )
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"], {"next_step_id": "profile"}
        )
        profile = yaml.safe_dump(
            {
                "driver": "shelly",
                "socket": {
                    "host": "127.0.0.1",
                    "port": sim.port,
                    "mac": MAC.upper(),
                    "password": PASSWORD,
                },
                "device": {"driver": "plug_appliance", "kind": "washing_machine"},
            }
        )
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"], {"name": "Wasmachine", "profile": profile}
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        sid = next(iter(entry.subentries))
        assert entry.subentries[sid].unique_id == shelly_unique_id(MAC)
        await hass.async_block_till_done()
        await until(
            lambda: sid in entry.runtime_data.household.devices.drivers, limit=10
        )
        household = entry.runtime_data.household
        await household.devices.async_poll(force=True)
        assert household.devices.sockets[sid].available  # the password works
        again = await _discover(hass, _announcement(sim.port))
        assert again["reason"] == "already_configured"
