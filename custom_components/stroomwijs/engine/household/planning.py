"""Turn a household's live state into a planner problem, and a plan into setpoints.

``build_problem`` writes the planner's problem document (see
docs/planner.md) from what the household knows now: the time grid from the
current quarter-hour, prices with the tariff's markup, tax, VAT and export
rule, the base-load and PV forecasts, the DSO limits known ahead, the
capacity-tariff month peak, and every plugged-in car with its SoC, needs and
departure. Where something is missing it says what it assumed in
``PlanInputs.notes``, which the plan status shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from custom_components.stroomwijs.engine.drivers.ocpp import OcppCharger
from custom_components.stroomwijs.engine.limits import LimitStack
from custom_components.stroomwijs.engine.limits.capacity import quarter_start
from custom_components.stroomwijs.engine.planner import Plan

from .chargers import ChargerHandle
from .config import HouseholdConfig, OptimiserMode
from .devices import HouseholdDevices
from .forecast import BaseLoadForecaster
from .inputs import Series

SLOT: Final = timedelta(minutes=15)
DAY: Final = timedelta(days=1)
MAX_SLOTS: Final = 192
FLAT_ENERGY_EUR_PER_KWH: Final = 0.10
"""The energy part of the flat price that self-consumption mode plans with."""
DEFAULT_CAR_KWH: Final = 60.0
DEFAULT_TARGET_SOC: Final = 0.8
DEFAULT_SOC: Final = 0.5
DEFAULT_DEPARTURE: Final = time(7, 0)


def quarter_floor(when: datetime) -> datetime:
    """Return the start of the quarter-hour holding ``when`` (UTC)."""
    return quarter_start(when.astimezone(UTC))


@dataclass(frozen=True, slots=True)
class PlanInputs:
    """A problem document plus what was assumed to build it."""

    problem: dict[str, Any]
    mode: OptimiserMode
    """The mode the plan was made in (auto resolves to one of the others)."""
    notes: tuple[str, ...]
    device_map: dict[str, str] = field(default_factory=dict)
    """Planner device id -> the guard's device id."""
    ev_baseline: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per car: ``energy_kwh`` to reach its target and ``max_kw``."""


def _next_local(now: datetime, at: time, zone: ZoneInfo) -> datetime:
    local = now.astimezone(zone)
    candidate = datetime.combine(local.date(), at, tzinfo=zone)
    if candidate <= local + timedelta(hours=1):
        candidate += timedelta(days=1)
    return candidate.astimezone(UTC)


def _slot_values(
    series: Series | None, starts: Sequence[datetime]
) -> list[float | None]:
    if series is None:
        return [None] * len(starts)
    return [series.average(s, s + SLOT) for s in starts]


def _outdoor(
    outdoor: Series | None, starts: Sequence[datetime], notes: list[str]
) -> list[float] | None:
    """Outdoor degC per slot: the forecast, its last value held beyond its end.

    A forecast that covers none of the slots (stale) is no forecast: the
    devices then assume 10 degC and say so.
    """
    temps = _slot_values(outdoor, starts)
    known = [(index, v) for index, v in enumerate(temps) if v is not None]
    if not known:
        return None
    first, last = known[0], known[-1]
    filled: list[float] = []
    for index, value in enumerate(temps):
        if value is not None:
            filled.append(value)
        else:
            filled.append(first[1] if index < first[0] else last[1])
    if len(known) < len(temps):
        notes.append(
            f"outdoor forecast covers {len(known)} of {len(temps)} quarter-hours: "
            "its nearest value is held beyond"
        )
    return filled


def _fill_prices(prices: Series | None, starts: Sequence[datetime]) -> list[float]:
    """Fill slots beyond the known prices with the price a day earlier.

    The day earlier is read from the price series itself, which holds the
    whole of today even when the problem starts in the afternoon; a slot
    whose day-earlier price is not known either takes the filled value 96
    slots before it, and only without both the mean of the known prices.
    """
    values = _slot_values(prices, starts)
    known = [v for v in values if v is not None]
    mean = sum(known) / len(known)
    filled: list[float] = []
    for index, (start, known_value) in enumerate(zip(starts, values, strict=True)):
        value = known_value
        if value is None and prices is not None:
            value = prices.average(start - DAY, start - DAY + SLOT)
        earlier = index - 96
        if value is None:
            value = filled[earlier] if earlier >= 0 else mean
        filled.append(value)
    return filled


def build_problem(  # noqa: C901, PLR0912, PLR0915 - one document, field by field
    config: HouseholdConfig,
    *,
    now: datetime,
    chargers: Iterable[ChargerHandle],
    prices: Series | None,
    pv: Series | None,
    forecaster: BaseLoadForecaster,
    stack: LimitStack,
    month_peak_kw: float | None,
    mode: OptimiserMode,
    time_limit_s: float,
    devices: HouseholdDevices | None = None,
    outdoor: Series | None = None,
    quarter_energy_kwh: float = 0.0,
) -> PlanInputs:
    """Write the planner problem for the household as it is at ``now``.

    The plan starts at ``now``: its first slot runs to the end of the current
    quarter-hour (a partial slot), the others are whole quarter-hours. So
    the energy the plan puts in the quarter-hour in progress is what is
    left of it, not a whole quarter's worth; ``quarter_energy_kwh`` (what
    the meter has imported in it so far) counts towards a capacity peak.
    Per-slot inputs (prices, PV, base load, devices' series) are those of
    the quarter-hour each slot lies in.
    """
    zone = ZoneInfo(config.time_zone)
    notes: list[str] = []
    start = quarter_floor(now)
    plan_start = now.astimezone(UTC).replace(microsecond=0)
    if plan_start - start < timedelta(seconds=1):
        plan_start = start  # on the quarter-hour: a whole first slot
    first_minutes = (start + SLOT - plan_start).total_seconds() / 60.0
    slots = config.optimiser.horizon_hours * 4
    have_prices = prices is not None and prices.value_at(start) is not None
    if mode is OptimiserMode.AUTO:
        mode = OptimiserMode.CHEAPEST if have_prices else OptimiserMode.SELF_CONSUMPTION
        if not have_prices:
            notes.append("no prices: planning for self-consumption")
    elif mode is OptimiserMode.CHEAPEST and not have_prices:
        mode = OptimiserMode.SELF_CONSUMPTION
        notes.append("no prices: planning for self-consumption")
    if prices is not None and have_prices:
        known = int((prices.end - start) / SLOT)
        slots = max(slots, min(known, MAX_SLOTS))
    slots = min(slots, MAX_SLOTS)
    starts = [start + SLOT * i for i in range(slots)]
    tariff = config.tariff

    export: dict[str, Any]
    if tariff.export_basis == "net_metering":
        export = {"basis": "import"}
    elif tariff.export_basis == "spot" and mode is OptimiserMode.CHEAPEST:
        export = {"basis": "spot"}
    else:
        export = {
            "basis": "fixed",
            "fixed_eur_per_kwh": tariff.export_fixed_eur_per_kwh,
        }
    price_doc: dict[str, Any] = {
        "markup_eur_per_kwh": tariff.markup_eur_per_kwh,
        "energy_tax_eur_per_kwh": tariff.energy_tax_eur_per_kwh,
        "vat": tariff.vat,
        "export": export,
    }
    if mode is OptimiserMode.CHEAPEST:
        values = _fill_prices(prices, starts)
        price_doc = {"tariff": "dynamic", "spot_eur_per_kwh": values, **price_doc}
        if prices is not None and prices.end < starts[-1] + SLOT:
            notes.append("prices beyond the day-ahead ones repeat the day before")
    else:
        price_doc = {
            "tariff": "single",
            "single_eur_per_kwh": FLAT_ENERGY_EUR_PER_KWH,
            **price_doc,
        }
        if export["basis"] == "spot":
            export.update(basis="fixed", fixed_eur_per_kwh=0.0)

    pv_values = _slot_values(pv, starts)
    base = forecaster.series(start, slots, SLOT)
    if pv is None:
        notes.append("no PV forecast: the base load's history stands in for PV")
        pv_kw = [max(-value, 0.0) for value in base]
        base_kw = [max(value, 0.0) for value in base]
    else:
        pv_kw = [max(v or 0.0, 0.0) for v in pv_values]
        base_kw = [max(value, 0.0) for value in base]

    fuse = f"{config.grid.phases}x{config.grid.fuse_a:g}"
    windows = []
    end = starts[-1] + SLOT
    for limit in stack.limits_between(start, end):
        if limit.source.startswith("capacity") or (
            limit.import_w is None and limit.export_w is None
        ):
            continue
        window_start = max(limit.start or plan_start, plan_start)
        window_end = min(limit.end or end, end)
        if window_end <= window_start:
            continue
        window: dict[str, Any] = {
            "start": window_start.isoformat(),
            "end": window_end.isoformat(),
        }
        if limit.import_w is not None:
            window["import_kw"] = round(limit.import_w / 1000.0, 3)
        if limit.export_w is not None:
            window["export_kw"] = round(limit.export_w / 1000.0, 3)
        windows.append(window)
    grid_doc: dict[str, Any] = {
        "fuse": fuse,
        "voltage_v": config.grid.voltage_v,
        "windows": windows,
    }
    if tariff.capacity_eur_per_kw_month is not None:
        grid_doc["capacity_tariff"] = {
            "eur_per_kw_month": tariff.capacity_eur_per_kw_month,
            "month_peak_so_far_kw": round(month_peak_kw or 0.0, 3),
        }
        if plan_start > start:
            grid_doc["capacity_tariff"]["current_quarter_energy_kwh"] = round(
                max(quarter_energy_kwh, 0.0), 4
            )

    devices_doc: list[dict[str, Any]] = []
    device_map: dict[str, str] = {}
    baseline: dict[str, dict[str, float]] = {}
    for handle in chargers:
        device = handle.device
        if not device.available or not device.plugged_in:
            continue
        # What the car and charger can do: the limits are the planner's own
        # caps, so the station limit in force now is left out.
        power = (
            device.power_range_under(None)
            if isinstance(device, OcppCharger)
            else device.power_range
        )
        if power.max_w <= 0:
            continue
        needs = device.departure
        capacity = device.capacity_kwh
        if capacity is None:
            capacity = DEFAULT_CAR_KWH
            notes.append(f"{handle.title}: battery size unknown, assumed 60 kWh")
        soc = device.soc
        v2g = device.discharge_allowed and power.min_w < 0
        if soc is None:
            soc = DEFAULT_SOC
            v2g = False
            notes.append(f"{handle.title}: state of charge unknown, assumed 50 %")
        departure = needs.departure
        # A departure within the current quarter-hour still counts: that
        # slot is the last one to charge in (it used to be taken for "no
        # departure", so a stay lost its last slot).
        if departure is None or departure <= now:
            departure = _next_local(now, DEFAULT_DEPARTURE, zone)
            notes.append(f"{handle.title}: no departure set, assumed 07:00")
        target = (
            needs.target_soc
            if needs.target_soc is not None
            else max(DEFAULT_TARGET_SOC, soc)
        )
        entry: dict[str, Any] = {
            "id": handle.device_id,
            "kind": "ev",
            "name": handle.title,
            "mode": "v2g" if v2g else "charge_only",
            "capacity_kwh": capacity,
            "soc": round(min(max(soc, 0.0), 1.0), 4),
            "target_soc": round(min(max(target, 0.0), 1.0), 4),
            "min_soc": round(min(max(needs.min_soc, 0.0), soc), 4),
            "max_charge_kw": round(power.max_w / 1000.0, 3),
            "min_charge_kw": round(min(power.min_active_w, power.max_w) / 1000.0, 3),
            "degradation_eur_per_kwh": 0.03,
            "double_energy_tax": True,
            "departure": min(departure, end).isoformat(),
        }
        if isinstance(device, OcppCharger) and device.config.phases == 1:
            entry["phases"] = 1
        if v2g:
            entry["max_discharge_kw"] = round(-power.min_w / 1000.0, 3)
            entry["round_trip_efficiency"] = 0.85
        devices_doc.append(entry)
        device_map[handle.device_id] = device.device_id
        baseline[handle.device_id] = {
            "energy_kwh": max(target - soc, 0.0) * capacity,
            "max_kw": power.max_w / 1000.0,
        }

    if devices is not None and devices.drivers:
        outdoor_c = _outdoor(outdoor, starts, notes)
        for item in devices.planner_inputs(
            start=start, slots=slots, outdoor_c=outdoor_c, notes=notes
        ):
            devices_doc.append(item)
            device_map[item["id"]] = item["id"]

    problem: dict[str, Any] = {
        "description": f"{config.name} at {start.isoformat()} ({mode.value})",
        "start": plan_start.isoformat(),
        "slot_minutes": 15,
        "first_slot_minutes": round(first_minutes, 4),
        "horizon_slots": slots,
        "timezone": config.time_zone,
        "prices": price_doc,
        "grid": grid_doc,
        "base_load_kw": [round(v, 4) for v in base_kw],
        "pv_kw": [round(v, 4) for v in pv_kw],
        "devices": devices_doc,
        "solver": {"time_limit_s": time_limit_s, "threads": 1},
    }
    return PlanInputs(
        problem=problem,
        mode=mode,
        notes=tuple(dict.fromkeys(notes)),
        device_map=device_map,
        ev_baseline=baseline,
    )


def energy_cost_eur(plan: Plan, *, since: datetime, until: datetime) -> float:
    """Import cost minus export revenue of the plan's slots in [since, until)."""
    total = 0.0
    for index, start_text in enumerate(plan.slot_starts):
        slot_start = datetime.fromisoformat(start_text)
        if not since <= slot_start < until:
            continue
        hours = plan.slot_hours[index]
        total += plan.import_kw[index] * plan.import_price[index] * hours
        total -= plan.export_kw[index] * plan.export_price[index] * hours
    return total


def baseline_cost_eur(plan: Plan, inputs: PlanInputs) -> float:
    """Price the same forecast with every device at its default behaviour.

    The default behaviour of a car is to charge at full power from now until
    it reaches its target; no car discharges. Everything else (base load,
    PV, and heat pumps, boilers and appliances as planned) is the plan's own.
    """
    problem = inputs.problem
    base = problem["base_load_kw"]
    pv = problem["pv_kw"]
    # Heat pumps, boilers and appliances are counted as planned on both sides:
    # the saving is what moving the cars' charging earns.
    others = [
        # A thermostat-driven heat pump's setpoint is its mode; it is
        # expected to draw its ``power_kw``.
        result.series.get("power_kw", result.setpoint_kw)
        for device_id, result in plan.devices.items()
        if device_id not in inputs.ev_baseline
    ]
    remaining = {
        dev: values["energy_kwh"] for dev, values in inputs.ev_baseline.items()
    }
    total = 0.0
    for index in range(len(plan.slot_starts)):
        hours = plan.slot_hours[index]
        net = base[index] - pv[index] + sum(row[index] for row in others)
        for dev, values in inputs.ev_baseline.items():
            kw = min(values["max_kw"], remaining[dev] / hours / 0.9)
            remaining[dev] -= kw * hours * 0.9
            net += kw
        if net >= 0:
            total += net * plan.import_price[index] * hours
        else:
            total += net * plan.export_price[index] * hours
    return total


def plan_energy_cost_eur(plan: Plan) -> float:
    """Return the plan's import cost minus export revenue over its horizon."""
    return sum(
        (imp * ip - exp * ep) * h
        for imp, exp, ip, ep, h in zip(
            plan.import_kw,
            plan.export_kw,
            plan.import_price,
            plan.export_price,
            plan.slot_hours,
            strict=True,
        )
    )


def setpoint_w(plan: Plan, device_id: str, when: datetime) -> float | None:
    """Return the plan's setpoint for a device in the slot holding ``when``."""
    result = plan.devices.get(device_id)
    if result is None:
        return None
    index = slot_index(plan, when)
    if index is None:
        return None
    return result.setpoint_kw[index] * 1000.0


def slot_index(plan: Plan, when: datetime) -> int | None:
    """Index of the plan's slot holding ``when`` (None outside the plan).

    The first slot may be partial (a plan made during a quarter-hour runs
    from then to the quarter's end); every later slot is a quarter-hour.
    """
    if not plan.slot_starts:
        return None
    first = datetime.fromisoformat(plan.slot_starts[0])
    if when < first:
        return None
    first_end = (
        datetime.fromisoformat(plan.slot_starts[1])
        if len(plan.slot_starts) > 1
        else first + timedelta(hours=plan.slot_hours[0])
    )
    if when < first_end:
        return 0
    index = 1 + int((when - first_end) / SLOT)
    if index >= len(plan.slot_starts):
        return None
    return index
