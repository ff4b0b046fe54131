"""Replays of the real Household under a simulated clock, and their report.

The car is a real OCPP 2.1 charge point on loopback, driven by the
household's own OCPP central system, guard and planner.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
import json
import logging
from pathlib import Path
import sys
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from custom_components.stroomwijs.engine.cli import main
from custom_components.stroomwijs.engine.simulate.foresight import foresight
from custom_components.stroomwijs.engine.simulate.replay import Replay, RunResult
from custom_components.stroomwijs.engine.simulate.report import (
    PlotsUnavailableError,
    build_report,
    summarise,
    write_plots,
    write_report,
)
from custom_components.stroomwijs.engine.simulate.runner import (
    _run_chunk,
    chunks,
    merge,
    run_scenario,
)
from custom_components.stroomwijs.engine.simulate.scenario import (
    SLOT,
    Scenario,
    SeriesSpec,
    load_data,
    load_scenario,
)
from tests.conftest import REPO_ROOT

SCENARIOS = REPO_ROOT / "examples" / "scenarios"
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets; pytest-socket still limits connections to 127.0.0.1."""


def _local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 10, day, hour, minute, tzinfo=AMSTERDAM).astimezone(UTC)


def _scenario(days: int = 1) -> Scenario:
    return replace(load_scenario(SCENARIOS / "elaad_dynamic.yaml"), days=days)


@pytest.fixture(autouse=True)
def quiet_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Keep a day's OCPP traffic out of the captured log (it costs seconds)."""
    caplog.set_level(logging.WARNING)


async def test_a_dynamic_day_holds_the_limit_and_beats_the_uncontrolled_baseline(
    tmp_path: Path,
) -> None:
    """16:00 to 08:00, a car stays overnight: every strategy holds the 4 kW window.

    Stroomwijs charges the car to its target for less than the uncontrolled
    baseline (full power from arrival), and the report holds every figure.
    """
    scenario = _scenario(days=2)
    data = load_data(scenario)
    runs: dict[str, RunResult] = {}
    for strategy in ("stroomwijs", "uncontrolled", "rules"):
        replay = Replay(
            scenario,
            data,
            strategy,
            start=_local(1, 16),
            end=_local(2, 8),
            meter_values_s=300,
        )
        runs[strategy] = await replay.async_run()
    figures = {name: summarise(scenario, data, run) for name, run in runs.items()}
    for name, fig in figures.items():
        assert fig["quarters_over_limit"] == 0, name
        assert fig["ev"]["stays"] == 1, name
        assert fig["ev"]["shortfall_kwh"] < 0.5, name
        assert fig["run"]["plan_failures"] == 0, name
    stroomwijs, uncontrolled = figures["stroomwijs"], figures["uncontrolled"]
    assert stroomwijs["energy_cost_eur"] < uncontrolled["energy_cost_eur"]
    assert stroomwijs["ev"]["night_charging_share"] > 0.9
    assert stroomwijs["run"]["replans"] >= 16 * 4  # every quarter-hour, and events
    # The uncontrolled car starts at arrival and is held by the window.
    assert uncontrolled["ev"]["night_charging_share"] < 0.9

    optimum = foresight(scenario, data)
    report = build_report(scenario, data, [*runs.values(), optimum])
    path = write_report(report, tmp_path)
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    assert set(loaded["strategies"]) == {
        "stroomwijs",
        "uncontrolled",
        "rules",
        "optimum",
    }
    for fig in loaded["strategies"].values():
        for key in (
            "energy_cost_eur",
            "capacity_cost_eur",
            "peak_quarter_kw",
            "quarters_over_limit",
            "comfort_violations",
        ):
            assert key in fig
        assert {"delivered_kwh", "target_kwh", "shortfall_kwh"} <= set(fig["ev"])
        assert {"energy_kwh", "hours", "share_17_21h"} <= set(fig["v2g"])
    assert "saving_vs_uncontrolled_eur" in loaded
    pngs = write_plots(scenario, data, [*runs.values(), optimum], tmp_path)
    assert {p.name for p in pngs} == {
        "power_vs_limit.png",
        "price_vs_actions.png",
        "cumulative_cost.png",
    }
    for png in pngs:
        assert png.read_bytes()[:8] == PNG_MAGIC


