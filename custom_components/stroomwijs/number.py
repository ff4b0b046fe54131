"""Numbers: a charger's target and minimum SoC; a boost's or block's duration."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntity,
    NumberEntityDescription,
    NumberMode,
)
from homeassistant.const import PERCENTAGE, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .driver_entities import async_add_driver_entities
from .entity import ChargerEntity, async_add_charger_entities
from .household_view import ChargerView
from .limit_entities import async_add_limit_numbers
from .models import StroomwijsConfigEntry

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class ChargerNumberDescription(NumberEntityDescription):
    """A SoC the user sets, in percent."""

    value_fn: Callable[[ChargerView], float | None]
    field: str


CHARGER_NUMBERS: tuple[ChargerNumberDescription, ...] = (
    ChargerNumberDescription(
        key="target_soc",
        translation_key="target_soc",
        device_class=NumberDeviceClass.BATTERY,
        native_min_value=0,
        native_max_value=100,
        native_step=1,
        mode=NumberMode.SLIDER,
        native_unit_of_measurement=PERCENTAGE,
        value_fn=lambda charger: charger.target_soc,
        field="target_soc",
    ),
    ChargerNumberDescription(
        key="min_soc",
        translation_key="min_soc",
        device_class=NumberDeviceClass.BATTERY,
        native_min_value=0,
        native_max_value=100,
        native_step=1,
        mode=NumberMode.SLIDER,
        native_unit_of_measurement=PERCENTAGE,
        value_fn=lambda charger: charger.min_soc,
        field="min_soc",
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: StroomwijsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the SoC numbers per charger."""
    async_add_limit_numbers(entry, async_add_entities)
    async_add_driver_entities(Platform.NUMBER, hass, entry, async_add_entities)
    async_add_charger_entities(
        entry.runtime_data.chargers,
        async_add_entities,
        lambda charger: (
            ChargerNumber(entry, charger, description)
            for description in CHARGER_NUMBERS
        ),
    )


class ChargerNumber(ChargerEntity, NumberEntity):
    """Target or minimum SoC; the user's value wins over the car's."""

    entity_description: ChargerNumberDescription

    @property
    def available(self) -> bool:
        """Can be set while the charger is offline."""
        return True

    @property
    def native_value(self) -> float | None:
        """Return the SoC in percent."""
        value = self.entity_description.value_fn(self.charger)
        return None if value is None else round(value * 100.0)

    async def async_set_native_value(self, value: float) -> None:
        """Store the new SoC; the household re-plans."""
        await self.charger.async_set_departure(
            {self.entity_description.field: value / 100.0}
        )
