"""A client of the gateway's WebSocket API (what Home Assistant runs).

:class:`GatewayClient` connects with the token, says ``hello`` with the
protocol versions it speaks, subscribes, and keeps the newest snapshot. It
reconnects by itself after a lost connection (1, 2, 4 ... 30 s), and after
a version skew only every 60 s (until the add-on or the integration is
updated). Requests return the ``result`` or raise :class:`GatewayError`
(the gateway refused: its ``code`` and message) or
:class:`GatewayUnavailable` (no connection, or no answer in time).

The client never decides anything about the household: while it is not
connected, the gateway goes on guarding on its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
import contextlib
from dataclasses import dataclass
import json
import logging
from typing import Any, Final

import aiohttp

from .protocol import (
    CLOSE_UNSUPPORTED_VERSION,
    SUPPORTED_VERSIONS,
    EntityCall,
    ProtocolError,
    encode,
    read_entity_call,
)

_LOGGER = logging.getLogger(__name__)

REQUEST_TIMEOUT_S: Final = 30.0
ENTITY_CALL_TIMEOUT_S: Final = 10.0
"""How long the host may take over a service call the gateway asked for."""
MAX_ENTITY_CALLS: Final = 64
RETRY_FIRST_S: Final = 1.0
RETRY_MAX_S: Final = 30.0
RETRY_SKEW_S: Final = 60.0
MAX_MESSAGE_BYTES: Final = 16 * 1024 * 1024
"""Snapshots carry a day of plan rows; this is far above any of them."""


class ConnectionState:
    """Where the client is (its ``state``)."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    VERSION_MISMATCH = "version_mismatch"
    AUTH_FAILED = "auth_failed"
    STOPPED = "stopped"


class GatewayError(Exception):
    """The gateway refused a request (``code`` as in docs/gateway.md)."""

    def __init__(
        self, code: str, message: str, details: Mapping[str, str] | None = None
    ) -> None:
        """Keep the gateway's code, message and details (if it sent any)."""
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details: dict[str, str] = dict(details or {})


