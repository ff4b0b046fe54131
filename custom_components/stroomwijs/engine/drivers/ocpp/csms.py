"""The OCPP central system (CSMS): a websocket server for home chargers.

Served with aiohttp's web server. Home Assistant already ships and tunes
aiohttp, the add-on gateway can share one server for OCPP and its API, and
aiohttp lets us look at the HTTP upgrade request (path, Basic credentials,
subprotocols) and refuse it with a plain 401/404 before any websocket
exists. A small adapter gives the ``ocpp`` library the ``recv()``/``send()``
it expects.

Chargers connect to ``ws://HOST:PORT/<path>/<charger id>`` (``wss://`` with
TLS). Security:

* Unknown charger ids never get control. They are reported through the
  ``on_new_charger`` callback (the HA glue turns that into a discovery flow)
  and kept ``Pending``: they may boot, beat and report status, nothing else.
* Security profile 1: a charger configured with a password must present it
  with HTTP Basic auth (user name = charger id); ``require_auth`` refuses
  every charger without a password.
* Security profile 2: pass an ``ssl.SSLContext`` with the user's certificate.
"""

# The ocpp library is untyped and OCPP payloads are free-form JSON.
# ruff: noqa: ANN401

from __future__ import annotations

import asyncio
import base64
import binascii
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field, replace
import hmac
import importlib
import logging
import ssl
import sys
import time
from typing import Any, cast
from urllib.parse import unquote

from aiohttp import WSMsgType, web
from ocpp.exceptions import FormatViolationError

from .charger import ChargerConfig, OcppCharger
from .common import (
    SUBPROTOCOLS,
    ConnectionClosedError,
    LogThrottle,
    error_frame,
    guess_unique_id,
)
from .session import BaseSession, PendingCharger, SessionOptions

_LOGGER = logging.getLogger(__name__)

SESSION_MODULES: Mapping[str, tuple[str, str]] = {
    "ocpp2.1": ("v21", "V21Session"),
    "ocpp2.0.1": ("v201", "V201Session"),
    "ocpp1.6": ("v16", "V16Session"),
}
"""Each version's session, imported when a charger first speaks it: the
``ocpp`` library's message classes take 1-4 MB per version."""
MAX_FRAME_BYTES = 256 * 1024
REFUSAL_LOG_INTERVAL_S = 60.0
MAX_REPORTED_IDS = 1024


def session_class(protocol: str) -> type[BaseSession]:
    """Return the session class for an OCPP subprotocol (imports it; blocking)."""
    module_name, class_name = SESSION_MODULES[protocol]
    module = importlib.import_module(f"{__package__}.{module_name}")
    return cast("type[BaseSession]", getattr(module, class_name))


async def async_session_class(protocol: str) -> type[BaseSession]:
    """Return the session class, importing it in an executor the first time."""
    module_name, _ = SESSION_MODULES[protocol]
    if f"{__package__}.{module_name}" in sys.modules:
        return session_class(protocol)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, session_class, protocol)


@dataclass(frozen=True, slots=True, kw_only=True)
class CsmsConfig:
    """Where and how the central system listens."""

    host: str = "127.0.0.1"
    port: int = 9000
    """0 picks a free port (see ``CentralSystem.port``)."""
    path: str = "/ocpp"
    ssl_context: ssl.SSLContext | None = None
    require_auth: bool = False
    session: SessionOptions = field(default_factory=SessionOptions)
    websocket_heartbeat_s: float | None = 30.0
    """Websocket ping interval; a missing pong (after half of it) drops a dead
    link that never sent a FIN. None turns pings off."""
    max_pending: int = 16
    """At most this many unknown charger ids wait for the user at once."""
    new_ids_per_minute: float = 6.0
    """Rate (and burst) at which unknown charger ids are admitted."""
    pending_idle_s: float = 600.0
    """A waiting unknown id that has been gone this long gives up its place
    when a new one needs it (it is not reported again should it return)."""

    def __post_init__(self) -> None:
        """Reject settings no server can use."""
        if self.max_pending < 1 or self.new_ids_per_minute <= 0:
            raise ValueError("at least one unknown charger must be admissible")
        if not 0 <= self.port <= 65535:  # noqa: PLR2004
            msg = f"port {self.port} is outside 0..65535"
            raise ValueError(msg)
        if not self.path.startswith("/"):
            raise ValueError("path must start with /")


