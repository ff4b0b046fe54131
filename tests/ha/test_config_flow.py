"""The config, discovery, reconfigure and options flows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from ipaddress import ip_address
from unittest.mock import ANY, patch

from aiohttp import web
from homeassistant.config_entries import SOURCE_USER, SOURCE_ZEROCONF, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.stroomwijs.const import CONF_FUSE_A, CONF_PHASES, DOMAIN
from custom_components.stroomwijs.coordinator import (
    CONF_API_VERSION,
    CONF_DSMR_VERSION,
    CONF_ENCRYPTION_KEY,
    CONF_HOST,
    CONF_SERIAL_PORT,
    CONF_SOURCE,
    CONF_TCP_PORT,
    CONF_TOKEN,
    CONF_UPDATE_INTERVAL,
    SOURCE_ENTITIES,
    SOURCE_HOMEWIZARD,
    SOURCE_NETWORK,
    SOURCE_SERIAL,
)
from custom_components.stroomwijs.engine.simulate.p1 import corrupt_crc
from custom_components.stroomwijs.entity_source import (
    CONF_CURRENT_ENTITIES,
    CONF_ENERGY_IMPORT_ENTITIES,
    CONF_POWER_ENTITY,
)
from tests.engine.meter.telegrams import CASES, SMARTY_KEY, real

from .p1_support import (
    network_entry,
    p1_server,
    setup,
    skip_installer_steps,
    unload,
    until,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture(autouse=True)
def short_probe() -> None:
    """Make the flow give up on a silent meter after one second."""
    with patch("custom_components.stroomwijs.config_flow.PROBE_TIMEOUT", 1.0):
        yield


async def _menu(hass: HomeAssistant, choice: str) -> dict:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == [
        SOURCE_SERIAL,
        SOURCE_NETWORK,
        SOURCE_HOMEWIZARD,
        SOURCE_ENTITIES,
        "import_profile",
    ]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": choice}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == choice
    return result


async def test_network_flow_waits_for_a_telegram_then_creates_the_household(
    hass: HomeAssistant,
) -> None:
    """Network dongle: the first valid telegram proves it; then the grid step."""
    async with p1_server([real("telegram_v5.txt")]) as server:
        result = await _menu(hass, SOURCE_NETWORK)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {
                CONF_HOST: "127.0.0.1",
                CONF_TCP_PORT: server.port,
                CONF_DSMR_VERSION: "5",
            },
        )
        assert result["type"] is FlowResultType.FORM
        assert result["step_id"] == "grid"
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"name": "Thuis", CONF_PHASES: "3", CONF_FUSE_A: 25}
        )
        result = await skip_installer_steps(hass, result)
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["data"] == {
            CONF_SOURCE: SOURCE_NETWORK,
            CONF_HOST: "127.0.0.1",
            CONF_TCP_PORT: server.port,
            CONF_DSMR_VERSION: "5",
            CONF_PHASES: 3,
            CONF_FUSE_A: 25.0,
        }
        entry = result["result"]
        assert entry.unique_id == "K8EG004046395507"
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.LOADED
        assert hass.states.get("sensor.thuis_p1_meter_grid_power").state == "244.0"
        assert hass.states.get("sensor.thuis_fuse_capacity").state == "17250"

        # The same meter cannot be added twice.
        result = await _menu(hass, SOURCE_NETWORK)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {
                CONF_HOST: "127.0.0.1",
                CONF_TCP_PORT: server.port,
                CONF_DSMR_VERSION: "5",
            },
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "already_configured"
        await unload(hass, entry)


async def test_serial_flow_reads_through_the_port_field(hass: HomeAssistant) -> None:
    """The serial step accepts any port URL; a 5B meter gets its values."""
    async with p1_server([real("telegram_fluvius_v171_alt.txt")]) as server:
        result = await _menu(hass, SOURCE_SERIAL)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_SERIAL_PORT: server.url, CONF_DSMR_VERSION: "5B"}
        )
        assert result["step_id"] == "grid"
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"name": "Thuis", CONF_PHASES: "3", CONF_FUSE_A: 40}
        )
        result = await skip_installer_steps(hass, result)
        assert result["type"] is FlowResultType.CREATE_ENTRY
        await hass.async_block_till_done()
        assert hass.states.get("sensor.thuis_p1_meter_monthly_peak").state == "3064.0"
        await unload(hass, result["result"])


async def test_network_flow_explains_what_went_wrong(hass: HomeAssistant) -> None:
    """Nobody there, only bad CRCs, a wrong or malformed key: clear errors."""
    async with p1_server([real("telegram_v5.txt")]) as server:
        port = server.port
    result = await _menu(hass, SOURCE_NETWORK)
    fields = {CONF_HOST: "127.0.0.1", CONF_TCP_PORT: port, CONF_DSMR_VERSION: "5"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], fields)
    assert result["errors"] == {"base": "cannot_connect"}

    async with p1_server([corrupt_crc(real("telegram_v5.txt"))]) as server:
        fields[CONF_TCP_PORT] = server.port
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], fields
        )
        assert result["errors"] == {"base": "invalid_telegram"}

    encrypted = next(case for case in CASES if case.id == "5L-encrypted")
    async with p1_server([encrypted.raw]) as server:
        fields.update({CONF_TCP_PORT: server.port, CONF_DSMR_VERSION: "5L"})
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {**fields, CONF_ENCRYPTION_KEY: "AB" * 16}
        )
        assert result["errors"] == {"base": "decrypt"}
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {**fields, CONF_ENCRYPTION_KEY: "not a key"}
        )
        assert result["errors"] == {"base": "invalid_key"}
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {**fields, CONF_ENCRYPTION_KEY: SMARTY_KEY.lower()}
        )
        assert result["step_id"] == "grid"
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"name": "Lux", CONF_PHASES: "1", CONF_FUSE_A: 40}
        )
        result = await skip_installer_steps(hass, result)
        assert result["data"][CONF_ENCRYPTION_KEY] == SMARTY_KEY
        await hass.async_block_till_done()
        await unload(hass, result["result"])


async def test_grid_step_rejects_a_fuse_that_cannot_exist(hass: HomeAssistant) -> None:
    """An impossible fuse gives a form error, and the user can correct it."""
    async with p1_server([real("telegram_v5.txt")]) as server:
        result = await _menu(hass, SOURCE_NETWORK)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {
                CONF_HOST: "127.0.0.1",
                CONF_TCP_PORT: server.port,
                CONF_DSMR_VERSION: "5",
            },
        )
        with pytest.raises(InvalidData) as err:
            await hass.config_entries.flow.async_configure(
                result["flow_id"], {"name": "Thuis", CONF_PHASES: "3", CONF_FUSE_A: 0.5}
            )
        assert err.value.schema_errors == {CONF_FUSE_A: ANY}
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"name": "Thuis", CONF_PHASES: "3", CONF_FUSE_A: 35}
        )
        result = await skip_installer_steps(hass, result)
        assert result["type"] is FlowResultType.CREATE_ENTRY
        await hass.async_block_till_done()
        await unload(hass, result["result"])


async def test_entities_flow_follows_an_existing_meter_integration(
    hass: HomeAssistant,
) -> None:
    """Pick the power and current entities of HA's DSMR integration."""
    hass.states.async_set("sensor.dsmr_power", "-1.2", {"unit_of_measurement": "kW"})
    hass.states.async_set("sensor.dsmr_current_l1", "5", {"unit_of_measurement": "A"})
    hass.states.async_set("sensor.dsmr_t1", "100.5", {"unit_of_measurement": "kWh"})
    hass.states.async_set("sensor.dsmr_t2", "20500", {"unit_of_measurement": "Wh"})
    result = await _menu(hass, SOURCE_ENTITIES)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_POWER_ENTITY: "sensor.dsmr_power",
            CONF_CURRENT_ENTITIES: ["sensor.dsmr_current_l1"],
            CONF_ENERGY_IMPORT_ENTITIES: ["sensor.dsmr_t1", "sensor.dsmr_t2"],
        },
    )
    assert result["step_id"] == "grid"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Thuis", CONF_PHASES: "1", CONF_FUSE_A: 40}
    )
    result = await skip_installer_steps(hass, result)
    entry = result["result"]
    await hass.async_block_till_done()
    assert hass.states.get("sensor.thuis_p1_meter_grid_power").state == "-1200.0"
    assert hass.states.get("sensor.thuis_p1_meter_export_power").state == "1200.0"
    assert float(hass.states.get("sensor.thuis_headroom_l1").state) == 35.0
    assert (
        float(hass.states.get("sensor.thuis_p1_meter_energy_import_total").state)
        == 121.0
    )

    hass.states.async_set("sensor.dsmr_power", "2.3", {"unit_of_measurement": "kW"})
    await hass.async_block_till_done()
    assert entry.runtime_data.meter.last_reading.import_w == 2300.0
    hass.states.async_set("sensor.dsmr_power", "unavailable")
    await hass.async_block_till_done()
    assert hass.states.get("sensor.thuis_p1_meter_grid_power").state == "unavailable"
    await unload(hass, entry)


