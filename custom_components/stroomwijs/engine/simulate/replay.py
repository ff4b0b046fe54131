"""Replay a scenario: the real ``Household`` under a simulated clock.

Each strategy runs the same engine ``Household`` built from the scenario's
``HouseholdConfig``: the same limit sources, guard, planner loop (re-plan
every ``replan_minutes`` and on events) and the same OCPP central system.
The car is an OCPP 2.1 charge point (``OcppSimulator``) on loopback, so the
household's real OCPP driver controls it; the meter is simulated in process
and fed with :meth:`Household.async_feed` every ``step_s`` seconds (60 s by
default; docs/scenarios.md shows that this gives the same limit results as
the telegram rate), and the household ticks with :meth:`Household.async_tick`
after each reading.

Strategies:

* ``stroomwijs``: the household as configured (the optimiser on);
* ``uncontrolled``: the optimiser off: the car charges at full power from
  arrival (the guard still holds the DSO limit);
* ``rules``: the optimiser off, and a simple rule set drives the car through
  the household's override command: charge in the cheapest quarter-hours
  before departure that deliver the target, and on PV surplus.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
import logging
import math
import resource
import time as wall
from typing import Any, Final

from ocpp import messages as ocpp_messages

from custom_components.stroomwijs.engine.drivers.ocpp import SessionOptions
from custom_components.stroomwijs.engine.household import (
    Household,
    HouseholdEvent,
    HouseholdPorts,
    MeterConfig,
    OcppServerConfig,
    Series,
)
from custom_components.stroomwijs.engine.meter.quarter import (
    MonthPeakTracker,
    QuarterResult,
)
from custom_components.stroomwijs.engine.planner import Plan, Problem, solve

from .household import QUARTER_S, VOLTAGE_V, SimReading
from .ocpp_chargepoint import OcppSimulator, SimCar, SimStation
from .replay_devices import Comfort, ReplayDevices
from .scenario import (
    SLOT,
    EvPattern,
    EvSession,
    Scenario,
    ScenarioData,
    ev_sessions,
    pv_forecast,
)

_LOGGER = logging.getLogger(__name__)

STRATEGIES: Final = ("stroomwijs", "uncontrolled", "rules")
ROUND_TRIP: Final = 0.85
CHARGER_ID: Final = "sim-ev"
PRICE_PUBLISH_HOUR: Final = 13
"""Local hour at which tomorrow's day-ahead prices become known."""
BASE_PHASE_SPLIT: Final = (0.5, 0.25, 0.25)
SESSION: Final = SessionOptions(response_timeout_s=10.0, boot_wait_s=0.2)
PROGRESS_STEP: Final = 0.01
ALIGNED: Final = timedelta(minutes=15)
"""Clock-aligned meter values of a charge point without a car."""
SETTLE_ROUNDS: Final = 10
SETTLE_S: Final = 0.005
LIMIT_ACTIONS: Final = frozenset(
    {"curtail", "emergency", "plan_clamped", "override_limited", "limit_not_holdable"}
)
"""Guard events that hold the limit against what plan or user asked for."""

type Progress = Callable[[float], None]
"""Called with the fraction done (0..1)."""


@dataclass(slots=True, kw_only=True)
class LossyCar(SimCar):
    """A car battery with the study's 85 % round trip (split evenly)."""

    round_trip: float = ROUND_TRIP
    charged_kwh: float = 0.0
    """Energy taken from the charger (grid side)."""
    discharged_kwh: float = 0.0
    """Energy given to the charger (grid side)."""

    def absorb(self, power_w: float, dt_s: float) -> float:
        """Take ``power_w`` (grid side) for ``dt_s``; losses on both ways."""
        if (power_w > 0 and self.soc >= 1.0) or (power_w < 0 and self.soc <= 0.0):
            return 0.0
        eff = math.sqrt(self.round_trip)
        grid_kwh = power_w * dt_s / 3_600_000.0
        stored = grid_kwh * eff if grid_kwh >= 0 else grid_kwh / eff
        self.soc = min(1.0, max(0.0, self.soc + stored / self.capacity_kwh))
        if grid_kwh >= 0:
            self.charged_kwh += grid_kwh
        else:
            self.discharged_kwh -= grid_kwh
        return power_w


