"""Devices and entities of the household's heat pumps, boilers and appliances.

Each ``device`` subentry is one Home Assistant device, under the household
device, with the entities its driver can fill: the planned power now and
next (every controllable device has them), what it measures and what state
it is in, and the controls that make sense for it (an appliance's deadline,
arm and disarm). The platform modules call the ``async_add_driver_*``
functions here; entities refresh when the household notifies (every tick
and every command).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.components.datetime import DateTimeEntity, DateTimeEntityDescription
from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.const import EntityCategory, UnitOfPower, UnitOfTemperature
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .const import DOMAIN, SIGNAL_DEVICE_ADDED
from .engine.capabilities import DeviceUnavailableError
from .engine.drivers.appliance import (
    CycleState,
    PlugAppliance,
    RemoteStartAppliance,
)
from .engine.drivers.boiler import Boiler, ControlKind
from .engine.drivers.climate_setpoint import ClimateSetpointHeatPump
from .engine.drivers.factory import Driver
from .engine.drivers.heat_pump_common import HeatLevel
from .engine.drivers.hybrid_heat_pump import HybridHeatPump
from .engine.drivers.lambda_heat_pump import LambdaHeatPump
from .engine.drivers.sg_ready import SgReadyHeatPump, SgReadyMode
from .engine.household import Household
from .models import StroomwijsConfigEntry

type Appliance = PlugAppliance | RemoteStartAppliance
type HeatPump = (
    SgReadyHeatPump | ClimateSetpointHeatPump | LambdaHeatPump | HybridHeatPump
)

SG_READY_MODES: Final = [mode.name.lower() for mode in SgReadyMode]
HEAT_LEVELS: Final = [level.value for level in HeatLevel]
CYCLE_STATES: Final = [state.value for state in CycleState]


def _inner(driver: Driver) -> Driver:
    """Return the heat pump inside a hybrid; any other driver itself."""
    if isinstance(driver, HybridHeatPump):
        return driver.heat_pump  # type: ignore[return-value]
    return driver


def is_heat_pump(driver: Driver) -> bool:
    """Whether ``driver`` heats the house (any heat-pump driver or a hybrid)."""
    return isinstance(
        driver,
        SgReadyHeatPump | ClimateSetpointHeatPump | LambdaHeatPump | HybridHeatPump,
    )


def is_appliance(driver: Driver) -> bool:
    """Whether ``driver`` is a washing machine, dishwasher or dryer."""
    return isinstance(driver, PlugAppliance | RemoteStartAppliance)


def _model(driver: Driver) -> tuple[str | None, str, str | None]:  # noqa: PLR0911
    """Return manufacturer, model and the entity whose device names the brand."""
    inner = _inner(driver)
    if isinstance(driver, HybridHeatPump):
        _, model, brand_entity = _model(inner)
        return None, f"Hybrid heat pump ({model})", brand_entity
    if isinstance(inner, SgReadyHeatPump):
        return None, "SG-Ready heat pump", None
    if isinstance(inner, ClimateSetpointHeatPump):
        return None, "Heat pump on its thermostat", inner.config.entity_id
    if isinstance(inner, LambdaHeatPump):
        return "Lambda Wärmepumpen", "EU-L heat pump (Modbus TCP)", None
    if isinstance(inner, Boiler):
        control = inner.config.control
        if control is ControlKind.WATER_HEATER:
            return None, "Electric boiler (water heater)", inner.config.entity_id
        if control is ControlKind.MODBUS:
            return None, "Electric boiler (Modbus relay)", None
        return None, "Electric boiler (switch)", None
    if isinstance(inner, RemoteStartAppliance):
        kind = inner.config.kind.value.replace("_", " ")
        return None, f"{kind.capitalize()} (remote start)", inner.config.start_entity
    assert isinstance(inner, PlugAppliance)  # noqa: S101 - the last driver kind
    kind = inner.config.kind.value.replace("_", " ")
    return None, f"{kind.capitalize()} (smart plug)", None


def _household(entry: StroomwijsConfigEntry) -> Household:
    household = entry.runtime_data.household
    if household is None:  # only built for a household in this process
        msg = "driver entities need the household in this process"
        raise RuntimeError(msg)
    return household


def driver_device(
    hass: HomeAssistant, entry: StroomwijsConfigEntry, device_id: str, title: str
) -> DeviceInfo:
    """Return the device of one driver subentry, under the household.

    A thermostat, water heater or remote-start appliance is a device of its
    own integration already: its manufacturer is taken from there. A relay
    pair or a plug says nothing about the appliance behind it.
    """
    devices = _household(entry).devices
    driver = devices.drivers[device_id]
    manufacturer, model, brand_entity = _model(driver)
    if device_id in devices.sockets:
        manufacturer, model = "HomeWizard", f"Energy Socket: {model}"
    if brand_entity is not None and manufacturer is None:
        entity = er.async_get(hass).async_get(brand_entity)
        device = (
            None
            if entity is None or entity.device_id is None
            else dr.async_get(hass).async_get(
                entity.device_id, include_child_devices=False
            )
        )
        if device is not None:
            manufacturer = device.manufacturer
            model = device.model or model
    return DeviceInfo(
        identifiers={(DOMAIN, device_id)},
        name=title,
        manufacturer=manufacturer,
        model=model,
        via_device_id=entry.runtime_data.household_device_id,
    )


class DriverEntity(Entity):
    """An entity of one heat pump, boiler or appliance."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    always_available = False
    """Plans and controls are there while the device does not answer."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: StroomwijsConfigEntry,
        device_id: str,
        description: EntityDescription,
    ) -> None:
        """Attach the entity to the driver's device."""
        self.entity_description = description
        self.household: Household = _household(entry)
        self.device_id = device_id
        self.driver: Driver = self.household.devices.drivers[device_id]
        self._attr_unique_id = f"{device_id}_{description.key}"
        title = entry.subentries[device_id].title
        self._attr_device_info = driver_device(hass, entry, device_id, title)

    @property
    def available(self) -> bool:
        """Available while the device answers (plans and controls always)."""
        return self.always_available or self.driver.available

    async def async_added_to_hass(self) -> None:
        """Refresh whenever the household changes (every tick and command)."""
        self.async_on_remove(self.household.add_listener(self.async_write_ha_state))


