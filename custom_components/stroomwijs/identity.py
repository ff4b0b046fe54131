"""One identity per physical meter, whatever path found it.

A household's unique id is its meter's DSMR equipment id (OBIS 0-0:96.1.1),
decoded to text: a P1 cable, a network dongle and a HomeWizard P1 (which
hands out the meter's raw telegram) all report the same one. A HomeWizard
P1 is also known by the dongle's serial, which zeroconf announces before any
telegram was read; that serial is stored in the entry's data
(``homewizard_serial``) so that a later discovery finds a household that was
added by address, and updates its address (discovery-update-info).

A household that follows another integration's entities takes the equipment
id of HA's DSMR integration behind its power entity, the serial of HA's
HomeWizard integration, or else the power entity itself (registry id): two
households cannot follow the same power sensor.

Households that only carry the serial (found by zeroconf before this
identity existed) keep ``homewizard_<serial>`` until a telegram proves their
equipment id; every flow matches both forms, so none can be added twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er

from .const import DOMAIN
from .models import StroomwijsConfigEntry

CONF_HOMEWIZARD_SERIAL: Final = "homewizard_serial"
HOMEWIZARD_PREFIX: Final = "homewizard_"
ENTITIES_PREFIX: Final = "entities_"
DSMR_SERIAL_ID: Final = "serial_id"
"""Where HA's DSMR integration keeps the raw equipment id (hex text)."""


def equipment_text(raw: str | None) -> str | None:
    """Decode a DSMR octet string (hex-encoded text) the way the engine does."""
    if raw is None:
        return None
    text = str(raw).strip()
    if not text:
        return None
    if len(text) % 2 == 0:
        try:
            decoded = bytes.fromhex(text).decode("utf-8")
        except ValueError:
            return text
        if decoded.isprintable():
            return decoded.strip() or None
    return text


@dataclass(frozen=True, slots=True)
class MeterIdentity:
    """What is known about one physical meter."""

    equipment_id: str | None = None
    homewizard_serial: str | None = None
    fallback: str | None = None
    """For entity households without a meter behind them: the power entity."""

    @property
    def unique_id(self) -> str | None:
        """The config entry's unique id: the equipment id whenever known."""
        if self.equipment_id:
            return self.equipment_id
        if self.homewizard_serial:
            return f"{HOMEWIZARD_PREFIX}{self.homewizard_serial}"
        return self.fallback

    def matches(self, entry: StroomwijsConfigEntry) -> bool:
        """Whether ``entry`` is a household of this same meter."""
        if entry.unique_id is not None and entry.unique_id == self.unique_id:
            return True
        serial = self.homewizard_serial
        return bool(serial) and (
            entry.data.get(CONF_HOMEWIZARD_SERIAL) == serial
            or entry.unique_id == f"{HOMEWIZARD_PREFIX}{serial}"
        )


def find_household(
    hass: HomeAssistant, identity: MeterIdentity, *, exclude: str | None = None
) -> StroomwijsConfigEntry | None:
    """Return the household (or ignored discovery) of this meter, if any."""
    for entry in hass.config_entries.async_entries(DOMAIN, include_ignore=True):
        if entry.entry_id != exclude and identity.matches(entry):
            return entry
    return None


def entities_identity(hass: HomeAssistant, power_entity: str) -> MeterIdentity:
    """Identify the meter behind an entity household's power entity."""
    registry = er.async_get(hass)
    entity = registry.async_get(power_entity)
    if entity is None:
        return MeterIdentity(fallback=f"{ENTITIES_PREFIX}{power_entity}")
    source = (
        hass.config_entries.async_get_entry(entity.config_entry_id)
        if entity.config_entry_id
        else None
    )
    if source is not None and source.domain == "dsmr":
        equipment = equipment_text(source.data.get(DSMR_SERIAL_ID))
        if equipment:
            return MeterIdentity(equipment_id=equipment)
    if source is not None and source.domain == "homewizard" and source.unique_id:
        # HA's HomeWizard keys its entries "<product type>_<serial>".
        serial = source.unique_id.rpartition("_")[2]
        if serial:
            return MeterIdentity(homewizard_serial=serial)
    return MeterIdentity(fallback=f"{ENTITIES_PREFIX}{entity.id}")
