"""Chargers inside Home Assistant, with real OCPP and Modbus peers on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

from homeassistant.config_entries import ConfigEntryState, ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.stroomwijs.charger import (
    CONF_CHARGER_ID,
    CONF_KIND,
    CONF_OCPP_HOST,
    CONF_OCPP_PORT,
    KIND_OCPP,
    KIND_QUASAR,
    SUBENTRY_CHARGER,
)
from custom_components.stroomwijs.const import CONF_FUSE_A, CONF_PHASES, DOMAIN
from custom_components.stroomwijs.engine.simulate.ocpp_chargepoint import (
    SIM_FIRMWARE,
    OcppSimulator,
    SimCar,
)
from custom_components.stroomwijs.engine.simulate.quasar import QuasarSimulator
from tests.engine.drivers.conftest import wait_for

from .charger_support import ocpp_subentry, setup_loaded


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets; pytest-socket still limits connections to 127.0.0.1."""


@pytest.fixture
async def sims() -> AsyncIterator[list[OcppSimulator]]:
    """Collect simulated charge points and disconnect them afterwards."""
    created: list[OcppSimulator] = []
    yield created
    for sim in created:
        await sim.async_disconnect()


def _household(*subentries: ConfigSubentryData) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title="Thuis",
        data={CONF_PHASES: 3, CONF_FUSE_A: 25.0},
        options={CONF_OCPP_HOST: "127.0.0.1", CONF_OCPP_PORT: 0},
        subentries_data=list(subentries),
    )


async def _setup(hass: HomeAssistant, entry: MockConfigEntry) -> str:
    await setup_loaded(hass, entry)
    csms = entry.runtime_data.chargers.csms
    assert csms is not None
    return csms.url


