"""Devices and entities of the household's heat pumps, boilers and appliances.

The entities read and command a ``DriverView`` (``household_view.py``), so
the same classes serve a household in this process and one in the add-on's
gateway. Each ``device`` subentry is one Home Assistant device, under the household
device, with the entities its driver can fill: the planned power now and
next (every controllable device has them), what it measures and what state
it is in, and the controls that make sense for it (an appliance's deadline,
arm and disarm). The platform modules call ``async_add_driver_entities``
with their platform (``DRIVER_ENTITIES`` says which entities each has);
entities refresh when the household notifies (every tick and every
command).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.components.datetime import DateTimeEntity, DateTimeEntityDescription
from homeassistant.components.number import (
    NumberEntityDescription,
    NumberMode,
    RestoreNumber,
)
from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.const import (
    EntityCategory,
    Platform,
    UnitOfPower,
    UnitOfTemperature,
    UnitOfTime,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .const import DOMAIN, SIGNAL_DEVICE_ADDED
from .driver_view import (
    CYCLE_STATES,
    HEAT_LEVELS,
    OVERRIDE_OPTIONS,
    SG_READY_MODES,
    local_drivers,
)
from .engine.capabilities import DeviceUnavailableError
from .engine.drivers.appliance import (
    PlugApplianceConfig,
    RemoteStartApplianceConfig,
)
from .engine.drivers.boiler import BoilerConfig
from .engine.drivers.climate_setpoint import ClimateSetpointConfig
from .engine.drivers.factory import (
    DriverConfig,
    HybridSetup,
)
from .engine.drivers.lambda_heat_pump import LambdaConfig
from .engine.drivers.sg_ready import SgReadyConfig
from .engine.household import OverrideRefusedError
from .entity import DriverEntity, inner_spec
from .household_view import DriverView
from .models import StroomwijsConfigEntry

__all__ = ["CYCLE_STATES", "HEAT_LEVELS", "SG_READY_MODES"]


def is_heat_pump(spec: DriverConfig) -> bool:
    """Whether ``spec`` heats the house (any heat-pump driver or a hybrid)."""
    return isinstance(
        spec, SgReadyConfig | ClimateSetpointConfig | LambdaConfig | HybridSetup
    )


def is_appliance(spec: DriverConfig) -> bool:
    """Whether ``spec`` is a washing machine, dishwasher or dryer."""
    return isinstance(
        inner_spec(spec), PlugApplianceConfig | RemoteStartApplianceConfig
    )


def driver_views(entry: StroomwijsConfigEntry) -> dict[str, DriverView]:
    """Return the entry's heat pumps, boilers and appliances, wherever they run."""
    runtime = entry.runtime_data
    if runtime.household is not None:
        return dict(local_drivers(runtime.household))
    if runtime.remote is not None:
        return dict(runtime.remote.drivers)
    return {}


# ------------------------------------------------------------------ sensors


@dataclass(frozen=True, kw_only=True)
class DriverSensorDescription(SensorEntityDescription):
    """A sensor of a driver device."""

    value_fn: Callable[[DriverView], StateType | datetime]
    has_fn: Callable[[DriverConfig], bool] = lambda _spec: True
    attributes_fn: Callable[[DriverView], dict[str, Any]] | None = None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value)


def _has_budget(spec: DriverConfig) -> bool:
    return isinstance(inner_spec(spec), SgReadyConfig | LambdaConfig)


def _is_sg_ready(spec: DriverConfig) -> bool:
    return isinstance(inner_spec(spec), SgReadyConfig)


def _has_level(spec: DriverConfig) -> bool:
    return isinstance(inner_spec(spec), ClimateSetpointConfig | LambdaConfig)


def _is_boiler(spec: DriverConfig) -> bool:
    return isinstance(inner_spec(spec), BoilerConfig)


def _temperature(
    key: str,
    has_fn: Callable[[DriverConfig], bool],
    attributes_fn: Callable[[DriverView], dict[str, Any]] | None = None,
) -> DriverSensorDescription:
    """Return the description of a room's or tank's temperature in °C."""
    return DriverSensorDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.TEMPERATURE,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        suggested_display_precision=1,
        value_fn=lambda view: view.temperature_c,
        has_fn=has_fn,
        attributes_fn=attributes_fn,
    )


def _tank_attributes(view: DriverView) -> dict[str, Any]:
    return {"estimated": view.tank_estimated is not False}


