"""The gateway announces its API to a (fake) Supervisor on loopback.

The fake Supervisor is a real HTTP server that answers ``POST /discovery``
as the Supervisor does (``{"result": "ok", "data": {"uuid": ...}}``) and
checks the bearer token the Supervisor gave the add-on.
"""

# ruff: noqa: S105, S106

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
import hmac
from typing import Any
import uuid

from aiohttp import web
import pytest

from custom_components.stroomwijs.engine.gateway.discovery import (
    Announcement,
    DiscoveryError,
    async_announce,
    async_announce_until_accepted,
)
from custom_components.stroomwijs.engine.simulate.p1 import P1TelegramServer

from .conftest import GatewayProcess, api_client, free_port, household_document

SUPERVISOR_TOKEN = "supervisor-token-for-this-add-on-0123456789"


@dataclass(slots=True)
class FakeSupervisor:
    """Records discovery messages; refuses the first ``refuse_first`` with 503."""

    refuse_first: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0
    unauthorised: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    runner: web.AppRunner | None = None
    url: str = ""

    async def _discovery(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        if not hmac.compare_digest(header, f"Bearer {SUPERVISOR_TOKEN}"):
            self.unauthorised += 1
            return web.json_response(
                {"result": "error", "message": "unauthorized"}, status=401
            )
        if self.refused < self.refuse_first:
            self.refused += 1
            return web.json_response(
                {"result": "error", "message": "starting"}, status=503
            )
        self.messages.append(await request.json())
        self.arrived.set()
        return web.json_response({"result": "ok", "data": {"uuid": uuid.uuid4().hex}})

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_post("/discovery", self._discovery)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        """Stop listening."""
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def supervisor() -> AsyncIterator[FakeSupervisor]:
    """Run a fake Supervisor that refuses the first announcement (starting)."""
    fake = FakeSupervisor(refuse_first=1)
    await fake.start()
    yield fake
    await fake.stop()


async def test_gateway_announces_itself_and_the_token_opens_the_api(
    p1_server: P1TelegramServer,
    supervisor: FakeSupervisor,
    gateway_factory: Callable[..., GatewayProcess],
) -> None:
    """With SUPERVISOR_TOKEN the gateway posts host, port and token; retried once."""
    gateway = gateway_factory(
        household_document(p1_port=p1_server.port, ocpp_port=free_port())
    )
    await gateway.start(
        "--announce-host",
        "127.0.0.1",
        "--supervisor-url",
        supervisor.url,
        env={"SUPERVISOR_TOKEN": SUPERVISOR_TOKEN},
    )
    async with asyncio.timeout(30):
        await supervisor.arrived.wait()
    assert supervisor.refused == 1  # the first try was refused and retried
    assert supervisor.unauthorised == 0
    assert supervisor.messages == [
        {
            "service": "stroomwijs",
            "config": {
                "host": "127.0.0.1",
                "port": gateway.api_port,
                "token": gateway.token,
            },
        }
    ]
    async with asyncio.timeout(10):  # the log line follows the reply
        while "Announced the gateway to the Supervisor" not in gateway.log_text():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    # What was announced is enough for Home Assistant to use the API.
    config = supervisor.messages[0]["config"]
    url = f"ws://{config['host']}:{config['port']}/api/websocket"
    async with api_client(url, config["token"]) as client:
        pong = await client.request("ping")
    assert pong["result"]["pong"] is True
    assert await gateway.terminate() == 0


async def test_no_announcement_without_a_supervisor_token(
    p1_server: P1TelegramServer,
    supervisor: FakeSupervisor,
    gateway_factory: Callable[..., GatewayProcess],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Outside an add-on (no SUPERVISOR_TOKEN) nothing is posted anywhere."""
    monkeypatch.delenv("SUPERVISOR_TOKEN", raising=False)
    gateway = gateway_factory(
        household_document(p1_port=p1_server.port, ocpp_port=free_port())
    )
    await gateway.start("--supervisor-url", supervisor.url)
    async with api_client(gateway.url, gateway.token) as client:
        await client.request("subscribe")
        await client.snapshot_where(
            lambda m: m["gateway"]["state"] == "running", limit_s=30
        )
    assert supervisor.messages == []
    assert supervisor.refused == 0
    assert supervisor.unauthorised == 0
    assert "Supervisor" not in gateway.log_text()
    assert await gateway.terminate() == 0


async def test_announce_refused_and_unreachable(supervisor: FakeSupervisor) -> None:
    """A wrong Supervisor token and a closed port are errors, not crashes."""
    import aiohttp  # noqa: PLC0415

    wrong = Announcement(
        host="h",
        port=1,
        token="t",
        supervisor_token="wrong",
        supervisor_url=supervisor.url,
    )
    async with aiohttp.ClientSession() as session:
        with pytest.raises(DiscoveryError, match="401"):
            await async_announce(session, wrong)
        closed = Announcement(
            host="h",
            port=1,
            token="t",
            supervisor_token=SUPERVISOR_TOKEN,
            supervisor_url=f"http://127.0.0.1:{free_port()}",
        )
        with pytest.raises(DiscoveryError, match="cannot be reached"):
            await async_announce(session, closed)
    assert supervisor.unauthorised == 1
    # Retried until accepted (the fake refuses the first with 503).
    good = Announcement(
        host="h",
        port=1,
        token="t",
        supervisor_token=SUPERVISOR_TOKEN,
        supervisor_url=supervisor.url,
    )
    found = await async_announce_until_accepted(good, retry_first_s=0.05)
    assert found is not None
    assert supervisor.refused == 1
    assert supervisor.messages[-1]["config"] == {"host": "h", "port": 1, "token": "t"}