async def test_ocpp_charger_entities_and_services(
    hass: HomeAssistant, sims: list[OcppSimulator]
) -> None:
    """A V2X car appears with power, SoC and state; services drive the charger."""
    entry = _household(ocpp_subentry("garage"))
    url = await _setup(hass, entry)
    assert hass.states.get("binary_sensor.garage_connectivity").state == "off"

    sim = OcppSimulator("garage", version="ocpp2.1")
    sims.append(sim)
    await sim.async_connect(url)
    await sim.async_plug_in(SimCar(soc=0.55, max_discharge_w=7000.0))
    charger = entry.runtime_data.chargers.csms.chargers["garage"]
    await wait_for(lambda: charger.discharge_allowed)
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.garage_connectivity").state == "on"
    assert hass.states.get("binary_sensor.garage_car_plugged_in").state == "on"
    assert float(hass.states.get("sensor.garage_car_charge").state) == 55.0
    # Plugged in and not charging: the station reports EVConnected, and once
    # the central system's first zero setpoint lands it may already report
    # SuspendedEVSE; which one this read sees depends on message timing.
    assert hass.states.get("sensor.garage_charger_state").state in {
        "connected",
        "suspended_evse",
    }

    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, next(iter(entry.subentries))), entry.entry_id
    )
    assert device is not None
    # The device shows what the BootNotification said, under the household.
    assert (
        device.manufacturer,
        device.model,
        device.serial_number,
        device.sw_version,
    ) == ("Stroomwijs", "Sim2", "SIM-garage", SIM_FIRMWARE)
    assert device.via_device_id == entry.runtime_data.household_device_id
    await hass.services.async_call(
        DOMAIN, "boost", {"device_id": device.id}, blocking=True
    )
    assert sim.station.tx_profile is not None
    assert sim.station.tx_profile.setpoint == 11_000.0
    await sim.async_step(60.0)
    await wait_for(lambda: charger.power_w == 11_000.0)
    await hass.async_block_till_done()
    assert float(hass.states.get("sensor.garage_charging_power").state) == 11_000.0
    assert float(hass.states.get("sensor.garage_setpoint").state) == 11_000.0
    assert hass.states.get("sensor.garage_charger_state").state == "charging"

    await hass.services.async_call(
        DOMAIN, "pause", {"device_id": device.id}, blocking=True
    )
    assert sim.station.tx_profile.setpoint == 0.0

    departure = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    await hass.services.async_call(
        DOMAIN,
        "set_departure",
        {"device_id": device.id, "departure": departure.isoformat(), "target_soc": 90},
        blocking=True,
    )
    assert charger.departure.departure == departure
    assert charger.departure.target_soc == pytest.approx(0.9)
    assert float(hass.states.get("number.garage_target_charge").state) == 90.0

    await hass.services.async_call(
        "switch",
        "turn_off",
        {"entity_id": "switch.garage_discharge_allowed"},
        blocking=True,
    )
    assert not charger.discharge_allowed
    assert charger.power_range.min_w == 0.0

    await hass.services.async_call(
        "number",
        "set_value",
        {"entity_id": "number.garage_minimum_charge", "value": 40},
        blocking=True,
    )
    assert charger.departure.min_soc == pytest.approx(0.4)

    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(
            DOMAIN, "boost", {"device_id": "no-such-device"}, blocking=True
        )

    await sim.async_disconnect()
    await wait_for(lambda: not charger.available)
    with pytest.raises(HomeAssistantError, match="offline"):
        await hass.services.async_call(
            DOMAIN, "boost", {"device_id": device.id}, blocking=True
        )
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_unknown_charger_starts_discovery_and_gets_control_once_confirmed(
    hass: HomeAssistant, sims: list[OcppSimulator]
) -> None:
    """A new charger id is only Pending until the user confirms the discovery."""
    entry = _household()
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry, options={CONF_OCPP_HOST: "127.0.0.1", CONF_OCPP_PORT: 0}
    )
    url = await _setup(hass, entry)
    sim = OcppSimulator("newbox", version="ocpp2.0.1")
    sims.append(sim)
    await sim.async_connect(url)
    assert sim.boot_status == "Pending"
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert len(flows) == 1
    assert flows[0]["step_id"] == "ocpp_confirm"
    assert sim.station.profiles_received == []

    result = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"],
        {
            "phases": "3",
            "max_current_a": 16,
            "min_current_a": "8",
            "minimum_instead_of_pause": False,
        },
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "charger_added"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    [sub] = entry.subentries.values()
    assert sub.data[CONF_CHARGER_ID] == "newbox"
    assert sub.data["min_current_a"] == 8.0

    url = entry.runtime_data.chargers.csms.url  # the reloaded server
    await sim.async_wait_closed()
    await sim.async_connect(url)
    assert sim.boot_status == "Accepted"
    charger = entry.runtime_data.chargers.csms.chargers["newbox"]
    await wait_for(lambda: charger.state.applied_limit_w is not None)
    assert sim.station.station_max is not None
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_subentry_flow_adds_ocpp_charger_and_rejects_duplicates(
    hass: HomeAssistant,
) -> None:
    """The user adds an OCPP charger from the household; the same id twice aborts."""
    entry = _household()
    await _setup(hass, entry)

    async def add(charger_id: str) -> object:
        result = await hass.config_entries.subentries.async_init(
            (entry.entry_id, SUBENTRY_CHARGER), context={"source": "user"}
        )
        assert result["type"] is FlowResultType.MENU
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"], {"next_step_id": KIND_OCPP}
        )
        assert result["type"] is FlowResultType.FORM
        return await hass.config_entries.subentries.async_configure(
            result["flow_id"],
            {
                CONF_CHARGER_ID: charger_id,
                "phases": "1",
                "max_current_a": 32,
                "min_current_a": "6",
                "minimum_instead_of_pause": True,
                "capacity_kwh": 64,
            },
        )

    result = await add("carport")
    assert result["type"] is FlowResultType.CREATE_ENTRY  # type: ignore[index]
    await hass.async_block_till_done()
    [sub] = entry.subentries.values()
    assert sub.data["phases"] == 1
    assert sub.data["capacity_kwh"] == 64.0
    assert entry.state is ConfigEntryState.LOADED
    assert "carport" in entry.runtime_data.chargers.csms.chargers
    result = await add("carport")
    assert result["type"] is FlowResultType.ABORT  # type: ignore[index]
    assert result["reason"] == "already_configured"  # type: ignore[index]

    devices = dr.async_get(hass)
    assert (
        devices.async_get_device_by_identifier(
            (DOMAIN, sub.subentry_id), entry.entry_id
        )
        is not None
    )

    # Removing the charger takes its control away at once (the entry reloads)
    # and leaves no stale device behind.
    hass.config_entries.async_remove_subentry(entry, sub.subentry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert "carport" not in entry.runtime_data.chargers.csms.chargers
    assert (
        devices.async_get_device_by_identifier(
            (DOMAIN, sub.subentry_id), entry.entry_id
        )
        is None
    )
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_quasar_subentry_reports_power_and_state(hass: HomeAssistant) -> None:
    """A Quasar subentry polls the (simulated) charger over Modbus TCP."""
    quasar = QuasarSimulator(soc=0.7)
    port = await quasar.async_start("127.0.0.1", 0)
    try:
        entry = MockConfigEntry(
            domain=DOMAIN,
            title="Thuis",
            data={CONF_PHASES: 3, CONF_FUSE_A: 25.0},
            subentries_data=[
                ConfigSubentryData(
                    data={CONF_KIND: KIND_QUASAR, "host": "127.0.0.1", "port": port},
                    subentry_type=SUBENTRY_CHARGER,
                    title="Quasar",
                    unique_id=f"quasar_127.0.0.1:{port}",
                )
            ],
        )
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        assert hass.states.get("binary_sensor.quasar_connectivity").state == "on"
        assert float(hass.states.get("sensor.quasar_car_charge").state) == 70.0
        assert hass.states.get("sensor.quasar_charger_state").state == "waiting_for_car"
        assert hass.states.get("sensor.quasar_session_energy") is None
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
    finally:
        await quasar.async_stop()
