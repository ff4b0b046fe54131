"""Base entity shared by every Stroomwijs entity."""

from __future__ import annotations

from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription

from .const import DOMAIN
from .models import StroomwijsConfigEntry


class StroomwijsEntity(Entity):
    """An entity of the household's Stroomwijs energy manager device."""

    _attr_has_entity_name = True

    def __init__(
        self, entry: StroomwijsConfigEntry, description: EntityDescription
    ) -> None:
        """Attach the entity to the entry's household device."""
        self.entity_description = description
        self._attr_unique_id = f"{entry.entry_id}_{description.key}"
        self._attr_device_info = household_device(entry)


def household_device(entry: StroomwijsConfigEntry) -> DeviceInfo:
    """Return the household's device: the home's grid connection."""
    grid = entry.runtime_data.grid
    return DeviceInfo(
        identifiers={(DOMAIN, entry.entry_id)},
        name=entry.title,
        manufacturer="Stroomwijs",
        model=f"Grid connection {grid}",
    )
