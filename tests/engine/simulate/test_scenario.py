"""Scenario documents: what they hold, and errors that name the bad field."""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, date, datetime, timedelta
import itertools
from pathlib import Path
from typing import Any

import pytest
import yaml

from custom_components.stroomwijs.engine.simulate.runner import chunks
from custom_components.stroomwijs.engine.simulate.scenario import (
    Scenario,
    ScenarioError,
    ev_sessions,
    import_price,
    load_data,
    load_scenario,
    pv_forecast,
    scenario_from_dict,
)
from tests.conftest import REPO_ROOT

SCENARIOS = REPO_ROOT / "examples" / "scenarios"


def _document(name: str = "elaad_dynamic.yaml") -> dict[str, Any]:
    loaded = yaml.safe_load((SCENARIOS / name).read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _error(document: dict[str, Any]) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        scenario_from_dict(document, base=SCENARIOS)
    return caught.value


@pytest.mark.parametrize("name", sorted(p.name for p in SCENARIOS.glob("*.yaml")))
def test_the_shipped_scenarios_load(name: str) -> None:
    """Every example validates, and its data covers the period."""
    scenario = load_scenario(SCENARIOS / name)
    assert scenario.days == 30
    assert scenario.household.name == "ElaadNL reference household"
    assert scenario.ev is not None
    assert scenario.ev.capacity_kwh == 70.0


def test_fixed_tariffs_give_back_their_all_in_price() -> None:
    """0.30 single, 0.32/0.28 day/night: the household's arithmetic returns them."""
    single = load_scenario(SCENARIOS / "elaad_single.yaml")
    data = load_data(single)
    assert {round(import_price(single, p), 6) for p in data.spot} == {0.30}
    day_night = load_scenario(SCENARIOS / "elaad_day_night.yaml")
    data = load_data(day_night)
    prices = {round(import_price(day_night, p), 6) for p in data.spot}
    assert prices == {0.32, 0.28}
    # Wednesday 1 October 2025, 12:00 local is day; 02:00 is night.
    noon = data.index(datetime(2025, 10, 1, 10, tzinfo=UTC))
    night = data.index(datetime(2025, 10, 1, 0, tzinfo=UTC))
    assert round(import_price(day_night, data.spot[noon]), 6) == 0.32
    assert round(import_price(day_night, data.spot[night]), 6) == 0.28


def test_the_load_is_scaled_to_the_reference_household() -> None:
    """30 days of October hold about a twelfth of 3,500 kWh, and PV is real."""
    scenario = load_scenario(SCENARIOS / "elaad_dynamic.yaml")
    data = load_data(scenario)
    days = scenario.days * 96
    load_kwh = sum(data.load_kw[:days]) / 4
    pv_kwh = sum(data.pv_kw[:days]) / 4
    assert 200 < load_kwh < 400
    assert 50 < pv_kwh < 250
    assert max(data.pv_kw[:days]) > 0.5


def test_forecast_errors_are_seeded_and_the_same_for_every_issue() -> None:
    """The same seed gives the same PV forecast and car stays; another does not."""
    scenario = load_scenario(SCENARIOS / "elaad_dynamic.yaml")
    data = load_data(scenario)
    issued = scenario.start_utc
    first = pv_forecast(scenario, data, issued)
    assert first == pv_forecast(scenario, data, issued)
    assert first.values != tuple(data.pv_kw[: len(first.values)])
    later = pv_forecast(scenario, data, issued + timedelta(hours=10))
    offset = 40
    assert later.values[0] == first.values[offset]
    other = copy.deepcopy(_document())
    other["forecast_errors"]["seed"] = 2
    reseeded = scenario_from_dict(other, base=SCENARIOS)
    assert ev_sessions(reseeded) != ev_sessions(scenario)
    assert ev_sessions(scenario) == ev_sessions(
        load_scenario(SCENARIOS / "elaad_dynamic.yaml")
    )


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (
            lambda d: d["household"]["grid"].update(fuse_a=-1),
            "household.grid.fuse_a",
            "",
        ),
        (lambda d: d.update(colour="blue"), "colour", "unknown field"),
        (lambda d: d["series"].pop("load"), "series.load", "is required"),
        (
            lambda d: d["series"]["load"].update(unit="furlongs"),
            "series.load.unit",
            "must be one of",
        ),
        (
            lambda d: d["series"]["pv"].update(column="sunshine"),
            "series.pv.column",
            "no column 'sunshine'",
        ),
        (
            lambda d: d["series"]["prices"].update(file="data/missing.csv"),
            "series.prices.file",
            "no such file",
        ),
        (
            lambda d: d["series"]["load"].update(scale=float("nan")),
            "series.load.scale",
            "",
        ),
        (lambda d: d["period"].update(days=400), "period.days", "within 1..366"),
        (lambda d: d["period"].update(start="2025-13-01"), "period.start", "date"),
        (lambda d: d["period"].update(start="2024-01-01"), "series.load", "covers"),
        (lambda d: d["ev"].update(device="heat_pump"), "ev.device", "ocpp_charger"),
        (lambda d: d["ev"].update(depart="19:00"), "ev.depart", "before arrive"),
        (lambda d: d["ev"].update(arrive="25:00"), "ev.arrive", "HH:MM"),
        (lambda d: d["tariff"].update(kind="free"), "tariff.kind", "must be one of"),
        (
            lambda d: d["forecast_errors"].update(pv_daily_sigma=-0.1),
            "forecast_errors.pv_daily_sigma",
            "",
        ),
        (lambda d: d["series"].pop("prices"), "series.prices", "dynamic tariff"),
    ],
)
def test_a_bad_scenario_names_the_field(change: Any, path: str, message: str) -> None:  # noqa: ANN401
    """Every error says where: the path of the field, then what is wrong."""
    document = _document()
    change(document)
    error = _error(document)
    assert error.path == path, str(error)
    assert message in error.message
    assert str(error).startswith(path)