class GatewayUnavailable(Exception):  # noqa: N818 - reads as a state
    """The gateway cannot be reached, or did not answer in time."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayAddress:
    """Where the gateway's API is, and its token."""

    host: str
    port: int
    token: str

    @property
    def url(self) -> str:
        """The WebSocket URL (IPv6 addresses in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}/api/websocket"


type SnapshotListener = Callable[[Mapping[str, Any]], None]
type EventListener = Callable[[str, Mapping[str, Any]], None]
type StateListener = Callable[[str], None]
type ConnectHook = Callable[["GatewayClient"], Awaitable[None]]
type EntityCallHandler = Callable[[EntityCall], Awaitable[None]]
"""Carries out a service call the gateway asks for; raises when it failed."""


class GatewayClient:
    """One connection to the gateway, kept up until :meth:`async_stop`."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        address: GatewayAddress,
        *,
        client_name: str,
        protocols: tuple[int, ...] = SUPPORTED_VERSIONS,
        on_connect: ConnectHook | None = None,
        on_entity_call: EntityCallHandler | None = None,
        retry_first_s: float = RETRY_FIRST_S,
        retry_max_s: float = RETRY_MAX_S,
        retry_skew_s: float = RETRY_SKEW_S,
    ) -> None:
        """Use ``session`` (the host's); ``on_connect`` runs after each hello."""
        self.session = session
        self.address = address
        self.client_name = client_name
        self.protocols = protocols
        self.on_connect = on_connect
        self.on_entity_call = on_entity_call
        """Set by an entity host (Home Assistant): the gateway's service calls."""
        self.retry_first_s = retry_first_s
        self.retry_max_s = retry_max_s
        self.retry_skew_s = retry_skew_s
        self.state = ConnectionState.CONNECTING
        self.error: str | None = None
        self.welcome: dict[str, Any] | None = None
        self.snapshot: dict[str, Any] | None = None
        self.connects = 0
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._task: asyncio.Task[None] | None = None
        self._snapshot_listeners: list[SnapshotListener] = []
        self._event_listeners: list[EventListener] = []
        self._state_listeners: list[StateListener] = []
        self._connected = asyncio.Event()
        self._first_try = asyncio.Event()
        self._calls: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------ listeners

    def add_snapshot_listener(self, listener: SnapshotListener) -> Callable[[], None]:
        """Call ``listener(snapshot)`` for every snapshot."""
        self._snapshot_listeners.append(listener)
        return lambda: self._snapshot_listeners.remove(listener)

    def add_event_listener(self, listener: EventListener) -> Callable[[], None]:
        """Call ``listener(event, data)`` for every pushed event."""
        self._event_listeners.append(listener)
        return lambda: self._event_listeners.remove(listener)

    def add_state_listener(self, listener: StateListener) -> Callable[[], None]:
        """Call ``listener(state)`` when the connection's state changes."""
        self._state_listeners.append(listener)
        return lambda: self._state_listeners.remove(listener)

    def _set_state(self, state: str, error: str | None = None) -> None:
        changed = state != self.state or error != self.error
        self.state, self.error = state, error
        if not changed:
            return
        for listener in tuple(self._state_listeners):
            try:
                listener(state)
            except Exception:
                _LOGGER.exception("gateway state listener failed")

    @property
    def connected(self) -> bool:
        """Whether the API answers now."""
        return self.state == ConnectionState.CONNECTED

    @property
    def features(self) -> frozenset[str]:
        """What the gateway said it can do beyond protocol 1 (its ``welcome``)."""
        features = (self.welcome or {}).get("features")
        if not isinstance(features, list):
            return frozenset()
        return frozenset(f for f in features if isinstance(f, str))

    # ------------------------------------------------------------ running

    def start(self) -> None:
        """Connect in the background, and again after every loss."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="stroomwijs gateway client"
            )

    async def async_wait_first_try(self, limit_s: float) -> str:
        """Wait until the first connection attempt ended; return the state."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(limit_s):
                await self._first_try.wait()
        return self.state

    async def async_stop(self) -> None:
        """Close the connection and stop reconnecting."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        ws, self._ws = self._ws, None
        if ws is not None and not ws.closed:
            await ws.close()
        self._fail_pending()
        for call in list(self._calls):
            call.cancel()
        self._set_state(ConnectionState.STOPPED)

    async def _run(self) -> None:
        delay = self.retry_first_s
        while True:
            pause = delay
            try:
                await self._connect_once()
            except _VersionSkewError as err:
                self._set_state(ConnectionState.VERSION_MISMATCH, str(err))
                pause = self.retry_skew_s
            except _AuthError as err:
                self._set_state(ConnectionState.AUTH_FAILED, str(err))
                pause = self.retry_skew_s
            except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as err:
                self._set_state(
                    ConnectionState.DISCONNECTED, f"{type(err).__name__}: {err}"
                )
            except GatewayError as err:
                self._set_state(ConnectionState.DISCONNECTED, str(err))
            except Exception as err:  # a bug (in on_connect): keep trying
                _LOGGER.exception("The gateway connection failed")
                self._set_state(
                    ConnectionState.DISCONNECTED, f"{type(err).__name__}: {err}"
                )
            else:
                # A connection that was up and ended: try again soon.
                self._set_state(ConnectionState.DISCONNECTED, "the connection closed")
                delay = self.retry_first_s
                pause = delay
            finally:
                self._connected.clear()
                ws, self._ws = self._ws, None
                if ws is not None and not ws.closed:
                    with contextlib.suppress(Exception):
                        await ws.close()
                self._fail_pending()
                self._first_try.set()
            _LOGGER.debug(
                "Gateway %s: %s (%s); again in %.0f s",
                self.address.url,
                self.state,
                self.error,
                pause,
            )
            await asyncio.sleep(pause)
            delay = min(delay * 2, self.retry_max_s)

    async def _connect_once(self) -> None:
        try:
            ws = await self.session.ws_connect(
                self.address.url,
                headers={"Authorization": f"Bearer {self.address.token}"},
                heartbeat=30.0,
                max_msg_size=MAX_MESSAGE_BYTES,
                timeout=aiohttp.ClientWSTimeout(ws_close=5.0),
            )
        except aiohttp.WSServerHandshakeError as err:
            if err.status == 401:  # noqa: PLR2004
                msg = "the gateway refused the token"
                raise _AuthError(msg) from err
            raise
        self._ws = ws
        # The last connection's snapshot is not this gateway's now (it may
        # have restarted, with other values): nothing is shown until the
        # new connection's first snapshot (kept while disconnected, for
        # diagnostics).
        self.snapshot = None
        reader = asyncio.get_running_loop().create_task(self._read(ws))
        try:
            welcome = await self.async_request(
                "hello",
                _ready=False,
                protocols=list(self.protocols),
                client=self.client_name,
            )
            self.welcome = welcome
            self.connects += 1
            await self.async_request("subscribe", _ready=False)
            if self.on_connect is not None:
                await self.on_connect(self)
            self._connected.set()
            self._set_state(ConnectionState.CONNECTED)
            self._first_try.set()
            await reader
        except GatewayError as err:
            if err.code == "unsupported_version":
                raise _VersionSkewError(err.message) from err
            raise
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        if ws.close_code == CLOSE_UNSUPPORTED_VERSION:
            msg = "the gateway closed the connection: unsupported protocol version"
            raise _VersionSkewError(msg)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            try:
                data = json.loads(message.data)
            except ValueError:
                _LOGGER.warning("The gateway sent text that is not JSON")
                continue
            if isinstance(data, dict):
                self._on_message(data)
        self._fail_pending()

    def _on_message(self, data: dict[str, Any]) -> None:  # noqa: C901
        kind = data.get("type")
        if kind in {"result", "welcome", "error"}:
            ident = data.get("id")
            future = self._pending.pop(ident, None) if isinstance(ident, int) else None
            if future is None or future.done():
                if kind == "error":
                    _LOGGER.warning("The gateway reported: %s", data.get("message"))
                return
            if kind == "error":
                details = data.get("details")
                future.set_exception(
                    GatewayError(
                        str(data.get("code")),
                        str(data.get("message")),
                        {str(k)[:40]: str(v)[:200] for k, v in details.items()}
                        if isinstance(details, Mapping)
                        else None,
                    )
                )
            else:
                future.set_result(data if kind == "welcome" else data.get("result"))
        elif kind == "snapshot":
            self.snapshot = data
            for listener in tuple(self._snapshot_listeners):
                try:
                    listener(data)
                except Exception:
                    _LOGGER.exception("gateway snapshot listener failed")
        elif kind == "entity_call":
            self._entity_call(data)
        elif kind == "event":
            event = str(data.get("event"))
            payload = data.get("data")
            payload = payload if isinstance(payload, dict) else {}
            for on_event in tuple(self._event_listeners):
                try:
                    on_event(event, payload)
                except Exception:
                    _LOGGER.exception("gateway event listener failed")

    def _entity_call(self, data: Mapping[str, Any]) -> None:
        """Carry out a service call the gateway asks for, and answer it."""
        try:
            call = read_entity_call(data)
        except ProtocolError as err:
            _LOGGER.warning("The gateway asked for a call it may not: %s", err.message)
            call_id = data.get("call_id")
            if isinstance(call_id, str) and 0 < len(call_id) <= 64:  # noqa: PLR2004
                self._answer(call_id, f"refused: {err.message}")
            return
        handler = self.on_entity_call
        if handler is None:
            self._answer(call.call_id, "this client does not carry out calls")
            return
        if len(self._calls) >= MAX_ENTITY_CALLS:
            self._answer(call.call_id, "too many calls at once")
            return
        task = asyncio.get_running_loop().create_task(self._run_call(handler, call))
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)

    async def _run_call(self, handler: EntityCallHandler, call: EntityCall) -> None:
        error: str | None = None
        try:
            async with asyncio.timeout(ENTITY_CALL_TIMEOUT_S):
                await handler(call)
        except TimeoutError:
            error = f"not done within {ENTITY_CALL_TIMEOUT_S:g} s"
        except Exception as err:  # noqa: BLE001 - the gateway hears why
            error = str(err)[:200] or type(err).__name__
        await self._async_answer(call.call_id, error)

    def _answer(self, call_id: str, error: str | None) -> None:
        task = asyncio.get_running_loop().create_task(
            self._async_answer(call_id, error)
        )
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)

    async def _async_answer(self, call_id: str, error: str | None) -> None:
        try:
            await self.async_request(
                "entity_call_result", _ready=False, call_id=call_id, error=error
            )
        except (GatewayError, GatewayUnavailable) as err:
            _LOGGER.debug("The answer to call %s was not taken: %s", call_id, err)

    def _fail_pending(self) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(GatewayUnavailable("the connection closed"))

    async def async_request(
        self,
        kind: str,
        *,
        _ready: bool = True,
        limit_s: float = REQUEST_TIMEOUT_S,
        **fields: Any,  # noqa: ANN401 - JSON fields
    ) -> Any:  # noqa: ANN401 - the request's result (JSON)
        """Send a request; return its result (raises on refusal or no answer)."""
        ws = self._ws
        if ws is None or ws.closed or (_ready and not self.connected):
            msg = f"not connected to the gateway ({self.state})"
            raise GatewayUnavailable(msg)
        self._next_id += 1
        ident = self._next_id
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        try:
            await ws.send_str(encode({"id": ident, "type": kind, **fields}))
            async with asyncio.timeout(limit_s):
                return await future
        except TimeoutError as err:
            msg = f"the gateway did not answer {kind} in {limit_s:.0f} s"
            raise GatewayUnavailable(msg) from err
        except (ConnectionError, aiohttp.ClientError, RuntimeError) as err:
            raise GatewayUnavailable(str(err)) from err
        finally:
            self._pending.pop(ident, None)


class VersionSkewError(Exception):
    """No common protocol version, or a feature the household needs is missing.

    An ``on_connect`` hook raises it when the gateway cannot run what it
    would be sent (the client then waits as after a version skew).
    """


_VersionSkewError = VersionSkewError


class _AuthError(Exception):
    """The token was refused."""
