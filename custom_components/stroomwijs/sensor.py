"""Sensors of the Stroomwijs household."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    EntityCategory,
    Platform,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfPower,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType
from homeassistant.helpers.update_coordinator import (
    CoordinatorEntity,
    DataUpdateCoordinator,
)

from .charger_sensor import async_add_charger_sensors
from .driver_entities import async_add_driver_entities
from .engine.grid import GridConnection
from .engine.meter.models import MeterReading
from .entity import StroomwijsEntity, meter_device
from .limit_entities import async_add_limit_sensors
from .models import StroomwijsConfigEntry
from .plan_entities import async_add_plan_sensors

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


@dataclass(frozen=True, kw_only=True)
class MeterSensorDescription(SensorEntityDescription):
    """A sensor fed by the household's grid meter."""

    value_fn: Callable[[MeterReading], StateType | datetime]
    has_fn: Callable[[MeterReading], bool] = lambda _reading: True
    enabled_fn: Callable[[MeterReading], bool] = lambda _reading: True
    """Whether the entity is enabled by default, given the first reading."""
    on_household: bool = False
    """Belongs to the grid connection (the household's device), not the meter."""


def _at(values: tuple[float | None, ...], index: int) -> float | None:
    return values[index] if index < len(values) else None


def _w(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _phase_sensors(index: int) -> tuple[MeterSensorDescription, ...]:
    """Return the power, current, voltage and headroom sensors of one phase."""
    phase = {"phase": f"L{index + 1}"}
    return (
        MeterSensorDescription(
            key=f"power_l{index + 1}",
            translation_key="phase_power",
            translation_placeholders=phase,
            device_class=SensorDeviceClass.POWER,
            state_class=SensorStateClass.MEASUREMENT,
            native_unit_of_measurement=UnitOfPower.WATT,
            suggested_display_precision=0,
            value_fn=lambda r: _w(_at(r.phase_net_power_w(), index)),
            has_fn=lambda r: _at(r.phase_import_w, index) is not None,
        ),
        MeterSensorDescription(
            key=f"current_l{index + 1}",
            translation_key="phase_current",
            translation_placeholders=phase,
            device_class=SensorDeviceClass.CURRENT,
            state_class=SensorStateClass.MEASUREMENT,
            native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
            suggested_display_precision=1,
            value_fn=lambda r: _at(r.phase_currents_a, index),
            has_fn=lambda r: _at(r.phase_currents_a, index) is not None,
        ),
        MeterSensorDescription(
            key=f"voltage_l{index + 1}",
            translation_key="phase_voltage",
            translation_placeholders=phase,
            device_class=SensorDeviceClass.VOLTAGE,
            state_class=SensorStateClass.MEASUREMENT,
            native_unit_of_measurement=UnitOfElectricPotential.VOLT,
            suggested_display_precision=1,
            value_fn=lambda r: _at(r.phase_voltages_v, index),
            has_fn=lambda r: _at(r.phase_voltages_v, index) is not None,
        ),
        MeterSensorDescription(
            key=f"headroom_l{index + 1}",
            translation_key="phase_headroom",
            translation_placeholders=phase,
            device_class=SensorDeviceClass.CURRENT,
            state_class=SensorStateClass.MEASUREMENT,
            native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
            suggested_display_precision=1,
            value_fn=lambda r: _at(r.phase_headroom_a, index),
            has_fn=lambda r: _at(r.phase_headroom_a, index) is not None,
            on_household=True,
        ),
    )


def _energy(
    key: str, value_fn: Callable[[MeterReading], float | None]
) -> MeterSensorDescription:
    return MeterSensorDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=3,
        value_fn=value_fn,
        has_fn=lambda r: value_fn(r) is not None,
    )


def _power(
    key: str, value_fn: Callable[[MeterReading], float | None]
) -> MeterSensorDescription:
    return MeterSensorDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=0,
        value_fn=lambda r: _w(value_fn(r)),
    )


