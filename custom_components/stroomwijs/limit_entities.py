"""Entities of the DSO limits and the guard.

The platform modules (``sensor``, ``binary_sensor``, ``number``, ``event``)
call the ``async_add_limit_*`` functions here, so everything about limits
stays in one place. Entities read a ``HouseholdView`` (the household in
this process, or in the add-on's gateway) and refresh when it notifies
(limit changes, interventions, and every few seconds).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntity,
    NumberEntityDescription,
    NumberMode,
)
from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory, UnitOfPower
from homeassistant.core import callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType
from homeassistant.util import dt as dt_util

from .engine.guard import InterventionKind
from .entity import LimitEntity
from .guard_glue import LimitsRuntime
from .household_view import HouseholdView
from .models import StroomwijsConfigEntry

GRID_EVENT_TYPES: tuple[str, ...] = (
    "limit_changed",
    *(
        kind.value
        for kind in InterventionKind
        if kind is not InterventionKind.LIMIT_CHANGED
    ),
)


def _runtime(entry: StroomwijsConfigEntry) -> HouseholdView | None:
    return entry.runtime_data.limits


def _now(runtime: HouseholdView) -> datetime:
    """Return the household's own time (simulated under ``script/demo --speed``)."""
    if isinstance(runtime, LimitsRuntime):
        return runtime.household.ports.clock()
    return dt_util.utcnow()


# ---------------------------------------------------------------- sensors


@dataclass(frozen=True, kw_only=True)
class LimitSensorDescription(SensorEntityDescription):
    """A sensor computed from the limits runtime at the current time."""

    value_fn: Callable[[HouseholdView, datetime], StateType | datetime]
    attributes_fn: Callable[[HouseholdView], dict[str, Any]] | None = None


def _headroom(runtime: HouseholdView, _now: datetime) -> float | None:
    headroom = runtime.guard_status().headroom_w
    return None if headroom is None else round(headroom)


def _next_start(runtime: HouseholdView, now: datetime) -> datetime | None:
    limit = runtime.next_limit(now)
    return None if limit is None else limit.start


def _next_value(runtime: HouseholdView, now: datetime) -> float | None:
    limit = runtime.next_limit(now)
    if limit is None or limit.import_w is None:
        return None
    return round(limit.import_w)


def _export(runtime: HouseholdView, _now: datetime) -> float | None:
    export_w = runtime.export_limit_w
    return None if export_w is None else round(export_w)


SOURCE_KINDS: tuple[str, ...] = (
    "fuse",
    "manual",
    "p1_message",
    "window",
    "openadr",
    "openadr_failsafe",
    "capacity",
    "dim",
    "source_failed",
    "other",
)
_SOURCE_PREFIXES: dict[str, str] = {
    "manual": "manual",
    "p1_message": "p1_message",
    "window": "window",
    "capacity": "capacity",
    "dim14a": "dim",
}


def source_kind(source: str) -> str:
    """Return the kind of a limit source (``manual:installer`` is ``manual``)."""
    name, _, label = source.partition(":")
    if label == "failed":
        return "source_failed"
    if name == "fuse":
        return "fuse"
    if name.startswith("openadr"):
        return "openadr_failsafe" if label == "failsafe" else "openadr"
    return _SOURCE_PREFIXES.get(name, "other")


def _source_attributes(runtime: HouseholdView) -> dict[str, Any]:
    until = runtime.limit_until
    status = runtime.guard_status()
    source = runtime.import_source
    return {
        "source": source,
        "label": source.partition(":")[2] or None,
        "until": None if until is None else until.isoformat(),
        "failsafe": runtime.limit_failsafe,
        "export_source": runtime.export_source,
        "override_notice": status.override_notice,
        "emergency_notice": status.emergency_notice,
        "curtailed": list(status.curtailed),
        "data_lost": status.data_lost,
    }


LIMIT_SENSORS: tuple[LimitSensorDescription, ...] = (
    LimitSensorDescription(
        key="import_limit",
        translation_key="import_limit",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=0,
        value_fn=lambda runtime, _now: round(runtime.import_limit_w),
    ),
    LimitSensorDescription(
        key="export_limit",
        translation_key="export_limit",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=0,
        value_fn=_export,
    ),
    LimitSensorDescription(
        key="limit_source",
        translation_key="limit_source",
        device_class=SensorDeviceClass.ENUM,
        options=list(SOURCE_KINDS),
        value_fn=lambda runtime, _now: source_kind(runtime.import_source),
        attributes_fn=_source_attributes,
    ),
    LimitSensorDescription(
        key="grid_headroom",
        translation_key="grid_headroom",
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=0,
        value_fn=_headroom,
    ),
    LimitSensorDescription(
        key="next_limit_start",
        translation_key="next_limit_start",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=_next_start,
    ),
    LimitSensorDescription(
        key="next_limit",
        translation_key="next_limit",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=0,
        value_fn=_next_value,
    ),
    LimitSensorDescription(
        key="guard_interventions_today",
        translation_key="guard_interventions_today",
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda runtime, _now: runtime.interventions_today,
    ),
)


