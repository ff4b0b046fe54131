"""Logbook lines for the household's events: which device, how many watts, why."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from homeassistant.components.logbook.const import (
    LOGBOOK_ENTRY_MESSAGE,
    LOGBOOK_ENTRY_NAME,
)
from homeassistant.core import Event, HomeAssistant, callback

from .bus_events import ATTR_HOUSEHOLD, EVENT_GRID, describe
from .const import DOMAIN


@callback
def async_describe_events(
    hass: HomeAssistant,
    async_describe_event: Callable[[str, str, Callable[[Event], dict[str, str]]], None],
) -> None:
    """Describe ``stroomwijs_grid_event`` for the logbook."""

    @callback
    def _describe(event: Event[Any]) -> dict[str, str]:
        return {
            LOGBOOK_ENTRY_NAME: str(event.data.get(ATTR_HOUSEHOLD) or "Stroomwijs"),
            LOGBOOK_ENTRY_MESSAGE: describe(event.data),
        }

    async_describe_event(DOMAIN, EVENT_GRID, _describe)
