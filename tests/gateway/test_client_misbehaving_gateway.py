"""The client against a gateway that misbehaves (a real WebSocket server).

The fake gateway answers ``hello`` and ``subscribe`` as the real one does,
then sends what a broken or hostile gateway might: text that is not JSON,
errors for requests nobody made, service calls the integration may not
carry out. The client must stay up, answer every call it can, and tell
its listeners about the good messages only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import json
from typing import Any

import aiohttp
from aiohttp import web
import pytest

from custom_components.stroomwijs.engine.gateway.client import (
    ConnectionState,
    GatewayAddress,
    GatewayClient,
)
from custom_components.stroomwijs.engine.gateway.protocol import EntityCall

TOKEN = "g" * 43
CALL = {
    "type": "entity_call",
    "domain": "switch",
    "service": "turn_on",
    "data": {"entity_id": "switch.boiler"},
}


class FakeGateway:
    """Welcome, subscribe, then ``script``; records what the client sends."""

    def __init__(self, script: list[str]) -> None:
        """Send ``script`` (message texts) after the client subscribed."""
        self.script = script
        self.received: list[dict[str, Any]] = []
        self.answers: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            data = json.loads(message.data)
            self.received.append(data)
            kind = data["type"]
            if kind == "hello":
                await ws.send_json(
                    {"v": 1, "type": "welcome", "id": data["id"], "protocol": 1}
                )
            elif kind == "subscribe":
                await ws.send_json(
                    {"v": 1, "type": "result", "id": data["id"], "result": {}}
                )
                for text in self.script:
                    await ws.send_str(text)
            elif kind == "entity_call_result":
                await ws.send_json(
                    {"v": 1, "type": "result", "id": data["id"], "result": None}
                )
                await self.answers.put(data)
        return ws

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_get("/api/websocket", self._ws)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]

    async def answer(self) -> dict[str, Any]:
        """Return the client's next entity_call_result."""
        async with asyncio.timeout(10):
            return await self.answers.get()


type Connect = Callable[..., Awaitable[tuple[GatewayClient, FakeGateway]]]


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    """Start fake gateways and clients of them; all stopped after the test."""
    made: list[tuple[GatewayClient, FakeGateway, aiohttp.ClientSession]] = []

    async def _connect(
        script: list[str],
        listen: Callable[[GatewayClient], None] | None = None,
        **options: Any,  # noqa: ANN401
    ) -> tuple[GatewayClient, FakeGateway]:
        gateway = FakeGateway(script)
        await gateway.start()
        session = aiohttp.ClientSession()
        client = GatewayClient(
            session,
            GatewayAddress(host="127.0.0.1", port=gateway.port, token=TOKEN),
            client_name="test",
            **options,
        )
        made.append((client, gateway, session))
        if listen is not None:
            listen(client)
        client.start()
        assert await client.async_wait_first_try(10) == ConnectionState.CONNECTED
        return client, gateway

    yield _connect
    for client, gateway, session in made:
        await client.async_stop()
        await session.close()
        assert gateway.runner is not None
        await gateway.runner.cleanup()


async def test_garbage_and_stray_errors_are_logged_and_skipped(
    connect: Connect,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Not JSON, a list, an error for no request: the snapshot after still counts."""
    snapshots: list[dict[str, Any]] = []
    events: list[tuple[str, dict[str, Any]]] = []

    def broken(*_args: object) -> None:
        raise RuntimeError

    def listen(client: GatewayClient) -> None:
        client.add_snapshot_listener(broken)
        client.add_snapshot_listener(snapshots.append)
        client.add_event_listener(broken)
        client.add_event_listener(lambda kind, data: events.append((kind, data)))
        client.add_state_listener(broken)

    client, _gateway = await connect(
        [
            "not json",
            "[1, 2]",
            json.dumps({"type": "error", "id": 999, "message": "who asked?"}),
            json.dumps({"type": "snapshot", "gateway": {"state": "running"}}),
            json.dumps({"type": "event", "event": "limit_changed", "data": [1]}),
        ],
        listen,
    )
    for _ in range(200):
        if events:
            break
        await asyncio.sleep(0.02)
    assert client.connected
    assert snapshots == [{"type": "snapshot", "gateway": {"state": "running"}}]
    assert events == [("limit_changed", {})], "a payload that is no object: empty"
    assert "The gateway sent text that is not JSON" in caplog.text
    assert "The gateway reported: who asked?" in caplog.text
    assert "gateway snapshot listener failed" in caplog.text
    assert "gateway event listener failed" in caplog.text
    await client.async_stop()
    assert "gateway state listener failed" in caplog.text
    assert client.state == ConnectionState.STOPPED


async def test_calls_are_refused_answered_or_failed(
    connect: Connect,
) -> None:
    """Every entity_call with a readable call_id is answered, with the reason."""
    script = [
        json.dumps({**CALL, "call_id": "bad", "service": "remove"}),
        json.dumps({**CALL, "call_id": 5, "service": "remove"}),  # no answer possible
        json.dumps({**CALL, "call_id": "ok"}),
    ]
    # No handler: the client says it does not carry out calls.
    _client, gateway = await connect(script)
    first = await gateway.answer()
    assert (first["call_id"], first["error"]) == ("bad", "refused: service: 'remove'")
    second = await gateway.answer()
    assert (second["call_id"], second["error"]) == (
        "ok",
        "this client does not carry out calls",
    )

    # A handler that fails: its error, cut to 200 characters.
    async def failing(call: EntityCall) -> None:
        msg = f"{call.entity_id} is stuck " + "!" * 300
        raise RuntimeError(msg)

    _client, gateway = await connect(script[2:], on_entity_call=failing)
    answer = await gateway.answer()
    assert answer["error"].startswith("switch.boiler is stuck !")
    assert len(answer["error"]) == 200

    # A handler that works: no error.
    done: list[EntityCall] = []

    async def working(call: EntityCall) -> None:
        done.append(call)

    _client, gateway = await connect(script[2:], on_entity_call=working)
    answer = await gateway.answer()
    assert (answer["call_id"], answer["error"]) == ("ok", None)
    assert [(c.domain, c.service, c.entity_id) for c in done] == [
        ("switch", "turn_on", "switch.boiler")
    ]