class LimitSensor(LimitEntity, SensorEntity):
    """A limit, its source, the headroom or the next limit."""

    entity_description: LimitSensorDescription

    @property
    def native_value(self) -> StateType | datetime:
        """Return the value now."""
        return self.entity_description.value_fn(self.runtime, _now(self.runtime))

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return details of the binding limit, where the sensor has them."""
        attributes_fn = self.entity_description.attributes_fn
        return None if attributes_fn is None else attributes_fn(self.runtime)


@callback
def async_add_limit_sensors(
    entry: StroomwijsConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add the limit sensors of the household."""
    runtime = _runtime(entry)
    if runtime is None:
        return
    async_add_entities(
        LimitSensor(entry, runtime, description) for description in LIMIT_SENSORS
    )


# ---------------------------------------------------------- binary sensors


@dataclass(frozen=True, kw_only=True)
class LimitBinarySensorDescription(BinarySensorEntityDescription):
    """A yes/no fact about the limits."""

    value_fn: Callable[[HouseholdView], bool]
    attributes_fn: Callable[[HouseholdView], dict[str, Any]] | None = None


def _shortfall(runtime: HouseholdView) -> dict[str, Any]:
    status = runtime.guard_status()
    return {
        "shortfall_w": None
        if status.shortfall_w is None
        else round(status.shortfall_w),
        "emergency_notice": status.emergency_notice,
    }


LIMIT_BINARY_SENSORS: tuple[LimitBinarySensorDescription, ...] = (
    LimitBinarySensorDescription(
        key="limit_active",
        translation_key="limit_active",
        value_fn=lambda runtime: runtime.limit_active,
    ),
    LimitBinarySensorDescription(
        key="dso_signal_problem",
        translation_key="dso_signal_problem",
        device_class=BinarySensorDeviceClass.PROBLEM,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda runtime: runtime.repairs_needed,
    ),
    LimitBinarySensorDescription(
        key="limit_not_holdable",
        translation_key="limit_not_holdable",
        device_class=BinarySensorDeviceClass.PROBLEM,
        value_fn=lambda runtime: not runtime.guard_status().limit_holdable,
        attributes_fn=_shortfall,
    ),
)


class LimitBinarySensor(LimitEntity, BinarySensorEntity):
    """Whether a DSO limit is active, or the DSO signal is lost."""

    entity_description: LimitBinarySensorDescription

    @property
    def is_on(self) -> bool:
        """Return the state."""
        return self.entity_description.value_fn(self.runtime)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return the details, where the description has any."""
        attributes_fn = self.entity_description.attributes_fn
        return None if attributes_fn is None else attributes_fn(self.runtime)


@callback
def async_add_limit_binary_sensors(
    entry: StroomwijsConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add the limit binary sensors of the household."""
    runtime = _runtime(entry)
    if runtime is None:
        return
    async_add_entities(
        LimitBinarySensor(entry, runtime, description)
        for description in LIMIT_BINARY_SENSORS
    )


# ------------------------------------------------------------------ number


MANUAL_LIMIT_NUMBER = NumberEntityDescription(
    key="manual_grid_limit",
    translation_key="manual_grid_limit",
    device_class=NumberDeviceClass.POWER,
    native_unit_of_measurement=UnitOfPower.WATT,
    native_min_value=0,
    native_step=100,
    mode=NumberMode.BOX,
)


class ManualLimitNumber(LimitEntity, NumberEntity):
    """The manual import limit; setting the fuse's capacity clears it."""

    @property
    def native_max_value(self) -> float:
        """The fuse's capacity."""
        return round(self.runtime.grid.max_power_w)

    @property
    def native_value(self) -> float | None:
        """The manual limit in force; unknown while none is set.

        (Showing the fuse's capacity read as if a limit were set.)
        """
        return self.runtime.manual_import_w(_now(self.runtime))

    async def async_set_native_value(self, value: float) -> None:
        """Set (or, at the fuse's capacity, clear) the manual limit."""
        if value >= self.native_max_value:
            await self.runtime.async_clear_manual()
            return
        await self.runtime.async_set_manual(
            import_w=value, duration=self.runtime.manual_duration, label="number"
        )


@callback
def async_add_limit_numbers(
    entry: StroomwijsConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add the manual limit number."""
    runtime = _runtime(entry)
    if runtime is None:
        return
    async_add_entities([ManualLimitNumber(entry, runtime, MANUAL_LIMIT_NUMBER)])


# ------------------------------------------------------------------- event


GRID_EVENT = EventEntityDescription(
    key="grid_event",
    translation_key="grid_event",
    event_types=list(GRID_EVENT_TYPES),
)


class GridEvent(LimitEntity, EventEntity):
    """Limit changes and every intervention of the guard."""

    async def async_added_to_hass(self) -> None:
        """Fire on every limit change and intervention."""
        await super().async_added_to_hass()
        self.async_on_remove(self.runtime.add_event_listener(self._on_event))

    @callback
    def _on_event(self, event_type: str, data: dict[str, Any]) -> None:
        self._trigger_event(event_type, data)
        self.async_write_ha_state()


@callback
def async_add_limit_events(
    entry: StroomwijsConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add the grid event entity."""
    runtime = _runtime(entry)
    if runtime is None:
        return
    async_add_entities([GridEvent(entry, runtime, GRID_EVENT)])