async def test_a_one_minute_step_gives_the_limit_results_of_telegram_rate() -> None:
    """The car arrives at 15:40 and charges at full power into the 16:00 window.

    Fed every second (the P1 telegram rate) and every minute (the replay's
    step), the household holds the 4 kW window in every quarter-hour, and the
    quarter-hour averages agree within 0.3 kW.
    """
    scenario = _scenario(days=1)
    assert scenario.ev is not None
    scenario = replace(
        scenario,
        ev=replace(scenario.ev, arrive=time(15, 40), trip_kwh=20.0, trip_sigma_kwh=0),
        errors=replace(scenario.errors, ev_arrival_sigma_min=0.0),
    )
    data = load_data(scenario)
    results = {}
    for step in (1, 60):
        replay = Replay(
            scenario,
            data,
            "uncontrolled",
            start=_local(1, 15, 30),
            end=_local(1, 16, 30),
            step_s=step,
            meter_values_s=60,
        )
        results[step] = await replay.async_run()
    fine, coarse = results[1], results[60]
    assert [q.start for q in fine.quarters] == [q.start for q in coarse.quarters]
    for run in (fine, coarse):
        fig = summarise(scenario, data, run)
        assert fig["quarters_over_limit"] == 0
    window = [i for i, q in enumerate(fine.quarters) if q.limit_w is not None]
    assert len(window) == 2
    for a, b in zip(fine.quarters, coarse.quarters, strict=True):
        assert a.limit_w == b.limit_w
    # The car charged at full power before the window (a step's latency at
    # the plug-in apart), and was held in it: the same quarter-hour averages.
    assert fine.quarters[1].ev_kwh * 4 > 10.0
    assert coarse.quarters[1].ev_kwh * 4 > 10.0
    for i in window:
        a, b = fine.quarters[i], coarse.quarters[i]
        assert a.import_kwh * 4 <= 4.0
        assert b.import_kwh * 4 <= 4.0
        assert abs(a.import_kwh - b.import_kwh) * 4 < 0.3, (i, a, b)


def test_the_command_line_writes_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``stroomwijs simulate SCENARIO.yaml`` runs and writes JSON and PNGs."""
    out = tmp_path / "report"
    code = main(
        [
            "simulate",
            str(SCENARIOS / "elaad_single.yaml"),
            "--days",
            "2",
            "--strategies",
            "optimum",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["tariff"] == "single"
    assert report["strategies"]["optimum"]["v2g"]["energy_kwh"] == 0.0
    assert (out / "cumulative_cost.png").read_bytes()[:8] == PNG_MAGIC
    assert "optimum" in capsys.readouterr().out


def test_the_command_line_names_a_bad_scenario_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad scenario is exit code 2 and a message with the field's path."""
    bad = tmp_path / "bad.yaml"
    text = (SCENARIOS / "elaad_single.yaml").read_text(encoding="utf-8")
    bad.write_text(text.replace("days: 30", "days: 0"), encoding="utf-8")
    assert main(["simulate", str(bad)]) == 2
    assert "period.days: must be within 1..366" in capsys.readouterr().err


def test_plots_without_matplotlib_say_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Matplotlib is an optional extra: a clear error, and never in the manifest."""
    manifest = json.loads(
        (REPO_ROOT / "custom_components" / "stroomwijs" / "manifest.json").read_text(
            encoding="utf-8"
        )
    )
    assert not any("matplotlib" in r for r in manifest["requirements"])
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    scenario = _scenario()
    with pytest.raises(PlotsUnavailableError, match=r"stroomwijs\[sim\]"):
        write_plots(scenario, load_data(scenario), [RunResult("optimum")], Path())


class _RecordingReplay(Replay):
    """A replay that keeps the month peak every re-plan was given."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401
        super().__init__(*args, **kwargs)
        self.peaks: list[tuple[datetime, float]] = []

    def _solver(self, problem: Any, now: datetime, previous: Any) -> Any:  # noqa: ANN401
        if problem.capacity is not None:
            self.peaks.append((now, problem.capacity.month_peak_so_far_kw))
        return super()._solver(problem, now, previous)


