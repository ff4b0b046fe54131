"""The perfect-foresight optimum: the planner run with the true data.

The same MILP planner (``engine.planner.solve``) is given what really
happened: the true load and PV per quarter-hour, every price of the period,
every car stay with its real arrival, departure and arrival SoC, and the
DSO windows. Its plan is the best any controller could have done with the
household's model.

A period of many days is solved in segments that end at a car's departure
(with two cars, at a departure no other car is home over):
between a departure and the next arrival the car is away, and the
scenario's other loads are not controllable, so nothing couples one
segment to the next except the car's SoC (carried over, minus the trip)
and, with a capacity tariff, the month's peak so far (carried over too).
A segment longer than 48 h (days without a stay) is cut at 48 h. Within
those couplings the segmentation loses nothing against one solve of the
whole period; with a capacity tariff the month peak is carried greedily,
which can only make the optimum look worse, never better.

A heat pump, a boiler and a white-goods appliance get the planner's own
blocks, with what really happens: the true outdoor temperature and the
house's true gains, the tank's true hot-water draws, and every cycle armed
at its true time with its deadline (the washer's nominal programme). The
room and tank temperatures the plan ends a segment with start the next,
and each week the boiler must reach its legionella temperature once. A
segment cut does lose a little here: the heat pump's minimum on and off
times and the house's heat are not planned across it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import itertools
import math
import time as wall
from typing import Any, Final

from custom_components.stroomwijs.engine.drivers.boiler import DEFAULT_DRAW_SHAPE
from custom_components.stroomwijs.engine.drivers.heat_pump_common import (
    heat_pump_planner_input,
)
from custom_components.stroomwijs.engine.grid import GridConnection
from custom_components.stroomwijs.engine.household import DeviceConfig
from custom_components.stroomwijs.engine.household.limits import build_limits
from custom_components.stroomwijs.engine.planner import Problem, solve

from .replay import ROUND_TRIP, Departure, Quarter, RunResult
from .replay_devices import (
    COMFORT_TOLERANCE_K,
    WEEK,
    Comfort,
    Cycle,
    cycle_profile_kwh,
    driver_config,
)
from .scenario import (
    SLOT,
    EvPattern,
    EvSession,
    Scenario,
    ScenarioData,
    ev_sessions,
)

MAX_SEGMENT: Final = 192
SOLVE_LIMIT_S: Final = 15.0
DEVICE_GAP: Final = 0.005
MIN_CHARGE_A: Final = 6.0


@dataclass(slots=True)
class _CarTrack:
    """One car through the segments: its SoC and the stay in progress."""

    index: int
    pattern: EvPattern
    device: DeviceConfig
    sessions: list[EvSession]
    soc: float
    stay: EvSession | None = None
    soc_arrive: float = 0.0
    charged: float = 0.0
    discharged: float = 0.0

    @property
    def plan_id(self) -> str:
        return "ev" if self.index == 0 else f"ev{self.index + 1}"


@dataclass(slots=True)
class _Segment:
    start: int
    end: int
    """Quarter-hour indices [start, end) of the data grid."""
    sessions: list[Any] = field(default_factory=list)


def _segments(scenario: Scenario, data: ScenarioData) -> list[_Segment]:
    """Cut the period at car departures, where no other car is home over it.

    A cut inside another car's stay would split that stay: its target would
    fall on the segment after the cut, with too little time left. Where a
    car would get two stays in one segment, its departure between them is
    cut anyway (each segment plans one stay per car).
    """
    first = data.index(scenario.start_utc)
    last = data.index(scenario.end_utc)
    stays = [
        (car, session)
        for car in range(len(scenario.cars))
        for session in ev_sessions(scenario, car)
    ]

    def spanned(when: datetime, car: int) -> bool:
        return any(
            other != car and session.arrive < when < session.depart
            for other, session in stays
        )

    cuts = {
        data.index(session.depart)
        for car, session in stays
        if first < data.index(session.depart) < last
        and not spanned(session.depart, car)
    }
    bounds = [first, *sorted(cuts), last]
    for a, b in itertools.pairwise(bounds):
        for car in range(len(scenario.cars)):
            inside = [s for c, s in stays if c == car and a <= data.index(s.arrive) < b]
            cuts.update(
                data.index(s.depart)
                for s in inside[:-1]
                if a < data.index(s.depart) < b
            )
    bounds = [first, *sorted(cuts), last]
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


def appliance_cycles(scenario: Scenario) -> list[Cycle]:
    """Return every cycle the scenario's user arms, with its deadline."""
    appliance = scenario.appliance
    if appliance is None:
        return []
    out: list[Cycle] = []
    for offset in range(scenario.days):
        day = scenario.start + timedelta(days=offset)
        if day.weekday() not in appliance.days:
            continue
        armed = datetime.combine(day, appliance.arm, tzinfo=scenario.zone)
        deadline = armed + timedelta(hours=appliance.within_h)
        out.append(Cycle(armed=armed.astimezone(UTC), deadline=deadline))
    return out


