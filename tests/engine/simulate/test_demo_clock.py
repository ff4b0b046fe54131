"""The demo's accelerated clock, and the demo household on it.

``script/demo --speed N`` hands one :class:`DemoClock` to the simulator and
to Home Assistant; both must read the same simulated time from the wall
clock, and the simulator's physics, car and telegrams must run on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime, time, timedelta

import pytest

from custom_components.stroomwijs.engine.drivers.ocpp import (
    CentralSystem,
    ChargerConfig,
    CsmsConfig,
    SessionOptions,
)
from custom_components.stroomwijs.engine.grid import GridConnection
from custom_components.stroomwijs.engine.meter.core import Meter
from custom_components.stroomwijs.engine.meter.models import MeterReading
from custom_components.stroomwijs.engine.meter.stream import P1StreamReader
from custom_components.stroomwijs.engine.meter.versions import resolve_version
from custom_components.stroomwijs.engine.simulate.demo import (
    MIN_TICK_S,
    DemoRunner,
    _parser,
    demo_car,
    demo_clock_of,
)
from custom_components.stroomwijs.engine.simulate.demo_clock import (
    ENV_VAR,
    LOCAL_ZONE,
    DemoClock,
    DemoClockError,
)
from custom_components.stroomwijs.engine.simulate.household import BaseLoadProfile

BASE_W = 1_000.0
FAST = SessionOptions(response_timeout_s=5.0, boot_wait_s=0.3, pending_retry_s=5)


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets; pytest-socket still limits connections to 127.0.0.1."""


async def until(predicate: Callable[[], bool], limit: float = 5.0) -> None:
    """Poll ``predicate`` (the peers run in this loop) until it holds."""
    async with asyncio.timeout(limit):
        while not predicate():  # noqa: ASYNC110 - the peers share this loop
            await asyncio.sleep(0.01)


def test_simulated_time_runs_speed_times_faster_from_its_start() -> None:
    """At the anchor it is the start; each real second is ``speed`` seconds."""
    wall = 1_800_000_000.0
    clock = DemoClock.starting(60.0, time(6), wall=wall)
    start = clock.at(wall)
    local = start.astimezone(LOCAL_ZONE)
    assert (local.hour, local.minute) == (6, 0)
    assert local.date() == datetime.fromtimestamp(wall, LOCAL_ZONE).date()
    assert clock.at(wall + 24 * 60) - start == timedelta(days=1)
    assert clock.sim_seconds(2.0) == 120.0
    assert clock.real_seconds(900.0) == 15.0
    assert clock.accelerated


def test_both_processes_read_the_same_time_from_the_json() -> None:
    """The simulator's ``--clock`` and Home Assistant's variable agree."""
    clock = DemoClock.starting(120.0, time(14, 30))
    copy = DemoClock.from_json(clock.to_json())
    assert copy == clock
    assert DemoClock.from_env({ENV_VAR: clock.to_json()}) == clock
    assert DemoClock.from_env({}) is None
    wall = clock.anchor + 37.5
    assert copy.at(wall) == clock.at(wall)


@pytest.mark.parametrize(
    "text",
    [
        "{}",
        "not json",
        '{"speed": 0.5, "start": "2026-01-01T00:00:00+00:00", "anchor": 1}',
        '{"speed": "nan", "start": "2026-01-01T00:00:00+00:00", "anchor": 1}',
        '{"speed": 301, "start": "2026-01-01T00:00:00+00:00", "anchor": 1}',
        '{"speed": 60, "start": "2026-01-01T00:00:00", "anchor": 1}',
        '{"speed": 60, "start": "2026-01-01T00:00:00+00:00", "anchor": "inf"}',
    ],
)
def test_a_clock_that_cannot_work_is_refused(text: str) -> None:
    """Slower than real time, absurdly fast, naive or unparsable: an error."""
    with pytest.raises(DemoClockError):
        DemoClock.from_json(text)


def test_real_time_is_the_default() -> None:
    """Without --speed/--start/--clock the simulator keeps the real clock."""
    assert demo_clock_of(_parser().parse_args([])) is None
    clock = demo_clock_of(_parser().parse_args(["--speed", "60", "--start", "06:00"]))
    assert clock is not None
    assert clock.speed == 60.0
    with pytest.raises(DemoClockError):
        demo_clock_of(_parser().parse_args(["--speed", "60", "--start", "6 am"]))