async def test_a_peak_early_in_the_month_is_carried_into_every_replan(
    tmp_path: Path,
) -> None:
    """A capacity tariff: an 8 kW quarter-hour at 03:00 on the 1st sets the month.

    The simulated meter keeps the month's peak as a Belgian meter does and
    the household plans from it: every re-plan after the peak starts from
    it, so the car's night charging does not pay to stay below a peak that
    is already billed (charged in the cheapest quarter-hours up to it,
    instead of spread thin all night to keep the month's peak low).
    """
    source = (
        SCENARIOS / "data" / "household_pv_enphase_2023-08-31_2023-11-06_hourly.csv"
    )
    lines = source.read_text(encoding="utf-8").splitlines()
    # 2023-10-04T01:00Z: 03:00 local on the 1st of October 2025 after the
    # 728-day shift; 12.29 kWh in the hour x 0.65087 = 8 kW.
    column = lines[0].split(",").index("consumption_kwh")
    spiked = []
    for line in lines:
        cells = line.split(",")
        if cells[0] == "2023-10-04T01:00:00Z":
            cells[column] = "12.29"
        spiked.append(",".join(cells))
    csv_file = tmp_path / "load.csv"
    csv_file.write_text("\n".join(spiked) + "\n", encoding="utf-8")
    scenario = _scenario(days=2)
    assert scenario.ev is not None
    scenario = replace(
        scenario,
        household=replace(
            scenario.household,
            tariff=replace(scenario.household.tariff, capacity_eur_per_kw_month=4.0),
        ),
        load=replace(scenario.load, file=csv_file),
        ev=replace(scenario.ev, max_discharge_w=0.0, trip_kwh=20.0, trip_sigma_kwh=0),
    )
    data = load_data(scenario)
    replay = _RecordingReplay(
        scenario,
        data,
        "stroomwijs",
        start=_local(1, 0),
        end=_local(2, 7, 30),
        meter_values_s=300,
    )
    run = await replay.async_run()
    fig = summarise(scenario, data, run)
    assert fig["quarters_over_limit"] == 0
    assert fig["ev"]["stays"] == 1
    assert fig["ev"]["shortfall_kwh"] < 0.5
    early = [q for q in run.quarters if q.start < _local(1, 4)]
    peak_kw = max(q.import_kwh * 4 for q in early)
    assert peak_kw > 7.5
    after = [kw for now, kw in replay.peaks if now >= _local(1, 4, 1)]
    assert after
    assert all(abs(kw - peak_kw) < 0.05 for kw in after), (peak_kw, after[:5])
    # The car's night: charged in the cheapest quarter-hours at up to the
    # month's peak (the peak is not raised), not spread thin all night.
    night = [q for q in run.quarters if q.start >= _local(1, 21)]
    ev_kw = max(q.ev_kwh * 4 for q in night)
    assert ev_kw > 5.0, ev_kw
    # Within what the load forecast misses (the plan aims at the peak).
    assert max(q.import_kwh * 4 for q in night) <= peak_kw + 0.5


def _heat_pump_scenario(days: int = 1) -> Scenario:
    return replace(load_scenario(SCENARIOS / "elaad_heat_pump_january.yaml"), days=days)


def _jan(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 1, day, hour, minute, tzinfo=AMSTERDAM).astimezone(UTC)


