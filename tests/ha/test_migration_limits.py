"""Migration 1.3 -> 1.4: grid limits kept in the options become subentries."""

from __future__ import annotations

from datetime import time

from homeassistant.config_entries import ConfigEntryState, ConfigSubentryData
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.stroomwijs.const import CONF_FUSE_A, CONF_PHASES, DOMAIN
from custom_components.stroomwijs.guard_glue import (
    CONF_CAPACITY_TARGET,
    CONF_DIM_DEVICES,
    CONF_DIM_ENTITY,
    CONF_EAN,
    CONF_FAILSAFE_IMPORT_W,
    CONF_LIMIT_WINDOWS,
    CONF_OPENADR_CLIENT_ID,
    CONF_OPENADR_CLIENT_SECRET,
    CONF_OPENADR_URL,
    CONF_SIGNAL_TIMEOUT_MIN,
)
from custom_components.stroomwijs.limits_flow import SUBENTRY_GRID_LIMIT

from .p1_support import setup, unload


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets (the OpenADR VEN polls a closed port on 127.0.0.1)."""


async def test_option_limits_become_subentries(hass: HomeAssistant) -> None:
    """Windows, OpenADR, capacity and dim move from the options to subentries."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Thuis",
        version=1,
        minor_version=3,
        data={CONF_PHASES: 3, CONF_FUSE_A: 25.0},
        options={
            "update_interval": 7,
            CONF_LIMIT_WINDOWS: [
                {"start": "16:00", "end": "21:00", "import_w": 4000, "label": "avond"}
            ],
            CONF_OPENADR_URL: "http://127.0.0.1:9/openadr3",
            CONF_OPENADR_CLIENT_ID: "ven",
            CONF_OPENADR_CLIENT_SECRET: "geheim",
            CONF_EAN: "871685900012345678",
            CONF_FAILSAFE_IMPORT_W: 3000,
            CONF_SIGNAL_TIMEOUT_MIN: 20,
            CONF_CAPACITY_TARGET: 2500,
            CONF_DIM_ENTITY: "binary_sensor.dim",
            CONF_DIM_DEVICES: 2,
        },
    )
    await setup(hass, entry)
    assert entry.state is ConfigEntryState.LOADED
    assert (entry.version, entry.minor_version) == (1, 4)
    assert entry.options == {"update_interval": 7}
    subentries = {
        sub.data["kind"]: sub
        for sub in entry.subentries.values()
        if sub.subentry_type == SUBENTRY_GRID_LIMIT
    }
    assert set(subentries) == {"window", "openadr", "capacity", "dim"}
    assert subentries["window"].title == "avond 16:00-21:00"
    assert subentries["openadr"].data["client_secret"] == "geheim"  # noqa: S105
    assert subentries["openadr"].unique_id == (
        "openadr_871685900012345678_http://127.0.0.1:9/openadr3"
    )
    assert subentries["openadr"].data["failsafe_import_w"] == 3000
    assert subentries["openadr"].data["signal_timeout_min"] == 20
    assert subentries["capacity"].data["budget_w"] == 2500
    assert subentries["dim"].data["devices"] == 2
    # The household was built from them.
    config = entry.runtime_data.household.config
    kinds = {limit.kind: limit for limit in config.limits}
    assert set(kinds) == {"window", "openadr", "capacity", "dim"}
    assert kinds["window"].start == time(16)
    assert kinds["window"].import_w == 4000
    assert config.secret(f"limits.{kinds['openadr'].id}.client_secret") == "geheim"
    assert kinds["capacity"].budget_w == 2500
    assert kinds["dim"].entity == "binary_sensor.dim"
    await unload(hass, entry)


async def test_a_limit_already_a_subentry_is_not_added_twice(
    hass: HomeAssistant,
) -> None:
    """An option limit whose subentry exists already is not added again."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Thuis",
        version=1,
        minor_version=3,
        data={CONF_PHASES: 3, CONF_FUSE_A: 25.0},
        options={CONF_CAPACITY_TARGET: True},
        subentries_data=[
            ConfigSubentryData(
                data={"kind": "capacity", "budget_w": 3000},
                subentry_type=SUBENTRY_GRID_LIMIT,
                title="Capacity tariff",
                unique_id="capacity",
            )
        ],
    )
    await setup(hass, entry)
    assert entry.minor_version == 4
    assert len(entry.subentries) == 1
    assert entry.options == {}
    assert entry.runtime_data.household.config.limits[0].budget_w == 3000
    await unload(hass, entry)
