"""Selects: the optimiser's mode; boost or block of a heat pump or boiler."""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .driver_entities import async_add_driver_entities
from .models import StroomwijsConfigEntry
from .plan_entities import MODE_SELECT, ModeSelect

PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant,
    entry: StroomwijsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the optimiser mode, and each heat pump's and boiler's override."""
    async_add_entities([ModeSelect(entry, MODE_SELECT)])
    async_add_driver_entities(Platform.SELECT, hass, entry, async_add_entities)
