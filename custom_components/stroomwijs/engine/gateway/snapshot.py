"""JSON views of a running household, for the API's clients.

Everything here reads the household's public snapshots (``limits``,
``guard.status()``, ``plan_status``, ``plan_rows``, ``chargers.handles``,
``problems``); nothing changes it. Numbers that are not finite become null,
so every snapshot is valid JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
import dataclasses
from datetime import datetime
from enum import Enum
import math
from typing import Any

from custom_components.stroomwijs.engine.drivers.appliance import (
    CycleState,
    PlugAppliance,
    RemoteStartAppliance,
)
from custom_components.stroomwijs.engine.drivers.boiler import Boiler
from custom_components.stroomwijs.engine.drivers.climate_setpoint import (
    ClimateSetpointHeatPump,
)
from custom_components.stroomwijs.engine.drivers.factory import Driver
from custom_components.stroomwijs.engine.drivers.hybrid_heat_pump import (
    HybridHeatPump,
)
from custom_components.stroomwijs.engine.drivers.lambda_heat_pump import (
    LambdaHeatPump,
)
from custom_components.stroomwijs.engine.drivers.ocpp import OcppCharger
from custom_components.stroomwijs.engine.drivers.sg_ready import SgReadyHeatPump
from custom_components.stroomwijs.engine.household import Household
from custom_components.stroomwijs.engine.household.chargers import ChargerHandle
from custom_components.stroomwijs.engine.meter.models import MeterReading, PeakRecord
from custom_components.stroomwijs.engine.numbers import parse_number


def clean(value: object) -> Any:  # noqa: ANN401, PLR0911 - JSON data
    """Return ``value`` as JSON-safe data (non-finite numbers become None)."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return clean(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: clean(getattr(value, f.name)) for f in dataclasses.fields(value)
        }
    if isinstance(value, Mapping):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [clean(v) for v in value]
    return str(value)


def clean_dict(value: Mapping[str, Any] | object) -> dict[str, Any]:
    """Return a mapping or dataclass as a JSON-safe dict."""
    data = clean(value)
    if not isinstance(data, dict):
        msg = f"not a mapping: {type(value).__name__}"
        raise TypeError(msg)
    return data


def limits_snapshot(household: Household) -> dict[str, Any]:
    """Return the grid limit in force, where it comes from, and the manual limit."""
    limits = household.limits
    effective = limits.effective
    manual = limits.manual.export_state().get("limit")
    upcoming = limits.next_limit(household.ports.clock())
    return clean_dict(
        {
            "import_limit_w": limits.import_limit_w,
            "import_source": limits.import_source,
            "limit_active": limits.limit_active,
            "export_limit_w": None if effective is None else effective.export_w,
            "export_source": None if effective is None else effective.export_source,
            "repairs_needed": False if effective is None else effective.repairs_needed,
            "until": None if effective is None else effective.until,
            "failsafe": False if effective is None else effective.failsafe,
            "problems": [] if effective is None else list(effective.problems),
            "fuse_w": limits.grid.max_power_w,
            "manual": manual,
            "next": None
            if upcoming is None
            else {
                "source": upcoming.source,
                "import_w": upcoming.import_w,
                "export_w": upcoming.export_w,
                "start": upcoming.start,
                "end": upcoming.end,
            },
        }
    )