class _DeviceBlocks:
    """The heat pump's, boiler's and appliance's planner blocks, segment by segment."""

    def __init__(self, scenario: Scenario, data: ScenarioData) -> None:
        household = scenario.household
        self.scenario = scenario
        self.data = data
        self.comfort = Comfort()
        self.hp = scenario.heat_pump
        self.hp_config = (
            driver_config(household, self.hp.device) if self.hp is not None else None
        )
        self.indoor_c = self.hp.indoor_c if self.hp is not None else 0.0
        self.boiler = scenario.boiler
        self.boiler_config = (
            driver_config(household, self.boiler.device)
            if self.boiler is not None
            else None
        )
        self.tank_c = self.boiler.temperature_c if self.boiler is not None else 0.0
        self.week_max: dict[int, float] = {}
        self.cycles = appliance_cycles(scenario)
        self.comfort.cycles = self.cycles
        self.appliance_config = (
            driver_config(household, scenario.appliance.device)
            if scenario.appliance is not None
            else None
        )
        self.profile = cycle_profile_kwh()
        self.start = scenario.start_utc

    @property
    def any(self) -> bool:
        return (
            self.hp_config is not None
            or self.boiler_config is not None
            or self.appliance_config is not None
        )

    def _week(self, when: datetime) -> int:
        return int((when - self.start) / WEEK)

    def entries(self, first: int, count: int) -> list[dict[str, Any]]:
        """Return the blocks for quarter-hours [first, first + count)."""
        data = self.data
        start = data.start + SLOT * first
        end = start + SLOT * count
        out: list[dict[str, Any]] = []
        if self.hp is not None and self.hp_config is not None:
            cfg = self.hp_config
            entry = heat_pump_planner_input(
                cfg.device_id,
                cfg.name,
                cfg.spec,
                cfg.house,
                cfg.comfort,
                indoor_c=self.indoor_c,
                outdoor_c=data.outdoor_c[first : first + count],
                is_on=False,
                in_state_for=None,
            )
            entry["house"]["gains_kw"] = [self.hp.gains_kw] * count
            out.append(entry)
        if self.boiler is not None and self.boiler_config is not None:
            out.append(self._boiler(start, end, count))
        if self.appliance_config is not None:
            cfg = self.appliance_config
            for number, cycle in enumerate(self.cycles):
                if not start <= cycle.armed < end:
                    continue
                out.append(
                    {
                        "id": f"appliance-{number}",
                        "kind": "white_goods",
                        "name": cfg.name,
                        "profile_kwh": self.profile,
                        "phases": 1,
                        "phase": cfg.phase,
                        "earliest_start": cycle.armed.isoformat(),
                        # A cycle due past a 48-h cut must end at the cut.
                        "finish_by": min(cycle.deadline, end).isoformat(),
                    }
                )
        return out

    def _boiler(self, start: datetime, end: datetime, count: int) -> dict[str, Any]:
        boiler, cfg = self.boiler, self.boiler_config
        if boiler is None or cfg is None:
            raise ValueError("no boiler")
        zone = self.scenario.zone
        daily = cfg.daily_draw_kwh * boiler.draw_scale
        draws = [
            round(
                daily
                * DEFAULT_DRAW_SHAPE[(start + SLOT * i).astimezone(zone).hour]
                * 0.25,
                5,
            )
            for i in range(count)
        ]
        entry: dict[str, Any] = {
            "id": cfg.device_id,
            "kind": "boiler",
            "name": cfg.name,
            "volume_l": cfg.volume_l,
            "power_kw": cfg.power_w / 1000.0,
            "efficiency": cfg.efficiency,
            "temperature_c": round(min(max(self.tank_c, 0.0), 100.0), 2),
            "min_c": cfg.min_c,
            "max_c": cfg.thermostat_c,
            "room_c": cfg.room_c,
            "loss_w_per_k": cfg.loss_w_per_k,
            "draw_kwh": draws,
            "phases": cfg.phases,
        }
        if cfg.phases == 1:
            entry["phase"] = cfg.phase
        week = self._week(start)
        legionella = cfg.legionella.temperature_c
        if self.week_max.get(week, -math.inf) < legionella <= cfg.thermostat_c:
            week_end = self.start + WEEK * (week + 1)
            entry["legionella"] = {
                "due": True,
                "temperature_c": legionella,
                "window_start": start.isoformat(),
                "window_end": min(end, week_end).isoformat(),
            }
        return entry

    def account(self, plan: Any, first: int, count: int) -> list[list[float]]:  # noqa: ANN401
        """Carry the temperatures over, count comfort; the devices' kWh per slot."""
        start = self.data.start + SLOT * first
        zeros = [0.0] * count
        hp_kwh, boiler_kwh, appliance_kwh = list(zeros), list(zeros), list(zeros)
        comfort = self.comfort
        for device_id, result in plan.devices.items():
            kwh = [kw * 0.25 for kw in result.setpoint_kw[:count]]
            if self.hp_config is not None and device_id == self.hp_config.device_id:
                hp_kwh = kwh
                temps = result.series["indoor_c"]
                band = self.hp_config.comfort.min_c
                for temp in temps[1 : count + 1]:
                    comfort.room_quarters_below += temp < band - COMFORT_TOLERANCE_K
                    comfort.room_degree_hours_below += max(0.0, band - temp) * 0.25
                low = min(temps[: count + 1])
                comfort.room_min_c = (
                    low if comfort.room_min_c is None else min(comfort.room_min_c, low)
                )
                self.indoor_c = temps[count]
            elif (
                self.boiler_config is not None
                and device_id == self.boiler_config.device_id
            ):
                boiler_kwh = kwh
                temps = result.series["temperature_c"]
                floor = self.boiler_config.min_c
                for i, temp in enumerate(temps[1 : count + 1]):
                    comfort.tank_quarters_below += temp < floor - COMFORT_TOLERANCE_K
                    week = self._week(start + SLOT * i)
                    self.week_max[week] = max(self.week_max.get(week, -math.inf), temp)
                low = min(temps[: count + 1])
                comfort.tank_min_c = (
                    low if comfort.tank_min_c is None else min(comfort.tank_min_c, low)
                )
                self.tank_c = temps[count]
            elif device_id.startswith("appliance-"):
                appliance_kwh = [a + b for a, b in zip(appliance_kwh, kwh, strict=True)]
                cycle = self.cycles[int(device_id.split("-")[1])]
                slot = result.summary.get("start_slot")
                if isinstance(slot, int):
                    cycle.started = start + SLOT * slot
                    cycle.finished = cycle.started + SLOT * len(self.profile)
        return [hp_kwh, boiler_kwh, appliance_kwh]

    def finish(self) -> Comfort:
        """Count the weeks without a legionella run; return the comfort."""
        if self.boiler_config is not None:
            weeks = int((self.scenario.end_utc - self.start) / WEEK)
            legionella = self.boiler_config.legionella.temperature_c
            self.comfort.legionella_weeks = weeks
            self.comfort.legionella_weeks_missed = sum(
                1
                for week in range(weeks)
                if self.week_max.get(week, -math.inf) < legionella - COMFORT_TOLERANCE_K
            )
        return self.comfort


