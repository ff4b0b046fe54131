"""Binary sensors: chargers, and facts of boilers, hybrids and appliances."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.const import EntityCategory, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .driver_entities import async_add_driver_entities
from .entity import ChargerEntity, async_add_charger_entities
from .household_view import ChargerView
from .limit_entities import async_add_limit_binary_sensors
from .models import StroomwijsConfigEntry

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class ChargerBinarySensorDescription(BinarySensorEntityDescription):
    """A yes/no fact about a charger."""

    value_fn: Callable[[ChargerView], bool | None]
    always_available: bool = False


CHARGER_BINARY_SENSORS: tuple[ChargerBinarySensorDescription, ...] = (
    ChargerBinarySensorDescription(
        key="charger_connected",
        translation_key="charger_connected",
        device_class=BinarySensorDeviceClass.CONNECTIVITY,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda charger: charger.available,
        always_available=True,
    ),
    ChargerBinarySensorDescription(
        key="charger_plugged_in",
        translation_key="charger_plugged_in",
        device_class=BinarySensorDeviceClass.PLUG,
        value_fn=lambda charger: charger.plugged_in,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: StroomwijsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the chargers' binary sensors."""
    async_add_limit_binary_sensors(entry, async_add_entities)
    async_add_driver_entities(Platform.BINARY_SENSOR, hass, entry, async_add_entities)
    async_add_charger_entities(
        entry.runtime_data.chargers,
        async_add_entities,
        lambda charger: (
            ChargerBinarySensor(entry, charger, description)
            for description in CHARGER_BINARY_SENSORS
        ),
    )


class ChargerBinarySensor(ChargerEntity, BinarySensorEntity):
    """Connectivity or plugged-in state of a charger."""

    entity_description: ChargerBinarySensorDescription

    @property
    def available(self) -> bool:
        """Connectivity is always known; the rest needs the charger."""
        return self.entity_description.always_available or super().available

    @property
    def is_on(self) -> bool | None:
        """Return the state."""
        return self.entity_description.value_fn(self.charger)
