"""The OCPP central system's options: listen address, port, password, TLS."""

from __future__ import annotations

import asyncio
from pathlib import Path
import socket

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.stroomwijs.charger import (
    CONF_OCPP_CERTFILE,
    CONF_OCPP_HOST,
    CONF_OCPP_KEYFILE,
    CONF_OCPP_PORT,
    CONF_OCPP_REQUIRE_AUTH,
)
from custom_components.stroomwijs.const import CONF_FUSE_A, CONF_PHASES, DOMAIN
from custom_components.stroomwijs.coordinator import CONF_UPDATE_INTERVAL
from tests.tls import self_signed_certificate


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets; pytest-socket still limits connections to 127.0.0.1."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def _open_ocpp_form(hass: HomeAssistant, entry: MockConfigEntry) -> str:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "ocpp_server"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "ocpp_server"
    flow_id: str = result["flow_id"]
    return flow_id


@pytest.fixture
async def household(hass: HomeAssistant) -> MockConfigEntry:
    """Set up a household without a meter or chargers."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Thuis",
        data={CONF_PHASES: 3, CONF_FUSE_A: 25.0},
        options={CONF_UPDATE_INTERVAL: 7},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def test_setting_a_port_starts_the_central_system_for_discovery(
    hass: HomeAssistant, household: MockConfigEntry
) -> None:
    """With a port set, the central system listens even before any charger."""
    assert household.runtime_data.chargers.csms is None  # nothing to run yet
    port = _free_port()
    flow_id = await _open_ocpp_form(hass, household)
    result = await hass.config_entries.options.async_configure(
        flow_id,
        {
            CONF_OCPP_HOST: "127.0.0.1",
            CONF_OCPP_PORT: port,
            CONF_OCPP_REQUIRE_AUTH: True,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()

    assert household.state is ConfigEntryState.LOADED
    # The household's other options survive an OCPP change.
    assert household.options[CONF_UPDATE_INTERVAL] == 7
    assert household.options[CONF_OCPP_PORT] == port
    csms = household.runtime_data.chargers.csms
    assert csms is not None
    assert csms.url.startswith(f"ws://127.0.0.1:{port}")
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.close()
    await writer.wait_closed()
    assert await hass.config_entries.async_unload(household.entry_id)


async def test_a_certificate_turns_on_tls(
    hass: HomeAssistant, household: MockConfigEntry, tmp_path: Path
) -> None:
    """A valid certificate and key make the central system speak wss://."""
    certfile, keyfile = self_signed_certificate(tmp_path)
    port = _free_port()
    flow_id = await _open_ocpp_form(hass, household)
    result = await hass.config_entries.options.async_configure(
        flow_id,
        {
            CONF_OCPP_HOST: "127.0.0.1",
            CONF_OCPP_PORT: port,
            CONF_OCPP_REQUIRE_AUTH: True,
            CONF_OCPP_CERTFILE: str(certfile),
            CONF_OCPP_KEYFILE: str(keyfile),
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    csms = household.runtime_data.chargers.csms
    assert csms is not None
    assert csms.url.startswith(f"wss://127.0.0.1:{port}")
    assert await hass.config_entries.async_unload(household.entry_id)


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({CONF_OCPP_HOST: "my-laptop"}, {CONF_OCPP_HOST: "invalid_bind_address"}),
        (
            {CONF_OCPP_CERTFILE: "/nonexistent/csms.crt"},
            {CONF_OCPP_CERTFILE: "invalid_certificate"},
        ),
        (
            {CONF_OCPP_KEYFILE: "/nonexistent/csms.key"},
            {CONF_OCPP_CERTFILE: "certificate_required"},
        ),
    ],
)
async def test_bad_ocpp_settings_are_refused_with_a_reason(
    hass: HomeAssistant,
    household: MockConfigEntry,
    changes: dict[str, str],
    errors: dict[str, str],
) -> None:
    """A bad address or certificate keeps the form open and names the field."""
    flow_id = await _open_ocpp_form(hass, household)
    result = await hass.config_entries.options.async_configure(
        flow_id,
        {
            CONF_OCPP_HOST: "127.0.0.1",
            CONF_OCPP_PORT: 9000,
            CONF_OCPP_REQUIRE_AUTH: False,
            **changes,
        },
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    assert CONF_OCPP_PORT not in household.options
