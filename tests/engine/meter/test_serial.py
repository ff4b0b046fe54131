"""The serial path: serialx opens a real (pseudo-)terminal like a P1 cable."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
import os
import tty

import pytest

from custom_components.stroomwijs.engine.meter.core import Meter
from custom_components.stroomwijs.engine.meter.stream import P1StreamReader
from custom_components.stroomwijs.engine.meter.versions import resolve_version

from .telegrams import real, until


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, str]]:
    """Yield the controlling side of a pseudo-terminal and the port's path."""
    controller, port = os.openpty()
    tty.setraw(port)
    path = os.ttyname(port)
    yield controller, path
    os.close(controller)
    os.close(port)


@pytest.mark.parametrize(
    ("version", "name", "import_w"),
    [("5", "telegram_v5.txt", 244.0), ("2.2", "telegram_v2_2.txt", 1010.0)],
)
async def test_serial_port_is_read_with_the_versions_line_settings(
    pty_pair: tuple[int, str], version: str, name: str, import_w: float
) -> None:
    """Telegrams written to the terminal arrive as readings, split or whole."""
    controller, path = pty_pair
    meter = Meter(stale_after=5)
    reader = P1StreamReader(meter, path, resolve_version(version), idle_timeout=5)
    reader.start()
    try:
        telegram = real(name)
        await asyncio.sleep(0.1)
        os.write(controller, telegram[:40])
        await asyncio.sleep(0.05)
        os.write(controller, telegram[40:] + telegram)
        await until(lambda: meter.stats.telegrams >= 2)
        assert meter.last_reading is not None
        assert meter.last_reading.import_w == import_w
        assert meter.stats.connects == 1
    finally:
        await reader.stop()


async def test_a_missing_serial_port_is_retried_not_fatal() -> None:
    """A port that does not exist counts connection errors and keeps trying."""
    meter = Meter()
    reader = P1StreamReader(
        meter,
        "/dev/ttyDOES-NOT-EXIST",
        resolve_version("5"),
        backoff_initial=0.02,
        backoff_max=0.05,
    )
    reader.start()
    try:
        await until(lambda: meter.stats.connection_errors >= 3)
        assert not meter.available
        assert meter.stats.last_error
    finally:
        await reader.stop()