def test_a_scenario_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    """Garbage, a list, or invalid YAML: a clear error, never a traceback."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="must be a mapping"):
        load_scenario(bad)
    bad.write_text("period: [\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(bad)
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "absent.yaml")


def test_a_year_splits_into_contiguous_months() -> None:
    """Chunks by month (or N days) cover the period once, in order."""
    scenario = load_scenario(SCENARIOS / "elaad_dynamic.yaml")
    year = dataclasses.replace(scenario, start=date(2025, 1, 1), days=365)
    months = chunks(year, None)
    assert len(months) == 12
    assert months[0] == (date(2025, 1, 1), date(2025, 2, 1))
    assert months[-1] == (date(2025, 12, 1), date(2026, 1, 1))
    for (_, end), (start, _) in itertools.pairwise(months):
        assert end == start
    assert chunks(year, 0) == [(date(2025, 1, 1), date(2026, 1, 1))]
    tens = chunks(replace_days(scenario, 25), 10)
    assert [b - a for a, b in tens] == [timedelta(days=10)] * 2 + [timedelta(days=5)]


def replace_days(scenario: Scenario, days: int) -> Scenario:
    """Return the scenario with another number of days."""
    return dataclasses.replace(scenario, days=days)


HEAT_PUMP_SCENARIO = "elaad_heat_pump_january.yaml"


def test_the_heat_pump_scenario_reads_its_devices_and_weather() -> None:
    """Heat pump, boiler and washer sections; the synthetic January curve."""
    scenario = load_scenario(SCENARIOS / HEAT_PUMP_SCENARIO)
    assert scenario.heat_pump is not None
    assert scenario.heat_pump.device == "heat_pump"
    assert scenario.heat_pump.outdoor is None  # the synthetic curve
    assert scenario.boiler is not None
    assert scenario.boiler.device == "boiler"
    assert scenario.appliance is not None
    assert scenario.appliance.within_h == 8.0
    data = load_data(scenario)
    assert len(data.outdoor_c) == len(data.load_kw)
    # January: 3.5 degC +- 3 K, coldest at 03:00 local (02:00 UTC).
    day = data.outdoor_c[:96]
    assert min(day) == pytest.approx(0.5, abs=0.01)
    assert max(day) == pytest.approx(6.5, abs=0.01)
    assert day.index(min(day)) == 12  # 03:00 local, 3 h after midnight


def test_a_measured_outdoor_series_is_read_in_degrees(tmp_path: Path) -> None:
    """An outdoor CSV (KNMI-style 0.1 degC) in the shared CSV format."""
    csv_file = tmp_path / "outdoor.csv"
    start = datetime(2024, 12, 31, 0, tzinfo=UTC)
    rows = ["start_utc,t_01c"]
    rows += [
        f"{(start + timedelta(hours=h)).isoformat()},{-20 - h % 24}"
        for h in range(24 * 40)
    ]
    csv_file.write_text("\n".join(rows) + "\n", encoding="utf-8")
    document = _document(HEAT_PUMP_SCENARIO)
    document["heat_pump"]["outdoor"] = {
        "file": str(csv_file),
        "column": "t_01c",
        "unit": "0.1degC",
    }
    scenario = scenario_from_dict(document, base=SCENARIOS)
    data = load_data(scenario)
    first = data.index(datetime(2025, 1, 1, 5, tzinfo=UTC))
    assert data.outdoor_c[first] == pytest.approx(-2.5)
    assert data.outdoor_c[first + 3] == pytest.approx(-2.5)  # the hour holds


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (
            lambda d: d["heat_pump"].update(device="car"),
            "heat_pump.device",
            "driver device",
        ),
        (
            lambda d: d["heat_pump"].update(device="boiler"),
            "heat_pump.device",
            "driver sg_ready",
        ),
        (
            lambda d: d["boiler"].update(device="washer"),
            "boiler.device",
            "boiler driver",
        ),
        (
            lambda d: d["appliance"].update(device="nothing"),
            "appliance.device",
            "driver device",
        ),
        (
            lambda d: d["heat_pump"].update(indoor_c=45),
            "heat_pump.indoor_c",
            "5..30",
        ),
        (
            lambda d: d["heat_pump"].update(outdoor={"model": "rainy"}),
            "heat_pump.outdoor.model",
            "synthetic",
        ),
        (
            lambda d: d["heat_pump"].update(
                outdoor={"file": "data/missing.csv", "column": "t"}
            ),
            "heat_pump.outdoor.file",
            "no such file",
        ),
        (
            lambda d: d["heat_pump"]["outdoor"].update(colour="blue"),
            "heat_pump.outdoor.colour",
            "unknown field",
        ),
        (
            lambda d: d["boiler"].update(draw_scale=-1),
            "boiler.draw_scale",
            "",
        ),
        (
            lambda d: d["appliance"].update(within_hours=30),
            "appliance.within_hours",
            "2..23",
        ),
        (
            lambda d: d["appliance"].update(days=["someday"]),
            "appliance.days",
            "must be a list",
        ),
        (lambda d: d["appliance"].update(arm="25:00"), "appliance.arm", "HH:MM"),
        (lambda d: d["boiler"].update(colour="blue"), "boiler.colour", "unknown"),
    ],
)
def test_a_bad_device_section_names_the_field(
    change: Any,  # noqa: ANN401
    path: str,
    message: str,
) -> None:
    """The heat pump's, boiler's and appliance's errors name their field."""
    document = _document(HEAT_PUMP_SCENARIO)
    change(document)
    error = _error(document)
    assert error.path == path, str(error)
    assert message in error.message, str(error)


