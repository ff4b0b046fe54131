"""Services: a charger's departure, boost, pause; run_before; set_device_override.

``run_before`` arms an appliance; ``set_device_override`` boosts or blocks
a heat pump or boiler.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_DEVICE_ID
from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.util import dt as dt_util
import probatio as vol

from .const import DOMAIN
from .driver_entities import (
    DEFAULT_OVERRIDE_MIN,
    async_run_before,
    async_set_override,
    driver_views,
    is_appliance,
    is_heating,
)
from .driver_view import OVERRIDE_OPTIONS
from .engine.capabilities import DeviceUnavailableError
from .engine.drivers.factory import DriverConfig
from .household_view import ChargerView, DriverView

SERVICE_SET_DEPARTURE: Final = "set_departure"
SERVICE_BOOST: Final = "boost"
SERVICE_PAUSE: Final = "pause"
SERVICE_RESUME: Final = "resume"
SERVICE_RUN_BEFORE: Final = "run_before"
SERVICE_SET_DEVICE_OVERRIDE: Final = "set_device_override"
ATTR_MODE: Final = "mode"
ATTR_DURATION: Final = "duration"
ATTR_FINISH_BY: Final = "finish_by"
ATTR_DEPARTURE: Final = "departure"
ATTR_TARGET_SOC: Final = "target_soc"

DEVICE_SCHEMA = vol.Schema({vol.Required(ATTR_DEVICE_ID): cv.string})
DEPARTURE_SCHEMA = DEVICE_SCHEMA.extend(
    {
        vol.Optional(ATTR_DEPARTURE): cv.datetime,
        vol.Optional(ATTR_TARGET_SOC): vol.All(
            vol.Coerce(float), vol.Range(min=0, max=100)
        ),
    }
)
RUN_BEFORE_SCHEMA = DEVICE_SCHEMA.extend({vol.Required(ATTR_FINISH_BY): cv.datetime})
OVERRIDE_SCHEMA = DEVICE_SCHEMA.extend(
    {
        vol.Required(ATTR_MODE): vol.In(OVERRIDE_OPTIONS),
        vol.Optional(ATTR_DURATION, default=DEFAULT_OVERRIDE_MIN): vol.All(
            vol.Coerce(float), vol.Range(min=1, max=24 * 60)
        ),
    }
)


def _driver(
    hass: HomeAssistant,
    call: ServiceCall,
    kind: Callable[[DriverConfig], bool],
    not_found: str,
) -> DriverView:
    """Return the driver device of ``kind`` that ``call`` names (here or remote)."""
    device_id = call.data[ATTR_DEVICE_ID]
    device = dr.async_get(hass).async_get(device_id)
    if device is not None:
        for entry in hass.config_entries.async_loaded_entries(DOMAIN):
            for sid, view in driver_views(entry).items():
                if (DOMAIN, sid) in device.identifiers and kind(view.spec):
                    return view
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=not_found,
        translation_placeholders={"device_id": device_id},
    )


def _charger(hass: HomeAssistant, call: ServiceCall) -> ChargerView:
    device_id = call.data[ATTR_DEVICE_ID]
    device = dr.async_get(hass).async_get(device_id)
    if device is not None:
        for entry in hass.config_entries.async_loaded_entries(DOMAIN):
            if entry.state is not ConfigEntryState.LOADED:
                continue
            views: dict[str, ChargerView] = entry.runtime_data.chargers.views
            for charger in views.values():
                if (DOMAIN, charger.subentry_id) in device.identifiers:
                    return charger
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="charger_not_found",
        translation_placeholders={"device_id": device_id},
    )


async def _manual(charger: ChargerView, setpoint_w: float | None) -> None:
    try:
        await charger.async_set_override(setpoint_w)
    except DeviceUnavailableError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="charger_refused",
            translation_placeholders={"charger": charger.title, "error": str(err)},
        ) from err


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the charger services."""

    async def set_departure(call: ServiceCall) -> None:
        charger = _charger(hass, call)
        changes: dict[str, Any] = {}
        if (departure := call.data.get(ATTR_DEPARTURE)) is not None:
            if isinstance(departure, datetime) and departure.tzinfo is None:
                departure = departure.replace(tzinfo=dt_util.get_default_time_zone())
            changes["departure"] = departure
        if (target := call.data.get(ATTR_TARGET_SOC)) is not None:
            changes["target_soc"] = float(target) / 100.0
        if not changes:
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="nothing_to_set"
            )
        await charger.async_set_departure(changes)

    async def boost(call: ServiceCall) -> None:
        charger = _charger(hass, call)
        await _manual(charger, charger.boost_w)

    async def pause(call: ServiceCall) -> None:
        await _manual(_charger(hass, call), 0.0)

    async def resume(call: ServiceCall) -> None:
        await _manual(_charger(hass, call), None)

    hass.services.async_register(
        DOMAIN, SERVICE_SET_DEPARTURE, set_departure, schema=DEPARTURE_SCHEMA
    )
    hass.services.async_register(DOMAIN, SERVICE_BOOST, boost, schema=DEVICE_SCHEMA)
    hass.services.async_register(DOMAIN, SERVICE_PAUSE, pause, schema=DEVICE_SCHEMA)
    hass.services.async_register(DOMAIN, SERVICE_RESUME, resume, schema=DEVICE_SCHEMA)
    _async_setup_appliance_services(hass)


@callback
def _async_setup_appliance_services(hass: HomeAssistant) -> None:
    """Register ``run_before`` and ``set_device_override``."""

    async def run_before(call: ServiceCall) -> None:
        view = _driver(hass, call, is_appliance, "appliance_not_found")
        finish_by: datetime = call.data[ATTR_FINISH_BY]
        if finish_by.tzinfo is None:
            finish_by = finish_by.replace(tzinfo=dt_util.get_default_time_zone())
        await async_run_before(view, finish_by)

    async def set_device_override(call: ServiceCall) -> None:
        view = _driver(hass, call, is_heating, "heating_device_not_found")
        mode = call.data[ATTR_MODE]
        await async_set_override(
            view,
            None if mode == "auto" else mode,
            timedelta(minutes=call.data[ATTR_DURATION]),
        )

    hass.services.async_register(
        DOMAIN, SERVICE_RUN_BEFORE, run_before, schema=RUN_BEFORE_SCHEMA
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_SET_DEVICE_OVERRIDE,
        set_device_override,
        schema=OVERRIDE_SCHEMA,
    )
