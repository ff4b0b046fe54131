"""Every error path of the household's config flow recovers (Peblar's shape).

Meters are real loopback peers: telegram servers for the network dongle and
an aiohttp HomeWizard P1 API v1. Only HomeWizard API v2's token request is
replaced, because v2 speaks HTTPS with HomeWizard's own CA, which a loopback
peer cannot present.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from ipaddress import ip_address
from typing import Any
from unittest.mock import patch

from aiohttp import web
from homeassistant.config_entries import SOURCE_USER, SOURCE_ZEROCONF
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.selector import TextSelector
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.stroomwijs.config_flow import _list_ports, probe_limit
from custom_components.stroomwijs.const import CONF_FUSE_A, CONF_PHASES, DOMAIN
from custom_components.stroomwijs.coordinator import (
    CONF_API_VERSION,
    CONF_DSMR_VERSION,
    CONF_HOST,
    CONF_SERIAL_PORT,
    CONF_SOURCE,
    CONF_TCP_PORT,
    CONF_TOKEN,
    CONF_UPDATE_INTERVAL,
    SOURCE_HOMEWIZARD,
    SOURCE_NETWORK,
    SOURCE_SERIAL,
)
from custom_components.stroomwijs.engine.simulate.p1 import (
    TelegramValuesIn,
    build_telegram,
    corrupt_crc,
)
from tests.engine.meter.telegrams import real

from .p1_support import p1_server, setup, skip_installer_steps, unload

pytestmark = pytest.mark.usefixtures("socket_enabled")

FLOW = "custom_components.stroomwijs.config_flow"
NAN = float("nan")


@pytest.fixture(autouse=True)
def short_probe() -> None:
    """Make the flow give up on a silent meter after one second."""
    with patch(f"{FLOW}.PROBE_TIMEOUT", 1.0):
        yield


@pytest.fixture
async def homewizard() -> AsyncIterator[dict[str, Any]]:
    """Serve a HomeWizard P1 API v1 whose status and telegram the test sets."""
    state: dict[str, Any] = {
        "status": 200,
        "telegram": real("telegram_v5.txt").decode("ascii"),
    }

    async def _telegram(_request: web.Request) -> web.Response:
        if state["status"] != 200:
            return web.Response(status=state["status"])
        return web.Response(text=state["telegram"])

    app = web.Application()
    app.router.add_get("/api/v1/telegram", _telegram)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state["port"] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield state
    await runner.cleanup()


async def _form(hass: HomeAssistant, source: str) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    return dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": source}
        )
    )


async def _configure(hass: HomeAssistant, result: dict, data: dict) -> dict[str, Any]:
    return dict(await hass.config_entries.flow.async_configure(result["flow_id"], data))


async def _finish(hass: HomeAssistant, result: dict) -> dict[str, Any]:
    """Complete the grid step (the entry's set-up is not under test here)."""
    assert result["step_id"] == "grid"
    with patch("custom_components.stroomwijs.async_setup_entry", return_value=True):
        result = await _configure(
            hass, result, {"name": "Thuis", CONF_PHASES: "3", CONF_FUSE_A: 25}
        )
        result = await skip_installer_steps(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    return result


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
            "serial": "5c2fafabcdef",
            "api_enabled": "1",
        },
    )


async def test_grid_step_refuses_a_fuse_that_is_not_a_number(
    hass: HomeAssistant,
) -> None:
    """NaN passes the number selector; the engine's grid model refuses it."""
    async with p1_server([real("telegram_v5.txt")]) as server:
        result = await _form(hass, SOURCE_NETWORK)
        result = await _configure(
            hass,
            result,
            {
                CONF_HOST: "127.0.0.1",
                CONF_TCP_PORT: server.port,
                CONF_DSMR_VERSION: "5",
            },
        )
        result = await _configure(
            hass, result, {"name": "Thuis", CONF_PHASES: "3", CONF_FUSE_A: NAN}
        )
        assert result["errors"] == {"base": "invalid_grid_connection"}
        await _finish(hass, result)


