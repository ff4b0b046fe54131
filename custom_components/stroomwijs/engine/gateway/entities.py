"""Home Assistant's entities in the gateway: an ``EntityPort`` over the API.

A heat pump on SG-Ready relays, a thermostat, a boiler on a switch or an
appliance on a smart plug is driven through Home Assistant entities. In the
gateway those entities live in another process: the integration (the
*entity host*) tells the gateway their states (``entity_states``: the whole
set on connect, then each change) and carries out the service calls the
drivers make (the gateway pushes ``entity_call``; the integration answers
with ``entity_call_result``). :class:`RelayedEntityPort` is the drivers'
``EntityPort`` on the gateway's side.

While no entity host is connected (Home Assistant restarting, or an
integration too old to be one) every entity the household uses is
``unavailable``: the drivers report their devices unavailable, the guard
counts what they may draw on the safe side, and calls fail at once with
``EntityCallError``. A call that gets no answer within
:data:`CALL_TIMEOUT_S` fails the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
import itertools
import logging
from typing import Any, Final, Protocol

from custom_components.stroomwijs.engine.drivers.entities import (
    EntityCallError,
    EntityState,
    StateListener,
    domain_of,
)
from custom_components.stroomwijs.engine.limits.base import utc_now

_LOGGER = logging.getLogger(__name__)

CALL_TIMEOUT_S: Final = 10.0
"""How long a service call may take in Home Assistant (the guard gives up
on a command sooner, after its own command timeout)."""
MAX_PENDING_CALLS: Final = 64
MAX_HOST_ENTITIES: Final = 512
"""The most entity states the gateway keeps (a household uses a few dozen)."""
UNAVAILABLE: Final = "unavailable"


class EntityHost(Protocol):
    """The connection that speaks for Home Assistant (an API client)."""

    def send_call(self, call: Mapping[str, Any]) -> bool:
        """Push one ``entity_call``; False when it cannot be sent."""
        ...


class NotEntityHostError(ValueError):
    """A change or a call result from a client that is not the entity host."""


class RelayedEntityPort:
    """The drivers' ``EntityPort``; Home Assistant's side is an API client."""

    def __init__(
        self,
        *,
        call_timeout_s: float = CALL_TIMEOUT_S,
        clock: Callable[[], datetime] = utc_now,
        on_host_change: Callable[[bool], None] | None = None,
    ) -> None:
        """Start with no host: every used entity is unavailable."""
        self.call_timeout_s = call_timeout_s
        self._clock = clock
        self.on_host_change = on_host_change
        """Called with True when a host attaches, False when it goes."""
        self.used: frozenset[str] = frozenset()
        """The entities the household's devices use (others are not served)."""
        self._host: EntityHost | None = None
        self._states: dict[str, EntityState] = {}
        self._listeners: list[tuple[frozenset[str], StateListener]] = []
        self._calls: dict[str, asyncio.Future[str | None]] = {}
        self._ids = itertools.count(1)
        self.since: datetime | None = None
        """When the host attached, or when it went (None: never had one)."""
        self.calls = 0
        self.failed_calls = 0

    # ------------------------------------------------------------ host side

    @property
    def host_connected(self) -> bool:
        """Whether Home Assistant speaks for the entities now."""
        return self._host is not None

    def is_host(self, host: object) -> bool:
        """Whether ``host`` is the entity host now."""
        return host is not None and host is self._host

    def set_used(self, entity_ids: Iterable[str]) -> None:
        """Serve these entities (the household's, after each start)."""
        self.used = frozenset(entity_ids)

    def host_states(
        self, host: EntityHost, states: Sequence[EntityState], *, full: bool
    ) -> int:
        """Take states from ``host``; ``full``: its whole set, and it is the host.

        A partial update from a client that is not the host raises
        :class:`NotEntityHostError`; more than :data:`MAX_HOST_ENTITIES`
        entities, ``ValueError``. Returns how many states are kept.
        """
        if not full and host is not self._host:
            msg = "send the whole set (full) first: this client is not the host"
            raise NotEntityHostError(msg)
        if full:
            if len(states) > MAX_HOST_ENTITIES:
                msg = f"at most {MAX_HOST_ENTITIES} entities"
                raise ValueError(msg)
            before = self._visible_all()
            attached = host is not self._host
            if attached and self._host is not None:
                self._fail_calls("another client became the entity host")
            self._host = host
            self._states = {state.entity_id: state for state in states}
            if attached:
                self.since = self._clock()
                _LOGGER.info(
                    "Home Assistant speaks for %d entities (%d of the %d used)",
                    len(self._states),
                    len(self.used & self._states.keys()),
                    len(self.used),
                )
            self._notify_changed(before)
            if attached and self.on_host_change is not None:
                self.on_host_change(True)  # noqa: FBT003
            return len(self._states)
        new = {s.entity_id for s in states} - self._states.keys()
        if len(self._states) + len(new) > MAX_HOST_ENTITIES:
            msg = f"at most {MAX_HOST_ENTITIES} entities"
            raise ValueError(msg)
        for state in states:
            old = self._states.get(state.entity_id)
            self._states[state.entity_id] = state
            if old != state:
                self._notify(state)
        return len(self._states)

    def host_gone(self, host: object) -> None:
        """Forget ``host`` (its connection closed): every entity is unavailable."""
        if host is None or host is not self._host:
            return
        before = self._visible_all()
        self._host = None
        self.since = self._clock()
        self._fail_calls("Home Assistant went away")
        _LOGGER.warning(
            "Home Assistant is gone: its %d entities are unavailable", len(self.used)
        )
        self._notify_changed(before)
        if self.on_host_change is not None:
            self.on_host_change(False)  # noqa: FBT003

    def call_result(self, host: object, call_id: str, error: str | None) -> bool:
        """Take the host's answer to a call; False when no call waits for it."""
        if not self.is_host(host):
            msg = "this client is not the entity host"
            raise NotEntityHostError(msg)
        future = self._calls.pop(call_id, None)
        if future is None or future.done():
            return False
        future.set_result(error)
        return True

    def status(self) -> dict[str, Any]:
        """Return what the snapshot's ``gateway.entities`` says."""
        known = self.used & self._states.keys()
        return {
            "host_connected": self.host_connected,
            "since": self.since,
            "used": len(self.used),
            "known": len(known) if self.host_connected else 0,
            "missing": sorted(self.used - known)[:20] if self.host_connected else [],
            "pending_calls": len(self._calls),
            "calls": self.calls,
            "failed_calls": self.failed_calls,
        }

    # ------------------------------------------------------------ EntityPort

    def get_state(self, entity_id: str) -> EntityState | None:
        """Return the state Home Assistant sent last; ``unavailable`` while away."""
        if entity_id not in self.used:
            return None
        if self._host is None:
            return EntityState(entity_id=entity_id, state=UNAVAILABLE)
        return self._states.get(entity_id)

    async def async_call_service(
        self, domain: str, service: str, data: Mapping[str, object]
    ) -> None:
        """Have Home Assistant carry out a call; EntityCallError if it does not."""
        entity_id = data.get("entity_id")
        if not isinstance(entity_id, str) or entity_id not in self.used:
            msg = f"{domain}.{service}: not an entity of the household's devices"
            raise EntityCallError(msg)
        if domain_of(entity_id) != domain:
            msg = f"{domain}.{service}: {entity_id} is not in that domain"
            raise EntityCallError(msg)
        host = self._host
        if host is None:
            self.failed_calls += 1
            msg = f"{domain}.{service} for {entity_id}: Home Assistant is not connected"
            raise EntityCallError(msg)
        if len(self._calls) >= MAX_PENDING_CALLS:
            self.failed_calls += 1
            msg = f"{domain}.{service}: too many calls wait for Home Assistant"
            raise EntityCallError(msg)
        call_id = str(next(self._ids))
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._calls[call_id] = future
        self.calls += 1
        call = {"call_id": call_id, "domain": domain, "service": service}
        try:
            error = await self._async_wait(host, {**call, "data": dict(data)}, future)
        finally:
            self._calls.pop(call_id, None)
        if error is not None:
            self.failed_calls += 1
            msg = f"{domain}.{service} for {entity_id}: {error}"
            raise EntityCallError(msg)

    async def _async_wait(
        self,
        host: EntityHost,
        call: Mapping[str, Any],
        future: asyncio.Future[str | None],
    ) -> str | None:
        """Send the call and wait for its answer: None when it was done."""
        if not host.send_call(call):
            return "the call could not be sent to Home Assistant"
        try:
            async with asyncio.timeout(self.call_timeout_s):
                return await future
        except TimeoutError:
            return f"no answer from Home Assistant within {self.call_timeout_s:g} s"

    def subscribe(
        self, entity_ids: Sequence[str], listener: StateListener
    ) -> Callable[[], None]:
        """Call ``listener`` with every new state of ``entity_ids``."""
        item = (frozenset(entity_ids), listener)
        self._listeners.append(item)

        def _unsubscribe() -> None:
            if item in self._listeners:
                self._listeners.remove(item)

        return _unsubscribe

    # ------------------------------------------------------------ helpers

    def _visible_all(self) -> dict[str, EntityState | None]:
        return {entity_id: self.get_state(entity_id) for entity_id in self.used}

    def _notify_changed(self, before: Mapping[str, EntityState | None]) -> None:
        for entity_id, old in before.items():
            new = self.get_state(entity_id)
            if new is not None and new != old:
                self._notify(new)

    def _notify(self, state: EntityState) -> None:
        if state.entity_id not in self.used:
            return
        for ids, listener in tuple(self._listeners):
            if state.entity_id in ids:
                try:
                    listener(state)
                except Exception:
                    _LOGGER.exception("entity listener failed")

    def _fail_calls(self, reason: str) -> None:
        calls, self._calls = self._calls, {}
        for future in calls.values():
            if not future.done():
                future.set_result(reason)
