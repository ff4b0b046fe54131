"""The SG-Ready driver given a relay that fails halfway and bad saved state.

A change of two relays where the second call fails leaves the pump in the
mode the relays now show, counted as a change (the pump saw it), and the
driver unavailable; mode 4 is refused unless allowed; a saved change time
without a zone is refused (it made every planner input raise TypeError).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from custom_components.stroomwijs.engine.capabilities import DeviceUnavailableError
from custom_components.stroomwijs.engine.drivers.entities import EntityCallError
from custom_components.stroomwijs.engine.drivers.sg_ready import SgReadyMode

from .device_support import SimClock
from .test_sg_ready import _rig


async def test_a_relay_failing_halfway_leaves_the_mode_the_pump_sees() -> None:
    """Mode 3 to 1: relay 2 goes off, relay 1 fails: the pump is in mode 2."""
    clock = SimClock()
    driver, relays, port = _rig(clock, indoor_c=21.0)
    await driver.async_update()
    clock.advance(timedelta(minutes=11))
    await driver.async_set_mode(SgReadyMode.RECOMMENDED)
    assert relays.mode == 3
    clock.advance(timedelta(minutes=11))
    port.fail_calls(relays.relay_1)
    with pytest.raises(EntityCallError):
        await driver.async_set_mode(SgReadyMode.BLOCKED)
    assert relays.mode == 2
    assert not driver.available
    state = driver.export_state()
    assert state["changed_at"] == clock.now.isoformat()  # counted: the pump saw it
    # Too soon for another change now; once the relay answers, it works again.
    port.fail_calls(relays.relay_1, failing=False)
    clock.advance(timedelta(minutes=11))
    await driver.async_set_mode(SgReadyMode.NORMAL)
    assert relays.mode == 2
    assert driver.available


async def test_mode_4_is_refused_unless_allowed() -> None:
    """Forced operation needs the installer's consent in the configuration."""
    clock = SimClock()
    driver, relays, _port = _rig(clock)
    await driver.async_update()
    clock.advance(timedelta(minutes=11))
    with pytest.raises(DeviceUnavailableError, match="mode 4 is not allowed"):
        await driver.async_set_mode(SgReadyMode.FORCED)
    assert relays.mode == 2


@pytest.mark.parametrize(
    ("state", "match"),
    [
        ({"changed_at": 1700000000}, "ISO time"),
        ({"changed_at": "2026-01-01T10:00:00"}, "time zone"),
        ({"changed_at": "yesterday"}, "isoformat"),
    ],
)
async def test_malformed_saved_state_is_refused(
    state: dict[str, object], match: str
) -> None:
    """A change time as a number, without a zone, or not a time: ValueError."""
    clock = SimClock()
    driver, _relays, _port = _rig(clock)
    await driver.async_update()
    saved = driver.export_state() | state
    with pytest.raises(ValueError, match=match):
        driver.restore_state(saved)
    with pytest.raises(ValueError, match="must be an object"):
        driver.restore_state([saved])
    assert driver.planner_input([5.0] * 96)["id"] == "hp"
