"""An in-memory entity host: the simulators' (and tests') ``EntityPort``.

It keeps entity states, calls listeners on every change, and routes service
calls to handlers that simulators register, the way Home Assistant routes
``switch.turn_on`` to an integration. A service call for an entity that no
simulator handles fails with :class:`EntityCallError`, as HA's would.
Simulated faults: :meth:`InMemoryEntityPort.fail_calls` makes calls raise,
:meth:`InMemoryEntityPort.set_unavailable` turns an entity ``unavailable``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
import inspect

from custom_components.stroomwijs.engine.drivers.entities import (
    EntityCallError,
    EntityState,
    StateListener,
)

type ServiceHandler = Callable[[str, Mapping[str, object]], object]
"""Called with the service name and the call data."""


@dataclass(frozen=True, slots=True)
class ServiceCall:
    """One recorded service call."""

    domain: str
    service: str
    data: Mapping[str, object]


class InMemoryEntityPort:
    """States, listeners and service routing, all in memory."""

    def __init__(self) -> None:
        """Start empty."""
        self._states: dict[str, EntityState] = {}
        self._listeners: list[tuple[frozenset[str], StateListener]] = []
        self._handlers: dict[str, ServiceHandler] = {}
        self._failing: set[str] = set()
        self.calls: list[ServiceCall] = []

    # -- host side ---------------------------------------------------------
    def set_state(
        self,
        entity_id: str,
        state: object,
        attributes: Mapping[str, object] | None = None,
    ) -> None:
        """Set a state (as an integration would) and notify listeners."""
        old = self._states.get(entity_id)
        attrs = dict(old.attributes) if old is not None and attributes is None else {}
        if attributes is not None:
            attrs = dict(attributes)
        new = EntityState(entity_id=entity_id, state=str(state), attributes=attrs)
        if old == new:
            return
        self._states[entity_id] = new
        for ids, listener in tuple(self._listeners):
            if entity_id in ids:
                listener(new)

    def set_unavailable(self, entity_id: str) -> None:
        """Make an entity ``unavailable`` (its device dropped off)."""
        self.set_state(entity_id, "unavailable")

    def handle(self, entity_id: str, handler: ServiceHandler) -> None:
        """Route service calls for ``entity_id`` to ``handler``."""
        self._handlers[entity_id] = handler

    def fail_calls(self, entity_id: str, *, failing: bool = True) -> None:
        """Make service calls for ``entity_id`` raise (or work again)."""
        if failing:
            self._failing.add(entity_id)
        else:
            self._failing.discard(entity_id)

    # -- EntityPort -----------------------------------------------------------
    def get_state(self, entity_id: str) -> EntityState | None:
        """Return the entity's state."""
        return self._states.get(entity_id)

    async def async_call_service(
        self, domain: str, service: str, data: Mapping[str, object]
    ) -> None:
        """Route a call to the handler of the entity it names."""
        entity_id = data.get("entity_id")
        if not isinstance(entity_id, str):
            msg = f"{domain}.{service}: no entity_id"
            raise EntityCallError(msg)
        self.calls.append(ServiceCall(domain, service, dict(data)))
        handler = self._handlers.get(entity_id)
        if entity_id in self._failing or handler is None:
            msg = f"{domain}.{service} failed for {entity_id}"
            raise EntityCallError(msg)
        state = self._states.get(entity_id)
        if state is not None and state.state == "unavailable":
            msg = f"{entity_id} is unavailable"
            raise EntityCallError(msg)
        result = handler(service, data)
        if inspect.isawaitable(result):
            await result

    def subscribe(
        self, entity_ids: Sequence[str], listener: StateListener
    ) -> Callable[[], None]:
        """Call ``listener`` for every change of ``entity_ids``."""
        item = (frozenset(entity_ids), listener)
        self._listeners.append(item)

        def _unsubscribe() -> None:
            if item in self._listeners:
                self._listeners.remove(item)

        return _unsubscribe
