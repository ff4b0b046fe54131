"""Snapshots of every entity platform and of the diagnostics (syrupy, as core does).

A household with a real DSMR 5 telegram, an OCPP charger and a time window:
each platform is loaded on its own and every entity's registry entry and
state are compared with ``snapshots/test_snapshots.ambr``, so an unintended
change to an entity (its id, name, device class, unit, attributes, device)
shows in review. Update them on purpose with ``--snapshot-update``.

Values that depend on when the test runs (the quarter-hour's average and
projection, the month's peak, the next window's start, counters, times) are
replaced by ``<varies>`` before they are compared; their presence, unit and
attributes are still checked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime
import re
from typing import Any
from unittest.mock import PropertyMock, patch

from homeassistant.config_entries import ConfigSubentryData
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.entity import Entity
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

from custom_components.stroomwijs.charger import CONF_OCPP_HOST, CONF_OCPP_PORT
from custom_components.stroomwijs.const import CONF_OPTIMISER_MODE, DOMAIN
from custom_components.stroomwijs.diagnostics import (
    async_get_config_entry_diagnostics,
)
from custom_components.stroomwijs.limits_flow import (
    CONF_END,
    CONF_IMPORT_W,
    CONF_LABEL,
    CONF_LIMIT_KIND,
    CONF_START,
    KIND_WINDOW,
    SUBENTRY_GRID_LIMIT,
)
from tests.engine.meter.telegrams import real

from .charger_support import ocpp_subentry
from .p1_support import network_entry, p1_server, until

ENTRY_ID = "01JSNAPSH0TH0USEH01D000000"
CHARGER_ID = "01JSNAPSH0TCHARGER00000000"
WINDOW_ID = "01JSNAPSH0TW1ND0W000000000"
VARIES = "<varies>"
VARYING_STATES = frozenset(
    {
        "sensor.thuis_p1_meter_quarter_hour_average_import",
        "sensor.thuis_p1_meter_quarter_hour_projection",
        "sensor.thuis_p1_meter_monthly_peak",
        "sensor.thuis_p1_meter_monthly_peak_time",
        "sensor.thuis_next_limit_start",
        "sensor.thuis_import_limit",
        "sensor.thuis_limit_source",
        "sensor.thuis_grid_headroom",
        "sensor.thuis_next_limit",
        "sensor.thuis_export_limit",
        "binary_sensor.thuis_grid_limit_active",
    }
)
"""States that depend on the time of day the test runs (the window is 16-21)."""
VARYING_ATTRIBUTES = frozenset({"until", "source", "label", "curtailed"})
PLATFORMS = [
    Platform.SENSOR,
    Platform.BINARY_SENSOR,
    Platform.NUMBER,
    Platform.SWITCH,
    Platform.SELECT,
    Platform.BUTTON,
    Platform.EVENT,
    Platform.DATETIME,
]
_ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d")


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets; pytest-socket still limits connections to 127.0.0.1."""


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Use Home Assistant's serializer (ids and times become ANY)."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture
def entity_registry_enabled_by_default() -> Iterator[None]:
    """Enable every entity, also those off by default (as core's fixture does)."""
    with patch.object(
        Entity,
        "entity_registry_enabled_default",
        new_callable=PropertyMock,
        return_value=True,
    ):
        yield


def _window() -> ConfigSubentryData:
    return ConfigSubentryData(
        data={
            CONF_LIMIT_KIND: KIND_WINDOW,
            CONF_LABEL: "evening",
            CONF_START: "16:00",
            CONF_END: "21:00",
            CONF_IMPORT_W: 6_000,
        },
        subentry_type=SUBENTRY_GRID_LIMIT,
        title="Evening",
        unique_id=None,
        subentry_id=WINDOW_ID,
    )


@asynccontextmanager
async def _household(
    hass: HomeAssistant, platforms: list[Platform]
) -> AsyncIterator[MockConfigEntry]:
    async with p1_server([real("telegram_v5.txt")]) as server:
        base = network_entry(server)
        charger = ocpp_subentry("garage", capacity_kwh=60)
        charger["subentry_id"] = CHARGER_ID
        entry = MockConfigEntry(
            domain=DOMAIN,
            entry_id=ENTRY_ID,
            title="Thuis",
            version=1,
            minor_version=4,
            data=dict(base.data),
            options={
                CONF_OCPP_HOST: "127.0.0.1",
                CONF_OCPP_PORT: 0,
                CONF_OPTIMISER_MODE: "off",
            },
            subentries_data=[charger, _window()],
        )
        entry.add_to_hass(hass)
        with patch("custom_components.stroomwijs.integration.PLATFORMS", platforms):
            assert await hass.config_entries.async_setup(entry.entry_id)
            await hass.async_block_till_done()
        coordinator = entry.runtime_data.meter_coordinator
        assert coordinator is not None
        await until(lambda: coordinator.data is not None)
        try:
            yield entry
        finally:
            assert await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_block_till_done()


def _steady(state: State) -> dict[str, Any]:
    attributes = {
        key: VARIES if key in VARYING_ATTRIBUTES and value else value
        for key, value in state.attributes.items()
    }
    value = state.state
    if state.entity_id in VARYING_STATES or (
        state.domain in {"event", "button"} and value != "unavailable"
    ):
        value = VARIES
    return {"entity_id": state.entity_id, "state": value, "attributes": attributes}


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize("platform", PLATFORMS)
async def test_entities_match_their_snapshot(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
    snapshot: SnapshotAssertion,
    platform: Platform,
) -> None:
    """Every entity of the platform: registry entry, device and state."""
    async with _household(hass, [platform]) as entry:
        entries = sorted(
            er.async_entries_for_config_entry(entity_registry, entry.entry_id),
            key=lambda item: item.entity_id,
        )
        assert entries
        for item in entries:
            assert item.domain == platform.value
            assert item == snapshot(name=f"{item.entity_id}-entry")
            device = device_registry.async_get(item.device_id or "")
            assert device is not None
            assert {
                "name": device.name,
                "manufacturer": device.manufacturer,
                "model": device.model,
                "via_device": None
                if device.via_device_id is None
                else device_registry.async_get(device.via_device_id).name,  # type: ignore[union-attr]
            } == snapshot(name=f"{item.entity_id}-device")
            state = hass.states.get(item.entity_id)
            assert state is not None, item.entity_id
            assert _steady(state) == snapshot(name=f"{item.entity_id}-state")


def _normalised(value: Any, key: str = "") -> Any:  # noqa: ANN401 - any JSON value
    """Replace what depends on the time the test runs."""
    if key in VARYING_KEYS:
        return VARIES
    if isinstance(value, dict):
        return {k: _normalised(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalised(v) for v in value]
    if isinstance(value, datetime) or (
        isinstance(value, str) and _ISO_TIME.match(value)
    ):
        return VARIES
    return value


VARYING_KEYS = frozenset(
    {
        "tcp_port",
        "stats",
        "quarter",
        "quarter_hour",
        "month_peak",
        "recent",
        "interventions",
        "measured_w",
        "upcoming",
        "effective",
        "import_limit_w",
        "limit_source",
        "curtailed",
        "snapshot",
        "last_heard",
        "solve_time_s",
    }
)
"""Diagnostics keys whose values depend on when the test runs."""


async def test_diagnostics_match_their_snapshot(
    hass: HomeAssistant, snapshot: SnapshotAssertion
) -> None:
    """The diagnostics of the household, redacted, against their snapshot."""
    async with _household(hass, PLATFORMS) as entry:
        diagnostics = await async_get_config_entry_diagnostics(hass, entry)
        assert _normalised(diagnostics) == snapshot
