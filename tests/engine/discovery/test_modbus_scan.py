"""The Modbus scan against simulated devices on 127.0.0.1 (loopback only)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
import json
import socket
import sys
import time

import pytest
import pytest_socket

from custom_components.stroomwijs.engine.discovery.modbus_scan import (
    ScanConfig,
    hosts_of,
    scan,
)
from custom_components.stroomwijs.engine.simulate.lambda_heat_pump import (
    LambdaSimulator,
)
from custom_components.stroomwijs.engine.simulate.quasar import QuasarSimulator
from custom_components.stroomwijs.engine.simulate.sunspec import SunSpecSimulator


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 14, 7, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def devices() -> AsyncIterator[dict[str, int]]:
    """Run a SunSpec inverter, a Lambda heat pump and a Quasar on their own ports."""
    sunspec = SunSpecSimulator()
    heat_pump = LambdaSimulator(clock=_Clock())
    quasar = QuasarSimulator()
    ports = {
        "sunspec": await sunspec.async_start("127.0.0.1", 0),
        "lambda": await heat_pump.async_start("127.0.0.1", 0),
        "quasar": await quasar.async_start("127.0.0.1", 0),
    }
    yield ports
    await sunspec.async_stop()
    await heat_pump.async_stop()
    await quasar.async_stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_each_known_map_is_recognised(devices: dict[str, int]) -> None:
    """SunSpec with its common model, Lambda and Quasar; a closed port is nothing."""
    closed = _free_port()
    config = ScanConfig(
        ports=(devices["sunspec"], devices["lambda"], devices["quasar"], closed),
        timeout_s=0.5,
        max_rate_per_s=50,
    )
    result = await scan(["127.0.0.1"], config)
    assert result.complete
    maps = {f.port: f for f in result.findings}
    assert set(maps) == {devices["sunspec"], devices["lambda"], devices["quasar"]}
    sunspec = maps[devices["sunspec"]]
    assert sunspec.map == "sunspec"
    assert sunspec.details["manufacturer"] == "Fronius"
    assert sunspec.details["serial"] == "34120987"
    assert maps[devices["lambda"]].map == "lambda"
    assert maps[devices["lambda"]].details["outdoor_c"] == 3.0
    assert maps[devices["quasar"]].map == "quasar"
    json.dumps(result.to_dict())


@pytest.fixture
def loopback_subnet() -> Iterator[None]:
    """Let this test reach 127.0.0.0/29 (still loopback), then 127.0.0.1 again."""
    pytest_socket.socket_allow_hosts(["127.0.0.0/29"], allow_unix_socket=True)
    yield
    pytest_socket.socket_allow_hosts(["127.0.0.1"], allow_unix_socket=True)


async def test_a_small_loopback_subnet_is_rate_limited_and_time_bounded(
    loopback_subnet: None,
) -> None:
    """127.0.0.0/29 at 20 connections/s: paced, and found where it listens."""
    sim = SunSpecSimulator()
    port = await sim.async_start("127.0.0.3", 0)
    try:
        config = ScanConfig(ports=(port,), timeout_s=0.3, max_rate_per_s=20)
        started = time.monotonic()
        result = await scan(["127.0.0.0/29"], config)
        took = time.monotonic() - started
        assert result.complete
        assert result.hosts_scanned == 6
        assert result.connections == 6
        assert took >= 5 / 20 - 0.05
        assert [f.host for f in result.findings] == ["127.0.0.3"]
        limited = await scan(
            ["127.0.0.0/29"],
            ScanConfig(ports=(port,), max_rate_per_s=2, total_timeout_s=0.6),
        )
        assert not limited.complete
        assert limited.connections <= 3
    finally:
        await sim.async_stop()


def test_targets_are_bounded() -> None:
    """More than a /24, multicast or nonsense is refused."""
    assert hosts_of("127.0.0.1") == ["127.0.0.1"]
    assert len(hosts_of("127.0.0.0/24")) == 254
    with pytest.raises(ValueError, match="at most 256"):
        hosts_of("10.0.0.0/16")
    with pytest.raises(ValueError, match="not a range"):
        hosts_of("224.0.0.251/32")
    with pytest.raises(ValueError):  # noqa: PT011
        hosts_of("not-an-address")
    with pytest.raises(ValueError, match="at most 4"):
        ScanConfig(ports=(1, 2, 3, 4, 5))


async def test_cli_prints_json(devices: dict[str, int]) -> None:
    """``stroomwijs discover --host 127.0.0.1 --port N`` prints the finding."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "custom_components.stroomwijs.engine.cli",
        "discover",
        "--host",
        "127.0.0.1",
        "--port",
        str(devices["lambda"]),
        "--timeout",
        "0.5",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    data = json.loads(out)
    findings = data["modbus"]["findings"]
    assert [f["map"] for f in findings] == ["lambda"]


async def test_cli_scans_nothing_unasked() -> None:
    """Without a target the command refuses (explicit only)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "custom_components.stroomwijs.engine.cli",
        "discover",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert b"nothing is scanned unasked" in err
