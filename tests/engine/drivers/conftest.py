"""Fixtures for the charger driver tests: a real CSMS on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import logging
from unittest.mock import patch

import pytest

from custom_components.stroomwijs.engine.drivers.ocpp import (
    CentralSystem,
    ChargerConfig,
    CsmsConfig,
    PendingCharger,
    SessionOptions,
)
from custom_components.stroomwijs.engine.simulate.ocpp_chargepoint import OcppSimulator

FAST = SessionOptions(response_timeout_s=5.0, boot_wait_s=0.3, pending_retry_s=5)

type CsmsFactory = Callable[..., Awaitable[CentralSystem]]


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets; pytest-socket still limits connections to 127.0.0.1."""


@pytest.fixture
async def make_csms() -> AsyncIterator[CsmsFactory]:
    """Start central systems on 127.0.0.1, port 0; stop them afterwards."""
    started: list[CentralSystem] = []

    async def _make(
        *chargers: ChargerConfig,
        seen: list[PendingCharger] | None = None,
        **config: object,
    ) -> CentralSystem:
        config.setdefault("session", FAST)
        csms = CentralSystem(
            CsmsConfig(host="127.0.0.1", port=0, **config),  # type: ignore[arg-type]
            chargers=chargers,
            on_new_charger=None if seen is None else seen.append,
        )
        await csms.async_start()
        started.append(csms)
        return csms

    yield _make
    for csms in started:
        await csms.async_stop()


@pytest.fixture(autouse=True)
async def disconnect_simulators(
    make_csms: CsmsFactory,
) -> AsyncIterator[None]:
    """Disconnect every simulated charge point before the servers stop."""
    created: list[OcppSimulator] = []
    original = OcppSimulator.__init__

    def _track(self: OcppSimulator, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        created.append(self)

    with patch.object(OcppSimulator, "__init__", _track):
        yield
    for sim in created:
        await sim.async_disconnect()


async def wait_for(
    predicate: Callable[[], bool], *, timeout_s: float = 5.0, what: str = "condition"
) -> None:
    """Poll ``predicate`` until it holds (the peers run in the same loop)."""
    async with asyncio.timeout(timeout_s):
        while not predicate():  # noqa: ASYNC110 - the peers share this loop
            await asyncio.sleep(0.01)
    logging.getLogger(__name__).debug("%s reached", what)
