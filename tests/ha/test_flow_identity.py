"""One identity per physical meter: every path finds a household it already has.

The meter in ``telegram_v5.txt`` has equipment id K8EG004046395507; it is
read over a real loopback socket (network dongle) and through a real
loopback HomeWizard P1 API v1 server that also answers ``/api`` with the
dongle's serial.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from ipaddress import ip_address
import json
from unittest.mock import patch

from aiohttp import web
from homeassistant.config_entries import (
    SOURCE_IGNORE,
    SOURCE_USER,
    SOURCE_ZEROCONF,
    ConfigEntryState,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.stroomwijs.const import CONF_FUSE_A, CONF_PHASES, DOMAIN
from custom_components.stroomwijs.coordinator import (
    CONF_API_VERSION,
    CONF_DSMR_VERSION,
    CONF_HOST,
    CONF_SOURCE,
    CONF_TCP_PORT,
    CONF_TOKEN,
    SOURCE_ENTITIES,
    SOURCE_HOMEWIZARD,
    SOURCE_NETWORK,
)
from custom_components.stroomwijs.entity_source import CONF_POWER_ENTITY
from custom_components.stroomwijs.identity import (
    CONF_HOMEWIZARD_SERIAL,
    MeterIdentity,
    equipment_text,
)
from tests.engine.meter.telegrams import real

from .p1_support import p1_server, setup, skip_installer_steps, unload

pytestmark = pytest.mark.usefixtures("socket_enabled")

EQUIPMENT_ID = "K8EG004046395507"
SERIAL = "5c2fafabcdef"
GRID = {"name": "Thuis", CONF_PHASES: "3", CONF_FUSE_A: 25}


@pytest.fixture(autouse=True)
def short_probe() -> None:
    """Make the flow give up on a silent meter after one second."""
    with patch("custom_components.stroomwijs.config_flow.PROBE_TIMEOUT", 1.0):
        yield


@pytest.fixture
async def homewizard() -> AsyncIterator[int]:
    """Serve a HomeWizard P1 (API v1): its telegram and its device info."""
    telegram = real("telegram_v5.txt").decode("ascii")
    device = {
        "product_type": "HWE-P1",
        "product_name": "P1 meter",
        "serial": SERIAL,
        "firmware_version": "6.00",
        "api_version": "v1",
    }

    async def _telegram(_request: web.Request) -> web.Response:
        return web.Response(text=telegram)

    async def _device(_request: web.Request) -> web.Response:
        return web.Response(text=json.dumps(device), content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/v1/telegram", _telegram)
    app.router.add_get("/api", _device)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    await runner.cleanup()


def _zeroconf(port: int, kind: str = "_hwenergy._tcp.local.") -> ZeroconfServiceInfo:
    return ZeroconfServiceInfo(
        ip_address=ip_address("127.0.0.1"),
        ip_addresses=[ip_address("127.0.0.1")],
        hostname="p1meter-ABCDEF.local.",
        name=f"p1meter-ABCDEF.{kind}",
        port=port,
        type=kind,
        properties={
            "product_type": "HWE-P1",
            "product_name": "P1 meter",
            "serial": SERIAL,
            "api_enabled": "1",
        },
    )


async def _user_step(hass: HomeAssistant, source: str, fields: dict) -> dict:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": source}
    )
    return await hass.config_entries.flow.async_configure(result["flow_id"], fields)


async def _homewizard_by_address(hass: HomeAssistant, port: int) -> MockConfigEntry:
    result = await _user_step(
        hass,
        SOURCE_HOMEWIZARD,
        {CONF_HOST: f"127.0.0.1:{port}", CONF_API_VERSION: "v1"},
    )
    assert result["step_id"] == "grid"
    with patch("custom_components.stroomwijs.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(result["flow_id"], GRID)
        result = await skip_installer_steps(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    return result["result"]


async def test_homewizard_by_address_keeps_equipment_id_and_serial(
    hass: HomeAssistant, homewizard: int
) -> None:
    """By address: keyed by the meter's equipment id, the dongle serial stored."""
    entry = await _homewizard_by_address(hass, homewizard)
    assert entry.unique_id == EQUIPMENT_ID
    assert entry.data[CONF_HOMEWIZARD_SERIAL] == SERIAL


async def test_discovery_finds_a_meter_added_by_address_and_updates_its_address(
    hass: HomeAssistant, homewizard: int
) -> None:
    """Discovery-update-info: the zeroconf announcement stores the new address."""
    entry = await _homewizard_by_address(hass, homewizard)
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_HOST: "192.0.2.1"}
    )
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=_zeroconf(homewizard)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data[CONF_HOST] == f"127.0.0.1:{homewizard}"
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1
    # The household reloads on its new address.
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get("sensor.thuis_p1_meter_grid_power").state == "244.0"
    await unload(hass, entry)


