"""A gateway entry's inputs and its meter when the gateway has no reading.

A real ``stroomwijs gateway`` process and Home Assistant as its client (the
fixtures of ``test_gateway_remote.py``): price and PV entities whose
attributes cannot be read send nothing, readable ones reach the gateway's
planner; a meter that gives no reading is waited for, then said why.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.stroomwijs import integration
from custom_components.stroomwijs.charger import CONF_OCPP_HOST, CONF_OCPP_PORT
from custom_components.stroomwijs.const import CONF_PRICE_ENTITY, CONF_PV_ENTITY
from custom_components.stroomwijs.engine.household import DeviceConfig
from custom_components.stroomwijs.engine.simulate.p1 import P1TelegramServer
from custom_components.stroomwijs.remote_household import RemoteHousehold
from tests.gateway.conftest import GatewayProcess, free_port

from .test_gateway_remote import (  # noqa: F401 - fixtures
    PRICES,
    _entry,
    _prices,
    _until,
    gateway,
    loopback_sockets,
    ocpp_port,
    p1,
)

PV = "sensor.solar_forecast"


async def _setup(
    hass: HomeAssistant, entry: MockConfigEntry, options: dict[str, Any] | None = None
) -> RemoteHousehold:
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry,
        options={
            CONF_PRICE_ENTITY: PRICES,
            CONF_OCPP_HOST: "127.0.0.1",
            CONF_OCPP_PORT: free_port(),
            **(options or {}),
        },
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    remote = entry.runtime_data.remote
    assert remote is not None
    return remote


def _pv(kw: float) -> dict[str, Any]:
    """Solcast style: 24 hours of half-hour estimates from this hour."""
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return {
        "detailedForecast": [
            {
                "period_start": (start + timedelta(minutes=30 * i)).isoformat(),
                "pv_estimate": kw,
            }
            for i in range(48)
        ]
    }


async def test_unreadable_inputs_send_nothing_readable_ones_reach_the_plan(
    hass: HomeAssistant,
    p1: P1TelegramServer,  # noqa: F811
    gateway: GatewayProcess,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Bad price and PV attributes: logged, nothing sent; good ones planned."""
    caplog.set_level(logging.INFO, "custom_components.stroomwijs")
    hass.states.async_set(PRICES, "?", {"raw_today": "nonsense"})
    hass.states.async_set(PV, "?", {"detailedForecast": [{"period_start": "x"}]})
    entry = _entry(p1, gateway)
    remote = await _setup(hass, entry, {CONF_PV_ENTITY: PV})
    await _until(lambda: remote.available)
    assert f"No prices in {PRICES} yet" in caplog.text
    assert f"No PV forecast in {PV} yet" in caplog.text
    await _until(lambda: bool(remote.plan_rows()))
    # The tariff's fixed price until a price list arrives; nothing is kept
    # to send again on a reconnect either.
    fixed = remote.plan_rows()[0]["price"]
    assert set(remote._inputs) == set()

    # Readable prices and PV: sent (and kept for the next connect); the
    # gateway plans with the new prices (the all-in price of 0.20 spot).
    hass.states.async_set(PRICES, "0.2", _prices(0.20))
    hass.states.async_set(PV, "6.0", _pv(6.0))
    await hass.async_block_till_done()
    assert set(remote._inputs) == {"set_prices", "set_pv_forecast"}
    pv = remote._inputs["set_pv_forecast"]["forecast"]
    assert (pv["step_minutes"], pv["values"][:2]) == (30.0, [6.0, 6.0])
    for _ in range(20):
        if remote.plan_rows()[0]["price"] != fixed:
            break
        await remote.async_plan_now()
        await asyncio.sleep(0.5)
    assert remote.plan_rows()[0]["price"] != fixed
    assert len({row["price"] for row in remote.plan_rows()}) == 1, "one price all day"
    # PV gone from the entity (unavailable): unreadable again, nothing sent.
    hass.states.async_set(PV, "unavailable", {})
    await hass.async_block_till_done()
    assert caplog.text.count(f"No PV forecast in {PV} yet") == 2
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_no_reading_from_the_gateway_is_waited_for_then_said(
    hass: HomeAssistant,
    p1: P1TelegramServer,  # noqa: F811
    gateway: GatewayProcess,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The dongle is silent: set-up waits, then goes on; the reason is given."""
    monkeypatch.setattr(integration, "FIRST_CONNECT_S", 3.0)
    p1.pause()  # connected, but no telegram comes
    entry = _entry(p1, gateway)
    remote = await _setup(hass, entry)
    assert entry.state is ConfigEntryState.LOADED
    assert remote.reading() is None
    assert (
        "No meter reading from the gateway within 3 s: "
        "the gateway's household does not run"
    ) in caplog.text
    assert remote.meter_problem() == "the gateway's household does not run"
    assert await remote.async_wait_for_reading(0.2) is None
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    await asyncio.sleep(0)


BOILER = DeviceConfig(
    id="boiler",
    kind="driver",
    name="Boiler",
    driver={
        "driver": "boiler",
        "control": "switch",
        "entity_id": "switch.boiler",
        "power_entity": "sensor.boiler_power",
        "volume_l": 80,
        "power_w": 2000,
    },
)


async def test_devices_added_and_removed_while_the_gateway_runs(
    hass: HomeAssistant,
    p1: P1TelegramServer,  # noqa: F811
    gateway: GatewayProcess,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A refused device changes nothing; an added one is followed, then gone."""
    hass.states.async_set("switch.boiler", "on")
    hass.states.async_set("sensor.boiler_power", "1980", {"unit_of_measurement": "W"})
    entry = _entry(p1, gateway)
    remote = await _setup(hass, entry)
    await _until(lambda: remote.available)
    before = set(remote.entity_ids)
    with pytest.raises(KeyError):
        await remote.async_remove_device("boiler")

    # A charger is no driver device: refused before anything is sent.
    car = DeviceConfig(id="car", kind="ocpp_charger", name="Car", charger_id="ev9")
    with pytest.raises(ValueError, match=r"devices\.car\.driver\.driver: must be"):
        await remote.async_add_device(car)
    assert set(remote.entity_ids) == before
    assert "car" not in remote.drivers

    # A password the boiler has no use for: the gateway refuses the device.
    with pytest.raises(ValueError, match="no setting uses it"):
        await remote.async_add_device(BOILER, {"devices.boiler.password": "x"})
    assert set(remote.entity_ids) == before
    assert "boiler" not in remote.drivers

    # Another device's secret is not sent along.
    await remote.async_add_device(BOILER, {"devices.shelly.password": "y"})
    assert {"switch.boiler", "sensor.boiler_power"} <= set(remote.entity_ids)
    assert remote.config.device("boiler") == BOILER
    assert remote.config.secrets == {}
    await _until(lambda: remote.drivers["boiler"].available)
    await _until(lambda: remote.drivers["boiler"].power_w == pytest.approx(1980.0))
    # Twice: the gateway refuses it; what Home Assistant follows is unchanged.
    following = set(remote.entity_ids)
    with pytest.raises(ValueError, match="in the household already"):
        await remote.async_add_device(BOILER)
    assert set(remote.entity_ids) == following

    await remote.async_remove_device("boiler")
    assert "boiler" not in remote.drivers
    assert remote.config.device("boiler") is None
    assert set(remote.entity_ids) == before

    # An add-on too old for devices while it runs: said, nothing sent.
    await remote.async_add_device(BOILER)
    monkeypatch.setattr(type(remote.client), "features", frozenset())
    with pytest.raises(ValueError, match="cannot add a device while it runs"):
        await remote.async_add_device(replace(BOILER, id="other"))
    with pytest.raises(ValueError, match="cannot remove a device while it runs"):
        await remote.async_remove_device("boiler")
    assert "boiler" in remote.drivers
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