async def test_entities_flow_refuses_a_power_entity_without_value(
    hass: HomeAssistant,
) -> None:
    """An unavailable power entity is a form error."""
    hass.states.async_set("sensor.dsmr_power", "unavailable")
    result = await _menu(hass, SOURCE_ENTITIES)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_POWER_ENTITY: "sensor.dsmr_power"}
    )
    assert result["errors"] == {"base": "entity_unavailable"}


@pytest.fixture
async def homewizard_v1() -> AsyncIterator[int]:
    """Serve a HomeWizard P1 API v1 with a real telegram on 127.0.0.1."""
    telegram = real("telegram_v5.txt").decode("ascii")

    async def _telegram(_request: web.Request) -> web.Response:
        return web.Response(text=telegram)

    app = web.Application()
    app.router.add_get("/api/v1/telegram", _telegram)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    await runner.cleanup()


def _zeroconf(port: int, kind: str, **properties: str) -> ZeroconfServiceInfo:
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
            "serial": "5c2fafabcdef",
            "api_enabled": "1",
            **properties,
        },
    )


async def test_homewizard_v1_discovery_confirms_and_creates(
    hass: HomeAssistant, homewizard_v1: int
) -> None:
    """_hwenergy._tcp: confirm, read its telegram, then the grid step."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_ZEROCONF},
        data=_zeroconf(homewizard_v1, "_hwenergy._tcp.local."),
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "discovery_confirm"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["step_id"] == "grid"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Thuis", CONF_PHASES: "3", CONF_FUSE_A: 25}
    )
    result = await skip_installer_steps(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_HOST] == f"127.0.0.1:{homewizard_v1}"
    assert result["data"][CONF_API_VERSION] == "v1"
    assert result["data"]["homewizard_serial"] == "5c2fafabcdef"
    entry = result["result"]
    # One identity per meter: the equipment id in its telegram.
    assert entry.unique_id == "K8EG004046395507"
    await hass.async_block_till_done()
    assert hass.states.get("sensor.thuis_p1_meter_grid_power").state == "244.0"

    again = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_ZEROCONF},
        data=_zeroconf(homewizard_v1, "_hwenergy._tcp.local."),
    )
    assert again["reason"] == "already_configured"
    await unload(hass, entry)


@pytest.mark.parametrize(
    ("properties", "reason"),
    [
        ({"product_type": "HWE-KWH1"}, "not_p1_meter"),
        ({"api_enabled": "0"}, "api_disabled"),
    ],
)
async def test_homewizard_discovery_aborts_for_the_wrong_device(
    hass: HomeAssistant, properties: dict[str, str], reason: str
) -> None:
    """A kWh meter, or a P1 meter with its API off, is not taken as the meter."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_ZEROCONF},
        data=_zeroconf(80, "_hwenergy._tcp.local.", **properties),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason


