"""Event entities: DSO limit changes and guard interventions."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .limit_entities import async_add_limit_events
from .models import StroomwijsConfigEntry

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: StroomwijsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the household's grid event entity."""
    async_add_limit_events(entry, async_add_entities)
