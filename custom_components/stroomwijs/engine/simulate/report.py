"""The savings report: figures per strategy as JSON, and PNG plots.

Every strategy is priced the same way, from what its meter measured per
quarter-hour: import times the all-in import price (spot + markup + energy
tax, plus VAT), minus export times the export price of the household's
tariff. The capacity cost is each calendar month's highest quarter-hour
import times the tariff's EUR/kW-month (zero without a capacity tariff; the
peak is reported either way).

matplotlib draws the plots. It is an optional extra (``pip install
stroomwijs[sim]``), never a requirement of the Home Assistant integration,
and is imported only when plots are asked for.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
import json
from pathlib import Path
import statistics
from typing import Any, Final

from .replay import RunResult
from .scenario import Scenario, ScenarioData, export_price, import_price

LIMIT_TOLERANCE_W: Final = 1.0
V2G_EVENING: Final = range(17, 21)
"""The study's discharge hours, 17:00-21:00 local."""
WEAR_EUR_PER_KWH: Final = 0.03
"""The battery wear per discharged kWh the household plans with (not in the
energy cost, which is what the meter bills)."""
NIGHT: Final = (*range(23, 24), *range(7))
"""Night for the charging-hours figure, 23:00-07:00 local."""


class PlotsUnavailableError(RuntimeError):
    """matplotlib is not installed."""


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def summarise(scenario: Scenario, data: ScenarioData, run: RunResult) -> dict[str, Any]:
    """Return the report's figures for one strategy."""
    zone = scenario.zone
    tariff = scenario.household.tariff
    energy_cost = 0.0
    import_kwh = export_kwh = 0.0
    month_peak: dict[str, float] = defaultdict(float)
    over = 0
    peak_kw = 0.0
    peak_at: datetime | None = None
    v2g_hours: dict[int, float] = defaultdict(float)
    charge_hours: dict[int, float] = defaultdict(float)
    for quarter in run.quarters:
        spot = data.spot[data.index(quarter.start)]
        energy_cost += quarter.import_kwh * import_price(scenario, spot)
        energy_cost -= quarter.export_kwh * export_price(scenario, spot)
        import_kwh += quarter.import_kwh
        export_kwh += quarter.export_kwh
        # The quarter-hour's average net import, as the P1 meter measures it.
        avg_kw = max(quarter.import_kwh - quarter.export_kwh, 0.0) * 4.0
        local = quarter.start.astimezone(zone)
        month = f"{local.year:04d}-{local.month:02d}"
        month_peak[month] = max(month_peak[month], avg_kw)
        if avg_kw > peak_kw:
            peak_kw, peak_at = avg_kw, quarter.start
        if (
            quarter.limit_w is not None
            and avg_kw * 1000.0 > quarter.limit_w + LIMIT_TOLERANCE_W
        ):
            over += 1
        if quarter.ev_kwh < 0:
            v2g_hours[local.hour] -= quarter.ev_kwh
        elif quarter.ev_kwh > 0:
            charge_hours[local.hour] += quarter.ev_kwh
    capacity_cost = sum(month_peak.values()) * (tariff.capacity_eur_per_kw_month or 0.0)
    v2g_kwh = sum(v2g_hours.values())
    charged_kwh = sum(charge_hours.values())
    cars = scenario.cars
    capacity = {i: ev.capacity_kwh for i, ev in enumerate(cars)}
    stays = run.departures
    shortfall = sum(d.shortfall_kwh * capacity.get(d.car, 0.0) for d in stays)
    # The car's energy at the end differs between strategies: value the
    # difference at the period's mean all-in import price.
    mean_price = (
        statistics.fmean(
            import_price(scenario, data.spot[data.index(q.start)]) for q in run.quarters
        )
        if run.quarters
        else 0.0
    )
    end_socs = run.end_socs or ([run.end_soc] if run.end_soc is not None else [])
    end_kwh = sum(
        (soc - ev.initial_soc) * ev.capacity_kwh
        for soc, ev in zip(end_socs, cars, strict=False)
    )
    solve = sorted(run.solve_times_s)
    figures: dict[str, Any] = {
        "energy_cost_eur": round(energy_cost, 2),
        "capacity_cost_eur": round(capacity_cost, 2),
        "total_cost_eur": round(energy_cost + capacity_cost, 2),
        "car_energy_change_kwh": round(end_kwh, 2),
        "cost_adjusted_for_car_energy_eur": round(
            energy_cost + capacity_cost - end_kwh * mean_price, 2
        ),
        "import_kwh": round(import_kwh, 1),
        "export_kwh": round(export_kwh, 1),
        "peak_quarter_kw": round(peak_kw, 3),
        "peak_quarter_at": None if peak_at is None else peak_at.isoformat(),
        "month_peaks_kw": {k: round(v, 3) for k, v in sorted(month_peak.items())},
        "quarters_over_limit": over,
        "readings_over_limit": sum(q.readings_over for q in run.quarters),
        **_comfort(scenario, run),
        "ev": {
            "stays": len(stays),
            "stays_meeting_target": sum(
                1
                for d in stays
                if d.shortfall_kwh * capacity.get(d.car, 0.0) < 0.5  # noqa: PLR2004
            ),
            "charged_kwh": round(charged_kwh, 2),
            "delivered_kwh": round(charged_kwh - v2g_kwh, 2),
            "target_kwh": round(
                sum(
                    max(0.0, d.target_soc - d.soc_arrive) * capacity.get(d.car, 0.0)
                    for d in stays
                ),
                2,
            ),
            "cars": len(cars),
            "shortfall_kwh": round(shortfall, 2),
            "night_charging_share": _round(
                sum(charge_hours[h] for h in NIGHT) / charged_kwh
                if charged_kwh
                else None
            ),
        },
        "v2g": {
            "energy_kwh": round(v2g_kwh, 2),
            "battery_wear_eur": round(v2g_kwh * WEAR_EUR_PER_KWH, 2),
            "hours": {str(h): round(v, 2) for h, v in sorted(v2g_hours.items())},
            "share_17_21h": _round(
                sum(v2g_hours[h] for h in V2G_EVENING) / v2g_kwh if v2g_kwh else None
            ),
        },
        "run": {
            "wall_s": round(run.wall_s, 2),
            "steps": run.steps,
            "replans": run.replans,
            "solves": len(solve),
            "solve_median_s": _round(statistics.median(solve), 4) if solve else None,
            "solve_p95_s": _round(solve[int(0.95 * (len(solve) - 1))], 4)
            if solve
            else None,
            "solve_max_s": _round(solve[-1], 4) if solve else None,
            "peak_rss_mb": _round(run.peak_rss_mb, 1),
            "plan_failures": run.plan_failures,
            "guard_interventions": run.interventions,
            "notes": list(run.notes),
        },
    }
    return figures