def _add(
    hass: HomeAssistant,
    entry: StroomwijsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    build: Callable[[str, Driver], Iterable[Entity]],
) -> None:
    """Add the entities ``build`` makes for each driver, to its own subentry.

    A household in the gateway add-on has no driver entities here (yet).
    """
    household = entry.runtime_data.household
    if household is None:
        return
    for device_id, driver in household.devices.drivers.items():
        if device_id not in entry.subentries:
            continue
        async_add_entities(build(device_id, driver), config_subentry_id=device_id)

    @callback
    def _added(device_id: str) -> None:
        """Give a device added while the household runs its entities too."""
        driver = household.devices.drivers.get(device_id)
        if driver is not None and device_id in entry.subentries:
            async_add_entities(build(device_id, driver), config_subentry_id=device_id)

    entry.async_on_unload(
        async_dispatcher_connect(
            hass, SIGNAL_DEVICE_ADDED.format(entry.entry_id), _added
        )
    )


# ------------------------------------------------------------------ sensors


@dataclass(frozen=True, kw_only=True)
class DriverSensorDescription(SensorEntityDescription):
    """A sensor of a driver device."""

    value_fn: Callable[[Driver], StateType | datetime]
    has_fn: Callable[[Driver], bool] = lambda _driver: True
    attributes_fn: Callable[[Driver], dict[str, Any]] | None = None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value)


def _sg_mode(driver: Driver) -> str | None:
    mode = _inner(driver).mode  # type: ignore[union-attr]
    return None if mode is None else mode.name.lower()


def _budget(driver: Driver) -> Any:  # noqa: ANN401 - a BlockingBudget
    return _inner(driver).blocking_budget()  # type: ignore[union-attr]


def _has_budget(driver: Driver) -> bool:
    return isinstance(_inner(driver), SgReadyHeatPump | LambdaHeatPump)


def _tank_attributes(driver: Driver) -> dict[str, Any]:
    assert isinstance(driver, Boiler)  # noqa: S101 - only boilers have this sensor
    return {"estimated": not driver.measured}


