"""The perfect-foresight optimum: the planner run with the true data.

The same MILP planner (``engine.planner.solve``) is given what really
happened: the true load and PV per quarter-hour, every price of the period,
every car stay with its real arrival, departure and arrival SoC, and the
DSO windows. Its plan is the best any controller could have done with the
household's model.

A period of many days is solved in segments that end at a car's departure:
between a departure and the next arrival the car is away, and the
scenario's other loads are not controllable, so nothing couples one
segment to the next except the car's SoC (carried over, minus the trip)
and, with a capacity tariff, the month's peak so far (carried over too).
A segment longer than 48 h (days without a stay) is cut at 48 h. Within
those couplings the segmentation loses nothing against one solve of the
whole period; with a capacity tariff the month peak is carried greedily,
which can only make the optimum look worse, never better.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
import itertools
import math
import time as wall
from typing import Any, Final

from custom_components.stroomwijs.engine.grid import GridConnection
from custom_components.stroomwijs.engine.household.limits import build_limits
from custom_components.stroomwijs.engine.planner import Problem, solve

from .replay import ROUND_TRIP, Departure, Quarter, RunResult
from .scenario import SLOT, Scenario, ScenarioData, ev_sessions

MAX_SEGMENT: Final = 192
MIN_CHARGE_A: Final = 6.0


@dataclass(slots=True)
class _Segment:
    start: int
    end: int
    """Quarter-hour indices [start, end) of the data grid."""
    sessions: list[Any] = field(default_factory=list)


def _segments(scenario: Scenario, data: ScenarioData) -> list[_Segment]:
    first = data.index(scenario.start_utc)
    last = data.index(scenario.end_utc)
    cuts = sorted(
        {
            min(max(data.index(s.depart), first), last)
            for s in ev_sessions(scenario)
            if first < data.index(s.depart) < last
        }
    )
    bounds = [first, *cuts, last]
    segments: list[_Segment] = []
    for a, b in itertools.pairwise(bounds):
        cursor = a
        while cursor < b:
            end = min(cursor + MAX_SEGMENT, b)
            segments.append(_Segment(cursor, end))
            cursor = end
    return segments


def _windows(
    scenario: Scenario, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    config = scenario.household
    grid = GridConnection(
        phases=config.grid.phases,
        fuse_a=config.grid.fuse_a,
        voltage_v=config.grid.voltage_v,
    )
    limits = build_limits(config, grid, clock=lambda: start, session=None)
    out: list[dict[str, Any]] = []
    for limit in limits.stack.limits_between(start, end):
        if limit.source.startswith("capacity") or (
            limit.import_w is None and limit.export_w is None
        ):
            continue
        a = max(limit.start or start, start)
        b = min(limit.end or end, end)
        if b <= a:
            continue
        window: dict[str, Any] = {"start": a.isoformat(), "end": b.isoformat()}
        if limit.import_w is not None:
            window["import_kw"] = round(limit.import_w / 1000.0, 3)
        if limit.export_w is not None:
            window["export_kw"] = round(limit.export_w / 1000.0, 3)
        out.append(window)
    return out


def foresight(  # noqa: C901, PLR0912, PLR0915
    scenario: Scenario,
    data: ScenarioData,
    *,
    double_energy_tax: bool = True,
    v2g: bool = True,
) -> RunResult:
    """Solve the period with the true data; return it as a run.

    ``double_energy_tax`` and ``v2g`` False answer what-if questions (the
    household itself always plans with the double tax, and with V2G where
    the charger and car allow it).
    """
    began = wall.perf_counter()
    config = scenario.household
    tariff = config.tariff
    result = RunResult("optimum")
    result.notes.append(
        "solved in segments cut at each car departure (at most 48 h); the car's "
        "SoC and the month peak are carried from one segment to the next"
    )
    ev = scenario.ev
    device = config.device(ev.device) if ev is not None else None
    sessions = ev_sessions(scenario)
    soc = ev.initial_soc if ev is not None else 0.0
    month_peak: dict[tuple[int, int], float] = {}
    export: dict[str, Any] = (
        {"basis": "import"}
        if tariff.export_basis == "net_metering"
        else {"basis": "spot"}
        if tariff.export_basis == "spot"
        else {"basis": "fixed", "fixed_eur_per_kwh": tariff.export_fixed_eur_per_kwh}
    )
    eff = math.sqrt(ROUND_TRIP)
    for segment in _segments(scenario, data):
        start = data.start + SLOT * segment.start
        end = data.start + SLOT * segment.end
        count = segment.end - segment.start
        grid: dict[str, Any] = {
            "fuse": f"{config.grid.phases}x{config.grid.fuse_a:g}",
            "voltage_v": config.grid.voltage_v,
            "windows": _windows(scenario, start, end),
        }
        local = start.astimezone(scenario.zone)
        if tariff.capacity_eur_per_kw_month is not None:
            grid["capacity_tariff"] = {
                "eur_per_kw_month": tariff.capacity_eur_per_kw_month,
                "month_peak_so_far_kw": round(
                    month_peak.get((local.year, local.month), 0.0), 3
                ),
            }
        devices: list[dict[str, Any]] = []
        stay = None
        if ev is not None and device is not None:
            for session in sessions:
                if start <= session.arrive < end or (
                    session.arrive < start < session.depart
                ):
                    stay = session
                    break
        if stay is not None and ev is not None and device is not None:
            arrive_soc = (
                soc  # the stay goes on from the last segment
                if stay.arrive < start
                else max(0.05, soc - stay.trip_kwh / ev.capacity_kwh)
            )
            watts_per_amp = device.phases * config.grid.voltage_v
            max_kw = min(ev.max_charge_w, device.max_current_a * watts_per_amp) / 1000.0
            entry: dict[str, Any] = {
                "id": "ev",
                "kind": "ev",
                "name": "Car",
                "mode": "v2g"
                if v2g and device.v2g_allowed and ev.max_discharge_w > 0
                else "charge_only",
                "capacity_kwh": ev.capacity_kwh,
                "soc": round(arrive_soc, 4),
                # A stay that goes on past the period has no target within
                # it (the replays are not held to one either).
                "target_soc": ev.target_soc
                if stay.depart <= scenario.end_utc
                else round(arrive_soc, 4),
                "min_soc": 0.0,
                "max_charge_kw": round(max_kw, 3),
                "min_charge_kw": round(
                    device.min_current_a * watts_per_amp / 1000.0, 3
                ),
                "degradation_eur_per_kwh": 0.03,
                "double_energy_tax": double_energy_tax,
                "arrival": max(stay.arrive, start).isoformat(),
                "departure": min(stay.depart, end).isoformat(),
            }
            if device.phases == 1:
                entry["phases"] = 1
            if entry["mode"] == "v2g":
                entry["max_discharge_kw"] = round(
                    min(ev.max_discharge_w / 1000.0, max_kw), 3
                )
                entry["round_trip_efficiency"] = ROUND_TRIP
            devices.append(entry)
        problem = Problem.from_dict(
            {
                "description": f"perfect foresight {start.isoformat()}",
                "start": start.isoformat(),
                "slot_minutes": 15,
                "horizon_slots": count,
                "timezone": config.time_zone,
                "prices": {
                    "tariff": "dynamic",
                    "spot_eur_per_kwh": data.spot[segment.start : segment.end],
                    "markup_eur_per_kwh": tariff.markup_eur_per_kwh,
                    "energy_tax_eur_per_kwh": tariff.energy_tax_eur_per_kwh,
                    "vat": tariff.vat,
                    "export": export,
                },
                "grid": grid,
                "base_load_kw": data.load_kw[segment.start : segment.end],
                "pv_kw": data.pv_kw[segment.start : segment.end],
                "devices": devices,
                # A bound, not a plan for tomorrow: solved to 0.01 % (the
                # household stops at 1 % or a cent).
                "solver": {
                    "time_limit_s": 60.0,
                    "threads": 1,
                    "mip_rel_gap": 0.0001,
                    "mip_abs_gap_eur": 0.0001,
                },
            }
        )
        t0 = wall.perf_counter()
        plan = solve(problem, now=start)
        result.solve_times_s.append(wall.perf_counter() - t0)
        result.replans += 1
        ev_kw = (
            plan.devices["ev"].setpoint_kw if "ev" in plan.devices else [0.0] * count
        )
        charged = discharged = 0.0
        car_soc = None if stay is None else float(devices[0]["soc"])
        for i in range(count):
            when = start + SLOT * i
            quarter = Quarter(when)
            quarter.import_kwh = plan.import_kw[i] * 0.25
            quarter.export_kwh = plan.export_kw[i] * 0.25
            quarter.ev_kwh = ev_kw[i] * 0.25
            quarter.max_import_w = plan.import_kw[i] * 1000.0
            quarter.limit_w = None
            for window in grid["windows"]:
                if "import_kw" in window and datetime.fromisoformat(
                    window["start"]
                ) <= when < datetime.fromisoformat(window["end"]):
                    limit = window["import_kw"] * 1000.0
                    quarter.limit_w = (
                        limit
                        if quarter.limit_w is None
                        else min(quarter.limit_w, limit)
                    )
            result.quarters.append(quarter)
            key = (
                when.astimezone(scenario.zone).year,
                when.astimezone(scenario.zone).month,
            )
            month_peak[key] = max(month_peak.get(key, 0.0), plan.import_kw[i])
            if car_soc is not None and ev is not None:
                kwh = ev_kw[i] * 0.25
                if kwh >= 0:
                    charged += kwh
                    car_soc += kwh * eff / ev.capacity_kwh
                else:
                    discharged -= kwh
                    car_soc += kwh / eff / ev.capacity_kwh
        if stay is not None and ev is not None and car_soc is not None:
            soc = min(1.0, max(0.0, car_soc))
            if stay.depart <= end:
                result.departures.append(
                    Departure(
                        arrive=stay.arrive,
                        depart=stay.depart,
                        soc_arrive=float(devices[0]["soc"]),
                        soc_depart=soc,
                        target_soc=ev.target_soc,
                        charged_kwh=charged,
                        discharged_kwh=discharged,
                    )
                )
    result.end_soc = soc
    result.steps = len(result.quarters)
    result.wall_s = wall.perf_counter() - began
    return result
