"""Shared set-up for the guard tests: a simulated household under a guard."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
import random

from custom_components.stroomwijs.engine.capabilities import CurtailPriority
from custom_components.stroomwijs.engine.grid import GridConnection
from custom_components.stroomwijs.engine.guard import (
    Guard,
    GuardConfig,
    GuardedDevice,
    Intervention,
)
from custom_components.stroomwijs.engine.limits import (
    LimitStack,
    StaticWindowSource,
    TimeWindow,
)
from custom_components.stroomwijs.engine.simulate.household import (
    BaseLoadProfile,
    SimEvCharger,
    SimHeatPump,
    SimHousehold,
    SimSwitchLoad,
)


@dataclass
class Rig:
    """A household, its devices, its limits and its guard."""

    house: SimHousehold
    ev: SimEvCharger
    boiler: SimSwitchLoad
    heat_pump: SimHeatPump
    washer: SimSwitchLoad
    limits: LimitStack
    guard: Guard
    log: list[Intervention]

    async def run(self, seconds: int) -> None:
        """Advance the simulation, the guard acting on each reading."""
        await self.house.async_run(seconds, self.guard.async_process)


def build_rig(
    *,
    start: datetime,
    base: BaseLoadProfile | None = None,
    windows: tuple[TimeWindow, ...] = (),
    ev_delay: timedelta = timedelta(seconds=2),
    ev_declared_delay: timedelta | None = None,
    ev_pause_allowed: bool = True,
    discharge_w: float = 0.0,
    grid: GridConnection | None = None,
    lookahead: timedelta | None = None,
    seed: int = 7,
    device_cap_w: Callable[[], float | None] | None = None,
) -> Rig:
    """Household with EV (11 kW), boiler, heat pump, washer, under a guard."""
    house = SimHousehold(start=start, base_load=base or BaseLoadProfile.constant(1500))
    clock = house.clock
    ev = house.add(
        SimEvCharger(clock=clock, reaction_delay=ev_delay, discharge_w=discharge_w)
    )
    boiler = house.add(
        SimSwitchLoad("boiler", "Boiler", clock=clock, rated_w=2000, phases=(1,))
    )
    heat_pump = house.add(SimHeatPump(clock=clock))
    washer = house.add(
        SimSwitchLoad("washer", "Washing machine", clock=clock, rated_w=2000, on=False)
    )
    limits = LimitStack([StaticWindowSource(windows)] if windows else [])
    config = GuardConfig(
        grid=grid or GridConnection(phases=3, fuse_a=35), lookahead=lookahead
    )
    guard = Guard(
        config,
        [
            GuardedDevice(
                device=ev,
                priority=CurtailPriority.EV,
                reaction_delay=ev_declared_delay or ev_delay,
                pause_allowed=ev_pause_allowed,
            ),
            GuardedDevice(
                device=boiler,
                priority=CurtailPriority.BOILER,
                reaction_delay=timedelta(milliseconds=500),
                phases=(1,),
            ),
            GuardedDevice(
                device=heat_pump,
                priority=CurtailPriority.HEAT_PUMP,
                reaction_delay=timedelta(seconds=1),
            ),
            GuardedDevice(
                device=washer,
                priority=CurtailPriority.WHITE_GOODS,
                reaction_delay=timedelta(milliseconds=500),
                phases=(0,),
            ),
        ],
        limits=limits,
        device_cap_w=device_cap_w,
        rng=random.Random(seed),  # noqa: S311 - reproducible stagger
    )
    log: list[Intervention] = []
    guard.subscribe(log.append)
    return Rig(house, ev, boiler, heat_pump, washer, limits, guard, log)


def evening_window(start: time, end: time, import_w: float) -> TimeWindow:
    """Build a window that applies on every day of the year."""
    return TimeWindow(start=start, end=end, import_w=import_w, label="evening")
