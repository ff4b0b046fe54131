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

An identity that another household already holds is not taken twice: such
an entry keeps what it had, and a warning names both.
"""

from __future__ import annotations

from homeassistant.core import HomeAssistant

from .const import DOMAIN, LOGGER
from .coordinator import CONF_SOURCE, SOURCE_ENTITIES
from .entity_source import CONF_POWER_ENTITY
from .identity import (
    CONF_HOMEWIZARD_SERIAL,
    HOMEWIZARD_PREFIX,
    MeterIdentity,
    entities_identity,
)
from .models import StroomwijsConfigEntry

CURRENT_VERSION = (1, 3)


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
    """Migrate ``entry`` to version 1.3.

    Home Assistant itself refuses an entry of a newer major version (a
    downgrade); a newer minor version stays readable and is left alone.
    """
    if (entry.version, entry.minor_version) >= CURRENT_VERSION:
        return True
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
        version=CURRENT_VERSION[0],
        minor_version=CURRENT_VERSION[1],
    )
    LOGGER.debug("Migrated %s to version 1.3 (unique id %s)", entry.title, unique_id)
    return True
