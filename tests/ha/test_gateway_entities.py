"""An SG-Ready heat pump on Home Assistant's switches, run by the gateway.

A real ``stroomwijs gateway`` process, a P1 telegram stream on loopback and
Home Assistant with the integration as the gateway's client. The pump's two
relays are template switches in Home Assistant (each backed by an
``input_boolean``): Home Assistant tells the gateway their states, and the
gateway's driver switches them through Home Assistant's services. While
Home Assistant is away the gateway shows the pump unavailable. An add-on
without the entity relay is refused (the household is not pushed to it).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

import aiohttp
from homeassistant.config_entries import (
    SOURCE_HASSIO,
    ConfigEntryState,
    ConfigSubentry,
    ConfigSubentryData,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.helpers.service_info.hassio import HassioServiceInfo
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import yaml

from custom_components.stroomwijs.const import CONF_FUSE_A, CONF_PHASES, DOMAIN
from custom_components.stroomwijs.device_flow import CONF_DRIVER, SUBENTRY_DEVICE
from custom_components.stroomwijs.engine.gateway import api as gateway_api
from custom_components.stroomwijs.engine.gateway.api import GatewayApi
from custom_components.stroomwijs.engine.gateway.client import (
    ConnectionState,
    GatewayAddress,
    GatewayClient,
)
from custom_components.stroomwijs.engine.gateway.service import (
    Gateway,
    GatewayOptions,
    write_config,
)
from custom_components.stroomwijs.engine.household import HouseholdConfig
from custom_components.stroomwijs.engine.simulate.p1 import P1TelegramServer
from custom_components.stroomwijs.remote_household import (
    CONF_GATEWAY,
    ISSUE_VERSION,
)
from tests.gateway.conftest import GatewayProcess, free_port, house_telegram

from .p1_support import network_entry
from .test_gateway_remote import _setup, _until

RELAY_1, RELAY_2 = "switch.sg1", "switch.sg2"


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets; everything here binds 127.0.0.1."""


@pytest.fixture
async def p1() -> AsyncIterator[P1TelegramServer]:
    """Serve 1.5 kW of house load, a telegram every half second."""
    server = P1TelegramServer(lambda _i: house_telegram(1500.0), interval=0.5)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[GatewayProcess]:
    """Run a gateway process that starts with an empty household."""
    document = tmp_path / "household.yaml"
    document.write_text(
        yaml.safe_dump({"version": 1, "name": "Empty", "ocpp": {"enabled": True}}),
        encoding="utf-8",
    )
    process = GatewayProcess(
        config=document, state_dir=tmp_path / "state", log=tmp_path / "gateway.log"
    )
    await process.start("--ocpp-host", "127.0.0.1", "--ocpp-port", str(free_port()))
    yield process
    if process.alive:
        await process.terminate()


async def _relays(hass: HomeAssistant) -> None:
    """Make switch.sg1 and switch.sg2: template switches on input_booleans."""
    assert await async_setup_component(
        hass,
        "input_boolean",
        {"input_boolean": {"sg1_relay": {"initial": False}, "sg2_relay": {}}},
    )
    switches = []
    for name in ("sg1", "sg2"):
        target = {"entity_id": f"input_boolean.{name}_relay"}
        switches.append(
            {
                "name": name,
                "state": f"{{{{ is_state('input_boolean.{name}_relay', 'on') }}}}",
                "turn_on": {"action": "input_boolean.turn_on", "target": target},
                "turn_off": {"action": "input_boolean.turn_off", "target": target},
            }
        )
    assert await async_setup_component(
        hass, "template", {"template": [{"switch": switches}]}
    )
    await hass.async_block_till_done()
    hass.states.async_set("sensor.room", "20.5", {"unit_of_measurement": "°C"})
    assert hass.states.get(RELAY_1).state == "off"


PUMP: dict[str, Any] = {
    CONF_DRIVER: {
        "driver": "sg_ready",
        "relay_1_entity": RELAY_1,
        "relay_2_entity": RELAY_2,
        "room_temperature_entity": "sensor.room",
        "spec": {"rated_power_w": 2000, "boost_power_w": 2600},
        "rules": {"min_between_changes": {"seconds": 1}},
    }
}