def _comfort(scenario: Scenario, run: RunResult) -> dict[str, Any]:
    """Return the comfort figures: the violations and what they are made of.

    A violation is a quarter-hour with the room below the comfort band's
    minimum or the tank below its floor (each by more than 0.05 K), a week
    in which the tank never reached its legionella temperature, or a cycle
    finished after its deadline (or not at all by a deadline in the period).
    """
    comfort = run.comfort
    devices = [
        section.device
        for section in (scenario.heat_pump, scenario.boiler, scenario.appliance)
        if section is not None
    ]
    if comfort is None:
        return {"comfort_violations": 0, "comfort_devices": devices}
    end = scenario.end_utc
    quarters = run.quarters
    detail: dict[str, Any] = {}
    if scenario.heat_pump is not None:
        detail[scenario.heat_pump.device] = {
            "energy_kwh": round(sum(q.heat_pump_kwh for q in quarters), 2),
            "quarters_below_band": comfort.room_quarters_below,
            "degree_hours_below_band": round(comfort.room_degree_hours_below, 2),
            "min_room_c": _round(comfort.room_min_c, 2),
        }
    if scenario.boiler is not None:
        detail[scenario.boiler.device] = {
            "energy_kwh": round(sum(q.boiler_kwh for q in quarters), 2),
            "quarters_below_floor": comfort.tank_quarters_below,
            "min_tank_c": _round(comfort.tank_min_c, 2),
            "legionella_weeks": comfort.legionella_weeks,
            "legionella_weeks_missed": comfort.legionella_weeks_missed,
        }
    if scenario.appliance is not None:
        late = [c.late_minutes for c in comfort.cycles if c.late_minutes]
        detail[scenario.appliance.device] = {
            "energy_kwh": round(sum(q.appliance_kwh for q in quarters), 2),
            "cycles": len(comfort.cycles),
            "cycles_done": sum(1 for c in comfort.cycles if c.finished is not None),
            "cycles_late": comfort.late_cycles(end),
            "max_late_min": round(max(late), 1) if late else 0.0,
            "mean_start_delay_min": _round(
                statistics.fmean(
                    (c.started - c.armed).total_seconds() / 60.0
                    for c in comfort.cycles
                    if c.started is not None
                )
                if any(c.started is not None for c in comfort.cycles)
                else None,
                1,
            ),
        }
    return {
        "comfort_violations": comfort.violations(end),
        "comfort_devices": devices,
        "comfort": detail,
    }


