"""Sensors of the Stroomwijs household."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
)
from homeassistant.const import EntityCategory, UnitOfElectricCurrent, UnitOfPower
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .engine.grid import GridConnection
from .entity import StroomwijsEntity
from .models import StroomwijsConfigEntry

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class GridSensorDescription(SensorEntityDescription):
    """A sensor derived from the configured grid connection."""

    value_fn: Callable[[GridConnection], StateType]


GRID_SENSORS: tuple[GridSensorDescription, ...] = (
    GridSensorDescription(
        key="fuse_capacity",
        translation_key="fuse_capacity",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda grid: round(grid.max_power_w),
    ),
    GridSensorDescription(
        key="fuse_rating",
        translation_key="fuse_rating",
        device_class=SensorDeviceClass.CURRENT,
        native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda grid: grid.fuse_a,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: StroomwijsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the household's sensors."""
    async_add_entities(GridSensor(entry, description) for description in GRID_SENSORS)


class GridSensor(StroomwijsEntity, SensorEntity):
    """A property of the grid connection, fixed until reconfigured."""

    entity_description: GridSensorDescription

    def __init__(
        self, entry: StroomwijsConfigEntry, description: GridSensorDescription
    ) -> None:
        """Initialise from the entry's grid connection."""
        super().__init__(entry, description)
        self._grid = entry.runtime_data.grid

    @property
    def native_value(self) -> StateType:
        """Return the sensor value."""
        return self.entity_description.value_fn(self._grid)
