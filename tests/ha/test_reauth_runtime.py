"""The runtime starts a subentry's reauthentication when its credentials are refused.

A grid operator rotates the OpenADR client secret, or a charger is set to a
new password: the household notices the refusal, starts the config flow's
reauth for that subentry (REAUTH_SUBENTRY), and the flow stores what the
user enters; the household reloads with it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from homeassistant.config_entries import SOURCE_REAUTH, ConfigSubentryData
from homeassistant.const import CONF_PASSWORD
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from websockets.exceptions import InvalidStatus

from custom_components.stroomwijs.charger import CONF_OCPP_HOST, CONF_OCPP_PORT
from custom_components.stroomwijs.const import (
    CONF_FUSE_A,
    CONF_PHASES,
    DOMAIN,
)
from custom_components.stroomwijs.engine.drivers.ocpp import OcppCharger
from custom_components.stroomwijs.engine.simulate.ocpp_chargepoint import (
    OcppSimulator,
)
from custom_components.stroomwijs.engine.simulate.vtn import SimVtn, gac_program
from custom_components.stroomwijs.limits_flow import (
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_EAN,
    CONF_LIMIT_KIND,
    CONF_URL,
    KIND_OPENADR,
    SUBENTRY_GRID_LIMIT,
)

from .charger_support import ocpp_subentry, setup_loaded
from .p1_support import until

EAN = "871685900012345678"
NEW_PASSWORD = "new-pw"  # noqa: S105 - the password the charger now sends


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets; pytest-socket still limits connections to 127.0.0.1."""


@pytest.fixture
async def vtn() -> AsyncIterator[SimVtn]:
    """Run an OpenADR 3 VTN with one grid-aware charging program."""
    async with SimVtn() as server:
        server.add_program(gac_program("program-1"))
        yield server


def _reauth_flows(hass: HomeAssistant, entry_id: str) -> list[dict[str, Any]]:
    return [
        dict(flow)
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if flow["context"].get("source") == SOURCE_REAUTH
        and flow["context"].get("entry_id") == entry_id
    ]


async def test_a_refused_openadr_secret_starts_the_sources_reauth(
    hass: HomeAssistant, vtn: SimVtn
) -> None:
    """The operator rotates the secret: a reauth for that source asks for it."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Thuis",
        version=1,
        minor_version=4,
        data={CONF_PHASES: 3, CONF_FUSE_A: 25.0},
        subentries_data=[
            ConfigSubentryData(
                data={
                    CONF_LIMIT_KIND: KIND_OPENADR,
                    CONF_URL: vtn.base_url,
                    CONF_CLIENT_ID: vtn.client_id,
                    CONF_CLIENT_SECRET: vtn.client_secret,
                    CONF_EAN: EAN,
                },
                subentry_type=SUBENTRY_GRID_LIMIT,
                title="Liander",
                unique_id=None,
            )
        ],
    )
    await setup_loaded(hass, entry)
    (sid,) = entry.subentries
    ven = entry.runtime_data.household.limits.ven
    assert ven is not None
    assert await ven.async_poll()
    assert _reauth_flows(hass, entry.entry_id) == []

    vtn.client_secret = "rotated-secret"  # noqa: S105 - the operator's new one
    vtn.revoke_tokens()
    assert not await ven.async_poll()
    assert ven.status.auth_failed
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=6))
    await hass.async_block_till_done()
    (flow,) = _reauth_flows(hass, entry.entry_id)
    assert flow["step_id"] == "reauth_openadr"
    assert flow["context"]["title_placeholders"] == {"name": "Liander"}
    # Another failed poll does not start a second flow.
    assert not await ven.async_poll()
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=12))
    await hass.async_block_till_done()
    assert len(_reauth_flows(hass, entry.entry_id)) == 1

    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"],
        {CONF_CLIENT_ID: vtn.client_id, CONF_CLIENT_SECRET: "rotated-secret"},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.subentries[sid].data[CONF_CLIENT_SECRET] == "rotated-secret"
    ven = entry.runtime_data.household.limits.ven  # reloaded with it
    assert ven is not None
    assert await ven.async_poll()
    assert not ven.status.auth_failed
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_refused_charger_password_starts_the_chargers_reauth(
    hass: HomeAssistant,
) -> None:
    """A charger sends another password: 401, then a reauth asks for it."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Thuis",
        version=1,
        minor_version=4,
        data={CONF_PHASES: 3, CONF_FUSE_A: 25.0},
        options={CONF_OCPP_HOST: "127.0.0.1", CONF_OCPP_PORT: 0},
        subentries_data=[ocpp_subentry("garage", **{CONF_PASSWORD: "old-pw"})],
    )
    await setup_loaded(hass, entry)
    (sid,) = entry.subentries
    household = entry.runtime_data.household
    csms = household.chargers.csms
    assert csms is not None
    charger = household.chargers.handles[sid].device
    assert isinstance(charger, OcppCharger)

    sim = OcppSimulator("garage", version="ocpp2.0.1")
    with pytest.raises(InvalidStatus):
        await sim.async_connect(csms.url, password=NEW_PASSWORD)
    await hass.async_block_till_done()
    assert charger.state.auth_refused
    (flow,) = _reauth_flows(hass, entry.entry_id)
    assert flow["step_id"] == "reauth_charger"
    with pytest.raises(InvalidStatus):  # it keeps trying: still one flow
        await sim.async_connect(csms.url, password=NEW_PASSWORD)
    await hass.async_block_till_done()
    assert len(_reauth_flows(hass, entry.entry_id)) == 1

    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_PASSWORD: "new-pw"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.subentries[sid].data[CONF_PASSWORD] == "new-pw"
    household = entry.runtime_data.household
    csms = household.chargers.csms
    assert csms is not None
    charger = household.chargers.handles[sid].device
    assert isinstance(charger, OcppCharger)
    sim = OcppSimulator("garage", version="ocpp2.0.1")
    try:
        await sim.async_connect(csms.url, password=NEW_PASSWORD)
        await until(lambda: charger.available)
        assert not charger.state.auth_refused
        # Someone else with its id and a wrong password, while it is
        # connected: refused, and nobody is asked for a password.
        spoof = OcppSimulator("garage", version="ocpp2.0.1")
        with pytest.raises(InvalidStatus):
            await spoof.async_connect(csms.url, password="guess")  # noqa: S106
        await hass.async_block_till_done()
        assert not charger.state.auth_refused
        assert _reauth_flows(hass, entry.entry_id) == []
    finally:
        await sim.async_disconnect()
    assert await hass.config_entries.async_unload(entry.entry_id)
