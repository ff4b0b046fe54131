"""HomeWizard Energy Socket (HWE-SKT) over its local HTTP API (v1).

The Energy Socket is a smart plug with power metering that announces itself
over zeroconf (``_hwenergy._tcp``, ``product_type=HWE-SKT`` in its TXT
record). Its local API v1 (it must be switched on in the HomeWizard Energy
app) answers plain JSON over HTTP:

* ``GET /api``: ``product_type``, ``product_name``, ``serial`` (the plug's
  MAC address), ``firmware_version``, ``api_version``;
* ``GET /api/v1/data``: ``active_power_w`` among other measurements;
* ``GET /api/v1/state``: ``power_on``, ``switch_lock``, ``brightness``;
* ``PUT /api/v1/state`` with ``{"power_on": true|false}``: switches the relay
  and answers with the fields it changed. With ``switch_lock`` on, the plug
  stays on and refuses to switch off.

This module does not drive a boiler or an appliance itself. The plug is a
switch and a power sensor, which is exactly what the :class:`Boiler`
(``control: switch`` with a ``power_entity``) and the :class:`PlugAppliance`
(``plug_entity`` and ``power_entity``) drivers use through their
``EntityPort``. :class:`SocketEntityPort` is that port: it shows the plug
as ``switch.homewizard_socket_<serial>`` and
``sensor.homewizard_socket_<serial>_power`` and hands every other entity id
(a tank temperature sensor, say) to the host's own port. The tank model,
the legionella run, the armed/running/finished cycle and the profile
learning are those drivers' own; the household builds them on this port.

Fail safe: every request is bounded by ``timeout_s``; a plug that does not
answer, answers with something that is not its JSON, answers with another
serial (its address was handed to another device) or has its API switched
off is unavailable, and its switch and power read ``unavailable``, so the
drivers and the guard treat its power as unknown. After a failure it is
asked again at most every ``reconnect_s``. Right after a switch command the
power reads ``unknown`` until a reading taken ``settle_s`` later, so a stale
0 W is never mistaken for a plug that did not follow.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
import json
import logging
import math
import re
from typing import Any, Final

import aiohttp

from .entities import (
    AvailabilityLog,
    EntityCallError,
    EntityPort,
    EntityState,
    StateListener,
)
from .sg_ready import Clock, utc_now

_LOGGER = logging.getLogger(__name__)

PRODUCT_TYPE: Final = "HWE-SKT"
MAX_BODY: Final = 65536
MAX_SOCKET_W: Final = 4000.0
"""3680 W is the plug's rating (16 A at 230 V); more is not a reading."""
_SERIAL = re.compile(r"^[0-9a-fA-F]{12}$")
_HOST = re.compile(r"^[A-Za-z0-9.\-:\[\]]{1,253}$")
UNAVAILABLE: Final = "unavailable"
UNKNOWN: Final = "unknown"


def socket_entity_ids(serial: str) -> tuple[str, str]:
    """Return the switch and power entity ids the port shows for a plug."""
    key = serial.lower()
    return f"switch.homewizard_socket_{key}", f"sensor.homewizard_socket_{key}_power"


@dataclass(frozen=True, slots=True, kw_only=True)
class HomeWizardSocketConfig:
    """Where the plug is and how patiently to talk to it."""

    host: str
    """IP address or host name (no scheme, no path)."""
    serial: str
    """The plug's serial (12 hex digits, its MAC): a different one is refused."""
    port: int = 80
    timeout_s: float = 5.0
    reconnect_s: float = 10.0
    """After a failure, ask again at most this often."""
    settle_s: float = 1.0
    """After a switch command, power readings count from this much later."""

    def __post_init__(self) -> None:
        """Reject settings that cannot work."""
        if not _HOST.fullmatch(self.host):
            msg = f"host {self.host!r} is not an address or host name"
            raise ValueError(msg)
        if not _SERIAL.fullmatch(self.serial):
            msg = f"serial {self.serial!r} is not 12 hexadecimal digits"
            raise ValueError(msg)
        if not 1 <= self.port <= 65535:  # noqa: PLR2004
            raise ValueError("port must be 1..65535")
        for name, value, high in (
            ("timeout_s", self.timeout_s, 60.0),
            ("reconnect_s", self.reconnect_s, 3600.0),
            ("settle_s", self.settle_s, 60.0),
        ):
            if not math.isfinite(value) or not 0 < value <= high:
                msg = f"{name} must be more than 0 and at most {high:g}"
                raise ValueError(msg)

    @property
    def base_url(self) -> str:
        """``http://host:port`` (IPv6 addresses in brackets)."""
        host = self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"


class SocketError(EntityCallError):
    """The plug did not answer as its API says it does."""


