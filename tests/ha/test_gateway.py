"""Home Assistant hands a household to a gateway process and survives its own stop.

A real ``stroomwijs gateway`` process, a P1 telegram stream on loopback that
shows the house plus what the car draws (a closed loop), an OCPP 2.1 charge
point with a car, and Home Assistant with the integration:

1. the add-on's discovery (``async_step_hassio``) moves the household into
   the gateway; the entry reloads as a client and pushes its document;
2. a manual limit set on Home Assistant's entity reaches the gateway and
   the car;
3. Home Assistant goes away (the entry is unloaded): the gateway holds the
   limit on every telegram, as the P1 stream shows;
4. Home Assistant comes back: it reattaches without pushing the document
   again (no household restart, at most one new profile per charger) and
   the entities show the gateway's values again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
import time
from typing import Any

from homeassistant.config_entries import SOURCE_HASSIO, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.helpers.service_info.hassio import HassioServiceInfo
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import yaml

from custom_components.stroomwijs.charger import CONF_OCPP_HOST, CONF_OCPP_PORT
from custom_components.stroomwijs.const import DOMAIN
from custom_components.stroomwijs.engine.simulate.ocpp_chargepoint import (
    OcppSimulator,
    SimCar,
    async_run,
)
from custom_components.stroomwijs.engine.simulate.p1 import P1TelegramServer
from custom_components.stroomwijs.remote_household import CONF_GATEWAY, CONF_HANDOVER
from tests.gateway.conftest import (
    GatewayProcess,
    api_client,
    free_port,
    house_telegram,
)

from .charger_support import ocpp_subentry
from .p1_support import network_entry

HOUSE_W = 1500.0
LIMIT_W = 6000.0
HANDED_OVER_W = 9000.0
AWAY_S = 30.0
"""How long Home Assistant stays away while the gateway holds the limit."""
TOLERANCE_W = 50.0


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets; everything here binds 127.0.0.1."""


async def _until(check: Callable[[], bool], limit_s: float = 60.0) -> None:
    async with asyncio.timeout(limit_s):
        while not check():  # noqa: ASYNC110 - state of other tasks and processes
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def _closed_loop() -> AsyncIterator[tuple[P1TelegramServer, list[OcppSimulator]]]:
    """Serve a P1 stream of the house plus the car's power, a telegram a second."""
    holder: list[OcppSimulator] = []

    def _frame(_index: int) -> bytes:
        car_w = holder[0].station.power_w if holder else 0.0
        return house_telegram(HOUSE_W + max(car_w, 0.0))

    server = P1TelegramServer(_frame, interval=1.0)
    await server.start()
    try:
        yield server, holder
    finally:
        await server.stop()


@contextlib.asynccontextmanager
async def _charge_point(url: str, holder: list[OcppSimulator]) -> AsyncIterator[None]:
    sim = OcppSimulator("ev1", version="ocpp2.1")
    holder.append(sim)
    stop = asyncio.Event()
    car = SimCar(
        capacity_kwh=60.0,
        soc=0.3,
        max_charge_w=11_000.0,
        max_discharge_w=11_000.0,
        target_soc=0.9,
    )
    task = asyncio.get_running_loop().create_task(
        async_run(sim, url, stop=stop, tick_s=0.5, car=car)
    )
    try:
        yield
    finally:
        stop.set()
        async with asyncio.timeout(15):
            await task


def _state(hass: HomeAssistant, entity_id: str) -> str | None:
    state = hass.states.get(entity_id)
    return None if state is None else state.state


