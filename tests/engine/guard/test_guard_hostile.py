"""The guard under hostile input and hard cases (issue 10).

Non-finite and implausible readings, a car that may not pause, a limit that
cannot be held, a message that overflows, noise, a 1 W excess, the meter's
availability and a device that stops answering.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
import itertools
import math

import pytest

from custom_components.stroomwijs.engine.guard import InterventionKind
from custom_components.stroomwijs.engine.limits import (
    DEFAULT_FAILSAFE_IMPORT_W,
    Limit,
    P1MessageLimitSource,
    StaticWindowSource,
)
from custom_components.stroomwijs.engine.meter.core import Meter
from custom_components.stroomwijs.engine.meter.models import TelegramValues
from custom_components.stroomwijs.engine.simulate.household import (
    BaseLoadProfile,
    SimEvCharger,
    SimReading,
)

from .support import Rig, build_rig, evening_window

START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
ALL_DAY = (time(0, 0), time(23, 59))


def all_day(import_w: float) -> tuple[StaticWindowSource | object, ...]:
    """Return a window limit that holds for the whole test."""
    return (evening_window(*ALL_DAY, import_w),)


async def run_with(rig: Rig, seconds: int, change: object) -> None:
    """Run, handing the guard each reading after ``change(reading)``."""
    assert callable(change)

    async def step(reading: SimReading) -> None:
        await rig.guard.async_process(change(reading))

    await rig.house.async_run(seconds, step)


def kinds(rig: Rig) -> list[InterventionKind]:
    """Return the kinds of every recorded intervention, in order."""
    return [item.kind for item in rig.log]


# ------------------------------------------------------------ defect 1, 2


async def test_nan_readings_over_the_limit_are_data_lost_not_blindness() -> None:
    """30 s of NaN while 7.5 kW flows against 5 kW: data lost, safe minimum."""
    rig = build_rig(
        start=START,
        base=BaseLoadProfile.constant(7_500 - 11_040 - 2_000 - 2_500 + 5_000),
        windows=all_day(5_000),
    )
    await run_with(rig, 30, lambda r: replace(r, import_w=math.nan))
    assert InterventionKind.DATA_LOST in kinds(rig)
    assert rig.guard.status().data_lost
    assert rig.guard.status().bad_readings == 30
    assert rig.ev.setpoint_w == 0.0  # pause allowed: the safe minimum
    bad = [i for i in rig.log if i.kind is InterventionKind.BAD_READING]
    assert len(bad) == 1
    assert "not a finite number" in bad[0].reason


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
async def test_a_non_finite_phase_current_is_a_bad_reading(value: float) -> None:
    """One NaN current makes the whole reading unusable."""
    rig = build_rig(start=START)
    await rig.run(3)
    await run_with(rig, 1, lambda r: replace(r, phase_currents_a=(1.0, value, 1.0)))
    assert kinds(rig)[-1] is InterventionKind.BAD_READING
    assert not rig.guard.status().data_lost


async def test_one_implausible_reading_is_reported_and_never_acted_on() -> None:
    """+99,999.999 kW once: no emergency, no device touched; then all is normal."""
    rig = build_rig(start=START, windows=all_day(20_000))
    await rig.run(5)
    before = {d: len(d.commands) for d in (rig.ev, rig.boiler, rig.heat_pump)}
    await run_with(rig, 1, lambda r: replace(r, import_w=99_999_999.0))
    await rig.run(5)
    assert InterventionKind.EMERGENCY not in kinds(rig)
    assert {d: len(d.commands) for d in before} == before
    bad = [i for i in rig.log if i.kind is InterventionKind.BAD_READING]
    assert len(bad) == 1
    assert "implausible" in bad[0].reason
    assert not rig.guard.status().data_lost


async def test_repeated_implausible_readings_are_data_lost() -> None:
    """Three implausible readings in a row: the safe side."""
    rig = build_rig(start=START)
    await rig.run(3)
    await run_with(rig, 3, lambda r: replace(r, import_w=1e9))
    assert rig.guard.status().data_lost
    await rig.run(2)
    assert not rig.guard.status().data_lost
    assert InterventionKind.DATA_RESTORED in kinds(rig)


# ------------------------------------------------------------ defect 5


async def test_a_car_that_may_not_pause_is_paused_in_an_emergency_and_said_so() -> None:
    """Base load near 5 kW: everything else is off, then the car pauses anyway."""
    rig = build_rig(
        start=START,
        base=BaseLoadProfile.constant(4_700),
        windows=all_day(5_000),
        ev_pause_allowed=False,
    )
    await rig.run(60)
    over = [r for r in rig.house.history[-30:] if r.net_power_w > 5_000]
    assert not over
    assert rig.ev.setpoint_w == 0.0
    status = rig.guard.status()
    assert status.forced_pause == ("ev",)
    assert status.emergency_notice is not None
    assert "ev" in status.emergency_notice
    assert "window:evening" in status.emergency_notice
    forced = [
        i
        for i in rig.log
        if i.kind is InterventionKind.EMERGENCY and i.device_id == "ev"
    ]
    assert forced
    assert "not to pause" in forced[-1].reason


class _MinimumInsteadOfPause(SimEvCharger):
    """A driver set to hold the car at its minimum: it never takes 0 W."""

    async def async_set_power(self, setpoint_w: float) -> None:
        await super().async_set_power(
            self.power_range.clamp(setpoint_w, allow_pause=False)
        )


class _WithEmergencyPause(_MinimumInsteadOfPause):
    """The same driver, with the emergency path the guard uses."""

    async def async_emergency_pause(self) -> None:
        await SimEvCharger.async_set_power(self, 0.0)


async def test_a_driver_that_will_not_pause_gets_its_emergency_pause_called() -> None:
    """The guard pauses through ``async_emergency_pause`` where a driver has it."""
    rig = build_rig(
        start=START,
        base=BaseLoadProfile.constant(4_700),
        windows=all_day(5_000),
        ev_pause_allowed=False,
    )
    rig.ev.__class__ = _WithEmergencyPause
    await rig.run(60)
    assert rig.ev.setpoint_w == 0.0
    assert rig.guard.status().forced_pause == ("ev",)
    assert rig.guard.status().limit_holdable
    assert all(r.net_power_w <= 5_000 for r in rig.house.history[-30:])


async def test_a_driver_that_will_not_pause_is_reported_not_asked_again() -> None:
    """No emergency path: the guard counts the minimum it kept, and says so."""
    rig = build_rig(
        start=START,
        base=BaseLoadProfile.constant(4_700),
        windows=all_day(5_000),
        ev_pause_allowed=False,
    )
    rig.ev.__class__ = _MinimumInsteadOfPause
    await rig.run(120)
    assert rig.ev.setpoint_w == pytest.approx(4_140)
    status = rig.guard.status()
    assert not status.limit_holdable
    assert status.shortfall_w == pytest.approx(4_700 + 4_140 - 5_000, abs=1)
    took = [i for i in rig.log if "the device took" in i.reason]
    assert len(took) == 1
    assert len(rig.ev.commands) <= 3


async def test_a_car_that_may_not_pause_is_paused_only_as_the_last_resort() -> None:
    """With room enough after the other steps, the car keeps its minimum."""
    rig = build_rig(
        start=START,
        base=BaseLoadProfile.constant(1_000),
        windows=all_day(5_500),
        ev_pause_allowed=False,
    )
    await rig.run(40)
    assert rig.ev.setpoint_w == pytest.approx(4_140)
    assert rig.guard.status().forced_pause == ()


# ------------------------------------------------------------ defect 6


async def test_the_guard_says_when_the_limit_cannot_be_held_and_by_how_much() -> None:
    """Uncontrollable load alone is over the limit: status and event, then back."""
    starts = [START, START + timedelta(seconds=90)]
    rig = build_rig(
        start=START,
        base=BaseLoadProfile(starts, [6_000, 1_000], noise_w=0.0),
        windows=all_day(5_000),
    )
    await rig.run(60)
    status = rig.guard.status()
    assert not status.limit_holdable
    assert status.shortfall_w == pytest.approx(1_000, abs=1)
    events = [i for i in rig.log if i.kind is InterventionKind.LIMIT_NOT_HOLDABLE]
    assert len(events) == 1
    assert events[0].shortfall_w is not None
    assert events[0].shortfall_w == pytest.approx(1_000, abs=1)
    assert "1000 W" in events[0].reason
    await rig.run(60)
    assert rig.guard.status().limit_holdable
    assert rig.guard.status().shortfall_w is None
    assert InterventionKind.LIMIT_HOLDABLE in kinds(rig)


# ------------------------------------------------------------ defect 7


@pytest.mark.parametrize(
    "message",
    [
        "LIMIT 4kW FOR 99999999h",
        "LIMIT 4kW FOR " + "9" * 5000 + "m",
        "LIMIT 4kW UNTIL 9999-12-31T23:59:59+00:00",
        "LIMIT 4kW UNTIL 9999-12-31T23:59:59-14:00",
        "LIMIT " + "9" * 400 + "kW",
        "LIMIT 1e999kW",
    ],
)
async def test_an_overflowing_p1_message_never_keeps_readings_from_the_guard(
    message: str,
) -> None:
    """The message is rejected with a problem report; the guard goes on."""
    source = P1MessageLimitSource()
    rig = build_rig(start=START, windows=all_day(8_000))
    rig.limits.add(source)
    rig.house.text_message = "LIMIT 6kW"
    await rig.run(5)
    assert source.current is not None
    assert source.current.import_w == 6_000
    rig.house.text_message = message
    await rig.run(10)
    status = rig.guard.status()
    assert status.timestamp == rig.house.now
    assert source.problem(rig.house.now) is not None
    problems = rig.limits.effective(rig.house.now).problems
    assert any(p.startswith("p1_message:") for p in problems)
    # The garbled message does not lift the limit it replaces.
    assert status.import_limit_w == 6_000
    assert all(r.net_power_w <= 6_000 for r in rig.house.history[-5:])


def test_feed_never_raises_whatever_the_message() -> None:
    """Direct feeding of the source, as the Home Assistant glue does it."""
    source = P1MessageLimitSource()
    for text in ("LIMIT 4kW FOR 99999999h", "LIMIT 4kW UNTIL 9999-12-31T23:59Z"):
        assert source.feed(text, START) is None
        assert source.problem(START) is not None


class _BrokenSource:
    """A limit source with a bug: it raises on every question."""

    name = "broken"

    def limits_between(self, start: datetime, end: datetime) -> Sequence[Limit]:
        del start, end
        raise ZeroDivisionError

    def problem(self, now: datetime) -> str | None:
        del now
        raise RuntimeError("no idea")


async def test_a_failing_limit_source_becomes_the_failsafe_limit() -> None:
    """A source that raises: the guard keeps reading and holds the failsafe."""
    rig = build_rig(start=START)
    rig.limits.add(_BrokenSource())
    await rig.run(30)
    status = rig.guard.status()
    assert status.timestamp == rig.house.now
    assert status.import_limit_w == DEFAULT_FAILSAFE_IMPORT_W
    assert status.limit_source == "broken:failed"
    effective = rig.limits.effective(rig.house.now)
    assert effective.failsafe
    assert any("broken: failed" in p for p in effective.problems)


# ------------------------------------------------------------ defect 8


def _reversals(commands: list[tuple[datetime, float]]) -> int:
    turns = 0
    last = 0
    for (_, a), (_, b) in itertools.pairwise(commands):
        direction = (b > a) - (b < a)
        if direction and last and direction != last:
            turns += 1
        if direction:
            last = direction
    return turns


async def test_a_noisy_base_load_does_not_make_the_ev_go_up_and_down() -> None:
    """Sigma = 150 W under a steady 9 kW limit for 28 minutes: calm commands."""
    base = BaseLoadProfile([START], [3_000], noise_w=150.0, seed=2)
    rig = build_rig(start=START, base=base, windows=all_day(9_000))
    await rig.run(28 * 60)
    assert _reversals(rig.ev.commands) <= 2, rig.ev.commands
    assert len(rig.ev.commands) <= 15, rig.ev.commands
    over = [r for r in rig.house.history[60:] if r.net_power_w > 9_000]
    assert len(over) <= 3


# ------------------------------------------------------------ defect 9


async def test_a_one_watt_excess_is_shed_by_the_ev_not_the_boiler() -> None:
    """Any positive excess moves the first device in the order."""
    net = 1_500 + 11_040 + 2_000 + 2_500
    window = evening_window(*ALL_DAY, net + 200 - 0.5)
    rig = build_rig(start=START, windows=(window,))
    await rig.run(5)
    assert rig.ev.commands
    assert rig.ev.setpoint_w is not None
    assert rig.ev.setpoint_w < 11_040
    assert not rig.boiler.commands
    assert not rig.heat_pump.commands


# ------------------------------------------------------------ defect 11


async def test_the_guard_hears_the_meter_go_unavailable_at_once() -> None:
    """Meter unavailable: data lost now, not after the guard's own 10 s."""
    rig = build_rig(start=START)
    meter = Meter(grid=rig.guard.config.grid, stale_after=math.inf)
    detach = rig.guard.attach(meter)
    stop = asyncio.Event()
    clock = rig.house.clock
    task = asyncio.create_task(rig.guard.async_run(stop, clock))
    try:
        rig.house.now += timedelta(seconds=1)
        meter.process(TelegramValues(dsmr_version="5", import_w=3_000.0), clock())
        for _ in range(20):
            await asyncio.sleep(0)
        assert rig.guard.status().measured_w == 3_000.0
        assert rig.guard.status().meter_available
        meter.mark_unavailable("cable pulled")
        for _ in range(20):
            await asyncio.sleep(0)
        status = rig.guard.status()
        assert status.data_lost
        assert status.meter_available is False
        lost = [i for i in rig.log if i.kind is InterventionKind.DATA_LOST]
        assert lost
        assert "meter unavailable" in lost[-1].reason
        assert lost[-1].timestamp == clock()
    finally:
        stop.set()
        await task
        detach()


