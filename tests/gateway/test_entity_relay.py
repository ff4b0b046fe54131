"""Home Assistant's entities relayed to the gateway (the entity host).

An in-process gateway with its API on loopback runs a household with a P1
meter (a telegram stream on loopback) and an SG-Ready heat pump on two
switch entities. A "Home Assistant" here is the real ``GatewayClient`` over
a real WebSocket, whose entities are an ``InMemoryEntityPort`` with the two
relays: it sends their states (the whole set on connect, then each change)
and carries out the gateway's service calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from custom_components.stroomwijs.engine.drivers.entities import (
    EntityCallError,
    EntityState,
)
from custom_components.stroomwijs.engine.drivers.sg_ready import SgReadyHeatPump
from custom_components.stroomwijs.engine.gateway.api import GatewayApi
from custom_components.stroomwijs.engine.gateway.client import (
    GatewayAddress,
    GatewayClient,
)
from custom_components.stroomwijs.engine.gateway.entities import RelayedEntityPort
from custom_components.stroomwijs.engine.gateway.protocol import (
    FEATURE_ENTITY_HOST,
    EntityCall,
    ProtocolError,
    read_entity_call,
    validate,
    wire_state,
)
from custom_components.stroomwijs.engine.gateway.service import (
    Gateway,
    GatewayOptions,
    write_config,
)
from custom_components.stroomwijs.engine.household import HouseholdConfig
from custom_components.stroomwijs.engine.household.devices import (
    household_entity_ids,
)
from custom_components.stroomwijs.engine.simulate.entities import InMemoryEntityPort
from custom_components.stroomwijs.engine.simulate.p1 import P1TelegramServer

TOKEN = "e" * 43
RELAYS = ("switch.sg1", "switch.sg2")


def _document(p1_port: int) -> dict[str, Any]:
    return {
        "version": 1,
        "name": "Relayed",
        "time_zone": "Europe/Amsterdam",
        "grid": {"phases": 3, "fuse_a": 25},
        "meter": {
            "source": "network",
            "host": "127.0.0.1",
            "tcp_port": p1_port,
            "dsmr_version": "5",
        },
        "devices": [
            {
                "id": "hp",
                "kind": "driver",
                "name": "Warmtepomp",
                "driver": {
                    "driver": "sg_ready",
                    "relay_1_entity": RELAYS[0],
                    "relay_2_entity": RELAYS[1],
                    "room_temperature_entity": "sensor.room",
                    "spec": {"rated_power_w": 2000, "boost_power_w": 2600},
                    "rules": {"min_between_changes": {"seconds": 1}},
                },
            }
        ],
        "optimiser": {"horizon_hours": 24, "time_limit_s": 5},
    }


@dataclass(slots=True)
class FakeHomeAssistant:
    """What the integration does as the entity host, on the engine's client."""

    entities: InMemoryEntityPort = field(default_factory=InMemoryEntityPort)
    calls: list[EntityCall] = field(default_factory=list)
    slow: bool = False
    """Take longer over every call than the gateway waits."""
    client: GatewayClient | None = None
    ids: tuple[str, ...] = (*RELAYS, "sensor.room")
    """The entities it speaks for (the household's devices use them)."""
    relays: bool = True
    """Switch the two SG-Ready relays itself (else simulators handle calls)."""

    def relay(self, entity_id: str) -> str:
        """Return a relay's state."""
        state = self.entities.get_state(entity_id)
        assert state is not None
        return state.state

    def wire(self) -> list[dict[str, Any]]:
        """Return the whole set of states, as sent on connect."""
        return [
            wire_state(s.entity_id, s.state, s.attributes)
            for i in self.ids
            if (s := self.entities.get_state(i)) is not None
        ]

    async def on_connect(self, client: GatewayClient) -> None:
        """Send the whole set of states (the integration's first step)."""
        assert FEATURE_ENTITY_HOST in client.features
        await client.async_request(
            "entity_states", _ready=False, states=self.wire(), full=True
        )

    async def on_call(self, call: EntityCall) -> None:
        """Carry out a call of the gateway's on the entities."""
        self.calls.append(call)
        if self.slow:
            await asyncio.sleep(30)
        await self.entities.async_call_service(call.domain, call.service, call.data)

    def on_change(self, state: EntityState) -> None:
        """Send one changed state."""
        client = self.client
        if client is None or not client.connected:
            return
        asyncio.get_running_loop().create_task(
            client.async_request(
                "entity_states",
                states=[wire_state(state.entity_id, state.state, state.attributes)],
                full=False,
            )
        )

    def start(self, port: int) -> GatewayClient:
        """Route the relays' calls, follow changes, connect."""
        if self.relays:
            for entity_id in RELAYS:
                self.entities.handle(entity_id, self._switch(entity_id))
        self.entities.subscribe(self.ids, self.on_change)
        return self.connect(port)

    def connect(self, port: int) -> GatewayClient:
        """Connect to the gateway (again)."""
        session = aiohttp.ClientSession()
        self.client = GatewayClient(
            session,
            GatewayAddress(host="127.0.0.1", port=port, token=TOKEN),
            client_name="fake-ha",
            on_connect=self.on_connect,
            on_entity_call=self.on_call,
        )
        self.client.start()
        return self.client

    async def disconnect(self) -> None:
        """Go away, as Home Assistant does when it restarts."""
        client, self.client = self.client, None
        assert client is not None
        await client.async_stop()
        await client.session.close()

    def _switch(self, entity_id: str) -> Callable[[str, Mapping[str, object]], None]:
        def _handler(service: str, _data: Mapping[str, object]) -> None:
            self.entities.set_state(entity_id, "on" if service == "turn_on" else "off")

        return _handler