DRIVER_SENSORS: tuple[DriverSensorDescription, ...] = (
    DriverSensorDescription(
        key="driver_power",
        translation_key="driver_power",
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        value_fn=lambda view: _round(view.power_w),
    ),
    _temperature("room_temperature", is_heat_pump),
    DriverSensorDescription(
        key="sg_ready_mode",
        translation_key="sg_ready_mode",
        device_class=SensorDeviceClass.ENUM,
        options=SG_READY_MODES,
        value_fn=lambda view: view.sg_mode,
        has_fn=_is_sg_ready,
    ),
    DriverSensorDescription(
        key="heat_pump_level",
        translation_key="heat_pump_level",
        device_class=SensorDeviceClass.ENUM,
        options=HEAT_LEVELS,
        value_fn=lambda view: view.level,
        has_fn=_has_level,
    ),
    DriverSensorDescription(
        key="blocks_left_today",
        translation_key="blocks_left_today",
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda view: view.blocks_left_today,
        has_fn=_has_budget,
    ),
    DriverSensorDescription(
        key="blocked_minutes_left_today",
        translation_key="blocked_minutes_left_today",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement="min",
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda view: _round(view.blocked_minutes_left_today),
        has_fn=_has_budget,
    ),
    _temperature("tank_temperature", _is_boiler, _tank_attributes),
    DriverSensorDescription(
        key="legionella_due",
        translation_key="legionella_due",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda view: view.legionella_due,
        has_fn=_is_boiler,
    ),
    DriverSensorDescription(
        key="cycle_state",
        translation_key="cycle_state",
        device_class=SensorDeviceClass.ENUM,
        options=CYCLE_STATES,
        value_fn=lambda view: view.cycle_state,
        has_fn=is_appliance,
    ),
    DriverSensorDescription(
        key="latest_start",
        translation_key="latest_start",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda view: view.latest_start,
        has_fn=is_appliance,
    ),
)


class DriverSensor(DriverEntity, SensorEntity):
    """A measured or derived value of a driver device."""

    entity_description: DriverSensorDescription

    @property
    def native_value(self) -> StateType | datetime:
        """Return the value from the driver."""
        return self.entity_description.value_fn(self.view)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """The tank temperature says whether it is estimated."""
        attributes_fn = self.entity_description.attributes_fn
        return None if attributes_fn is None else attributes_fn(self.view)


@dataclass(frozen=True, kw_only=True)
class DriverPlanDescription(SensorEntityDescription):
    """A driver's planned power, now or in the next quarter-hour."""

    slots_ahead: int


DRIVER_PLANNED_POWER: tuple[DriverPlanDescription, ...] = (
    DriverPlanDescription(
        key="planned_power",
        translation_key="planned_power",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        slots_ahead=0,
    ),
    DriverPlanDescription(
        key="planned_power_next",
        translation_key="planned_power_next",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        slots_ahead=1,
    ),
)


class DriverPlannedPower(DriverEntity, SensorEntity):
    """What the plan gives the device now or next (unknown: not in the plan)."""

    entity_description: DriverPlanDescription
    always_available = True

    @property
    def native_value(self) -> float | None:
        """Return the planned power in W."""
        return _round(
            self.view.planned_power_w(slots_ahead=self.entity_description.slots_ahead)
        )


# ------------------------------------------------------------ binary sensors


@dataclass(frozen=True, kw_only=True)
class DriverBinarySensorDescription(BinarySensorEntityDescription):
    """A yes/no fact about a driver device."""

    value_fn: Callable[[DriverView], bool | None]
    has_fn: Callable[[DriverConfig], bool]


DRIVER_BINARY_SENSORS: tuple[DriverBinarySensorDescription, ...] = (
    DriverBinarySensorDescription(
        key="boiler_heating",
        translation_key="boiler_heating",
        device_class=BinarySensorDeviceClass.RUNNING,
        value_fn=lambda view: view.heating,
        has_fn=_is_boiler,
    ),
    DriverBinarySensorDescription(
        key="on_gas",
        translation_key="on_gas",
        value_fn=lambda view: view.on_gas,
        has_fn=lambda spec: isinstance(spec, HybridSetup),
    ),
    DriverBinarySensorDescription(
        key="remote_start_allowed",
        translation_key="remote_start_allowed",
        value_fn=lambda view: view.remote_start_allowed,
        has_fn=lambda spec: isinstance(spec, RemoteStartApplianceConfig),
    ),
)