async def test_discovery_finds_an_older_meter_known_only_by_equipment_id(
    hass: HomeAssistant, homewizard: int
) -> None:
    """No serial stored: API v1 discovery reads the telegram and matches it."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Thuis",
        unique_id=EQUIPMENT_ID,
        version=1,
        minor_version=3,
        data={
            CONF_SOURCE: SOURCE_HOMEWIZARD,
            CONF_HOST: "192.0.2.1",
            CONF_API_VERSION: "v1",
            CONF_PHASES: 3,
            CONF_FUSE_A: 25.0,
        },
    )
    entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=_zeroconf(homewizard)
    )
    assert result["reason"] == "already_configured"
    assert entry.data[CONF_HOST] == f"127.0.0.1:{homewizard}"
    assert entry.data[CONF_HOMEWIZARD_SERIAL] == SERIAL


async def test_discovered_meter_cannot_be_added_again_by_address_or_cable(
    hass: HomeAssistant, homewizard: int
) -> None:
    """Found by zeroconf first: by address and by network dongle both abort."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=_zeroconf(homewizard)
    )
    assert result["step_id"] == "discovery_confirm"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    with patch("custom_components.stroomwijs.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(result["flow_id"], GRID)
        result = await skip_installer_steps(hass, result)
    entry = result["result"]
    assert entry.unique_id == EQUIPMENT_ID
    assert entry.data[CONF_HOMEWIZARD_SERIAL] == SERIAL

    result = await _user_step(
        hass,
        SOURCE_HOMEWIZARD,
        {CONF_HOST: f"127.0.0.1:{homewizard}", CONF_API_VERSION: "v1"},
    )
    assert result["reason"] == "already_configured"
    async with p1_server([real("telegram_v5.txt")]) as server:
        result = await _user_step(
            hass,
            SOURCE_NETWORK,
            {
                CONF_HOST: "127.0.0.1",
                CONF_TCP_PORT: server.port,
                CONF_DSMR_VERSION: "5",
            },
        )
    assert result["reason"] == "already_configured"
    assert hass.config_entries.async_entries(DOMAIN) == [entry]


async def test_api_v2_discovery_of_a_known_serial_aborts_before_the_button(
    hass: HomeAssistant,
) -> None:
    """A v2 announcement of a stored serial updates the address, no token asked."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Thuis",
        unique_id=EQUIPMENT_ID,
        version=1,
        minor_version=3,
        data={
            CONF_SOURCE: SOURCE_HOMEWIZARD,
            CONF_HOST: "192.0.2.1",
            CONF_API_VERSION: "v2",
            CONF_TOKEN: "secret",
            CONF_HOMEWIZARD_SERIAL: SERIAL,
            CONF_PHASES: 3,
            CONF_FUSE_A: 25.0,
        },
    )
    entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_ZEROCONF},
        data=_zeroconf(443, "_homewizard._tcp.local."),
    )
    assert result["reason"] == "already_configured"
    assert entry.data[CONF_HOST] == "127.0.0.1"
    assert entry.data[CONF_TOKEN] == "secret"


async def test_ignored_discovery_stays_ignored(hass: HomeAssistant) -> None:
    """A discovery the user ignored is not offered again."""
    MockConfigEntry(
        domain=DOMAIN, source=SOURCE_IGNORE, unique_id=f"homewizard_{SERIAL}"
    ).add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_ZEROCONF},
        data=_zeroconf(443, "_homewizard._tcp.local."),
    )
    assert result["reason"] == "already_configured"


async def test_entities_household_is_keyed_by_its_power_entity(
    hass: HomeAssistant,
) -> None:
    """Two households cannot follow the same power sensor."""
    registry = er.async_get(hass)
    power = registry.async_get_or_create("sensor", "template", "grid_power")
    hass.states.async_set(power.entity_id, "1.5", {"unit_of_measurement": "kW"})
    result = await _user_step(
        hass, SOURCE_ENTITIES, {CONF_POWER_ENTITY: power.entity_id}
    )
    with patch("custom_components.stroomwijs.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(result["flow_id"], GRID)
        result = await skip_installer_steps(hass, result)
    assert result["result"].unique_id == f"entities_{power.id}"
    result = await _user_step(
        hass, SOURCE_ENTITIES, {CONF_POWER_ENTITY: power.entity_id}
    )
    assert result["reason"] == "already_configured"


async def test_entities_of_ha_dsmr_share_the_meters_identity(
    hass: HomeAssistant,
) -> None:
    """Following HA's DSMR integration takes its meter's equipment id."""
    dsmr = MockConfigEntry(
        domain="dsmr",
        unique_id="4B384547303034303436333935353037",
        data={"serial_id": "4B384547303034303436333935353037"},
    )
    dsmr.add_to_hass(hass)
    power = er.async_get(hass).async_get_or_create(
        "sensor", "dsmr", "power", config_entry=dsmr
    )
    hass.states.async_set(power.entity_id, "0.2", {"unit_of_measurement": "kW"})
    result = await _user_step(
        hass, SOURCE_ENTITIES, {CONF_POWER_ENTITY: power.entity_id}
    )
    with patch("custom_components.stroomwijs.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(result["flow_id"], GRID)
        result = await skip_installer_steps(hass, result)
    assert result["result"].unique_id == EQUIPMENT_ID
    async with p1_server([real("telegram_v5.txt")]) as server:
        result = await _user_step(
            hass,
            SOURCE_NETWORK,
            {
                CONF_HOST: "127.0.0.1",
                CONF_TCP_PORT: server.port,
                CONF_DSMR_VERSION: "5",
            },
        )
    assert result["reason"] == "already_configured"


async def test_entities_of_ha_homewizard_match_its_discovery(
    hass: HomeAssistant,
) -> None:
    """Following HA's HomeWizard integration: its dongle is not offered again."""
    homewizard = MockConfigEntry(domain="homewizard", unique_id=f"HWE-P1_{SERIAL}")
    homewizard.add_to_hass(hass)
    power = er.async_get(hass).async_get_or_create(
        "sensor", "homewizard", "power", config_entry=homewizard
    )
    hass.states.async_set(power.entity_id, "300", {"unit_of_measurement": "W"})
    result = await _user_step(
        hass, SOURCE_ENTITIES, {CONF_POWER_ENTITY: power.entity_id}
    )
    with patch("custom_components.stroomwijs.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(result["flow_id"], GRID)
        result = await skip_installer_steps(hass, result)
    entry = result["result"]
    assert entry.unique_id == f"homewizard_{SERIAL}"
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_ZEROCONF},
        data=_zeroconf(443, "_homewizard._tcp.local."),
    )
    assert result["reason"] == "already_configured"
    assert CONF_HOST not in entry.data  # an entity household has no address