@pytest.fixture
async def p1() -> AsyncIterator[P1TelegramServer]:
    """Serve 1.5 kW of house load, a telegram every half second."""
    from .conftest import house_telegram  # noqa: PLC0415

    server = P1TelegramServer(lambda _i: house_telegram(1500.0), interval=0.5)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def api(tmp_path: Path, p1: P1TelegramServer) -> AsyncIterator[GatewayApi]:
    """Run the household's gateway in-process, its API on a free port."""
    config = HouseholdConfig.from_dict(_document(p1.port))
    path = tmp_path / "household.yaml"
    write_config(path, config)
    gateway = Gateway(GatewayOptions(config_path=path, state_dir=tmp_path), config)
    api = GatewayApi(gateway, TOKEN, host="127.0.0.1", port=0, snapshot_interval_s=0.2)
    await api.async_start()
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(gateway.async_run(stop))
    yield api
    stop.set()
    await task
    await api.async_stop()


async def _until(condition: Callable[[], object], limit_s: float = 20.0) -> None:
    async with asyncio.timeout(limit_s):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


def _pump(api: GatewayApi) -> SgReadyHeatPump:
    household = api.gateway.household
    assert household is not None
    pump = household.devices.drivers["hp"]
    assert isinstance(pump, SgReadyHeatPump)
    return pump


def _device(api: GatewayApi) -> dict[str, Any]:
    household = api.gateway.snapshot()["household"]
    assert household is not None
    return next(d for d in household["devices"] if d["device_id"] == "hp")


async def test_the_household_uses_only_its_devices_entities(tmp_path: Path) -> None:
    """The used set is read from the document; a socket's own entities are not."""
    config = HouseholdConfig.from_dict(_document(1))
    assert household_entity_ids(config) == {*RELAYS, "sensor.room"}
    del tmp_path


