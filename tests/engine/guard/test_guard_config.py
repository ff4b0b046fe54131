"""The guard's settings, its devices and its saved state, given bad input.

Settings that cannot work are refused when made; a stored override the
device cannot take (beyond its rating, beyond a float) is dropped with a
reason, never raised; a listener or a whole limit stack that fails does not
stop the guard.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
import logging
import math
from typing import Any, cast
from zoneinfo import ZoneInfoNotFoundError

import pytest

from custom_components.stroomwijs.engine.capabilities import CurtailPriority
from custom_components.stroomwijs.engine.grid import GridConnection
from custom_components.stroomwijs.engine.guard import (
    GuardConfig,
    GuardedDevice,
    Intervention,
    InterventionKind,
)
from custom_components.stroomwijs.engine.limits import EffectiveLimit, LimitStack
from custom_components.stroomwijs.engine.simulate.household import (
    BaseLoadProfile,
    SimEvCharger,
)

from .support import build_rig, evening_window

START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
GRID = GridConnection(phases=3, fuse_a=25)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"margin_w": math.nan}, "finite"),
        ({"phase_margin_a": math.inf}, "finite"),
        ({"release_hysteresis_w": -math.inf}, "finite"),
        ({"margin_w": -1.0}, "negative"),
        ({"phase_margin_a": -0.5}, "negative"),
        ({"release_hysteresis_w": -1.0}, "hysteresis"),
        ({"stagger_min": timedelta(seconds=-1)}, "stagger"),
        ({"stagger_min": timedelta(seconds=40)}, "stagger"),
        ({"data_timeout": timedelta(0)}, "data timeout"),
        ({"command_timeout": timedelta(seconds=-3)}, "command timeout"),
        ({"release_window": timedelta(seconds=-1)}, "release window"),
        ({"bad_readings_lost": 0}, "bad_readings_lost"),
    ],
)
def test_settings_that_cannot_work_are_refused(
    changes: dict[str, Any], match: str
) -> None:
    """NaN margins, negative timeouts, an inverted stagger: ValueError at once."""
    with pytest.raises(ValueError, match=match):
        GuardConfig(grid=GRID, **changes)


def test_an_unknown_time_zone_is_refused() -> None:
    """The interventions-today count needs a real zone."""
    with pytest.raises(ZoneInfoNotFoundError):
        GuardConfig(grid=GRID, time_zone="Europe/Atlantis")


def test_a_device_needs_settable_power_and_real_phases() -> None:
    """A read-only device, no phases or a fourth phase is refused."""
    rig = build_rig(start=START)
    with pytest.raises(TypeError, match="neither PowerSettable nor Switchable"):
        GuardedDevice(device=object(), priority=CurtailPriority.EV)  # type: ignore[arg-type]
    for phases in ((), (3,), (0, -1)):
        with pytest.raises(ValueError, match="phases"):
            GuardedDevice(device=rig.ev, priority=CurtailPriority.EV, phases=phases)


async def test_commands_for_an_unknown_device_are_a_key_error() -> None:
    """A plan or override for a device the guard does not know is refused."""
    rig = build_rig(start=START)
    await rig.run(2)
    with pytest.raises(KeyError, match="unknown device 'dryer'"):
        await rig.guard.async_set_plan("dryer", 1000.0, rig.house.now)
    with pytest.raises(KeyError, match="unknown device"):
        await rig.guard.async_device_back("dryer", rig.house.now)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"boiler": 5000.0}, "outside 0..2000 W"),
        ({"ev": 10**400}, "not a finite number"),
        ({"ev": -(10**400)}, "not a finite number"),
        ({"ev": "11 kW"}, "not a number"),
        ({"dryer": 1000.0}, "unknown device"),
        ({7: 1000.0}, "unknown device"),
    ],
)
def test_stored_overrides_the_device_cannot_take_are_dropped(
    overrides: dict[object, object], reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Beyond the rating, beyond a float, text, unknown: dropped and logged.

    An integer beyond a float's range raised OverflowError from the restore
    (whose contract is "never an exception"), ending the household's restore.
    """
    rig = build_rig(start=START)
    state = rig.guard.export_state()
    state["overrides"] = overrides
    assert not rig.guard.restore_state(state, START)
    assert reason in caplog.text
    assert not rig.guard.export_state()["overrides"]


