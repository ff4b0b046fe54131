"""A boiler and a washer on a HomeWizard Energy Socket, over real HTTP on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
import json
import logging
import time

import aiohttp
from aiohttp import web
import pytest

from custom_components.stroomwijs.engine.capabilities import (
    CurtailPriority,
    DeviceUnavailableError,
)
from custom_components.stroomwijs.engine.drivers.appliance import (
    CycleState,
    PlugAppliance,
)
from custom_components.stroomwijs.engine.drivers.boiler import Boiler
from custom_components.stroomwijs.engine.drivers.factory import (
    ConfigError,
    SocketSetup,
    build_driver,
    build_socket_driver,
    config_from_dict,
    guard_role,
)
from custom_components.stroomwijs.engine.drivers.homewizard_socket import (
    HomeWizardSocket,
    HomeWizardSocketConfig,
    SocketEntityPort,
    socket_entity_ids,
)
from custom_components.stroomwijs.engine.household.config import (
    DeviceConfig,
    HouseholdConfig,
)
from custom_components.stroomwijs.engine.household.devices import (
    HouseholdDevices,
    validate_driver,
)
from custom_components.stroomwijs.engine.simulate.boiler import TankSim
from custom_components.stroomwijs.engine.simulate.entities import InMemoryEntityPort
from custom_components.stroomwijs.engine.simulate.homewizard_socket import (
    HomeWizardSocketSim,
    fixed_load,
    tank_load,
    washer_load,
)
from custom_components.stroomwijs.engine.simulate.washer import WashingMachineSim

from .device_support import SimClock

SERIAL = "5c2fafabc123"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """Give a client session (the host's, in real use)."""
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def sims() -> AsyncIterator[list[HomeWizardSocketSim]]:
    """Plugs to stop afterwards."""
    started: list[HomeWizardSocketSim] = []
    yield started
    for sim in started:
        await sim.async_stop()


async def _start(sims: list[HomeWizardSocketSim], sim: HomeWizardSocketSim) -> int:
    sims.append(sim)
    return await sim.async_start()


def _setup(port: int, device: dict[str, object], **socket: object) -> SocketSetup:
    config = config_from_dict(
        {
            "driver": "homewizard_socket",
            "socket": {"host": "127.0.0.1", "port": port, "serial": SERIAL, **socket},
            "device": {"device_id": "d", "name": "Plug device", **device},
        }
    )
    assert isinstance(config, SocketSetup)
    return config


async def test_a_washer_on_the_socket_is_armed_released_and_seen_finishing(
    session: aiohttp.ClientSession,
    sims: list[HomeWizardSocketSim],
) -> None:
    """Arm with the plug off, start over HTTP, see the end in the plug's power."""
    clock = SimClock()
    machine = WashingMachineSim(clock=clock)
    sim = HomeWizardSocketSim(washer_load(machine), serial=SERIAL, power_on=True)
    port = await _start(sims, sim)
    washer, socket = build_socket_driver(
        _setup(port, {"driver": "plug_appliance"}), session=session, clock=clock
    )
    assert isinstance(washer, PlugAppliance)
    assert guard_role(washer).priority is CurtailPriority.WHITE_GOODS
    await socket.async_refresh()
    await washer.async_update()
    assert washer.available
    await washer.async_arm()  # the plug goes off first
    assert not sim.power_on
    machine.press_start()
    assert machine.state == "armed"

    async def run(seconds: int) -> None:
        for _ in range(seconds // 30):
            clock.advance(timedelta(seconds=30))
            await socket.async_refresh()
            await washer.async_update()

    await run(1800)
    assert machine.state == "armed"  # nothing starts without the plan
    await washer.async_start()
    assert sim.power_on
    assert washer.state is CycleState.RUNNING
    await run(600)
    assert washer.power_w is not None
    assert washer.power_w > 1500  # the heating phase, read back from the plug
    await run(2 * 3600)
    assert machine.state == "finished"
    assert washer.state is CycleState.IDLE
    assert "cycle finished" in washer.events[-1]
    assert sim.power_on  # on for unloading


async def test_a_boiler_on_the_socket_switches_and_sees_its_thermostat(
    session: aiohttp.ClientSession,
    sims: list[HomeWizardSocketSim],
) -> None:
    """The boiler driver's own logic runs on the plug: switch, power, stop."""
    clock = SimClock()
    tank = TankSim(clock=clock, temperature_c=50.0)
    sim = HomeWizardSocketSim(tank_load(tank), serial=SERIAL)
    port = await _start(sims, sim)
    host = InMemoryEntityPort()
    boiler, socket = build_socket_driver(
        _setup(port, {"driver": "boiler", "volume_l": 120, "power_w": 2000}),
        session=session,
        port=host,
        clock=clock,
    )
    assert isinstance(boiler, Boiler)
    assert guard_role(boiler).priority is CurtailPriority.BOILER
    await socket.async_refresh()
    await boiler.async_update()
    assert boiler.is_on is False
    await boiler.async_set_power(2000.0)
    assert sim.power_on
    assert boiler.power_w is None  # not read since the switch: unknown, not 0 W
    for _ in range(130):
        clock.advance(timedelta(minutes=1))
        await socket.async_refresh()
        await boiler.async_update()
        if _ == 2:
            assert boiler.power_w == pytest.approx(2000.0)
    assert tank.power_w == 0.0  # the tank's thermostat stopped the element
    assert boiler.thermostat_stops == 1
    assert boiler.temperature_c == pytest.approx(tank.temperature_c, abs=0.5)
    await boiler.async_set_power(0.0)
    assert not sim.power_on


async def test_a_plug_that_goes_away_is_unavailable_and_not_hammered(
    session: aiohttp.ClientSession,
    sims: list[HomeWizardSocketSim],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Down once, asked again only after reconnect_s, back once."""
    clock = SimClock()
    sim = HomeWizardSocketSim(fixed_load(2000.0), serial=SERIAL, power_on=True)
    port = await _start(sims, sim)
    config = HomeWizardSocketConfig(
        host="127.0.0.1", port=port, serial=SERIAL, reconnect_s=10.0
    )
    socket = HomeWizardSocket(config, session, name="Boiler", clock=clock)
    entities = SocketEntityPort(socket, None)
    seen: list[str] = []
    entities.subscribe([socket.switch_entity], lambda state: seen.append(state.state))
    await socket.async_refresh()
    assert entities.get_state(socket.power_entity).state == "2000.0"  # type: ignore[union-attr]
    await sim.async_stop()
    caplog.set_level(logging.INFO)
    for _ in range(3):
        clock.advance(timedelta(seconds=1))
        await socket.async_refresh()
    assert not socket.available
    assert entities.get_state(socket.switch_entity).state == "unavailable"  # type: ignore[union-attr]
    assert entities.get_state(socket.power_entity).state == "unavailable"  # type: ignore[union-attr]
    assert sum("unavailable" in r.getMessage() for r in caplog.records) == 1
    sim.requests.clear()
    await sim.async_start(port=port)
    clock.advance(timedelta(seconds=5))
    await socket.async_refresh()
    assert sim.requests == []  # within reconnect_s of the failure
    clock.advance(timedelta(seconds=10))
    await socket.async_refresh()
    assert socket.available
    assert sum("is back" in r.getMessage() for r in caplog.records) == 1
    assert seen == ["on", "unavailable", "on"]


async def test_the_api_switched_off_another_serial_and_garbage_are_unavailable(
    session: aiohttp.ClientSession,
    sims: list[HomeWizardSocketSim],
) -> None:
    """Each fault leaves the plug unavailable with the reason, never guessed."""
    clock = SimClock()
    sim = HomeWizardSocketSim(fixed_load(100.0), serial=SERIAL)
    port = await _start(sims, sim)
    config = HomeWizardSocketConfig(
        host="127.0.0.1", port=port, serial=SERIAL, reconnect_s=1.0
    )
    socket = HomeWizardSocket(config, session, name="Plug", clock=clock)

    async def check(reason: str) -> None:
        clock.advance(timedelta(seconds=2))
        await socket.async_refresh()
        assert not socket.available
        assert reason in (socket.reason or "")
        assert socket.power_w is None
        assert socket.power_on is None

    sim.api_enabled = False
    await check("local API is switched off")
    sim.api_enabled = True
    sim.garbage = True
    await check("not JSON")
    sim.garbage = False
    sim.serial = "5c2faf000000"
    await check("another device answers")
    with pytest.raises(DeviceUnavailableError):
        await socket.async_switch(on=True)
    assert not sim.power_on  # never switched through a stranger
    sim.serial = SERIAL
    clock.advance(timedelta(seconds=2))
    await socket.async_refresh()
    assert socket.available
    assert socket.identity["product_type"] == "HWE-SKT"


async def test_a_late_answer_fails_within_the_timeout(
    session: aiohttp.ClientSession,
    sims: list[HomeWizardSocketSim],
) -> None:
    """A plug that answers after 1.5 s with timeout_s=0.2 fails in well under 1 s."""
    sim = HomeWizardSocketSim(fixed_load(100.0), serial=SERIAL)
    port = await _start(sims, sim)
    sim.delay_s = 1.5
    config = HomeWizardSocketConfig(
        host="127.0.0.1", port=port, serial=SERIAL, timeout_s=0.2
    )
    socket = HomeWizardSocket(config, session, name="Plug")
    started = time.monotonic()
    await socket.async_refresh()
    assert time.monotonic() - started < 1.0
    assert not socket.available
    assert "no answer within 0.2 s" in (socket.reason or "")


async def test_the_switch_lock_refuses_off_so_the_guard_moves_on(
    session: aiohttp.ClientSession,
    sims: list[HomeWizardSocketSim],
) -> None:
    """With the lock on the plug stays on: switching off raises, on works."""
    clock = SimClock()
    sim = HomeWizardSocketSim(fixed_load(2000.0), serial=SERIAL, power_on=True)
    sim.switch_lock = True
    port = await _start(sims, sim)
    boiler, socket = build_socket_driver(
        _setup(port, {"driver": "boiler", "volume_l": 80, "power_w": 2000}),
        session=session,
        clock=clock,
    )
    await socket.async_refresh()
    with pytest.raises(DeviceUnavailableError, match="switch lock"):
        await boiler.async_set_power(0.0)
    assert sim.power_on
    # The lock changed under us (the app) after the last read: the plug says no.
    socket.switch_lock = False
    with pytest.raises(DeviceUnavailableError, match="stayed on"):
        await socket.async_switch(on=False)
    assert sim.power_on


async def test_services_other_than_switching_are_refused(
    session: aiohttp.ClientSession,
) -> None:
    """The port forwards other entities to the host and refuses odd calls."""
    host = InMemoryEntityPort()
    host.set_state("sensor.tank", "55", {"unit_of_measurement": "°C"})
    config = HomeWizardSocketConfig(host="127.0.0.1", port=9, serial=SERIAL)
    socket = HomeWizardSocket(config, session, name="Plug")
    entities = SocketEntityPort(socket, host)
    assert entities.get_state("sensor.tank").state == "55"  # type: ignore[union-attr]
    switch, power = socket_entity_ids(SERIAL)
    with pytest.raises(DeviceUnavailableError):
        await entities.async_call_service("switch", "toggle", {"entity_id": switch})
    with pytest.raises(DeviceUnavailableError):
        await entities.async_call_service("switch", "turn_on", {"entity_id": power})
    lone = SocketEntityPort(socket, None)
    assert lone.get_state("sensor.tank") is None
    with pytest.raises(DeviceUnavailableError):
        await lone.async_call_service("switch", "turn_on", {"entity_id": "switch.x"})
    no_session = HomeWizardSocket(config, None, name="Plug")
    with pytest.raises(DeviceUnavailableError, match="no HTTP session"):
        await no_session.async_switch(on=True)


def test_the_socket_config_is_checked_and_names_the_field() -> None:
    """Bad addresses, serials and timings, and entity fields the socket owns."""
    base = {"driver": "plug_appliance", "device_id": "d", "name": "W"}
    for socket, message in (
        ({"host": "http://x/y", "serial": SERIAL}, "not an address"),
        ({"host": "10.0.0.2", "serial": "nope"}, "12 hexadecimal"),
        ({"host": "10.0.0.2", "serial": SERIAL, "port": 0}, "port"),
        ({"host": "10.0.0.2", "serial": SERIAL, "timeout_s": 0}, "timeout_s"),
    ):
        with pytest.raises(ConfigError, match=message):
            config_from_dict(
                {"driver": "homewizard_socket", "socket": socket, "device": base}
            )
    with pytest.raises(ConfigError, match=r"device\.plug_entity: set by the socket"):
        config_from_dict(
            {
                "driver": "homewizard_socket",
                "socket": {"host": "10.0.0.2", "serial": SERIAL},
                "device": {**base, "plug_entity": "switch.other"},
            }
        )
    with pytest.raises(ConfigError, match=r"device\.driver"):
        config_from_dict(
            {
                "driver": "homewizard_socket",
                "socket": {"host": "10.0.0.2", "serial": SERIAL},
                "device": {**base, "driver": "sg_ready"},
            }
        )
    with pytest.raises(ConfigError, match="build_socket_driver"):
        build_driver(_setup(80, {"driver": "plug_appliance"}))
    validate_driver(
        {
            "driver": "homewizard_socket",
            "socket": {"host": "fe80::1", "serial": SERIAL},
            "device": {"driver": "boiler", "volume_l": 80, "power_w": 2000},
        },
        "device",
    )
    assert HomeWizardSocketConfig(host="fe80::1", serial=SERIAL).base_url == (
        "http://[fe80::1]:80"
    )


async def test_the_household_refreshes_the_socket_before_the_driver(
    session: aiohttp.ClientSession,
    sims: list[HomeWizardSocketSim],
) -> None:
    """HouseholdDevices builds the device on its socket and polls both."""
    clock = SimClock()
    sim = HomeWizardSocketSim(fixed_load(1800.0), serial=SERIAL, power_on=True)
    port = await _start(sims, sim)
    config = HouseholdConfig(
        devices=(
            DeviceConfig(
                id="boiler",
                kind="driver",
                name="Boiler",
                driver={
                    "driver": "homewizard_socket",
                    "socket": {"host": "127.0.0.1", "port": port, "serial": SERIAL},
                    "device": {"driver": "boiler", "volume_l": 80, "power_w": 2000},
                },
            ),
        )
    )
    devices = HouseholdDevices(config, port=None, clock=clock, session=session)
    assert set(devices.sockets) == {"boiler"}
    await devices.async_poll(force=True)
    assert devices.drivers["boiler"].power_w == pytest.approx(1800.0)
    assert devices.drivers["boiler"].name == "Boiler"
    assert devices.power_kw() == pytest.approx(1.8)


async def test_hostile_answers_never_pass_for_a_plug(
    session: aiohttp.ClientSession,
) -> None:
    """HTTP 500, 100 kB, a JSON list, another product, no power_on, NaN power."""
    answers: dict[str, Callable[[], web.Response]] = {}

    async def _handler(request: web.Request) -> web.Response:
        return answers[request.path]()  # a response is sent once: made anew

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    clock = SimClock()
    config = HomeWizardSocketConfig(
        host="127.0.0.1", port=port, serial=SERIAL, reconnect_s=1.0
    )
    socket = HomeWizardSocket(config, session, name="Plug", clock=clock)
    good = {"product_type": "HWE-SKT", "serial": SERIAL}

    def json_response(body: object) -> Callable[[], web.Response]:
        return lambda: web.Response(
            text=json.dumps(body), content_type="application/json"
        )

    async def check(reason: str) -> None:
        clock.advance(timedelta(seconds=2))
        await socket.async_refresh()
        assert not socket.available
        assert reason in (socket.reason or "")

    try:
        answers["/api"] = lambda: web.Response(status=500)
        await check("HTTP 500")
        answers["/api"] = lambda: web.Response(body=b"{" + b" " * 100_000 + b"}")
        await check("too large")
        answers["/api"] = json_response([1, 2])
        await check("not a JSON object")
        answers["/api"] = json_response({**good, "product_type": "HWE-P1"})
        await check("not an Energy Socket")
        answers["/api"] = json_response(good)
        answers["/api/v1/state"] = json_response({"power_on": "yes"})
        await check("no power_on")
        answers["/api/v1/state"] = json_response({"power_on": True})
        answers["/api/v1/data"] = lambda: web.Response(
            text='{"active_power_w": NaN}', content_type="application/json"
        )
        clock.advance(timedelta(seconds=2))
        await socket.async_refresh()
        assert socket.available
        assert socket.power_w is None  # NaN is no reading
        assert socket.switch_lock is None
        answers["/api/v1/data"] = json_response({"active_power_w": 1e9})
        await socket.async_refresh()
        assert socket.power_w is None  # beyond any socket
    finally:
        await runner.cleanup()


async def test_a_failing_listener_does_not_stop_the_others(
    session: aiohttp.ClientSession,
    sims: list[HomeWizardSocketSim],
) -> None:
    """Listeners hear the plug's entities through the port, also the host's."""
    sim = HomeWizardSocketSim(fixed_load(500.0), serial=SERIAL, power_on=True)
    port = await _start(sims, sim)
    host = InMemoryEntityPort()
    socket = HomeWizardSocket(
        HomeWizardSocketConfig(host="127.0.0.1", port=port, serial=SERIAL),
        session,
        name="Plug",
    )
    entities = SocketEntityPort(socket, host)
    heard: list[str] = []

    def broken(_state: object) -> None:
        raise RuntimeError

    entities.subscribe([socket.power_entity], broken)
    stop = entities.subscribe(
        [socket.power_entity, "sensor.tank"], lambda s: heard.append(s.entity_id)
    )
    await socket.async_refresh()
    host.set_state("sensor.tank", "50")
    assert heard == [socket.power_entity, "sensor.tank"]
    stop()
    sim.switch(on=False)
    await socket.async_refresh()
    host.set_state("sensor.tank", "51")
    assert len(heard) == 2