def _finite(value: object, low: float, high: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and low <= number <= high else None


class HomeWizardSocket:
    """One Energy Socket: its identity, relay and power, read over HTTP."""

    def __init__(
        self,
        config: HomeWizardSocketConfig,
        session: aiohttp.ClientSession | None,
        *,
        name: str,
        clock: Clock = utc_now,
    ) -> None:
        """Talk to the plug of ``config`` over ``session`` (the host's)."""
        self.config = config
        self.name = name
        self._session = session
        self._clock = clock
        self._health = AvailabilityLog(_LOGGER, f"{name} (HomeWizard socket)")
        self.switch_entity, self.power_entity = socket_entity_ids(config.serial)
        self.power_on: bool | None = None
        self.switch_lock: bool | None = None
        self.power_w: float | None = None
        self.identity: dict[str, str] = {}
        self._verified = False
        self._failed_at: datetime | None = None
        self._switched_at: datetime | None = None
        self._listeners: list[tuple[frozenset[str], StateListener]] = []

    def move(self, host: str, port: int) -> None:
        """Talk to the plug at a new address (its serial is checked again there).

        ValueError for an address that is not one.
        """
        self.config = replace(self.config, host=host, port=port)
        self._verified = False
        self._failed_at = None  # ask at once, not after reconnect_s

    @property
    def available(self) -> bool:
        """Whether the plug answered last time."""
        return self._health.available

    @property
    def reason(self) -> str | None:
        """Why it is unavailable (None while it answers)."""
        return self._health.reason

    # ------------------------------------------------------------ HTTP

    async def _request(
        self, method: str, path: str, body: Mapping[str, object] | None = None
    ) -> dict[str, Any]:
        if self._session is None:
            msg = f"{self.name}: no HTTP session"
            raise SocketError(msg)
        url = f"{self.config.base_url}{path}"
        try:
            async with asyncio.timeout(self.config.timeout_s):
                async with self._session.request(
                    method,
                    url,
                    json=body,
                    timeout=aiohttp.ClientTimeout(total=self.config.timeout_s),
                ) as response:
                    status = response.status
                    raw = bytearray()
                    # read(n) returns what has arrived, not n bytes: gather
                    # the body up to one byte past the bound.
                    async for chunk in response.content.iter_chunked(16384):
                        raw += chunk
                        if len(raw) > MAX_BODY:
                            break
        except TimeoutError as err:
            msg = f"{self.name}: no answer within {self.config.timeout_s:g} s"
            raise SocketError(msg) from err
        except aiohttp.ClientError as err:
            msg = f"{self.name}: {type(err).__name__}: {err}"
            raise SocketError(msg) from err
        return self._parse(path, status, bytes(raw))

    def _parse(self, path: str, status: int, raw: bytes) -> dict[str, Any]:
        """Check an answer; SocketError unless it is a JSON object with 200."""
        if status == 403:  # noqa: PLR2004 - HTTP Forbidden
            msg = f"{self.name}: the local API is switched off (HomeWizard app)"
            raise SocketError(msg)
        if status != 200:  # noqa: PLR2004 - HTTP OK
            msg = f"{self.name}: HTTP {status} on {path}"
            raise SocketError(msg)
        if len(raw) > MAX_BODY:
            msg = f"{self.name}: answer on {path} too large"
            raise SocketError(msg)
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as err:
            msg = f"{self.name}: answer on {path} is not JSON"
            raise SocketError(msg) from err
        if not isinstance(data, dict):
            msg = f"{self.name}: answer on {path} is not a JSON object"
            raise SocketError(msg)
        return data

    async def async_identify(self) -> dict[str, str]:
        """Read ``/api``; SocketError unless it is an Energy Socket."""
        data = await self._request("GET", "/api")
        identity = {
            key: str(data[key])[:64]
            for key in ("product_type", "product_name", "serial", "firmware_version")
            if isinstance(data.get(key), str | int | float)
        }
        if identity.get("product_type") != PRODUCT_TYPE:
            msg = f"{self.name}: not an Energy Socket ({identity.get('product_type')})"
            raise SocketError(msg)
        return identity

    async def _verify(self) -> None:
        if self._verified:
            return
        identity = await self.async_identify()
        if identity.get("serial", "").lower() != self.config.serial.lower():
            msg = (
                f"{self.name}: another device answers at {self.config.host} "
                f"(serial {identity.get('serial')})"
            )
            raise SocketError(msg)
        self.identity = identity
        self._verified = True

    def _read_state(self, data: Mapping[str, Any]) -> None:
        power_on = data.get("power_on")
        if not isinstance(power_on, bool):
            msg = f"{self.name}: the state has no power_on"
            raise SocketError(msg)
        lock = data.get("switch_lock")
        self.power_on = power_on
        self.switch_lock = lock if isinstance(lock, bool) else None

    # ------------------------------------------------------------ public

    async def async_refresh(self) -> None:
        """Read the relay and the power; mark the plug unavailable on failure.

        After a failure the plug is asked again only ``reconnect_s`` later.
        """
        now = self._clock()
        if self._failed_at is not None and now - self._failed_at < timedelta(
            seconds=self.config.reconnect_s
        ):
            return
        before = self._snapshot()
        try:
            await self._verify()
            self._read_state(await self._request("GET", "/api/v1/state"))
            data = await self._request("GET", "/api/v1/data")
        except SocketError as err:
            self._fail(now, str(err))
        else:
            self._failed_at = None
            self._health.up()
            power = _finite(data.get("active_power_w"), -MAX_SOCKET_W, MAX_SOCKET_W)
            settled = self._switched_at is None or now - self._switched_at >= timedelta(
                seconds=self.config.settle_s
            )
            self.power_w = power if settled else None
            if settled:
                self._switched_at = None
        self._tell(before)

    def _fail(self, now: datetime, reason: str) -> None:
        self._failed_at = now
        self._verified = False
        self.power_on = None
        self.switch_lock = None
        self.power_w = None
        self._health.down(reason)

    async def async_switch(self, *, on: bool) -> None:
        """Switch the relay; SocketError (a DeviceUnavailableError) if it will not."""
        if self.switch_lock and not on:
            msg = f"{self.name}: the switch lock is on (HomeWizard app)"
            raise SocketError(msg)
        now = self._clock()
        before = self._snapshot()
        try:
            await self._verify()
            answer = await self._request("PUT", "/api/v1/state", {"power_on": on})
        except SocketError as err:
            self._fail(now, str(err))
            self._tell(before)
            raise
        if answer.get("power_on", on) is not on:
            # It answers, but did not follow (its switch lock, set in the app
            # since the last read): it keeps what it had, and the caller moves on.
            self.switch_lock = True if not on else self.switch_lock
            msg = f"{self.name}: the plug stayed {'off' if on else 'on'}"
            raise SocketError(msg)
        self._failed_at = None
        self._health.up()
        if self.power_on is not on:
            self._switched_at = now
            self.power_w = None
        self.power_on = on
        self._tell(before)

    # ------------------------------------------------------------ as entities

    def _snapshot(self) -> tuple[EntityState, EntityState]:
        return self.switch_state(), self.power_state()

    def switch_state(self) -> EntityState:
        """Return the relay as a switch entity."""
        if not self.available or self.power_on is None:
            state = UNAVAILABLE
        else:
            state = "on" if self.power_on else "off"
        return EntityState(
            entity_id=self.switch_entity,
            state=state,
            attributes={"switch_lock": self.switch_lock} if self.available else {},
        )

    def power_state(self) -> EntityState:
        """Return the power measurement as a sensor entity in W."""
        if not self.available:
            state = UNAVAILABLE
        elif self.power_w is None:
            state = UNKNOWN
        else:
            state = f"{self.power_w:.1f}"
        return EntityState(
            entity_id=self.power_entity,
            state=state,
            attributes={"unit_of_measurement": "W", "device_class": "power"},
        )

    def subscribe(
        self, entity_ids: Sequence[str], listener: StateListener
    ) -> Callable[[], None]:
        """Call ``listener`` with the plug's entities whenever they change."""
        item = (frozenset(entity_ids), listener)
        self._listeners.append(item)

        def _unsubscribe() -> None:
            if item in self._listeners:
                self._listeners.remove(item)

        return _unsubscribe

    def _tell(self, before: tuple[EntityState, EntityState]) -> None:
        for old, new in zip(before, self._snapshot(), strict=True):
            if old == new:
                continue
            for ids, listener in tuple(self._listeners):
                if new.entity_id in ids:
                    try:
                        listener(new)
                    except Exception:
                        _LOGGER.exception("listener of %s failed", new.entity_id)


class SocketEntityPort:
    """An ``EntityPort`` with the plug's switch and power, and the host's rest."""

    def __init__(self, socket: HomeWizardSocket, host: EntityPort | None) -> None:
        """Show ``socket`` as two entities; hand other entity ids to ``host``."""
        self.socket = socket
        self._host = host
        self._own = {socket.switch_entity, socket.power_entity}

    def get_state(self, entity_id: str) -> EntityState | None:
        """Return the plug's own entities, or the host's."""
        if entity_id == self.socket.switch_entity:
            return self.socket.switch_state()
        if entity_id == self.socket.power_entity:
            return self.socket.power_state()
        return None if self._host is None else self._host.get_state(entity_id)

    async def async_call_service(
        self, domain: str, service: str, data: Mapping[str, object]
    ) -> None:
        """``switch.turn_on``/``turn_off`` on the plug; anything else to the host."""
        target = data.get("entity_id")
        if target in self._own:
            if (
                target != self.socket.switch_entity
                or domain != "switch"
                or service not in {"turn_on", "turn_off"}
            ):
                msg = f"{domain}.{service} is not something {target} can do"
                raise EntityCallError(msg)
            await self.socket.async_switch(on=service == "turn_on")
            return
        if self._host is None:
            msg = f"no host for {target}"
            raise EntityCallError(msg)
        await self._host.async_call_service(domain, service, data)

    def subscribe(
        self, entity_ids: Sequence[str], listener: StateListener
    ) -> Callable[[], None]:
        """Follow the plug's entities here and the others at the host."""
        own = [e for e in entity_ids if e in self._own]
        other = [e for e in entity_ids if e not in self._own]
        stops = []
        if own:
            stops.append(self.socket.subscribe(own, listener))
        if other and self._host is not None:
            stops.append(self._host.subscribe(other, listener))

        def _unsubscribe() -> None:
            for stop in stops:
                stop()

        return _unsubscribe
