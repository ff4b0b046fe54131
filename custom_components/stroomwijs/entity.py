"""The base entities of Stroomwijs and the devices they belong to.

- ``StroomwijsEntity``: an entity of the household's device (the grid
  connection), or of the P1 meter's device under it;
- ``PlanEntity`` and ``LimitEntity``: household entities that follow the
  planner, or the limits and the guard;
- ``ChargerEntity``: an entity of one charger's device, under the household;
- ``DriverEntity``: an entity of one heat pump's, boiler's or appliance's
  device, under the household.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable, Iterable
from typing import Final

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .charger import KIND_OCPP, ChargerHub
from .const import DOMAIN
from .engine.drivers.appliance import (
    PlugApplianceConfig,
    RemoteStartApplianceConfig,
)
from .engine.drivers.boiler import BoilerConfig, ControlKind
from .engine.drivers.climate_setpoint import ClimateSetpointConfig
from .engine.drivers.factory import (
    DriverConfig,
    HybridSetup,
    ShellySetup,
    SocketSetup,
)
from .engine.drivers.lambda_heat_pump import LambdaConfig
from .engine.drivers.sg_ready import SgReadyConfig
from .engine.meter.models import MeterReading
from .household_view import ChargerView, DriverView, HouseholdView
from .models import StroomwijsConfigEntry

METER_DEVICE_SUFFIX: Final = "meter"
"""The P1 meter's device identifier is ``<entry id>_meter``."""

METER_MAKERS: Final = {
    "ESY": "EasyMeter",
    "FLU": "Fluvius",
    "ISK": "Iskraemeco",
    "KFM": "Kaifa",
    "KMP": "Kamstrup",
    "LGB": "Landis+Gyr",
    "LGF": "Landis+Gyr",
    "SAG": "Sagemcom",
    "XMX": "Xemex",
    "ZIV": "ZIV",
}
"""Manufacturers by the FLAG id that opens a telegram (the DLMS registry).

Flags not listed here are shown as they are.
"""


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


def meter_identifier(entry_id: str) -> tuple[str, str]:
    """Return the device registry identifier of a household's P1 meter."""
    return (DOMAIN, f"{entry_id}_{METER_DEVICE_SUFFIX}")


def meter_maker_and_model(header: str | None) -> tuple[str | None, str | None]:
    r"""Split a telegram's identification line into manufacturer and model.

    ``ISk5\2MT382-1000`` is an Iskraemeco MT382-1000: three letters of FLAG
    id, one baud-rate character, an optional ``\<digit>`` mark, the model.
    """
    if not header or len(header) < 4:  # noqa: PLR2004 - FLAG id and baud rate
        return None, None
    flag = header[:3].upper()
    model = header[4:]
    if model.startswith("\\") and len(model) >= 2:  # noqa: PLR2004
        model = model[2:]
    return METER_MAKERS.get(flag, flag), model.strip() or None


def meter_serial(equipment_id: str | None) -> str | None:
    """Return the meter's serial: its equipment id, hex-decoded where it is hex."""
    if not equipment_id:
        return None
    try:
        text = binascii.unhexlify(equipment_id).decode("ascii")
    except binascii.Error, UnicodeDecodeError, ValueError:
        return equipment_id
    return text if text.isprintable() and text.strip() else equipment_id


def meter_device(entry: StroomwijsConfigEntry, reading: MeterReading) -> DeviceInfo:
    """Return the physical P1 meter's device, under the household's device."""
    manufacturer, model = meter_maker_and_model(reading.header)
    if reading.dsmr_version == "entities":
        model, version = "Meter from entities", None
    else:
        version = f"DSMR {reading.dsmr_version}"  # the P1 protocol it speaks
    return DeviceInfo(
        identifiers={meter_identifier(entry.entry_id)},
        translation_key="p1_meter",
        translation_placeholders={"household": entry.title},
        manufacturer=manufacturer,
        model=model,
        sw_version=version,
        serial_number=meter_serial(reading.equipment_id),
        via_device_id=entry.runtime_data.household_device_id,
    )


class PlanEntity(StroomwijsEntity):
    """An entity that follows the household's planner."""

    _attr_should_poll = False

    def __init__(
        self, entry: StroomwijsConfigEntry, description: EntityDescription
    ) -> None:
        """Attach to the household (in this process or in the gateway)."""
        super().__init__(entry, description)
        self.household: HouseholdView = entry.runtime_data.limits

    @property
    def available(self) -> bool:
        """Unavailable while the household's values are not current."""
        return self.household.available

    async def async_added_to_hass(self) -> None:
        """Refresh whenever the household changes."""
        await super().async_added_to_hass()
        self.async_on_remove(self.household.add_listener(self.async_write_ha_state))


class LimitEntity(StroomwijsEntity):
    """An entity that follows the household's limits and guard."""

    _attr_should_poll = False

    def __init__(
        self,
        entry: StroomwijsConfigEntry,
        runtime: HouseholdView,
        description: EntityDescription,
    ) -> None:
        """Attach to the household's limits runtime."""
        super().__init__(entry, description)
        self.runtime = runtime

    @property
    def available(self) -> bool:
        """Unavailable while the household's values are not current."""
        return self.runtime.available

    async def async_added_to_hass(self) -> None:
        """Refresh on every change of limits or guard state."""
        await super().async_added_to_hass()
        self.async_on_remove(self.runtime.add_listener(self.async_write_ha_state))


def async_add_charger_entities(
    hub: ChargerHub | None,
    async_add_entities: AddConfigEntryEntitiesCallback,
    build: Callable[[ChargerView], Iterable[Entity]],
) -> None:
    """Add the entities ``build`` makes for each charger, to its own subentry."""
    if hub is None:
        return
    for charger in hub.views.values():
        async_add_entities(build(charger), config_subentry_id=charger.subentry_id)