def _car_entry(
    track: _CarTrack,
    scenario: Scenario,
    start: datetime,
    end: datetime,
    *,
    v2g: bool,
    double_energy_tax: bool,
) -> dict[str, Any] | None:
    """Return the car's planner block for [start, end) (None: it is away)."""
    if track.stay is None:
        for session in track.sessions:
            if start <= session.arrive < end:
                track.stay = session
                track.soc = round(
                    max(
                        0.05,
                        track.soc - session.trip_kwh / track.pattern.capacity_kwh,
                    ),
                    4,
                )
                track.soc_arrive = track.soc
                track.charged = track.discharged = 0.0
                break
    stay, ev, device = track.stay, track.pattern, track.device
    if stay is None:
        return None
    config = scenario.household
    watts_per_amp = device.phases * config.grid.voltage_v
    max_kw = min(ev.max_charge_w, device.max_current_a * watts_per_amp) / 1000.0
    entry: dict[str, Any] = {
        "id": track.plan_id,
        "kind": "ev",
        "name": f"Car {track.index + 1}",
        "mode": "v2g"
        if v2g and device.v2g_allowed and ev.max_discharge_w > 0
        else "charge_only",
        "capacity_kwh": ev.capacity_kwh,
        "soc": round(track.soc, 4),
        # A stay that goes on past the period has no target within it (the
        # replays are not held to one either); nor does a stay cut by another
        # car's departure, until its own last segment.
        "target_soc": ev.target_soc
        if stay.depart <= min(end, scenario.end_utc)
        else round(track.soc, 4),
        "min_soc": 0.0,
        "max_charge_kw": round(max_kw, 3),
        "min_charge_kw": round(device.min_current_a * watts_per_amp / 1000.0, 3),
        "degradation_eur_per_kwh": 0.03,
        "double_energy_tax": double_energy_tax,
        "arrival": max(stay.arrive, start).isoformat(),
        "departure": min(stay.depart, end).isoformat(),
    }
    if device.phases == 1:
        entry["phases"] = 1
    if entry["mode"] == "v2g":
        entry["max_discharge_kw"] = round(min(ev.max_discharge_w / 1000.0, max_kw), 3)
        entry["round_trip_efficiency"] = ROUND_TRIP
    return entry


