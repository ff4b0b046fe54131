"""The relayed entity port's rules: who is the host, what a call may do.

The host here is a minimal client that answers ``send_call`` as the API's
client does (queued or not); everything else is the real port.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from custom_components.stroomwijs.engine.drivers.entities import (
    EntityCallError,
    EntityState,
)
from custom_components.stroomwijs.engine.gateway.entities import (
    MAX_HOST_ENTITIES,
    MAX_PENDING_CALLS,
    NotEntityHostError,
    RelayedEntityPort,
)


class _Host:
    """A client that speaks for Home Assistant; ``accept``: its queue has room."""

    def __init__(self, *, accept: bool = True) -> None:
        self.accept = accept
        self.calls: list[Mapping[str, Any]] = []

    def send_call(self, call: Mapping[str, Any]) -> bool:
        self.calls.append(call)
        return self.accept


def _state(entity_id: str, state: str = "on") -> EntityState:
    return EntityState(entity_id=entity_id, state=state)


def _port(**kwargs: Any) -> RelayedEntityPort:  # noqa: ANN401
    port = RelayedEntityPort(**kwargs)
    port.set_used({"switch.boiler", "sensor.power"})
    return port


def test_only_the_host_sends_partial_updates_and_sets_are_bounded() -> None:
    """Partial first: refused; too many entities: refused, in full or in part."""
    port = _port()
    host = _Host()
    with pytest.raises(NotEntityHostError, match="send the whole set"):
        port.host_states(host, [_state("switch.boiler")], full=False)
    too_many = [_state(f"sensor.s{i}") for i in range(MAX_HOST_ENTITIES + 1)]
    with pytest.raises(ValueError, match=f"at most {MAX_HOST_ENTITIES} entities"):
        port.host_states(host, too_many, full=True)
    assert not port.host_connected
    assert port.host_states(host, too_many[:-1], full=True) == MAX_HOST_ENTITIES
    with pytest.raises(ValueError, match="at most"):
        port.host_states(host, [_state("switch.boiler")], full=False)
    # An entity it already has may change.
    assert port.host_states(host, [_state("sensor.s1", "2")], full=False) == 512


def test_states_while_the_host_is_there_and_after_it_went() -> None:
    """Unused entities are None; without a host the used ones are unavailable."""
    changes: list[bool] = []
    port = _port(on_host_change=changes.append)
    assert port.get_state("switch.boiler") == _state("switch.boiler", "unavailable")
    assert port.get_state("light.other") is None
    host = _Host()
    seen: list[EntityState] = []

    def broken(_state: EntityState) -> None:
        raise RuntimeError

    port.subscribe(["switch.boiler"], broken)
    unsubscribe = port.subscribe(["switch.boiler"], seen.append)
    port.host_states(host, [_state("switch.boiler"), _state("light.other")], full=True)
    assert port.get_state("switch.boiler") == _state("switch.boiler")
    assert port.get_state("sensor.power") is None, "not sent: unknown"
    assert seen == [_state("switch.boiler")], "one listener failing: the other hears"
    assert port.status()["missing"] == ["sensor.power"]
    port.host_gone(_Host())  # not the host: nothing happens
    assert port.host_connected
    port.host_gone(host)
    assert seen[-1] == _state("switch.boiler", "unavailable")
    assert changes == [True, False]
    assert port.status()["known"] == 0
    unsubscribe()
    unsubscribe()  # twice is harmless


async def test_calls_are_checked_sent_and_answered() -> None:
    """Wrong entity or domain, no host, unsendable, unanswered, answered."""
    port = _port(call_timeout_s=0.1)
    on = {"entity_id": "switch.boiler"}
    with pytest.raises(EntityCallError, match="not an entity of the household"):
        await port.async_call_service("switch", "turn_on", {"entity_id": "switch.x"})
    with pytest.raises(EntityCallError, match="not in that domain"):
        await port.async_call_service("light", "turn_on", on)
    with pytest.raises(EntityCallError, match="Home Assistant is not connected"):
        await port.async_call_service("switch", "turn_on", on)
    full = _Host(accept=False)
    port.host_states(full, [], full=True)
    with pytest.raises(EntityCallError, match="could not be sent"):
        await port.async_call_service("switch", "turn_on", on)
    host = _Host()
    port.host_states(host, [], full=True)
    with pytest.raises(EntityCallError, match="no answer from Home Assistant within"):
        await port.async_call_service("switch", "turn_on", on)
    assert port.failed_calls == 3

    # Answered: done, or failed with Home Assistant's error.
    async def answer(error: str | None) -> None:
        while len(host.calls) < 2 + (error is not None):  # noqa: ASYNC110 - host's
            await asyncio.sleep(0.001)
        call_id = host.calls[-1]["call_id"]
        with pytest.raises(NotEntityHostError):
            port.call_result(_Host(), call_id, None)
        assert port.call_result(host, call_id, error)
        assert not port.call_result(host, call_id, error), "answered once only"

    port.call_timeout_s = 5.0
    answering = asyncio.get_running_loop().create_task(answer(None))
    await port.async_call_service("switch", "turn_on", on)
    await answering
    assert host.calls[-1] == {
        "call_id": host.calls[-1]["call_id"],
        "domain": "switch",
        "service": "turn_on",
        "data": on,
    }
    answering = asyncio.get_running_loop().create_task(answer("relay stuck"))
    with pytest.raises(
        EntityCallError, match=r"switch\.turn_on for switch\.boiler: relay stuck"
    ):
        await port.async_call_service("switch", "turn_on", on)
    await answering
    assert port.failed_calls == 4


async def test_pending_calls_fail_when_the_host_changes_and_are_bounded() -> None:
    """Another client becoming host fails the waiting calls; 64 may wait."""
    port = _port()
    first = _Host()
    port.host_states(first, [], full=True)
    on = {"entity_id": "switch.boiler"}
    waiting = [
        asyncio.get_running_loop().create_task(
            port.async_call_service("switch", "turn_on", on)
        )
        for _ in range(MAX_PENDING_CALLS)
    ]
    while len(first.calls) < MAX_PENDING_CALLS:  # noqa: ASYNC110 - the host's list
        await asyncio.sleep(0.001)
    with pytest.raises(EntityCallError, match="too many calls wait"):
        await port.async_call_service("switch", "turn_on", on)
    assert port.status()["pending_calls"] == MAX_PENDING_CALLS
    port.host_states(_Host(), [], full=True)
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(
        isinstance(r, EntityCallError)
        and "another client became the entity host" in str(r)
        for r in results
    )
    assert port.status()["pending_calls"] == 0
