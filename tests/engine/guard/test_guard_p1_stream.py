"""End to end over real sockets: household -> DSMR telegrams -> meter -> guard.

The simulated household renders each instant as a DSMR 5 telegram with a
valid CRC; the P1 telegram server streams it over TCP on 127.0.0.1; the P1
stream reader parses it with dsmr-parser and the meter derives the reading;
the guard acts on it and drives the simulated devices. Telegrams come every
100 ms here (ten times the DSMR 5 rate) so the test stays short; device
reaction delays are scaled the same way.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
import random

from custom_components.stroomwijs.engine.capabilities import CurtailPriority
from custom_components.stroomwijs.engine.grid import GridConnection
from custom_components.stroomwijs.engine.guard import (
    Guard,
    GuardConfig,
    GuardedDevice,
    InterventionKind,
)
from custom_components.stroomwijs.engine.limits import LimitStack, P1MessageLimitSource
from custom_components.stroomwijs.engine.meter import Meter, MeterReading
from custom_components.stroomwijs.engine.meter.stream import P1StreamReader
from custom_components.stroomwijs.engine.meter.versions import resolve_version
from custom_components.stroomwijs.engine.simulate.household import (
    BaseLoadProfile,
    SimEvCharger,
    SimHousehold,
    SimSwitchLoad,
)
from custom_components.stroomwijs.engine.simulate.p1 import (
    P1TelegramServer,
    build_telegram,
)
from tests.conftest import SHARED_DATA

INTERVAL = 0.1


async def test_p1_text_message_limit_over_tcp_is_held_within_a_few_telegrams() -> None:
    """The meter's text field says LIMIT 6kW: the guard holds it, live."""
    house = SimHousehold(
        start=datetime.now(UTC),
        base_load=BaseLoadProfile.from_csv(
            SHARED_DATA / "household_BE_fluvius_2023-10-22_2023-12-31_15min.csv",
            align_to=datetime.now(UTC) - timedelta(hours=18),
        ),
    )
    ev = house.add(
        SimEvCharger(clock=house.clock, reaction_delay=timedelta(milliseconds=200))
    )
    boiler = house.add(
        SimSwitchLoad("boiler", "Boiler", clock=house.clock, rated_w=2_000)
    )

    def frame(_index: int) -> bytes:
        house.now = datetime.now(UTC)
        return build_telegram(house.telegram_values())

    p1_limit = P1MessageLimitSource()
    guard = Guard(
        GuardConfig(
            grid=GridConnection(phases=3, fuse_a=35),
            data_timeout=timedelta(seconds=2),
        ),
        [
            GuardedDevice(
                device=ev,
                priority=CurtailPriority.EV,
                reaction_delay=timedelta(milliseconds=200),
                pause_allowed=True,
            ),
            GuardedDevice(
                device=boiler,
                priority=CurtailPriority.BOILER,
                reaction_delay=timedelta(milliseconds=50),
                phases=(0,),
            ),
        ],
        limits=LimitStack([p1_limit]),
        rng=random.Random(1),  # noqa: S311 - reproducible stagger
    )
    meter = Meter(stale_after=2.0)
    readings: list[MeterReading] = []

    def on_reading(reading: MeterReading) -> None:
        house.now = reading.timestamp
        p1_limit.feed(reading.text_message, reading.timestamp)
        readings.append(reading)

    meter.subscribe(on_reading)
    guard.attach(meter)
    stop = asyncio.Event()
    async with P1TelegramServer(frame, interval=INTERVAL) as server:
        reader = P1StreamReader(meter, server.url, resolve_version("5"))
        reader.start()
        worker = asyncio.create_task(guard.async_run(stop, lambda: datetime.now(UTC)))
        try:
            await asyncio.sleep(1.0)
            assert readings
            assert readings[-1].import_w > 10_000  # EV and boiler at full power
            house.text_message = "LIMIT 6kW FOR 30m"
            await asyncio.sleep(1.5)
        finally:
            stop.set()
            await worker
            await reader.stop()
    limited = [r for r in readings if r.text_message]
    assert limited, "the text message never reached the meter"
    first = limited[0].timestamp
    bound = guard.reaction_bound(timedelta(seconds=INTERVAL))
    late = [r for r in limited if r.timestamp > first + bound and r.import_w > 6_000]
    assert not late, [(r.timestamp - first, r.import_w) for r in late]
    kinds = {i.kind for i in guard.log}
    assert InterventionKind.CURTAIL in kinds
    assert guard.status().limit_source == "p1_message"
    assert ev.commands
