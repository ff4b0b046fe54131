"""A boiler and a washer on a Shelly Gen2+ relay, over real HTTP on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
import json
import logging
import time

import aiohttp
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
    ShellySetup,
    build_driver,
    build_socket_driver,
    config_from_dict,
    guard_role,
)
from custom_components.stroomwijs.engine.drivers.metered_plug import (
    PlugEntityPort,
    finite,
)
from custom_components.stroomwijs.engine.drivers.shelly import (
    ShellyConfig,
    ShellyPlug,
    identity_from,
    shelly_entity_ids,
)
from custom_components.stroomwijs.engine.household.config import (
    DeviceConfig,
    HouseholdConfig,
    HouseholdConfigError,
)
from custom_components.stroomwijs.engine.household.devices import (
    HouseholdDevices,
    validate_driver,
)
from custom_components.stroomwijs.engine.simulate.boiler import TankSim
from custom_components.stroomwijs.engine.simulate.entities import InMemoryEntityPort
from custom_components.stroomwijs.engine.simulate.homewizard_socket import (
    fixed_load,
    tank_load,
    washer_load,
)
from custom_components.stroomwijs.engine.simulate.shelly import ShellySim
from custom_components.stroomwijs.engine.simulate.washer import WashingMachineSim

from .device_support import SimClock

MAC = "a8032abe54dc"
PASSWORD = "geheim-42"  # noqa: S105 - the simulated device's


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """Give a client session (the host's, in real use)."""
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def sims() -> AsyncIterator[list[ShellySim]]:
    """Devices to stop afterwards."""
    started: list[ShellySim] = []
    yield started
    for sim in started:
        await sim.async_stop()


async def _start(sims: list[ShellySim], sim: ShellySim) -> int:
    sims.append(sim)
    return await sim.async_start()


def _setup(port: int, device: dict[str, object], **socket: object) -> ShellySetup:
    config = config_from_dict(
        {
            "driver": "shelly",
            "socket": {"host": "127.0.0.1", "port": port, "mac": MAC, **socket},
            "device": {"device_id": "d", "name": "Relay device", **device},
        }
    )
    assert isinstance(config, ShellySetup)
    return config


def _plug(
    port: int, session: aiohttp.ClientSession, clock: SimClock, **settings: object
) -> ShellyPlug:
    config = ShellyConfig(host="127.0.0.1", port=port, mac=MAC, **settings)  # type: ignore[arg-type]
    return ShellyPlug(config, session, name="Relay", clock=clock)


async def test_a_boiler_on_a_shelly_switches_over_rpc_and_sees_its_thermostat(
    session: aiohttp.ClientSession,
    sims: list[ShellySim],
) -> None:
    """The boiler driver's logic on a Pro 1PM: Switch.Set, apower, the stop."""
    clock = SimClock()
    tank = TankSim(clock=clock, temperature_c=50.0)
    sim = ShellySim(tank_load(tank), app="Pro1PM", model="SPSW-201PE16EU")
    port = await _start(sims, sim)
    boiler, plug = build_socket_driver(
        _setup(port, {"driver": "boiler", "volume_l": 120, "power_w": 2000}),
        session=session,
        port=InMemoryEntityPort(),
        clock=clock,
    )
    assert isinstance(boiler, Boiler)
    assert isinstance(plug, ShellyPlug)
    assert guard_role(boiler).priority is CurtailPriority.BOILER
    assert boiler.config.entity_id == f"switch.shelly_{MAC}_0"
    await plug.async_refresh()
    await boiler.async_update()
    assert boiler.is_on is False
    assert plug.identity is not None
    assert plug.identity.app == "Pro1PM"
    await boiler.async_set_power(2000.0)
    assert sim.power_on
    assert ("GET", "/rpc/Switch.Set?id=0&on=true") in sim.requests
    assert boiler.power_w is None  # not read since the switch: unknown, not 0 W
    for minute in range(130):
        clock.advance(timedelta(minutes=1))
        await plug.async_refresh()
        await boiler.async_update()
        if minute == 2:
            assert boiler.power_w == pytest.approx(2000.0)
    assert tank.power_w == 0.0  # the tank's thermostat stopped the element
    assert boiler.thermostat_stops == 1
    await boiler.async_set_power(0.0)
    assert not sim.power_on


async def test_a_washer_on_a_plug_s_is_armed_released_and_seen_finishing(
    session: aiohttp.ClientSession,
    sims: list[ShellySim],
) -> None:
    """Arm with the plug off, start over RPC, see the end in apower."""
    clock = SimClock()
    machine = WashingMachineSim(clock=clock)
    sim = ShellySim(washer_load(machine), power_on=True)
    port = await _start(sims, sim)
    washer, plug = build_socket_driver(
        _setup(port, {"driver": "plug_appliance"}), session=session, clock=clock
    )
    assert isinstance(washer, PlugAppliance)
    assert guard_role(washer).priority is CurtailPriority.WHITE_GOODS
    await plug.async_refresh()
    await washer.async_update()
    await washer.async_arm()
    assert not sim.power_on
    machine.press_start()

    async def run(seconds: int) -> None:
        for _ in range(seconds // 30):
            clock.advance(timedelta(seconds=30))
            await plug.async_refresh()
            await washer.async_update()

    await run(900)
    assert machine.state == "armed"
    await washer.async_start()
    assert sim.power_on
    assert washer.state is CycleState.RUNNING
    await run(600)
    assert washer.power_w is not None
    assert washer.power_w > 1500  # heating, read back from apower
    await run(2 * 3600)
    assert machine.state == "finished"
    assert washer.state is CycleState.IDLE


async def test_digest_authentication_with_the_password_and_without(
    session: aiohttp.ClientSession,
    sims: list[ShellySim],
) -> None:
    """auth_en: the right password passes the SHA-256 digest, others are refused."""
    clock = SimClock()
    sim = ShellySim(fixed_load(1200.0), power_on=True, password=PASSWORD)
    port = await _start(sims, sim)
    plug = _plug(port, session, clock, password=PASSWORD)
    await plug.async_refresh()
    assert plug.available, plug.reason
    assert plug.power_w == pytest.approx(1200.0)
    assert sim.unauthorized == 1  # the first challenge, then the nonce is reused
    await plug.async_switch(on=False)
    await plug.async_refresh()
    assert not sim.power_on
    assert sim.unauthorized == 1
    for password, why in ((None, "no password"), ("fout", "a wrong password")):
        other = _plug(port, session, clock, password=password)
        await other.async_refresh()
        assert not other.available
        assert why in (other.reason or "")
        with pytest.raises(DeviceUnavailableError):
            await other.async_switch(on=True)
    assert not sim.power_on  # never switched without the password
    assert identity_from({"gen": 2, "auth_en": True, "mac": "X"}).auth


async def test_another_device_gen1_garbage_and_errors_leave_it_unavailable(
    session: aiohttp.ClientSession,
    sims: list[ShellySim],
) -> None:
    """Each fault leaves the relay unavailable with its reason; nothing guessed."""
    clock = SimClock()
    sim = ShellySim(fixed_load(100.0))
    port = await _start(sims, sim)
    plug = _plug(port, session, clock, reconnect_s=1.0)

    async def check(reason: str) -> None:
        clock.advance(timedelta(seconds=2))
        await plug.async_refresh()
        assert not plug.available
        assert reason in (plug.reason or "")
        assert plug.power_w is None
        assert plug.power_on is None

    sim.mac = "A8032A000000"
    await check("another device answers")
    with pytest.raises(DeviceUnavailableError):
        await plug.async_switch(on=True)
    assert not sim.power_on  # never switched through a stranger
    sim.mac = MAC.upper()
    sim.gen = 1
    await check("first-generation")
    sim.gen = 2
    sim.garbage = True
    await check("not JSON")
    sim.garbage = False
    clock.advance(timedelta(seconds=2))
    await plug.async_refresh()
    assert plug.available
    sim.overtemp = True
    with pytest.raises(DeviceUnavailableError, match="Overtemperature"):
        await plug.async_switch(on=True)
    assert not plug.available
    sim.overtemp = False
    wrong = _plug(port, session, clock, channel=1)
    await wrong.async_refresh()
    assert "not found" in (wrong.reason or "")


async def test_a_relay_without_metering_or_a_wild_reading_has_no_power(
    session: aiohttp.ClientSession,
    sims: list[ShellySim],
) -> None:
    """No apower (a Plus 1) or one beyond 4000 W reads unknown, never 0 W."""
    clock = SimClock()
    sim = ShellySim(fixed_load(9000.0), power_on=True, metered=False)
    port = await _start(sims, sim)
    plug = _plug(port, session, clock)
    entities = PlugEntityPort(plug, None)
    await plug.async_refresh()
    assert plug.available
    assert entities.get_state(plug.switch_entity).state == "on"  # type: ignore[union-attr]
    assert entities.get_state(plug.power_entity).state == "unknown"  # type: ignore[union-attr]
    sim.metered = True
    await plug.async_refresh()
    assert plug.power_w is None  # 9000 W on one channel is no reading


async def test_a_relay_that_goes_away_is_not_hammered_and_follows_a_move(
    session: aiohttp.ClientSession,
    sims: list[ShellySim],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Down once, asked again only after reconnect_s; a new address at once."""
    clock = SimClock()
    sim = ShellySim(fixed_load(500.0), power_on=True)
    port = await _start(sims, sim)
    plug = _plug(port, session, clock, reconnect_s=10.0)
    await plug.async_refresh()
    await sim.async_stop()
    caplog.set_level(logging.INFO)
    for _ in range(3):
        clock.advance(timedelta(seconds=1))
        await plug.async_refresh()
    assert not plug.available
    assert sum("unavailable" in r.getMessage() for r in caplog.records) == 1
    moved = ShellySim(fixed_load(700.0), power_on=True)
    new_port = await _start(sims, moved)
    await plug.async_refresh()
    assert moved.requests == []  # within reconnect_s, and at the old address
    plug.move("127.0.0.1", new_port)
    await plug.async_refresh()
    assert plug.available
    assert plug.power_w == pytest.approx(700.0)
    assert moved.requests[0] == ("GET", "/shelly")  # its identity checked there


async def test_a_late_answer_fails_within_the_timeout(
    session: aiohttp.ClientSession,
    sims: list[ShellySim],
) -> None:
    """A relay that answers after 1.5 s with timeout_s=0.2 fails in under 1 s."""
    sim = ShellySim(fixed_load(100.0))
    port = await _start(sims, sim)
    sim.delay_s = 1.5
    plug = _plug(port, session, SimClock(), timeout_s=0.2)
    started = time.monotonic()
    await plug.async_refresh()
    assert time.monotonic() - started < 1.0
    assert "no answer within 0.2 s" in (plug.reason or "")


def test_the_shelly_config_is_checked_and_names_the_field() -> None:
    """Bad addresses, MACs, channels, passwords; entity fields the relay owns."""
    base = {"driver": "plug_appliance", "device_id": "d", "name": "W"}
    for socket, message in (
        ({"host": "http://x/y", "mac": MAC}, "not an address"),
        ({"host": "10.0.0.2", "mac": "nope"}, "12 hexadecimal"),
        ({"host": "10.0.0.2", "mac": MAC, "channel": 9}, "channel"),
        ({"host": "10.0.0.2", "mac": MAC, "password": ""}, "password"),
        ({"host": "10.0.0.2", "mac": MAC, "password": "a\nb"}, "password"),
        ({"host": "10.0.0.2", "mac": MAC, "settle_s": 0}, "settle_s"),
    ):
        with pytest.raises(ConfigError, match=message):
            config_from_dict({"driver": "shelly", "socket": socket, "device": base})
    with pytest.raises(ConfigError, match=r"device\.power_entity: set by the socket"):
        config_from_dict(
            {
                "driver": "shelly",
                "socket": {"host": "10.0.0.2", "mac": MAC},
                "device": {**base, "power_entity": "sensor.other"},
            }
        )
    with pytest.raises(ConfigError, match="build_socket_driver"):
        build_driver(_setup(80, {"driver": "plug_appliance"}))
    validate_driver(
        {
            "driver": "shelly",
            "socket": {"host": "10.0.0.7", "mac": MAC, "channel": 1},
            "device": {"driver": "boiler", "volume_l": 80, "power_w": 2000},
        },
        "device",
    )
    assert shelly_entity_ids(MAC.upper(), 1) == (
        f"switch.shelly_{MAC}_1",
        f"sensor.shelly_{MAC}_1_power",
    )
    gen1 = identity_from({"type": "SHPLG-S", "mac": "A8032ABE54DC", "auth": True})
    assert (gen1.generation, gen1.supported, gen1.auth) == (1, False, True)


async def test_the_household_refreshes_the_relay_before_the_driver(
    session: aiohttp.ClientSession,
    sims: list[ShellySim],
) -> None:
    """HouseholdDevices builds the device on its relay and polls both."""
    sim = ShellySim(fixed_load(1800.0), power_on=True)
    port = await _start(sims, sim)
    config = HouseholdConfig(
        devices=(
            DeviceConfig(
                id="boiler",
                kind="driver",
                name="Boiler",
                driver={
                    "driver": "shelly",
                    "socket": {"host": "127.0.0.1", "port": port, "mac": MAC},
                    "device": {"driver": "boiler", "volume_l": 80, "power_w": 2000},
                },
            ),
        )
    )
    devices = HouseholdDevices(config, port=None, clock=SimClock(), session=session)
    assert isinstance(devices.sockets["boiler"], ShellyPlug)
    await devices.async_poll(force=True)
    assert devices.drivers["boiler"].power_w == pytest.approx(1800.0)
    assert devices.drivers["boiler"].name == "Boiler"


async def test_the_password_is_a_household_secret_not_part_of_the_device(
    session: aiohttp.ClientSession,
    sims: list[ShellySim],
) -> None:
    """devices.<id>.password: left out of an export, given to the relay."""
    sim = ShellySim(fixed_load(900.0), power_on=True, password=PASSWORD)
    port = await _start(sims, sim)
    driver = {
        "driver": "shelly",
        "socket": {"host": "127.0.0.1", "port": port, "mac": MAC},
        "device": {"driver": "plug_appliance", "kind": "dishwasher"},
    }
    data = {
        "devices": [
            {
                "id": "vaat",
                "kind": "driver",
                "driver": driver,
                "password_required": True,
            }
        ],
        "secrets": {"devices.vaat.password": PASSWORD},
    }
    config = HouseholdConfig.from_dict(data)
    assert config.required_secrets() == ["devices.vaat.password"]
    exported = config.to_dict(include_secrets=False)
    assert PASSWORD not in json.dumps(exported)
    assert HouseholdConfig.from_dict(config.to_dict()) == config
    assert HouseholdConfig.from_dict(exported).missing_secrets() == [
        "devices.vaat.password"
    ]
    devices = HouseholdDevices(config, port=None, clock=SimClock(), session=session)
    await devices.async_poll(force=True)
    assert devices.drivers["vaat"].power_w == pytest.approx(900.0)
    with pytest.raises(ConfigError, match="not in the secrets"):
        HouseholdDevices(
            HouseholdConfig.from_dict(exported), port=None, clock=SimClock()
        )
    inline = {**driver, "socket": {**driver["socket"], "password": PASSWORD}}
    for device, message in (
        ({"id": "x", "kind": "driver", "driver": inline}, r"socket\.password"),
        (
            {
                "id": "x",
                "kind": "driver",
                "password_required": True,
                "driver": {
                    "driver": "boiler",
                    "volume_l": 80,
                    "power_w": 2000,
                    "control": "switch",
                    "entity_id": "switch.boiler",
                },
            },
            "has no password",
        ),
    ):
        with pytest.raises(HouseholdConfigError, match=message):
            HouseholdConfig.from_dict({"devices": [device]})


def test_the_password_stays_out_of_the_config_repr() -> None:
    """A config in a log line or a traceback does not show the password."""
    config = ShellyConfig(host="127.0.0.1", mac=MAC, password=PASSWORD)
    assert PASSWORD not in repr(config)
    assert config.password == PASSWORD


def test_a_reading_beyond_a_floats_range_is_no_reading() -> None:
    """A power of 1e400 written out as an integer: unknown, not an exception."""
    assert finite(10**400, -4000.0, 4000.0) is None
    assert finite(float("nan"), -4000.0, 4000.0) is None
    assert finite(True, -4000.0, 4000.0) is None  # noqa: FBT003 - a JSON true
    assert finite(1500, -4000.0, 4000.0) == 1500.0
