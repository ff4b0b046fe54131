"""The demo's accelerated clock inside a real Home Assistant.

``script/demo --speed N`` has its companion integration put a ``DemoClock``
in ``hass.data[DATA_DEMO_CLOCK]``; a household set up then runs on it: its
limits, entities and ticks follow simulated time while Home Assistant's own
clock stays real. Without it nothing changes.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
import time

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.stroomwijs.const import (
    CONF_FUSE_A,
    CONF_PHASES,
    DATA_DEMO_CLOCK,
    DOMAIN,
)
from custom_components.stroomwijs.engine.simulate.demo_clock import DemoClock
from custom_components.stroomwijs.guard_glue import (
    CONF_LIMIT_WINDOWS,
    limits_diagnostics,
)
from custom_components.stroomwijs.integration import (
    MIN_TICK_S,
    TICK_INTERVAL,
    _Ticker,
    household_clock,
)

from .charger_support import setup_loaded


def _state(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state


def _entry() -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title="Thuis",
        data={CONF_PHASES: 3, CONF_FUSE_A: 25.0},
        options={
            CONF_LIMIT_WINDOWS: [
                {
                    "start": "16:00",
                    "end": "21:00",
                    "import_w": 4_000,
                    "label": "evening",
                }
            ]
        },
    )


async def test_household_limits_and_entities_follow_the_demo_clock(
    hass: HomeAssistant,
) -> None:
    """Simulated 15:59:30 three days ahead: the 16:00 limit comes in 0.5 s real."""
    sim_start = (dt_util.now() + timedelta(days=3)).replace(
        hour=15, minute=59, second=30, microsecond=0
    )
    clock = DemoClock(speed=60.0, start=sim_start, anchor=time.time())
    hass.data[DATA_DEMO_CLOCK] = clock
    entry = _entry()
    await setup_loaded(hass, entry)
    household = entry.runtime_data.household
    assert household is not None
    assert household.ports.clock == clock.now

    # The next limit is the simulated day's 16:00, not Home Assistant's.
    next_start = dt_util.parse_datetime(_state(hass, "sensor.thuis_next_limit_start"))
    assert next_start == sim_start.replace(second=0) + timedelta(minutes=1)
    assert _state(hass, "sensor.thuis_import_limit") == "17250"
    assert _state(hass, "number.thuis_manual_grid_limit") == "unknown"

    # Half a real second is 30 simulated seconds: 16:00 has come. Home
    # Assistant's clock moved a second; its tick (every 0.5 s) refreshes.
    await asyncio.sleep(0.6)
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=1))
    await hass.async_block_till_done()
    assert clock.now() >= next_start
    assert _state(hass, "sensor.thuis_import_limit") == "4000"
    assert _state(hass, "binary_sensor.thuis_grid_limit_active") == "on"
    diagnostics = limits_diagnostics(entry.runtime_data.limits)
    assert diagnostics is not None
    assert diagnostics["effective"]["import_w"] == 4_000
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_without_the_demo_clock_home_assistant_time_rules(
    hass: HomeAssistant,
) -> None:
    """No hook (every real installation): Home Assistant's clock, 5 s ticks."""
    clock, speed = household_clock(hass)
    assert clock is dt_util.utcnow
    assert speed == 1.0
    hass.data[DATA_DEMO_CLOCK] = "not a clock"
    assert household_clock(hass) == (dt_util.utcnow, 1.0)
    slow = DemoClock(speed=2.0, start=dt_util.utcnow(), anchor=time.time())
    object.__setattr__(slow, "speed", 0.5)  # slower than real time: ignored
    hass.data[DATA_DEMO_CLOCK] = slow
    assert household_clock(hass) == (dt_util.utcnow, 1.0)


@pytest.mark.parametrize(
    ("speed", "interval_s", "wake_s"),
    [
        (1.0, TICK_INTERVAL.total_seconds(), 0.6),
        (2.0, 2.5, 0.3),
        (60.0, MIN_TICK_S, 0.05),
    ],
)
async def test_ticks_come_as_often_in_simulated_time_within_bounds(
    hass: HomeAssistant, speed: float, interval_s: float, wake_s: float
) -> None:
    """Every 5 simulated seconds, but not more than twice a real second."""
    ticker = _Ticker(hass, _entry(), speed)
    assert ticker.interval.total_seconds() == pytest.approx(interval_s)
    assert ticker.wake_delay_s == pytest.approx(wake_s)
