"""An entry whose household runs in a gateway process: entities, commands, losses.

Everything is real: a ``stroomwijs gateway`` process, a P1 telegram stream
(1.5 kW of house load) on loopback, Home Assistant with the integration as
the gateway's client, and for one test an unknown OCPP charge point.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import contextlib
from datetime import UTC, datetime, timedelta
import json
import logging
from pathlib import Path
from typing import Any

from homeassistant.config_entries import (
    SOURCE_INTEGRATION_DISCOVERY,
    ConfigEntryState,
    ConfigSubentry,
)
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
)
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import yaml

from custom_components.stroomwijs import remote_household
from custom_components.stroomwijs.charger import CONF_OCPP_HOST, CONF_OCPP_PORT
from custom_components.stroomwijs.const import (
    CONF_PRICE_ENTITY,
    CONF_PV_ENTITY,
    DOMAIN,
)
from custom_components.stroomwijs.diagnostics import (
    async_get_config_entry_diagnostics,
)
from custom_components.stroomwijs.engine.gateway.client import ConnectionState
from custom_components.stroomwijs.engine.gateway.snapshot import reading_from_data
from custom_components.stroomwijs.engine.grid import GridConnection
from custom_components.stroomwijs.engine.household import (
    DeviceConfig,
    OptimiserMode,
    PlanState,
    Series,
)
from custom_components.stroomwijs.engine.numbers import parse_number
from custom_components.stroomwijs.engine.simulate.ocpp_chargepoint import (
    OcppSimulator,
    async_run,
)
from custom_components.stroomwijs.engine.simulate.p1 import P1TelegramServer
from custom_components.stroomwijs.remote_household import (
    CONF_GATEWAY,
    RemoteCharger,
    RemoteHousehold,
)
from tests.gateway.conftest import GatewayProcess, free_port, house_telegram

from .charger_support import ocpp_subentry
from .p1_support import network_entry

PRICES = "sensor.day_ahead"


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets; everything here binds 127.0.0.1."""


async def _until(check: Callable[[], bool], limit_s: float = 60.0) -> None:
    """Wait for ``check``; generous, since CI machines run loaded."""
    async with asyncio.timeout(limit_s):
        while not check():  # noqa: ASYNC110 - state of other tasks and processes
            await asyncio.sleep(0.05)


def _state(hass: HomeAssistant, entity_id: str) -> str | None:
    state = hass.states.get(entity_id)
    return None if state is None else state.state


def _prices(value: float) -> dict[str, Any]:
    """Nord Pool style attributes: 24 hours from this hour at ``value`` EUR/kWh."""
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return {
        "unit_of_measurement": "EUR/kWh",
        "raw_today": [
            {
                "start": (start + timedelta(hours=h)).isoformat(),
                "end": (start + timedelta(hours=h + 1)).isoformat(),
                "value": value,
            }
            for h in range(24)
        ],
    }


@pytest.fixture
async def p1() -> AsyncIterator[P1TelegramServer]:
    """Serve 1.5 kW of house load, a telegram every half second."""
    server = P1TelegramServer(lambda _i: house_telegram(1500.0), interval=0.5)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def ocpp_port() -> int:
    """Return the gateway's OCPP port."""
    return free_port()


@pytest.fixture
async def gateway(tmp_path: Path, ocpp_port: int) -> AsyncIterator[GatewayProcess]:
    """Run a gateway process that starts with an empty household."""
    document = tmp_path / "household.yaml"
    document.write_text(
        yaml.safe_dump({"version": 1, "name": "Empty", "ocpp": {"enabled": True}}),
        encoding="utf-8",
    )
    process = GatewayProcess(
        config=document, state_dir=tmp_path / "state", log=tmp_path / "gateway.log"
    )
    await process.start("--ocpp-host", "127.0.0.1", "--ocpp-port", str(ocpp_port))
    yield process
    if process.alive:
        await process.terminate()


