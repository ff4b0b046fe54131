"""White goods given bad input: settings, saved state, commands, a dead plug.

A saved state of the wrong shape (or with an absurd price) is refused with
ValueError and never half-applied as NaN; arming with a bad price or a past
deadline is refused; a plug or a start button that does not answer marks
the machine unavailable; a remote start withdrawn on the machine disarms.
"""

from __future__ import annotations

from datetime import timedelta
import math
from typing import Any

import pytest

from custom_components.stroomwijs.engine.capabilities import DeviceUnavailableError
from custom_components.stroomwijs.engine.drivers.appliance import (
    ApplianceKind,
    CycleState,
    PlugApplianceConfig,
    ProfileLearner,
    RemoteStartAppliance,
    RemoteStartApplianceConfig,
)
from custom_components.stroomwijs.engine.drivers.entities import EntityCallError
from custom_components.stroomwijs.engine.simulate.entities import InMemoryEntityPort
from custom_components.stroomwijs.engine.simulate.washer import (
    RemoteStartWasherSim,
    WashingMachineSim,
)

from .device_support import SimClock
from .test_appliance import _plug, _run


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"device_id": "  "}, "device_id"),
        ({"default_deadline": timedelta(minutes=5)}, "default_deadline"),
        ({"default_deadline": timedelta(days=3)}, "default_deadline"),
        ({"phase": 4}, "phase"),
        ({"idle_w": 0.0}, "idle_w"),
        ({"idle_w": 500.0}, "idle_w"),
        ({"quiet_for": timedelta(seconds=10)}, "quiet_for"),
        ({"quiet_for": timedelta(hours=2)}, "quiet_for"),
    ],
)
def test_plug_settings_that_cannot_work_are_refused(
    changes: dict[str, Any], match: str
) -> None:
    """Empty id, a deadline of minutes or days, phase 4, odd idle or quiet time."""
    base: dict[str, Any] = {
        "device_id": "w",
        "name": "w",
        "plug_entity": "switch.w",
        "power_entity": "sensor.w_power",
    }
    with pytest.raises(ValueError, match=match):
        PlugApplianceConfig(**(base | changes))


def test_a_state_cannot_mean_both_running_and_finished() -> None:
    """Overlapping running and finished states would end every cycle at once."""
    with pytest.raises(ValueError, match="both running and finished"):
        RemoteStartApplianceConfig(
            device_id="w",
            name="w",
            remote_start_entity="binary_sensor.w",
            operation_state_entity="sensor.w",
            start_entity="button.w",
            running_states=frozenset({"run", "finished"}),
        )


@pytest.mark.parametrize(
    ("state", "match"),
    [
        (["cycles"], "must be an object"),
        ({"cycles": {"a": 1}}, "must be a list"),
        ({"cycles": [[]]}, "each cycle"),
        ({"cycles": [[0.5, True]]}, "each cycle"),
        ({"cycles": [[0.5, math.nan]]}, "each cycle"),
        ({"state": "exploded"}, "exploded"),
        ({"only_if_cheaper_than": "cheap"}, "must be a number"),
        ({"only_if_cheaper_than": True}, "must be a number"),
        ({"only_if_cheaper_than": math.nan}, "price >= 0"),
        ({"only_if_cheaper_than": -0.1}, "price >= 0"),
        ({"only_if_cheaper_than": 10**400}, "price >= 0"),
        ({"state": "armed"}, "needs armed_at"),
        ({"armed_at": 1700000000}, "ISO time"),
        ({"armed_at": "2026-11-23T15:00:00"}, "time zone"),
        ({"finish_by": "tomorrow"}, "isoformat"),
    ],
)
def test_malformed_saved_state_is_refused(state: object, match: str) -> None:
    """Every wrong shape is a ValueError naming it, never NaN or an overflow.

    A price of NaN was taken as it was; an integer beyond a float raised
    OverflowError instead of the documented ValueError.
    """
    washer, _sim = _plug(SimClock())
    with pytest.raises(ValueError, match=match):
        washer.restore_state(state)


@pytest.mark.parametrize("price", [math.nan, math.inf, -0.01])
async def test_arming_with_a_bad_price_or_a_past_deadline_is_refused(
    price: float,
) -> None:
    """A NaN, infinite or negative price, a deadline now or past: refused."""
    clock = SimClock()
    washer, _sim = _plug(clock)
    with pytest.raises(ValueError, match="price"):
        await washer.async_arm(only_if_cheaper_than=price)
    with pytest.raises(ValueError, match="passed"):
        await washer.async_arm(clock.now)
    with pytest.raises(ValueError, match="time zone"):
        washer.set_deadline(clock.now.replace(tzinfo=None))
    assert washer.state is CycleState.IDLE
    with pytest.raises(DeviceUnavailableError, match="nothing armed"):
        await washer.async_start()