def _entry(
    p1: P1TelegramServer, host: str, port: int, token: str, *, pump: bool = True
) -> MockConfigEntry:
    base = network_entry(
        p1, **{CONF_GATEWAY: {"host": host, "port": port, "token": token}}
    )
    subentries = (
        ConfigSubentryData(
            data=PUMP, subentry_type=SUBENTRY_DEVICE, title="Warmtepomp", unique_id=None
        ),
    )
    return MockConfigEntry(
        domain=DOMAIN,
        title="Thuis",
        data=dict(base.data),
        subentries_data=subentries if pump else (),
    )


def _entity_id(hass: HomeAssistant, platform: str, unique_id: str) -> str:
    entity_id = er.async_get(hass).async_get_entity_id(platform, DOMAIN, unique_id)
    assert entity_id is not None, unique_id
    return entity_id


def _value(hass: HomeAssistant, platform: str, unique_id: str) -> str | None:
    state = hass.states.get(_entity_id(hass, platform, unique_id))
    return None if state is None else state.state


async def _gateway_snapshot(process: GatewayProcess) -> dict[str, Any]:
    """Ask the gateway itself (not through Home Assistant) for its snapshot."""
    async with aiohttp.ClientSession() as session:
        client = GatewayClient(
            session,
            GatewayAddress(
                host="127.0.0.1", port=process.api_port, token=process.token
            ),
            client_name="test",
        )
        client.start()
        try:
            assert await client.async_wait_first_try(30) == ConnectionState.CONNECTED
            snapshot: dict[str, Any] = await client.async_request("get_snapshot")
        finally:
            await client.async_stop()
    return snapshot


async def _select(hass: HomeAssistant, select: str, option: str) -> None:
    """Choose a manual setting; within the pump's minimum time, try again."""
    for _attempt in range(20):
        try:
            await hass.services.async_call(
                "select",
                "select_option",
                {"entity_id": select, "option": option},
                blocking=True,
            )
        except ServiceValidationError as err:
            if err.translation_key != "override_refused_too_soon":
                raise
            await asyncio.sleep(0.5)
        else:
            return
    pytest.fail(f"{option} was refused for 10 s")


def _pump(snapshot: dict[str, Any]) -> dict[str, Any]:
    household = snapshot["household"] or {}
    devices = household.get("devices") or [{}]
    pump: dict[str, Any] = devices[0]
    return pump