# ------------------------------------------------------------ defect 13


async def test_an_unavailable_device_counts_as_drawing_what_it_may() -> None:
    """A silent boiler may switch on: no one gets the room it could take."""
    starts = [START, START + timedelta(seconds=120)]
    rig = build_rig(
        start=START,
        base=BaseLoadProfile(starts, [3_000, 1_000], noise_w=0.0),
        windows=all_day(9_000),
    )
    await rig.boiler.async_switch(on=False)  # its own thermostat: the guard never
    rig.boiler.commands.clear()  # commanded it, so it may draw its rating
    rig.house.now += timedelta(seconds=1)
    rig.boiler.fail_commands = True
    await rig.run(400)
    status = rig.guard.status()
    assert status.unavailable_devices == ("boiler",)
    assert InterventionKind.DEVICE_UNAVAILABLE in kinds(rig)
    granted = (rig.ev.setpoint_w or 0.0) + (2_500 if rig.heat_pump.is_on else 0.0)
    # Base 1 kW + what the guard allows + the boiler's 2 kW fit under 8.8 kW.
    assert 1_000 + granted + 2_000 <= 8_800 + 1
    # Back again: its power is known, and the room is granted.
    rig.boiler.fail_commands = False
    await rig.run(200)
    assert rig.guard.status().unavailable_devices == ()
    assert InterventionKind.DEVICE_AVAILABLE in kinds(rig)
    granted = (rig.ev.setpoint_w or 0.0) + (2_500 if rig.heat_pump.is_on else 0.0)
    assert 1_000 + granted > 8_800 - 2_000