def charger_snapshot(household: Household, handle: ChargerHandle) -> dict[str, Any]:
    """One charger as a client shows it."""
    device = handle.device
    needs = device.departure
    override = device.manual_setpoint_w if isinstance(device, OcppCharger) else None
    identity = device.state if isinstance(device, OcppCharger) else None
    return clean_dict(
        {
            "device_id": handle.device_id,
            "title": handle.title,
            "kind": handle.kind,
            "state": handle.state_name,
            "available": device.available,
            "plugged_in": device.plugged_in,
            "power_w": device.power_w,
            "setpoint_w": device.setpoint_w,
            "boost_w": handle.boost_w,
            "v2g_allowed": device.v2g_allowed,
            "vendor": None if identity is None else identity.vendor,
            "model": None if identity is None else identity.model,
            "serial": None if identity is None else identity.serial,
            "firmware": None if identity is None else identity.firmware,
            "soc_pct": handle.soc_pct,
            "limit_w": handle.limit_w,
            "session_energy_kwh": handle.session_energy_kwh,
            "override_w": override,
            "planned_w": household.planned_power_w(handle.device_id),
            "planned_next_w": household.planned_power_w(
                handle.device_id, slots_ahead=1
            ),
            "departure": needs.departure,
            "target_soc": needs.target_soc,
            "min_soc": needs.min_soc,
        }
    )


def device_snapshot(
    household: Household, device_id: str, driver: Driver
) -> dict[str, Any]:
    """One heat pump, boiler or appliance as a client shows it.

    Every key is always there; what a kind of device does not have is null
    (a boiler has no SG-Ready mode, a heat pump no cycle).
    """
    inner = driver.heat_pump if isinstance(driver, HybridHeatPump) else driver
    budget = (
        inner.blocking_budget()
        if isinstance(inner, SgReadyHeatPump | LambdaHeatPump)
        else None
    )
    mode = inner.mode if isinstance(inner, SgReadyHeatPump) else None
    level = (
        inner.level
        if isinstance(inner, ClimateSetpointHeatPump | LambdaHeatPump)
        else None
    )
    appliance = (
        driver if isinstance(driver, PlugAppliance | RemoteStartAppliance) else None
    )
    boiler = driver if isinstance(driver, Boiler) else None
    temperature = (
        None
        if isinstance(driver, PlugAppliance | RemoteStartAppliance)
        else driver.temperature_c
    )
    armed = appliance is not None and appliance.state is CycleState.ARMED
    override = household.devices.overrides.get(device_id)
    return clean_dict(
        {
            "device_id": device_id,
            "title": driver.name,
            "available": driver.available,
            "planned": device_id not in household.devices.unplanned,
            "power_w": driver.power_w,
            "temperature_c": temperature,
            "sg_mode": None if mode is None else mode.name.lower(),
            "level": None if level is None else level.value,
            "blocks_left_today": None if budget is None else budget.blocks_left_today,
            "blocked_minutes_left_today": None
            if budget is None
            else budget.blocked_minutes_left_today,
            "heating": None if boiler is None else boiler.is_on,
            "tank_estimated": None if boiler is None else not boiler.measured,
            "legionella_due": None if boiler is None else boiler.legionella_deadline(),
            "on_gas": driver.on_gas if isinstance(driver, HybridHeatPump) else None,
            "cycle_state": None if appliance is None else appliance.state,
            "deadline": None if appliance is None else appliance.deadline,
            "latest_start": appliance.latest_start()
            if appliance is not None and armed
            else None,
            "remote_start_allowed": driver.remote_start_allowed
            if isinstance(driver, RemoteStartAppliance)
            else None,
            "planned_w": household.planned_power_w(device_id),
            "planned_next_w": household.planned_power_w(device_id, slots_ahead=1),
            "override": None if override is None else override.to_dict(),
        }
    )


def meter_snapshot(household: Household) -> dict[str, Any] | None:
    """Return the last meter reading (None without a meter or before the first)."""
    meter = household.meter
    reading = None if meter is None else meter.last_reading
    if reading is None:
        return None
    return clean_dict(
        {
            "timestamp": reading.timestamp,
            "net_power_w": reading.net_power_w,
            "quarter_average_w": reading.quarter_average_w,
            "month_peak_w": reading.month_peak_w,
            "available": meter.available if meter is not None else False,
            "reading": reading,
        }
    )


