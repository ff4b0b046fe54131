"""API behaviour that is quicker to check in-process: timeouts and limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
import json
from pathlib import Path

import aiohttp
import pytest

from custom_components.stroomwijs.engine.gateway.api import MAX_CLIENTS, GatewayApi
from custom_components.stroomwijs.engine.gateway.protocol import CLOSE_HELLO_TIMEOUT
from custom_components.stroomwijs.engine.gateway.service import (
    Gateway,
    GatewayOptions,
    write_config,
)
from custom_components.stroomwijs.engine.household import HouseholdConfig

TOKEN = "k" * 43


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[GatewayApi]:
    """Run a gateway with an empty household and its API on a free port."""
    config = HouseholdConfig(name="In process")
    path = tmp_path / "household.yaml"
    write_config(path, config)
    gateway = Gateway(GatewayOptions(config_path=path, state_dir=tmp_path), config)
    api = GatewayApi(gateway, TOKEN, host="127.0.0.1", port=0, hello_timeout_s=0.3)
    await api.async_start()
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(gateway.async_run(stop))
    yield api
    stop.set()
    await task
    await api.async_stop()


def _url(api: GatewayApi) -> str:
    return f"ws://127.0.0.1:{api.port}/api/websocket"


async def test_a_client_that_never_says_hello_is_closed(api: GatewayApi) -> None:
    """No hello within the timeout: closed with 4008, nothing sent before."""
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(
            _url(api), headers={"Authorization": f"Bearer {TOKEN}"}
        )
        message = await ws.receive(timeout=5)
        assert message.type == aiohttp.WSMsgType.CLOSE
        assert ws.close_code == CLOSE_HELLO_TIMEOUT


async def test_at_most_sixteen_clients(api: GatewayApi) -> None:
    """The seventeenth connection is refused with 503; a freed slot is reused."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as session:
        sockets = []
        for _ in range(MAX_CLIENTS):
            ws = await session.ws_connect(_url(api), headers=headers)
            await ws.send_str(json.dumps({"v": 1, "type": "hello", "protocols": [1]}))
            assert json.loads((await ws.receive(timeout=5)).data)["type"] == "welcome"
            sockets.append(ws)
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(_url(api), headers=headers)
        assert refused.value.status == 503
        await sockets.pop().close()
        for _ in range(50):
            if len(api.clients) < MAX_CLIENTS:
                break
            await asyncio.sleep(0.05)
        ws = await session.ws_connect(_url(api), headers=headers)
        await ws.send_str(json.dumps({"v": 1, "type": "hello", "protocols": [1]}))
        welcome = json.loads((await ws.receive(timeout=5)).data)
        assert welcome["gateway"]["household"] == "In process"
        for other in [*sockets, ws]:
            with contextlib.suppress(Exception):
                await other.close()


async def test_commands_while_the_household_runs_in_process(api: GatewayApi) -> None:
    """The same gateway in-process: a limit set through the API is in force."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(_url(api), headers=headers)
        await ws.send_str(json.dumps({"v": 1, "type": "hello", "protocols": [1]}))
        await ws.receive(timeout=5)
        for _ in range(50):
            if api.gateway.household is not None:
                break
            await asyncio.sleep(0.05)
        await ws.send_str(
            json.dumps({"v": 1, "id": 2, "type": "set_manual_limit", "import_w": 3000})
        )
        reply = json.loads((await ws.receive(timeout=5)).data)
        assert reply["result"]["limits"]["import_limit_w"] == 3000.0
        household = api.gateway.household
        assert household is not None
        assert household.limits.import_limit_w == 3000.0
        await ws.close()