async def test_heat_pump_boiler_and_washer_under_every_strategy() -> None:
    """06:00-20:00 of a January day: the devices behind the household's drivers.

    The house feels the outdoor curve, the washer is loaded at 09:30 and due
    by 17:30, the 16:00-21:00 window holds 4 kW. Every strategy keeps the
    room in its band, the tank above 40 degC and the washer on time, and
    holds the window; Stroomwijs plans all three, the rules follow the
    cheapest hours, and the optimum plans them with the true data.
    """
    scenario = _heat_pump_scenario()
    data = load_data(scenario)
    runs: dict[str, RunResult] = {}
    for strategy in ("stroomwijs", "uncontrolled", "rules"):
        replay = Replay(scenario, data, strategy, start=_jan(1, 6), end=_jan(1, 20))
        runs[strategy] = await replay.async_run()
    for name, run in runs.items():
        fig = summarise(scenario, data, run)
        assert fig["comfort_devices"] == ["heat_pump", "boiler", "washer"], name
        assert fig["quarters_over_limit"] == 0, name
        assert fig["run"]["plan_failures"] == 0, name
        comfort = fig["comfort"]
        assert comfort["heat_pump"]["energy_kwh"] > 5.0, name
        assert comfort["heat_pump"]["quarters_below_band"] == 0, name
        assert comfort["heat_pump"]["min_room_c"] >= 19.5, name
        assert comfort["boiler"]["energy_kwh"] > 0.5, name
        assert comfort["washer"]["cycles"] == 1, name
        assert comfort["washer"]["cycles_done"] == 1, name
        assert comfort["washer"]["cycles_late"] == 0, name
        # The washer's run is in the measured quarter-hours: about 0.8 kWh.
        assert 0.6 < comfort["washer"]["energy_kwh"] < 1.0, name
        assert fig["comfort_violations"] == comfort["boiler"]["quarters_below_floor"]
    for name in ("stroomwijs", "uncontrolled"):
        fig = summarise(scenario, data, runs[name])
        assert fig["comfort_violations"] == 0, name
        assert fig["comfort"]["boiler"]["min_tank_c"] >= 40.0, name
    # The uncontrolled washer starts when it is loaded; the rules' plug timer
    # at the start of the cheapest run of quarter-hours before 17:30.
    uncontrolled = runs["uncontrolled"].comfort
    assert uncontrolled is not None
    assert uncontrolled.cycles[0].started == _jan(1, 9, 30)
    stroomwijs = runs["stroomwijs"].comfort
    assert stroomwijs is not None
    assert stroomwijs.cycles[0].started is not None
    assert stroomwijs.cycles[0].finished is not None
    assert stroomwijs.cycles[0].finished <= _jan(1, 17, 30)
    # The rules heat the boiler in the day's cheapest quarter-hours (and
    # when the driver's 40 degC floor says so).
    day = sorted(
        range(data.index(_jan(1, 0)), data.index(_jan(2, 0))),
        key=lambda i: (data.spot[i], i),
    )
    cheap = {data.start + SLOT * i for i in day[:12]}
    rules = runs["rules"]
    outside = sum(q.boiler_kwh for q in rules.quarters if q.start not in cheap)
    inside = sum(q.boiler_kwh for q in rules.quarters if q.start in cheap)
    assert inside > outside, (inside, outside)

    optimum = foresight(scenario, data)
    fig = summarise(scenario, data, optimum)
    assert fig["comfort_violations"] == 0
    assert fig["comfort"]["washer"]["cycles_done"] == 1
    assert fig["comfort"]["heat_pump"]["min_room_c"] >= 19.5 - 0.05


async def test_comfort_violations_are_counted_from_the_simulated_room(
    tmp_path: Path,
) -> None:
    """An 800 W heat pump at -10 degC cannot hold the room: counted, not zero."""
    csv_file = tmp_path / "cold.csv"
    start = datetime(2024, 12, 25, tzinfo=UTC)
    rows = ["start_utc,t"] + [
        f"{(start + timedelta(hours=h)).isoformat()},-10" for h in range(24 * 45)
    ]
    csv_file.write_text("\n".join(rows) + "\n", encoding="utf-8")
    scenario = _heat_pump_scenario()
    assert scenario.heat_pump is not None
    devices = tuple(
        replace(d, driver={**d.driver, "spec": {"rated_power_w": 800}})
        if d.id == "heat_pump"
        else d
        for d in scenario.household.devices
    )
    scenario = replace(
        scenario,
        household=replace(scenario.household, devices=devices),
        heat_pump=replace(
            scenario.heat_pump,
            outdoor=SeriesSpec(file=csv_file, column="t", unit="degC"),
        ),
    )
    data = load_data(scenario)
    assert set(data.outdoor_c) == {-10.0}
    replay = Replay(scenario, data, "uncontrolled", start=_jan(1, 6), end=_jan(1, 12))
    run = await replay.async_run()
    fig = summarise(scenario, data, run)
    below = fig["comfort"]["heat_pump"]["quarters_below_band"]
    assert below > 0
    assert fig["comfort"]["heat_pump"]["min_room_c"] < 19.5
    assert fig["comfort_violations"] >= below
    # The pump ran flat out the whole time it was allowed to.
    assert fig["comfort"]["heat_pump"]["energy_kwh"] > 0.8 * 6 * 0.8