async def test_options_refuse_a_fuse_that_is_not_a_number(
    hass: HomeAssistant,
) -> None:
    """The household options: NaN is an error, a real fuse is saved."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Thuis",
        version=1,
        minor_version=3,
        data={CONF_PHASES: 3, CONF_FUSE_A: 25.0},
    )
    await setup(hass, entry)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "household"}
    )
    fields = {CONF_PHASES: "3", CONF_UPDATE_INTERVAL: 5}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**fields, CONF_FUSE_A: NAN}
    )
    assert result["errors"] == {"base": "invalid_grid_connection"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**fields, CONF_FUSE_A: 40}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.options[CONF_FUSE_A] == 40.0
    await unload(hass, entry)


async def test_serial_step_without_a_port_listing_offers_a_text_field(
    hass: HomeAssistant,
) -> None:
    """A platform that cannot list ports still lets the user type one."""
    with patch(f"{FLOW}.list_serial_ports", side_effect=OSError("no sysfs")):
        assert _list_ports() == []
        result = await _form(hass, SOURCE_SERIAL)
    schema = result["data_schema"].schema
    field = next(key for key in schema if key == CONF_SERIAL_PORT)
    assert field.default() == "/dev/ttyUSB0"
    assert isinstance(schema[field], TextSelector)


async def test_a_meter_without_equipment_id_is_not_keyed(
    hass: HomeAssistant,
) -> None:
    """No 0-0:96.1.1 in the telegram: the household gets no unique id."""
    telegram = build_telegram(
        TelegramValuesIn(
            timestamp=datetime.now(UTC),
            import_w=500,
            phase_import_w=(500, 0, 0),
            equipment_id="",
        )
    )
    async with p1_server([telegram]) as server:
        result = await _form(hass, SOURCE_NETWORK)
        result = await _configure(
            hass,
            result,
            {
                CONF_HOST: "127.0.0.1",
                CONF_TCP_PORT: server.port,
                CONF_DSMR_VERSION: "5",
            },
        )
        result = await _finish(hass, result)
    assert result["result"].unique_id is None


async def test_homewizard_with_a_bad_telegram_recovers(
    hass: HomeAssistant, homewizard: dict[str, Any]
) -> None:
    """A telegram with a broken CRC is reported; a good one goes on."""
    good = homewizard["telegram"]
    homewizard["telegram"] = corrupt_crc(good.encode()).decode()
    result = await _form(hass, SOURCE_HOMEWIZARD)
    fields = {CONF_HOST: f"127.0.0.1:{homewizard['port']}", CONF_API_VERSION: "v1"}
    result = await _configure(hass, result, fields)
    assert result["errors"] == {"base": "invalid_telegram"}
    homewizard["telegram"] = good
    result = await _configure(hass, result, fields)
    result = await _finish(hass, result)
    # The dongle answered no device information: the serial stays unknown.
    assert "homewizard_serial" not in result["data"]


async def test_discovery_confirm_recovers_when_the_api_comes_on(
    hass: HomeAssistant, homewizard: dict[str, Any]
) -> None:
    """Refused at confirmation (API switched off): error, then it works."""
    homewizard["status"] = 403
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_ZEROCONF},
        data=_zeroconf(homewizard["port"]),
    )
    assert result["step_id"] == "discovery_confirm"
    result = await _configure(hass, dict(result), {})
    assert result["errors"] == {"base": "invalid_auth"}
    homewizard["status"] = 200
    result = await _configure(hass, result, {})
    await _finish(hass, result)


@pytest.mark.parametrize(
    ("token_effect", "probe_error", "error"),
    [
        (OSError("unreachable"), None, "cannot_connect"),
        ([None], None, "button_not_pressed"),
        (["token"], "invalid_auth", "invalid_auth"),
    ],
)
async def test_authorize_step_recovers_from_every_error(
    hass: HomeAssistant, token_effect: object, probe_error: str | None, error: str
) -> None:
    """No answer, no button, a token the device refuses: then success."""
    result = await _form(hass, SOURCE_HOMEWIZARD)
    result = await _configure(
        hass, result, {CONF_HOST: "192.0.2.10", CONF_API_VERSION: "v2"}
    )
    assert result["step_id"] == "authorize"
    with (
        patch(f"{FLOW}.request_token", side_effect=token_effect),
        patch(f"{FLOW}._MeterProbe.run", return_value=probe_error),
    ):
        result = await _configure(hass, result, {})
    assert result["errors"] == {"base": error}
    with (
        patch(f"{FLOW}.request_token", return_value="token"),
        patch(f"{FLOW}._MeterProbe.run", return_value=None),
    ):
        result = await _configure(hass, result, {})
    result = await _finish(hass, result)
    assert result["data"][CONF_TOKEN] == "token"


def _v2_entry() -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title="Thuis",
        version=1,
        minor_version=3,
        data={
            CONF_SOURCE: SOURCE_HOMEWIZARD,
            CONF_HOST: "192.0.2.10",
            CONF_API_VERSION: "v2",
            CONF_TOKEN: "old",
            CONF_PHASES: 3,
            CONF_FUSE_A: 25.0,
        },
    )


@pytest.mark.parametrize(
    ("token_effect", "error"),
    [(OSError("unreachable"), "cannot_connect"), ([None], "button_not_pressed")],
)
async def test_homewizard_v2_reauth_gets_a_new_token(
    hass: HomeAssistant, token_effect: object, error: str
) -> None:
    """The button is pressed again; the new token is stored."""
    entry = _v2_entry()
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_confirm"
    with patch(f"{FLOW}.request_token", side_effect=token_effect):
        result = await _configure(hass, dict(result), {})
    assert result["errors"] == {"base": error}
    with (
        patch(f"{FLOW}.request_token", return_value="new"),
        patch(f"{FLOW}._MeterProbe.run", return_value=None),
        patch("custom_components.stroomwijs.async_setup_entry", return_value=True),
    ):
        result = await _configure(hass, result, {})
        await hass.async_block_till_done()
    assert result["reason"] == "reauth_successful"
    assert entry.data[CONF_TOKEN] == "new"


async def test_reauth_reports_a_stored_version_this_release_does_not_know(
    hass: HomeAssistant,
) -> None:
    """An entry whose DSMR version is unknown now cannot be probed: said so."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Thuis",
        version=1,
        minor_version=3,
        data={
            CONF_SOURCE: SOURCE_NETWORK,
            CONF_HOST: "127.0.0.1",
            CONF_TCP_PORT: 1,
            CONF_DSMR_VERSION: "9",
            CONF_PHASES: 3,
            CONF_FUSE_A: 25.0,
        },
    )
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    result = await _configure(hass, dict(result), {"encryption_key": "AB" * 16})
    assert result["errors"] == {"base": "invalid_version"}


