"""Helpers for the Home Assistant tests of the P1 meter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.stroomwijs.const import CONF_FUSE_A, CONF_PHASES, DOMAIN
from custom_components.stroomwijs.coordinator import (
    CONF_DSMR_VERSION,
    CONF_ENCRYPTION_KEY,
    CONF_HOST,
    CONF_SOURCE,
    CONF_TCP_PORT,
    SOURCE_NETWORK,
)
from custom_components.stroomwijs.engine.simulate.p1 import (
    P1TelegramServer,
    TelegramValuesIn,
    build_telegram,
)


async def until(predicate: Callable[[], bool], limit: float = 5.0) -> None:
    """Wait until ``predicate()`` holds (it polls: other tasks change it)."""
    async with asyncio.timeout(limit):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


def varying_telegram(index: int) -> bytes:
    """Return a DSMR 5 telegram whose import power changes with ``index``."""
    return build_telegram(
        TelegramValuesIn(
            timestamp=datetime.now(UTC),
            import_w=1000 + 10 * index,
            phase_import_w=(1000 + 10 * index, 0, 0),
            phase_currents_a=(4, 0, 0),
            import_t1_kwh=100 + index / 1000,
        )
    )


@asynccontextmanager
async def p1_server(
    frames: list[bytes] | Callable[[int], bytes], interval: float = 0.05
) -> AsyncIterator[P1TelegramServer]:
    """Run a telegram server on 127.0.0.1 for the duration of the block."""
    server = P1TelegramServer(frames, interval=interval)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def network_entry(
    server: P1TelegramServer, version: str = "5", key: str = "", **extra: object
) -> MockConfigEntry:
    """Return a config entry for a network meter at ``server``."""
    data: dict[str, Any] = {
        CONF_SOURCE: SOURCE_NETWORK,
        CONF_HOST: "127.0.0.1",
        CONF_TCP_PORT: server.port,
        CONF_DSMR_VERSION: version,
        CONF_PHASES: 3,
        CONF_FUSE_A: 25.0,
    }
    if key:
        data[CONF_ENCRYPTION_KEY] = key
    data.update(extra)
    return MockConfigEntry(domain=DOMAIN, title="Thuis", data=data)


async def setup(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Add and set up an entry."""
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def unload(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Unload an entry so no task or timer outlives the test."""
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def skip_installer_steps(hass: HomeAssistant, result: Any) -> Any:  # noqa: ANN401
    """Leave the installer's steps after the grid connection empty.

    Limits, tariff (its defaults), PV forecast and devices: each can be
    skipped, and the household is created after the last.
    """
    for step in ("limits", "tariff", "pv", "devices"):
        assert result["type"] is FlowResultType.FORM, result
        assert result["step_id"] == step
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    return result