def test_chunks_count_comfort_once() -> None:
    """Two 1-day chunks: the second's warm-up day is replayed, not counted."""
    scenario = _heat_pump_scenario(days=2)
    _data, (whole,) = run_scenario(scenario, ("uncontrolled",))
    # The chunks a parallel run hands its processes, here one after another.
    parts = [
        _run_chunk(scenario, "uncontrolled", first, end)
        for first, end in chunks(scenario, 1)
    ]
    split = merge("uncontrolled", parts)
    assert whole.comfort is not None
    assert split.comfort is not None
    assert len(whole.comfort.cycles) == len(split.comfort.cycles) == 2
    assert [c.armed for c in split.comfort.cycles] == [
        c.armed for c in whole.comfort.cycles
    ]
    assert len(split.quarters) == len(whole.quarters) == 2 * 96
    whole_kwh = sum(q.heat_pump_kwh for q in whole.quarters)
    split_kwh = sum(q.heat_pump_kwh for q in split.quarters)
    assert abs(whole_kwh - split_kwh) < 0.1 * whole_kwh


def _two_cars() -> Scenario:
    """Return the dynamic October household with a second car on its charger."""
    scenario = _scenario(days=1)
    assert scenario.ev is not None
    first = scenario.household.devices[0]
    second_device = replace(first, id="car2", name="Second car", charger_id="ev2")
    second = replace(
        scenario.ev,
        device="car2",
        capacity_kwh=40.0,
        max_charge_w=7_400.0,
        max_discharge_w=0.0,
        initial_soc=0.5,
        target_soc=0.8,
        arrive=time(17, 0),
        depart=time(8, 0),
        trip_kwh=12.0,
    )
    return replace(
        scenario,
        household=replace(
            scenario.household, devices=(*scenario.household.devices, second_device)
        ),
        more_evs=(second,),
    )


async def test_two_cars_share_the_window() -> None:
    """Two cars home overnight, each on its own OCPP 2.1 charge point.

    Both reach their targets under every strategy, the 4 kW window holds,
    and the optimum plans both (its segments cut at either car's departure).
    """
    scenario = _two_cars()
    data = load_data(scenario)
    for strategy in ("stroomwijs", "uncontrolled", "rules"):
        replay = Replay(
            scenario,
            data,
            strategy,
            start=_local(1, 16),
            end=_local(2, 9),
            meter_values_s=300,
        )
        run = await replay.async_run()
        fig = summarise(scenario, data, run)
        assert fig["quarters_over_limit"] == 0, strategy
        assert fig["ev"]["cars"] == 2
        assert sorted(d.car for d in run.departures) == [0, 1], strategy
        assert fig["ev"]["stays_meeting_target"] == 2, (strategy, run.departures)
        assert len(run.end_socs) == 2
        second = next(d for d in run.departures if d.car == 1)
        assert second.soc_depart >= 0.8 - 0.01, strategy
        assert second.discharged_kwh == 0.0
    optimum = foresight(replace(scenario, days=2), load_data(replace(scenario, days=2)))
    assert {d.car for d in optimum.departures} == {0, 1}
    assert all(d.shortfall_kwh < 0.01 for d in optimum.departures)
