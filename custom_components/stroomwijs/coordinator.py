"""The household's P1 meter inside Home Assistant.

The engine's ``Meter`` pushes a reading per telegram (every second on DSMR
5). The guard consumes that stream directly through ``Meter.subscribe``;
entities do not: ``MeterCoordinator`` hands them the newest reading at most
once per ``update_interval`` so the recorder is not flooded. Entities follow
the meter's availability at once, and come back by themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
import time
from typing import Any, Final, Protocol

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .const import DOMAIN, LOGGER
from .engine.grid import GridConnection
from .engine.meter.core import Meter
from .engine.meter.homewizard import API_V1, HomeWizardPoller, create_api
from .engine.meter.models import MeterReading
from .engine.meter.stream import P1StreamReader
from .engine.meter.versions import resolve_version
from .entity_source import (
    EntityMeterFeed,
)
from .models import StroomwijsConfigEntry

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
FIRST_READING_TIMEOUT: Final = 30.0
"""How long set-up and the config flow wait for a first valid telegram."""


class MeterFeed(Protocol):
    """Anything that feeds a Meter: a stream reader, a poller, an entity feed."""

    def start(self) -> None:
        """Start feeding."""

    async def stop(self) -> None:
        """Stop feeding and close connections."""


class NoReadingError(Exception):
    """No valid telegram arrived in time; ``reason`` says what was seen."""

    def __init__(self, reason: str) -> None:
        """Keep the reason for the user."""
        super().__init__(reason)
        self.reason = reason


def meter_url(settings: dict[str, Any]) -> str:
    """Return the serial port or ``socket://host:port`` of the settings."""
    if settings[CONF_SOURCE] == SOURCE_NETWORK:
        return f"socket://{settings[CONF_HOST]}:{int(settings[CONF_TCP_PORT])}"
    return str(settings[CONF_SERIAL_PORT])


def build_meter(
    hass: HomeAssistant,
    settings: dict[str, Any],
    *,
    grid: GridConnection | None = None,
    name: str = "P1 meter",
) -> tuple[Meter, MeterFeed]:
    """Create the meter and the feed the settings describe.

    Raises ValueError for settings that cannot work (unknown version, a key
    that is not 32 hex digits).
    """
    source = settings[CONF_SOURCE]
    if source in (SOURCE_SERIAL, SOURCE_NETWORK):
        key = settings.get(CONF_ENCRYPTION_KEY) or ""
        version = resolve_version(settings[CONF_DSMR_VERSION], encryption_key=key)
        meter = Meter(name=name, grid=grid, stale_after=3 * version.interval_s + 2)
        feed: MeterFeed = P1StreamReader(
            meter, meter_url(settings), version, encryption_key=key
        )
        return meter, feed
    if source == SOURCE_HOMEWIZARD:
        meter = Meter(name=name, grid=grid, stale_after=15.0)
        api = create_api(
            settings[CONF_HOST],
            async_get_clientsession(hass),
            api_version=settings.get(CONF_API_VERSION, API_V1),
            token=settings.get(CONF_TOKEN),
        )
        return meter, HomeWizardPoller(meter, api)
    if source == SOURCE_ENTITIES:
        meter = Meter(name=name, grid=grid, stale_after=float("inf"))
        return meter, EntityMeterFeed(hass, meter, settings)
    msg = f"unknown meter source {source!r}"
    raise ValueError(msg)


def _failure(meter: Meter, feed: MeterFeed) -> str:
    """Name what went wrong on a meter that gave no reading."""
    stats = meter.stats
    if isinstance(feed, HomeWizardPoller) and feed.auth_failed:
        return "invalid_auth"
    if stats.decrypt_errors:
        return "decrypt"
    if stats.crc_errors or stats.parse_errors:
        return "invalid_telegram"
    if stats.connects == 0:
        return "cannot_connect"
    return "no_telegram"


async def async_first_reading(
    meter: Meter, feed: MeterFeed, limit: float = FIRST_READING_TIMEOUT
) -> MeterReading:
    """Start the feed and wait up to ``limit`` s for its first valid reading.

    Raises NoReadingError with what went wrong (no connection, only bad
    CRCs, a key that does not fit). It gives up early when the line cannot
    be opened at all or the key is wrong.
    """
    if meter.last_reading is not None:
        return meter.last_reading
    first: asyncio.Future[MeterReading] = asyncio.get_running_loop().create_future()

    def _got(reading: MeterReading) -> None:
        if not first.done():
            first.set_result(reading)

    unsubscribe = meter.subscribe(_got)
    feed.start()
    try:
        async with asyncio.timeout(limit):
            while not first.done():
                await asyncio.wait({first}, timeout=0.1)
                stats = meter.stats
                hopeless = (
                    (stats.connects == 0 and stats.connection_errors)
                    or stats.decrypt_errors
                    or (isinstance(feed, HomeWizardPoller) and feed.auth_failed)
                )
                if not first.done() and hopeless:
                    raise NoReadingError(_failure(meter, feed))
            return first.result()
    except TimeoutError:
        raise NoReadingError(_failure(meter, feed)) from None
    finally:
        unsubscribe()


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
