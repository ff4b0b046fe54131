"""Household actions: set and clear a manual grid limit, and plan now."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Final

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_CONFIG_ENTRY_ID
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.util.json import JsonValueType
import probatio as vol

from .const import DOMAIN
from .guard_glue import LimitsRuntime

SERVICE_SET_GRID_LIMIT: Final = "set_grid_limit"
SERVICE_CLEAR_GRID_LIMIT: Final = "clear_grid_limit"
SERVICE_PLAN_NOW: Final = "plan_now"
SERVICE_EXPORT_PROFILE: Final = "export_profile"
ATTR_VALUE: Final = "value"
ATTR_EXPORT_VALUE: Final = "export_value"
ATTR_DURATION: Final = "duration"
ATTR_SOURCE: Final = "source"
MAX_DURATION: Final = timedelta(days=7)
MAX_LIMIT_W: Final = 1_000_000.0
"""No home is limited to more than 1 MW; the engine refuses it too."""

ENTRY_SCHEMA = vol.Schema({vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string})
SET_LIMIT_SCHEMA = ENTRY_SCHEMA.extend(
    {
        vol.Required(ATTR_VALUE): vol.All(
            vol.Coerce(float), vol.Range(min=0, max=MAX_LIMIT_W)
        ),
        vol.Optional(ATTR_EXPORT_VALUE): vol.All(
            vol.Coerce(float), vol.Range(min=0, max=MAX_LIMIT_W)
        ),
        vol.Optional(ATTR_DURATION): cv.positive_time_period,
        vol.Optional(ATTR_SOURCE, default="service"): vol.All(
            cv.string, vol.Length(min=1, max=64)
        ),
    }
)


def _runtime(hass: HomeAssistant, call: ServiceCall) -> LimitsRuntime:
    """Find the household the call is for (the only one if none is named).

    Raises ServiceValidationError when there is none, or more than one and
    the call names none.
    """
    wanted = call.data.get(ATTR_CONFIG_ENTRY_ID)
    entries = [
        entry
        for entry in hass.config_entries.async_loaded_entries(DOMAIN)
        if entry.state is ConfigEntryState.LOADED
        and (wanted is None or entry.entry_id == wanted)
    ]
    limits: LimitsRuntime | None = (
        entries[0].runtime_data.limits if len(entries) == 1 else None
    )
    if limits is not None:
        return limits
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="household_not_found",
        translation_placeholders={"entry_id": str(wanted or "")},
    )


@callback
def async_setup_limit_services(hass: HomeAssistant) -> None:
    """Register the household actions (grid limit, plan now, export profile)."""

    async def set_grid_limit(call: ServiceCall) -> None:
        runtime = _runtime(hass, call)
        duration: timedelta = call.data.get(ATTR_DURATION, runtime.manual_duration)
        if duration > MAX_DURATION:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="grid_limit_too_long",
                translation_placeholders={"days": str(MAX_DURATION.days)},
            )
        runtime.set_manual(
            import_w=call.data[ATTR_VALUE],
            export_w=call.data.get(ATTR_EXPORT_VALUE),
            duration=duration,
            label=call.data[ATTR_SOURCE],
        )

    async def clear_grid_limit(call: ServiceCall) -> None:
        _runtime(hass, call).clear_manual()

    hass.services.async_register(
        DOMAIN, SERVICE_SET_GRID_LIMIT, set_grid_limit, schema=SET_LIMIT_SCHEMA
    )

    async def plan_now(call: ServiceCall) -> ServiceResponse:
        status = await _runtime(hass, call).household.async_plan_now()
        return {
            "state": status.state.value,
            "reasons": list(status.reasons),
            "solve_time_s": status.solve_time_s,
        }

    async def export_profile(call: ServiceCall) -> ServiceResponse:
        config = _runtime(hass, call).household.config
        text = await hass.async_add_executor_job(
            partial(config.to_yaml, include_secrets=False)
        )
        left_out: list[JsonValueType] = list(config.required_secrets())
        return {"profile": text, "secrets_left_out": left_out}

    hass.services.async_register(
        DOMAIN, SERVICE_CLEAR_GRID_LIMIT, clear_grid_limit, schema=ENTRY_SCHEMA
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_EXPORT_PROFILE,
        export_profile,
        schema=ENTRY_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_PLAN_NOW,
        plan_now,
        schema=ENTRY_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
