"""End to end over loopback TCP: telegrams in, readings out, failures survived."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
import logging

import pytest

from custom_components.stroomwijs.engine.grid import GridConnection
from custom_components.stroomwijs.engine.meter.core import Meter
from custom_components.stroomwijs.engine.meter.models import MeterReading
from custom_components.stroomwijs.engine.meter.stream import P1StreamReader
from custom_components.stroomwijs.engine.meter.versions import resolve_version
from custom_components.stroomwijs.engine.simulate.p1 import P1TelegramServer

from .telegrams import CASES, Case, real, until

INTERVAL = 0.02


@asynccontextmanager
async def _running(
    frames: list[bytes], version: str = "5", key: str = "", stale_after: float = 0.2
) -> AsyncIterator[tuple[P1TelegramServer, Meter, list[MeterReading]]]:
    server = P1TelegramServer(frames, interval=INTERVAL)
    await server.start()
    meter = Meter(grid=GridConnection(phases=3, fuse_a=25), stale_after=stale_after)
    readings: list[MeterReading] = []
    meter.subscribe(readings.append)
    reader = P1StreamReader(
        meter,
        server.url,
        resolve_version(version, encryption_key=key),
        encryption_key=key,
        idle_timeout=0.5,
        backoff_initial=0.02,
        backoff_max=0.1,
    )
    reader.start()
    try:
        yield server, meter, readings
    finally:
        await reader.stop()
        await server.stop()


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
async def test_every_version_streams_through_tcp_to_readings(case: Case) -> None:
    """A loopback stream of each version yields readings with its values."""
    async with _running([case.raw], case.version, case.key) as (_, meter, readings):
        await until(lambda: len(readings) >= 3)
        assert meter.available
        for name, expected in case.expected.items():
            if name.startswith(("quarter", "month")):
                continue  # depend on the wall clock of the run
            assert getattr(readings[-1], name) == pytest.approx(expected), name
        assert meter.stats.crc_errors == 0


async def test_subscriber_gets_every_telegram_in_order() -> None:
    """Every telegram reaches the subscriber, one reading per telegram."""
    async with _running([real("telegram_v5.txt")]) as (server, meter, readings):
        await until(lambda: server.sent >= 10)
        await until(lambda: len(readings) >= server.sent - 1)
        assert meter.stats.telegrams == len(readings)
        stamps = [reading.timestamp for reading in readings]
        assert stamps == sorted(stamps)


async def test_bad_crc_is_counted_and_skipped_without_reconnecting() -> None:
    """A telegram with a wrong CRC is skipped; the stream goes on."""
    async with _running([real("telegram_v5.txt")]) as (server, meter, readings):
        await until(lambda: len(readings) >= 2)
        server.corrupt_next()
        await until(lambda: meter.stats.crc_errors == 1)
        before = len(readings)
        await until(lambda: len(readings) >= before + 2)
        assert meter.stats.connects == 1
        assert meter.available


async def test_garbage_on_the_line_is_skipped() -> None:
    """Noise between telegrams does not stop or confuse the reader."""
    async with _running([real("telegram_v5.txt")]) as (server, meter, readings):
        await until(lambda: len(readings) >= 1)
        await server.inject(b"\x00\xff\xfe garbage !!! \r\n/junk!ZZZZ\r\n")
        before = len(readings)
        await until(lambda: len(readings) >= before + 3)
        assert readings[-1].import_w == 244.0
        assert meter.stats.connects == 1


async def test_cable_pulled_mid_telegram_recovers_by_itself(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Half a telegram, then the line drops: unavailable, then back, no restart."""
    caplog.set_level(logging.INFO)
    # A long stale time: only the dropped line may make it unavailable.
    async with _running([real("telegram_v5.txt")], stale_after=5.0) as (
        server,
        meter,
        readings,
    ):
        await until(lambda: len(readings) >= 2)
        changes: list[bool] = []
        meter.subscribe_availability(changes.append)
        server.cut_next()
        await until(lambda: not meter.available)
        await until(lambda: meter.available)
        assert changes == [False, True]
        assert meter.stats.connects >= 2
        assert meter.stats.parse_errors == 0
        assert meter.stats.crc_errors == 0
    warnings = [r for r in caplog.records if "is unavailable" in r.getMessage()]
    recoveries = [r for r in caplog.records if "is back" in r.getMessage()]
    assert len(warnings) == 1
    assert len(recoveries) == 1


async def test_silent_meter_goes_unavailable_and_comes_back() -> None:
    """No telegrams for a while: unavailable (once); telegrams again: available."""
    async with _running([real("telegram_v5.txt")], stale_after=0.1) as (
        server,
        meter,
        readings,
    ):
        await until(lambda: len(readings) >= 1)
        changes: list[bool] = []
        meter.subscribe_availability(changes.append)
        server.pause()
        await until(lambda: not meter.available)
        assert "no valid telegram" in (meter.unavailable_reason or "")
        await asyncio.sleep(0.2)
        server.resume()
        await until(lambda: meter.available)
        assert changes[:2] == [False, True]


async def test_meter_that_is_away_at_start_is_picked_up_when_it_appears() -> None:
    """Nobody listening at first: the reader retries until the dongle is there."""
    placeholder = P1TelegramServer([real("telegram_v5.txt")], interval=INTERVAL)
    await placeholder.start()
    port = placeholder.port
    await placeholder.stop()
    meter = Meter(stale_after=1.0)
    reader = P1StreamReader(
        meter,
        f"socket://127.0.0.1:{port}",
        resolve_version("5"),
        backoff_initial=0.02,
        backoff_max=0.05,
    )
    reader.start()
    try:
        await until(lambda: meter.stats.connection_errors >= 2)
        assert not meter.available
        server = P1TelegramServer(
            [real("telegram_v5.txt")], interval=INTERVAL, port=port
        )
        await server.start()
        try:
            await until(lambda: meter.available)
        finally:
            await server.stop()
    finally:
        await reader.stop()


async def test_wrong_encryption_key_counts_decrypt_errors_and_stays_unavailable() -> (
    None
):
    """An encrypted stream with the wrong key never yields a reading."""
    case = next(case for case in CASES if case.id == "5L-encrypted")
    wrong = "00" * 16
    async with _running([case.raw], "5L", wrong) as (_, meter, readings):
        await until(lambda: meter.stats.decrypt_errors >= 2)
        assert readings == []
        assert not meter.available