class DriverBinarySensor(DriverEntity, BinarySensorEntity):
    """A yes/no fact of a driver device."""

    entity_description: DriverBinarySensorDescription

    @property
    def is_on(self) -> bool | None:
        """Return the state."""
        return self.entity_description.value_fn(self.view)


# ------------------------------------------------------------------ controls


def refused(device: str, err: Exception) -> ServiceValidationError:
    """Return the error of an appliance command that cannot be done now."""
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="appliance_refused",
        translation_placeholders={"device": device, "error": str(err)},
    )


FINISH_BY = DateTimeEntityDescription(key="finish_by", translation_key="finish_by")
ARM = ButtonEntityDescription(key="arm", translation_key="arm")
DISARM = ButtonEntityDescription(key="disarm", translation_key="disarm")


async def async_run_before(view: DriverView, finish_by: datetime) -> None:
    """Arm ``view`` (or move its deadline); a refusal becomes a translated error."""
    try:
        await view.async_run_before(finish_by)
    except (ValueError, DeviceUnavailableError) as err:
        raise refused(view.title, err) from err


class FinishByDateTime(DriverEntity, DateTimeEntity):
    """When the armed cycle must be done; setting it arms an idle appliance."""

    always_available = True

    @property
    def native_value(self) -> datetime | None:
        """Return the deadline of the armed or running cycle."""
        return self.view.deadline

    async def async_set_value(self, value: datetime) -> None:
        """Arm (or move the deadline): the cycle is to be done by ``value``."""
        await async_run_before(self.view, value)


class ApplianceButton(DriverEntity, ButtonEntity):
    """Arm an appliance for the plan, or disarm it."""

    always_available = True

    async def async_press(self) -> None:
        """Arm or disarm through the household (it re-plans)."""
        try:
            if self.entity_description.key == ARM.key:
                await self.view.async_arm()
            else:
                await self.view.async_disarm()
        except (ValueError, DeviceUnavailableError) as err:
            raise refused(self.view.title, err) from err


PLANNED = SwitchEntityDescription(
    key="device_planned", translation_key="device_planned"
)


class PlannedSwitch(DriverEntity, SwitchEntity):
    """Whether the plan drives the device (off: it follows its own rules)."""

    always_available = True

    @property
    def is_on(self) -> bool:
        """Return whether the device is in the plan."""
        return self.view.planned

    async def async_turn_on(self, **kwargs: Any) -> None:  # noqa: ANN401, ARG002
        """Plan the device again; the household re-plans."""
        await self.view.async_set_planned(planned=True)

    async def async_turn_off(self, **kwargs: Any) -> None:  # noqa: ANN401, ARG002
        """Leave the device to itself; the guard still holds the limit."""
        await self.view.async_set_planned(planned=False)


# ------------------------------------------------------------ boost and block

OVERRIDE_REASONS: Final = frozenset(
    {
        "max_blocks",
        "block_time",
        "too_soon",
        "manual_hold",
        "tank",
        "unavailable",
        "not_heating",
        "no_boost",
        "duration",
        "mode",
    }
)
"""The engine's refusal codes, each with its own translated error."""
DEFAULT_OVERRIDE_MIN: Final = 60.0
OVERRIDE_SELECT = SelectEntityDescription(
    key="device_override",
    translation_key="device_override",
    options=OVERRIDE_OPTIONS,
)
OVERRIDE_DURATION = NumberEntityDescription(
    key="override_duration",
    translation_key="override_duration",
    native_min_value=15,
    native_max_value=720,
    native_step=15,
    native_unit_of_measurement=UnitOfTime.MINUTES,
    mode=NumberMode.BOX,
    entity_category=EntityCategory.CONFIG,
)


def is_heating(spec: DriverConfig) -> bool:
    """Whether ``spec`` is a heat pump or boiler (what can be boosted and blocked)."""
    return is_heat_pump(spec) or _is_boiler(spec)


async def async_set_override(
    view: DriverView, mode: str | None, duration: timedelta | None
) -> None:
    """Boost, block or release ``view``; a refusal becomes a translated error."""
    try:
        await view.async_set_override(mode, duration)
    except OverrideRefusedError as err:
        key = err.reason if err.reason in OVERRIDE_REASONS else "unavailable"
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key=f"override_refused_{key}",
            translation_placeholders={**err.details, "device": view.title},
        ) from err
    except DeviceUnavailableError as err:
        raise refused(view.title, err) from err