async def test_hand_over_then_home_assistant_stops_and_comes_back(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """The gateway holds the limit while HA is gone; HA reattaches quietly."""
    gateway_ocpp = free_port()
    async with _closed_loop() as (p1, holder):
        folder = tmp_path / "gw"
        folder.mkdir()
        document = folder / "household.yaml"
        document.write_text(
            yaml.safe_dump({"version": 1, "name": "Empty", "ocpp": {"enabled": True}}),
            encoding="utf-8",
        )
        gateway = GatewayProcess(
            config=document, state_dir=folder / "state", log=folder / "gateway.log"
        )
        await gateway.start(
            "--ocpp-host", "127.0.0.1", "--ocpp-port", str(gateway_ocpp)
        )
        try:
            await _scenario(hass, gateway, p1, holder, gateway_ocpp)
        finally:
            await gateway.terminate()


async def _scenario(  # noqa: PLR0915
    hass: HomeAssistant,
    gateway: GatewayProcess,
    p1: P1TelegramServer,
    holder: list[OcppSimulator],
    gateway_ocpp: int,
) -> None:
    # The household runs in Home Assistant first (its own OCPP port).
    entry: MockConfigEntry = network_entry(p1)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry,
        options={CONF_OCPP_HOST: "127.0.0.1", CONF_OCPP_PORT: free_port()},
    )
    hass.config_entries.async_add_subentry(entry, _subentry())
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.household is not None
    # A manual limit in force in Home Assistant goes along at the hand-over.
    await hass.services.async_call(
        "number",
        "set_value",
        {"entity_id": "number.thuis_manual_grid_limit", "value": HANDED_OVER_W},
        blocking=True,
    )

    # 1. The add-on announces itself; the user moves the household.
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_HASSIO},
        data=HassioServiceInfo(
            config={
                "host": "127.0.0.1",
                "port": gateway.api_port,
                "token": gateway.token,
            },
            name="Stroomwijs gateway",
            slug="local_stroomwijs",
            uuid="0123456789abcdef",
        ),
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "hassio_confirm"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"household": entry.entry_id}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "moved_to_gateway"
    await hass.async_block_till_done()
    assert entry.data[CONF_GATEWAY]["port"] == gateway.api_port
    await _until(lambda: entry.state is ConfigEntryState.LOADED)
    remote = entry.runtime_data.remote
    assert remote is not None
    assert entry.runtime_data.household is None
    assert remote.pushes == 1  # the gateway had another document
    assert CONF_HANDOVER not in entry.data  # the state went once

    async with (
        api_client(gateway.url, gateway.token) as observer,
        _charge_point(f"ws://127.0.0.1:{gateway_ocpp}/ocpp/", holder),
    ):
        await observer.request("subscribe")
        await observer.snapshot_where(
            lambda m: (
                m["household"]["name"] == "Thuis"
                and any(c["available"] for c in m["household"]["chargers"])
            ),
            limit_s=60,
        )
        sim = holder[0]
        # The same entities as in-process, fed by the gateway, with the
        # manual limit that was in force in Home Assistant.
        snapshot = (await observer.request("get_snapshot"))["result"]
        assert snapshot["household"]["limits"]["import_limit_w"] == HANDED_OVER_W
        assert snapshot["gateway"]["restored"]["manual_limit"]["import_w"] == (
            HANDED_OVER_W
        )
        await _until(lambda: _state(hass, "sensor.thuis_import_limit") == "9000")
        await _until(lambda: _state(hass, "binary_sensor.ev1_connectivity") == "on")
        await _until(lambda: _state(hass, "binary_sensor.ev1_car_plugged_in") == "on")
        registry = er.async_get(hass)
        entities = {
            e.entity_id
            for e in er.async_entries_for_config_entry(registry, entry.entry_id)
        }
        devices = {
            d.id
            for d in dr.async_entries_for_config_entry(
                dr.async_get(hass), entry.entry_id
            )
        }

        def _charger_model() -> str | None:
            device = dr.async_get(hass).async_get_device_by_identifier(
                (DOMAIN, next(iter(entry.subentries))), entry.entry_id
            )
            return None if device is None else device.model

        # The charger's boot reached its device through the gateway.
        await _until(lambda: _charger_model() not in {None, "OCPP charger"})

        # 2. A limit set in Home Assistant reaches the gateway and the car.
        await _until(lambda: sim.station.power_w > LIMIT_W, 60)
        await hass.services.async_call(
            "number",
            "set_value",
            {"entity_id": "number.thuis_manual_grid_limit", "value": LIMIT_W},
            blocking=True,
        )
        await _until(lambda: _state(hass, "sensor.thuis_import_limit") == "6000")
        assert _state(hass, "sensor.thuis_limit_source") == "manual"
        await _until(lambda: HOUSE_W + sim.station.power_w <= LIMIT_W + TOLERANCE_W)

        # 3. Home Assistant goes away; the gateway keeps the limit.
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
        gone = time.monotonic()
        grid: list[float] = []
        while time.monotonic() - gone < AWAY_S:
            await asyncio.sleep(1.0)
            grid.append(HOUSE_W + sim.station.power_w)
        assert grid
        assert max(grid) <= LIMIT_W + TOLERANCE_W, grid
        assert min(grid) > HOUSE_W  # the car kept charging, under the limit
        snapshot = await observer.request("get_snapshot")
        assert snapshot["result"]["household"]["limits"]["import_limit_w"] == LIMIT_W

        # 4. Home Assistant comes back: no push, no storm, entities resume.
        profiles_before = len(sim.station.profiles_received)
        back = time.monotonic()
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        await _until(lambda: _state(hass, "sensor.thuis_import_limit") == "6000")
        reattach_s = time.monotonic() - back
        remote = entry.runtime_data.remote
        assert remote is not None
        assert remote.pushes == 0
        await asyncio.sleep(5.0)
        new_profiles = len(sim.station.profiles_received) - profiles_before
        assert new_profiles <= 1, sim.station.profiles_received[profiles_before:]
        assert HOUSE_W + sim.station.power_w <= LIMIT_W + TOLERANCE_W
        assert not ir.async_get(hass).issues
        # No duplicate devices or entities after the reattach.
        assert {
            e.entity_id
            for e in er.async_entries_for_config_entry(registry, entry.entry_id)
        } == entities
        assert {
            d.id
            for d in dr.async_entries_for_config_entry(
                dr.async_get(hass), entry.entry_id
            )
        } == devices
        await _until(
            lambda: (
                _state(hass, "sensor.ev1_charging_power")
                not in {None, "unavailable", "unknown"}
            )
        )

        # The charger's own entities command it through the gateway.
        await hass.services.async_call(
            "button", "press", {"entity_id": "button.ev1_pause"}, blocking=True
        )
        await _until(lambda: sim.station.power_w == 0.0)
        await hass.services.async_call(
            "button", "press", {"entity_id": "button.ev1_resume_plan"}, blocking=True
        )
        await _until(lambda: sim.station.power_w > 0.0)
        await hass.services.async_call(
            "number",
            "set_value",
            {"entity_id": "number.ev1_target_charge", "value": 70},
            blocking=True,
        )
        await _until(lambda: _state(hass, "number.ev1_target_charge") == "70")
        await hass.services.async_call(
            "switch",
            "turn_off",
            {"entity_id": "switch.ev1_discharge_allowed"},
            blocking=True,
        )
        await _until(lambda: _state(hass, "switch.ev1_discharge_allowed") == "off")
        leave = (datetime.now(UTC) + timedelta(hours=5)).replace(microsecond=0)
        await hass.services.async_call(
            "datetime",
            "set_value",
            {"entity_id": "datetime.ev1_departure", "datetime": leave},
            blocking=True,
        )
        await _until(
            lambda: _state(hass, "datetime.ev1_departure") == leave.isoformat()
        )
        assert HOUSE_W + sim.station.power_w <= LIMIT_W + TOLERANCE_W
        print(  # noqa: T201 - the figures for docs/gateway.md
            f"HA away {AWAY_S:.0f} s: grid max {max(grid):.0f} W "
            f"(limit {LIMIT_W:.0f} W) over {len(grid)} samples; reattach "
            f"{reattach_s:.2f} s; {new_profiles} new profiles"
        )

        # The gateway goes away: entities unavailable; back: available again.
        await gateway.terminate()
        await _until(lambda: _state(hass, "sensor.thuis_import_limit") == "unavailable")
        await gateway.start(
            "--ocpp-host", "127.0.0.1", "--ocpp-port", str(gateway_ocpp)
        )
        await _until(lambda: _state(hass, "sensor.thuis_import_limit") == "6000", 60)
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


def _subentry() -> Any:  # noqa: ANN401
    from homeassistant.config_entries import ConfigSubentry  # noqa: PLC0415

    return ConfigSubentry(**ocpp_subentry("ev1"))
