"""Switches: the optimiser, V2H/V2G consent per charger, and per device its plan."""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .driver_entities import async_add_driver_entities
from .entity import ChargerEntity, async_add_charger_entities
from .models import StroomwijsConfigEntry
from .plan_entities import ENABLE_SWITCH, EnableSwitch

PARALLEL_UPDATES = 1

V2G_ALLOWED = SwitchEntityDescription(key="v2g_allowed", translation_key="v2g_allowed")


async def async_setup_entry(
    hass: HomeAssistant,
    entry: StroomwijsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the optimiser switch and a V2G switch per charger."""
    async_add_entities([EnableSwitch(entry, ENABLE_SWITCH)])
    async_add_driver_entities(Platform.SWITCH, hass, entry, async_add_entities)
    async_add_charger_entities(
        entry.runtime_data.chargers,
        async_add_entities,
        lambda charger: [V2gSwitch(entry, charger, V2G_ALLOWED)],
    )


class V2gSwitch(ChargerEntity, SwitchEntity):
    """Allow or forbid discharge; the planner sees it through the power range."""

    @property
    def available(self) -> bool:
        """The user's consent can be set while the charger is offline."""
        return True

    @property
    def is_on(self) -> bool:
        """Return whether discharge is allowed."""
        return self.charger.v2g_allowed

    async def async_turn_on(self, **kwargs: Any) -> None:  # noqa: ANN401, ARG002
        """Allow discharge; the household re-plans."""
        await self.charger.async_set_v2g(allowed=True)

    async def async_turn_off(self, **kwargs: Any) -> None:  # noqa: ANN401, ARG002
        """Forbid discharge; the household re-plans."""
        await self.charger.async_set_v2g(allowed=False)