DRIVER_SENSORS: tuple[DriverSensorDescription, ...] = (
    DriverSensorDescription(
        key="driver_power",
        translation_key="driver_power",
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        value_fn=lambda driver: _round(driver.power_w),
    ),
    DriverSensorDescription(
        key="room_temperature",
        translation_key="room_temperature",
        device_class=SensorDeviceClass.TEMPERATURE,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        suggested_display_precision=1,
        value_fn=lambda driver: driver.temperature_c,  # type: ignore[union-attr]
        has_fn=is_heat_pump,
    ),
    DriverSensorDescription(
        key="sg_ready_mode",
        translation_key="sg_ready_mode",
        device_class=SensorDeviceClass.ENUM,
        options=SG_READY_MODES,
        value_fn=_sg_mode,
        has_fn=lambda driver: isinstance(_inner(driver), SgReadyHeatPump),
    ),
    DriverSensorDescription(
        key="heat_pump_level",
        translation_key="heat_pump_level",
        device_class=SensorDeviceClass.ENUM,
        options=HEAT_LEVELS,
        value_fn=lambda driver: _inner(driver).level.value,  # type: ignore[union-attr]
        has_fn=lambda driver: isinstance(
            _inner(driver), ClimateSetpointHeatPump | LambdaHeatPump
        ),
    ),
    DriverSensorDescription(
        key="blocks_left_today",
        translation_key="blocks_left_today",
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda driver: _budget(driver).blocks_left_today,
        has_fn=_has_budget,
    ),
    DriverSensorDescription(
        key="blocked_minutes_left_today",
        translation_key="blocked_minutes_left_today",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement="min",
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda driver: round(_budget(driver).blocked_minutes_left_today),
        has_fn=_has_budget,
    ),
    DriverSensorDescription(
        key="tank_temperature",
        translation_key="tank_temperature",
        device_class=SensorDeviceClass.TEMPERATURE,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        suggested_display_precision=1,
        value_fn=lambda driver: driver.temperature_c,  # type: ignore[union-attr]
        has_fn=lambda driver: isinstance(driver, Boiler),
        attributes_fn=_tank_attributes,
    ),
    DriverSensorDescription(
        key="legionella_due",
        translation_key="legionella_due",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda driver: driver.legionella_deadline(),  # type: ignore[union-attr]
        has_fn=lambda driver: isinstance(driver, Boiler),
    ),
    DriverSensorDescription(
        key="cycle_state",
        translation_key="cycle_state",
        device_class=SensorDeviceClass.ENUM,
        options=CYCLE_STATES,
        value_fn=lambda driver: driver.state.value,  # type: ignore[union-attr]
        has_fn=is_appliance,
    ),
    DriverSensorDescription(
        key="latest_start",
        translation_key="latest_start",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda driver: (
            driver.latest_start()  # type: ignore[union-attr]
            if driver.state is CycleState.ARMED  # type: ignore[union-attr]
            else None
        ),
        has_fn=is_appliance,
    ),
)


class DriverSensor(DriverEntity, SensorEntity):
    """A measured or derived value of a driver device."""

    entity_description: DriverSensorDescription

    @property
    def native_value(self) -> StateType | datetime:
        """Return the value from the driver."""
        return self.entity_description.value_fn(self.driver)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """The tank temperature says whether it is estimated."""
        attributes_fn = self.entity_description.attributes_fn
        return None if attributes_fn is None else attributes_fn(self.driver)


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
        value = self.household.planned_power_w(
            self.device_id, slots_ahead=self.entity_description.slots_ahead
        )
        return None if value is None else round(value)


