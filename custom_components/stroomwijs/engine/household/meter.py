"""The household's grid meter: which feed reads it, and the first reading.

``build_meter`` turns the config's ``meter`` section into an engine
``Meter`` plus the feed that fills it (a P1 stream over serial or TCP, or a
HomeWizard poller). A host may provide its own feed instead (Home
Assistant's existing DSMR or HomeWizard entities). ``async_first_reading``
starts the feed and waits for a first valid reading, and names what went
wrong when none comes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Final, Protocol

import aiohttp

from custom_components.stroomwijs.engine.grid import GridConnection
from custom_components.stroomwijs.engine.meter.core import Meter, utc_now
from custom_components.stroomwijs.engine.meter.models import MeterReading
from custom_components.stroomwijs.engine.meter.stream import P1StreamReader
from custom_components.stroomwijs.engine.meter.versions import resolve_version

from .config import MeterConfig

FIRST_READING_TIMEOUT: Final = 30.0
"""How long set-up waits for a first valid telegram."""
AUTH_FAILURES: Final = frozenset({"invalid_auth", "decrypt"})
"""Reasons that need the user (a new token or key)."""


class MeterFeed(Protocol):
    """Anything that feeds a Meter: a stream reader, a poller, an entity feed."""

    def start(self) -> None:
        """Start feeding."""

    async def stop(self) -> None:
        """Stop feeding and close connections."""


type MeterFeedFactory = Callable[[Meter], MeterFeed]


class NoReadingError(Exception):
    """No valid telegram arrived in time; ``reason`` says what was seen."""

    def __init__(self, reason: str) -> None:
        """Keep the reason for the user."""
        super().__init__(reason)
        self.reason = reason


def meter_url(config: MeterConfig) -> str:
    """Return the serial port or ``socket://host:port`` of the meter."""
    if config.source == "network":
        return f"socket://{config.host}:{config.tcp_port}"
    return str(config.serial_port)


def build_meter(
    config: MeterConfig,
    *,
    grid: GridConnection | None,
    name: str,
    session: aiohttp.ClientSession | None = None,
    encryption_key: str | None = None,
    token: str | None = None,
    feed_factory: MeterFeedFactory | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> tuple[Meter, MeterFeed]:
    """Create the meter and the feed the config describes.

    Raises ValueError for settings that cannot work (unknown version, a key
    that is not 32 hex digits, a source that needs what the host lacks).
    """
    source = config.source
    if source in {"serial", "network"}:
        key = encryption_key or ""
        version = resolve_version(config.dsmr_version, encryption_key=key)
        meter = Meter(
            name=name, grid=grid, clock=clock, stale_after=3 * version.interval_s + 2
        )
        return meter, P1StreamReader(
            meter, meter_url(config), version, encryption_key=key
        )
    if source == "homewizard":
        if session is None:
            raise ValueError("a HomeWizard meter needs an HTTP session from the host")
        meter = Meter(name=name, grid=grid, clock=clock, stale_after=15.0)
        # Loaded only for a HomeWizard meter: its client library is large.
        from custom_components.stroomwijs.engine.meter.homewizard import (  # noqa: PLC0415
            HomeWizardPoller,
            create_api,
        )

        api = create_api(
            str(config.host), session, api_version=config.api_version, token=token
        )
        return meter, HomeWizardPoller(meter, api)
    if source == "entities":
        if feed_factory is None:
            raise ValueError("an entity meter needs its feed from the host")
        meter = Meter(name=name, grid=grid, clock=clock, stale_after=float("inf"))
        return meter, feed_factory(meter)
    msg = f"unknown meter source {source!r}"
    raise ValueError(msg)


def _auth_failed(feed: MeterFeed) -> bool:
    """Whether a feed (a HomeWizard poller) was refused its token."""
    return bool(getattr(feed, "auth_failed", False))


def failure_reason(meter: Meter, feed: MeterFeed) -> str:
    """Name what went wrong on a meter that gave no reading."""
    stats = meter.stats
    if _auth_failed(feed):
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
                    or _auth_failed(feed)
                )
                if not first.done() and hopeless:
                    raise NoReadingError(failure_reason(meter, feed))
            return first.result()
    except TimeoutError:
        raise NoReadingError(failure_reason(meter, feed)) from None
    finally:
        unsubscribe()