METER_SENSORS: tuple[MeterSensorDescription, ...] = (
    _power("net_power", lambda r: r.net_power_w),
    _power("import_power", lambda r: r.import_w),
    _power("export_power", lambda r: r.export_w),
    *_phase_sensors(0),
    *_phase_sensors(1),
    *_phase_sensors(2),
    _energy("energy_import_t1", lambda r: r.import_t1_kwh),
    _energy("energy_import_t2", lambda r: r.import_t2_kwh),
    _energy("energy_export_t1", lambda r: r.export_t1_kwh),
    _energy("energy_export_t2", lambda r: r.export_t2_kwh),
    # Totals duplicate the tariff registers where a meter has both; the
    # Energy dashboard needs either, so totals are off by default then.
    replace(
        _energy("energy_import_total", lambda r: r.import_total_kwh),
        enabled_fn=lambda r: r.import_t1_kwh is None,
    ),
    replace(
        _energy("energy_export_total", lambda r: r.export_total_kwh),
        enabled_fn=lambda r: r.export_t1_kwh is None,
    ),
    MeterSensorDescription(
        key="quarter_average",
        translation_key="quarter_average",
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=0,
        value_fn=lambda r: _w(r.quarter_average_w),
    ),
    MeterSensorDescription(
        key="quarter_projection",
        translation_key="quarter_projection",
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=0,
        value_fn=lambda r: _w(r.quarter_projection_w),
    ),
    MeterSensorDescription(
        key="month_peak",
        translation_key="month_peak",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=0,
        value_fn=lambda r: _w(r.month_peak_w),
    ),
    MeterSensorDescription(
        key="peak_average",
        translation_key="peak_average",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=0,
        value_fn=lambda r: _w(r.peak_average_w),
        has_fn=lambda r: bool(r.peak_history),
    ),
    MeterSensorDescription(
        key="month_peak_at",
        translation_key="month_peak_at",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda r: r.month_peak_at,
    ),
    MeterSensorDescription(
        key="text_message",
        translation_key="text_message",
        value_fn=lambda r: r.text_message,
        has_fn=lambda r: r.dsmr_version != "entities",
    ),
    MeterSensorDescription(
        key="tariff",
        translation_key="tariff",
        value_fn=lambda r: r.tariff,
        has_fn=lambda r: r.tariff is not None,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: StroomwijsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the household's sensors."""
    async_add_entities(GridSensor(entry, description) for description in GRID_SENSORS)
    async_add_charger_sensors(entry, entry.runtime_data.chargers, async_add_entities)
    async_add_limit_sensors(entry, async_add_entities)
    async_add_plan_sensors(entry, async_add_entities)
    async_add_driver_entities(Platform.SENSOR, hass, entry, async_add_entities)
    coordinator = entry.runtime_data.meter_coordinator
    if coordinator is None or coordinator.data is None:
        return
    first = coordinator.data
    async_add_entities(
        MeterSensor(
            entry,
            coordinator,
            description
            if description.enabled_fn(first)
            else replace(description, entity_registry_enabled_default=False),
        )
        for description in METER_SENSORS
        if description.has_fn(first)
    )


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


class MeterSensor(
    StroomwijsEntity,
    CoordinatorEntity[DataUpdateCoordinator[MeterReading]],
    SensorEntity,
):
    """A value of the grid meter, refreshed at the throttled rate.

    It is on the P1 meter's device (headroom on the household's: it is the
    grid connection's). Its unique id stays ``<entry id>_<key>`` as before
    the meter had a device, so entity ids and history survive the move.
    """

    entity_description: MeterSensorDescription

    def __init__(
        self,
        entry: StroomwijsConfigEntry,
        coordinator: DataUpdateCoordinator[MeterReading],
        description: MeterSensorDescription,
    ) -> None:
        """Attach the sensor to the meter coordinator and the meter's device."""
        CoordinatorEntity.__init__(self, coordinator)
        StroomwijsEntity.__init__(self, entry, description)
        if not description.on_household:
            self._attr_device_info = meter_device(entry, coordinator.data)

    @property
    def native_value(self) -> StateType | datetime:
        """Return the value from the newest reading."""
        return self.entity_description.value_fn(self.coordinator.data)