def _entry(p1: P1TelegramServer, gateway: GatewayProcess) -> MockConfigEntry:
    return network_entry(
        p1,
        **{
            CONF_GATEWAY: {
                "host": "127.0.0.1",
                "port": gateway.api_port,
                "token": gateway.token,
            }
        },
    )


async def _setup(hass: HomeAssistant, entry: MockConfigEntry) -> RemoteHousehold:
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry,
        options={
            CONF_PRICE_ENTITY: PRICES,
            CONF_OCPP_HOST: "127.0.0.1",
            CONF_OCPP_PORT: free_port(),
        },
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    remote = entry.runtime_data.remote
    assert remote is not None
    return remote


def _issue(hass: HomeAssistant, key: str, entry: MockConfigEntry) -> bool:
    return (
        ir.async_get(hass).async_get_issue(DOMAIN, f"{key}_{entry.entry_id}")
        is not None
    )


async def test_entities_and_commands_through_the_gateway(  # noqa: PLR0915
    hass: HomeAssistant,
    p1: P1TelegramServer,
    gateway: GatewayProcess,
    ocpp_port: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The in-process entities, fed and commanded through the gateway."""
    caplog.set_level(logging.INFO, logger="custom_components.stroomwijs")
    hass.states.async_set(PRICES, "0.1", _prices(0.10))
    entry = _entry(p1, gateway)
    remote = await _setup(hass, entry)
    assert remote.pushes == 1
    assert entry.runtime_data.household is None
    await _until(lambda: remote.available)
    # The prices entity reached the gateway's planner.
    await _until(
        lambda: any(row.get("price") is not None for row in remote.plan_rows()), 60
    )
    first_price = next(
        row["price"] for row in remote.plan_rows() if row.get("price") is not None
    )
    assert _state(hass, "sensor.thuis_import_limit") == "17250"
    assert _state(hass, "sensor.thuis_limit_source") == "fuse"
    assert _state(hass, "binary_sensor.thuis_grid_limit_active") == "off"
    await _until(lambda: _state(hass, "sensor.thuis_headroom") not in {None, "unknown"})
    assert _state(hass, "sensor.thuis_plan_status") in {s.value for s in PlanState}
    assert remote.guard_status().measured_w == pytest.approx(1500.0)
    # The meter sensors, from the gateway's readings.
    assert _state(hass, "sensor.thuis_p1_meter_grid_power") == "1500.0"

    # Commands from entities.
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": "select.thuis_optimiser_mode", "option": "cheapest"},
        blocking=True,
    )
    await _until(lambda: remote.mode is OptimiserMode.CHEAPEST)
    await hass.services.async_call(
        "switch", "turn_off", {"entity_id": "switch.thuis_optimiser"}, blocking=True
    )
    await _until(lambda: _state(hass, "switch.thuis_optimiser") == "off")
    await hass.services.async_call(
        "switch", "turn_on", {"entity_id": "switch.thuis_optimiser"}, blocking=True
    )
    await _until(lambda: remote.enabled)
    await hass.services.async_call(
        "button", "press", {"entity_id": "button.thuis_plan_now"}, blocking=True
    )
    # A limit the house alone exceeds: the gateway says it cannot hold it.
    await hass.services.async_call(
        "number",
        "set_value",
        {"entity_id": "number.thuis_manual_grid_limit", "value": 500},
        blocking=True,
    )
    await _until(lambda: _state(hass, "sensor.thuis_import_limit") == "500")
    assert remote.manual_import_w(datetime.now(UTC)) == 500.0
    assert remote.limit_active
    assert remote.limit_until is not None
    await _until(
        lambda: _state(hass, "binary_sensor.thuis_grid_limit_not_holdable") == "on"
    )
    await _until(lambda: _issue(hass, "limit_not_holdable", entry))
    await _until(
        lambda: _state(hass, "event.thuis_grid_event") not in {None, "unknown"}
    )
    # At the fuse's capacity the number clears the manual limit.
    await hass.services.async_call(
        "number",
        "set_value",
        {"entity_id": "number.thuis_manual_grid_limit", "value": 17250},
        blocking=True,
    )
    await _until(lambda: _state(hass, "sensor.thuis_import_limit") == "17250")
    await _until(lambda: not _issue(hass, "limit_not_holdable", entry))
    # The gateway refuses what it cannot take, and says why.
    with pytest.raises(HomeAssistantError, match="import_w"):
        await remote.async_set_manual(
            import_w=2e6, duration=None, label="too much", export_w=None
        )

    # A charger the gateway does not know starts the same discovery flow.
    sim = OcppSimulator("stranger", version="ocpp2.1")
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(
        async_run(sim, f"ws://127.0.0.1:{ocpp_port}/ocpp/", stop=stop, tick_s=0.5)
    )
    try:
        await _until(
            lambda: any(
                flow["context"]["source"] == SOURCE_INTEGRATION_DISCOVERY
                for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
            ),
            30,
        )
    finally:
        stop.set()
        async with asyncio.timeout(15):
            await task

    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["gateway"]["state"] == ConnectionState.CONNECTED
    assert diagnostics["gateway"]["pushes"] == 1
    redacted = diagnostics["entry"]["data"][CONF_GATEWAY]["token"]
    assert redacted == "**REDACTED**"
    assert diagnostics["household"] is None

    # The gateway goes away: unavailable at once, a repair issue after the grace.
    remote_household_grace = remote_household.UNREACHABLE_GRACE_S
    try:
        remote_household.UNREACHABLE_GRACE_S = 0.5
        await gateway.terminate()
        await _until(lambda: _state(hass, "sensor.thuis_import_limit") == "unavailable")
        assert _state(hass, "select.thuis_optimiser_mode") == "unavailable"
        assert _state(hass, "sensor.thuis_p1_meter_grid_power") == "unavailable"
        await _until(lambda: _issue(hass, "gateway_unreachable", entry))
    finally:
        remote_household.UNREACHABLE_GRACE_S = remote_household_grace
    # (Home Assistant itself skips actions on unavailable entities.)
    with pytest.raises(HomeAssistantError, match="not connected"):
        await remote.async_plan_now()
    # New prices while the gateway is away are sent when it is back, also
    # when it answers before its household runs (its API listens before the
    # household has its first meter reading; here the meter stays silent
    # until Home Assistant is connected): the prices sent on connect are
    # refused then, and sent again when the household has started.
    hass.states.async_set(PRICES, "0.4", _prices(0.40))
    await hass.async_block_till_done()
    p1.pause()
    await gateway.start("--ocpp-host", "127.0.0.1", "--ocpp-port", str(ocpp_port))
    await _until(
        lambda: (
            remote.client.connected
            and (remote.client.snapshot or {}).get("household", True) is None
        ),
        60,
    )
    assert not remote.available
    p1.resume()
    await _until(lambda: _state(hass, "sensor.thuis_import_limit") == "17250", 60)
    assert not _issue(hass, "gateway_unreachable", entry)
    # log-when-unavailable: one line when it went, one when it came back,
    # however many times the client tried in between.
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert sum("gateway" in m and "is unavailable" in m for m in messages) == 1
    assert sum("gateway" in m and "available again" in m for m in messages) == 1
    assert remote.pushes == 1  # the gateway kept the document
    await _until(
        lambda: _state(hass, "sensor.thuis_p1_meter_grid_power") == "1500.0", 60
    )
    await _until(
        lambda: any(
            (row.get("price") or 0) > first_price for row in remote.plan_rows()
        ),
        60,
    )

    # A charger added while the household runs in the gateway: the entry
    # reloads and the gateway gets the new document.
    hass.config_entries.async_add_subentry(
        entry, ConfigSubentry(**ocpp_subentry("ev2"))
    )
    new_id = next(
        sid for sid, sub in entry.subentries.items() if sub.unique_id == "ev2"
    )
    await _until(
        lambda: (
            entry.state is ConfigEntryState.LOADED
            and entry.runtime_data.remote is not remote
        )
    )
    remote = entry.runtime_data.remote
    assert remote is not None
    assert remote.pushes == 1
    await _until(lambda: bool(remote.charger_data(new_id)), 60)
    await _until(lambda: _state(hass, "binary_sensor.ev2_connectivity") == "off")

    # A gateway that speaks another protocol after an update: said at once.
    remote.client.protocols = (99,)
    await gateway.terminate()
    await gateway.start("--ocpp-host", "127.0.0.1", "--ocpp-port", str(ocpp_port))
    await _until(lambda: _issue(hass, "gateway_version_mismatch", entry), 60)
    assert _state(hass, "sensor.thuis_import_limit") == "unavailable"
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert not _issue(hass, "gateway_version_mismatch", entry)


@pytest.mark.parametrize("skew", [False, True])
async def test_a_gateway_out_of_reach_at_start_says_why(
    hass: HomeAssistant,
    p1: P1TelegramServer,
    gateway: GatewayProcess,
    monkeypatch: pytest.MonkeyPatch,
    skew: bool,
) -> None:
    """Set-up is retried; the repair issue tells what is wrong."""
    entry = _entry(p1, gateway)
    if skew:
        monkeypatch.setattr(remote_household, "PROTOCOLS", (99,))
        key = "gateway_version_mismatch"
    else:
        await gateway.terminate()
        key = "gateway_unreachable"
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert _issue(hass, key, entry)
    with contextlib.suppress(Exception):
        await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


def test_hostile_snapshots_read_safely() -> None:
    """Whatever the snapshot holds, the view answers on the safe side."""
    client: Any = type("Client", (), {})()
    client.connected = True
    client.snapshot = None
    client.on_connect = None
    remote = RemoteHousehold.__new__(RemoteHousehold)
    remote.client = client
    remote._grid = GridConnection(phases=3, fuse_a=25)
    assert not remote.available
    assert remote.import_limit_w == pytest.approx(17250.0)
    assert remote.import_source == "fuse"
    assert remote.plan_status.state is PlanState.WAITING
    assert remote.plan_rows() == []
    assert remote.mode is OptimiserMode.AUTO
    assert remote.next_limit(datetime.now(UTC)) is None
    assert remote.manual_import_w(datetime.now(UTC)) is None
    status = remote.guard_status()
    assert status.data_lost
    assert status.measured_w is None
    client.snapshot = {
        "household": {
            "mode": "nonsense",
            "limits": {
                "import_limit_w": "lots",
                "until": "not a time",
                "next": {"source": "", "import_w": -5, "start": "2026-01-01T00:00"},
                "manual": {
                    "import_w": 1000,
                    "start": "2999-01-01T00:00:00+00:00",
                    "end": None,
                },
            },
            "guard": {"curtailed": ["a"], "interventions_today": "x"},
            "plan": {
                "status": {"state": "exploded", "mode": 3, "reasons": ["r"]},
                "rows": [{"start": "x"}, "junk"],
            },
        }
    }
    assert remote.available
    assert remote.import_limit_w == pytest.approx(17250.0)
    assert remote.limit_until is None
    assert remote.next_limit(datetime.now(UTC)) is None  # a negative limit
    assert remote.manual_import_w(datetime.now(UTC)) is None  # not started
    assert remote.interventions_today == 0
    assert remote.guard_status().curtailed == ("a",)
    assert remote.plan_status.state is PlanState.WAITING
    assert remote.plan_status.reasons == ("r",)
    assert remote.plan_status.mode is None
    assert remote.plan_rows() == [{"start": "x"}]
    assert remote.mode is OptimiserMode.AUTO


def test_hostile_meter_readings_read_safely() -> None:
    """A reading in a snapshot is taken whole, or not at all."""
    now = datetime.now(UTC).isoformat()
    good = {
        "timestamp": now,
        "quarter_start": now,
        "import_w": 1500,
        "export_w": None,
        "phase_import_w": [500, None, "x", 1, 2],
        "tariff": True,
        "quarter_average_source": "elsewhere",
        "peak_history": [{"power_w": 2500, "at": now}, {"power_w": "x"}, 7],
        "dsmr_version": 5,
        "text_message": "x" * 2000,
    }
    reading = reading_from_data(good)
    assert reading is not None
    assert reading.net_power_w == 1500.0
    assert reading.phase_import_w == (500.0, None, None)
    assert reading.tariff is None
    assert reading.quarter_average_source is None
    assert [r.power_w for r in reading.peak_history] == [2500.0]
    assert reading.dsmr_version == ""
    assert reading.text_message is not None
    assert len(reading.text_message) == 500
    for bad in (
        None,
        [],
        {**good, "timestamp": "2026-01-01T00:00"},
        {**good, "quarter_start": None},
        {**good, "import_w": float("nan")},
        {**good, "import_w": "1500"},
    ):
        assert reading_from_data(bad) is None


def test_non_finite_numbers_from_the_gateway_read_as_unknown() -> None:
    """NaN and infinity in the gateway's JSON never reach an entity as a value.

    Python's ``json`` reads ``NaN``, ``Infinity`` and ``1e999`` as floats; each
    must read as unknown (None), or fall back to the safe default.
    """
    text = """{"household": {
        "limits": {"import_limit_w": NaN, "export_limit_w": Infinity,
                   "next": {"source": "dso", "import_w": -Infinity,
                            "export_w": null,
                            "start": "2026-01-01T00:00:00+00:00"},
                   "manual": {"import_w": NaN, "start": null, "end": null}},
        "guard": {"measured_w": NaN, "headroom_w": 1e999,
                  "import_limit_w": Infinity, "shortfall_w": -Infinity,
                  "interventions": 2.5, "data_lost": null,
                  "limit_holdable": "yes", "curtailed": ["a", 3]},
        "plan": {"status": {"state": "ok", "solve_time_s": NaN,
                            "cost_today_eur": Infinity, "saving_eur": -1e999},
                 "rows": [{"start": "x", "grid_w": NaN, "price": 0.1}]},
        "chargers": [{"device_id": "ev", "power_w": NaN, "setpoint_w": Infinity,
                      "soc_pct": -Infinity, "session_energy_kwh": 1e999,
                      "limit_w": NaN, "boost_w": Infinity, "target_soc": NaN,
                      "min_soc": Infinity, "planned_w": NaN,
                      "planned_next_w": 123456789012345678901234567890e300}]
    }}"""
    client: Any = type("Client", (), {})()
    client.connected = True
    client.snapshot = json.loads(text)
    client.on_connect = None
    remote = RemoteHousehold.__new__(RemoteHousehold)
    remote.client = client
    remote._grid = GridConnection(phases=3, fuse_a=25)
    assert remote.import_limit_w == pytest.approx(17250.0)
    assert remote.export_limit_w is None
    assert remote.next_limit(datetime.now(UTC)) is None
    assert remote.manual_import_w(datetime.now(UTC)) is None
    status = remote.guard_status()
    assert status.measured_w is None
    assert status.headroom_w is None
    assert status.shortfall_w is None
    assert status.import_limit_w == pytest.approx(17250.0)
    assert status.interventions == 0
    assert status.data_lost is False
    assert status.limit_holdable is True
    assert status.curtailed == ("a",)
    plan = remote.plan_status
    assert plan.solve_time_s is None
    assert plan.cost_today_eur is None
    assert plan.saving_eur is None
    assert remote.plan_rows() == [{"start": "x", "grid_w": None, "price": 0.1}]
    charger = RemoteCharger(
        remote, DeviceConfig(id="ev", kind="ocpp_charger", name="EV")
    )
    for name in (
        "power_w",
        "setpoint_w",
        "soc_pct",
        "session_energy_kwh",
        "limit_w",
        "target_soc",
        "min_soc",
    ):
        assert getattr(charger, name) is None, name
    assert charger.boost_w == 0.0
    assert charger.planned_power_w(0) is None
    assert charger.planned_power_w(1) is None
    # An integer too large for a float (Python's json reads it exactly).
    assert parse_number(10**400) is None
    assert parse_number(json.loads("1" * 400)) is None


async def test_problems_come_with_the_first_running_snapshot_after_a_connect(
    hass: HomeAssistant,
) -> None:
    """The gateway's problems are raised when its first snapshot comes.

    The client shows no snapshot of its last connection, so the first one
    with a running household may come after the connection is up.
    """
    entry = MockConfigEntry(domain=DOMAIN, title="Thuis")
    entry.add_to_hass(hass)
    client: Any = type("Client", (), {})()
    client.connected = True
    client.snapshot = None
    remote = RemoteHousehold.__new__(RemoteHousehold)
    remote.hass = hass
    remote.entry = entry
    remote.client = client
    remote._listeners = []
    remote.chargers = {}
    remote.drivers = {}
    remote._unreachable_timer = None
    remote._unavailable_logged = False
    remote._problems_due = False
    remote._flushing = False
    remote._changed_states = {}
    remote._on_state(ConnectionState.CONNECTED)
    client.snapshot = {"gateway": {"state": "starting"}, "household": None}
    remote._on_snapshot(client.snapshot)
    assert not _issue(hass, "limit_not_holdable", entry)
    client.snapshot = {
        "household": {
            "problems": [
                {
                    "key": "limit_not_holdable",
                    "details": {"shortfall_w": "1000", "limit_w": "500"},
                }
            ]
        }
    }
    remote._on_snapshot(client.snapshot)
    assert _issue(hass, "limit_not_holdable", entry)
    # Raised once per connection: a problem the household cleared since
    # (by its own event) is not raised again by a later snapshot.
    ir.async_delete_issue(hass, DOMAIN, f"limit_not_holdable_{entry.entry_id}")
    remote._on_snapshot(client.snapshot)
    assert not _issue(hass, "limit_not_holdable", entry)


async def test_a_forecast_solar_entity_s_forecast_reaches_the_gateway(
    hass: HomeAssistant, p1: P1TelegramServer, gateway: GatewayProcess
) -> None:
    """The integration's get_forecast answer is what the gateway's planner gets."""
    solar = MockConfigEntry(domain="forecast_solar", title="Dak")
    solar.add_to_hass(hass)
    entity = er.async_get(hass).async_get_or_create(
        "sensor",
        "forecast_solar",
        f"{solar.entry_id}_energy_production_today",
        config_entry=solar,
        suggested_object_id="energy_production_today",
    )
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    hours = {
        (start + timedelta(hours=index)).isoformat(): 500 + 100 * index
        for index in range(6)
    }

    async def get_forecast(call: ServiceCall) -> ServiceResponse:
        assert call.data == {"config_entry": solar.entry_id, "resolution": "hourly"}
        return {"watts": dict(hours), "wh_period": hours}

    hass.services.async_register(
        "forecast_solar",
        "get_forecast",
        get_forecast,
        supports_response=SupportsResponse.ONLY,
    )
    hass.states.async_set(entity.entity_id, "4.4", {"unit_of_measurement": "kWh"})
    entry = _entry(p1, gateway)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry,
        options={
            CONF_PV_ENTITY: entity.entity_id,
            CONF_OCPP_HOST: "127.0.0.1",
            CONF_OCPP_PORT: free_port(),
        },
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    remote = entry.runtime_data.remote
    assert remote is not None
    sent = remote._inputs.get("set_pv_forecast")
    assert sent is not None
    forecast = Series.from_dict(sent["forecast"])
    assert forecast.value_at(start + timedelta(hours=2, minutes=30)) == pytest.approx(
        0.7
    )
    assert await hass.config_entries.async_unload(entry.entry_id)
