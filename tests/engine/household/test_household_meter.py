"""The household's first meter reading, against a real P1 stream on loopback.

Nothing listening, only telegrams with a bad CRC, or a good telegram: the
first reading arrives, or NoReadingError names what went wrong (what the
config flow shows the user). Settings that cannot work are refused.
"""

from __future__ import annotations

from datetime import UTC, datetime
import socket

import pytest

from custom_components.stroomwijs.engine.grid import GridConnection
from custom_components.stroomwijs.engine.household.config import MeterConfig
from custom_components.stroomwijs.engine.household.meter import (
    NoReadingError,
    async_first_reading,
    build_meter,
    meter_url,
)
from custom_components.stroomwijs.engine.simulate.p1 import (
    P1TelegramServer,
    TelegramValuesIn,
    build_telegram,
    corrupt_crc,
)

GRID = GridConnection(phases=3, fuse_a=25)


def _telegram() -> bytes:
    return build_telegram(
        TelegramValuesIn(
            timestamp=datetime.now(UTC), import_w=1234.0, import_t1_kwh=100.0
        )
    )


def _network(port: int) -> MeterConfig:
    return MeterConfig(source="network", host="127.0.0.1", tcp_port=port)


async def test_the_first_good_telegram_is_the_first_reading() -> None:
    """A dongle sending valid telegrams: the reading comes at once."""
    async with P1TelegramServer([_telegram()], interval=0.05) as server:
        meter, feed = build_meter(_network(server.port), grid=GRID, name="p1")
        try:
            reading = await async_first_reading(meter, feed, limit=5.0)
            assert reading.import_w == pytest.approx(1234.0)
            # Asked again, the reading it has is returned without waiting.
            assert await async_first_reading(meter, feed, limit=0.01) is reading
        finally:
            await feed.stop()


async def test_only_bad_telegrams_is_an_invalid_telegram() -> None:
    """Every CRC wrong: no reading, and the reason says the telegrams are bad."""
    async with P1TelegramServer([corrupt_crc(_telegram())], interval=0.05) as server:
        meter, feed = build_meter(_network(server.port), grid=GRID, name="p1")
        try:
            with pytest.raises(NoReadingError) as caught:
                await async_first_reading(meter, feed, limit=1.0)
        finally:
            await feed.stop()
    assert caught.value.reason == "invalid_telegram"


async def test_a_silent_dongle_is_no_telegram() -> None:
    """Connected, but nothing arrives: no_telegram."""
    async with P1TelegramServer([_telegram()], interval=0.05) as server:
        server.pause()
        meter, feed = build_meter(_network(server.port), grid=GRID, name="p1")
        try:
            with pytest.raises(NoReadingError) as caught:
                await async_first_reading(meter, feed, limit=0.8)
        finally:
            await feed.stop()
    assert caught.value.reason == "no_telegram"


async def test_nothing_listening_is_cannot_connect() -> None:
    """No dongle at the address: cannot_connect, before the time limit."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    meter, feed = build_meter(_network(port), grid=GRID, name="p1")
    try:
        with pytest.raises(NoReadingError) as caught:
            await async_first_reading(meter, feed, limit=10.0)
    finally:
        await feed.stop()
    assert caught.value.reason == "cannot_connect"


def test_settings_that_cannot_work_are_refused() -> None:
    """Unknown source, HomeWizard without a session, entities without a feed."""
    with pytest.raises(ValueError, match="unknown meter source"):
        build_meter(MeterConfig(source="carrier-pigeon"), grid=GRID, name="p1")
    with pytest.raises(ValueError, match="HTTP session"):
        build_meter(
            MeterConfig(source="homewizard", host="127.0.0.1"), grid=GRID, name="p1"
        )
    with pytest.raises(ValueError, match="feed from the host"):
        build_meter(MeterConfig(source="entities"), grid=GRID, name="p1")
    with pytest.raises(ValueError, match="unknown DSMR version"):
        build_meter(
            MeterConfig(
                source="network", host="127.0.0.1", tcp_port=1, dsmr_version="9"
            ),
            grid=GRID,
            name="p1",
        )
    assert meter_url(MeterConfig(source="serial", serial_port="/dev/ttyUSB0")) == (
        "/dev/ttyUSB0"
    )
