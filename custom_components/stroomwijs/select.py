"""Select: the optimiser's mode."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .models import StroomwijsConfigEntry
from .plan_entities import MODE_SELECT, ModeSelect

PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant,
    entry: StroomwijsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the household's optimiser mode."""
    async_add_entities([ModeSelect(entry, MODE_SELECT)])