def test_equipment_text_decodes_like_the_engine() -> None:
    """Hex-encoded ids decode to text; plain or odd text stays as it is."""
    assert equipment_text("4B384547303034303436333935353037") == EQUIPMENT_ID
    assert equipment_text(" E0003 ") == "E0003"
    assert equipment_text("ZZ") == "ZZ"
    assert equipment_text("0001") == "0001"  # decodes to control characters
    assert equipment_text("") is None
    assert equipment_text(None) is None
    assert MeterIdentity().unique_id is None


# Migration 1.2 -> 1.3 ---------------------------------------------------------


def _old_entry(**kwargs: object) -> MockConfigEntry:
    kwargs.setdefault("title", "Thuis")
    return MockConfigEntry(domain=DOMAIN, version=1, minor_version=2, **kwargs)


async def test_migration_stores_the_serial_of_a_discovered_homewizard(
    hass: HomeAssistant, homewizard: int
) -> None:
    """1.2 entries keyed homewizard_<serial> get the serial into their data."""
    entry = _old_entry(
        unique_id=f"homewizard_{SERIAL}",
        data={
            CONF_SOURCE: SOURCE_HOMEWIZARD,
            CONF_HOST: f"127.0.0.1:{homewizard}",
            CONF_API_VERSION: "v1",
            CONF_PHASES: 3,
            CONF_FUSE_A: 25.0,
        },
    )
    await setup(hass, entry)
    assert entry.state is ConfigEntryState.LOADED
    assert (entry.version, entry.minor_version) == (1, 4)
    assert entry.data[CONF_HOMEWIZARD_SERIAL] == SERIAL
    # Now a flow by address of the same dongle finds it.
    result = await _user_step(
        hass,
        SOURCE_HOMEWIZARD,
        {CONF_HOST: f"127.0.0.1:{homewizard}", CONF_API_VERSION: "v1"},
    )
    assert result["reason"] == "already_configured"
    await unload(hass, entry)


async def test_reconfigure_learns_the_equipment_id_of_an_older_discovery(
    hass: HomeAssistant, homewizard: int
) -> None:
    """A household still keyed by the serial takes the meter's id when read."""
    entry = _old_entry(
        unique_id=f"homewizard_{SERIAL}",
        data={
            CONF_SOURCE: SOURCE_HOMEWIZARD,
            CONF_HOST: f"127.0.0.1:{homewizard}",
            CONF_API_VERSION: "v1",
            CONF_PHASES: 3,
            CONF_FUSE_A: 25.0,
        },
    )
    await setup(hass, entry)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_HOST: f"127.0.0.1:{homewizard}",
            CONF_API_VERSION: "v1",
            CONF_PHASES: "3",
            CONF_FUSE_A: 25,
        },
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.unique_id == EQUIPMENT_ID
    await hass.async_block_till_done()
    await unload(hass, entry)