def v2g_value(scenario: Scenario, data: ScenarioData) -> dict[str, Any]:
    """Return what V2G is worth at the optimum, with and without the double tax.

    The perfect-foresight optimum is solved with V2G and charge-only; the
    difference of their costs is the most V2G could earn over the period.
    The household always plans with the Dutch double energy tax on
    discharged energy; the same pair without it shows what that tax costs.
    """
    from .foresight import foresight  # noqa: PLC0415 - avoids an import cycle

    out: dict[str, Any] = {}
    for label, double in (("double_energy_tax", True), ("without_double_tax", False)):
        with_v2g = summarise(
            scenario, data, foresight(scenario, data, double_energy_tax=double)
        )
        charge_only = summarise(
            scenario,
            data,
            foresight(scenario, data, double_energy_tax=double, v2g=False),
        )
        out[label] = {
            "cost_v2g_eur": with_v2g["total_cost_eur"],
            "cost_charge_only_eur": charge_only["total_cost_eur"],
            "v2g_saving_eur": round(
                charge_only["total_cost_eur"] - with_v2g["total_cost_eur"], 2
            ),
            "v2g_kwh": with_v2g["v2g"]["energy_kwh"],
            "v2g_share_17_21h": with_v2g["v2g"]["share_17_21h"],
            "v2g_hours": with_v2g["v2g"]["hours"],
        }
    return out