def charger_device(entry: StroomwijsConfigEntry, charger: ChargerView) -> DeviceInfo:
    """Return a charger's device: what its boot said, under the household."""
    if charger.kind == KIND_OCPP:
        vendor, model, serial, firmware = charger.identity
        return DeviceInfo(
            identifiers={(DOMAIN, charger.subentry_id)},
            name=charger.title,
            manufacturer=vendor,
            model=model or "OCPP charger",
            serial_number=serial,
            sw_version=firmware,
            via_device_id=entry.runtime_data.household_device_id,
        )
    return DeviceInfo(
        identifiers={(DOMAIN, charger.subentry_id)},
        name=charger.title,
        manufacturer="Wallbox",
        model="Quasar",
        via_device_id=entry.runtime_data.household_device_id,
    )


class ChargerEntity(Entity):
    """An entity of one charger's device."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(
        self,
        entry: StroomwijsConfigEntry,
        charger: ChargerView,
        description: EntityDescription,
    ) -> None:
        """Attach the entity to the charger's device."""
        self.entity_description = description
        self.charger = charger
        self._attr_unique_id = f"{charger.subentry_id}_{description.key}"
        self._attr_device_info = charger_device(entry, charger)

    @property
    def available(self) -> bool:
        """Available while the charger answers (connectivity itself always is)."""
        return self.charger.available

    async def async_added_to_hass(self) -> None:
        """Follow the charger's changes."""
        self.async_on_remove(self.charger.add_listener(self.async_write_ha_state))


# ------------------------------------------------ heat pumps, boilers, appliances


def inner_spec(spec: DriverConfig) -> DriverConfig:
    """Return the heat pump in a hybrid, the device on a socket; else ``spec``."""
    if isinstance(spec, HybridSetup):
        return spec.heat_pump
    if isinstance(spec, SocketSetup | ShellySetup):
        return spec.device
    return spec


def _plug_brand(spec: DriverConfig) -> tuple[str, str] | None:
    """Return the maker and model of the networked plug a device is on."""
    if isinstance(spec, SocketSetup):
        return "HomeWizard", "Energy Socket"
    if isinstance(spec, ShellySetup):
        return "Shelly", spec.socket.model or "Gen2+ relay"
    return None


def _model(spec: DriverConfig) -> tuple[str | None, str, str | None]:  # noqa: PLR0911
    """Return manufacturer, model and the entity whose device names the brand."""
    inner = inner_spec(spec)
    if isinstance(spec, HybridSetup):
        _, model, brand_entity = _model(inner)
        return None, f"Hybrid heat pump ({model})", brand_entity
    plug = _plug_brand(spec)
    if plug is not None:
        _, model, _ = _model(inner)
        return plug[0], f"{plug[1]}: {model}", None
    if isinstance(inner, SgReadyConfig):
        return None, "SG-Ready heat pump", None
    if isinstance(inner, ClimateSetpointConfig):
        return None, "Heat pump on its thermostat", inner.entity_id
    if isinstance(inner, LambdaConfig):
        return "Lambda Wärmepumpen", "EU-L heat pump (Modbus TCP)", None
    if isinstance(inner, BoilerConfig):
        control = inner.control
        if control is ControlKind.WATER_HEATER:
            return None, "Electric boiler (water heater)", inner.entity_id
        if control is ControlKind.MODBUS:
            return None, "Electric boiler (Modbus relay)", None
        return None, "Electric boiler (switch)", None
    if isinstance(inner, RemoteStartApplianceConfig):
        kind = inner.kind.value.replace("_", " ")
        return None, f"{kind.capitalize()} (remote start)", inner.start_entity
    assert isinstance(inner, PlugApplianceConfig)  # noqa: S101 - the last driver kind
    kind = inner.kind.value.replace("_", " ")
    return None, f"{kind.capitalize()} (smart plug)", None


def driver_device(
    hass: HomeAssistant, entry: StroomwijsConfigEntry, view: DriverView, title: str
) -> DeviceInfo:
    """Return the device of one driver subentry, under the household.

    A thermostat, water heater or remote-start appliance is a device of its
    own integration already: its manufacturer is taken from there. A relay
    pair or a plug says nothing about the appliance behind it.
    """
    manufacturer, model, brand_entity = _model(view.spec)
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
        identifiers={(DOMAIN, view.device_id)},
        name=title,
        manufacturer=manufacturer,
        model=model,
        via_device_id=entry.runtime_data.household_device_id,
    )


class DriverEntity(Entity):
    """An entity of one heat pump, boiler or appliance (in HA or the gateway)."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    always_available = False
    """Plans and controls are there while the device does not answer."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: StroomwijsConfigEntry,
        view: DriverView,
        description: EntityDescription,
    ) -> None:
        """Attach the entity to the driver's device."""
        self.entity_description = description
        self.view = view
        self.device_id = view.device_id
        self.remote = entry.runtime_data.remote
        self._attr_unique_id = f"{view.device_id}_{description.key}"
        title = entry.subentries[view.device_id].title
        self._attr_device_info = driver_device(hass, entry, view, title)

    @property
    def available(self) -> bool:
        """Available while the device answers (plans and controls always).

        Through the gateway nothing is available while it is not connected.
        """
        if self.remote is not None and not self.remote.available:
            return False
        return self.always_available or self.view.available

    async def async_added_to_hass(self) -> None:
        """Refresh whenever the household changes (every tick and command)."""
        self.async_on_remove(self.view.add_listener(self.async_write_ha_state))