async def test_homewizard_v2_asks_for_the_button_then_stores_the_token(
    hass: HomeAssistant,
) -> None:
    """_homewizard._tcp: no token until the button was pressed.

    API v2 speaks HTTPS with HomeWizard's own CA, which a loopback peer cannot
    present; the token request and the probe are replaced here.
    """
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_ZEROCONF},
        data=_zeroconf(443, "_homewizard._tcp.local."),
    )
    assert result["step_id"] == "discovery_confirm"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["step_id"] == "authorize"
    with patch(
        "custom_components.stroomwijs.config_flow.request_token", return_value=None
    ):
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["errors"] == {"base": "button_not_pressed"}
    with (
        patch(
            "custom_components.stroomwijs.config_flow.request_token",
            return_value="secret-token",
        ),
        patch(
            "custom_components.stroomwijs.config_flow._MeterProbe.run",
            return_value=None,
        ),
    ):
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["step_id"] == "grid"
    with patch("custom_components.stroomwijs.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"name": "Thuis", CONF_PHASES: "3", CONF_FUSE_A: 25}
        )
        result = await skip_installer_steps(hass, result)
    assert result["data"][CONF_TOKEN] == "secret-token"
    assert result["data"][CONF_HOST] == "127.0.0.1"


async def test_reconfigure_changes_the_fuse_of_a_household_without_meter(
    hass: HomeAssistant,
) -> None:
    """A household created before the meter existed keeps working."""
    entry = MockConfigEntry(
        domain=DOMAIN, title="Thuis", data={CONF_PHASES: 3, CONF_FUSE_A: 25.0}
    )
    await setup(hass, entry)
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PHASES: "3", CONF_FUSE_A: 35}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_FUSE_A] == 35.0
    assert hass.states.get("sensor.thuis_fuse_capacity").state == "24150"


