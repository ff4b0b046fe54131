"""The thermostat adapter given bad settings, a silent thermostat, bad state.

Settings that cannot work are refused; a thermostat without a setpoint at
start is unavailable (and its setpoint is taken when it appears); a level
change too soon is refused; saved state of the wrong shape is a ValueError.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
import math
from typing import Any

import pytest

from custom_components.stroomwijs.engine.capabilities import DeviceUnavailableError
from custom_components.stroomwijs.engine.drivers.climate_setpoint import (
    ClimateSetpointHeatPump,
)
from custom_components.stroomwijs.engine.drivers.heat_pump_common import HeatLevel

from .device_support import SimClock
from .test_climate_setpoint import _rig


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"device_id": " "}, "device_id"),
        ({"boost_k": 6.0}, "boost_k"),
        ({"boost_k": math.nan}, "boost_k"),
        ({"setback_k": 11.0}, "setback_k"),
        ({"step_c": 0.0}, "step_c"),
        ({"step_c": math.inf}, "step_c"),
        ({"min_between_changes": timedelta(minutes=-1)}, "negative"),
        ({"manual_hold": timedelta(hours=-2)}, "negative"),
        ({"room_temperature_entity": "climate.living"}, "sensor"),
        ({"power_entity": "switch.heat_pump"}, "sensor"),
    ],
)
def test_settings_that_cannot_work_are_refused(
    changes: dict[str, Any], match: str
) -> None:
    """Empty id, NaN or huge boost, zero step, negative times, wrong domains."""
    driver, _climate = _rig(SimClock())
    with pytest.raises(ValueError, match=match):
        replace(driver.config, **changes)


async def test_a_thermostat_without_a_setpoint_at_start_is_unavailable() -> None:
    """No setpoint to start from: unavailable; taken at the first poll seeing it."""
    clock = SimClock()
    driver, climate = _rig(clock)
    climate.port.set_unavailable(climate.entity_id)
    with pytest.raises(DeviceUnavailableError, match="no setpoint to start from"):
        await driver.async_start()
    assert not driver.available
    with pytest.raises(DeviceUnavailableError, match="user setpoint unknown"):
        driver.target_for(HeatLevel.BOOST)
    climate.publish()
    await driver.async_update()
    assert driver.available
    assert driver.user_setpoint_c == 20.5


async def test_a_level_change_too_soon_is_refused() -> None:
    """Within min_between_changes the thermostat is left alone, and says so."""
    clock = SimClock()
    driver, climate = _rig(clock)
    await driver.async_start()
    await driver.async_set_power(2400.0)
    assert driver.power_range.min_w == driver.power_range.max_w  # pinned for now
    clock.advance(timedelta(minutes=2))
    with pytest.raises(DeviceUnavailableError, match="too recently"):
        await driver.async_set_power(0.0)
    assert climate.unit.target_c == 21.5


@pytest.mark.parametrize(
    ("state", "match"),
    [
        (["user_setpoint_c", 20.5], "must be an object"),
        ({"user_setpoint_c": 95.0}, "within 0..90"),
        ({"user_setpoint_c": math.nan}, "within 0..90"),
        ({"user_setpoint_c": 10**400}, "within 0..90"),
        ({"written_c": True}, "within 0..90"),
        ({"written_c": "20"}, "within 0..90"),
        ({"level": "scorching"}, "scorching"),
    ],
)
def test_malformed_saved_state_is_refused(state: object, match: str) -> None:
    """A setpoint out of range, NaN, text or an unknown level: ValueError."""
    driver, climate = _rig(SimClock())
    fresh = ClimateSetpointHeatPump(driver.config, climate.port, clock=SimClock())
    with pytest.raises(ValueError, match=match):
        fresh.restore_state(state)
