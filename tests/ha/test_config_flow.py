"""The config, reconfigure and options flows."""

from __future__ import annotations

from unittest.mock import ANY

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.stroomwijs.const import CONF_FUSE_A, CONF_PHASES, DOMAIN


async def test_user_flow_creates_a_household(hass: HomeAssistant) -> None:
    """The user names the household and gives its fuse; an entry results."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Thuis", CONF_PHASES: "1", CONF_FUSE_A: 40}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Thuis"
    assert result["data"] == {CONF_PHASES: 1, CONF_FUSE_A: 40.0}
    entry = result["result"]
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get("sensor.thuis_fuse_capacity").state == "9200"


async def test_user_flow_rejects_a_fuse_that_cannot_exist(hass: HomeAssistant) -> None:
    """An impossible fuse gives a form error, and the user can correct it."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    with pytest.raises(InvalidData) as err:
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {"name": "Thuis", CONF_PHASES: "3", CONF_FUSE_A: 0.5}
        )
    assert err.value.schema_errors == {CONF_FUSE_A: ANY}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Thuis", CONF_PHASES: "3", CONF_FUSE_A: 35}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_PHASES: 3, CONF_FUSE_A: 35.0}


async def test_reconfigure_changes_the_fuse(hass: HomeAssistant) -> None:
    """Reconfigure updates the stored fuse and reloads the entry."""
    entry = MockConfigEntry(
        domain=DOMAIN, title="Thuis", data={CONF_PHASES: 3, CONF_FUSE_A: 25.0}
    )
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

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


async def test_options_flow_overrides_the_fuse(hass: HomeAssistant) -> None:
    """Options take precedence over the original data after the reload."""
    entry = MockConfigEntry(
        domain=DOMAIN, title="Thuis", data={CONF_PHASES: 3, CONF_FUSE_A: 25.0}
    )
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_PHASES: "1", CONF_FUSE_A: 35}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get("sensor.thuis_fuse_capacity").state == "8050"