async def test_states_relayed_and_calls_carried_out(
    api: GatewayApi,
) -> None:
    """States in, calls out, Home Assistant away and back, nothing left blocked."""
    home = FakeHomeAssistant()
    for entity_id in RELAYS:
        home.entities.set_state(entity_id, "off")
    home.entities.set_state("sensor.room", "20.5", {"unit_of_measurement": "°C"})
    await _until(lambda: api.gateway.household is not None)
    # Before Home Assistant speaks, the entities are unavailable: so is the pump.
    assert not _pump(api).available
    status = api.gateway.status()["entities"]
    assert status["host_connected"] is False
    assert status["used"] == 3
    client = home.start(api.port)
    try:
        await _until(lambda: _device(api)["available"] is True)
        # Found answering, it gets what the guard gives an unplanned pump.
        assert _device(api)["sg_mode"] in {"normal", "recommended"}
        assert _device(api)["temperature_c"] == 20.5
        home.calls.clear()
        # Out of the plan: the pump follows what the guard gives it unplanned
        # (the plan might block it in this quarter-hour).
        await client.async_request("set_device_planned", device_id="hp", planned=False)
        await asyncio.sleep(1.2)  # the pump's minimum time between changes
        status = api.gateway.status()["entities"]
        assert status["host_connected"] is True
        assert status["known"] == 3
        assert status["missing"] == []

        # A block from the API: the gateway asks Home Assistant to switch relay 1.
        result = await client.async_request(
            "set_device_override", device_id="hp", mode="block", duration_min=60
        )
        assert result["override"]["mode"] == "block"
        assert home.relay(RELAYS[0]) == "on"
        assert home.relay(RELAYS[1]) == "off"
        assert ("switch", "turn_on", RELAYS[0]) in [
            (c.domain, c.service, c.entity_id) for c in home.calls
        ]
        await _until(lambda: _device(api)["sg_mode"] == "blocked")

        # A change in Home Assistant reaches the driver.
        home.entities.set_state("sensor.room", "19.8", {"unit_of_measurement": "°C"})
        await _until(lambda: _pump(api).temperature_c == 19.8)

        # Home Assistant goes away: the entities and the pump are unavailable,
        # and the snapshot says so; a call fails at once.
        await home.disconnect()
        await _until(lambda: not api.gateway.entities.host_connected)
        await _until(lambda: _device(api)["available"] is False)
        assert api.gateway.status()["entities"]["host_connected"] is False
        with pytest.raises(EntityCallError, match="not connected"):
            await api.gateway.entities.async_call_service(
                "switch", "turn_off", {"entity_id": RELAYS[0]}
            )
        household = api.gateway.household
        assert household is not None
        await _until(
            lambda: "hp" in household.guard.status().unavailable_devices, limit_s=10
        )
        # The block is ended meanwhile (the user's "auto"): the relays cannot
        # follow while Home Assistant is away...
        await household.async_set_device_override("hp", None)
        assert home.relay(RELAYS[0]) == "on"

        # ... and are put back when it returns: nothing stays blocked.
        client = home.connect(api.port)
        await _until(lambda: _device(api)["available"] is True)
        # (Within the pump's minimum time between changes it refuses: the
        # household asks again until it takes it.)
        await _until(lambda: home.relay(RELAYS[0]) == "off", limit_s=30)
        # The driver reads its mode from the relays' states, which come back
        # from Home Assistant a moment after the call was carried out.
        await _until(lambda: _device(api)["sg_mode"] in {"normal", "recommended"})
        assert api.gateway.status()["entities"]["host_connected"] is True
    finally:
        if home.client is not None:
            await home.disconnect()


async def test_a_call_home_assistant_does_not_answer_times_out(
    api: GatewayApi,
) -> None:
    """No answer in time: EntityCallError; the late answer is an unknown call."""
    home = FakeHomeAssistant(slow=True)
    for entity_id in RELAYS:
        home.entities.set_state(entity_id, "off")
    await _until(lambda: api.gateway.household is not None)
    port = api.gateway.entities
    port.call_timeout_s = 0.5
    client = home.start(api.port)
    try:
        await _until(lambda: port.host_connected)
        with pytest.raises(EntityCallError, match=r"within 0\.5 s"):
            await port.async_call_service("switch", "turn_on", {"entity_id": RELAYS[0]})
        assert port.status()["pending_calls"] == 0
        assert port.status()["failed_calls"] >= 1
        # The call reached Home Assistant; its late answer finds no call waiting.
        assert home.calls[-1].entity_id == RELAYS[0]
        from custom_components.stroomwijs.engine.gateway.client import (  # noqa: PLC0415
            GatewayError,
        )

        with pytest.raises(GatewayError) as late:
            await client.async_request(
                "entity_call_result", call_id=home.calls[-1].call_id, error=None
            )
        assert late.value.code == "unknown_call"
        # A call for an entity the household does not use never leaves.
        with pytest.raises(EntityCallError, match="not an entity"):
            await port.async_call_service(
                "switch", "turn_on", {"entity_id": "switch.x"}
            )
        # A call Home Assistant refuses comes back as its error.
        home.slow = False
        home.entities.fail_calls(RELAYS[1])
        with pytest.raises(EntityCallError, match="failed"):
            await port.async_call_service("switch", "turn_on", {"entity_id": RELAYS[1]})
    finally:
        await home.disconnect()


