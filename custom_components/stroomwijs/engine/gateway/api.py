"""The gateway's authenticated local WebSocket API (aiohttp).

``GET /api/websocket`` with ``Authorization: Bearer <token>`` upgrades to a
WebSocket; without the right token the answer is HTTP 401 before any
upgrade, so nothing about the household is ever sent to an unauthenticated
peer. The token is compared in constant time.

On the socket the client first says ``hello`` (with the protocol versions
it speaks); the gateway answers ``welcome``. Then it sends commands and
gets a ``result`` or an ``error`` for each; after ``subscribe`` it gets a
``snapshot`` at once, a new one at most every ``snapshot_interval_s`` while
something changes, and every household event as an ``event``. Messages over
:data:`MAX_MESSAGE_BYTES` close the connection (1009); malformed ones get an
``error`` and the connection stays. A client that does not keep up with its
pushes is disconnected (1013) rather than slowing the gateway.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
import contextlib
from dataclasses import dataclass, field
import logging
from typing import Any, Final

from aiohttp import WSCloseCode, WSMsgType, web

from .auth import bearer, token_matches
from .entities import NotEntityHostError
from .protocol import (
    CLOSE_HELLO_TIMEOUT,
    CLOSE_UNSUPPORTED_VERSION,
    FEATURES,
    MAX_MESSAGE_BYTES,
    PROTOCOL_VERSION,
    SUPPORTED_VERSIONS,
    ProtocolError,
    Request,
    encode,
    message_id,
    negotiate,
    parse,
)
from .service import Gateway

_LOGGER = logging.getLogger(__name__)

WEBSOCKET_PATH: Final = "/api/websocket"
HELLO_TIMEOUT_S: Final = 10.0
QUEUE_SIZE: Final = 256
"""Pushes waiting for one client; more and the client is dropped."""
MAX_CLIENTS: Final = 16
COMMAND_QUEUE: Final = 64
"""Commands of one client waiting for the one before; more are refused."""
ENTITY_HOST_MESSAGES: Final = frozenset({"entity_states", "entity_call_result"})
"""Handled as they come, never behind a command: a command may wait for a
service call whose answer is one of them."""
LARGE_MESSAGE: Final = 65_536
CLOSE_TRY_AGAIN_LATER: Final = 1013


def gateway_version() -> str:
    """Return the installed engine's version."""
    from importlib import metadata  # noqa: PLC0415

    try:
        return metadata.version("stroomwijs")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass(slots=True, eq=False)
class _Client:
    ws: web.WebSocketResponse
    peer: str
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    protocol: int | None = None
    subscribed: bool = False
    api: GatewayApi | None = None
    commands: asyncio.Queue[Request] = field(
        default_factory=lambda: asyncio.Queue(COMMAND_QUEUE)
    )
    """Commands waiting for the client's worker (one at a time, in order)."""

    def send_call(self, call: Mapping[str, Any]) -> bool:
        """Push an ``entity_call`` to this client (it is the entity host)."""
        if self.api is None or self.ws.closed:
            return False
        self.api._enqueue(self, encode({"type": "entity_call", **call}))  # noqa: SLF001
        return not self.ws.closed


