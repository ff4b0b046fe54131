"""Datetime: when the car leaves, and when an appliance must be done."""

from __future__ import annotations

from datetime import datetime

from homeassistant.components.datetime import DateTimeEntity, DateTimeEntityDescription
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .driver_entities import async_add_driver_entities
from .entity import ChargerEntity, async_add_charger_entities
from .models import StroomwijsConfigEntry

PARALLEL_UPDATES = 1

DEPARTURE = DateTimeEntityDescription(key="departure", translation_key="departure")


async def async_setup_entry(
    hass: HomeAssistant,
    entry: StroomwijsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a departure time per charger and a deadline per appliance."""
    async_add_driver_entities(Platform.DATETIME, hass, entry, async_add_entities)
    async_add_charger_entities(
        entry.runtime_data.chargers,
        async_add_entities,
        lambda charger: [DepartureDateTime(entry, charger, DEPARTURE)],
    )


class DepartureDateTime(ChargerEntity, DateTimeEntity):
    """The departure the planner must meet (the user's wins over the car's)."""

    @property
    def available(self) -> bool:
        """Can be set while the charger is offline."""
        return True

    @property
    def native_value(self) -> datetime | None:
        """Return the departure time."""
        return self.charger.departure

    async def async_set_value(self, value: datetime) -> None:
        """Store the departure time; the household re-plans."""
        await self.charger.async_set_departure({"departure": value})