# ------------------------------------------------------------ siblings


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
async def test_a_non_finite_plan_or_override_is_refused(value: float) -> None:
    """NaN from a planner or a service never reaches a device."""
    rig = build_rig(start=START)
    await rig.run(3)
    with pytest.raises(ValueError, match="finite"):
        await rig.guard.async_set_plan("ev", value, rig.house.now)
    with pytest.raises(ValueError, match="finite"):
        await rig.guard.async_set_override("ev", value, rig.house.now)
    assert not rig.ev.commands


async def test_a_driver_reporting_nan_power_gets_finite_commands() -> None:
    """A charger whose power reads NaN: cuts are still finite and effective."""
    rig = build_rig(start=START, windows=all_day(9_000))
    rig.ev.__class__ = type(
        "NanPowerEv", (type(rig.ev),), {"power_w": property(lambda _: math.nan)}
    )
    await rig.run(30)
    assert rig.ev.commands
    assert all(math.isfinite(value) for _, value in rig.ev.commands)
    assert all(r.net_power_w <= 9_000 for r in rig.house.history[-10:])


async def test_a_reading_without_a_time_zone_is_a_bad_reading() -> None:
    """A naive timestamp cannot be compared with the guard's clock: not used."""
    rig = build_rig(start=START)
    await rig.run(2)
    await run_with(
        rig, 1, lambda r: replace(r, timestamp=r.timestamp.replace(tzinfo=None))
    )
    assert kinds(rig)[-1] is InterventionKind.BAD_READING
    await rig.guard.async_tick(rig.house.now)
    assert not rig.guard.status().data_lost


class _ObserveFails:
    """A source that fails on every reading it is given."""

    name = "flaky"

    def observe(self, timestamp: datetime, average: float | None) -> None:
        del timestamp, average
        raise RuntimeError("always")

    def limits_between(self, start: datetime, end: datetime) -> list[Limit]:
        del start, end
        return []

    def problem(self, now: datetime) -> str | None:
        del now
        return None


async def test_a_source_failing_on_every_reading_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No log flood at telegram rate; the guard goes on with each reading."""
    rig = build_rig(start=START)
    rig.limits.add(_ObserveFails())
    await rig.run(20)
    assert rig.guard.status().timestamp == rig.house.now
    failures = [r for r in caplog.records if "failed on a reading" in r.getMessage()]
    assert len(failures) == 1
