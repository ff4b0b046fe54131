"""Base entity shared by every Stroomwijs entity, and the household's devices."""

from __future__ import annotations

import binascii
from typing import Final

from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription

from .const import DOMAIN
from .engine.meter.models import MeterReading
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
