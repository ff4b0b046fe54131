"""The API refuses strangers before any state, and survives hostile messages.

Each test runs ``stroomwijs gateway`` as its own process on loopback.
"""

from __future__ import annotations

from collections.abc import Callable
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from custom_components.stroomwijs.engine.gateway.auth import load_or_create_token

from .conftest import (
    ApiClient,
    GatewayProcess,
    api_client,
    free_port,
    household_document,
)

NAME = "Secret household name"


async def _started(factory: Callable[..., GatewayProcess]) -> GatewayProcess:
    gateway = factory(
        household_document(p1_port=None, ocpp_port=free_port(), name=NAME)
    )
    await gateway.start()
    return gateway


def _msg(kind: str, **fields: object) -> str:
    return json.dumps({"v": 1, "type": kind, **fields})


async def _handshake(
    url: str, headers: dict[str, str]
) -> tuple[int, str, dict[str, str]]:
    """Send a WebSocket upgrade request; return the status, body and headers."""
    upgrade = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
        **headers,
    }
    async with (
        aiohttp.ClientSession() as session,
        session.get(url.replace("ws://", "http://"), headers=upgrade) as response,
    ):
        return response.status, await response.text(), dict(response.headers)


async def test_wrong_missing_and_foreign_tokens_are_refused_before_any_state(
    gateway_factory: Callable[..., GatewayProcess], tmp_path: Path
) -> None:
    """401 before the upgrade: no household name, no snapshot, no socket."""
    gateway = await _started(gateway_factory)
    token = gateway.token
    assert (gateway.state_dir / "api_token").stat().st_mode & 0o777 == 0o600
    assert len(token) >= 32
    # Another install's token: made the same way, in another state folder.
    foreign = load_or_create_token(tmp_path / "other_install_token")
    assert foreign != token
    attempts = {
        "missing": {},
        "wrong": {"Authorization": "Bearer " + "x" * len(token)},
        "another install": {"Authorization": f"Bearer {foreign}"},
        "prefix of the token": {"Authorization": f"Bearer {token[:-1]}"},
        "token plus a char": {"Authorization": f"Bearer {token}x"},
        "basic scheme": {"Authorization": f"Basic {token}"},
        "no scheme": {"Authorization": token},
        "token in the query": {},
    }
    for what, headers in attempts.items():
        url = gateway.url + (f"?token={token}" if what == "token in the query" else "")
        status, body, answer = await _handshake(url, headers)
        assert status == 401, what
        assert body == "unauthorized", what
        assert NAME not in body
        assert "Upgrade" not in answer.get("Connection", ""), what
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(url, headers=headers)
        assert refused.value.status == 401, what
    # The right token is let in, and the process lived through all that.
    async with api_client(gateway.url, token) as client:
        pong = await client.request("ping")
        assert pong["result"]["pong"] is True
    assert gateway.alive
    assert "refused: bad token" in gateway.log_text()
    assert await gateway.terminate() == 0