def build_report(
    scenario: Scenario,
    data: ScenarioData,
    runs: Sequence[RunResult],
    *,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the whole report (JSON-ready)."""
    strategies = {run.strategy: summarise(scenario, data, run) for run in runs}
    report: dict[str, Any] = {
        "scenario": scenario.name,
        "period": {
            "start": scenario.start_utc.isoformat(),
            "end": scenario.end_utc.isoformat(),
            "days": scenario.days,
        },
        "step_seconds": scenario.step_s,
        "tariff": scenario.tariff.kind,
        "strategies": strategies,
    }
    base = strategies.get("uncontrolled")
    if base is not None:
        report["saving_vs_uncontrolled_eur"] = {
            name: round(base["total_cost_eur"] - fig["total_cost_eur"], 2)
            for name, fig in strategies.items()
        }
        key = "cost_adjusted_for_car_energy_eur"
        report["saving_vs_uncontrolled_adjusted_eur"] = {
            name: round(base[key] - fig[key], 2) for name, fig in strategies.items()
        }
    if extra:
        report.update(extra)
    return report


def write_report(report: Mapping[str, Any], out: Path) -> Path:
    """Write ``report.json`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.json"
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return path


def _pyplot() -> Any:  # noqa: ANN401 - matplotlib's module
    try:
        import matplotlib as mpl  # noqa: PLC0415 - optional, loaded on demand

        mpl.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError:
        msg = (
            "the report's plots need matplotlib, which the integration does not "
            "install: pip install 'stroomwijs[sim]' (or matplotlib), or run "
            "with --no-plots for the JSON report alone"
        )
        raise PlotsUnavailableError(msg) from None
    return plt


def write_plots(  # noqa: PLR0915 - three figures
    scenario: Scenario, data: ScenarioData, runs: Sequence[RunResult], out: Path
) -> list[Path]:
    """Draw the three PNGs into ``out``; return their paths."""
    plt = _pyplot()
    out.mkdir(parents=True, exist_ok=True)
    by_name = {run.strategy: run for run in runs}
    main = by_name.get("stroomwijs") or runs[0]
    paths: list[Path] = []

    times = [q.start for q in main.quarters]
    # 1. Grid power against the limit.
    fig, ax = plt.subplots(figsize=(14, 4.5))
    for name, style in (("uncontrolled", ":"), ("stroomwijs", "-")):
        run = by_name.get(name)
        if run is None:
            continue
        ax.plot(
            [q.start for q in run.quarters],
            [(q.import_kwh - q.export_kwh) * 4.0 for q in run.quarters],
            style,
            linewidth=0.8,
            label=f"{name}: net import (quarter-hour average)",
        )
    fuse_kw = (
        scenario.household.grid.phases
        * scenario.household.grid.fuse_a
        * (scenario.household.grid.voltage_v / 1000.0)
    )
    ax.plot(
        times,
        [fuse_kw if q.limit_w is None else q.limit_w / 1000.0 for q in main.quarters],
        color="red",
        linewidth=1.0,
        label="import limit in force (DSO window, else the fuse)",
    )
    ax.set_ylabel("kW")
    ax.set_title(f"{scenario.name}: grid power against the limit")
    ax.legend(loc="upper right", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    path = out / "power_vs_limit.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    paths.append(path)

    # 2. Price against the devices' actions.
    fig, ax = plt.subplots(figsize=(14, 4.5))
    prices = [import_price(scenario, data.spot[data.index(t)]) for t in times]
    ax.plot(times, prices, color="black", linewidth=0.8, label="import price (all-in)")
    ax.set_ylabel("EUR/kWh")
    ax2 = ax.twinx()
    ax2.fill_between(
        times,
        [q.ev_kwh * 4.0 for q in main.quarters],
        step="post",
        alpha=0.4,
        color="tab:green",
        label="EV (charge +, V2G -)",
    )
    devices = (
        ("heat_pump_kwh", "heat pump", "tab:red", scenario.heat_pump),
        ("boiler_kwh", "boiler", "tab:orange", scenario.boiler),
        ("appliance_kwh", "appliance", "tab:purple", scenario.appliance),
    )
    for attr, label, color, section in devices:
        if section is None:
            continue
        ax2.plot(
            times,
            [getattr(q, attr) * 4.0 for q in main.quarters],
            drawstyle="steps-post",
            linewidth=0.7,
            color=color,
            label=label,
        )
    ax2.set_ylabel("kW")
    ax2.axhline(0.0, color="grey", linewidth=0.5)
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper right", fontsize=8)
    ax.set_title(f"{scenario.name}: price against Stroomwijs's actions")
    fig.autofmt_xdate()
    fig.tight_layout()
    path = out / "price_vs_actions.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    paths.append(path)

    # 3. Cumulative cost.
    fig, ax = plt.subplots(figsize=(14, 4.5))
    for run in runs:
        total = 0.0
        series = []
        for quarter in run.quarters:
            spot = data.spot[data.index(quarter.start)]
            total += quarter.import_kwh * import_price(scenario, spot)
            total -= quarter.export_kwh * export_price(scenario, spot)
            series.append(total)
        ax.plot([q.start for q in run.quarters], series, label=run.strategy)
    ax.set_ylabel("EUR")
    ax.set_title(f"{scenario.name}: cumulative energy cost")
    ax.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    path = out / "cumulative_cost.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    paths.append(path)
    return paths
