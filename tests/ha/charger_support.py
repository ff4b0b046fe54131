"""Shared set-up for Home Assistant tests with chargers."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState, ConfigSubentryData
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.stroomwijs.charger import (
    CONF_CHARGER_ID,
    CONF_KIND,
    KIND_OCPP,
    SUBENTRY_CHARGER,
)


def ocpp_subentry(charger_id: str, **data: object) -> ConfigSubentryData:
    """Build the subentry of an OCPP charger, with optional extra settings."""
    return ConfigSubentryData(
        data={CONF_KIND: KIND_OCPP, CONF_CHARGER_ID: charger_id, **data},
        subentry_type=SUBENTRY_CHARGER,
        title=charger_id,
        unique_id=charger_id,
    )


async def setup_loaded(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Add and set up an entry, and check that it loaded."""
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