async def test_migration_gives_an_entities_household_an_identity(
    hass: HomeAssistant,
) -> None:
    """1.2 entity households had no unique id; 1.3 keys them by the meter."""
    dsmr = MockConfigEntry(
        domain="dsmr", data={"serial_id": "4B384547303034303436333935353037"}
    )
    dsmr.add_to_hass(hass)
    power = er.async_get(hass).async_get_or_create(
        "sensor", "dsmr", "power", config_entry=dsmr
    )
    hass.states.async_set(power.entity_id, "0.2", {"unit_of_measurement": "kW"})
    entry = _old_entry(
        data={
            CONF_SOURCE: SOURCE_ENTITIES,
            CONF_POWER_ENTITY: power.entity_id,
            CONF_PHASES: 3,
            CONF_FUSE_A: 25.0,
        }
    )
    await setup(hass, entry)
    assert entry.state is ConfigEntryState.LOADED
    assert entry.unique_id == EQUIPMENT_ID
    assert entry.minor_version == 4
    await unload(hass, entry)


async def test_migration_does_not_take_an_identity_twice(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """Two old households on one power sensor: the second keeps no id, warns."""
    hass.states.async_set("sensor.grid_power", "0.2", {"unit_of_measurement": "kW"})
    data = {
        CONF_SOURCE: SOURCE_ENTITIES,
        CONF_POWER_ENTITY: "sensor.grid_power",
        CONF_PHASES: 3,
        CONF_FUSE_A: 25.0,
    }
    first = _old_entry(data=data)
    second = _old_entry(data=data, title="Ook thuis")
    await setup(hass, first)
    await setup(hass, second)
    assert first.unique_id == "entities_sensor.grid_power"
    assert second.unique_id is None
    assert second.minor_version == 4
    assert "read the same meter" in caplog.text
    await unload(hass, first)
    await unload(hass, second)


async def test_migration_refuses_an_entry_from_a_newer_version(
    hass: HomeAssistant,
) -> None:
    """A downgrade leaves the entry alone, in migration error."""
    entry = MockConfigEntry(
        domain=DOMAIN, version=2, data={CONF_PHASES: 3, CONF_FUSE_A: 25.0}
    )
    await setup(hass, entry)
    assert entry.state is ConfigEntryState.MIGRATION_ERROR


async def test_migration_leaves_a_meter_keyed_household_as_it_is(
    hass: HomeAssistant,
) -> None:
    """Entries already keyed by their equipment id only get the new version."""
    async with p1_server([real("telegram_v5.txt")]) as server:
        entry = _old_entry(
            unique_id=EQUIPMENT_ID,
            data={
                CONF_SOURCE: SOURCE_NETWORK,
                CONF_HOST: "127.0.0.1",
                CONF_TCP_PORT: server.port,
                CONF_DSMR_VERSION: "5",
                CONF_PHASES: 3,
                CONF_FUSE_A: 25.0,
            },
        )
        await setup(hass, entry)
        assert entry.state is ConfigEntryState.LOADED
        assert entry.unique_id == EQUIPMENT_ID
        assert entry.minor_version == 4
        await unload(hass, entry)


async def test_migration_keys_entities_of_ha_homewizard_by_the_dongle(
    hass: HomeAssistant,
) -> None:
    """Following HA's HomeWizard: the dongle's serial becomes the identity."""
    homewizard = MockConfigEntry(domain="homewizard", unique_id=f"HWE-P1_{SERIAL}")
    homewizard.add_to_hass(hass)
    power = er.async_get(hass).async_get_or_create(
        "sensor", "homewizard", "power", config_entry=homewizard
    )
    hass.states.async_set(power.entity_id, "300", {"unit_of_measurement": "W"})
    entry = _old_entry(
        data={
            CONF_SOURCE: SOURCE_ENTITIES,
            CONF_POWER_ENTITY: power.entity_id,
            CONF_PHASES: 3,
            CONF_FUSE_A: 25.0,
        }
    )
    await setup(hass, entry)
    assert entry.unique_id == f"homewizard_{SERIAL}"
    assert entry.data[CONF_HOMEWIZARD_SERIAL] == SERIAL
    await unload(hass, entry)


async def test_a_newer_minor_version_is_left_alone(hass: HomeAssistant) -> None:
    """1.5 written by a newer release loads unchanged (minor versions are kept)."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Thuis",
        version=1,
        minor_version=5,
        data={CONF_PHASES: 3, CONF_FUSE_A: 25.0},
    )
    await setup(hass, entry)
    assert entry.state is ConfigEntryState.LOADED
    assert entry.minor_version == 5
    await unload(hass, entry)