@dataclass(slots=True)
class Quarter:
    """What one quarter-hour measured."""

    start: datetime
    import_kwh: float = 0.0
    export_kwh: float = 0.0
    ev_kwh: float = 0.0
    """Grid-side car energy: positive charging, negative discharging."""
    heat_pump_kwh: float = 0.0
    boiler_kwh: float = 0.0
    appliance_kwh: float = 0.0
    limit_w: float | None = None
    """The lowest DSO import limit in force during the quarter (None: none)."""
    readings_over: int = 0
    """Readings whose import exceeded the limit in force (before the guard acted)."""
    max_import_w: float = 0.0


@dataclass(slots=True)
class Departure:
    """One car stay: what it needed and what it got."""

    arrive: datetime
    depart: datetime
    soc_arrive: float
    soc_depart: float
    target_soc: float
    charged_kwh: float
    discharged_kwh: float
    car: int = 0
    """Which of the scenario's cars (0: the first)."""

    @property
    def shortfall_kwh(self) -> float:
        """SoC missing to the target at departure (0 when met; times capacity)."""
        return max(0.0, self.target_soc - self.soc_depart)


@dataclass(slots=True)
class RunResult:
    """One strategy's replay."""

    strategy: str
    quarters: list[Quarter] = field(default_factory=list)
    departures: list[Departure] = field(default_factory=list)
    solve_times_s: list[float] = field(default_factory=list)
    replans: int = 0
    interventions: int = 0
    plan_failures: int = 0
    wall_s: float = 0.0
    steps: int = 0
    end_soc: float | None = None
    """The first car's SoC at the end."""
    end_socs: list[float] = field(default_factory=list)
    """Every car's SoC at the end."""
    peak_rss_mb: float | None = None
    """The replaying process's peak resident memory (``ru_maxrss``)."""
    notes: list[str] = field(default_factory=list)
    comfort: Comfort | None = None
    """The heat pump's, boiler's and appliance's comfort (None: none of them)."""


class _Meter:
    """The simulated P1 meter: phase powers, quarter average, projection, peak.

    Like a Belgian meter (1-0:1.6.0) and the engine's own meter when a meter
    does not send it, it keeps the highest completed quarter-hour average
    import of the billing month (the meter's ``MonthPeakTracker``), and every
    reading carries it: the household plans its capacity tariff from it.
    """

    def __init__(self) -> None:
        self.quarter: datetime | None = None
        self.energy_j = 0.0
        self.last_net_w = 0.0
        self.peaks = MonthPeakTracker()

    def read(  # noqa: PLR0917 - one reading's parts
        self,
        now: datetime,
        dt_s: float,
        base_w: float,
        pv_w: float,
        ev_w: float,
        devices_w: Sequence[float] = (0.0, 0.0, 0.0),
    ) -> SimReading:
        phases = [
            base_w * share - pv_w / 3.0 + ev_w / 3.0 + extra
            for share, extra in zip(BASE_PHASE_SPLIT, devices_w, strict=True)
        ]
        net = sum(phases)
        quarter = now.replace(
            minute=now.minute - now.minute % 15, second=0, microsecond=0
        )
        if quarter != self.quarter:
            if self.quarter is not None and quarter - self.quarter == SLOT:
                # The step just past closes the quarter before this one.
                done = self.energy_j + max(self.last_net_w, 0.0) * dt_s
                self.peaks.add(QuarterResult(self.quarter, done / QUARTER_S, 1.0))
            self.quarter = quarter
            self.energy_j = 0.0
        else:
            self.energy_j += max(self.last_net_w, 0.0) * dt_s
        self.last_net_w = net
        peak_w, _ = self.peaks.current(now)
        elapsed = (now - quarter).total_seconds()
        average = self.energy_j / elapsed if elapsed > 0 else None
        projection = (self.energy_j + max(net, 0.0) * (QUARTER_S - elapsed)) / QUARTER_S
        return SimReading(
            timestamp=now,
            import_w=max(net, 0.0),
            export_w=max(-net, 0.0),
            phase_power_w=(phases[0], phases[1], phases[2]),
            phase_currents_a=tuple(abs(p) / VOLTAGE_V for p in phases),
            quarter_average_w=average,
            quarter_projection_w=projection,
            month_peak_w=peak_w,
        )