async def test_oversized_malformed_and_deep_messages_are_refused_and_survived(
    gateway_factory: Callable[..., GatewayProcess],
) -> None:
    """Every bad message gets an error (or, over 1 MiB, a 1009 close); no crash."""
    gateway = await _started(gateway_factory)
    async with api_client(gateway.url, gateway.token) as client:
        bad: list[tuple[str, str]] = [
            ("not json {", "invalid_json"),
            ("[1, 2, 3]", "invalid_message"),
            ('"a string"', "invalid_message"),
            ('{"type": "ping"}', "invalid_message"),  # no version
            ('{"v": true, "type": "ping"}', "invalid_message"),
            ('{"v": 1, "type": "launch_rockets"}', "unknown_type"),
            ('{"v": 1, "type": 7}', "invalid_message"),
            ('{"v": 1, "id": [1], "type": "ping"}', "invalid_message"),
            ('{"v": 1, "type": "ping", "extra": 1}', "invalid_message"),
            ('{"v": 1, "type": "set_manual_limit"}', "invalid_message"),
            (
                '{"v": 1, "type": "set_manual_limit", "import_w": "5kW"}',
                "invalid_message",
            ),
            ('{"v": 1, "type": "set_manual_limit", "import_w": NaN}', "invalid_json"),
            (
                '{"v": 1, "type": "set_manual_limit", "import_w": 1e999}',
                "invalid_message",
            ),
            ('{"v": 1, "type": "set_manual_limit", "import_w": -5}', "invalid_message"),
            (
                '{"v": 1, "type": "set_manual_limit", "import_w": true}',
                "invalid_message",
            ),
            ('{"v": 1, "type": "set_mode", "mode": "turbo"}', "invalid_message"),
            (
                _msg("set_departure", device_id="car", departure="tomorrow"),
                "invalid_message",
            ),
            (
                _msg("set_departure", device_id="car", departure="2030-01-01T07:00"),
                "invalid_message",
            ),
            (
                _msg("set_override", device_id="nope", action="boost"),
                "unknown_device",
            ),
            ('{"v": 1, "type": "set_prices", "prices": {"start": 1}}', "invalid_value"),
            (
                '{"v": 1, "type": "push_config", "config": {"grid": {"fuse_a": -1}}}',
                "invalid_config",
            ),
            ("[" * 100_000 + "]" * 100_000, "too_deep"),
            (
                '{"v": 1, "type": "set_prices", "prices": '
                + '{"a":' * 50
                + "1"
                + "}" * 50
                + "}",
                "too_deep",
            ),
        ]
        for text, code in bad:
            await client.ws.send_str(text)
            reply = await _next_error(client)
            assert reply["code"] == code, (text[:80], reply)
        await client.ws.send_bytes(b"\x00\x01")
        assert (await _next_error(client))["code"] == "invalid_message"
        # A bad push changed nothing on disk.
        assert "fuse_a: 25" in gateway.config.read_text(encoding="utf-8")
        assert (await client.request("ping"))["type"] == "result"

    # Over the size limit: the connection is closed with 1009, the process lives.
    async with api_client(gateway.url, gateway.token) as client:
        huge = json.dumps({"v": 1, "type": "ping", "pad": "x" * 1_100_000})
        await client.ws.send_str(huge)
        await client.close()
        assert client.ws.close_code == 1009
    assert gateway.alive
    async with api_client(gateway.url, gateway.token) as client:
        assert (await client.request("ping"))["result"]["pong"] is True
    assert await gateway.terminate() == 0


async def _next_error(client: ApiClient) -> dict[str, Any]:
    """Return the first error reply after what was read so far."""
    return await client.wait_for(
        lambda m: m["type"] == "error", limit_s=10, since=len(client.messages)
    )


async def test_version_skew_gets_a_clear_error_and_a_close(
    gateway_factory: Callable[..., GatewayProcess],
) -> None:
    """A client that speaks only protocol 2 is told so, and closed with 4002."""
    gateway = await _started(gateway_factory)
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(
            gateway.url, headers={"Authorization": f"Bearer {gateway.token}"}
        )
        await ws.send_str(
            json.dumps({"v": 1, "id": 1, "type": "hello", "protocols": [2, 3]})
        )
        reply = json.loads((await ws.receive(timeout=10)).data)
        assert reply["type"] == "error"
        assert reply["code"] == "unsupported_version"
        assert "update the add-on or the integration" in reply["message"]
        closing = await ws.receive(timeout=10)
        assert closing.type == aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 4002
        # A message in a future envelope version, before hello, likewise.
        ws = await session.ws_connect(
            gateway.url, headers={"Authorization": f"Bearer {gateway.token}"}
        )
        await ws.send_str(
            json.dumps({"v": 2, "id": 1, "type": "hello", "protocols": [2]})
        )
        reply = json.loads((await ws.receive(timeout=10)).data)
        assert reply["code"] == "unsupported_version"
        assert reply["id"] == 1
        await ws.receive(timeout=10)
        assert ws.close_code == 4002
        # Commands before hello are refused (no state), the socket stays.
        ws = await session.ws_connect(
            gateway.url, headers={"Authorization": f"Bearer {gateway.token}"}
        )
        await ws.send_str(json.dumps({"v": 1, "id": 5, "type": "get_snapshot"}))
        reply = json.loads((await ws.receive(timeout=10)).data)
        assert reply == {
            "v": 1,
            "type": "error",
            "id": 5,
            "code": "hello_required",
            "message": "say hello first",
        }
        await ws.close()
    assert gateway.alive
    assert await gateway.terminate() == 0
