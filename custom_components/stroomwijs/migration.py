"""Bring stored households up to the config flow's current version.

1.1 -> 1.2 changed nothing stored (grid-limit subentries arrived). 1.2 ->
1.3 gives every household one identity per physical meter (identity.py):

- a HomeWizard P1 found by zeroconf was keyed ``homewizard_<serial>``: its
  serial is copied into the data, so that a discovery or a flow by address
  finds it. The key stays until a telegram proves the meter's equipment id
  (a rediscovery, reauthentication or reconfigure stores it); a migration
  must not wait for a meter that may be switched off;
- a household that follows other entities had no unique id: it gets the
  identity of the meter behind its power entity (HA's DSMR or HomeWizard
  integration), or of the power entity itself;
- households already keyed by their equipment id are unchanged.

1.3 -> 1.4 moves the grid limits that the first versions kept in the options
(time windows, an OpenADR VTN, the capacity target, the dim input) into
grid-limit subentries, where every limit now lives: the household is built
from its subentries alone.

An identity that another household already holds is not taken twice: such
an entry keeps what it had, and a warning names both.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant

from .const import DOMAIN, LOGGER
from .coordinator import CONF_SOURCE, SOURCE_ENTITIES
from .entity_source import CONF_POWER_ENTITY
from .guard_glue import (
    CONF_CAPACITY_TARGET,
    CONF_DIM_DEVICES,
    CONF_DIM_ENTITY,
    CONF_DIM_MODE,
    CONF_FAILSAFE_IMPORT_W,
    CONF_LIMIT_WINDOWS,
    CONF_OPENADR_CLIENT_ID,
    CONF_OPENADR_CLIENT_SECRET,
    CONF_OPENADR_PROGRAMS,
    CONF_OPENADR_URL,
    CONF_SIGNAL_TIMEOUT_MIN,
)
from .identity import (
    CONF_HOMEWIZARD_SERIAL,
    HOMEWIZARD_PREFIX,
    MeterIdentity,
    entities_identity,
)
from .limits_flow import (
    CONF_BUDGET_W,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_DEVICES,
    CONF_EAN,
    CONF_END,
    CONF_ENTITY,
    CONF_FAILSAFE_W,
    CONF_LABEL,
    CONF_LIMIT_KIND,
    CONF_MODE,
    CONF_PROGRAMS,
    CONF_START,
    CONF_TIMEOUT_MIN,
    CONF_URL,
    KIND_CAPACITY,
    KIND_DIM,
    KIND_OPENADR,
    KIND_WINDOW,
    SUBENTRY_GRID_LIMIT,
)
from .models import StroomwijsConfigEntry

IDENTITY_VERSION: Final = (1, 3)
CURRENT_VERSION: Final = (1, 4)


def _identity_of(
    hass: HomeAssistant, entry: StroomwijsConfigEntry
) -> tuple[MeterIdentity | None, dict[str, object]]:
    """Return the entry's identity (None: unknown) and data to add."""
    unique_id = entry.unique_id or ""
    if unique_id.startswith(HOMEWIZARD_PREFIX):
        serial = unique_id.removeprefix(HOMEWIZARD_PREFIX)
        return MeterIdentity(homewizard_serial=serial), {CONF_HOMEWIZARD_SERIAL: serial}
    if entry.unique_id is None and entry.data.get(CONF_SOURCE) == SOURCE_ENTITIES:
        power = entry.data.get(CONF_POWER_ENTITY)
        if power:
            identity = entities_identity(hass, str(power))
            extra: dict[str, object] = {}
            if identity.homewizard_serial:
                extra[CONF_HOMEWIZARD_SERIAL] = identity.homewizard_serial
            return identity, extra
    return None, {}


async def async_migrate_entry(
    hass: HomeAssistant, entry: StroomwijsConfigEntry
) -> bool:
    """Migrate ``entry`` to version 1.4.

    Home Assistant itself refuses an entry of a newer major version (a
    downgrade); a newer minor version stays readable and is left alone.
    """
    if (entry.version, entry.minor_version) < IDENTITY_VERSION:
        _migrate_identity(hass, entry)
    if (entry.version, entry.minor_version) < CURRENT_VERSION:
        _move_option_limits(hass, entry)
    return True


def _migrate_identity(hass: HomeAssistant, entry: StroomwijsConfigEntry) -> None:
    """1.2 -> 1.3: one identity per physical meter."""
    identity, extra = _identity_of(hass, entry)
    unique_id = entry.unique_id
    if identity is not None and identity.unique_id != entry.unique_id:
        holder = hass.config_entries.async_entry_for_domain_unique_id(
            DOMAIN, identity.unique_id or ""
        )
        if holder is None:
            unique_id = identity.unique_id
        else:
            LOGGER.warning(
                "%s and %s read the same meter; remove one of them",
                entry.title,
                holder.title,
            )
    hass.config_entries.async_update_entry(
        entry,
        data={**entry.data, **extra},
        unique_id=unique_id,
        version=IDENTITY_VERSION[0],
        minor_version=IDENTITY_VERSION[1],
    )
    LOGGER.debug("Migrated %s to version 1.3 (unique id %s)", entry.title, unique_id)


