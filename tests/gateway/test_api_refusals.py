"""What the API answers to clients that break its rules (in-process, loopback)."""

from __future__ import annotations

import json

import aiohttp
import pytest

from custom_components.stroomwijs.engine.gateway.api import LARGE_MESSAGE, GatewayApi

from .test_api_inprocess import TOKEN, _url, api  # noqa: F401 - the fixture


async def _connect(
    session: aiohttp.ClientSession, gateway_api: GatewayApi
) -> aiohttp.ClientWebSocketResponse:
    return await session.ws_connect(
        _url(gateway_api), headers={"Authorization": f"Bearer {TOKEN}"}
    )


async def _reply(ws: aiohttp.ClientWebSocketResponse) -> dict[str, object]:
    message = await ws.receive(timeout=5)
    assert message.type == aiohttp.WSMsgType.TEXT, message
    data: dict[str, object] = json.loads(message.data)
    return data


async def test_before_hello_only_hello_is_served(api: GatewayApi) -> None:  # noqa: F811
    """A command first: hello_required with its id; binary: invalid_message."""
    async with aiohttp.ClientSession() as session:
        ws = await _connect(session, api)
        await ws.send_str(json.dumps({"v": 1, "id": "a1", "type": "get_snapshot"}))
        reply = await _reply(ws)
        assert (reply["type"], reply["id"], reply["code"], reply["message"]) == (
            "error",
            "a1",
            "hello_required",
            "say hello first",
        )
        await ws.send_bytes(b"\x00\x01")
        reply = await _reply(ws)
        assert (reply["code"], reply["message"], reply["id"]) == (
            "invalid_message",
            "send JSON text",
            None,
        )
        # A refused message's id is echoed when it can be read, not otherwise.
        await ws.send_str(json.dumps({"v": 1, "id": 7, "type": "nothing"}))
        assert (await _reply(ws))["id"] == 7
        await ws.send_str('{"v": 1, "id": 8, "type": ')
        reply = await _reply(ws)
        assert (reply["code"], reply["id"]) == ("invalid_json", None)
        await ws.close()


@pytest.mark.parametrize("size", [LARGE_MESSAGE + 10, 900_000])
async def test_a_large_message_is_checked_and_answered(
    api: GatewayApi,  # noqa: F811
    size: int,
) -> None:
    """A large (invalid) document is parsed off the loop and refused by field."""
    async with aiohttp.ClientSession() as session:
        ws = await _connect(session, api)
        await ws.send_str(
            json.dumps({"v": 1, "id": 1, "type": "hello", "protocols": [1]})
        )
        assert (await _reply(ws))["type"] == "welcome"
        config = {"version": 1, "name": "x" * size}
        await ws.send_str(
            json.dumps({"v": 1, "id": 2, "type": "push_config", "config": config})
        )
        reply = await _reply(ws)
        assert (reply["type"], reply["id"], reply["code"]) == (
            "error",
            2,
            "invalid_config",
        )
        assert "name" in str(reply["message"])
        await ws.close()