class _WebSocketConnection:
    """``recv``/``send`` over an aiohttp websocket, for the ``ocpp`` library."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        charger_id: str,
        transport: asyncio.Transport | None,
    ) -> None:
        self._ws = ws
        self._charger_id = charger_id
        self._transport = transport
        self._pong = asyncio.Event()
        self.on_frame: Callable[[], None] | None = None
        """Called for every frame that arrives, text or not."""
        self.log_throttle = LogThrottle()

    async def keepalive(self, interval_s: float) -> None:
        """Ping every ``interval_s``; drop the link when no pong comes in half.

        Our own loop rather than aiohttp's ``heartbeat``: it belongs to the
        connection's handler, so it ends with it, and a dead peer is cut off
        at once (no close handshake with a peer that cannot answer).
        """
        while not self._ws.closed:
            await asyncio.sleep(interval_s)
            self._pong.clear()
            try:
                await self._ws.ping()
            except Exception:  # noqa: BLE001 - the link is going anyway
                return
            try:
                async with asyncio.timeout(interval_s / 2):
                    await self._pong.wait()
            except TimeoutError:
                _LOGGER.info(
                    "%s: no pong within %g s; dropping the dead link",
                    self._charger_id,
                    interval_s / 2,
                )
                if self._transport is not None:
                    self._transport.abort()
                else:
                    await self._ws.close()
                return

    async def recv(self) -> str:
        while True:
            msg = await self._ws.receive()
            if msg.type is WSMsgType.PING:
                await self._ws.pong(msg.data)
                continue
            if msg.type is WSMsgType.PONG:
                self._pong.set()
                continue
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY) and self.on_frame:
                self.on_frame()
            if msg.type is WSMsgType.TEXT:
                return cast("str", msg.data)
            if msg.type is WSMsgType.BINARY:
                # OCPP-J is text only: answer FormatViolation, never route it.
                raw = bytes(msg.data).decode("utf-8", errors="replace")
                self.log_throttle.refusal(
                    "binary",
                    "%s: binary frame of %d bytes refused",
                    self._charger_id,
                    len(msg.data),
                )
                await self.send(
                    error_frame(
                        guess_unique_id(raw),
                        FormatViolationError(
                            details={"cause": "OCPP-J frames must be text"}
                        ),
                    )
                )
                continue
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                raise ConnectionClosedError
            if msg.type is WSMsgType.ERROR:
                raise ConnectionClosedError from self._ws.exception()

    async def send(self, message: str) -> None:
        if self._ws.closed:
            raise ConnectionClosedError
        try:
            await self._ws.send_str(message)
        except ConnectionError as err:
            raise ConnectionClosedError from err

    async def close(self) -> None:
        await self._ws.close()


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except binascii.Error, UnicodeDecodeError:
        return None
    user, sep, password = decoded.partition(":")
    if not sep:
        return None
    return user, password


class CentralSystem:
    """The OCPP server and the chargers it knows."""

    def __init__(
        self,
        config: CsmsConfig,
        *,
        chargers: Iterable[ChargerConfig] = (),
        on_new_charger: Callable[[PendingCharger], None] | None = None,
    ) -> None:
        """Set up; nothing listens until ``async_start``."""
        self.config = config
        self._chargers: dict[str, OcppCharger] = {}
        self._pending: dict[str, PendingCharger] = {}
        self._pending_sessions: dict[str, BaseSession] = {}
        self._on_new_charger = on_new_charger
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._port: int | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self._reported: OrderedDict[str, None] = OrderedDict()
        """Ids reported to the callback (most recent last), bounded."""
        self._pending_seen: dict[str, float] = {}
        self._log_throttle = LogThrottle()
        self._id_tokens = config.new_ids_per_minute
        self._id_tokens_at = time.monotonic()
        self._refused_ids = 0
        self._refusal_logged_at: float | None = None
        for charger_config in chargers:
            self.add_charger(charger_config)

    # -- chargers --------------------------------------------------------------------
    @property
    def chargers(self) -> Mapping[str, OcppCharger]:
        """Accepted chargers by id."""
        return self._chargers

    @property
    def pending(self) -> Mapping[str, PendingCharger]:
        """Unknown charger ids seen since start, waiting for the user."""
        return self._pending

    def add_charger(self, config: ChargerConfig) -> OcppCharger:
        """Accept a charger id (the user confirmed it); returns its view.

        A pending connection of that id is closed, so the charger reconnects
        and is configured as an accepted charger.
        """
        charger = self._chargers.get(config.charger_id)
        if charger is not None:
            charger.config = config
        else:
            charger = OcppCharger(config)
            self._chargers[config.charger_id] = charger
        self.forget_pending(config.charger_id)
        session = self._pending_sessions.pop(config.charger_id, None)
        if session is not None:
            self._spawn(session.async_close())
        return charger

    def forget_pending(self, charger_id: str) -> None:
        """Drop a waiting unknown id (accepted, or dismissed by the user).

        It frees its place among the ``max_pending``; should the id connect
        again it is reported again.
        """
        self._pending.pop(charger_id, None)
        self._pending_seen.pop(charger_id, None)
        self._reported.pop(charger_id, None)

    async def async_remove_charger(self, charger_id: str) -> None:
        """Forget a charger and drop its connection."""
        charger = self._chargers.pop(charger_id, None)
        if charger is not None and charger.session is not None:
            await charger.session.async_close()

    def report_pending(self, pending: PendingCharger) -> None:
        """Remember a new charger id and tell the callback, once per id.

        Ids beyond ``max_pending`` are not remembered (``admit_unknown``
        refuses their connections before this is reached).
        """
        charger_id = pending.charger_id
        if charger_id in self._chargers:
            return
        if charger_id not in self._pending and len(self._pending) >= (
            self.config.max_pending
        ):
            return
        known = self._pending.get(charger_id)
        if known is not None:
            # Keep what an earlier report knew (a boot names vendor and model).
            pending = replace(
                pending,
                protocol=pending.protocol or known.protocol,
                remote=pending.remote or known.remote,
                vendor=pending.vendor or known.vendor,
                model=pending.model or known.model,
                serial=pending.serial or known.serial,
            )
        self._pending[charger_id] = pending
        self._pending_seen[charger_id] = time.monotonic()
        if charger_id in self._reported:
            self._reported.move_to_end(charger_id)
            return
        self._reported[charger_id] = None
        while len(self._reported) > MAX_REPORTED_IDS:
            self._reported.popitem(last=False)
        if self._on_new_charger is not None:
            try:
                self._on_new_charger(pending)
            except Exception:
                _LOGGER.exception("on_new_charger callback failed")

    def admit_unknown(self, charger_id: str) -> bool:
        """Whether a connection of an unknown id may proceed.

        Ids already waiting always may. A new id needs a free place among
        ``max_pending`` and a token of the ``new_ids_per_minute`` bucket;
        refusals are logged at most once a minute, with their count.
        """
        if charger_id in self._pending:
            return True
        now = time.monotonic()
        rate = self.config.new_ids_per_minute
        self._id_tokens = min(
            rate, self._id_tokens + (now - self._id_tokens_at) * rate / 60.0
        )
        self._id_tokens_at = now
        if len(self._pending) >= self.config.max_pending:
            self._evict_idle_pending(now)
        if len(self._pending) < self.config.max_pending and self._id_tokens >= 1.0:
            self._id_tokens -= 1.0
            # Hold its place now: the report (and callback) follows its boot.
            self._pending[charger_id] = PendingCharger(
                charger_id=charger_id, protocol=None, remote=None
            )
            self._pending_seen[charger_id] = now
            return True
        self._refused_ids += 1
        logged = self._refusal_logged_at
        if logged is None or now - logged >= REFUSAL_LOG_INTERVAL_S:
            _LOGGER.warning(
                "Refused %d connection(s) of unknown charger ids (%d waiting for "
                "the user, at most %d, %g new ids a minute); latest %s",
                self._refused_ids,
                len(self._pending),
                self.config.max_pending,
                rate,
                charger_id,
            )
            self._refusal_logged_at = now
            self._refused_ids = 0
        return False

    def _evict_idle_pending(self, now: float) -> None:
        """Free the places of waiting ids that left ``pending_idle_s`` ago."""
        idle = sorted(
            (seen, charger_id)
            for charger_id, seen in self._pending_seen.items()
            if charger_id not in self._pending_sessions
            and now - seen >= self.config.pending_idle_s
        )
        for _seen, charger_id in idle:
            if len(self._pending) < self.config.max_pending:
                return
            self._pending.pop(charger_id, None)
            self._pending_seen.pop(charger_id, None)
            _LOGGER.debug("forgot idle unknown charger %s", charger_id)

    # -- server ------------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The port actually listened on."""
        if self._port is None:
            raise RuntimeError("the central system is not running")
        return self._port

    @property
    def url(self) -> str:
        """The base URL chargers use (append the charger id)."""
        scheme = "wss" if self.config.ssl_context is not None else "ws"
        path = self.config.path.rstrip("/")
        return f"{scheme}://{self.config.host}:{self.port}{path}/"

    async def async_start(self) -> None:
        """Listen; raises OSError if the address is taken."""
        app = web.Application()
        path = self.config.path.rstrip("/")
        app.router.add_get(path + "/{charger_id}", self._handle)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(
            runner,
            self.config.host,
            self.config.port,
            ssl_context=self.config.ssl_context,
        )
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner, self._site = runner, site
        server = cast("Any", site)._server  # noqa: SLF001
        self._port = int(server.sockets[0].getsockname()[1])
        _LOGGER.info("OCPP central system listening on %s", self.url)

    async def async_stop(self) -> None:
        """Close every connection and stop listening."""
        for charger in self._chargers.values():
            if charger.session is not None:
                await charger.session.async_close()
        for session in list(self._pending_sessions.values()):
            await session.async_close()
        if self._runner is not None:
            await self._runner.cleanup()
        tasks = list(self._handlers)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._runner = self._site = None
        self._port = None

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    # -- one connection --------------------------------------------------------------
    def _authenticate(self, request: web.Request, charger_id: str) -> bool | None:
        """Check credentials: True ok, False none needed, None refuse."""
        charger = self._chargers.get(charger_id)
        password = charger.config.password if charger is not None else None
        if password is None:
            return None if self.config.require_auth else False
        credentials = _basic_credentials(request.headers.get("Authorization"))
        if credentials is None:
            return None
        user, given = credentials
        user_ok = hmac.compare_digest(user.encode(), charger_id.encode())
        password_ok = hmac.compare_digest(given.encode(), password.encode())
        return True if user_ok and password_ok else None

    def _note_auth(self, charger_id: str, *, refused: bool, remote: str | None) -> None:
        """Remember whether a charger's credentials were refused.

        An unknown id that is refused waits for the user; a known charger
        gets ``auth_refused`` (its host asks the user for the password it now
        sends) until a connection of it is accepted. A refusal while the
        charger is connected and authenticated is someone else using its id:
        it asks nobody for anything.
        """
        known = self._chargers.get(charger_id)
        if known is None:
            if refused:
                self.report_pending(
                    PendingCharger(charger_id=charger_id, protocol=None, remote=remote)
                )
            return
        if refused and known.session is not None:
            return
        if known.state.auth_refused != refused:
            known.state.auth_refused = refused
            if refused:
                known.notify()  # accepted: attach() notifies

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        charger_id = unquote(request.match_info["charger_id"])
        if (
            not charger_id
            or len(charger_id) > 48  # noqa: PLR2004 (OCPP: 48)
            or not charger_id.isprintable()  # no control characters in logs or ids
            or "/" in charger_id
        ):
            raise web.HTTPNotFound
        offered = [
            part.strip()
            for part in request.headers.get("Sec-WebSocket-Protocol", "").split(",")
            if part.strip()
        ]
        if not any(proto in SUBPROTOCOLS for proto in offered):
            self._log_throttle.refusal(
                "subprotocol",
                "%s offered no OCPP subprotocol we speak: %.200s",
                charger_id,
                offered,
            )
            raise web.HTTPBadRequest(text="unsupported OCPP subprotocol")
        if charger_id not in self._chargers and not self.admit_unknown(charger_id):
            raise web.HTTPServiceUnavailable(
                text="too many unknown chargers", headers={"Retry-After": "60"}
            )
        authenticated = self._authenticate(request, charger_id)
        if authenticated is None:
            self._log_throttle.refusal(
                f"auth:{charger_id}",
                "%s: refused, bad or missing credentials",
                charger_id,
            )
            self._note_auth(charger_id, refused=True, remote=request.remote)
            raise web.HTTPUnauthorized(
                headers={"WWW-Authenticate": 'Basic realm="Stroomwijs OCPP"'}
            )
        self._note_auth(charger_id, refused=False, remote=request.remote)
        ws = web.WebSocketResponse(
            protocols=SUBPROTOCOLS,
            autoping=False,  # pings and pongs are handled by _WebSocketConnection
            max_msg_size=MAX_FRAME_BYTES,
        )
        await ws.prepare(request)
        protocol = ws.ws_protocol
        if protocol is None or protocol not in SESSION_MODULES:
            await ws.close()
            return ws
        session_class = await async_session_class(protocol)
        charger = self._chargers.get(charger_id)
        if charger is not None and charger.session is not None:
            # The charger reconnected before we noticed the old socket died:
            # the newer connection wins (refusing it would start a loop).
            _LOGGER.info("%s reconnected; closing its previous connection", charger_id)
            await charger.session.async_close()
        old_pending = self._pending_sessions.pop(charger_id, None)
        if old_pending is not None:
            await old_pending.async_close()
        session: BaseSession = cast("Any", session_class)(
            charger_id,
            _WebSocketConnection(ws, charger_id, request.transport),
            response_timeout=self.config.session.response_timeout_s,
        )
        session.setup(
            charger=charger,
            host=self,
            options=self.config.session,
            remote=request.remote,
            authenticated=bool(authenticated),
        )
        if charger is None:
            self._pending_sessions[charger_id] = session
        _LOGGER.info("%s connected with %s", charger_id, protocol)
        await self._async_serve(ws, session, charger_id)
        return ws

    async def _async_serve(
        self, ws: web.WebSocketResponse, session: BaseSession, charger_id: str
    ) -> None:
        """Run one session (and its keepalive) until the connection ends."""
        connection = cast("_WebSocketConnection", cast("Any", session)._connection)  # noqa: SLF001
        connection.on_frame = session.frame_received
        keepalive: asyncio.Task[None] | None = None
        if self.config.websocket_heartbeat_s is not None:
            keepalive = asyncio.get_running_loop().create_task(
                connection.keepalive(self.config.websocket_heartbeat_s)
            )
        try:
            await session.async_run()
        except ConnectionClosedError:
            pass
        finally:
            if keepalive is not None:
                keepalive.cancel()
                with suppress(asyncio.CancelledError):
                    await keepalive
            if self._pending_sessions.get(charger_id) is session:
                del self._pending_sessions[charger_id]
                if charger_id in self._pending_seen:
                    self._pending_seen[charger_id] = time.monotonic()
            if not ws.closed:
                await ws.close()
            _LOGGER.info("%s disconnected", charger_id)