def async_add_driver_sensors(
    hass: HomeAssistant,
    entry: StroomwijsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add each driver device's sensors and planned power."""
    _add(
        hass,
        entry,
        async_add_entities,
        lambda device_id, driver: [
            *(
                DriverSensor(hass, entry, device_id, description)
                for description in DRIVER_SENSORS
                if description.has_fn(driver)
            ),
            *(
                DriverPlannedPower(hass, entry, device_id, description)
                for description in DRIVER_PLANNED_POWER
            ),
        ],
    )


# ------------------------------------------------------------ binary sensors


@dataclass(frozen=True, kw_only=True)
class DriverBinarySensorDescription(BinarySensorEntityDescription):
    """A yes/no fact about a driver device."""

    value_fn: Callable[[Driver], bool | None]
    has_fn: Callable[[Driver], bool]


DRIVER_BINARY_SENSORS: tuple[DriverBinarySensorDescription, ...] = (
    DriverBinarySensorDescription(
        key="boiler_heating",
        translation_key="boiler_heating",
        device_class=BinarySensorDeviceClass.RUNNING,
        value_fn=lambda driver: driver.is_on,  # type: ignore[union-attr]
        has_fn=lambda driver: isinstance(driver, Boiler),
    ),
    DriverBinarySensorDescription(
        key="on_gas",
        translation_key="on_gas",
        value_fn=lambda driver: driver.on_gas,  # type: ignore[union-attr]
        has_fn=lambda driver: isinstance(driver, HybridHeatPump),
    ),
    DriverBinarySensorDescription(
        key="remote_start_allowed",
        translation_key="remote_start_allowed",
        value_fn=lambda driver: driver.remote_start_allowed,  # type: ignore[union-attr]
        has_fn=lambda driver: isinstance(driver, RemoteStartAppliance),
    ),
)


class DriverBinarySensor(DriverEntity, BinarySensorEntity):
    """A yes/no fact of a driver device."""

    entity_description: DriverBinarySensorDescription

    @property
    def is_on(self) -> bool | None:
        """Return the state."""
        return self.entity_description.value_fn(self.driver)


def async_add_driver_binary_sensors(
    hass: HomeAssistant,
    entry: StroomwijsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add each driver device's binary sensors."""
    _add(
        hass,
        entry,
        async_add_entities,
        lambda device_id, driver: [
            DriverBinarySensor(hass, entry, device_id, description)
            for description in DRIVER_BINARY_SENSORS
            if description.has_fn(driver)
        ],
    )


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


class FinishByDateTime(DriverEntity, DateTimeEntity):
    """When the armed cycle must be done; setting it arms an idle appliance."""

    always_available = True

    @property
    def native_value(self) -> datetime | None:
        """Return the deadline of the armed or running cycle."""
        return self.driver.deadline  # type: ignore[union-attr]

    async def async_set_value(self, value: datetime) -> None:
        """Arm (or move the deadline): the cycle is to be done by ``value``."""
        try:
            await self.household.async_run_before(self.device_id, value)
        except (ValueError, DeviceUnavailableError) as err:
            raise refused(self.driver.name, err) from err


class ApplianceButton(DriverEntity, ButtonEntity):
    """Arm an appliance for the plan, or disarm it."""

    always_available = True

    async def async_press(self) -> None:
        """Arm or disarm through the household (it re-plans)."""
        try:
            if self.entity_description.key == ARM.key:
                await self.household.async_arm_appliance(self.device_id)
            else:
                await self.household.async_disarm_appliance(self.device_id)
        except (ValueError, DeviceUnavailableError) as err:
            raise refused(self.driver.name, err) from err


PLANNED = SwitchEntityDescription(
    key="device_planned", translation_key="device_planned"
)


class PlannedSwitch(DriverEntity, SwitchEntity):
    """Whether the plan drives the device (off: it follows its own rules)."""

    always_available = True

    @property
    def is_on(self) -> bool:
        """Return whether the device is in the plan."""
        return self.device_id not in self.household.devices.unplanned

    async def async_turn_on(self, **kwargs: Any) -> None:  # noqa: ANN401, ARG002
        """Plan the device again; the household re-plans."""
        self.household.set_device_planned(self.device_id, planned=True)

    async def async_turn_off(self, **kwargs: Any) -> None:  # noqa: ANN401, ARG002
        """Leave the device to itself; the guard still holds the limit."""
        self.household.set_device_planned(self.device_id, planned=False)


def async_add_driver_switches(
    hass: HomeAssistant,
    entry: StroomwijsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the plan switch to each driver device."""
    _add(
        hass,
        entry,
        async_add_entities,
        lambda device_id, _driver: [PlannedSwitch(hass, entry, device_id, PLANNED)],
    )


def async_add_driver_datetimes(
    hass: HomeAssistant,
    entry: StroomwijsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a deadline to each appliance."""
    _add(
        hass,
        entry,
        async_add_entities,
        lambda device_id, driver: (
            [FinishByDateTime(hass, entry, device_id, FINISH_BY)]
            if is_appliance(driver)
            else []
        ),
    )


def async_add_driver_buttons(
    hass: HomeAssistant,
    entry: StroomwijsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add arm and disarm to each appliance."""
    _add(
        hass,
        entry,
        async_add_entities,
        lambda device_id, driver: (
            [
                ApplianceButton(hass, entry, device_id, ARM),
                ApplianceButton(hass, entry, device_id, DISARM),
            ]
            if is_appliance(driver)
            else []
        ),
    )
