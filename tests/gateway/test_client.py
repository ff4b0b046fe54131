"""The gateway client (what Home Assistant runs) against an in-process gateway."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from custom_components.stroomwijs.engine.gateway.api import GatewayApi
from custom_components.stroomwijs.engine.gateway.client import (
    ConnectionState,
    GatewayAddress,
    GatewayClient,
    GatewayError,
    GatewayUnavailable,
)
from custom_components.stroomwijs.engine.gateway.service import (
    Gateway,
    GatewayOptions,
    write_config,
)
from custom_components.stroomwijs.engine.household import HouseholdConfig

from .conftest import free_port

TOKEN = "c" * 43


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[GatewayApi]:
    """Run a gateway with an empty household and its API on a free port."""
    config = HouseholdConfig(name="Client test")
    path = tmp_path / "household.yaml"
    write_config(path, config)
    gateway = Gateway(GatewayOptions(config_path=path, state_dir=tmp_path), config)
    api = GatewayApi(gateway, TOKEN, host="127.0.0.1", port=0)
    await api.async_start()
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(gateway.async_run(stop))
    yield api
    stop.set()
    await task
    await api.async_stop()


async def _state(client: GatewayClient, wanted: str, limit_s: float = 10.0) -> None:
    async with asyncio.timeout(limit_s):
        while client.state != wanted:  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def test_requests_snapshots_and_a_failing_hook(api: GatewayApi) -> None:
    """A hook that fails is a lost connection, tried again; requests work."""
    failures = [RuntimeError("a bug"), GatewayError("x", "refused")]
    states: list[str] = []

    async def _hook(_client: GatewayClient) -> None:
        if failures:
            raise failures.pop(0)

    async with aiohttp.ClientSession() as session:
        client = GatewayClient(
            session,
            GatewayAddress(host="127.0.0.1", port=api.port, token=TOKEN),
            client_name="test",
            on_connect=_hook,
            retry_first_s=0.05,
        )
        client.add_state_listener(states.append)
        snapshots: list[object] = []
        client.add_snapshot_listener(snapshots.append)
        with pytest.raises(GatewayUnavailable, match="not connected"):
            await client.async_request("ping")
        client.start()
        await _state(client, ConnectionState.CONNECTED)
        assert not failures
        assert ConnectionState.DISCONNECTED in states
        assert client.connects == 3
        assert (await client.async_request("ping"))["pong"] is True
        with pytest.raises(GatewayError) as refused:
            await client.async_request("set_mode", mode="nonsense")
        assert refused.value.code == "invalid_message"
        async with asyncio.timeout(10):
            while not snapshots:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        assert client.welcome is not None
        assert client.welcome["protocol"] == 1
        await client.async_stop()
        assert client.state == ConnectionState.STOPPED
        with pytest.raises(GatewayUnavailable):
            await client.async_request("ping")


@pytest.mark.parametrize(
    ("token", "protocols", "wanted"),
    [
        ("w" * 43, (1,), ConnectionState.AUTH_FAILED),
        (TOKEN, (99,), ConnectionState.VERSION_MISMATCH),
    ],
)
async def test_a_refused_token_and_a_version_skew(
    api: GatewayApi, token: str, protocols: tuple[int, ...], wanted: str
) -> None:
    """Each is its own state, with the gateway's reason."""
    async with aiohttp.ClientSession() as session:
        client = GatewayClient(
            session,
            GatewayAddress(host="127.0.0.1", port=api.port, token=token),
            client_name="test",
            protocols=protocols,
        )
        client.start()
        assert await client.async_wait_first_try(10) == wanted
        assert client.error
        await client.async_stop()


async def test_nobody_listening() -> None:
    """A closed port: disconnected, and the first try ends at once."""
    async with aiohttp.ClientSession() as session:
        client = GatewayClient(
            session,
            GatewayAddress(host="127.0.0.1", port=free_port(), token=TOKEN),
            client_name="test",
        )
        client.start()
        client.start()  # a second start changes nothing
        assert await client.async_wait_first_try(10) == ConnectionState.DISCONNECTED
        await client.async_stop()
    address = GatewayAddress(host="::1", port=1, token="t")  # noqa: S106
    assert address.url.startswith("ws://[::1]:1")


def _document(name: str, folder: Path) -> tuple[HouseholdConfig, Path]:
    """Write an empty household named ``name`` in a new ``folder``."""
    folder.mkdir()
    config = HouseholdConfig(name=name)
    path = folder / "household.yaml"
    write_config(path, config)
    return config, path


async def test_a_new_connection_shows_no_snapshot_of_the_last_one(
    tmp_path: Path,
) -> None:
    """After a reconnect, the last connection's snapshot is not shown as current.

    The client kept the previous connection's snapshot until the new one's
    first arrived, so for up to a snapshot interval after a gateway restart
    Home Assistant showed the old household's values (an old meter reading
    among them) as live. Here the new gateway's first snapshot comes late
    (its push interval is long and was just used).
    """

    async def _gateway(
        name: str, folder: Path, port: int, interval_s: float
    ) -> tuple[GatewayApi, asyncio.Event, asyncio.Task[None]]:
        config, path = _document(name, folder)
        gateway = Gateway(GatewayOptions(config_path=path, state_dir=folder), config)
        api = GatewayApi(
            gateway, TOKEN, host="127.0.0.1", port=port, snapshot_interval_s=interval_s
        )
        stop = asyncio.Event()
        task = asyncio.get_running_loop().create_task(gateway.async_run(stop))
        async with asyncio.timeout(10):
            while gateway.household is None:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        await api.async_start()
        await asyncio.sleep(0.1)  # the push loop has used its interval
        return api, stop, task

    first, stop, task = await _gateway("One", tmp_path / "one", 0, 0.05)
    port = first.port
    async with aiohttp.ClientSession() as session:
        client = GatewayClient(
            session,
            GatewayAddress(host="127.0.0.1", port=port, token=TOKEN),
            client_name="test",
            retry_first_s=0.05,
        )
        client.start()
        await _state(client, ConnectionState.CONNECTED)
        async with asyncio.timeout(10):
            while client.snapshot is None:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        assert client.snapshot["household"]["name"] == "One"
        stop.set()
        await task
        await first.async_stop()
        await _state(client, ConnectionState.DISCONNECTED)
        second, stop, task = await _gateway("Two", tmp_path / "two", port, 30.0)
        try:
            await _state(client, ConnectionState.CONNECTED)
            assert client.snapshot is None
        finally:
            await client.async_stop()
            stop.set()
            await task
            await second.async_stop()
