"""Prices and PV forecasts from the attribute formats HA users have."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from custom_components.stroomwijs.engine.household import (
    InputFormatError,
    Series,
    parse_price_attributes,
    parse_pv_attributes,
    parse_temperature_forecast,
)

from .prices import (
    energyzero_state,
    entsoe_state,
    hourly_prices,
    nordpool_state,
    quarter_prices,
    tibber_state,
)

START = datetime(2025, 12, 15, 23, 0, tzinfo=UTC)


def test_nord_pool_hourly_raw_today() -> None:
    """Nord Pool's hourly ``raw_today`` becomes 24 hourly EUR/kWh steps."""
    series = parse_price_attributes(nordpool_state())
    assert series.start == START
    assert series.step == timedelta(hours=1)
    assert len(series.values) == 24
    assert series.values[0] == pytest.approx(hourly_prices()[0][1], abs=1e-5)


@pytest.mark.parametrize(
    ("unit", "scale"), [("EUR/MWh", 1000.0), ("c/kWh", 100.0), ("ct/kWh", 100.0)]
)
def test_nord_pool_units_are_converted(unit: str, scale: float) -> None:
    """Prices in EUR/MWh or cents per kWh are read as EUR/kWh."""
    series = parse_price_attributes(nordpool_state(unit=unit, scale=scale))
    assert series.values[5] == pytest.approx(hourly_prices()[5][1], abs=1e-4)


def test_entsoe_quarter_hours() -> None:
    """ENTSO-E's 15-minute ``prices_today`` keeps its 96 quarter-hour steps."""
    series = parse_price_attributes(entsoe_state())
    assert series.start == START
    assert series.step == timedelta(minutes=15)
    assert series.values == pytest.approx([p for _, p in quarter_prices()], abs=1e-5)


def test_energyzero_response() -> None:
    """The EnergyZero action response as an attribute."""
    series = parse_price_attributes(energyzero_state())
    assert series.step == timedelta(minutes=15)
    assert len(series.values) == 96


def test_tibber_response_per_home() -> None:
    """Tibber's ``prices`` mapping of home to list."""
    series = parse_price_attributes(tibber_state())
    assert series.step == timedelta(hours=1)
    assert series.value_at(START + timedelta(minutes=30)) == series.values[0]


@pytest.mark.parametrize(
    "attributes",
    [
        {},
        {"prices": "soon"},
        {"raw_today": [{"start": "yesterday", "value": 1}]},
        {"raw_today": [{"start": "2025-12-16T00:00:00", "value": 0.1}]},
        {"prices": [{"timestamp": "2025-12-16T00:00:00Z", "price": float("nan")}]},
        {
            "prices": [
                {"timestamp": "2025-12-16T00:00:00Z", "price": 0.1},
                {"timestamp": "2025-12-16T00:05:00Z", "price": 0.1},
            ]
        },
    ],
)
def test_unreadable_prices_are_an_error_not_a_crash(
    attributes: dict[str, object],
) -> None:
    """Missing, zone-less, non-finite or oddly spaced prices: InputFormatError."""
    with pytest.raises(InputFormatError):
        parse_price_attributes(attributes)


def test_an_absurd_price_point_is_dropped() -> None:
    """A price beyond +-100 EUR/kWh is no day-ahead price: it ends the series."""
    state = energyzero_state()
    state["prices"][10]["price"] = 1e9
    series = parse_price_attributes(state)
    assert len(series.values) == 10


def test_solcast_detailed_forecast() -> None:
    """Solcast's ``detailedForecast`` (kW per half hour)."""
    rows = [
        {
            "period_start": (START + timedelta(minutes=30 * i)).isoformat(),
            "pv_estimate": i * 0.1,
            "pv_estimate10": i * 0.05,
            "pv_estimate90": i * 0.15,
        }
        for i in range(4)
    ]
    series = parse_pv_attributes({"detailedForecast": rows})
    assert series.step == timedelta(minutes=30)
    assert series.values == pytest.approx([0.0, 0.1, 0.2, 0.3])
    quarter = START + timedelta(minutes=30)
    assert series.average(quarter, quarter + timedelta(minutes=15)) == 0.1


