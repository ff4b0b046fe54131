"""Slots beyond the day-ahead prices take the price of the same time a day earlier."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from custom_components.stroomwijs.engine.household import HouseholdConfig
from custom_components.stroomwijs.engine.household.config import OptimiserMode
from custom_components.stroomwijs.engine.household.forecast import (
    BaseLoadForecaster,
)
from custom_components.stroomwijs.engine.household.inputs import Series
from custom_components.stroomwijs.engine.household.planning import build_problem
from custom_components.stroomwijs.engine.limits import LimitStack

from .prices import AMSTERDAM, quarter_prices


def test_an_afternoon_plan_repeats_this_mornings_prices_for_tomorrow_morning() -> None:
    """Planned at 14:00 with today's prices only, 03:00 tomorrow costs 03:00 today.

    The problem starts at 14:00, so "96 slots earlier" lies before it; the
    day-earlier price comes from the series, which holds the whole day, not
    from the mean of the afternoon's prices.
    """
    quarters = quarter_prices()  # 16 December 2025, 96 real quarter-hours
    prices = Series(
        quarters[0][0], timedelta(minutes=15), tuple(p for _, p in quarters)
    )
    now = datetime(2025, 12, 16, 14, 0, tzinfo=AMSTERDAM)
    config = HouseholdConfig.from_dict({"name": "Thuis"})
    inputs = build_problem(
        config,
        now=now,
        chargers=[],
        prices=prices,
        pv=None,
        forecaster=BaseLoadForecaster(time_zone="Europe/Amsterdam"),
        stack=LimitStack(),
        month_peak_kw=None,
        mode=OptimiserMode.CHEAPEST,
        time_limit_s=3.0,
    )
    spot = inputs.problem["prices"]["spot_eur_per_kwh"]
    assert len(spot) == 96
    assert spot[0] == pytest.approx(quarters[14 * 4][1])
    # Tomorrow 03:00 is slot 13 h after 14:00.
    assert spot[13 * 4] == pytest.approx(quarters[3 * 4][1])
    assert spot[-1] == pytest.approx(quarters[14 * 4 - 1][1])
    assert "prices beyond the day-ahead ones repeat the day before" in inputs.notes
