"""The outdoor temperature forecast for the heat pumps, from a weather entity.

The household's heat-pump model needs the outdoor temperature over the plan's
horizon. With a weather entity chosen (*Configure > Prices, tariff and
optimiser*), Stroomwijs asks it for its hourly forecast
(``weather.get_forecasts``) when the household starts, every 30 minutes and
when the entity changes, and hands it to the household. The fallback, in
this order: a failed read keeps the forecast read before (while it still
covers now, the plan holds its last value beyond its end); without any,
10 degC is assumed and the plan status says so.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Final

from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.event import (
    async_track_state_change_event,
    async_track_time_interval,
)

from .const import LOGGER
from .engine.household import (
    Household,
    InputFormatError,
    parse_temperature_forecast,
)
from .models import StroomwijsConfigEntry

REFRESH: Final = timedelta(minutes=30)
CALL_TIMEOUT_S: Final = 30.0


class OutdoorForecast:
    """Reads one weather entity's hourly forecast into a household."""

    def __init__(
        self, hass: HomeAssistant, household: Household, entity_id: str
    ) -> None:
        """Follow ``entity_id`` for ``household``."""
        self.hass = hass
        self.household = household
        self.entity_id = entity_id
        self.problem: str | None = None
        """Why the last read failed (logged once until a read works)."""

    async def async_refresh(self, _now: datetime | None = None) -> None:
        """Read the forecast; keep the previous one when that fails."""
        try:
            async with asyncio.timeout(CALL_TIMEOUT_S):
                response = await self.hass.services.async_call(
                    "weather",
                    "get_forecasts",
                    {"entity_id": self.entity_id, "type": "hourly"},
                    blocking=True,
                    return_response=True,
                )
            state = self.hass.states.get(self.entity_id)
            unit = None if state is None else state.attributes.get("temperature_unit")
            items = _forecast_of(response, self.entity_id)
            forecast = parse_temperature_forecast(items, unit or "°C")
        except (HomeAssistantError, InputFormatError, TimeoutError) as err:
            self._failed(str(err) or type(err).__name__)
            return
        if self.problem is not None:
            LOGGER.info("Outdoor forecast from %s is back", self.entity_id)
            self.problem = None
        self.household.set_outdoor_forecast(forecast)

    def _failed(self, reason: str) -> None:
        if self.problem is None:
            LOGGER.warning(
                "No outdoor forecast from %s (%s): the last one is kept; "
                "without one the heat pumps assume 10 °C",
                self.entity_id,
                reason,
            )
        self.problem = reason


def _forecast_of(response: object, entity_id: str) -> object:
    if not isinstance(response, dict):
        raise InputFormatError("the weather entity gave no response")
    entity = response.get(entity_id)
    if not isinstance(entity, dict):
        raise InputFormatError("the response holds no forecast for the entity")
    return entity.get("forecast")


@callback
def async_follow_outdoor_forecast(
    hass: HomeAssistant, entry: StroomwijsConfigEntry, household: Household
) -> OutdoorForecast | None:
    """Follow the weather entity the household is configured with, if any."""
    entity_id = household.config.forecasts.outdoor_source
    if not entity_id:
        return None
    reader = OutdoorForecast(hass, household, entity_id)

    @callback
    def _changed(event: Event[EventStateChangedData]) -> None:
        new = event.data["new_state"]
        if new is not None and new.state not in {"unavailable", "unknown"}:
            entry.async_create_background_task(
                hass, reader.async_refresh(), "stroomwijs outdoor forecast"
            )

    entry.async_on_unload(async_track_state_change_event(hass, [entity_id], _changed))
    entry.async_on_unload(
        async_track_time_interval(hass, reader.async_refresh, REFRESH)
    )
    entry.async_create_background_task(
        hass, reader.async_refresh(), "stroomwijs outdoor forecast"
    )
    return reader