async def test_a_failing_intervention_listener_does_not_silence_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One listener raising is logged; the guard and the others carry on."""
    rig = build_rig(start=START)

    def broken(_item: Intervention) -> None:
        msg = "listener bug"
        raise RuntimeError(msg)

    rig.guard.subscribe(broken)
    heard: list[Intervention] = []
    rig.guard.subscribe(heard.append)
    await rig.run(2)
    await rig.guard.async_set_override("boiler", 0.0, rig.house.now)
    assert heard
    assert {i.kind for i in heard} == {InterventionKind.OVERRIDE}
    assert "intervention listener failed" in caplog.text
    assert rig.boiler.is_on is False


class BrokenStack(LimitStack):
    """A limit stack that fails as a whole after its first answers."""

    broken = False

    def effective(self, at: datetime) -> EffectiveLimit:
        """Fail once broken (a bug, not a failing source)."""
        if self.broken:
            msg = "stack bug"
            raise RuntimeError(msg)
        return super().effective(at)


async def test_a_failing_limit_stack_keeps_the_last_limit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The stack failing as a whole: the last limit holds; logged once, not per reading.

    It logged a traceback at every reading (once a second on a DSMR 5 meter).
    """
    caplog.set_level(logging.ERROR)
    rig = build_rig(
        start=START,
        base=BaseLoadProfile.constant(1500),
        windows=(evening_window(time(0), time(23, 59), 6_000),),
    )
    stack = BrokenStack(rig.limits.sources)
    rig.guard._limits = stack  # the stack the guard was given, broken
    await rig.run(3)
    before = rig.guard.status()
    stack.broken = True
    await rig.run(3)
    after = rig.guard.status()
    failures = [r for r in caplog.records if "the limit stack failed" in r.getMessage()]
    assert len(failures) == 1  # once, not once a second
    assert before.import_limit_w == 6_000
    assert after.import_limit_w == before.import_limit_w
    assert not after.data_lost
    caplog.set_level(logging.INFO)
    stack.broken = False
    await rig.run(2)
    assert "the limit stack works again" in caplog.text


class BuggyEv(SimEvCharger):
    """The simulated charger with a driver bug that can be switched on."""

    bug = False
    broken_properties = False

    async def async_set_power(self, setpoint_w: float) -> None:
        """Raise a plain bug (not DeviceUnavailableError) when told to."""
        if self.bug:
            msg = "driver bug"
            raise RuntimeError(msg)
        await super().async_set_power(setpoint_w)

    @property
    def available(self) -> bool:
        """Raise when the properties are broken."""
        if self.broken_properties:
            msg = "property bug"
            raise RuntimeError(msg)
        return True

    @property
    def setpoint_w(self) -> float | None:
        """Raise when the properties are broken."""
        if self.broken_properties:
            msg = "property bug"
            raise RuntimeError(msg)
        return self._setpoint


async def test_a_driver_bug_is_a_failed_command_and_the_guard_moves_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The EV's driver raising a plain bug: recorded, logged, the next one cut."""
    rig = build_rig(
        start=START,
        base=BaseLoadProfile.constant(1500),
        windows=(evening_window(time(0), time(23, 59), 9_000),),
    )
    rig.ev.__class__ = BuggyEv
    ev = cast("BuggyEv", rig.ev)
    ev.bug = True
    await rig.run(30)
    failed = [i for i in rig.log if i.kind is InterventionKind.COMMAND_FAILED]
    assert failed
    assert failed[0].device_id == "ev"
    assert "RuntimeError: driver bug" in failed[0].reason
    assert "command to ev failed" in caplog.text
    # The guard went on to the others: everything else is cut, and it says
    # the limit cannot be held while the car's driver does not obey.
    assert rig.boiler.is_on is False
    assert rig.heat_pump.is_on is False
    assert rig.guard.status().limit_holdable is False


async def test_a_driver_whose_properties_raise_counts_as_unavailable() -> None:
    """A broken ``available`` is an unavailable device, never a crashed guard."""
    rig = build_rig(
        start=START,
        base=BaseLoadProfile.constant(1500),
        windows=(evening_window(time(0), time(23, 59), 9_000),),
    )
    rig.ev.__class__ = BuggyEv
    ev = cast("BuggyEv", rig.ev)
    await rig.run(5)
    ev.broken_properties = True
    await rig.run(30)
    assert "ev" in rig.guard.status().unavailable_devices
    assert InterventionKind.DEVICE_UNAVAILABLE in [i.kind for i in rig.log]


async def test_a_device_back_gets_its_wish_unless_curtailed_or_silent() -> None:
    """Back again: the plan's setpoint is sent; a curtailed or silent one waits."""
    rig = build_rig(start=START, base=BaseLoadProfile.constant(1500))
    await rig.run(3)
    now = rig.house.now
    full = rig.ev.setpoint_w
    rig.ev.fail_commands = True  # the charger drops off the network
    await rig.guard.async_set_plan("ev", 7_000.0, now)
    assert rig.ev.setpoint_w == full  # the plan did not reach it
    rig.ev.fail_commands = False
    # Back again: it gets the plan it missed.
    assert await rig.guard.async_device_back("ev", now)
    assert rig.ev.commands
    assert rig.ev.setpoint_w == pytest.approx(7_000.0, abs=300)
    # A device that still does not answer is left for its next return.
    rig.boiler.fail_commands = True
    rig.boiler.commands.clear()
    assert await rig.guard.async_device_back("boiler", now)
    assert not rig.boiler.commands