async def test_an_sg_ready_pump_on_ha_switches_runs_in_the_gateway(
    hass: HomeAssistant, p1: P1TelegramServer, gateway: GatewayProcess
) -> None:
    """The gateway switches HA's relays; HA away: unavailable there; back: again."""
    await _relays(hass)
    entry = _entry(p1, "127.0.0.1", gateway.api_port, gateway.token)
    remote = await _setup(hass, entry)
    assert entry.runtime_data.household is None
    sid = next(iter(entry.subentries))
    assert remote.entity_ids == {RELAY_1, RELAY_2, "sensor.room"}
    await _until(lambda: remote.drivers[sid].available, 60)
    status = (remote.client.snapshot or {})["gateway"]["entities"]
    assert status["host_connected"] is True
    assert status["known"] == 3
    await _until(lambda: _value(hass, "sensor", f"{sid}_room_temperature") == "20.5")

    # Out of the plan, the pump does what the guard gives it unplanned; the
    # plan cannot block it meanwhile.
    planned = _entity_id(hass, "switch", f"{sid}_device_planned")
    await hass.services.async_call(
        "switch", "turn_off", {"entity_id": planned}, blocking=True
    )
    await _until(lambda: remote.device_data(sid).get("planned") is False)
    await asyncio.sleep(1.2)  # the pump's minimum time between changes

    # A block from Home Assistant's select: the gateway's driver switches
    # relay 1 on through Home Assistant's switch service.
    select = _entity_id(hass, "select", f"{sid}_device_override")
    await _select(hass, select, "block")
    await _until(lambda: hass.states.get(RELAY_1).state == "on", 30)
    await _until(lambda: hass.states.get(RELAY_2).state == "off", 10)
    assert hass.states.get("input_boolean.sg1_relay").state == "on"
    await _until(lambda: _value(hass, "sensor", f"{sid}_sg_ready_mode") == "blocked")
    assert remote.entity_calls >= 1

    # The block ended: relay 1 goes off again (the gateway's call, once the
    # pump's minimum time between changes allows).
    await _select(hass, select, "auto")
    await _until(lambda: hass.states.get(RELAY_1).state == "off", 30)

    # Someone switches a relay by hand in Home Assistant: the gateway sees it.
    await asyncio.sleep(1.2)
    relay_2 = hass.states.get(RELAY_2).state
    await hass.services.async_call(
        "switch",
        "turn_off" if relay_2 == "on" else "turn_on",
        {"entity_id": RELAY_2},
        blocking=True,
    )
    wanted = "normal" if relay_2 == "on" else "recommended"
    await _until(lambda: remote.device_data(sid).get("sg_mode") == wanted, 30)

    # Home Assistant goes away (the entry unloaded): the gateway keeps the
    # household running and shows the pump unavailable, and says why.
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    for _attempt in range(100):
        snapshot = await _gateway_snapshot(gateway)
        if _pump(snapshot).get("available") is False:
            break
        await asyncio.sleep(0.2)
    assert snapshot["gateway"]["state"] == "running"
    assert snapshot["gateway"]["entities"]["host_connected"] is False
    assert _pump(snapshot)["available"] is False

    # Back: the relays' states go over again and the pump answers.
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    remote = entry.runtime_data.remote
    assert remote is not None
    assert remote.pushes == 0  # the same document: nothing restarted
    await _until(lambda: remote.drivers[sid].available, 60)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_an_add_on_without_the_entity_relay_is_refused(
    hass: HomeAssistant,
    p1: P1TelegramServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An older gateway: version-mismatch repair, and nothing is pushed to it."""
    await _relays(hass)
    monkeypatch.setattr(gateway_api, "FEATURES", ())
    config = HouseholdConfig(name="Older")
    path = tmp_path / "household.yaml"
    write_config(path, config)
    gateway = Gateway(GatewayOptions(config_path=path, state_dir=tmp_path), config)
    token = "o" * 43
    api = GatewayApi(gateway, token, host="127.0.0.1", port=0)
    await api.async_start()
    stop = asyncio.Event()
    task = hass.async_create_background_task(gateway.async_run(stop), "gateway")
    try:
        entry = _entry(p1, "127.0.0.1", api.port, token)
        entry.add_to_hass(hass)
        assert not await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.SETUP_RETRY
        issue = ir.async_get(hass).async_get_issue(
            DOMAIN, f"{ISSUE_VERSION}_{entry.entry_id}"
        )
        assert issue is not None
        assert "update the add-on" in issue.translation_placeholders["error"]
        # The older gateway keeps the document it had: it would not run this one.
        assert gateway.config.name == "Older"
        assert gateway.entities.host_connected is False
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
    finally:
        stop.set()
        await task
        await api.async_stop()


def _entities(hass: HomeAssistant, entry: MockConfigEntry, sid: str) -> list[str]:
    return [
        e.entity_id
        for e in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
        if e.config_subentry_id == sid
    ]


async def test_a_device_added_and_removed_while_the_gateway_runs(
    hass: HomeAssistant, p1: P1TelegramServer, gateway: GatewayProcess
) -> None:
    """add_device / remove_device: entities come and go, nothing reloads."""
    await _relays(hass)
    entry = _entry(p1, "127.0.0.1", gateway.api_port, gateway.token, pump=False)
    remote = await _setup(hass, entry)
    runtime = entry.runtime_data
    pushes = remote.pushes  # the first document, at set-up
    before = (await _gateway_snapshot(gateway))["gateway"]
    assert before["state"] == "running"

    hass.config_entries.async_add_subentry(
        entry,
        ConfigSubentry(
            data=MappingProxyType(PUMP),
            subentry_type=SUBENTRY_DEVICE,
            title="Warmtepomp",
            unique_id=None,
        ),
    )
    sid = next(iter(entry.subentries))
    await hass.async_block_till_done()
    await _until(lambda: len(_entities(hass, entry, sid)) >= 5, 30)
    await _until(lambda: sid in remote.drivers and remote.drivers[sid].available, 30)
    await _until(lambda: _value(hass, "sensor", f"{sid}_sg_ready_mode") is not None)
    assert remote.entity_ids == {RELAY_1, RELAY_2, "sensor.room"}
    # No reload, no push: the same runtime; the gateway's household did not
    # restart (its meter, guard and chargers carried on).
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data is runtime
    assert remote.pushes == pushes
    after = (await _gateway_snapshot(gateway))["gateway"]
    assert (after["started_at"], after["restarts"]) == (
        before["started_at"],
        before["restarts"],
    )
    snapshot = await _gateway_snapshot(gateway)
    assert snapshot["household"]["meter"]["available"] is True
    assert [d["device_id"] for d in snapshot["household"]["devices"]] == [sid]
    # The gateway drives it through Home Assistant.
    select = _entity_id(hass, "select", f"{sid}_device_override")
    await _select(hass, select, "block")
    await _until(lambda: hass.states.get(RELAY_1).state == "on", 30)
    # (Removed within the pump's minimum time between changes, it could not
    # be handed back at once: docs/limitations.md.)
    await asyncio.sleep(1.2)

    hass.config_entries.async_remove_subentry(entry, sid)
    await hass.async_block_till_done()
    await _until(lambda: not _entities(hass, entry, sid), 30)
    await _until(lambda: sid not in remote.drivers, 30)
    for _attempt in range(100):
        snapshot = await _gateway_snapshot(gateway)
        if not snapshot["household"]["devices"]:
            break
        await asyncio.sleep(0.2)
    assert snapshot["household"]["devices"] == []
    assert snapshot["gateway"]["restarts"] == before["restarts"]
    assert snapshot["gateway"]["entities"]["used"] == 0
    assert entry.runtime_data is runtime
    assert remote.pushes == pushes
    # Handed back to its own rules: the block is lifted (once allowed).
    await _until(lambda: hass.states.get(RELAY_1).state == "off", 30)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_a_household_with_relays_moves_only_to_a_gateway_that_relays(
    hass: HomeAssistant,
    gateway: GatewayProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hand-over: an add-on with the relay takes it; an older one does not."""
    await _relays(hass)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Thuis",
        data={CONF_PHASES: 3, CONF_FUSE_A: 25.0},
        subentries_data=(
            ConfigSubentryData(
                data=PUMP,
                subentry_type=SUBENTRY_DEVICE,
                title="Warmtepomp",
                unique_id=None,
            ),
        ),
    )
    entry.add_to_hass(hass)

    async def _move(port: int, token: str) -> Any:  # noqa: ANN401
        result = await hass.config_entries.flow.async_init(
            DOMAIN,
            context={"source": SOURCE_HASSIO},
            data=HassioServiceInfo(
                config={"host": "127.0.0.1", "port": port, "token": token},
                name="Stroomwijs gateway",
                slug="a0d7b954_stroomwijs",
                uuid="0123456789abcdef",
            ),
        )
        return await hass.config_entries.flow.async_configure(
            result["flow_id"], {"household": entry.entry_id}
        )

    # An older add-on (no entity relay) answers: the household stays here.
    monkeypatch.setattr(gateway_api, "FEATURES", ())
    config = HouseholdConfig(name="Older")
    path = tmp_path / "older.yaml"
    write_config(path, config)
    older = Gateway(GatewayOptions(config_path=path, state_dir=tmp_path), config)
    token = "o" * 43
    api = GatewayApi(older, token, host="127.0.0.1", port=0)
    await api.async_start()
    try:
        result = await _move(api.port, token)
    finally:
        await api.async_stop()
    assert result["errors"] == {"base": "version_mismatch"}
    hass.config_entries.flow.async_abort(result["flow_id"])
    assert CONF_GATEWAY not in entry.data
    monkeypatch.undo()

    # The add-on with the relay takes it.
    result = await _move(gateway.api_port, gateway.token)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "moved_to_gateway"
    assert entry.data[CONF_GATEWAY]["port"] == gateway.api_port
    await hass.async_block_till_done()
    if entry.state is ConfigEntryState.LOADED:
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