def charger_id(car: int) -> str:
    """Return the OCPP identity of car ``car``'s simulated charge point."""
    return CHARGER_ID if car == 0 else f"{CHARGER_ID}-{car + 1}"


def _sim_config(scenario: Scenario, strategy: str) -> Any:  # noqa: ANN401
    """Return the scenario's household as the simulator hosts it."""
    config = scenario.household
    config = replace(
        config,
        meter=MeterConfig(source="none"),
        ocpp=OcppServerConfig(enabled=True, host="127.0.0.1", port=0),
    )
    ids = {ev.device: charger_id(i) for i, ev in enumerate(scenario.cars)}
    if ids:
        devices = tuple(
            replace(d, charger_id=ids[d.id]) if d.id in ids else d
            for d in config.devices
        )
        config = replace(config, devices=devices)
    if strategy != "stroomwijs":
        config = replace(config, optimiser=replace(config.optimiser, enabled=False))
    return config


async def _settle() -> None:
    """Let the messages a plug-in or unplug set off cross the loopback link.

    Simulated time stands still meanwhile: on a real link they take
    milliseconds, far less than one step.
    """
    for _ in range(SETTLE_ROUNDS):
        await asyncio.sleep(SETTLE_S)


async def _inline(job: Callable[[], Plan]) -> Plan:
    # Simulated time stands still while the planner solves: run it inline.
    return job()


@dataclass(slots=True)
class _Car:
    """One car of the scenario and its charge point during a replay."""

    index: int
    pattern: EvPattern
    sessions: list[EvSession]
    soc: float
    next_meter_values: datetime
    sim: OcppSimulator | None = None
    car: LossyCar | None = None
    session: int = 0
    stay: tuple[float, EvSession] | None = None
    """SoC at arrival and the stay, while the car is plugged in."""
    rules_w: float | None = None


