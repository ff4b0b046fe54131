"""Diagnostics for a Stroomwijs household: settings, meter state, counters.

Equipment ids, keys, tokens and addresses are redacted.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .coordinator import CONF_ENCRYPTION_KEY, CONF_HOST, CONF_TOKEN
from .engine.drivers.ocpp import OcppCharger
from .engine.household import Household
from .guard_glue import (
    CONF_EAN,
    CONF_OPENADR_CLIENT_SECRET,
    LimitsRuntime,
    limits_diagnostics,
)
from .integration_discovery import EEBUS_NODES
from .models import StroomwijsConfigEntry

TO_REDACT = {
    CONF_ENCRYPTION_KEY,
    CONF_TOKEN,
    CONF_HOST,
    "equipment_id",
    "unique_id",
    CONF_OPENADR_CLIENT_SECRET,
    CONF_EAN,
    "homewizard_serial",
    "serial",  # a HomeWizard socket's, which is its MAC address
    "mac",  # a Shelly relay's
    "ean",
    "url",
    "client_id",
    "client_secret",
    "password",
    "charger_id",
    "transaction_id",
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
            "limits": None
            if runtime.household is None
            else limits_diagnostics(LimitsRuntime(runtime.household)),
            "household": None
            if runtime.household is None
            else _household(runtime.household),
            "gateway": None if runtime.remote is None else runtime.remote.diagnostics(),
            "subentries": [
                {"type": sub.subentry_type, "data": dict(sub.data)}
                for sub in entry.subentries.values()
            ],
            "eebus_nodes": list(hass.data.get(EEBUS_NODES, {}).values()),
        },
        TO_REDACT,
    )


def _household(household: Household) -> dict[str, Any]:
    """Return the planner, chargers, devices and problems (no secrets)."""
    status = household.plan_status
    return {
        "config": household.config.to_dict(include_secrets=False),
        "mode": household.mode.value,
        "enabled": household.enabled,
        "plan_status": {
            "state": status.state.value,
            "mode": None if status.mode is None else status.mode.value,
            "reasons": list(status.reasons),
            "last_replan": None
            if status.last_replan is None
            else status.last_replan.isoformat(),
            "solve_time_s": status.solve_time_s,
            "cost_today_eur": status.cost_today_eur,
            "saving_eur": status.saving_eur,
        },
        "plan": household.plan_rows(limit=16),
        "problems": {key: dict(p.details) for key, p in household.problems.items()},
        "chargers": [
            {
                "id": handle.device_id,
                "kind": handle.kind,
                "available": handle.device.available,
                "plugged_in": handle.device.plugged_in,
                "state": handle.state_name,
                "power_w": handle.device.power_w,
                "soc": handle.device.soc,
                "limit_w": handle.limit_w,
                "snapshot": handle.device.snapshot()
                if isinstance(handle.device, OcppCharger)
                else None,
            }
            for handle in household.chargers.handles.values()
        ],
        "devices": [
            {
                "id": device_id,
                "driver": type(driver).__name__,
                "available": driver.available,
                "planned": device_id not in household.devices.unplanned,
                "power_w": driver.power_w,
                "setpoint_w": getattr(driver, "setpoint_w", None),
                "events": list(getattr(driver, "events", []))[-10:],
                "state": driver.export_state()
                if hasattr(driver, "export_state")
                else None,
            }
            for device_id, driver in household.devices.drivers.items()
        ],
    }