async def test_reconfigure_moves_the_meter_to_another_port(hass: HomeAssistant) -> None:
    """A new address is tested before it is stored; a dead one is refused."""
    async with (
        p1_server([real("telegram_v5.txt")]) as old,
        p1_server([real("telegram_v4_2.txt")]) as new,
    ):
        entry = network_entry(old)
        await setup(hass, entry)
        result = await entry.start_reconfigure_flow(hass)
        fields = {
            CONF_HOST: "127.0.0.1",
            CONF_TCP_PORT: 1,
            CONF_DSMR_VERSION: "4",
            CONF_PHASES: "3",
            CONF_FUSE_A: 25,
        }
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], fields
        )
        assert result["errors"] == {"base": "cannot_connect"}
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {**fields, CONF_TCP_PORT: new.port}
        )
        assert result["reason"] == "reconfigure_successful"
        await hass.async_block_till_done()
        assert entry.data[CONF_TCP_PORT] == new.port
        assert entry.data[CONF_DSMR_VERSION] == "4"
        assert hass.states.get("sensor.thuis_p1_meter_import_power").state == "2027.0"
        await unload(hass, entry)


async def test_options_flow_sets_fuse_and_update_interval(hass: HomeAssistant) -> None:
    """Options take precedence over the original data after the reload."""
    entry = MockConfigEntry(
        domain=DOMAIN, title="Thuis", data={CONF_PHASES: 3, CONF_FUSE_A: 25.0}
    )
    await setup(hass, entry)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["household", "tariff", "ocpp_server"]
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "household"}
    )
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_PHASES: "1", CONF_FUSE_A: 35, CONF_UPDATE_INTERVAL: 10}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.options == {
        CONF_PHASES: 1,
        CONF_FUSE_A: 35.0,
        CONF_UPDATE_INTERVAL: 10,
    }
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get("sensor.thuis_fuse_capacity").state == "8050"


async def test_wrong_key_at_start_asks_for_the_key_and_recovers(
    hass: HomeAssistant,
) -> None:
    """An encrypted meter whose key changed: reauth asks for it, then loads."""
    case = next(case for case in CASES if case.id == "5L-encrypted")
    async with p1_server([case.raw]) as server:
        entry = network_entry(server, "5L", "AB" * 16)
        await setup(hass, entry)
        assert entry.state is ConfigEntryState.SETUP_ERROR
        flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        assert [flow["context"]["source"] for flow in flows] == ["reauth"]
        result = await hass.config_entries.flow.async_configure(
            flows[0]["flow_id"], {CONF_ENCRYPTION_KEY: "CD" * 16}
        )
        assert result["errors"] == {"base": "decrypt"}
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_ENCRYPTION_KEY: SMARTY_KEY}
        )
        assert result["reason"] == "reauth_successful"
        await hass.async_block_till_done()
        assert entry.data[CONF_ENCRYPTION_KEY] == SMARTY_KEY
        assert entry.state is ConfigEntryState.LOADED
        assert hass.states.get("sensor.thuis_p1_meter_import_power").state == "1500.0"
        await unload(hass, entry)


async def test_homewizard_refusing_access_starts_reauth(
    hass: HomeAssistant, homewizard_v1_switchable: tuple[dict[str, int], int]
) -> None:
    """API switched off (403): reauth; switched on again: the user confirms."""
    status, port = homewizard_v1_switchable
    status["code"] = 403
    entry = _homewizard_v1_entry(port)
    await setup(hass, entry)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]
    result = await hass.config_entries.flow.async_configure(flows[0]["flow_id"], {})
    assert result["errors"] == {"base": "invalid_auth"}
    status["code"] = 200
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get("sensor.thuis_p1_meter_grid_power").state == "244.0"
    await unload(hass, entry)


