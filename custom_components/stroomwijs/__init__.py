"""Stroomwijs: home energy manager for grid congestion and dynamic tariffs.

Home Assistant's entry points are defined here. They import the Home
Assistant glue (``integration.py``) only when they run, so that importing
this package, and with it ``custom_components.stroomwijs.engine``, never
imports Home Assistant: the add-on gateway and the ``stroomwijs`` command
line import the engine where Home Assistant may be installed but must not be
loaded (see docs/architecture.md).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.typing import ConfigType

    from .models import StroomwijsConfigEntry

DOMAIN = "stroomwijs"


def _config_entry_only(config: dict[str, Any]) -> dict[str, Any]:
    """Validate YAML: Stroomwijs is set up from the UI only (config entries).

    Home Assistant calls this in its event loop, where Home Assistant's own
    helpers are loaded already: no module is imported from disk here.
    """
    from homeassistant.helpers import config_validation as cv  # noqa: PLC0415

    validated: dict[str, Any] = cv.config_entry_only_config_schema(DOMAIN)(config)
    return validated


# An assignment, not a ``def``: hassfest's config-schema check looks for one
# (tests/test_quality_scale_rules.py).
CONFIG_SCHEMA = _config_entry_only


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Set up the parts of Stroomwijs that do not depend on an entry."""
    # Import the glue (and with it numpy and HiGHS) off the event loop; the
    # migration runs before any entry is set up.
    for module in ("integration", "migration"):
        await hass.async_add_import_executor_job(
            importlib.import_module, f"{__name__}.{module}"
        )
    from .integration import async_setup_integration  # noqa: PLC0415

    return await async_setup_integration(hass, config)


async def async_setup_entry(hass: HomeAssistant, entry: StroomwijsConfigEntry) -> bool:
    """Set up one Stroomwijs household from a config entry.

    Raises ConfigEntryNotReady while the meter gives no first reading or the
    OCPP port is taken, ConfigEntryAuthFailed when the meter refuses the key
    or token, and ConfigEntryError for settings that cannot work.
    """
    from .integration import (  # noqa: PLC0415
        PLATFORMS,
        async_build_household,
        async_build_remote,
    )
    from .remote_household import CONF_GATEWAY  # noqa: PLC0415

    if entry.data.get(CONF_GATEWAY):
        # The household runs in the add-on's gateway: connect to it.
        entry.runtime_data = await async_build_remote(hass, entry)
    else:
        entry.runtime_data = await async_build_household(hass, entry)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: StroomwijsConfigEntry) -> bool:
    """Unload a config entry; the household stops with it."""
    from .integration import PLATFORMS  # noqa: PLC0415

    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: StroomwijsConfigEntry) -> None:
    """Delete the household's saved state when its entry is removed."""
    from .integration import async_remove_household  # noqa: PLC0415

    await async_remove_household(hass, entry.entry_id)


async def async_migrate_entry(
    hass: HomeAssistant, entry: StroomwijsConfigEntry
) -> bool:
    """Migrate an entry written by an older version (see migration.py)."""
    from .migration import async_migrate_entry as migrate  # noqa: PLC0415

    return await migrate(hass, entry)
