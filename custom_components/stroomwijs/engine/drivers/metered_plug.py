"""A smart plug or relay with power metering, shown to drivers as two entities.

The :class:`Boiler` (``control: switch`` with a ``power_entity``) and the
:class:`PlugAppliance` (``plug_entity`` and ``power_entity``) drive a switch
and read a power sensor through their ``EntityPort``. A plug that Stroomwijs
talks to over the network itself (a HomeWizard Energy Socket, a Shelly
Gen2+ plug or relay) is :class:`MeteredPlug`: it shows its relay as a switch
entity and its measurement as a power sensor in W, and
:class:`PlugEntityPort` puts those two entities in front of the host's own
port (a tank temperature sensor stays the host's).

What every such plug shares lives here: the availability (logged once each
way), the back-off after a failure (asked again at most every
``reconnect_s``), the settle time after a switch command (the power reads
``unknown`` until a reading taken ``settle_s`` later, so a stale 0 W never
looks like a plug that did not follow), a power reading only when it is a
finite number within the plug's rating, the listeners, and an HTTP read
that is bounded in time and size. A brand's module says how to ask its
device who it is, what its relay and power are, and how to switch it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
import json
import logging
import math
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

MAX_BODY: Final = 65536
UNAVAILABLE: Final = "unavailable"
UNKNOWN: Final = "unknown"


class PlugError(EntityCallError):
    """The plug did not answer as its API says it does (it is unavailable)."""


class PlugRefusedError(PlugError):
    """The plug answered, but will not do what was asked (it stays available)."""


@dataclass(frozen=True, slots=True)
class PlugReading:
    """One read of a plug: its relay, its power (None: no reading), its lock."""

    power_on: bool
    power_w: float | None
    switch_lock: bool | None = None


def finite(value: object, low: float, high: float) -> float | None:
    """Return ``value`` as a float if it is a finite number in ``low..high``.

    An integer beyond a float's range (json reads any size; 1e400 written
    out) is not one: ``float`` raised OverflowError out of the reading.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) and low <= number <= high else None