def _homewizard_v1_entry(port: int) -> MockConfigEntry:
    """Build a household read from a HomeWizard P1 (API v1) on 127.0.0.1:``port``."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Thuis",
        data={
            CONF_SOURCE: SOURCE_HOMEWIZARD,
            CONF_HOST: f"127.0.0.1:{port}",
            CONF_API_VERSION: "v1",
            CONF_PHASES: 3,
            CONF_FUSE_A: 25.0,
        },
    )


@pytest.fixture
async def homewizard_v1_switchable() -> AsyncIterator[tuple[dict[str, int], int]]:
    """Serve a HomeWizard P1 API v1 whose answer code the test sets."""
    telegram = real("telegram_v5.txt").decode("ascii")
    status = {"code": 200}

    async def _telegram(_request: web.Request) -> web.Response:
        if status["code"] != 200:
            return web.Response(status=status["code"])
        return web.Response(text=telegram)

    app = web.Application()
    app.router.add_get("/api/v1/telegram", _telegram)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield status, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    await runner.cleanup()


async def test_homewizard_refusing_access_while_running_starts_reauth(
    hass: HomeAssistant, homewizard_v1_switchable: tuple[dict[str, int], int]
) -> None:
    """A running P1 that starts refusing: entities unavailable, reauth offered."""
    status, port = homewizard_v1_switchable
    entry = _homewizard_v1_entry(port)
    await setup(hass, entry)
    assert entry.state is ConfigEntryState.LOADED
    status["code"] = 403
    await until(
        lambda: (
            hass.states.get("sensor.thuis_p1_meter_grid_power").state == "unavailable"
        )
    )
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]
    await unload(hass, entry)


async def test_serial_step_offers_the_ports_it_finds(hass: HomeAssistant) -> None:
    """Found ports are offered (the first one preselected); typing stays possible."""

    class Port:
        device = "/dev/serial/by-id/usb-FTDI_P1_cable-if00-port0"
        manufacturer = "FTDI"
        product = "P1 cable"

    with patch(
        "custom_components.stroomwijs.config_flow.list_serial_ports",
        return_value=[Port()],
    ):
        result = await _menu(hass, SOURCE_SERIAL)
    schema = result["data_schema"].schema
    field = next(key for key in schema if key == CONF_SERIAL_PORT)
    assert field.default() == Port.device
    selector = schema[field].config
    assert selector["custom_value"] is True
    assert selector["options"] == [
        {"value": Port.device, "label": f"{Port.device} - FTDI - P1 cable"}
    ]


async def test_homewizard_by_address_reads_its_telegram(
    hass: HomeAssistant, homewizard_v1: int
) -> None:
    """The menu's HomeWizard entry: address and API v1, then the grid step."""
    result = await _menu(hass, SOURCE_HOMEWIZARD)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1:1", CONF_API_VERSION: "v1"}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_HOST: f" 127.0.0.1:{homewizard_v1} ", CONF_API_VERSION: "v1"},
    )
    assert result["step_id"] == "grid"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Thuis", CONF_PHASES: "3", CONF_FUSE_A: 25}
    )
    result = await skip_installer_steps(hass, result)
    assert result["data"][CONF_HOST] == f"127.0.0.1:{homewizard_v1}"
    await hass.async_block_till_done()
    assert hass.states.get("sensor.thuis_p1_meter_current_l3").state == "0.86"
    await unload(hass, result["result"])


async def test_homewizard_v2_by_address_goes_to_the_button_step(
    hass: HomeAssistant,
) -> None:
    """Choosing API v2 by address asks for the button press first."""
    result = await _menu(hass, SOURCE_HOMEWIZARD)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "192.0.2.10", CONF_API_VERSION: "v2"}
    )
    assert result["step_id"] == "authorize"
    assert result["description_placeholders"] == {"host": "192.0.2.10"}


async def test_reconfigure_refuses_another_households_meter(
    hass: HomeAssistant,
) -> None:
    """A new address that reaches a different meter (equipment id) is refused."""
    async with (
        p1_server([real("telegram_v5.txt")]) as old,
        p1_server([real("telegram_v5_two_mbus.txt")]) as other,
    ):
        entry = network_entry(old)
        entry.add_to_hass(hass)
        hass.config_entries.async_update_entry(entry, unique_id="K8EG004046395507")
        await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        result = await entry.start_reconfigure_flow(hass)
        fields = {
            CONF_HOST: "127.0.0.1",
            CONF_TCP_PORT: other.port,
            CONF_DSMR_VERSION: "5",
            CONF_PHASES: "3",
            CONF_FUSE_A: 25,
        }
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], fields
        )
        assert result["errors"] == {"base": "wrong_meter"}
        assert entry.data[CONF_TCP_PORT] == old.port
        await unload(hass, entry)