class GatewayApi:
    """Serves the WebSocket API of one gateway."""

    def __init__(
        self,
        gateway: Gateway,
        token: str,
        *,
        host: str,
        port: int,
        snapshot_interval_s: float = 1.0,
        hello_timeout_s: float = HELLO_TIMEOUT_S,
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        """Serve ``gateway`` on ``host``:``port`` to clients with ``token``."""
        self.gateway = gateway
        self._token = token
        self.host = host
        self.port = port
        self.snapshot_interval_s = snapshot_interval_s
        self.hello_timeout_s = hello_timeout_s
        self.queue_size = queue_size
        self.clients: set[_Client] = set()
        self.refused = 0
        self._runner: web.AppRunner | None = None
        self._dirty = asyncio.Event()
        self._pusher: asyncio.Task[None] | None = None
        self._unsub = gateway.add_listener(self._on_gateway)

    # ------------------------------------------------------------ lifecycle

    async def async_start(self) -> None:
        """Listen (raises OSError when the port is taken)."""
        app = web.Application(client_max_size=MAX_MESSAGE_BYTES)
        app.router.add_get(WEBSOCKET_PATH, self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        server = site._server  # noqa: SLF001 - the bound port, for port 0
        if server is not None and getattr(server, "sockets", None):
            self.port = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
        self._pusher = asyncio.get_running_loop().create_task(self._push_loop())
        _LOGGER.info(
            "Gateway API on ws://%s:%s%s", self.host, self.port, WEBSOCKET_PATH
        )

    async def async_stop(self) -> None:
        """Close every client and stop listening."""
        self._unsub()
        if self._pusher is not None:
            self._pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pusher
        for client in list(self.clients):
            with contextlib.suppress(Exception):
                await client.ws.close(
                    code=WSCloseCode.GOING_AWAY, message=b"gateway stopping"
                )
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------ pushes

    def _on_gateway(self, kind: str, data: Any) -> None:  # noqa: ANN401
        if kind == "changed":
            self._dirty.set()
            return
        text = encode({"type": "event", **data})
        for client in list(self.clients):
            if client.subscribed:
                self._enqueue(client, text)
        self._dirty.set()

    def _enqueue(self, client: _Client, text: str) -> None:
        try:
            client.queue.put_nowait(text)
        except asyncio.QueueFull:
            _LOGGER.warning("API client %s does not keep up; dropped", client.peer)
            client.subscribed = False
            asyncio.get_running_loop().create_task(
                client.ws.close(code=CLOSE_TRY_AGAIN_LATER, message=b"too slow")
            )

    async def _push_loop(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            subscribers = [c for c in self.clients if c.subscribed]
            if subscribers:
                try:
                    text = encode({"type": "snapshot", **self.gateway.snapshot()})
                except Exception:
                    _LOGGER.exception("snapshot failed")
                else:
                    for client in subscribers:
                        self._enqueue(client, text)
            await asyncio.sleep(self.snapshot_interval_s)

    # ------------------------------------------------------------ connections

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        presented = bearer(request.headers.get("Authorization"))
        if not token_matches(self._token, presented):
            self.refused += 1
            _LOGGER.warning("API connection from %s refused: bad token", request.remote)
            raise web.HTTPUnauthorized(
                text="unauthorized", headers={"WWW-Authenticate": "Bearer"}
            )
        if len(self.clients) >= MAX_CLIENTS:
            raise web.HTTPServiceUnavailable(text="too many clients")
        ws = web.WebSocketResponse(
            max_msg_size=MAX_MESSAGE_BYTES, heartbeat=30.0, compress=False
        )
        await ws.prepare(request)
        client = _Client(
            ws=ws,
            peer=str(request.remote),
            queue=asyncio.Queue(self.queue_size),
            api=self,
        )
        self.clients.add(client)
        writer = asyncio.get_running_loop().create_task(self._write(client))
        worker = asyncio.get_running_loop().create_task(self._work(client))
        hello_timer = asyncio.get_running_loop().call_later(
            self.hello_timeout_s, self._hello_timeout, client
        )
        try:
            await self._read(client)
        finally:
            hello_timer.cancel()
            self.clients.discard(client)
            # Home Assistant's entities go with the client that spoke for them.
            self.gateway.entities.host_gone(client)
            writer.cancel()
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            with contextlib.suppress(asyncio.CancelledError):
                await worker
            if not ws.closed:
                await ws.close()
        return ws

    def _hello_timeout(self, client: _Client) -> None:
        if client.protocol is None and not client.ws.closed:
            asyncio.get_running_loop().create_task(
                client.ws.close(code=CLOSE_HELLO_TIMEOUT, message=b"no hello")
            )

    async def _write(self, client: _Client) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            while True:
                text = await client.queue.get()
                await client.ws.send_str(text)

    async def _read(self, client: _Client) -> None:
        async for message in client.ws:
            if message.type == WSMsgType.TEXT:
                if not await self._on_text(client, message.data):
                    return
            elif message.type == WSMsgType.BINARY:
                self._reply_error(
                    client, None, ProtocolError("invalid_message", "send JSON text")
                )
            elif message.type == WSMsgType.ERROR:
                _LOGGER.info(
                    "API client %s closed: %s", client.peer, client.ws.exception()
                )
                return

    def _reply(self, client: _Client, message: dict[str, Any]) -> None:
        try:
            text = encode(message)
        except (TypeError, ValueError) as err:
            _LOGGER.exception("reply could not be encoded")
            text = encode(
                {
                    "type": "error",
                    "id": message.get("id"),
                    "code": "internal_error",
                    "message": str(err),
                }
            )
        self._enqueue(client, text)

    def _reply_error(
        self, client: _Client, request_id: str | int | None, err: ProtocolError
    ) -> None:
        reply: dict[str, Any] = {
            "type": "error",
            "id": request_id,
            "code": err.code,
            "message": err.message,
        }
        if err.details:
            reply["details"] = err.details
        self._reply(client, reply)

    async def _on_text(self, client: _Client, text: str) -> bool:
        """Handle one message; False when the connection must close."""
        try:
            # A large message (a config push) is checked off the event loop:
            # parsing 1 MiB takes tens of milliseconds.
            request = (
                await asyncio.to_thread(parse, text)
                if len(text) > LARGE_MESSAGE
                else parse(text)
            )
        except ProtocolError as err:
            self._reply_error(client, _id_of(text, err), err)
            if err.code == "unsupported_version" and client.protocol is None:
                await self._close_unsupported(client)
                return False
            return True
        if request.type == "hello":
            return await self._hello(client, request)
        if client.protocol is None:
            self._reply_error(
                client,
                request.id,
                ProtocolError("hello_required", "say hello first"),
            )
            return True
        if request.type in ENTITY_HOST_MESSAGES:
            await self._run(client, request)
            return True
        try:
            client.commands.put_nowait(request)
        except asyncio.QueueFull:
            self._reply_error(
                client,
                request.id,
                ProtocolError("busy", "too many commands wait; send fewer at once"),
            )
        return True

    async def _work(self, client: _Client) -> None:
        """Carry out one client's commands one after the other, in order."""
        while True:
            request = await client.commands.get()
            await self._run(client, request)

    async def _run(self, client: _Client, request: Request) -> None:
        try:
            result = await self._dispatch(client, request)
        except ProtocolError as err:
            self._reply_error(client, request.id, err)
        except Exception as err:
            _LOGGER.exception("API command %s failed", request.type)
            self._reply_error(
                client,
                request.id,
                ProtocolError("internal_error", f"{type(err).__name__}: {err}"),
            )
        else:
            self._reply(client, {"type": "result", "id": request.id, "result": result})

    async def _close_unsupported(self, client: _Client) -> None:
        # Let the writer send the error first (bounded: a stuck peer waits 1 s).
        for _ in range(100):
            if client.queue.empty():
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        await client.ws.close(
            code=CLOSE_UNSUPPORTED_VERSION, message=b"unsupported protocol version"
        )

    async def _hello(self, client: _Client, request: Request) -> bool:
        try:
            client.protocol = negotiate(request.fields["protocols"])
        except ProtocolError as err:
            self._reply_error(client, request.id, err)
            await self._close_unsupported(client)
            return False
        self._reply(
            client,
            {
                "type": "welcome",
                "id": request.id,
                "protocol": client.protocol,
                "protocols": list(SUPPORTED_VERSIONS),
                "features": list(FEATURES),
                "gateway_version": gateway_version(),
                "gateway": self.gateway.status(),
            },
        )
        return True

    async def _dispatch(self, client: _Client, request: Request) -> Any:  # noqa: ANN401
        if request.type == "ping":
            return {"pong": True, "protocol": PROTOCOL_VERSION}
        if request.type == "subscribe":
            client.subscribed = True
            self._dirty.set()
            return {"subscribed": True}
        if request.type == "unsubscribe":
            client.subscribed = False
            return {"subscribed": False}
        if request.type in {"entity_states", "entity_call_result"}:
            return self._entity_host(client, request)
        return await self.gateway.async_command(request)

    def _entity_host(self, client: _Client, request: Request) -> Any:  # noqa: ANN401
        """Home Assistant's entity states, and its answers to service calls."""
        port = self.gateway.entities
        fields = request.fields
        try:
            if request.type == "entity_states":
                kept = port.host_states(client, fields["states"], full=fields["full"])
                return {"entities": kept, "used": sorted(port.used)}
            answered = port.call_result(client, fields["call_id"], fields.get("error"))
        except NotEntityHostError as err:
            raise ProtocolError("not_entity_host", str(err)) from None
        except ValueError as err:
            raise ProtocolError("invalid_value", str(err)) from None
        if not answered:
            msg = "no call waits for that call_id (it timed out or was answered)"
            raise ProtocolError("unknown_call", msg)
        return {"call_id": fields["call_id"]}


def _id_of(text: str, err: ProtocolError) -> str | int | None:
    """Return the id of a refused message, when it can be read safely."""
    if err.code in {"too_deep", "too_large", "invalid_json"}:
        return None
    import json  # noqa: PLC0415

    try:
        return message_id(json.loads(text))
    except ValueError, RecursionError:
        return None