async def test_reconfigure_keeps_a_homewizard_token(hass: HomeAssistant) -> None:
    """Moving a v2 HomeWizard to a new address keeps its token."""
    entry = _v2_entry()
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    with (
        patch(f"{FLOW}._MeterProbe.run", return_value=None),
        patch("custom_components.stroomwijs.async_setup_entry", return_value=True),
    ):
        result = await _configure(
            hass,
            dict(result),
            {
                CONF_HOST: "192.0.2.11",
                CONF_API_VERSION: "v2",
                CONF_PHASES: "3",
                CONF_FUSE_A: 25,
            },
        )
        await hass.async_block_till_done()
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_HOST] == "192.0.2.11"
    assert entry.data[CONF_TOKEN] == "old"


async def test_reconfigure_refuses_a_meter_another_household_has(
    hass: HomeAssistant, homewizard: dict[str, Any]
) -> None:
    """An older discovery (serial key) pointed at another household's meter."""
    MockConfigEntry(
        domain=DOMAIN,
        title="Buren",
        unique_id="K8EG004046395507",
        version=1,
        minor_version=3,
        data={CONF_PHASES: 3, CONF_FUSE_A: 25.0},
    ).add_to_hass(hass)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Thuis",
        unique_id="homewizard_aaaaaaaaaaaa",
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
    result = await entry.start_reconfigure_flow(hass)
    result = await _configure(
        hass,
        dict(result),
        {
            CONF_HOST: f"127.0.0.1:{homewizard['port']}",
            CONF_API_VERSION: "v1",
            CONF_PHASES: "3",
            CONF_FUSE_A: 25,
        },
    )
    assert result["errors"] == {"base": "wrong_meter"}
    assert entry.unique_id == "homewizard_aaaaaaaaaaaa"


async def test_a_port_that_answers_but_sends_no_telegram_is_named_as_such(
    hass: HomeAssistant,
) -> None:
    """Connected, silent: "no telegram" (not "cannot connect"), then recover."""

    async def _silent(
        _reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await asyncio.sleep(5)
        writer.close()

    server = await asyncio.start_server(_silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        result = await _form(hass, SOURCE_NETWORK)
        result = await _configure(
            hass,
            result,
            {CONF_HOST: "127.0.0.1", CONF_TCP_PORT: port, CONF_DSMR_VERSION: "5"},
        )
        assert result["errors"] == {"base": "no_telegram"}
    finally:
        server.close()
        await server.wait_closed()
    async with p1_server([real("telegram_v5.txt")]) as meter:
        result = await _configure(
            hass,
            result,
            {CONF_HOST: "127.0.0.1", CONF_TCP_PORT: meter.port, CONF_DSMR_VERSION: "5"},
        )
        await _finish(hass, result)


def test_the_probe_waits_three_telegram_intervals() -> None:
    """DSMR 5 (every second): 5 s; DSMR 4 and 2.2 (every 10 s): the 12 s cap."""
    with patch(f"{FLOW}.PROBE_TIMEOUT", 12.0):
        assert probe_limit({CONF_SOURCE: SOURCE_NETWORK, CONF_DSMR_VERSION: "5"}) == 5.0
        assert probe_limit({CONF_SOURCE: SOURCE_SERIAL, CONF_DSMR_VERSION: "4"}) == 12.0
        assert probe_limit({CONF_SOURCE: SOURCE_SERIAL, CONF_DSMR_VERSION: "9"}) == 12.0
        assert probe_limit({CONF_SOURCE: "entities"}) == 1.0