class OverrideSelect(DriverEntity, SelectEntity):
    """Auto (the plan), boost or block for the device's override duration.

    The user's choice wins over the plan until it ends; the DSO limit still
    holds (the logbook says when the guard holds it back).
    """

    always_available = True

    @property
    def current_option(self) -> str:
        """Return the override in force (auto: the plan)."""
        return self.view.override_mode

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """When the boost or block ends."""
        until = self.view.override_until
        return {"until": None if until is None else until.isoformat()}

    def _duration(self) -> timedelta:
        """Return the device's override duration (its number entity), else 60 min."""
        entity_id = er.async_get(self.hass).async_get_entity_id(
            "number", DOMAIN, f"{self.device_id}_{OVERRIDE_DURATION.key}"
        )
        state = None if entity_id is None else self.hass.states.get(entity_id)
        try:
            minutes = float(state.state) if state is not None else DEFAULT_OVERRIDE_MIN
        except ValueError:
            minutes = DEFAULT_OVERRIDE_MIN
        return timedelta(minutes=minutes)

    async def async_select_option(self, option: str) -> None:
        """Boost or block for the duration, or give the device back to the plan."""
        mode = None if option == "auto" else option
        await async_set_override(self.view, mode, self._duration())


class OverrideDuration(DriverEntity, RestoreNumber):
    """How long a boost or block chosen with the select lasts (kept over a restart)."""

    always_available = True
    _value: float = DEFAULT_OVERRIDE_MIN

    async def async_added_to_hass(self) -> None:
        """Take back the last duration the user chose."""
        await super().async_added_to_hass()
        last = await self.async_get_last_number_data()
        if last is not None and last.native_value is not None:
            self._value = last.native_value

    @property
    def native_value(self) -> float:
        """Return the duration in minutes."""
        return self._value

    async def async_set_native_value(self, value: float) -> None:
        """Keep the duration for the next boost or block."""
        self._value = value
        self.async_write_ha_state()


# ------------------------------------------------------------ set-up


def _every(_spec: DriverConfig) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class _Kind:
    """One entity a driver device may have: its class, description and test."""

    entity: type[DriverEntity]
    description: EntityDescription
    has_fn: Callable[[DriverConfig], bool]


DRIVER_ENTITIES: Final[Mapping[Platform, tuple[_Kind, ...]]] = {
    Platform.SENSOR: (
        *(_Kind(DriverSensor, d, d.has_fn) for d in DRIVER_SENSORS),
        *(_Kind(DriverPlannedPower, d, _every) for d in DRIVER_PLANNED_POWER),
    ),
    Platform.BINARY_SENSOR: tuple(
        _Kind(DriverBinarySensor, d, d.has_fn) for d in DRIVER_BINARY_SENSORS
    ),
    Platform.SWITCH: (_Kind(PlannedSwitch, PLANNED, _every),),
    Platform.DATETIME: (_Kind(FinishByDateTime, FINISH_BY, is_appliance),),
    Platform.BUTTON: (
        _Kind(ApplianceButton, ARM, is_appliance),
        _Kind(ApplianceButton, DISARM, is_appliance),
    ),
    Platform.SELECT: (_Kind(OverrideSelect, OVERRIDE_SELECT, is_heating),),
    Platform.NUMBER: (_Kind(OverrideDuration, OVERRIDE_DURATION, is_heating),),
}
"""Per platform, the entities a heat pump, boiler or appliance may have."""


def async_add_driver_entities(
    platform: Platform,
    hass: HomeAssistant,
    entry: StroomwijsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add each driver device's entities of ``platform``, to its own subentry."""
    kinds = DRIVER_ENTITIES[platform]

    def _add(device_id: str, view: DriverView) -> None:
        if device_id not in entry.subentries:
            return
        async_add_entities(
            [
                kind.entity(hass, entry, view, kind.description)
                for kind in kinds
                if kind.has_fn(view.spec)
            ],
            config_subentry_id=device_id,
        )

    for device_id, view in driver_views(entry).items():
        _add(device_id, view)

    @callback
    def _added(device_id: str) -> None:
        """Give a device added while the household runs its entities too."""
        view = driver_views(entry).get(device_id)
        if view is not None:
            _add(device_id, view)

    entry.async_on_unload(
        async_dispatcher_connect(
            hass, SIGNAL_DEVICE_ADDED.format(entry.entry_id), _added
        )
    )