def base_url(host: str, port: int) -> str:
    """``http://host:port`` (IPv6 addresses in brackets)."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


async def bounded_request(
    session: aiohttp.ClientSession | None,
    method: str,
    url: str,
    *,
    name: str,
    timeout_s: float,
    body: Mapping[str, object] | None = None,
    middlewares: Sequence[Any] = (),
) -> tuple[int, bytes]:
    """Send one request; its status and at most ``MAX_BODY`` + 1 bytes of body.

    PlugError when there is no session, no answer within ``timeout_s`` (an
    outer ``asyncio.timeout`` and aiohttp's own) or the connection fails.
    """
    if session is None:
        msg = f"{name}: no HTTP session"
        raise PlugError(msg)
    try:
        async with asyncio.timeout(timeout_s):
            async with session.request(
                method,
                url,
                json=body,
                timeout=aiohttp.ClientTimeout(total=timeout_s),
                middlewares=tuple(middlewares),
                # A device answers itself; a redirect (and the password the
                # digest middleware would send along) goes nowhere else.
                allow_redirects=False,
            ) as response:
                status = response.status
                raw = bytearray()
                # read(n) returns what has arrived, not n bytes: gather the
                # body up to one byte past the bound.
                async for chunk in response.content.iter_chunked(16384):
                    raw += chunk
                    if len(raw) > MAX_BODY:
                        break
    except TimeoutError as err:
        msg = f"{name}: no answer within {timeout_s:g} s"
        raise PlugError(msg) from err
    except aiohttp.ClientError as err:
        msg = f"{name}: {type(err).__name__}: {err}"
        raise PlugError(msg) from err
    return status, bytes(raw)


def json_object(name: str, path: str, raw: bytes) -> dict[str, Any]:
    """Parse a bounded answer; PlugError unless it is a JSON object."""
    if len(raw) > MAX_BODY:
        msg = f"{name}: answer on {path} too large"
        raise PlugError(msg)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        msg = f"{name}: answer on {path} is not JSON"
        raise PlugError(msg) from err
    if not isinstance(data, dict):
        msg = f"{name}: answer on {path} is not a JSON object"
        raise PlugError(msg)
    return data


class MeteredPlug(ABC):
    """A networked plug's relay and power, as a switch and a sensor entity.

    Subclasses implement :meth:`_async_verify` (who is at the address, once
    per connection), :meth:`_async_read` and :meth:`_async_write`, raising
    :class:`PlugError` for anything that is not the device's answer.
    """

    def __init__(
        self,
        *,
        name: str,
        kind: str,
        switch_entity: str,
        power_entity: str,
        clock: Clock = utc_now,
    ) -> None:
        """Name the plug (``kind`` goes into log lines) and its two entities."""
        self.name = name
        self._clock = clock
        self._health = AvailabilityLog(_LOGGER, f"{name} ({kind})")
        self.switch_entity = switch_entity
        self.power_entity = power_entity
        self.power_on: bool | None = None
        self.switch_lock: bool | None = None
        self.power_w: float | None = None
        self._verified = False
        self._failed_at: datetime | None = None
        self._switched_at: datetime | None = None
        self._listeners: list[tuple[frozenset[str], StateListener]] = []

    # ------------------------------------------------------------ for a brand

    @property
    @abstractmethod
    def reconnect_s(self) -> float:
        """After a failure, ask again at most this often (seconds)."""

    @property
    @abstractmethod
    def settle_s(self) -> float:
        """After a switch command, power readings count from this much later."""

    @abstractmethod
    async def _async_verify(self) -> None:
        """Check who answers at the address (PlugError if not the plug)."""

    @abstractmethod
    async def _async_read(self) -> PlugReading:
        """Read the relay and the power (PlugError on failure)."""

    @abstractmethod
    async def _async_write(self, *, on: bool) -> None:
        """Switch the relay (PlugError, or PlugRefusedError if it will not)."""

    @abstractmethod
    def _readdress(self, host: str, port: int) -> None:
        """Put the new address into the config (ValueError if it is not one)."""

    async def _verify(self) -> None:
        if not self._verified:
            await self._async_verify()
            self._verified = True

    # ------------------------------------------------------------ public

    def move(self, host: str, port: int) -> None:
        """Talk to the plug at a new address (its identity is checked again there).

        ValueError for an address that is not one.
        """
        self._readdress(host, port)
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

    async def async_refresh(self) -> None:
        """Read the relay and the power; mark the plug unavailable on failure.

        After a failure the plug is asked again only ``reconnect_s`` later.
        """
        now = self._clock()
        if self._failed_at is not None and now - self._failed_at < timedelta(
            seconds=self.reconnect_s
        ):
            return
        before = self._snapshot()
        try:
            await self._verify()
            reading = await self._async_read()
        except PlugError as err:
            self._fail(now, str(err))
        else:
            self._failed_at = None
            self._health.up()
            self.power_on = reading.power_on
            self.switch_lock = reading.switch_lock
            settled = self._switched_at is None or now - self._switched_at >= timedelta(
                seconds=self.settle_s
            )
            self.power_w = reading.power_w if settled else None
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

    def _locked_message(self) -> str:
        return f"{self.name}: the switch lock is on"

    async def async_switch(self, *, on: bool) -> None:
        """Switch the relay; PlugError (a DeviceUnavailableError) if it will not."""
        if self.switch_lock and not on:
            raise PlugRefusedError(self._locked_message())
        now = self._clock()
        before = self._snapshot()
        try:
            await self._verify()
            await self._async_write(on=on)
        except PlugRefusedError:
            # It answers, but did not follow: it keeps what it had, and the
            # caller (the guard) moves on to another device.
            raise
        except PlugError as err:
            self._fail(now, str(err))
            self._tell(before)
            raise
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


class PlugEntityPort:
    """An ``EntityPort`` with a plug's switch and power, and the host's rest."""

    def __init__(self, socket: MeteredPlug, host: EntityPort | None) -> None:
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
