"""The port through which drivers use devices that live in a host (HA entities).

Devices such as an SG-Ready relay pair, a ``climate`` entity or a smart plug
are reached through Home Assistant. The engine never imports Home Assistant:
drivers talk to a small :class:`EntityPort` instead, which the HA glue
implements (``hass.states.get``, ``hass.services.async_call`` and
``async_track_state_change_event``), and the simulators and tests implement
in memory (:mod:`..simulate.entities`).

The helpers here read entity states the way every driver must: ``unknown``
and ``unavailable`` are not values, numbers must be finite, and a driver
logs once when its device goes away and once when it is back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
import logging
import math
from typing import Protocol

from custom_components.stroomwijs.engine.capabilities import DeviceUnavailableError

STATE_ON = "on"
STATE_OFF = "off"
NOT_A_VALUE = frozenset({"unknown", "unavailable", "none", ""})


@dataclass(frozen=True, slots=True, kw_only=True)
class EntityState:
    """One entity's state as the host reports it (HA's ``State``, reduced)."""

    entity_id: str
    state: str
    attributes: Mapping[str, object] = field(default_factory=dict)


class EntityCallError(DeviceUnavailableError):
    """The host could not carry out a service call (the port raises this)."""


type StateListener = Callable[[EntityState], None]


class EntityPort(Protocol):
    """What a driver needs from the host of its entities.

    ``get_state`` returns None for an entity the host does not know.
    ``async_call_service`` raises :class:`EntityCallError` when the call
    fails (HA: ``HomeAssistantError``, ``ServiceNotFound``). ``subscribe``
    calls the listener with each new state of any of ``entity_ids`` and
    returns a function that ends the subscription.
    """

    def get_state(self, entity_id: str) -> EntityState | None:
        """Return the entity's current state, or None if unknown to the host."""
        ...

    async def async_call_service(
        self, domain: str, service: str, data: Mapping[str, object]
    ) -> None:
        """Call ``domain.service`` with ``data`` (it names the entity)."""
        ...

    def subscribe(
        self, entity_ids: Sequence[str], listener: StateListener
    ) -> Callable[[], None]:
        """Call ``listener`` on every state change of ``entity_ids``."""
        ...


def check_entity_id(entity_id: str, *domains: str) -> str:
    """Validate ``domain.object_id`` (and the domain, when given)."""
    domain, dot, object_id = entity_id.partition(".")
    if not dot or not domain or not object_id or entity_id != entity_id.strip():
        msg = f"{entity_id!r} is not an entity id (domain.object_id)"
        raise ValueError(msg)
    if domains and domain not in domains:
        msg = f"{entity_id!r} must be one of the domains {', '.join(domains)}"
        raise ValueError(msg)
    return entity_id


def domain_of(entity_id: str) -> str:
    """Return the domain of an entity id."""
    return entity_id.partition(".")[0]


def number(state: EntityState | None) -> float | None:
    """Return a finite number from a state, or None (unknown, NaN, text)."""
    if state is None or state.state.strip().lower() in NOT_A_VALUE:
        return None
    try:
        value = float(state.state)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def attribute_number(state: EntityState | None, name: str) -> float | None:
    """Return a finite numeric attribute, or None."""
    if state is None or state.state.strip().lower() in NOT_A_VALUE:
        return None
    raw = state.attributes.get(name)
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def on_off(state: EntityState | None) -> bool | None:
    """Return True/False for ``on``/``off``; None for anything else."""
    if state is None:
        return None
    text = state.state.strip().lower()
    if text == STATE_ON:
        return True
    if text == STATE_OFF:
        return False
    return None


def usable(state: EntityState | None) -> bool:
    """Whether the entity exists and has a state that means something."""
    return state is not None and state.state.strip().lower() not in NOT_A_VALUE


async def switch_entity(port: EntityPort, entity_id: str, *, on: bool) -> None:
    """Turn a ``switch``/``input_boolean``/``light`` entity on or off."""
    await port.async_call_service(
        domain_of(entity_id), "turn_on" if on else "turn_off", {"entity_id": entity_id}
    )


class AvailabilityLog:
    """Remembers whether a device answers; logs each change exactly once."""

    def __init__(self, logger: logging.Logger, name: str) -> None:
        """Log for the device called ``name``."""
        self._logger = logger
        self._name = name
        self._available: bool | None = None
        self.reason: str | None = None

    @property
    def available(self) -> bool:
        """Whether the device answered last time."""
        return bool(self._available)

    def up(self) -> None:
        """Record that the device answered."""
        if self._available is False:
            self._logger.info("%s is back", self._name)
        self._available = True
        self.reason = None

    def down(self, reason: str) -> None:
        """Record that the device did not answer: log once, not on every poll."""
        if self._available is not False:
            self._logger.warning("%s is unavailable: %s", self._name, reason)
        self._available = False
        self.reason = reason
