"""``stroomwijs simulate``: run simulated households (tools for engineers).

* ``stroomwijs simulate guard --window 16:00-21:00 --limit 4000`` runs the
  simulated household (EV, boiler, heat pump) under the guard in simulated
  time and prints every intervention, then a summary.
* ``stroomwijs simulate SCENARIO.yaml`` (also ``simulate run SCENARIO``)
  replays a scenario with the real ``Household`` under a simulated clock
  for Stroomwijs and the baselines, and writes the savings report (JSON and
  PNG plots; docs/scenarios.md).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from datetime import datetime, timedelta
import json
from pathlib import Path
import random
import sys
from typing import Any
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

ALL_STRATEGIES = ("stroomwijs", "uncontrolled", "rules", "optimum")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``stroomwijs simulate`` and its sub-commands."""
    parser = subparsers.add_parser(
        "simulate",
        help="run simulated households",
        description="stroomwijs simulate SCENARIO.yaml [options], or a COMMAND",
    )
    commands = parser.add_subparsers(
        dest="simulate_command",
        metavar="COMMAND",
        action=_ScenarioOrCommand,
    )
    run = commands.add_parser(
        "run",
        help="replay a scenario (also: stroomwijs simulate SCENARIO.yaml)",
    )
    run.add_argument("scenario", type=Path, help="the scenario (YAML or JSON)")
    run.add_argument(
        "--out", type=Path, help="report folder (default: report-<scenario name>)"
    )
    run.add_argument(
        "--strategies",
        default=",".join(ALL_STRATEGIES),
        help="comma-separated, of: " + ", ".join(ALL_STRATEGIES),
    )
    run.add_argument("--days", type=int, help="replay only the first N days")
    run.add_argument(
        "--jobs", type=int, default=1, help="processes (chunks run in parallel)"
    )
    run.add_argument(
        "--chunk",
        default="none",
        help="split the period: none, month, or a number of days (with --jobs)",
    )
    run.add_argument("--no-plots", action="store_true", help="JSON report only")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(handler=_cmd_run)
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


class _Choices(dict[str, argparse.ArgumentParser]):
    """Sub-command names, plus anything that looks like a scenario file."""

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key) or _is_scenario(key)


def _is_scenario(value: object) -> bool:
    return isinstance(value, str) and value.lower().endswith((".yaml", ".yml", ".json"))


class _ScenarioOrCommand(argparse._SubParsersAction):  # type: ignore[type-arg]  # noqa: SLF001
    """``simulate SCENARIO.yaml`` means ``simulate run SCENARIO.yaml``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401
        super().__init__(*args, **kwargs)
        self._name_parser_map = _Choices()
        self.choices = self._name_parser_map

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,  # noqa: ANN401
        option_string: str | None = None,
    ) -> None:
        if values and values[0] not in dict(self._name_parser_map):
            values = ["run", *values]
        super().__call__(parser, namespace, values, option_string)


def _cmd_run(args: argparse.Namespace) -> int:  # noqa: C901, PLR0912 - options, one by one
    from .report import (  # noqa: PLC0415 - loaded for this command only
        PlotsUnavailableError,
        build_report,
        v2g_value,
        write_plots,
        write_report,
    )
    from .runner import ProgressBar, run_scenario  # noqa: PLC0415
    from .scenario import ScenarioError, load_scenario  # noqa: PLC0415

    name = "stroomwijs simulate"
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as err:
        print(f"{name}: {args.scenario}: {err}", file=sys.stderr)  # noqa: T201
        return 2
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    unknown = [s for s in strategies if s not in ALL_STRATEGIES]
    if unknown or not strategies:
        print(f"{name}: unknown strategy {unknown}", file=sys.stderr)  # noqa: T201
        return 2
    if args.days is not None:
        if not 1 <= args.days <= scenario.days:
            print(f"{name}: --days must be 1..{scenario.days}", file=sys.stderr)  # noqa: T201
            return 2
        scenario = replace(scenario, days=args.days)
    chunk: int | None
    if args.chunk == "none":
        chunk = 0
    elif args.chunk == "month":
        chunk = None
    elif args.chunk.isdigit() and int(args.chunk) > 0:
        chunk = int(args.chunk)
    else:
        print(f"{name}: --chunk must be none, month or days", file=sys.stderr)  # noqa: T201
        return 2
    if not args.no_plots:
        try:
            from .report import _pyplot  # noqa: PLC0415

            _pyplot()
        except PlotsUnavailableError as err:
            print(f"{name}: {err}", file=sys.stderr)  # noqa: T201
            return 2
    out = args.out or Path(f"report-{args.scenario.stem}")
    progress = None if args.quiet else ProgressBar
    data, runs = run_scenario(
        scenario, strategies, jobs=args.jobs, chunk_days=chunk, progress=progress
    )
    devices = (scenario.heat_pump, scenario.boiler, scenario.appliance)
    extra: dict[str, object] | None = None
    if "optimum" in strategies and scenario.ev is not None:
        # Four more optima (V2G or not, double tax or not): seconds for the
        # car alone, most of an hour with a heat pump's and a boiler's
        # binaries, so those scenarios leave it out.
        extra = (
            {"v2g_value_at_optimum": v2g_value(scenario, data)}
            if all(device is None for device in devices)
            else {
                "v2g_value_at_optimum": "not computed: the scenario has a heat "
                "pump, boiler or appliance (see docs/scenarios.md)"
            }
        )
    report = build_report(scenario, data, runs, extra=extra)
    path = write_report(report, out)
    written = [path]
    if not args.no_plots:
        written.extend(write_plots(scenario, data, runs, out))
    for strategy, fig in report["strategies"].items():
        print(  # noqa: T201
            f"{strategy:<13} cost {fig['total_cost_eur']:9.2f} EUR  peak "
            f"{fig['peak_quarter_kw']:5.2f} kW  over limit "
            f"{fig['quarters_over_limit']:3d} qh  EV {fig['ev']['delivered_kwh']:7.1f}"
            f" kWh (short {fig['ev']['shortfall_kwh']:.1f})  V2G "
            f"{fig['v2g']['energy_kwh']:6.1f} kWh"
            + (
                f"  comfort violations {fig['comfort_violations']}"
                if fig["comfort_devices"]
                else ""
            )
        )
    for item in written:
        print(f"wrote {item}")  # noqa: T201
    return 0


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
