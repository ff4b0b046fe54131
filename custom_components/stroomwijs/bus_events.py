"""What the household did, on Home Assistant's event bus (and so in the logbook).

The household's limit changes, the guard's interventions and changes of the
plan's state are fired as ``stroomwijs_grid_event`` with the household, the
device by name and by its device registry id, the watts and the reason.
``logbook.py`` turns each into one line the user reads: which device, how
many watts, and why. (The *Grid event* entity fires the same limit changes
and interventions for automations.)

Frequent bookkeeping is left out of the bus: the guard applying the plan's
setpoint (``plan``), an ignored implausible reading (``bad_reading``) and the
setpoints re-sent after a restart (``reassert``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr

from .const import DOMAIN
from .engine.guard import InterventionKind
from .engine.household import Household, HouseholdEvent
from .models import StroomwijsConfigEntry

EVENT_GRID: Final = "stroomwijs_grid_event"
"""Bus event: one limit change, guard intervention or plan state change."""

ATTR_ENTRY_ID: Final = "config_entry_id"
ATTR_HOUSEHOLD: Final = "household"
ATTR_TYPE: Final = "type"
ATTR_DEVICE: Final = "device"
"""The device's name."""
ATTR_DEVICE_ID: Final = "device_id"
"""The device registry id of the device (or of the household)."""

QUIET: Final = frozenset(
    {InterventionKind.PLAN, InterventionKind.BAD_READING, InterventionKind.REASSERT}
)
LOGGED: Final = frozenset(
    {kind.value for kind in InterventionKind if kind not in QUIET} | {"plan_updated"}
)


def _w(value: object) -> str:
    """Format watts for a sentence: ``4 000 W``; ``? W`` when unknown."""
    if not isinstance(value, int | float) or value != value:  # noqa: PLR0124 - NaN
        return "? W"
    return f"{round(value):,} W".replace(",", " ")


def _source(source: object) -> str:
    name, _, label = str(source or "").partition(":")
    named = {
        "fuse": "the main fuse",
        "manual": "a manual limit",
        "p1_message": "the meter's text message",
        "window": "a time window",
        "capacity": "the capacity tariff",
        "dim14a": "the dim input",
    }
    if name.startswith("openadr"):
        return (
            "the grid operator's failsafe"
            if label in {"failsafe", "failed"}
            else "the grid operator (OpenADR)"
        )
    text = named.get(name, name or "unknown")
    return f"{text} ({label})" if label and name in {"manual", "window"} else text


def describe(data: Mapping[str, Any]) -> str:
    """Return the logbook line of one ``stroomwijs_grid_event``."""
    kind = str(data.get(ATTR_TYPE))
    device = str(data.get(ATTR_DEVICE) or "a device")
    reason = str(data.get("reason") or "").strip()
    why = f": {reason}" if reason else ""
    limit = f" (limit {_w(data.get('limit_w'))})" if data.get("limit_w") else ""
    if kind == "limit_changed":
        text = (
            f"grid limit is now {_w(data.get('import_limit_w'))}, "
            f"set by {_source(data.get('source'))}"
        )
        if data.get("export_limit_w") is not None:
            text += f"; feed-in at most {_w(data.get('export_limit_w'))}"
        return text + (" (failsafe)" if data.get("failsafe") else "")
    if kind == "plan_updated":
        state = str(data.get("state"))
        if state == "fallback":
            return "planning failed; the last valid plan or the guard's rules hold"
        if state == "off":
            return "stopped planning (optimiser off)"
        if state == "time_limit":
            return "made a plan (the solver stopped at its time limit)"
        return "made a plan"
    frm, to = _w(data.get("from_w")), _w(data.get("to_w"))
    lines = {
        "curtail": f"lowered {device} from {frm} to {to}{limit}{why}",
        "emergency": f"cut {device} from {frm} to {to} at once{limit}{why}",
        "release": f"released {device} from {frm} to {to}{why}",
        "plan_clamped": f"held {device} at {to} instead of the plan's {frm}"
        f"{limit}{why}",
        "override": f"{device} follows a manual setting of {to}{why}",
        "override_limited": f"held {device}'s manual setting of {frm} at {to}"
        f"{limit}{why}",
        "data_lost": f"lost the meter's data; devices go to their safe minimum{why}",
        "data_restored": f"the meter's data is back{why}",
        "command_failed": f"{device} did not accept a setpoint of {to}{why}",
        "absorb": f"raised {device} from {frm} to {to} to use the feed-in{why}",
        "absorb_end": f"ended using the feed-in with {device} ({to}){why}",
        "limit_not_holdable": "cannot hold the limit: the load it cannot control is "
        f"{_w(data.get('shortfall_w'))} over it{limit}",
        "limit_holdable": f"the connection is within the limit again{limit}",
        "device_unavailable": f"{device} is unavailable{why}",
        "device_available": f"{device} is available again",
    }
    return lines.get(kind, f"{kind} {device}{why}")


@callback
def async_fire_household_events(
    hass: HomeAssistant, entry: StroomwijsConfigEntry, household: Household
) -> None:
    """Fire the household's events on the bus until the entry unloads."""
    names = {
        device_id: handle.title
        for device_id, handle in household.chargers.handles.items()
    }
    names.update({device.id: device.name for device in household.config.devices})
    plan_state: list[str | None] = [None]

    @callback
    def _on_event(event: HouseholdEvent) -> None:
        if event.kind not in LOGGED:
            return
        if event.kind == "plan_updated":
            state = str(event.data.get("state"))
            if state == plan_state[0]:
                return  # the same state again: nothing the user needs to read
            plan_state[0] = state
        data: dict[str, Any] = {
            ATTR_ENTRY_ID: entry.entry_id,
            ATTR_HOUSEHOLD: entry.title,
            ATTR_TYPE: event.kind,
            **{
                key: value
                for key, value in event.data.items()
                if key not in {"reasons", "device_id"}
            },
        }
        engine_id = event.data.get("device_id")
        if engine_id is not None:
            data[ATTR_DEVICE] = names.get(str(engine_id), str(engine_id))
        # As Home Assistant asks of integration events: the device registry's
        # id (the charger's or device's, else the household's).
        registry = dr.async_get(hass)
        device = None
        if engine_id is not None:
            device = registry.async_get_device_by_identifier(
                (DOMAIN, str(engine_id)), entry.entry_id
            )
        if device is None:
            device = registry.async_get_device_by_identifier(
                (DOMAIN, entry.entry_id), entry.entry_id
            )
        data[ATTR_DEVICE_ID] = None if device is None else device.id
        hass.bus.async_fire(EVENT_GRID, data)

    entry.async_on_unload(household.subscribe(_on_event))
