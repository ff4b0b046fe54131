"""The gateway as a separate process, a P1 telegram server and API clients."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
import json
import os
from pathlib import Path
import signal
import socket
import sys
from typing import Any

import aiohttp
import pytest
import yaml

from custom_components.stroomwijs.engine.simulate.p1 import (
    P1TelegramServer,
    TelegramValuesIn,
    build_telegram,
)

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 60.0


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets; every server here binds 127.0.0.1."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def household_document(
    *, p1_port: int | None, ocpp_port: int, name: str = "Gateway test"
) -> dict[str, Any]:
    """Return a household: 3x25 A, a P1 meter on the network, one OCPP 2.1 car."""
    meter: dict[str, Any] = {"source": "none"}
    if p1_port is not None:
        meter = {
            "source": "network",
            "host": "127.0.0.1",
            "tcp_port": p1_port,
            "dsmr_version": "5",
        }
    return {
        "version": 1,
        "name": name,
        "time_zone": "Europe/Amsterdam",
        "grid": {"phases": 3, "fuse_a": 25},
        "meter": meter,
        "devices": [
            {
                "id": "car",
                "kind": "ocpp_charger",
                "name": "Car",
                "charger_id": "ev1",
                "capacity_kwh": 60,
            }
        ],
        "ocpp": {"enabled": True, "host": "127.0.0.1", "port": ocpp_port},
        "optimiser": {"horizon_hours": 24, "time_limit_s": 5},
    }


def house_telegram(import_w: float) -> bytes:
    """Return a DSMR 5 telegram of now, with ``import_w`` spread over three phases."""
    per_phase = import_w / 3
    return build_telegram(
        TelegramValuesIn(
            timestamp=datetime.now(UTC),
            import_w=import_w,
            phase_import_w=(per_phase, per_phase, per_phase),
            phase_currents_a=tuple(round(per_phase / 230) for _ in range(3)),
            import_t1_kwh=1234.5,
            import_t2_kwh=2345.6,
        )
    )


@pytest.fixture
async def p1_server() -> AsyncIterator[P1TelegramServer]:
    """Serve a P1 dongle on loopback: 1.5 kW of house load, a telegram a second."""
    server = P1TelegramServer(lambda _index: house_telegram(1500.0), interval=1.0)
    await server.start()
    yield server
    await server.stop()


@dataclass(slots=True)
class GatewayProcess:
    """One ``stroomwijs gateway`` process."""

    config: Path
    state_dir: Path
    log: Path
    api_port: int = 0
    status_port: int | None = None
    """The status page's port, when started with ``--ingress-port``."""
    process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        """The API's WebSocket URL."""
        return f"ws://127.0.0.1:{self.api_port}/api/websocket"

    @property
    def token(self) -> str:
        """This install's API token."""
        return (self.state_dir / "api_token").read_text(encoding="ascii").strip()

    async def start(self, *extra: str, env: dict[str, str] | None = None) -> None:
        """Start the process and wait until its API listens (``env``: added)."""
        env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "custom_components.stroomwijs.engine.cli",
                "gateway",
                "--config",
                str(self.config),
                "--state-dir",
                str(self.state_dir),
                "--api-port",
                str(self.api_port),
                *extra,
                cwd=ROOT,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
        assert self.process.stdout is not None
        async with asyncio.timeout(STARTUP_TIMEOUT_S):
            line = (await self.process.stdout.readline()).decode()
        assert "API on" in line, self.log.read_text(encoding="utf-8")[-2000:]
        self.api_port = int(line.rsplit(":", 1)[1])
        if "--ingress-port" in extra:
            async with asyncio.timeout(STARTUP_TIMEOUT_S):
                line = (await self.process.stdout.readline()).decode()
            assert "status page on" in line, line
            self.status_port = int(line.rsplit(":", 1)[1])

    @property
    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.process is not None and self.process.returncode is None

    async def terminate(self) -> int:
        """SIGTERM and wait; returns the exit code."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            return await self.process.wait()

    async def kill(self) -> None:
        """Kill -9: no chance to save anything."""
        assert self.process is not None
        self.process.kill()
        await self.process.wait()
        assert self.process.returncode == -signal.SIGKILL

    def log_text(self) -> str:
        """Return what the process logged."""
        return self.log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture
async def gateway_factory(
    tmp_path: Path,
) -> AsyncIterator[Callable[..., GatewayProcess]]:
    """Make gateway processes; each is stopped after the test."""
    made: list[GatewayProcess] = []

    def _make(document: dict[str, Any], *, name: str = "gw") -> GatewayProcess:
        folder = tmp_path / name
        folder.mkdir(exist_ok=True)
        config = folder / "household.yaml"
        config.write_text(yaml.safe_dump(document), encoding="utf-8")
        process = GatewayProcess(
            config=config, state_dir=folder / "state", log=folder / "gateway.log"
        )
        made.append(process)
        return process

    yield _make
    for process in made:
        if process.alive:
            with contextlib.suppress(Exception):
                await process.terminate()


@dataclass(slots=True)
class ApiClient:
    """A WebSocket client of the gateway's API."""

    ws: aiohttp.ClientWebSocketResponse
    messages: list[dict[str, Any]] = field(default_factory=list)
    _next: int = 0
    _reader: asyncio.Task[None] | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def start(self) -> None:
        """Read every message into ``messages``."""
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                self.messages.append(json.loads(message.data))
                self._arrived.set()

    async def send(self, message: dict[str, Any]) -> None:
        """Send a message as it is."""
        await self.ws.send_str(json.dumps(message))

    async def request(
        self, kind: str, limit_s: float = 20.0, **fields: object
    ) -> dict[str, Any]:
        """Send a request and return its ``result`` or ``error`` reply."""
        self._next += 1
        ident = self._next
        await self.send({"v": 1, "id": ident, "type": kind, **fields})
        return await self.wait_for(
            lambda m: (
                m.get("id") == ident and m["type"] in {"result", "error", "welcome"}
            ),
            limit_s,
        )

    async def wait_for(
        self,
        match: Callable[[dict[str, Any]], bool],
        limit_s: float = 20.0,
        *,
        since: int = 0,
    ) -> dict[str, Any]:
        """Wait for a message (from index ``since`` on, or still to come)."""
        seen = since
        async with asyncio.timeout(limit_s):
            while True:
                for message in self.messages[seen:]:
                    if match(message):
                        return message
                seen = len(self.messages)
                self._arrived.clear()
                await self._arrived.wait()

    async def snapshot_where(
        self, check: Callable[[dict[str, Any]], bool], limit_s: float = 30.0
    ) -> dict[str, Any]:
        """Wait for a pushed snapshot that passes ``check``."""
        return await self.wait_for(
            lambda m: (
                m["type"] == "snapshot" and m.get("household") is not None and check(m)
            ),
            limit_s,
        )

    async def close(self) -> None:
        """Close the socket."""
        await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader


@contextlib.asynccontextmanager
async def api_client(
    url: str, token: str, protocols: Sequence[int] = (1,)
) -> AsyncIterator[ApiClient]:
    """Connect with ``token``, say hello, and yield the client."""
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(
            url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=aiohttp.ClientWSTimeout(ws_close=5),
        )
        client = ApiClient(ws)
        client.start()
        welcome = await client.request("hello", protocols=list(protocols))
        assert welcome["type"] == "welcome", welcome
        try:
            yield client
        finally:
            await client.close()