def _option_limits(options: Mapping[str, Any]) -> list[ConfigSubentry]:
    """Return the grid limits that versions before 1.4 kept in the options."""
    limits: list[ConfigSubentry] = []
    for raw in options.get(CONF_LIMIT_WINDOWS) or []:
        data = {**raw, CONF_LIMIT_KIND: KIND_WINDOW}
        label = data.get(CONF_LABEL) or "window"
        title = f"{label} {data.get(CONF_START)}-{data.get(CONF_END)}"
        limits.append(_subentry(title, data, None))
    if options.get(CONF_OPENADR_URL):
        ean = str(options.get(CONF_EAN, ""))
        url = str(options[CONF_OPENADR_URL])
        data = {
            CONF_LIMIT_KIND: KIND_OPENADR,
            CONF_URL: url,
            CONF_CLIENT_ID: options.get(CONF_OPENADR_CLIENT_ID, ""),
            CONF_CLIENT_SECRET: options.get(CONF_OPENADR_CLIENT_SECRET, ""),
            CONF_EAN: ean,
            CONF_PROGRAMS: list(options.get(CONF_OPENADR_PROGRAMS) or []),
        }
        if options.get(CONF_FAILSAFE_IMPORT_W) is not None:
            data[CONF_FAILSAFE_W] = options[CONF_FAILSAFE_IMPORT_W]
        if options.get(CONF_SIGNAL_TIMEOUT_MIN) is not None:
            data[CONF_TIMEOUT_MIN] = options[CONF_SIGNAL_TIMEOUT_MIN]
        limits.append(_subentry(f"OpenADR {ean}", data, f"openadr_{ean}_{url}"))
    target = options.get(CONF_CAPACITY_TARGET)
    if target:
        data = {CONF_LIMIT_KIND: KIND_CAPACITY}
        if target is not True:
            data[CONF_BUDGET_W] = target
        limits.append(_subentry("Capacity tariff", data, KIND_CAPACITY))
    if options.get(CONF_DIM_ENTITY):
        data = {
            CONF_LIMIT_KIND: KIND_DIM,
            CONF_ENTITY: options[CONF_DIM_ENTITY],
            CONF_DEVICES: options.get(CONF_DIM_DEVICES, 1),
            CONF_MODE: options.get(CONF_DIM_MODE, "connection"),
        }
        limits.append(_subentry("Dim input", data, KIND_DIM))
    return limits


def _subentry(
    title: str, data: dict[str, Any], unique_id: str | None
) -> ConfigSubentry:
    return ConfigSubentry(
        data=MappingProxyType(data),
        subentry_type=SUBENTRY_GRID_LIMIT,
        title=title,
        unique_id=unique_id,
    )


def _move_option_limits(hass: HomeAssistant, entry: StroomwijsConfigEntry) -> None:
    """1.3 -> 1.4: grid limits kept in the options become grid-limit subentries.

    The household is built from subentries alone afterwards; a limit whose
    unique id another subentry already has is dropped (it is that one).
    """
    taken = {sub.unique_id for sub in entry.subentries.values() if sub.unique_id}
    for subentry in _option_limits({**entry.data, **entry.options}):
        if subentry.unique_id is not None and subentry.unique_id in taken:
            continue
        hass.config_entries.async_add_subentry(entry, subentry)
    options = {k: v for k, v in entry.options.items() if k not in OPTION_LIMIT_KEYS}
    data = {k: v for k, v in entry.data.items() if k not in OPTION_LIMIT_KEYS}
    hass.config_entries.async_update_entry(
        entry,
        data=data,
        options=options,
        version=CURRENT_VERSION[0],
        minor_version=CURRENT_VERSION[1],
    )
    LOGGER.debug("Migrated %s to version 1.4 (grid limits as subentries)", entry.title)


OPTION_LIMIT_KEYS: Final = frozenset(
    {
        CONF_LIMIT_WINDOWS,
        CONF_OPENADR_URL,
        CONF_OPENADR_CLIENT_ID,
        CONF_OPENADR_CLIENT_SECRET,
        CONF_EAN,
        CONF_OPENADR_PROGRAMS,
        CONF_FAILSAFE_IMPORT_W,
        CONF_SIGNAL_TIMEOUT_MIN,
        CONF_CAPACITY_TARGET,
        CONF_DIM_ENTITY,
        CONF_DIM_DEVICES,
        CONF_DIM_MODE,
    }
)