def test_forecast_solar_wh_hours() -> None:
    """Forecast.Solar's ``wh_hours`` (Wh per hour) in kW."""
    wh = {(START + timedelta(hours=i)).isoformat(): 500.0 * i for i in range(3)}
    series = parse_pv_attributes({"wh_hours": wh})
    assert series.values == pytest.approx([0.0, 0.5, 1.0])


def test_forecast_solar_lists_daylight_only_and_the_night_is_no_end() -> None:
    """Two days of daylight hours (nights left out, as Forecast.Solar does).

    The hours missing between them are nights with no sun, not the end of the
    forecast: tomorrow's sun stays in the series.
    """
    day = [8, 9, 10, 11, 12, 13, 14, 15, 16]
    wh = {
        (START + timedelta(days=d, hours=h)).isoformat(): 1000.0
        for d in (0, 1)
        for h in day
    }
    series = parse_pv_attributes({"wh_hours": wh})
    assert series.start == START + timedelta(hours=8)
    assert series.step == timedelta(hours=1)
    assert len(series.values) == 24 + 9
    assert sum(series.values) == pytest.approx(18 * 1.0)
    night = START + timedelta(hours=20)
    assert series.average(night, night + timedelta(hours=1)) == 0.0
    tomorrow = START + timedelta(days=1, hours=12)
    assert series.average(tomorrow, tomorrow + timedelta(hours=1)) == 1.0


def test_series_round_trip_and_averages() -> None:
    """A series survives to_dict/from_dict; averages weigh partial steps."""
    series = Series(START, timedelta(hours=1), (1.0, 3.0))
    assert Series.from_dict(series.to_dict()) == series
    assert (
        series.average(START + timedelta(minutes=30), START + timedelta(minutes=90))
        == 2.0
    )
    assert series.average(START, START + timedelta(hours=3)) is None
    with pytest.raises(InputFormatError):
        Series.from_dict({"start": START.isoformat(), "step_minutes": 7, "values": []})


@pytest.mark.parametrize(
    "attributes",
    [
        {"prices": [{"timestamp": "9999-12-31T23:45:00+00:00", "price": 0.2}]},
        {"prices": [{"timestamp": "0001-01-01T00:00:00+01:00", "price": 0.2}]},
        {"prices": [{"timestamp": ["a"], "price": {"b": 1}}]},
        {"raw_today": [{"start": "2025-12-16T00:00:00+01:00", "value": 1e308}]},
        {"prices": {"home": "not a list"}},
    ],
)
def test_prices_at_the_edge_of_time_are_an_input_error(
    attributes: dict[str, object],
) -> None:
    """Times that overflow and odd shapes are InputFormatError, never a crash."""
    with pytest.raises(InputFormatError):
        parse_price_attributes(attributes)
    with pytest.raises(InputFormatError):
        parse_pv_attributes(
            {"detailedForecast": [{"period_start": "9999-12-31T23:45:00+00:00"}]}
        )


def test_an_outdoor_temperature_forecast_in_any_unit() -> None:
    """degC, degF and K become degC; absurd points drop; nothing usable raises."""
    start = datetime(2026, 1, 14, 12, 0, tzinfo=UTC)
    items = [
        {"datetime": (start + timedelta(hours=h)).isoformat(), "temperature": t}
        for h, t in enumerate((41.0, 32.0, 212.0))
    ]
    fahrenheit = parse_temperature_forecast(items, "°F")
    assert fahrenheit.start == start
    assert fahrenheit.step == timedelta(hours=1)
    assert fahrenheit.values == (5.0, 0.0)  # 100 degC outdoors is dropped
    kelvin = parse_temperature_forecast(
        [{"datetime": start.isoformat(), "temperature": 278.15}], "K"
    )
    assert kelvin.values == (5.0,)
    assert parse_temperature_forecast(items[:2], None).values == (41.0, 32.0)
    for bad_items, unit in (
        (items, "lightyears"),
        ([], "°C"),
        ("not a list", "°C"),
        ([{"datetime": "yesterday", "temperature": 3}], "°C"),
        ([{"datetime": start.isoformat(), "temperature": 99}], "°C"),
    ):
        with pytest.raises(InputFormatError):
            parse_temperature_forecast(bad_items, unit)
