"""Set up and tear down Stroomwijs config entries."""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType

from .const import CONF_FUSE_A, CONF_PHASES, DOMAIN
from .engine.grid import GridConnection
from .models import StroomwijsConfigEntry, StroomwijsRuntimeData

PLATFORMS: list[Platform] = [Platform.SENSOR]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Set up the parts of Stroomwijs that do not depend on an entry."""
    return True


async def async_setup_entry(hass: HomeAssistant, entry: StroomwijsConfigEntry) -> bool:
    """Set up one Stroomwijs household from a config entry."""
    settings = {**entry.data, **entry.options}
    try:
        grid = GridConnection(
            phases=int(settings[CONF_PHASES]), fuse_a=float(settings[CONF_FUSE_A])
        )
    except (KeyError, ValueError) as err:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="invalid_grid_connection",
            translation_placeholders={"error": str(err)},
        ) from err
    entry.runtime_data = StroomwijsRuntimeData(grid=grid)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: StroomwijsConfigEntry) -> bool:
    """Unload a config entry and stop everything it started."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