async def test_malformed_entity_messages_are_refused(api: GatewayApi) -> None:
    """Bad states, a change before the whole set, answers from others: errors."""
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(
            f"ws://127.0.0.1:{api.port}/api/websocket",
            headers={"Authorization": f"Bearer {TOKEN}"},
        )

        async def _ask(message: dict[str, Any]) -> dict[str, Any]:
            await ws.send_str(json.dumps({"v": 1, "id": 9, **message}))
            while True:
                reply = json.loads((await ws.receive(timeout=5)).data)
                if reply.get("id") == 9:
                    return reply

        welcome = await _ask({"type": "hello", "protocols": [1]})
        assert FEATURE_ENTITY_HOST in welcome["features"]
        good = {"entity_id": RELAYS[0], "state": "on", "attributes": {}}
        for states, words in (
            ("on", "list"),
            ([{"entity_id": "no_dot", "state": "on"}], "entity_id"),
            ([good, good], "twice"),
            ([{"entity_id": RELAYS[0], "state": 1}], "state"),
            ([{"entity_id": RELAYS[0], "state": "x" * 256}], "state"),
            ([{**good, "attributes": {"a": [1, 2]}}], "attributes"),
            ([{**good, "attributes": {"a": {"b": 1}}}], "attributes"),
            ([{**good, "attributes": {f"k{i}": i for i in range(65)}}], "attributes"),
            ([{**good, "extra": 1}], "object"),
            ([good] * 513, "list"),
            # An integer beyond a float's range (json reads it exactly): it
            # raised OverflowError and closed the connection.
            ([{**good, "attributes": {"a": 10**400}}], "attributes"),
        ):
            reply = await _ask(
                {"type": "entity_states", "states": states, "full": True}
            )
            assert reply["type"] == "error", states
            assert reply["code"] == "invalid_message"
            assert words in reply["message"], reply
        reply = await _ask(
            {"type": "set_manual_limit", "import_w": 10**400, "label": "x"}
        )
        assert reply["code"] == "invalid_message"
        assert "finite" in reply["message"]
        reply = await _ask({"type": "entity_states", "states": [good], "full": False})
        assert reply["code"] == "not_entity_host"
        reply = await _ask({"type": "entity_call_result", "call_id": "1"})
        assert reply["code"] == "not_entity_host"
        reply = await _ask({"type": "entity_states", "states": [good], "full": True})
        assert reply["result"]["entities"] == 1
        assert set(reply["result"]["used"]) == {*RELAYS, "sensor.room"}
        reply = await _ask({"type": "entity_call_result", "call_id": "77"})
        assert reply["code"] == "unknown_call"
        reply = await _ask({"type": "ping"})
        assert reply["result"]["pong"] is True
        await ws.close()
    await _until(lambda: not api.gateway.entities.host_connected)


def test_an_entity_call_is_checked_before_home_assistant_runs_it() -> None:
    """Only the drivers' services, on one entity in its own domain."""
    good = {
        "call_id": "3",
        "domain": "switch",
        "service": "turn_on",
        "data": {"entity_id": "switch.sg1"},
    }
    assert read_entity_call(good).entity_id == "switch.sg1"
    temperature = {
        **good,
        "domain": "climate",
        "service": "set_temperature",
        "data": {"entity_id": "climate.hp", "temperature": 21.5},
    }
    assert read_entity_call(temperature).data["temperature"] == 21.5
    for bad in (
        {**good, "call_id": 3},
        {**good, "service": "reload"},
        {**good, "domain": "light"},
        {**good, "data": {"entity_id": "switch.sg1", "code": "1234"}},
        {**good, "data": {"entity_id": ["switch.sg1", "switch.sg2"]}},
        {**good, "data": {}},
        {**temperature, "data": {"entity_id": "climate.hp", "temperature": 1e9}},
        {**temperature, "data": {"entity_id": "climate.hp", "temperature": True}},
    ):
        with pytest.raises(ProtocolError):
            read_entity_call(bad)


def test_wire_states_drop_what_cannot_cross() -> None:
    """Lists, objects, long texts and non-finite numbers stay behind."""
    wired = wire_state(
        "climate.hp",
        "heat",
        {
            "temperature": 21.0,
            "hvac_modes": ["heat", "off"],
            "nan": float("nan"),
            "unit_of_measurement": "°C",
            "long": "x" * 300,
            "nested": {"a": 1},
        },
    )
    assert wired["attributes"] == {"temperature": 21.0, "unit_of_measurement": "°C"}
    request = validate(
        {"v": 1, "type": "entity_states", "states": [wired], "full": True}
    )
    assert request.fields["states"][0].attributes["temperature"] == 21.0


async def test_a_second_host_takes_over_and_the_first_is_ignored() -> None:
    """The last client to send its whole set speaks for Home Assistant."""

    @dataclass
    class _Host:
        sent: list[Mapping[str, Any]] = field(default_factory=list)

        def send_call(self, call: Mapping[str, Any]) -> bool:
            self.sent.append(call)
            return True

    changes: list[bool] = []
    port = RelayedEntityPort(on_host_change=changes.append)
    port.set_used(RELAYS)
    first, second = _Host(), _Host()
    on = EntityState(entity_id=RELAYS[0], state="on")
    port.host_states(first, [on], full=True)
    assert port.get_state(RELAYS[0]) == on
    assert port.get_state("switch.other") is None
    port.host_states(second, [], full=True)
    assert port.get_state(RELAYS[0]) is None  # Home Assistant does not know it
    port.host_gone(first)  # not the host any more: nothing happens
    assert port.host_connected
    port.host_gone(second)
    state = port.get_state(RELAYS[0])
    assert state is not None
    assert state.state == "unavailable"
    assert changes == [True, True, False]  # each new host, then none
