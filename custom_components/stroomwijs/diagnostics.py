"""Diagnostics for a Stroomwijs household: settings, meter state, counters.

Equipment ids, keys, tokens and addresses are redacted.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .coordinator import CONF_ENCRYPTION_KEY, CONF_HOST, CONF_TOKEN
from .guard_glue import CONF_EAN, CONF_OPENADR_CLIENT_SECRET, limits_diagnostics
from .models import StroomwijsConfigEntry

TO_REDACT = {
    CONF_ENCRYPTION_KEY,
    CONF_TOKEN,
    CONF_HOST,
    "equipment_id",
    "unique_id",
    CONF_OPENADR_CLIENT_SECRET,
    CONF_EAN,
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: StroomwijsConfigEntry
) -> dict[str, Any]:
    """Return what helps to debug a household, without secrets."""
    runtime = entry.runtime_data
    meter = runtime.meter
    meter_info: dict[str, Any] | None = None
    if meter is not None:
        reading = meter.last_reading
        meter_info = {
            "available": meter.available,
            "unavailable_reason": meter.unavailable_reason,
            "stats": meter.stats.as_dict(),
            "last_reading": reading.as_dict() if reading is not None else None,
        }
    return async_redact_data(
        {
            "entry": {
                "title": entry.title,
                "unique_id": entry.unique_id,
                "data": dict(entry.data),
                "options": dict(entry.options),
            },
            "grid": {
                "phases": runtime.grid.phases,
                "fuse_a": runtime.grid.fuse_a,
                "voltage_v": runtime.grid.voltage_v,
            },
            "meter": meter_info,
            "limits": limits_diagnostics(runtime.limits),
        },
        TO_REDACT,
    )
