"""The household's problem: a plan made during a quarter-hour starts then."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from custom_components.stroomwijs.engine.household import TariffConfig
from custom_components.stroomwijs.engine.household.config import OptimiserMode
from custom_components.stroomwijs.engine.household.forecast import (
    BaseLoadForecaster,
)
from custom_components.stroomwijs.engine.household.planning import (
    build_problem,
    slot_index,
)
from custom_components.stroomwijs.engine.limits import LimitStack
from custom_components.stroomwijs.engine.planner import Problem, solve

from .conftest import household_config, local, two_days_of_prices


def _inputs(now_offset: timedelta, quarter_energy_kwh: float = 0.0) -> dict[str, Any]:
    config = household_config(
        devices=(),
        tariff=TariffConfig(
            export_basis="fixed",
            export_fixed_eur_per_kwh=0.0,
            capacity_eur_per_kw_month=4.0,
        ),
    )
    inputs = build_problem(
        config,
        now=local(16, 10, 0) + now_offset,
        chargers=(),
        prices=two_days_of_prices(),
        pv=None,
        forecaster=BaseLoadForecaster(time_zone=config.time_zone),
        stack=LimitStack(),
        month_peak_kw=2.5,
        mode=OptimiserMode.CHEAPEST,
        time_limit_s=5.0,
        quarter_energy_kwh=quarter_energy_kwh,
    )
    return inputs.problem


def test_a_plan_made_during_a_quarter_starts_now() -> None:
    """At 10:08:30 the first slot runs 6.5 min to 10:15; the quarter's energy counts.

    The plan's first slot is applied at once (the next guard tick), so the
    energy it plans in the quarter-hour in progress must be what is left of
    that quarter, not 15 minutes' worth.
    """
    now = local(16, 10, 0) + timedelta(minutes=8, seconds=30)
    problem = _inputs(timedelta(minutes=8, seconds=30), quarter_energy_kwh=0.2)
    assert problem["start"] == now.isoformat()
    assert problem["first_slot_minutes"] == pytest.approx(6.5)
    capacity = problem["grid"]["capacity_tariff"]
    assert capacity["current_quarter_energy_kwh"] == pytest.approx(0.2)
    plan = solve(Problem.from_dict(problem))
    assert plan.solver.status == "optimal"
    assert plan.slot_hours[0] == pytest.approx(6.5 / 60.0, abs=1e-6)
    quarter_end = local(16, 10, 15)
    assert plan.slot_starts[1] == quarter_end.isoformat()
    # The uncontrolled load over what is left of the quarter, no more.
    first_kwh = plan.import_kw[0] * plan.slot_hours[0]
    assert first_kwh == pytest.approx(problem["base_load_kw"][0] * 6.5 / 60.0, abs=1e-5)
    assert slot_index(plan, now - timedelta(seconds=1)) is None
    assert slot_index(plan, now) == 0
    assert slot_index(plan, quarter_end - timedelta(microseconds=1)) == 0
    assert slot_index(plan, quarter_end) == 1
    assert slot_index(plan, quarter_end + timedelta(minutes=15)) == 2
    last = len(plan.slot_starts) - 1
    assert slot_index(plan, quarter_end + timedelta(minutes=15 * last)) is None


def test_a_plan_made_on_the_quarter_has_whole_slots() -> None:
    """On the quarter-hour the first slot is a whole one (and no quarter energy)."""
    problem = _inputs(timedelta(minutes=15))
    assert problem["start"] == local(16, 10, 15).isoformat()
    assert problem["first_slot_minutes"] == pytest.approx(15.0)
    assert "current_quarter_energy_kwh" not in problem["grid"]["capacity_tariff"]
    plan = solve(Problem.from_dict(problem))
    assert plan.slot_hours[0] == pytest.approx(0.25)
    assert slot_index(plan, local(16, 10, 29)) == 0
    assert slot_index(plan, local(16, 10, 30)) == 1
