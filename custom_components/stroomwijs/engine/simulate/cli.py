"""``stroomwijs simulate``: run simulated households (tools for engineers).

* ``stroomwijs simulate guard --window 16:00-21:00 --limit 4000`` runs the
  simulated household (EV, boiler, heat pump) under the guard in simulated
  time and prints every intervention, then a summary.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta
import json
from pathlib import Path
import random
import sys
from zoneinfo import ZoneInfo

from custom_components.stroomwijs.engine.capabilities import CurtailPriority
from custom_components.stroomwijs.engine.cli import help_handler
from custom_components.stroomwijs.engine.grid import GridConnection
from custom_components.stroomwijs.engine.guard import (
    Guard,
    GuardConfig,
    GuardedDevice,
    Intervention,
)
from custom_components.stroomwijs.engine.guard.measurement import GridMeasurement
from custom_components.stroomwijs.engine.limits import (
    LimitStack,
    StaticWindowSource,
    TimeWindow,
)

from .household import (
    BaseLoadProfile,
    SimEvCharger,
    SimHeatPump,
    SimHousehold,
    SimSwitchLoad,
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``stroomwijs simulate`` and its sub-commands."""
    parser = subparsers.add_parser("simulate", help="run simulated households")
    commands = parser.add_subparsers(dest="simulate_command", metavar="COMMAND")
    simulate = commands.add_parser(
        "guard", help="run a simulated household under a DSO window"
    )
    simulate.add_argument("--window", default="16:00-21:00", help="HH:MM-HH:MM")
    simulate.add_argument("--limit", type=float, default=4_000, help="import W")
    simulate.add_argument(
        "--start",
        help="local start time, ISO 8601 (default: 5 minutes before the window)",
    )
    simulate.add_argument("--minutes", type=int, default=15, help="how long to run")
    simulate.add_argument("--fuse", default="3x25", help="connection, e.g. 3x25")
    simulate.add_argument("--zone", default="Europe/Amsterdam", help="time zone")
    simulate.add_argument(
        "--profile", type=Path, help="base load CSV (start_utc,import_kwh per 15 min)"
    )
    simulate.add_argument("--seed", type=int, default=1, help="release stagger seed")
    simulate.add_argument("--json", action="store_true", help="one JSON line each")
    simulate.set_defaults(handler=_cmd_simulate)
    parser.set_defaults(handler=help_handler(parser))


def _line(item: Intervention, as_json: bool) -> str:  # noqa: FBT001
    if as_json:
        return json.dumps(
            {
                "time": item.timestamp.isoformat(),
                "kind": item.kind.value,
                "device": item.device_id,
                "from_w": item.from_w,
                "to_w": item.to_w,
                "reason": item.reason,
                "limit_w": item.limit_w,
                "measured_w": item.measured_w,
            }
        )
    device = item.device_id or "-"
    if item.to_w is None:
        change = ""
    elif item.from_w is None:
        change = f" {item.to_w:.0f} W"
    else:
        change = f" {item.from_w:.0f} -> {item.to_w:.0f} W"
    return (
        f"{item.timestamp:%H:%M:%S}Z {item.kind.value:<16} {device:<10}{change}"
        f"  ({item.reason})"
    )


async def _cmd_simulate(args: argparse.Namespace) -> int:
    try:
        grid = GridConnection.parse(args.fuse)
        window = TimeWindow.parse(args.window, import_w=args.limit, label="cli")
        zone = ZoneInfo(args.zone)
    except (ValueError, KeyError) as err:
        print(f"stroomwijs simulate guard: {err}", file=sys.stderr)  # noqa: T201
        return 2
    today = datetime.now(zone).date()
    if args.start:
        start = datetime.fromisoformat(args.start)
        start = start if start.tzinfo else start.replace(tzinfo=zone)
    else:
        start = datetime.combine(today, window.start, tzinfo=zone) - timedelta(
            minutes=5
        )
    if args.profile is not None:
        try:
            base = BaseLoadProfile.from_csv(args.profile, align_to=start)
        except (OSError, ValueError, KeyError) as err:
            print(f"stroomwijs simulate guard: {err}", file=sys.stderr)  # noqa: T201
            return 2
    else:
        base = BaseLoadProfile.constant(1_500)
    house = SimHousehold(start=start, base_load=base)
    clock = house.clock
    ev = house.add(SimEvCharger(clock=clock))
    boiler = house.add(
        SimSwitchLoad("boiler", "Boiler", clock=clock, rated_w=2_000, phases=(1,))
    )
    heat_pump = house.add(SimHeatPump(clock=clock))
    limits = LimitStack([StaticWindowSource([window], time_zone=zone)])
    guard = Guard(
        GuardConfig(grid=grid),
        [
            GuardedDevice(device=ev, priority=CurtailPriority.EV, pause_allowed=True),
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
        ],
        limits=limits,
        rng=random.Random(args.seed),  # noqa: S311 - reproducible stagger
    )
    guard.subscribe(lambda item: print(_line(item, args.json)))  # noqa: T201
    over: list[float] = []

    async def step(reading: GridMeasurement) -> None:
        await guard.async_process(reading)
        dso = limits.effective(reading.timestamp).import_w
        limit = grid.max_power_w if dso is None else min(dso, grid.max_power_w)
        excess = reading.net_power_w - limit
        if excess > 0:
            over.append(excess)

    readings = await house.async_run(args.minutes * 60, step)
    if not args.json:
        peak = max(r.net_power_w for r in readings)
        print(  # noqa: T201
            f"{len(readings)} telegrams, {len(guard.log)} interventions, "
            f"peak import {peak:.0f} W; {len(over)} telegrams over the limit "
            "in force"
        )
    return 0
