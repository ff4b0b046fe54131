"""Sensors of the demo world: prices, PV forecast, what the devices do."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import UnitOfEnergy, UnitOfPower, UnitOfTemperature
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.helpers.typing import ConfigType, DiscoveryInfoType
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from . import DOMAIN, DemoData, DemoWorldCoordinator

HIDDEN = frozenset({"unit_of_measurement", "current_price"})


type Value = str | float | int | datetime | None


def _timestamp(value: object) -> datetime | None:
    """Return the simulator's time (ISO 8601), or None."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _device(key: str, field: str) -> Callable[[DemoData], Value]:
    def _value(data: DemoData) -> Value:
        device = data.state.get(key)
        return device.get(field) if isinstance(device, Mapping) else None

    return _value


@dataclass(frozen=True, kw_only=True)
class DemoSensorDescription(SensorEntityDescription):
    """A sensor and how to read it from the coordinator's data."""

    value_fn: Callable[[DemoData], Value]
    attributes_fn: Callable[[DemoData], dict[str, Any]] | None = None


DESCRIPTIONS: tuple[DemoSensorDescription, ...] = (
    DemoSensorDescription(
        key="day_ahead_price",
        name="Demo day-ahead price",
        native_unit_of_measurement="EUR/kWh",
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=3,
        value_fn=lambda data: data.prices.get("current_price"),
        attributes_fn=lambda data: {
            key: value for key, value in data.prices.items() if key not in HIDDEN
        },
    ),
    DemoSensorDescription(
        key="pv_forecast",
        name="Demo PV forecast",
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        device_class=SensorDeviceClass.ENERGY,
        value_fn=lambda data: data.pv_forecast.get("energy_production_today_kwh"),
        attributes_fn=lambda data: {"wh_hours": data.pv_forecast.get("wh_hours", {})},
    ),
    DemoSensorDescription(
        key="pv_power",
        name="Demo PV power",
        native_unit_of_measurement=UnitOfPower.WATT,
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda data: data.state.get("pv_w"),
    ),
    DemoSensorDescription(
        key="outdoor_temperature",
        name="Demo outdoor temperature",
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        device_class=SensorDeviceClass.TEMPERATURE,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda data: data.state.get("outdoor_c"),
    ),
    DemoSensorDescription(
        key="heat_pump_power",
        name="Demo heat pump power",
        native_unit_of_measurement=UnitOfPower.WATT,
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=_device("heat_pump", "power_w"),
    ),
    DemoSensorDescription(
        key="room_temperature",
        name="Demo room temperature",
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        device_class=SensorDeviceClass.TEMPERATURE,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=_device("heat_pump", "room_c"),
    ),
    DemoSensorDescription(
        key="boiler_power",
        name="Demo boiler power",
        native_unit_of_measurement=UnitOfPower.WATT,
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=_device("boiler", "power_w"),
    ),
    DemoSensorDescription(
        key="boiler_temperature",
        name="Demo boiler temperature",
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        device_class=SensorDeviceClass.TEMPERATURE,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=_device("boiler", "tank_c"),
    ),
    DemoSensorDescription(
        key="washer_power",
        name="Demo washer power",
        native_unit_of_measurement=UnitOfPower.WATT,
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=_device("washer", "power_w"),
    ),
    DemoSensorDescription(
        key="clock",
        name="Demo clock",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda data: _timestamp(data.state.get("time")),
    ),
    DemoSensorDescription(
        key="washer_state",
        name="Demo washer programme",
        device_class=SensorDeviceClass.ENUM,
        options=["idle", "armed", "running", "finished"],
        value_fn=_device("washer", "state"),
    ),
)


async def async_setup_platform(
    hass: HomeAssistant,
    config: ConfigType,
    async_add_entities: AddEntitiesCallback,
    discovery_info: DiscoveryInfoType | None = None,
) -> None:
    """Add the demo sensors."""
    del config, discovery_info
    coordinator: DemoWorldCoordinator = hass.data[DOMAIN]
    async_add_entities(DemoSensor(coordinator, desc) for desc in DESCRIPTIONS)


class DemoSensor(CoordinatorEntity[DemoWorldCoordinator], SensorEntity):
    """One value of the demo world."""

    entity_description: DemoSensorDescription
    _unrecorded_attributes = frozenset(
        {"raw_today", "raw_tomorrow", "today", "wh_hours"}
    )

    def __init__(
        self, coordinator: DemoWorldCoordinator, description: DemoSensorDescription
    ) -> None:
        """Show ``description`` of ``coordinator``'s data."""
        super().__init__(coordinator)
        self.entity_description = description
        self._attr_unique_id = f"{DOMAIN}_{description.key}"

    @property
    def native_value(self) -> Value:
        """The value now."""
        return self.entity_description.value_fn(self.coordinator.data)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """The integration-format attributes (prices, forecast)."""
        if self.entity_description.attributes_fn is None:
            return None
        return self.entity_description.attributes_fn(self.coordinator.data)
