"""The household's P1 meter inside Home Assistant.

The engine's ``Meter`` pushes a reading per telegram (every second on DSMR
5). The guard consumes that stream directly through ``Meter.subscribe``;
entities do not: ``MeterCoordinator`` hands them the newest reading at most
once per ``update_interval`` so the recorder is not flooded. Entities follow
the meter's availability at once, and come back by themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import timedelta
import time
from typing import Any, Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .const import DOMAIN, LOGGER
from .engine.grid import GridConnection
from .engine.household import MeterConfig
from .engine.household.meter import (
    FIRST_READING_TIMEOUT,
    MeterFeed,
    NoReadingError,
    async_first_reading,
    build_meter as build_engine_meter,
)
from .engine.meter.core import Meter
from .engine.meter.homewizard import API_V1, HomeWizardPoller
from .engine.meter.models import MeterReading
from .entity_source import (
    CONF_CURRENT_ENTITIES,
    CONF_ENERGY_EXPORT_ENTITIES,
    CONF_ENERGY_IMPORT_ENTITIES,
    CONF_EXPORT_POWER_ENTITY,
    CONF_POWER_ENTITY,
    CONF_VOLTAGE_ENTITIES,
    EntityMeterFeed,
)
from .models import StroomwijsConfigEntry

__all__ = [
    "FIRST_READING_TIMEOUT",
    "MeterFeed",
    "NoReadingError",
    "async_first_reading",
    "build_meter",
    "meter_config",
]

CONF_SOURCE: Final = "source"
CONF_SERIAL_PORT: Final = "serial_port"
CONF_HOST: Final = "host"
CONF_TCP_PORT: Final = "tcp_port"
CONF_DSMR_VERSION: Final = "dsmr_version"
CONF_ENCRYPTION_KEY: Final = "encryption_key"
CONF_API_VERSION: Final = "api_version"
CONF_TOKEN: Final = "token"  # noqa: S105  (a config key, not a secret)
CONF_UPDATE_INTERVAL: Final = "update_interval"

SOURCE_SERIAL: Final = "serial"
SOURCE_NETWORK: Final = "network"
SOURCE_HOMEWIZARD: Final = "homewizard"
SOURCE_ENTITIES: Final = "entities"

DEFAULT_UPDATE_INTERVAL: Final = 5


ENTITY_METER_KEYS: Final = (
    CONF_POWER_ENTITY,
    CONF_EXPORT_POWER_ENTITY,
    CONF_CURRENT_ENTITIES,
    CONF_VOLTAGE_ENTITIES,
    CONF_ENERGY_IMPORT_ENTITIES,
    CONF_ENERGY_EXPORT_ENTITIES,
)


def meter_config(settings: Mapping[str, Any]) -> tuple[MeterConfig, dict[str, str]]:
    """Return the household's meter section for entry settings, and its secrets.

    Raises ValueError for a port or interval that is not a number.
    """
    secrets: dict[str, str] = {}
    if settings.get(CONF_ENCRYPTION_KEY):
        secrets["meter.encryption_key"] = str(settings[CONF_ENCRYPTION_KEY])
    if settings.get(CONF_TOKEN):
        secrets["meter.token"] = str(settings[CONF_TOKEN])
    port = settings.get(CONF_TCP_PORT)
    interval = settings.get(CONF_UPDATE_INTERVAL)
    config = MeterConfig(
        source=settings.get(CONF_SOURCE) or "none",
        serial_port=settings.get(CONF_SERIAL_PORT),
        host=settings.get(CONF_HOST),
        tcp_port=None if port is None else int(port),
        dsmr_version=str(settings.get(CONF_DSMR_VERSION, "5")),
        api_version=str(settings.get(CONF_API_VERSION, API_V1)),
        update_interval_s=DEFAULT_UPDATE_INTERVAL
        if interval in (None, "")
        else float(interval),
        entities={k: settings[k] for k in ENTITY_METER_KEYS if k in settings},
    )
    return config, secrets


def build_meter(
    hass: HomeAssistant,
    settings: dict[str, Any],
    *,
    grid: GridConnection | None = None,
    name: str = "P1 meter",
) -> tuple[Meter, MeterFeed]:
    """Create the meter and the feed the settings describe (the engine's rules).

    Raises ValueError for settings that cannot work (unknown version, a key
    that is not 32 hex digits).
    """
    config, secrets = meter_config(settings)
    return build_engine_meter(
        config,
        grid=grid,
        name=name,
        session=async_get_clientsession(hass),
        encryption_key=secrets.get("meter.encryption_key"),
        token=secrets.get("meter.token"),
        feed_factory=entity_meter_feed(hass, config),
    )


def entity_meter_feed(
    hass: HomeAssistant, config: MeterConfig
) -> Callable[[Meter], EntityMeterFeed]:
    """Make the feed that reads the meter from existing entities."""
    settings = dict(config.entities)

    def _factory(meter: Meter) -> EntityMeterFeed:
        return EntityMeterFeed(hass, meter, settings)

    return _factory


class MeterCoordinator(DataUpdateCoordinator[MeterReading]):
    """Throttled view of the meter for entities; availability at once."""

    config_entry: StroomwijsConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: StroomwijsConfigEntry,
        meter: Meter,
        feed: MeterFeed,
        update_interval: float = DEFAULT_UPDATE_INTERVAL,
    ) -> None:
        """Wrap a started meter; call ``async_start`` to follow it."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} meter",
            update_interval=None,
        )
        self.meter = meter
        self.feed = feed
        self.throttle = timedelta(seconds=update_interval)
        self._last_push = 0.0
        self._pending: asyncio.TimerHandle | None = None
        self._unsubscribers: list[Callable[[], None]] = []

    @callback
    def async_start(self) -> None:
        """Follow the meter's readings and availability."""
        if self.meter.last_reading is not None:
            self.async_set_updated_data(self.meter.last_reading)
            self._last_push = time.monotonic()
        self._unsubscribers = [
            self.meter.subscribe(self._on_reading),
            self.meter.subscribe_availability(self._on_availability),
        ]

    async def async_stop(self) -> None:
        """Stop following the meter and stop its feed."""
        for unsubscribe in self._unsubscribers:
            unsubscribe()
        self._unsubscribers = []
        self._cancel_pending()
        await self.feed.stop()

    async def _async_update_data(self) -> MeterReading:
        """Return the newest reading (there is nothing to poll)."""
        reading = self.meter.last_reading
        if reading is None or not self.meter.available:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="meter_unavailable",
                translation_placeholders={
                    "reason": self.meter.unavailable_reason or "no data"
                },
            )
        return reading

    @callback
    def _on_reading(self, reading: MeterReading) -> None:
        if not self.last_update_success:
            self._push(reading)
            return
        wait = self._last_push + self.throttle.total_seconds() - time.monotonic()
        if wait <= 0:
            self._push(reading)
        elif self._pending is None:
            self._pending = self.hass.loop.call_later(wait, self._push_latest)

    @callback
    def _push_latest(self) -> None:
        self._pending = None
        if self.meter.available and self.meter.last_reading is not None:
            self._push(self.meter.last_reading)

    @callback
    def _push(self, reading: MeterReading) -> None:
        self._cancel_pending()
        self._last_push = time.monotonic()
        self.async_set_updated_data(reading)

    @callback
    def _on_availability(self, available: bool) -> None:  # noqa: FBT001
        if available:
            return  # the reading that follows brings the entities back
        self._cancel_pending()
        if isinstance(self.feed, HomeWizardPoller) and self.feed.auth_failed:
            # A revoked token or a switched-off API: ask the user, keep trying.
            self.config_entry.async_start_reauth(self.hass)
        # The engine logs the loss once; mark the entities unavailable quietly.
        self.last_exception = UpdateFailed(
            translation_domain=DOMAIN,
            translation_key="meter_unavailable",
            translation_placeholders={
                "reason": self.meter.unavailable_reason or "no data"
            },
        )
        if self.last_update_success:
            self.last_update_success = False
            self.async_update_listeners()

    def _cancel_pending(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
