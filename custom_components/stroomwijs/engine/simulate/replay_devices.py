"""A replay's heat pump, boiler and white goods: simulators behind real drivers.

The household's own drivers (SG-Ready relays, a boiler on a switch, a
washing machine on a metered plug) talk to the project's device simulators
through an in-memory entity port, exactly as in the device tests and the
demo: ``ThermalHouse`` + ``HeatPumpUnit`` behind ``SgReadyRelaySim``,
``TankSim`` behind ``BoilerPlugSim`` and ``WashingMachineSim`` behind
``PlugWasherSim``. The house feels the scenario's outdoor temperature.

:class:`ReplayDevices` moves them with the simulated clock, tells the meter
what they draw per phase, acts as their user (the washer is loaded and
started every armed day) and counts what went wrong for comfort:
quarter-hours with the room below the comfort band, quarter-hours with the
tank below its 40 degC floor, weeks without a legionella run, and cycles
finished after their deadline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
import math
from typing import Any, Final

from custom_components.stroomwijs.engine.drivers.boiler import BoilerConfig
from custom_components.stroomwijs.engine.drivers.factory import config_from_dict
from custom_components.stroomwijs.engine.drivers.sg_ready import SgReadyConfig
from custom_components.stroomwijs.engine.household import (
    Household,
    HouseholdConfig,
)
from custom_components.stroomwijs.engine.household.devices import with_identity

from .boiler import BoilerPlugSim, TankSim
from .entities import InMemoryEntityPort
from .scenario import SLOT, Scenario, ScenarioData
from .thermal import HeatPumpUnit, SgReadyRelaySim, ThermalHouse
from .washer import COTTON_40, PlugWasherSim, WashingMachineSim

COMFORT_TOLERANCE_K: Final = 0.05
"""A quarter-hour counts below a bound only when it is this far below."""
WEEK: Final = timedelta(days=7)
ROOM_SENSOR: Final = "sensor.stroomwijs_sim_room_temperature"
"""The room sensor the simulator publishes when the driver names none."""


def driver_config(household: HouseholdConfig, device_id: str) -> Any:  # noqa: ANN401
    """Return the typed driver config of ``device_id`` (validated already)."""
    device = household.device(device_id)
    if device is None:
        raise KeyError(device_id)
    spec = with_identity(device.driver, device.id, device.name)
    return config_from_dict(spec, f"devices.{device_id}.driver")


def cycle_profile_kwh() -> list[float]:
    """Return the washer's nominal programme as energy per quarter-hour."""
    out: list[float] = []
    elapsed = 0.0
    for seconds, watts in COTTON_40:
        remaining = float(seconds)
        while remaining > 0:
            slot = int(elapsed // 900)
            room = (slot + 1) * 900 - elapsed
            take = min(room, remaining)
            while len(out) <= slot:
                out.append(0.0)
            out[slot] += watts * take / 3_600_000.0
            elapsed += take
            remaining -= take
    return [round(v, 4) for v in out]


def cycle_seconds() -> float:
    """Return the length of the nominal programme."""
    return float(sum(seconds for seconds, _ in COTTON_40))


@dataclass(slots=True)
class Cycle:
    """One washer cycle: when it was armed, due and done."""

    armed: datetime
    deadline: datetime
    started: datetime | None = None
    finished: datetime | None = None

    @property
    def late_minutes(self) -> float | None:
        """Minutes past the deadline (0 on time; None while unknown)."""
        if self.finished is None:
            return None
        return max(0.0, (self.finished - self.deadline).total_seconds() / 60.0)


@dataclass(slots=True)
class Comfort:
    """What went wrong for comfort during one run."""

    room_quarters_below: int = 0
    room_min_c: float | None = None
    room_degree_hours_below: float = 0.0
    tank_quarters_below: int = 0
    tank_min_c: float | None = None
    legionella_weeks: int = 0
    legionella_weeks_missed: int = 0
    cycles: list[Cycle] = field(default_factory=list)

    def late_cycles(self, end: datetime) -> int:
        """Cycles done after their deadline, or not done by a passed one."""
        late = 0
        for cycle in self.cycles:
            if cycle.finished is not None:
                late += cycle.finished > cycle.deadline
            elif cycle.deadline <= end:
                late += 1
        return late

    @classmethod
    def merged(cls, parts: list[Comfort]) -> Comfort:
        """Join the comfort of consecutive chunks of one strategy."""
        out = cls()
        for part in parts:
            out.room_quarters_below += part.room_quarters_below
            out.room_degree_hours_below += part.room_degree_hours_below
            out.tank_quarters_below += part.tank_quarters_below
            out.legionella_weeks += part.legionella_weeks
            out.legionella_weeks_missed += part.legionella_weeks_missed
            out.cycles.extend(part.cycles)
            for name in ("room_min_c", "tank_min_c"):
                value, have = getattr(part, name), getattr(out, name)
                if value is not None:
                    setattr(out, name, value if have is None else min(have, value))
        return out

    def violations(self, end: datetime) -> int:
        """Every counted violation: quarter-hours, missed weeks, late cycles."""
        return (
            self.room_quarters_below
            + self.tank_quarters_below
            + self.legionella_weeks_missed
            + self.late_cycles(end)
        )


class ReplayDevices:
    """The scenario's simulated heat pump, boiler and washer in one replay."""

    def __init__(
        self,
        scenario: Scenario,
        data: ScenarioData,
        *,
        strategy: str,
        clock: Any,  # noqa: ANN401 - () -> datetime
        measure_from: datetime | None = None,
    ) -> None:
        """Build the simulators and their entities (the household's names).

        Comfort is counted from ``measure_from`` on (a chunk's warm-up days
        before it are replayed but not counted).
        """
        self.measure_from = measure_from
        self.scenario = scenario
        self.data = data
        self.strategy = strategy
        self.clock = clock
        self.port = InMemoryEntityPort()
        self.comfort = Comfort()
        household = scenario.household
        self.heat_pump: HeatPumpUnit | None = None
        self.relays: SgReadyRelaySim | None = None
        self.heat_pump_config: SgReadyConfig | None = None
        self.tank: TankSim | None = None
        self.boiler_plug: BoilerPlugSim | None = None
        self.boiler_config: BoilerConfig | None = None
        self.machine: WashingMachineSim | None = None
        self.washer_plug: PlugWasherSim | None = None
        self.washer_phase = 0
        self.boiler_phase = 0
        self._room_min: float | None = None
        self._tank_min: float | None = None
        self._quarter: datetime | None = None
        self._week_start: datetime | None = None
        self._week_max = -math.inf
        self._armed_day: object = None
        self._cycle: Cycle | None = None
        self._rule_w: dict[str, float] = {}
        self.notes: list[str] = []
        hp = scenario.heat_pump
        if hp is not None:
            config: SgReadyConfig = driver_config(household, hp.device)
            self.heat_pump_config = config
            house = ThermalHouse(
                indoor_c=hp.indoor_c,
                outdoor_c=self.outdoor_c(clock()),
                heat_capacity_kwh_per_k=config.house.heat_capacity_kwh_per_k,
                heat_loss_kw_per_k=config.house.heat_loss_kw_per_k,
                gains_kw=hp.gains_kw,
            )
            self.heat_pump = HeatPumpUnit(
                house,
                clock=clock,
                rated_w=config.spec.rated_power_w,
                target_c=hp.target_c,
                min_on=config.spec.min_on,
                min_off=config.spec.min_off,
            )
            self.relays = SgReadyRelaySim(
                self.port,
                self.heat_pump,
                relay_1=config.relay_1_entity,
                relay_2=config.relay_2_entity,
                power_sensor=config.power_entity or "sensor.stroomwijs_sim_hp_power",
                room_sensor=config.room_temperature_entity or ROOM_SENSOR,
            )
        boiler = scenario.boiler
        if boiler is not None:
            bcfg: BoilerConfig = driver_config(household, boiler.device)
            self.boiler_config = bcfg
            self.boiler_phase = (bcfg.phase - 1) if bcfg.phases == 1 else -1
            self.tank = TankSim(
                clock=clock,
                volume_l=bcfg.volume_l,
                element_w=bcfg.power_w,
                thermostat_c=bcfg.thermostat_c,
                temperature_c=boiler.temperature_c,
                loss_w_per_k=bcfg.loss_w_per_k,
                room_c=bcfg.room_c,
                daily_draw_kwh=bcfg.daily_draw_kwh,
                draw_scale=boiler.draw_scale,
                timezone=household.time_zone,
            )
            # The relay starts closed, as a boiler on a plug is at home.
            self.tank.supply_on = True
            self.boiler_plug = BoilerPlugSim(
                self.port,
                self.tank,
                switch=bcfg.entity_id or "switch.stroomwijs_sim_boiler",
                power_sensor=bcfg.power_entity,
                temperature_sensor=bcfg.temperature_entity,
            )
        appliance = scenario.appliance
        if appliance is not None:
            acfg = driver_config(household, appliance.device)
            self.washer_phase = acfg.phase - 1
            self.machine = WashingMachineSim(clock=clock, seed=appliance.seed)
            self.washer_plug = PlugWasherSim(
                self.port,
                self.machine,
                plug=acfg.plug_entity,
                power_sensor=acfg.power_entity,
            )

    @property
    def any(self) -> bool:
        """Whether the scenario has any of the three."""
        return (
            self.heat_pump is not None
            or self.tank is not None
            or self.machine is not None
        )

    def outdoor_c(self, when: datetime) -> float:
        """Return the scenario's outdoor temperature at ``when``."""
        series = self.data.outdoor_c
        if not series:
            return 10.0
        index = min(max(self.data.index(when), 0), len(series) - 1)
        return series[index]

    # ------------------------------------------------------------ physics
    def step(self, now: datetime, dt_s: float) -> tuple[float, float, float]:
        """Move every device over the step that ends at ``now``.

        Returns the heat pump's, the boiler's and the washer's mean power
        over the step (W), each device's energy counted as it ran.
        """
        hp_w = boiler_w = washer_w = 0.0
        if self.heat_pump is not None and self.relays is not None:
            before = self.heat_pump.energy_kwh
            self.heat_pump.house.outdoor_c = self.outdoor_c(
                now - timedelta(seconds=dt_s)
            )
            self.relays.publish()
            hp_w = (self.heat_pump.energy_kwh - before) * 3_600_000.0 / dt_s
        if self.tank is not None and self.boiler_plug is not None:
            before = self.tank.energy_kwh
            self.boiler_plug.publish()
            boiler_w = (self.tank.energy_kwh - before) * 3_600_000.0 / dt_s
        if self.machine is not None and self.washer_plug is not None:
            before = self.machine.energy_kwh
            self.washer_plug.publish()
            washer_w = (self.machine.energy_kwh - before) * 3_600_000.0 / dt_s
            self._watch_cycle(now)
        self._account(now)
        return hp_w, boiler_w, washer_w

    def phase_w(self, hp_w: float, boiler_w: float, washer_w: float) -> list[float]:
        """Spread the devices' power over the three phases."""
        phases = [hp_w / 3.0] * 3
        if self.boiler_phase < 0:
            phases = [p + boiler_w / 3.0 for p in phases]
        else:
            phases[self.boiler_phase] += boiler_w
        phases[self.washer_phase] += washer_w
        return phases

    def _watch_cycle(self, now: datetime) -> None:
        cycle, machine = self._cycle, self.machine
        if cycle is None or machine is None:
            return
        if cycle.started is None and machine.state == "running":
            cycle.started = now
        if machine.state == "finished" and cycle.finished is None:
            cycle.finished = now
            self._cycle = None

    def _account(self, now: datetime) -> None:
        if self.measure_from is not None and now <= self.measure_from:
            return
        quarter = self.data.start + SLOT * self.data.index(now - timedelta(seconds=1))
        if self._quarter != quarter:
            self._close_quarter()
            self._quarter = quarter
        if self.heat_pump is not None and self.heat_pump_config is not None:
            room = self.heat_pump.house.indoor_c
            self._room_min = (
                room if self._room_min is None else min(self._room_min, room)
            )
            band = self.heat_pump_config.comfort.min_c
            if room < band:
                self.comfort.room_degree_hours_below += (
                    (band - room) * self.scenario.step_s / 3600.0
                )
        if self.tank is not None:
            temp = self.tank.temperature_c
            self._tank_min = (
                temp if self._tank_min is None else min(self._tank_min, temp)
            )
            if self._week_start is None:
                self._week_start = now
            if now - self._week_start >= WEEK:
                self._close_week()
                self._week_start = now
            self._week_max = max(self._week_max, temp)

    def _close_quarter(self) -> None:
        comfort = self.comfort
        if self._room_min is not None and self.heat_pump_config is not None:
            band = self.heat_pump_config.comfort.min_c
            if self._room_min < band - COMFORT_TOLERANCE_K:
                comfort.room_quarters_below += 1
            comfort.room_min_c = (
                self._room_min
                if comfort.room_min_c is None
                else min(comfort.room_min_c, self._room_min)
            )
        if self._tank_min is not None and self.boiler_config is not None:
            if self._tank_min < self.boiler_config.min_c - COMFORT_TOLERANCE_K:
                comfort.tank_quarters_below += 1
            comfort.tank_min_c = (
                self._tank_min
                if comfort.tank_min_c is None
                else min(comfort.tank_min_c, self._tank_min)
            )
        self._room_min = self._tank_min = None

    def _close_week(self) -> None:
        if self.boiler_config is None or self._week_start is None:
            return
        self.comfort.legionella_weeks += 1
        if self._week_max < self.boiler_config.legionella.temperature_c:
            self.comfort.legionella_weeks_missed += 1
        self._week_max = -math.inf

    def finish(self, now: datetime) -> Comfort:
        """Close the last quarter-hour (and a whole last week); return the count."""
        self._close_quarter()
        if self._week_start is not None and now - self._week_start >= WEEK:
            self._close_week()
        return self.comfort

    # ------------------------------------------------------------ the user
    async def async_user(self, household: Household, now: datetime) -> None:
        """Load and start the washer on an armed day at its arm time."""
        appliance, machine = self.scenario.appliance, self.machine
        if appliance is None or machine is None or self.washer_plug is None:
            return
        local = now.astimezone(self.scenario.zone)
        if (
            local.time() < appliance.arm
            or self._armed_day == local.date()
            or local.weekday() not in appliance.days
        ):
            return
        self._armed_day = local.date()
        if machine.state in {"running", "armed"}:
            return  # still busy with the last load
        armed = datetime.combine(local.date(), appliance.arm, tzinfo=self.scenario.zone)
        deadline = armed + timedelta(hours=appliance.within_h)
        cycle = Cycle(armed=now, deadline=deadline)
        if self.measure_from is None or now >= self.measure_from:
            self.comfort.cycles.append(cycle)
        self._cycle = cycle
        if self.strategy == "uncontrolled":
            # No Stroomwijs: the plug is on, the machine starts at once.
            machine.set_powered(powered=True)
            machine.press_start()
            self.washer_plug.publish()
            self._watch_cycle(now)
            return
        # The user switches the plug off, loads the machine and presses start
        # (it keeps its programme until power comes), as in the demo.
        machine.set_powered(powered=False)
        machine.press_start()
        self.washer_plug.publish()
        if self.strategy == "stroomwijs":
            try:
                await household.async_run_before(appliance.device, deadline)
            except ValueError as err:
                # The driver refused (it still sees the last cycle running):
                # the load waits with its plug off, and is counted late.
                self.notes.append(f"{local:%Y-%m-%d}: run_before refused: {err}")

    # ------------------------------------------------------------ rules
    async def async_rules(self, household: Household, now: datetime) -> None:
        """Apply the simple rules to the three devices (the ``rules`` strategy).

        * boiler: supply on in the day's 3 cheapest hours only (the driver
          keeps its 40 degC floor and its legionella run);
        * heat pump: SG-Ready block in the day's 2 dearest hours while the
          room is 0.5 K above the band, normal otherwise;
        * washer: its plug goes on at the start of the cheapest run of
          quarter-hours that ends before the deadline (a plug timer).
        """
        local = now.astimezone(self.scenario.zone)
        midnight = datetime.combine(local.date(), time(0), tzinfo=self.scenario.zone)
        first = self.data.index(midnight)
        last = min(self.data.index(midnight + timedelta(days=1)), len(self.data.spot))
        here = self.data.index(now)
        day = sorted(range(first, last), key=lambda i: (self.data.spot[i], i))
        if self.boiler_config is not None:
            cheap = here in set(day[:12])
            await self._rule(
                household,
                self.boiler_config.device_id,
                self.boiler_config.power_w if cheap else 0.0,
                now,
            )
        if self.heat_pump_config is not None and self.heat_pump is not None:
            dear = here in set(day[-8:])
            warm = (
                self.heat_pump.house.indoor_c
                > self.heat_pump_config.comfort.min_c + 0.5
            )
            await self._rule(
                household,
                self.heat_pump_config.device_id,
                0.0 if dear and warm else self.heat_pump_config.spec.rated_power_w,
                now,
            )
        await self._washer_timer(now)

    async def _rule(
        self, household: Household, device_id: str, watts: float, now: datetime
    ) -> None:
        if self._rule_w.get(device_id) == watts:
            return
        self._rule_w[device_id] = watts
        try:
            await household.guard.async_set_plan(device_id, watts, now)
        except Exception:  # noqa: BLE001 - a refused change is retried next time
            del self._rule_w[device_id]

    async def _washer_timer(self, now: datetime) -> None:
        cycle, machine = self._cycle, self.machine
        if (
            cycle is None
            or machine is None
            or machine.state != "armed"
            or self.washer_plug is None
        ):
            return
        slots = math.ceil(cycle_seconds() / 900.0)
        first = self.data.index(cycle.armed)
        latest = self.data.index(cycle.deadline) - slots
        if latest < first:
            start = first
        else:
            start = min(
                range(first, latest + 1),
                key=lambda i: (sum(self.data.spot[i : i + slots]), i),
            )
        if self.data.index(now) >= start:
            await self.port.async_call_service(
                "switch", "turn_on", {"entity_id": self.washer_plug.plug}
            )