async def test_a_running_cycle_cannot_be_armed_again() -> None:
    """Arming a running machine would switch its plug off mid-wash."""
    clock = SimClock()
    washer, sim = _plug(clock)
    await washer.async_arm()
    sim.machine.press_start()
    await washer.async_start()
    await _run(washer, sim, clock, 60)
    assert washer.state is CycleState.RUNNING
    with pytest.raises(ValueError, match="running"):
        await washer.async_arm()
    assert sim.machine.powered


async def test_a_plug_that_does_not_answer_makes_the_washer_unavailable() -> None:
    """A failing switch call is raised and marks the machine unavailable."""
    clock = SimClock()
    washer, sim = _plug(clock)
    await washer.async_arm()
    sim.machine.press_start()
    sim.port.fail_calls(sim.plug)
    with pytest.raises(EntityCallError, match="failed for"):
        await washer.async_start()
    assert not washer.available
    assert washer.state is CycleState.ARMED
    sim.port.fail_calls(sim.plug, failing=False)
    await washer.async_start()
    assert washer.available
    assert washer.state is CycleState.RUNNING


def _remote(clock: SimClock) -> tuple[RemoteStartAppliance, RemoteStartWasherSim]:
    port = InMemoryEntityPort()
    sim = RemoteStartWasherSim(port, WashingMachineSim(clock=clock))
    washer = RemoteStartAppliance(
        RemoteStartApplianceConfig(
            device_id="washer",
            name="Washer",
            remote_start_entity=sim.remote_start,
            operation_state_entity=sim.operation,
            start_entity=sim.start_button,
            power_entity=sim.power_sensor,
        ),
        port,
        clock=clock,
    )
    return washer, sim


async def test_remote_start_withdrawn_on_the_machine_disarms() -> None:
    """The user turns remote start off: disarmed, and a start is refused."""
    clock = SimClock()
    washer, sim = _remote(clock)
    sim.prepare()
    await washer.async_arm(clock.now + timedelta(hours=6))
    sim.remote_start_enabled = False
    sim.publish()
    await washer.async_update()
    assert washer.state is CycleState.IDLE
    assert "remote start withdrawn" in washer.events[-1]
    with pytest.raises(DeviceUnavailableError, match="nothing armed"):
        await washer.async_start()


async def test_remote_washer_without_its_operation_state_is_unavailable() -> None:
    """No operation state: unavailable, and nothing is decided on it."""
    clock = SimClock()
    washer, sim = _remote(clock)
    sim.prepare()
    await washer.async_arm(clock.now + timedelta(hours=6))
    sim.port.set_unavailable(sim.operation)
    await washer.async_update()
    assert not washer.available
    assert washer.is_on is None
    assert washer.state is CycleState.ARMED


async def test_a_start_button_that_fails_leaves_the_washer_armed() -> None:
    """The start call failing: raised, unavailable, still armed for a retry."""
    clock = SimClock()
    washer, sim = _remote(clock)
    sim.prepare()
    await washer.async_arm(clock.now + timedelta(hours=6))
    sim.port.fail_calls(sim.start_button)
    with pytest.raises(EntityCallError, match="failed for"):
        await washer.async_start()
    assert not washer.available
    assert washer.state is CycleState.ARMED


async def test_a_remote_start_that_does_not_take_is_armed_again() -> None:
    """Started, but the machine never runs: armed again after the timeout."""
    clock = SimClock()
    washer, sim = _remote(clock)
    sim.prepare()
    await washer.async_arm(clock.now + timedelta(hours=6))
    await washer.async_start()
    sim.machine.set_powered(powered=False)  # it did not take the command
    sim.machine.state = "armed"
    sim.remote_start_enabled = True
    await _run(washer, sim, clock, 1800)
    assert washer.state is CycleState.ARMED
    assert "did not start" in washer.events[-1]


@pytest.mark.parametrize(
    "samples_w",
    [
        [2000.0, math.nan, 0.0],
        [2000.0, math.inf, 0.0],
    ],
)
def test_a_cycle_with_a_non_finite_sample_is_not_learned(
    samples_w: list[float],
) -> None:
    """NaN or Infinity in a cycle: discarded, the profile stays finite."""
    learner = ProfileLearner(ApplianceKind.WASHING_MACHINE)
    start = SimClock().now
    samples = [
        (start + timedelta(minutes=20 * i), watts) for i, watts in enumerate(samples_w)
    ]
    assert learner.add(samples) is None
    assert not learner.cycles
    assert all(math.isfinite(kwh) for kwh in learner.profile)


def test_cycles_of_seconds_or_of_a_day_are_noise() -> None:
    """Under a minute or over 12 hours: not a cycle."""
    learner = ProfileLearner(ApplianceKind.WASHING_MACHINE)
    start = SimClock().now
    assert learner.add([(start, 2000.0)]) is None
    assert learner.add([(start, 2000.0), (start + timedelta(seconds=30), 0.0)]) is None
    assert learner.add([(start, 2000.0), (start + timedelta(hours=13), 0.0)]) is None
    assert not learner.cycles
