"""Button: re-plan now."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .models import StroomwijsConfigEntry
from .plan_entities import PLAN_NOW_BUTTON, PlanNowButton

PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant,
    entry: StroomwijsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the household's plan-now button."""
    async_add_entities([PlanNowButton(entry, PLAN_NOW_BUTTON)])