@pytest.fixture
async def csms() -> AsyncIterator[CentralSystem]:
    """Start a real central system on 127.0.0.1 that knows the demo charger."""
    central = CentralSystem(
        CsmsConfig(host="127.0.0.1", port=0, session=FAST),
        chargers=[ChargerConfig(charger_id="demo-ev", capacity_kwh=60.0)],
    )
    await central.async_start()
    yield central
    await central.async_stop()


async def test_accelerated_demo_charges_leaves_and_comes_back(
    csms: CentralSystem,
) -> None:
    """At 300x the car charges in simulated time, leaves at 07:00, comes back.

    The telegrams carry the simulated time, the registers count simulated
    energy, and the central system sees the car's session end at its
    departure and a new one begin when it is home again.
    """
    speed = 300.0  # a simulated hour in 12 s
    clock = DemoClock.starting(speed, time(6, 45))
    now = clock.now()
    runner = DemoRunner(
        BaseLoadProfile.constant(BASE_W),
        csms.url,
        p1_port=0,
        car=demo_car(now - timedelta(days=1), soc=0.4),  # leaves at 07:00 today
        backoff_max_s=0.2,
        clock=clock.now,
        demo_clock=clock,
        car_arrives=time(8),
    )
    assert runner.tick_s == MIN_TICK_S
    await runner.start()
    meter = Meter(
        grid=GridConnection(phases=3, fuse_a=25), stale_after=2.0, clock=clock.now
    )
    readings: list[MeterReading] = []
    meter.subscribe(readings.append)
    reader = P1StreamReader(
        meter, runner.server.url, resolve_version("5"), idle_timeout=2.0
    )
    reader.start()
    charger = csms.chargers["demo-ev"]
    try:
        await until(lambda: charger.state.transaction_id is not None)
        first_tx = charger.state.transaction_id
        await until(lambda: readings and readings[-1].import_w > BASE_W + 10_000.0)
        loop = asyncio.get_running_loop()
        wall_before = loop.time()
        register_before = readings[-1].import_total_kwh or 0.0
        soc_before = runner.car.soc
        await asyncio.sleep(1.0)  # 5 simulated minutes of charging at 11 kW
        sim_hours = (loop.time() - wall_before) * speed / 3600.0
        charged = (readings[-1].import_total_kwh or 0.0) - register_before
        assert charged == pytest.approx(12.0 * sim_hours, rel=0.4)
        assert runner.car.soc - soc_before == pytest.approx(
            11.0 * sim_hours / 60.0, rel=0.4
        )
        # Readings are stamped with simulated time, about a minute apart.
        gaps = [
            (b.timestamp - a.timestamp).total_seconds()
            for a, b in zip(readings[-4:-1], readings[-3:], strict=True)
        ]
        assert all(20.0 < gap < 180.0 for gap in gaps), gaps

        # 07:00 comes: the car leaves, its session ends at the central system.
        await until(lambda: not runner.car_home, limit=10.0)
        left = clock.now().astimezone(LOCAL_ZONE)
        assert left.hour == 7
        assert left.minute < 5
        await until(lambda: not charger.plugged_in, limit=15.0)
        assert runner.car_back_at is not None
        assert runner.car_back_at.astimezone(LOCAL_ZONE).time() == time(8)
        soc_left = runner.car.soc

        # 08:00 comes (12 s later): the car is back, emptier, with a new session.
        await until(lambda: charger.plugged_in, limit=20.0)
        back = clock.now().astimezone(LOCAL_ZONE)
        assert back.hour == 8
        assert charger.state.transaction_id != first_tx
        assert soc_left < soc_before
        assert runner.car.departure is not None
        assert runner.car.departure.astimezone(LOCAL_ZONE).time() == time(7)
        assert runner.car.departure > clock.now()
        assert readings[-1].timestamp.astimezone(LOCAL_ZONE).hour == 8
    finally:
        await reader.stop()
        await runner.stop()
    assert not runner.sim.connected