def _follow(track: _CarTrack, power_kw: list[float], eff: float) -> None:
    """Move the car's SoC along its planned power (85 % round trip)."""
    soc = track.soc
    capacity = track.pattern.capacity_kwh
    for kw in power_kw:
        kwh = kw * 0.25
        if kwh >= 0:
            track.charged += kwh
            soc += kwh * eff / capacity
        else:
            track.discharged -= kwh
            soc += kwh / eff / capacity
    track.soc = min(1.0, max(0.0, soc))


def foresight(  # noqa: C901, PLR0915
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
    tracks = [
        _CarTrack(
            index=i,
            pattern=ev,
            device=device,
            sessions=ev_sessions(scenario, i),
            soc=ev.initial_soc,
        )
        for i, ev in enumerate(scenario.cars)
        if (device := config.device(ev.device)) is not None
    ]
    month_peak: dict[tuple[int, int], float] = {}
    export: dict[str, Any] = (
        {"basis": "import"}
        if tariff.export_basis == "net_metering"
        else {"basis": "spot"}
        if tariff.export_basis == "spot"
        else {"basis": "fixed", "fixed_eur_per_kwh": tariff.export_fixed_eur_per_kwh}
    )
    eff = math.sqrt(ROUND_TRIP)
    blocks = _DeviceBlocks(scenario, data)
    worst_gap = 0.0
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
        for track in tracks:
            entry = _car_entry(
                track,
                scenario,
                start,
                end,
                v2g=v2g,
                double_energy_tax=double_energy_tax,
            )
            if entry is not None:
                devices.append(entry)
        devices.extend(blocks.entries(segment.start, count))
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
                # household stops at 1 % or a cent). The on/off heat pump's
                # and the boiler's binaries make that take minutes a day:
                # with them, to 0.5 % (the report notes the worst gap).
                "solver": {
                    "time_limit_s": SOLVE_LIMIT_S,
                    "threads": 1,
                    "mip_rel_gap": DEVICE_GAP if blocks.any else 0.0001,
                    "mip_abs_gap_eur": 0.0001,
                },
            }
        )
        t0 = wall.perf_counter()
        plan = solve(problem, now=start)
        result.solve_times_s.append(wall.perf_counter() - t0)
        worst_gap = max(worst_gap, plan.solver.mip_gap)
        result.replans += 1
        ev_kw = [0.0] * count
        for track in tracks:
            if track.stay is None or track.plan_id not in plan.devices:
                continue
            power = plan.devices[track.plan_id].setpoint_kw
            ev_kw = [a + b for a, b in zip(ev_kw, power[:count], strict=True)]
            _follow(track, power[:count], eff)
            if track.stay.depart <= end:
                result.departures.append(
                    Departure(
                        arrive=track.stay.arrive,
                        depart=track.stay.depart,
                        soc_arrive=track.soc_arrive,
                        soc_depart=track.soc,
                        target_soc=track.pattern.target_soc,
                        charged_kwh=track.charged,
                        discharged_kwh=track.discharged,
                        car=track.index,
                    )
                )
                track.stay = None
        hp_kwh, boiler_kwh, appliance_kwh = blocks.account(plan, segment.start, count)
        for i in range(count):
            when = start + SLOT * i
            quarter = Quarter(when)
            quarter.heat_pump_kwh = hp_kwh[i]
            quarter.boiler_kwh = boiler_kwh[i]
            quarter.appliance_kwh = appliance_kwh[i]
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
    result.end_socs = [track.soc for track in tracks]
    result.end_soc = tracks[0].soc if tracks else None
    if blocks.any:
        result.comfort = blocks.finish()
        result.notes.append(
            "the heat pump, boiler and appliance are planned with the true "
            "outdoor temperature, gains, hot-water draws and arming times"
        )
    result.notes.append(f"the worst segment's MIP gap: {worst_gap:.4%}")
    result.steps = len(result.quarters)
    result.wall_s = wall.perf_counter() - began
    return result
