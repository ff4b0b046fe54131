"""Devices added or removed while the household runs: no reload, no interruption.

The household (its meter on a P1 stream on loopback, its guard) keeps
running while a boiler on a HomeWizard Energy Socket (the socket simulator,
real HTTP on 127.0.0.1) is added as a device subentry and removed again:
the device and its entities appear and disappear, the household object,
its meter and its guard stay the same.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from homeassistant.config_entries import ConfigEntryState, ConfigSubentry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.stroomwijs.const import DOMAIN
from custom_components.stroomwijs.device_flow import CONF_DRIVER, SUBENTRY_DEVICE
from custom_components.stroomwijs.engine.drivers.boiler import Boiler
from custom_components.stroomwijs.engine.simulate.homewizard_socket import (
    HomeWizardSocketSim,
    fixed_load,
)
from custom_components.stroomwijs.engine.simulate.p1 import (
    TelegramValuesIn,
    build_telegram,
)

from .charger_support import setup_loaded
from .p1_support import network_entry, p1_server, until

SERIAL = "5c2fafabc123"


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets; pytest-socket still limits connections to 127.0.0.1."""


def _telegram(_index: int) -> bytes:
    return build_telegram(
        TelegramValuesIn(
            timestamp=datetime.now(UTC),
            import_w=600,
            phase_import_w=(200, 200, 200),
            phase_currents_a=(1, 1, 1),
        )
    )


@asynccontextmanager
async def _household(hass: HomeAssistant) -> AsyncIterator[MockConfigEntry]:
    async with p1_server(_telegram, interval=0.2) as server:
        base = network_entry(server)
        entry = MockConfigEntry(domain=DOMAIN, title="Thuis", data=dict(base.data))
        await setup_loaded(hass, entry)
        try:
            yield entry
        finally:
            await hass.async_block_till_done()
            await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_block_till_done()


def _socket_boiler(port: int) -> dict[str, Any]:
    return {
        "driver": "homewizard_socket",
        "socket": {"host": "127.0.0.1", "port": port, "serial": SERIAL},
        "device": {"driver": "boiler", "volume_l": 80, "power_w": 2000},
    }


def _entities(hass: HomeAssistant, entry: MockConfigEntry, sid: str) -> list[str]:
    return [
        e.entity_id
        for e in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
        if e.config_subentry_id == sid
    ]


async def test_a_device_comes_and_goes_without_a_reload(  # noqa: PLR0915
    hass: HomeAssistant,
) -> None:
    """Added: driven and shown at once; removed: gone; the meter never stops."""
    sim = HomeWizardSocketSim(fixed_load(2000.0), serial=SERIAL, power_on=True)
    await sim.async_start()
    try:
        async with _household(hass) as entry:
            runtime = entry.runtime_data
            household = runtime.household
            assert household is not None
            meter, guard, feed = household.meter, household.guard, household.feed
            assert meter is not None
            readings = []
            stop = meter.subscribe(readings.append)
            hass.config_entries.async_add_subentry(
                entry,
                ConfigSubentry(
                    data=MappingProxyType({CONF_DRIVER: _socket_boiler(sim.port)}),
                    subentry_type=SUBENTRY_DEVICE,
                    title="Boiler",
                    unique_id=f"homewizard_socket_{SERIAL}",
                ),
            )
            sid = next(iter(entry.subentries))
            await hass.async_block_till_done()
            await until(lambda: len(_entities(hass, entry, sid)) >= 5, limit=10)
            # The same household, meter, feed and guard: nothing restarted.
            assert entry.state is ConfigEntryState.LOADED
            assert entry.runtime_data is runtime
            assert runtime.household is household
            assert (household.meter, household.guard, household.feed) == (
                meter,
                guard,
                feed,
            )
            driver = household.devices.drivers[sid]
            assert isinstance(driver, Boiler)
            assert sid in {gd.device_id for gd in guard.devices}
            device = dr.async_get(hass).async_get_device_by_identifier(
                (DOMAIN, sid), entry.entry_id
            )
            assert device is not None
            assert device.via_device_id == runtime.household_device_id
            assert device.manufacturer == "HomeWizard"
            power = er.async_get(hass).async_get_entity_id(
                "sensor", DOMAIN, f"{sid}_driver_power"
            )
            assert power is not None
            household.notify()
            await hass.async_block_till_done()
            assert float(hass.states.get(power).state) == pytest.approx(2000.0)
            # Controlled through the household as any device.
            await driver.async_set_power(0.0)
            assert not sim.power_on
            # The meter went on reading all along.
            seen = len(readings)
            await until(lambda: len(readings) > seen, limit=5)

            hass.config_entries.async_remove_subentry(entry, sid)
            await hass.async_block_till_done()
            # Handed back: switched on, its thermostat decides again.
            await until(lambda: sim.power_on, limit=10)
            await hass.async_block_till_done()
            assert sid not in household.devices.drivers
            assert sid not in {gd.device_id for gd in guard.devices}
            assert _entities(hass, entry, sid) == []
            assert hass.states.get(power) is None
            assert (
                dr.async_get(hass).async_get_device_by_identifier(
                    (DOMAIN, sid), entry.entry_id
                )
                is None
            )
            assert entry.runtime_data is runtime
            assert household.meter is meter
            seen = len(readings)
            await until(lambda: len(readings) > seen, limit=5)
            stop()
    finally:
        await sim.async_stop()


async def test_a_device_that_cannot_be_built_reloads_and_says_why(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """A stored mapping the drivers refuse: the household reloads (and fails)."""
    async with _household(hass) as entry:
        household = entry.runtime_data.household
        hass.config_entries.async_add_subentry(
            entry,
            ConfigSubentry(
                data=MappingProxyType({CONF_DRIVER: {"driver": "toaster"}}),
                subentry_type=SUBENTRY_DEVICE,
                title="Toaster",
                unique_id=None,
            ),
        )
        await hass.async_block_till_done()
        await until(lambda: entry.state is not ConfigEntryState.LOADED, limit=10)
        await hass.async_block_till_done()
        assert "Toaster could not be added" in caplog.text
        assert entry.state is ConfigEntryState.SETUP_ERROR
        assert household.devices.drivers == {}


async def test_a_limit_added_still_reloads_the_household(hass: HomeAssistant) -> None:
    """Grid limits and chargers are not hot: the household is built again."""
    async with _household(hass) as entry:
        household = entry.runtime_data.household
        hass.config_entries.async_add_subentry(
            entry,
            ConfigSubentry(
                data=MappingProxyType(
                    {
                        "kind": "window",
                        "start": "16:00",
                        "end": "21:00",
                        "import_w": 4000,
                    }
                ),
                subentry_type="grid_limit",
                title="Evening",
                unique_id=None,
            ),
        )
        await hass.async_block_till_done()
        await until(
            lambda: (
                entry.state is ConfigEntryState.LOADED
                and entry.runtime_data.household is not household
            ),
            limit=10,
        )
