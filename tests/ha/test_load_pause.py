"""stroomwijs.pause_loads / resume_loads in a real Home Assistant.

A pause is stored before anything is switched off, so a restart in the
middle of an episode still puts every load back.
"""

from __future__ import annotations

from datetime import timedelta
import math
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import probatio as vol
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.stroomwijs.const import DOMAIN
from custom_components.stroomwijs.load_pause import (
    DATA_LOAD_PAUSER,
    STORAGE_KEY,
    LoadPauser,
)

SENSOR = "sensor.thuis_quarter_projection"


@pytest.fixture
async def pause_hass(hass: HomeAssistant) -> HomeAssistant:
    """Home Assistant with two loads, a projection sensor and Stroomwijs."""
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(
        hass,
        "input_boolean",
        {"input_boolean": {"boiler": {"initial": True}, "dryer": {"initial": False}}},
    )
    hass.states.async_set(SENSOR, "3100", {"device_class": "power"})
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()
    return hass


async def _pause(hass: HomeAssistant, **extra: object) -> None:
    await hass.services.async_call(
        DOMAIN,
        "pause_loads",
        {
            "entity_id": ["input_boolean.boiler", "input_boolean.dryer"],
            "episode": "peak",
            "resume_sensor": SENSOR,
            "resume_below": 2500,
            "resume_after": {"minutes": 2},
            **extra,
        },
        blocking=True,
    )
    await hass.async_block_till_done()


def _state(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None
    return state.state


async def _restart(hass: HomeAssistant) -> LoadPauser:
    """Drop the running pauser and load a new one from storage."""
    hass.data[DATA_LOAD_PAUSER].async_stop()
    pauser = LoadPauser(hass)
    await pauser.async_load()
    await hass.async_block_till_done()
    return pauser


async def test_pause_then_resume_when_the_sensor_stays_under(
    pause_hass: HomeAssistant,
) -> None:
    """Off while over; back as they were once under for the whole wait."""
    hass = pause_hass
    await _pause(hass)
    assert _state(hass, "input_boolean.boiler") == "off"
    hass.states.async_set(SENSOR, "2100")
    await hass.async_block_till_done()
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=1))
    await hass.async_block_till_done()
    assert _state(hass, "input_boolean.boiler") == "off"  # not 2 minutes yet
    hass.states.async_set(SENSOR, "2700")  # back over: the wait starts again
    await hass.async_block_till_done()
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=3))
    await hass.async_block_till_done()
    assert _state(hass, "input_boolean.boiler") == "off"
    hass.states.async_set(SENSOR, "1900")
    await hass.async_block_till_done()
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=3))
    await hass.async_block_till_done()
    assert _state(hass, "input_boolean.boiler") == "on"
    assert _state(hass, "input_boolean.dryer") == "off"  # was off, stays off
    assert hass.data[DATA_LOAD_PAUSER].episodes == {}


async def test_a_second_pause_keeps_the_first_snapshot(
    pause_hass: HomeAssistant,
) -> None:
    """A second call in one episode must not remember the loads as off."""
    hass = pause_hass
    await _pause(hass)
    await _pause(hass)  # boiler is off now; it must not be remembered as off
    await hass.services.async_call(
        DOMAIN, "resume_loads", {"episode": "peak"}, blocking=True
    )
    await hass.async_block_till_done()
    assert _state(hass, "input_boolean.boiler") == "on"
    # Resuming an episode that is over does nothing.
    await hass.services.async_call(
        DOMAIN, "resume_loads", {"episode": "peak"}, blocking=True
    )


async def test_restart_mid_episode_still_resumes(
    pause_hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """The episode comes back from storage and its watch is set up again."""
    hass = pause_hass
    await _pause(hass)
    assert "peak" in hass_storage[STORAGE_KEY]["data"]["episodes"]
    pauser = await _restart(hass)
    assert set(pauser.episodes) == {"peak"}
    hass.states.async_set(SENSOR, "1500")
    await hass.async_block_till_done()
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=3))
    await hass.async_block_till_done()
    assert _state(hass, "input_boolean.boiler") == "on"
    assert pauser.episodes == {}
    assert hass_storage[STORAGE_KEY]["data"]["episodes"] == {}


async def test_restart_after_the_maximum_pause_resumes_at_once(
    pause_hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """An episode whose maximum passed while Home Assistant was down ends."""
    hass = pause_hass
    await _pause(hass, max_pause={"minutes": 10})
    hass.data[DATA_LOAD_PAUSER].async_stop()
    stored = hass_storage[STORAGE_KEY]["data"]["episodes"]["peak"]
    stored["until"] = (dt_util.utcnow() - timedelta(minutes=1)).isoformat()
    await _restart(hass)
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=1))
    await hass.async_block_till_done()
    assert _state(hass, "input_boolean.boiler") == "on"


async def test_a_silent_sensor_never_keeps_loads_off_beyond_the_maximum(
    pause_hass: HomeAssistant,
) -> None:
    """An unavailable sensor keeps loads off only until the maximum pause."""
    hass = pause_hass
    await _pause(hass, max_pause={"minutes": 30})
    hass.states.async_set(SENSOR, "unavailable")
    await hass.async_block_till_done()
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=20))
    await hass.async_block_till_done()
    assert _state(hass, "input_boolean.boiler") == "off"
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=31))
    await hass.async_block_till_done()
    assert _state(hass, "input_boolean.boiler") == "on"


async def test_a_corrupt_stored_episode_is_dropped(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """A stored episode that cannot be read is dropped, not fatal."""
    hass_storage[STORAGE_KEY] = {
        "version": 1,
        "key": STORAGE_KEY,
        "data": {"episodes": {"bad": {"states": {}, "until": "never"}}},
    }
    pauser = LoadPauser(hass)
    await pauser.async_load()
    assert pauser.episodes == {}


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"entity_id": ["sensor.power"]}, vol.Invalid),
        ({"resume_below": math.nan}, vol.Invalid),
        ({"resume_below": "inf"}, vol.Invalid),
        ({"max_pause": {"hours": 25}}, vol.Invalid),
        ({"max_pause": {"seconds": 5}}, vol.Invalid),
        ({"resume_sensor": None, "resume_below": None}, vol.Invalid),
    ],
)
async def test_bad_calls_are_refused_before_anything_is_switched(
    pause_hass: HomeAssistant, extra: dict[str, Any], error: type[Exception]
) -> None:
    """Hostile or wrong input is refused by the schema; nothing is switched."""
    hass = pause_hass
    with pytest.raises(error):
        await _pause(hass, **extra)
    assert _state(hass, "input_boolean.boiler") == "on"


async def test_a_sensor_without_a_value_is_refused(pause_hass: HomeAssistant) -> None:
    """A resume sensor needs a value to compare with."""
    hass = pause_hass
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "pause_loads",
            {
                "entity_id": ["input_boolean.boiler"],
                "episode": "peak",
                "resume_sensor": SENSOR,
            },
            blocking=True,
        )
    assert err.value.translation_key == "resume_needs_both"
    assert _state(hass, "input_boolean.boiler") == "on"
