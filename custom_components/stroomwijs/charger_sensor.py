"""Sensors of the household's chargers (added by the sensor platform)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, UnitOfEnergy, UnitOfPower
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .charger import CHARGER_STATES, ChargerHub
from .entity import ChargerEntity, async_add_charger_entities
from .household_view import ChargerView
from .models import StroomwijsConfigEntry


@dataclass(frozen=True, kw_only=True)
class ChargerSensorDescription(SensorEntityDescription):
    """A sensor of one charger."""

    value_fn: Callable[[ChargerView], StateType]
    has_fn: Callable[[ChargerView], bool] = lambda _charger: True


def _round(value: float | None) -> float | None:
    return None if value is None else round(value)


CHARGER_SENSORS: tuple[ChargerSensorDescription, ...] = (
    ChargerSensorDescription(
        key="charger_power",
        translation_key="charger_power",
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        value_fn=lambda charger: _round(charger.power_w),
    ),
    ChargerSensorDescription(
        key="charger_soc",
        translation_key="charger_soc",
        device_class=SensorDeviceClass.BATTERY,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=PERCENTAGE,
        value_fn=lambda charger: charger.soc_pct,
    ),
    ChargerSensorDescription(
        key="charger_session_energy",
        translation_key="charger_session_energy",
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        value_fn=lambda charger: charger.session_energy_kwh,
        has_fn=lambda charger: charger.kind == "ocpp",
    ),
    ChargerSensorDescription(
        key="charger_state",
        translation_key="charger_state",
        device_class=SensorDeviceClass.ENUM,
        options=CHARGER_STATES,
        value_fn=lambda charger: charger.state_name,
    ),
    ChargerSensorDescription(
        key="charger_limit",
        translation_key="charger_limit",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        value_fn=lambda charger: _round(charger.limit_w),
    ),
    ChargerSensorDescription(
        key="charger_setpoint",
        translation_key="charger_setpoint",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        value_fn=lambda charger: _round(charger.setpoint_w),
    ),
)


def async_add_charger_sensors(
    entry: StroomwijsConfigEntry,
    hub: ChargerHub | None,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add each charger's sensors to its own subentry."""
    async_add_charger_entities(
        hub,
        async_add_entities,
        lambda charger: (
            ChargerSensor(entry, charger, description)
            for description in CHARGER_SENSORS
            if description.has_fn(charger)
        ),
    )


class ChargerSensor(ChargerEntity, SensorEntity):
    """A measured or derived value of a charger."""

    entity_description: ChargerSensorDescription

    @property
    def native_value(self) -> StateType:
        """Return the sensor value."""
        return self.entity_description.value_fn(self.charger)
