"""Setting up and unloading a Stroomwijs household in Home Assistant."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.stroomwijs.const import CONF_FUSE_A, CONF_PHASES, DOMAIN
from tests.engine.meter.telegrams import real

from .p1_support import network_entry, p1_server, setup, unload, until


async def test_entry_loads_and_unloads(hass: HomeAssistant) -> None:
    """A household entry reaches LOADED, exposes its sensors and unloads cleanly."""
    entry = MockConfigEntry(
        domain=DOMAIN, title="Thuis", data={CONF_PHASES: 3, CONF_FUSE_A: 25.0}
    )
    entry.add_to_hass(hass)

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED

    capacity = hass.states.get("sensor.thuis_fuse_capacity")
    assert capacity is not None
    assert capacity.state == "17250"
    assert capacity.attributes["unit_of_measurement"] == "W"
    rating = hass.states.get("sensor.thuis_main_fuse_rating")
    assert rating is not None
    assert float(rating.state) == 25.0

    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, entry.entry_id), entry.entry_id
    )
    assert device is not None
    assert device.name == "Thuis"
    entity_ids = {
        entity.entity_id
        for entity in er.async_entries_for_config_entry(
            er.async_get(hass), entry.entry_id
        )
    }
    assert {"sensor.thuis_fuse_capacity", "sensor.thuis_main_fuse_rating"} <= entity_ids
    # Without a meter there are no meter sensors.
    assert "sensor.thuis_p1_meter_grid_power" not in entity_ids

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert hass.states.get("sensor.thuis_fuse_capacity").state == "unavailable"


async def test_entry_with_an_impossible_grid_fails_with_a_clear_error(
    hass: HomeAssistant,
) -> None:
    """Corrupt stored data gives SETUP_ERROR with a translated reason, no crash."""
    entry = MockConfigEntry(
        domain=DOMAIN, title="Kapot", data={CONF_PHASES: 2, CONF_FUSE_A: 25.0}
    )
    entry.add_to_hass(hass)

    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert "1 or 3 phases" in (entry.reason or "")


async def test_unloading_a_meter_household_closes_the_meter_connection(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    """After unload the dongle has no client left and the meter is closed."""
    async with p1_server([real("telegram_v5.txt")]) as server:
        entry = network_entry(server)
        await setup(hass, entry)
        assert entry.state is ConfigEntryState.LOADED
        meter = entry.runtime_data.meter
        assert meter is not None
        assert meter.available
        assert server.client_count == 1
        await unload(hass, entry)
        await until(lambda: server.client_count == 0)
        assert not meter.available
        assert (
            hass.states.get("sensor.thuis_p1_meter_grid_power").state == "unavailable"
        )