def _two_car_document() -> dict[str, Any]:
    document = _document()
    car = dict(document["household"]["devices"][0])
    document["household"]["devices"].append(
        {**car, "id": "car2", "name": "Second car", "charger_id": "ev2"}
    )
    first = dict(document["ev"])
    document["ev"] = [first, {**first, "device": "car2", "capacity_kwh": 40}]
    return document


def test_two_cars_each_on_its_charger() -> None:
    """``ev`` as a list: one car per charger, each with its own stays."""
    scenario = scenario_from_dict(_two_car_document(), base=SCENARIOS)
    assert [car.device for car in scenario.cars] == ["car", "car2"]
    assert scenario.cars[1].capacity_kwh == 40.0
    # The first car's stays are those of a one-car scenario; the second's
    # are drawn on their own.
    one = load_scenario(SCENARIOS / "elaad_dynamic.yaml")
    assert ev_sessions(scenario, 0) == ev_sessions(one)
    assert ev_sessions(scenario, 1) != ev_sessions(scenario, 0)
    assert len(ev_sessions(scenario, 1)) == 30


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (lambda d: d["ev"][1].update(device="car"), "ev[1].device", "already"),
        (lambda d: d["ev"][1].update(capacity_kwh=0), "ev[1].capacity_kwh", ""),
        (lambda d: d.update(ev=[]), "ev", "at least one car"),
        (lambda d: d["ev"].append("car3"), "ev[2]", "mapping"),
    ],
)
def test_a_bad_second_car_names_its_place(change: Any, path: str, message: str) -> None:  # noqa: ANN401
    """A list's errors say which car."""
    document = _two_car_document()
    change(document)
    error = _error(document)
    assert error.path == path, str(error)
    assert message in error.message, str(error)