def parse_time(value: object) -> datetime | None:
    """Return an aware time from snapshot data; None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _numbers(value: object) -> tuple[float | None, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(parse_number(item) for item in value[:3])


def _text(value: object) -> str | None:
    return value[:500] if isinstance(value, str) else None


def reading_from_data(data: object) -> MeterReading | None:
    """Read a snapshot's ``meter.reading`` back (None when it is not usable).

    The client's side of ``meter_snapshot``: whatever the data holds, the
    result is a valid reading or None, never an exception.
    """
    if not isinstance(data, Mapping):
        return None
    timestamp = parse_time(data.get("timestamp"))
    quarter_start = parse_time(data.get("quarter_start"))
    import_w, export_w = (
        parse_number(data.get("import_w")),
        parse_number(data.get("export_w")),
    )
    if timestamp is None or quarter_start is None or import_w is None:
        return None
    tariff = data.get("tariff")
    source = data.get("quarter_average_source")
    history: list[PeakRecord] = []
    raw_history = data.get("peak_history")
    for record in raw_history[:13] if isinstance(raw_history, list) else ():
        if not isinstance(record, Mapping):
            continue
        power = parse_number(record.get("power_w"))
        if power is not None:
            history.append(
                PeakRecord(
                    month_start=parse_time(record.get("month_start")),
                    at=parse_time(record.get("at")),
                    power_w=power,
                )
            )
    return MeterReading(
        timestamp=timestamp,
        meter_time=parse_time(data.get("meter_time")),
        dsmr_version=_text(data.get("dsmr_version")) or "",
        equipment_id=_text(data.get("equipment_id")),
        import_w=import_w,
        export_w=export_w or 0.0,
        phase_import_w=_numbers(data.get("phase_import_w")),
        phase_export_w=_numbers(data.get("phase_export_w")),
        phase_currents_a=_numbers(data.get("phase_currents_a")),
        phase_voltages_v=_numbers(data.get("phase_voltages_v")),
        phase_headroom_a=_numbers(data.get("phase_headroom_a")),
        import_t1_kwh=parse_number(data.get("import_t1_kwh")),
        import_t2_kwh=parse_number(data.get("import_t2_kwh")),
        export_t1_kwh=parse_number(data.get("export_t1_kwh")),
        export_t2_kwh=parse_number(data.get("export_t2_kwh")),
        import_total_kwh=parse_number(data.get("import_total_kwh")),
        export_total_kwh=parse_number(data.get("export_total_kwh")),
        tariff=tariff
        if isinstance(tariff, int) and not isinstance(tariff, bool)
        else None,
        quarter_start=quarter_start,
        quarter_average_w=parse_number(data.get("quarter_average_w")),
        quarter_average_source=source if source in {"meter", "computed"} else None,
        quarter_projection_w=parse_number(data.get("quarter_projection_w")),
        month_peak_w=parse_number(data.get("month_peak_w")),
        month_peak_at=parse_time(data.get("month_peak_at")),
        peak_history=tuple(history),
        text_message=_text(data.get("text_message")),
    )


def household_snapshot(household: Household, *, plan_rows: int = 96) -> dict[str, Any]:
    """Everything a client shows: limits, guard, plan, chargers, devices, problems."""
    return {
        "name": household.config.name,
        "time": clean(household.ports.clock()),
        "mode": household.mode.value,
        "enabled": household.enabled,
        "limits": limits_snapshot(household),
        "meter": meter_snapshot(household),
        "guard": clean(household.guard.status()),
        "plan": {
            "status": clean(household.plan_status),
            "rows": clean(household.plan_rows(plan_rows)),
        },
        "chargers": [
            charger_snapshot(household, handle)
            for handle in household.chargers.handles.values()
        ],
        "devices": [
            device_snapshot(household, device_id, driver)
            for device_id, driver in household.devices.drivers.items()
        ],
        "problems": [
            {"key": p.key, "details": clean(p.details)}
            for p in household.problems.values()
        ],
    }