class Replay:
    """One strategy's run over [start, end) of a scenario."""

    def __init__(
        self,
        scenario: Scenario,
        data: ScenarioData,
        strategy: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        initial_soc: float | None = None,
        step_s: int | None = None,
        meter_values_s: int | None = None,
        measure_from: datetime | None = None,
    ) -> None:
        """Prepare; ``async_run`` runs it.

        ``measure_from``: count comfort from then on (a chunk's warm-up).
        """
        if strategy not in STRATEGIES:
            msg = f"unknown strategy {strategy!r}"
            raise ValueError(msg)
        self.scenario = scenario
        self.data = data
        self.strategy = strategy
        self.start = start or scenario.start_utc
        self.end = end or scenario.end_utc
        self.step = timedelta(seconds=step_s or scenario.step_s)
        self.meter_values = timedelta(seconds=meter_values_s or scenario.meter_values_s)
        self.now = self.start
        self.result = RunResult(strategy)
        self.cars = [
            _Car(
                index=i,
                pattern=ev,
                sessions=[
                    s
                    for s in ev_sessions(scenario, i)
                    if self.start <= s.arrive < self.end
                ],
                soc=initial_soc
                if initial_soc is not None and i == 0
                else ev.initial_soc,
                next_meter_values=self.start,
            )
            for i, ev in enumerate(scenario.cars)
        ]
        self._meter = _Meter()
        self.household: Household | None = None
        self._quarter: Quarter | None = None
        self.devices = ReplayDevices(
            scenario,
            data,
            strategy=strategy,
            clock=lambda: self.now,
            measure_from=measure_from,
        )

    # ------------------------------------------------------------ set-up
    def _solver(self, problem: Problem, now: datetime, previous: Plan | None) -> Plan:
        began = wall.perf_counter()
        try:
            return solve(problem, now=now, warm_start=previous)
        finally:
            self.result.solve_times_s.append(wall.perf_counter() - began)

    def _on_event(self, event: HouseholdEvent) -> None:
        if event.kind == "plan_updated":
            self.result.replans += 1
        elif event.kind == "problem" and event.data.get("key") == "plan_failed":
            if event.data.get("active"):
                self.result.plan_failures += 1
        elif event.kind in LIMIT_ACTIONS:
            self.result.interventions += 1

    async def _async_start(self) -> Household:
        config = _sim_config(self.scenario, self.strategy)
        household = Household(
            config,
            HouseholdPorts(
                clock=lambda: self.now,
                store=None,  # nothing restarts within a replay
                realtime=False,
                run_blocking=_inline,
                solver=self._solver,
                ocpp_session=SESSION,
                entity_port=self.devices.port if self.devices.any else None,
            ),
        )
        warm = self.data.warmup_load_kw
        first = self.start - SLOT * len(warm)
        if self.start != self.scenario.start_utc:
            # A later chunk: the forecaster has seen the weeks before it.
            index = self.data.index(self.start)
            days = self.scenario.errors.load_warmup_days
            lookback = min(index, days * 96)
            history = (
                warm[len(warm) - (days * 96 - lookback) :]
                if days * 96 > lookback
                else []
            )
            history = [*history, *self.data.load_kw[index - lookback : index]]
            first = self.start - SLOT * len(history)
            warm = history
        for i, kw in enumerate(warm):
            household.forecaster.observe(first + SLOT * i, kw)
        household.subscribe(self._on_event)
        await household.async_start()
        self.household = household
        csms = household.chargers.csms
        for car in self.cars:
            if csms is None:
                break
            station = SimStation(
                bidirectional=car.pattern.max_discharge_w > 0, clock=self._seconds
            )
            sim = OcppSimulator(
                charger_id(car.index), version="ocpp2.1", station=station
            )
            sim.validate_own_calls = False
            await sim.async_connect(csms.url)
            car.sim = sim
            await asyncio.sleep(0)
        self._publish_inputs(household, first=True)
        return household

    # ------------------------------------------------------------ inputs
    def _seconds(self) -> float:
        return self.now.timestamp()

    def _publish_inputs(self, household: Household, *, first: bool = False) -> None:
        zone = self.scenario.zone
        local = self.now.astimezone(zone)
        if first or (local.hour == PRICE_PUBLISH_HOUR and local.minute == 0):
            midnight = datetime.combine(local.date(), datetime.min.time(), tzinfo=zone)
            known_days = 2 if local.hour >= PRICE_PUBLISH_HOUR else 1
            end = datetime.combine(
                (midnight + timedelta(days=known_days + 0.5)).date(),
                datetime.min.time(),
                tzinfo=zone,
            ).astimezone(UTC)
            begin = midnight.astimezone(UTC)
            i0, i1 = (
                self.data.index(begin),
                min(self.data.index(end), len(self.data.spot)),
            )
            household.set_prices(Series(begin, SLOT, tuple(self.data.spot[i0:i1])))
        if self.scenario.pv is not None and (
            first or (local.hour == 0 and local.minute == 0)
        ):
            household.set_pv_forecast(pv_forecast(self.scenario, self.data, self.now))
        if self.data.outdoor_c and (first or local.minute == 0):
            # The weather forecast, renewed every hour: the true temperature
            # of the next 48 h (docs/scenarios.md).
            index = self.data.index(self.now)
            values = self.data.outdoor_c[index : index + 192]
            household.set_outdoor_forecast(
                Series(self.data.start + SLOT * index, SLOT, tuple(values))
            )

    # ------------------------------------------------------------ the cars
    async def _car_events(self, car: _Car) -> None:
        ev, sim, household = car.pattern, car.sim, self.household
        if sim is None or household is None:
            return
        if car.stay is not None and self.now >= car.stay[1].depart:
            await self._depart(car)
        if car.session < len(car.sessions):
            session = car.sessions[car.session]
            if self.now >= session.arrive and car.stay is None:
                car.session += 1
                car.soc = max(0.05, car.soc - session.trip_kwh / ev.capacity_kwh)
                car.car = LossyCar(
                    capacity_kwh=ev.capacity_kwh,
                    soc=car.soc,
                    max_charge_w=ev.max_charge_w,
                    max_discharge_w=ev.max_discharge_w,
                    target_soc=ev.target_soc,
                    departure=session.depart,
                )
                await sim.async_plug_in(car.car)
                car.next_meter_values = self.now + self.meter_values
                household.set_departure(
                    ev.device,
                    {"departure": session.depart, "target_soc": ev.target_soc},
                )
                await _settle()
                car.stay = (car.soc, session)
                car.rules_w = None

    async def _depart(self, car: _Car) -> None:
        if car.stay is None or car.sim is None or car.car is None:
            return
        soc0, session = car.stay
        car.soc = car.car.soc
        self.result.departures.append(
            Departure(
                arrive=session.arrive,
                depart=session.depart,
                soc_arrive=soc0,
                soc_depart=car.car.soc,
                target_soc=car.pattern.target_soc,
                charged_kwh=car.car.charged_kwh,
                discharged_kwh=car.car.discharged_kwh,
                car=car.index,
            )
        )
        await car.sim.async_unplug()
        await _settle()
        car.stay = None
        car.car = None

    async def _rules(self, car: _Car) -> None:
        """Drive a car by simple rules: cheapest quarter-hours, PV surplus."""
        household, battery, ev = self.household, car.car, car.pattern
        if household is None or battery is None or car.stay is None:
            return
        session = car.stay[1]
        need_kwh = max(0.0, ev.target_soc - battery.soc) * ev.capacity_kwh
        slot_kwh = ev.max_charge_w / 1000.0 * 0.25 * math.sqrt(ROUND_TRIP)
        slots = max(0, math.ceil(need_kwh / slot_kwh - 1e-9))
        here = self.data.index(self.now)
        last = min(self.data.index(session.depart), len(self.data.spot))
        window = sorted(range(here, last), key=lambda i: (self.data.spot[i], i))
        cheap = here in set(window[:slots])
        watts = ev.max_charge_w if cheap else 0.0
        surplus = -self._meter.last_net_w + (
            0.0 if car.sim is None else car.sim.station.power_w
        )
        floor = 6.0 * 3 * VOLTAGE_V
        if not cheap and surplus >= floor and battery.soc < 1.0:
            watts = min(ev.max_charge_w, surplus)
        if car.rules_w is None or abs(watts - car.rules_w) >= 200.0:  # noqa: PLR2004
            car.rules_w = watts
            await household.async_set_override(ev.device, watts)

    # ------------------------------------------------------------ the loop
    async def async_run(self, progress: Progress | None = None) -> RunResult:
        """Run from start to end; return what was measured."""
        began = wall.perf_counter()
        # The ocpp library checks every message against its schema in an
        # executor thread, so that a live event loop is not held up. Simulated
        # time stands still anyway: the same checks run inline, which saves
        # two thread hand-offs per message (most of a replay's time).
        threaded = ocpp_messages.ASYNC_VALIDATION
        ocpp_messages.ASYNC_VALIDATION = False
        try:
            return await self._async_run(progress, began)
        finally:
            ocpp_messages.ASYNC_VALIDATION = threaded

    async def _async_run(self, progress: Progress | None, began: float) -> RunResult:
        household = await self._async_start()
        total = (self.end - self.start).total_seconds()
        last_progress = 0.0
        try:
            while self.now < self.end:
                await self._async_step(household)
                done = (self.now - self.start).total_seconds() / total
                if progress is not None and done - last_progress >= PROGRESS_STEP:
                    last_progress = done
                    progress(done)
            for car in self.cars:
                car.soc = car.car.soc if car.car is not None else car.soc
            self.result.end_socs = [car.soc for car in self.cars]
            self.result.end_soc = self.cars[0].soc if self.cars else None
            if self.devices.any:
                self.result.comfort = self.devices.finish(self.now)
                self.result.notes.extend(self.devices.notes)
        finally:
            for car in self.cars:
                if car.sim is not None:
                    await car.sim.async_disconnect()
            await household.async_stop()
        self.result.wall_s = wall.perf_counter() - began
        self.result.peak_rss_mb = (
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        )
        if progress is not None:
            progress(1.0)
        return self.result

    async def _cars_step(self, dt: float) -> float:
        """Move the cars' charge points over the step; their grid power (W)."""
        ev_w = 0.0
        for car in self.cars:
            sim = car.sim
            if sim is None:
                continue
            # Sampled meter values during a transaction; without a car only
            # the clock-aligned ones, every quarter-hour (OCPP's
            # SampledDataCtrlr and AlignedDataCtrlr, as chargers ship).
            if self.now >= car.next_meter_values or (
                car.car is None and self.now.minute % 15 == 0 and self.now.second == 0
            ):
                ev_w += await sim.async_step(dt)
                car.next_meter_values = self.now + (
                    self.meter_values if car.car is not None else ALIGNED
                )
            else:
                ev_w += sim.station.step(dt)
        return ev_w

    async def _async_step(self, household: Household) -> None:
        """One step: devices move, the meter reads, the household acts."""
        dt = self.step.total_seconds()
        self.now += self.step
        # The devices move over the step just past, as the last step left
        # them; what happens at ``now`` (a car comes or goes, new prices)
        # acts on the next step.
        index = self.data.index(self.now - self.step)
        ev_w = await self._cars_step(dt)
        hp_w, boiler_w, washer_w = self.devices.step(self.now, dt)
        reading = self._meter.read(
            self.now,
            dt,
            self.data.load_kw[index] * 1000.0,
            self.data.pv_kw[index] * 1000.0,
            ev_w,
            self.devices.phase_w(hp_w, boiler_w, washer_w),
        )
        # The limit in force over the step just measured (the last tick
        # refreshed it at the step's start).
        effective = household.limits.effective
        dso = None if effective is None else effective.import_w
        await household.async_feed(reading)
        await household.async_tick(self.now)
        qstart = self.data.start + SLOT * index
        quarter = self._quarter
        if quarter is None or quarter.start != qstart:
            quarter = self._quarter = Quarter(qstart)
            self.result.quarters.append(quarter)
        net_kwh = reading.net_power_w * dt / 3_600_000.0
        if net_kwh >= 0:
            quarter.import_kwh += net_kwh
        else:
            quarter.export_kwh -= net_kwh
        quarter.ev_kwh += ev_w * dt / 3_600_000.0
        quarter.heat_pump_kwh += hp_w * dt / 3_600_000.0
        quarter.boiler_kwh += boiler_w * dt / 3_600_000.0
        quarter.appliance_kwh += washer_w * dt / 3_600_000.0
        if dso is not None:
            quarter.limit_w = (
                dso if quarter.limit_w is None else min(quarter.limit_w, dso)
            )
            if reading.import_w > dso + 1.0:
                quarter.readings_over += 1
        quarter.max_import_w = max(quarter.max_import_w, reading.import_w)
        self.result.steps += 1
        self._publish_inputs(household)
        for car in self.cars:
            await self._car_events(car)
        await self.devices.async_user(household, self.now)
        if self.strategy == "rules" and self.now.second == 0:
            for car in self.cars:
                await self._rules(car)
            await self.devices.async_rules(household, self.now)


async def async_replay(
    scenario: Scenario,
    data: ScenarioData,
    strategy: str,
    *,
    progress: Progress | None = None,
    **kwargs: Any,  # noqa: ANN401
) -> RunResult:
    """Run one strategy over the scenario's period."""
    return await Replay(scenario, data, strategy, **kwargs).async_run(progress)


type Runner = Callable[..., Awaitable[RunResult]]
