"""Scenario documents and their CSV series, given bad input.

Every malformed field is a ScenarioError naming its path, never a traceback:
numbers beyond a float, text where a number belongs, fractional counts,
times that are not times, unreadable files and series without two values.
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, time, timedelta
import json
from pathlib import Path
from typing import Any

import pytest

from custom_components.stroomwijs.engine.simulate.scenario import (
    ScenarioError,
    load_data,
    load_scenario,
    scenario_from_dict,
)

from .test_scenario import SCENARIOS, _document, _error


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        # An integer beyond a float (YAML and JSON read it exactly) raised
        # OverflowError out of the loader instead of naming the field.
        (
            lambda d: d["series"]["load"].update(scale=10**400),
            "series.load.scale",
            "finite number",
        ),
        (
            lambda d: d["forecast_errors"].update(pv_daily_sigma="high"),
            "forecast_errors.pv_daily_sigma",
            "must be a number",
        ),
        (
            lambda d: d["forecast_errors"].update(seed=1.5),
            "forecast_errors.seed",
            "whole number",
        ),
        (
            lambda d: d["forecast_errors"].update(load_warmup_days=-1),
            "forecast_errors.load_warmup_days",
            "within 0..60",
        ),
        (lambda d: d["ev"].update(device=5), "ev.device", "non-empty text"),
        (lambda d: d["ev"].update(device="  "), "ev.device", "non-empty text"),
        (lambda d: d["ev"].update(arrive=True), "ev.arrive", "HH:MM"),
        (lambda d: d["ev"].update(arrive=24 * 60), "ev.arrive", "HH:MM"),
        (lambda d: d["ev"].update(days=["Funday"]), "ev.days", "list of"),
        (lambda d: d["ev"].update(days="mon"), "ev.days", "list of"),
        (lambda d: d["period"].update(start=20251001), "period.start", "YYYY-MM-DD"),
        (
            lambda d: d.update(tariff={"kind": "single"}),
            "tariff.eur_per_kwh",
            "is required",
        ),
        (
            lambda d: d.update(tariff={"kind": "single", "eur_per_kwh": 11}),
            "tariff.eur_per_kwh",
            "0..10",
        ),
        (
            lambda d: d.update(
                tariff={"kind": "day_night", "day_eur_per_kwh": 0.3, "colour": 1}
            ),
            "tariff.night_eur_per_kwh",
            "is required",
        ),
    ],
)
def test_a_bad_field_is_named_never_a_traceback(
    change: Any,  # noqa: ANN401
    path: str,
    message: str,
) -> None:
    """Each wrong value is a ScenarioError at its path."""
    document = _document()
    change(document)
    error = _error(document)
    assert error.path == path, str(error)
    assert message in error.message, str(error)


def test_yaml_times_and_dates_in_their_native_forms_are_taken() -> None:
    """YAML's 18:00 (read as 1080 minutes) and an unquoted date are understood."""
    document = _document()
    document["ev"]["arrive"] = 18 * 60
    document["period"]["start"] = date(2025, 10, 1)
    document["tariff"] = {
        "kind": "day_night",
        "day_eur_per_kwh": 0.32,
        "night_eur_per_kwh": 0.28,
        "night_start": "22:00",
        "night_end": 6 * 60,
        "weekend_night": False,
    }
    scenario = scenario_from_dict(document, base=SCENARIOS)
    assert scenario.ev is not None
    assert scenario.ev.arrive == time(18)
    assert scenario.start == date(2025, 10, 1)
    assert scenario.tariff.night_start == time(22)
    assert scenario.tariff.night_end == time(6)
    assert not scenario.tariff.weekend_night


def test_unreadable_documents_are_refused(tmp_path: Path) -> None:
    """Broken JSON, an over-long document or a folder: a clear ScenarioError."""
    broken = tmp_path / "broken.json"
    broken.write_text('{"version": 1,', encoding="utf-8")
    with pytest.raises(ScenarioError, match="not valid JSON"):
        load_scenario(broken)
    huge = tmp_path / "huge.yaml"
    huge.write_text("#" * (2 * 1024 * 1024 + 10), encoding="utf-8")
    with pytest.raises(ScenarioError, match="over 2 MB"):
        load_scenario(huge)
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path)


def test_a_json_scenario_loads_like_its_yaml(tmp_path: Path) -> None:
    """The same document as JSON (data files by absolute path) loads the same."""
    document = _document()
    for series in document["series"].values():
        series["file"] = str(SCENARIOS / series["file"])
    as_json = tmp_path / "dynamic.json"
    as_json.write_text(json.dumps(document), encoding="utf-8")
    from_json = load_scenario(as_json)
    from_yaml = load_scenario(SCENARIOS / "elaad_dynamic.yaml")
    assert from_json.days == from_yaml.days == 30
    assert from_json.household == from_yaml.household
    assert from_json.ev == from_yaml.ev


def _price_csv(tmp_path: Path, rows: list[str]) -> dict[str, Any]:
    """Return the dynamic document with its prices read from these rows."""
    csv_file = tmp_path / "prices.csv"
    csv_file.write_text("\n".join(["start_utc,price", *rows]) + "\n", encoding="utf-8")
    document = copy.deepcopy(_document())
    document["series"]["prices"] = {
        "file": str(csv_file),
        "column": "price",
        "unit": "EUR/MWh",
    }
    return document


def _stamps(count: int) -> list[str]:
    start = datetime(2025, 9, 30, 0, tzinfo=UTC)
    return [(start + timedelta(minutes=15 * i)).isoformat() for i in range(count)]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([f"{_stamps(1)[0]},cheap", f"{_stamps(2)[1]},80"], "not a time and a number"),
        (["yesterday,80", f"{_stamps(2)[1]},80"], "not a time and a number"),
        ([f"{_stamps(1)[0]},nan", f"{_stamps(2)[1]},80"], "not a finite number"),
        ([f"{_stamps(1)[0]},1e400", f"{_stamps(2)[1]},80"], "not a finite number"),
        ([f"{_stamps(1)[0]},80", f"{_stamps(2)[1]},"], "fewer than two values"),
        ([f"{_stamps(1)[0]},80", f"{_stamps(1)[0]},81"], "duplicate times"),
    ],
)
def test_a_bad_csv_series_names_the_file_and_line(
    tmp_path: Path, rows: list[str], message: str
) -> None:
    """Text, NaN, 1e400, one value or duplicate times: refused with the line."""
    with pytest.raises(ScenarioError, match=message) as caught:
        load_data(scenario_from_dict(_price_csv(tmp_path, rows), base=SCENARIOS))
    assert caught.value.path.startswith("series.prices")
