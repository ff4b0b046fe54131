"""Set up and tear down Stroomwijs config entries."""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import (
    ConfigEntryAuthFailed,
    ConfigEntryError,
    ConfigEntryNotReady,
)
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType

from .charger import CHARGER_PLATFORMS, async_setup_chargers
from .const import CONF_FUSE_A, CONF_PHASES, DOMAIN
from .coordinator import (
    CONF_SOURCE,
    CONF_UPDATE_INTERVAL,
    DEFAULT_UPDATE_INTERVAL,
    MeterCoordinator,
    NoReadingError,
    async_first_reading,
    build_meter,
)
from .engine.grid import GridConnection
from .guard_glue import async_setup_limits
from .limit_services import async_setup_limit_services
from .migration import async_migrate_entry as async_migrate_entry  # noqa: PLC0414
from .models import StroomwijsConfigEntry, StroomwijsRuntimeData
from .services import async_setup_services

PLATFORMS: list[Platform] = [Platform.SENSOR, Platform.EVENT, *CHARGER_PLATFORMS]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)
AUTH_FAILURES = frozenset({"invalid_auth", "decrypt"})
"""Reasons that need the user (a new token or key): reauthentication."""


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Set up the parts of Stroomwijs that do not depend on an entry."""
    async_setup_services(hass)
    async_setup_limit_services(hass)
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
    runtime = StroomwijsRuntimeData(grid=grid)
    if settings.get(CONF_SOURCE):
        try:
            meter, feed = build_meter(hass, settings, grid=grid, name=entry.title)
        except ValueError as err:
            raise ConfigEntryError(
                translation_domain=DOMAIN,
                translation_key="invalid_meter_settings",
                translation_placeholders={"error": str(err)},
            ) from err
        try:
            await async_first_reading(meter, feed)
        except NoReadingError as err:
            await feed.stop()
            if err.reason in AUTH_FAILURES:
                raise ConfigEntryAuthFailed(
                    translation_domain=DOMAIN,
                    translation_key="meter_auth_failed",
                    translation_placeholders={"reason": err.reason},
                ) from err
            raise ConfigEntryNotReady(
                translation_domain=DOMAIN,
                translation_key="meter_not_ready",
                translation_placeholders={"reason": err.reason},
            ) from err
        coordinator = MeterCoordinator(
            hass,
            entry,
            meter,
            feed,
            update_interval=float(
                settings.get(CONF_UPDATE_INTERVAL, DEFAULT_UPDATE_INTERVAL)
            ),
        )
        coordinator.async_start()
        entry.async_on_unload(coordinator.async_stop)
        runtime.meter = meter
        runtime.meter_coordinator = coordinator
    runtime.chargers = await async_setup_chargers(hass, entry)
    entry.runtime_data = runtime
    runtime.limits = await async_setup_limits(hass, entry)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: StroomwijsConfigEntry) -> bool:
    """Unload a config entry and stop everything it started."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
