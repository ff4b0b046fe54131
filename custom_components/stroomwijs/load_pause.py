"""Pause loads for a while and put them back, even across a restart.

`stroomwijs.pause_loads` remembers the state of the chosen entities (once
per episode), switches them off, and puts them back the way they were once
a sensor has stayed under a value for a while, or at the latest after a
maximum pause. `stroomwijs.resume_loads` puts an episode back at once.

An episode is stored (helpers.storage) before anything is switched off, so
a restart of Home Assistant in the middle of one never leaves a load
switched off for good: after the start the watch on the sensor and the
latest resume time are set up again from the store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
import logging
import math
from typing import Any, Final

from homeassistant.const import ATTR_ENTITY_ID, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import (
    CALLBACK_TYPE,
    Event,
    EventStateChangedData,
    HomeAssistant,
    ServiceCall,
    State,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.event import (
    async_track_point_in_utc_time,
    async_track_state_change_event,
)
from homeassistant.helpers.start import async_at_started
from homeassistant.helpers.state import async_reproduce_state
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey
import probatio as vol

from .const import DOMAIN

_LOGGER = logging.getLogger(__name__)

SERVICE_PAUSE_LOADS: Final = "pause_loads"
SERVICE_RESUME_LOADS: Final = "resume_loads"
ATTR_EPISODE: Final = "episode"
ATTR_RESUME_SENSOR: Final = "resume_sensor"
ATTR_RESUME_BELOW: Final = "resume_below"
ATTR_RESUME_AFTER: Final = "resume_after"
ATTR_MAX_PAUSE: Final = "max_pause"

DATA_LOAD_PAUSER: HassKey[LoadPauser] = HassKey(f"{DOMAIN}_load_pauser")
STORAGE_KEY: Final = f"{DOMAIN}.paused_loads"
STORAGE_VERSION: Final = 1
MAX_PAUSE_LIMIT: Final = timedelta(hours=24)
"""No load is kept off by this action for more than a day."""
MAX_ENTITIES: Final = 64
PAUSABLE_DOMAINS: Final = frozenset(
    {"switch", "input_boolean", "climate", "water_heater", "fan", "light"}
)


def _pausable(value: str | list[str]) -> list[str]:
    entity_ids = cv.entity_ids(value)
    for entity_id in entity_ids:
        if entity_id.split(".", 1)[0] not in PAUSABLE_DOMAINS:
            msg = f"{entity_id} cannot be paused (domains: {sorted(PAUSABLE_DOMAINS)})"
            raise vol.Invalid(msg)
    return entity_ids


def _finite(value: float) -> float:
    if not math.isfinite(value):
        msg = "must be a finite number"
        raise vol.Invalid(msg)
    return value


PAUSE_SCHEMA: Final = vol.Schema(
    {
        vol.Required(ATTR_ENTITY_ID): vol.All(
            _pausable, vol.Length(min=1, max=MAX_ENTITIES)
        ),
        vol.Required(ATTR_EPISODE): vol.All(cv.string, vol.Length(min=1, max=100)),
        vol.Optional(ATTR_RESUME_SENSOR): cv.entity_id,
        vol.Optional(ATTR_RESUME_BELOW): vol.All(vol.Coerce(float), _finite),
        vol.Optional(ATTR_RESUME_AFTER, default=timedelta(minutes=2)): vol.All(
            cv.positive_time_period, vol.Range(max=MAX_PAUSE_LIMIT)
        ),
        vol.Optional(ATTR_MAX_PAUSE, default=timedelta(hours=1)): vol.All(
            cv.positive_time_period,
            vol.Range(min=timedelta(minutes=1), max=MAX_PAUSE_LIMIT),
        ),
    }
)
RESUME_SCHEMA: Final = vol.Schema(
    {vol.Required(ATTR_EPISODE): vol.All(cv.string, vol.Length(min=1, max=100))}
)


@dataclass(slots=True)
class _Episode:
    """One pause: what to put back, and when."""

    states: dict[str, dict[str, Any]]
    until: datetime
    sensor: str | None
    below: float | None
    after: timedelta

    def as_dict(self) -> dict[str, Any]:
        return {
            "states": self.states,
            "until": self.until.isoformat(),
            "sensor": self.sensor,
            "below": self.below,
            "after_s": self.after.total_seconds(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> _Episode:
        until = dt_util.parse_datetime(str(data["until"]))
        if until is None:
            msg = f"bad time {data['until']!r}"
            raise ValueError(msg)
        below = data.get("below")
        return cls(
            states={str(k): dict(v) for k, v in dict(data["states"]).items()},
            until=until,
            sensor=data.get("sensor"),
            below=None if below is None else float(below),
            after=timedelta(seconds=float(data["after_s"])),
        )


class LoadPauser:
    """The episodes of paused loads, persisted, and their watches."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Start empty; `async_load` reads the store."""
        self._hass = hass
        self._store: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, STORAGE_KEY)
        self._episodes: dict[str, _Episode] = {}
        self._unsubs: dict[str, list[CALLBACK_TYPE]] = {}

    @property
    def episodes(self) -> dict[str, _Episode]:
        """The episodes in progress, by name."""
        return self._episodes

    async def async_load(self) -> None:
        """Read the stored episodes and watch them once Home Assistant runs."""
        data = await self._store.async_load() or {}
        for name, raw in dict(data.get("episodes", {})).items():
            try:
                self._episodes[str(name)] = _Episode.from_dict(raw)
            except (KeyError, TypeError, ValueError) as err:
                _LOGGER.warning("Dropping stored pause %s: %s", name, err)

        @callback
        def _started(hass: HomeAssistant) -> None:
            for name in list(self._episodes):
                self._watch(name)

        async_at_started(self._hass, _started)

    async def async_pause(
        self,
        episode: str,
        entity_ids: list[str],
        *,
        sensor: str | None,
        below: float | None,
        after: timedelta,
        max_pause: timedelta,
    ) -> None:
        """Remember the entities' states (once per episode), then switch off."""
        current = self._episodes.get(episode)
        states = dict(current.states) if current else {}
        for entity_id in entity_ids:
            if entity_id in states:
                continue
            state = self._hass.states.get(entity_id)
            if state is None or state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
                continue
            states[entity_id] = state.as_dict()
        until = dt_util.utcnow() + max_pause
        if current is not None:
            # A second crossing keeps the first snapshot and its deadline.
            until = min(until, current.until)
        self._episodes[episode] = _Episode(states, until, sensor, below, after)
        # Stored before anything is switched off: a crash in between must not
        # lose what to put back.
        await self._async_save()
        self._watch(episode)
        await self._hass.services.async_call(
            "homeassistant",
            "turn_off",
            {ATTR_ENTITY_ID: entity_ids},
            blocking=True,
        )

    async def async_resume(self, episode: str) -> bool:
        """Put an episode's entities back; False when there was none."""
        current = self._episodes.pop(episode, None)
        for unsub in self._unsubs.pop(episode, []):
            unsub()
        if current is None:
            return False
        await self._async_save()
        states = [State.from_dict(raw) for raw in current.states.values()]
        await async_reproduce_state(
            self._hass, [state for state in states if state is not None]
        )
        return True

    @callback
    def async_stop(self) -> None:
        """Drop the watches (the episodes stay stored)."""
        for unsubs in self._unsubs.values():
            for unsub in unsubs:
                unsub()
        self._unsubs.clear()

    async def _async_save(self) -> None:
        await self._store.async_save(
            {"episodes": {k: v.as_dict() for k, v in self._episodes.items()}}
        )

    @callback
    def _watch(self, episode: str) -> None:
        for unsub in self._unsubs.pop(episode, []):
            unsub()
        current = self._episodes[episode]
        unsubs: list[CALLBACK_TYPE] = []
        self._unsubs[episode] = unsubs

        @callback
        def _resume(_now: datetime | None = None) -> None:
            self._hass.async_create_task(
                self.async_resume(episode), f"{DOMAIN} resume {episode}"
            )

        unsubs.append(
            async_track_point_in_utc_time(
                self._hass, _resume, max(current.until, dt_util.utcnow())
            )
        )
        if current.sensor is not None and current.below is not None:
            unsubs.extend(
                self._watch_sensor(
                    current.sensor, current.below, current.after, _resume
                )
            )

    @callback
    def _watch_sensor(
        self,
        sensor: str,
        below: float,
        after: timedelta,
        resume: Callable[[datetime | None], None],
    ) -> list[CALLBACK_TYPE]:
        """Resume once `sensor` has stayed under `below` for `after`."""
        under_since: list[CALLBACK_TYPE] = []

        @callback
        def _check(state: State | None) -> None:
            try:
                value = float(state.state) if state is not None else math.nan
            except ValueError:
                value = math.nan
            under = math.isfinite(value) and value < below
            if under and not under_since:
                under_since.append(
                    async_track_point_in_utc_time(
                        self._hass, resume, dt_util.utcnow() + after
                    )
                )
            elif not under and under_since:
                under_since.pop()()

        @callback
        def _changed(event: Event[EventStateChangedData]) -> None:
            _check(event.data["new_state"])

        @callback
        def _cancel_timer() -> None:
            if under_since:
                under_since.pop()()

        unsub = async_track_state_change_event(self._hass, sensor, _changed)
        _check(self._hass.states.get(sensor))
        return [unsub, _cancel_timer]


async def async_setup_load_pause(hass: HomeAssistant) -> LoadPauser:
    """Load the stored episodes and register the two actions."""
    pauser = hass.data[DATA_LOAD_PAUSER] = LoadPauser(hass)
    await pauser.async_load()

    async def pause_loads(call: ServiceCall) -> None:
        sensor = call.data.get(ATTR_RESUME_SENSOR)
        below = call.data.get(ATTR_RESUME_BELOW)
        if (sensor is None) != (below is None):
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="resume_needs_both"
            )
        await pauser.async_pause(
            call.data[ATTR_EPISODE],
            call.data[ATTR_ENTITY_ID],
            sensor=sensor,
            below=below,
            after=call.data[ATTR_RESUME_AFTER],
            max_pause=call.data[ATTR_MAX_PAUSE],
        )

    async def resume_loads(call: ServiceCall) -> None:
        await pauser.async_resume(call.data[ATTR_EPISODE])

    hass.services.async_register(DOMAIN, SERVICE_PAUSE_LOADS, pause_loads, PAUSE_SCHEMA)
    hass.services.async_register(
        DOMAIN, SERVICE_RESUME_LOADS, resume_loads, RESUME_SCHEMA
    )
    return pauser
