"""A heat pump the plan can only block (SG-Ready relays: ``control: block``).

Unblocked, such a pump heats on its own thermostat at its full power whenever
the thermostat calls; the plan cannot make it modulate. So the import cap and
the fuse count it at ``max_power_kw`` in every slot it is not blocked, while
its energy (``power_kw``) is what the house model needs. The setpoint is the
mode: ``max_power_kw`` unblocked, 0 blocked.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

import pytest

from custom_components.stroomwijs.engine.household.config import OptimiserMode
from custom_components.stroomwijs.engine.household.planning import (
    PlanInputs,
    baseline_cost_eur,
    plan_energy_cost_eur,
)
from custom_components.stroomwijs.engine.planner import Plan, ProblemError

from .helpers import make_problem, plan_for

N = 32  # 8 h from 23:00 local
WINDOW = {"start": "2025-10-14T23:00:00Z", "end": "2025-10-15T03:00:00Z"}
"""01:00-05:00 local: slots 4-19."""
IN_WINDOW = range(4, 20)
TOLERANCE_KW = 1e-3


def _pump(**extra: object) -> dict[str, Any]:
    hp: dict[str, Any] = {
        "id": "hp",
        "kind": "heat_pump",
        "control": "block",
        "max_power_kw": 2.5,
        "min_modulation": 1.0,
        "outdoor_c": 3.0,
        "house": {
            "heat_capacity_kwh_per_k": 12.0,
            "heat_loss_kw_per_k": 0.18,
            "indoor_c": 20.5,
        },
        "comfort": {"min_c": 19.5, "max_c": 22.5},
        "min_on_minutes": 10,
        "min_off_minutes": 10,
        "is_on": True,
    }
    hp.update(extra)
    return hp


def _budget(blocks: int, minutes: float) -> dict[str, Any]:
    return {
        "blocks_left_today": blocks,
        "blocked_minutes_left_today": minutes,
        "day_ends": "2025-10-15T22:00:00Z",
        "max_blocks_per_day": 3,
        "max_blocked_minutes_per_day": 120.0,
    }


def _boiler(temperature_c: float = 60.0, **extra: object) -> dict[str, Any]:
    boiler: dict[str, Any] = {
        "id": "boiler",
        "kind": "boiler",
        "volume_l": 120.0,
        "power_kw": 2.0,
        "temperature_c": temperature_c,
        "min_c": 40.0,
        "max_c": 75.0,
        "phases": 1,
        "phase": 1,
    }
    boiler.update(extra)
    return boiler


def _problem(
    devices: list[dict[str, Any]], base_kw: float, **extra: object
) -> dict[str, Any]:
    return make_problem(
        [0.2] * N,
        devices,
        base_load_kw=base_kw,
        grid={"fuse": "3x25", "windows": [{**WINDOW, "import_kw": 4.0}]},
        **extra,
    )


def _blocked(plan: Plan) -> list[int]:
    setpoint = plan.devices["hp"].setpoint_kw
    return [t for t in range(N) if setpoint[t] <= TOLERANCE_KW]


def _worst_case_import(plan: Plan) -> list[float]:
    """Import if the pump drew its full power in every slot it is unblocked."""
    hp = plan.devices["hp"]
    return [
        plan.import_kw[t]
        - plan.export_kw[t]
        + hp.setpoint_kw[t]
        - hp.series["power_kw"][t]
        for t in range(N)
    ]


def test_the_setpoint_is_the_mode_and_power_kw_the_expected_draw() -> None:
    """Unblocked: setpoint 2.5 kW (normal), the energy is what the house needs."""
    plan = plan_for(_problem([_pump()], 0.5))
    hp = plan.devices["hp"]
    assert hp.summary["control"] == "block"
    assert set(hp.setpoint_kw) == {2.5}  # nothing needs a block: never blocked
    power = hp.series["power_kw"]
    assert all(0.0 <= p <= 2.5 + TOLERANCE_KW for p in power)
    # The energy balance holds with the expected draw, not with the mode.
    for t in range(N):
        assert plan.import_kw[t] - plan.export_kw[t] == pytest.approx(
            0.5 + power[t], abs=2e-3
        )
    # The house needs about 3 kW of heat at 3 degC: far less than 2.5 kW
    # of electricity all night.
    assert sum(power) < 0.6 * 2.5 * N


def test_the_limits_count_the_unblocked_pump_at_its_full_power() -> None:
    """A boiler that would heat in the cheap window stays out where the pump may run.

    1 kW base + 2 kW boiler + 2.5 kW pump breaks the 4 kW window and no block
    is left, so the boiler heats before or after the window, at a dearer
    price. Planned as modulating (``control: power``), the same pump may run
    at its minimum in the window and the boiler heats there.
    """
    spot = [0.3] * N
    for t in IN_WINDOW:
        spot[t] = 0.05
    draws = [0.0] * N
    for t in range(22, 30):
        draws[t] = 0.8  # morning showers after the window
    devices = [
        _pump(blocking=_budget(0, 0.0)),
        _boiler(45.0, draw_kwh=draws, legionella={"due": False}),
    ]
    problem = _problem(devices, 1.0)
    problem["prices"]["spot_eur_per_kwh"] = spot
    plan = plan_for(problem)
    assert _blocked(plan) == []
    assert not plan.explanations, plan.explanations
    worst = _worst_case_import(plan)
    for t in range(N):
        assert worst[t] <= plan.import_cap_kw[t] + TOLERANCE_KW, t
    boiler = plan.devices["boiler"].setpoint_kw
    assert all(boiler[t] <= TOLERANCE_KW for t in IN_WINDOW)
    assert sum(boiler) > 0  # it heats, outside the window

    modulating = deepcopy(problem)
    modulating["devices"][0].update(control="power", min_modulation=0.3)
    other = plan_for(modulating)
    assert any(other.devices["boiler"].setpoint_kw[t] > 0 for t in IN_WINDOW)


def test_the_pump_is_blocked_where_base_load_and_pump_break_the_window() -> None:
    """2 kW base + 2.5 kW pump > 4 kW: blocks, within 3 blocks and 120 minutes.

    The window needs 16 blocked quarter-hours, the rules allow 8: the plan
    blocks 8, counts the pump in full in the others, and says so.
    """
    plan = plan_for(_problem([_pump(blocking=_budget(3, 120.0))], 2.0))
    blocked = _blocked(plan)
    assert len(blocked) == 8
    assert all(t in IN_WINDOW for t in blocked)
    runs = sum(1 for t in blocked if t - 1 not in blocked)
    assert runs <= 3
    text = " ".join(plan.explanations + plan.devices["hp"].explanations)
    assert "8 slot(s) need a block" in text
    assert "blocking rules no longer allow" in text
    assert "may draw up to 0.5 kW more than the grid limit" in text


def test_without_blocks_left_the_pump_is_never_blocked_and_the_plan_says_so() -> None:
    """No block left: the pump runs through the window, explained."""
    plan = plan_for(_problem([_pump(blocking=_budget(0, 0.0))], 2.0))
    assert _blocked(plan) == []
    text = " ".join(plan.explanations + plan.devices["hp"].explanations)
    assert "16 slot(s) need a block" in text


def test_a_boiler_that_must_heat_in_the_window_gets_the_pump_blocked() -> None:
    """A tank at its floor heats inside the window: the pump is blocked there.

    Without the block the pump's reserve would be short where the boiler
    runs; the plan blocks it in those slots (a budget is left) and keeps
    every slot's worst case within the window's 4 kW.
    """
    draws = [0.0] * N
    for t in range(6, 14):
        draws[t] = 0.6  # a bath and showers at night, deep in the window
    boiler = _boiler(45.0, draw_kwh=draws, legionella={"due": False})
    plan = plan_for(_problem([_pump(blocking=_budget(3, 120.0)), boiler], 1.0))
    running = [t for t in IN_WINDOW if plan.devices["boiler"].setpoint_kw[t] > 0]
    assert running, "the tank must heat inside the window"
    assert set(running) <= set(_blocked(plan))
    worst = _worst_case_import(plan)
    for t in range(N):
        assert worst[t] <= plan.import_cap_kw[t] + TOLERANCE_KW, t
    assert not any("may draw up to" in e for e in plan.explanations)


def test_a_modulating_pump_is_planned_as_before() -> None:
    """``control: power`` (the default) keeps the modulating model: no reserve."""
    problem = _problem([_pump(control="power", min_modulation=0.3)], 2.0)
    plan = plan_for(problem)
    hp = plan.devices["hp"]
    assert "power_kw" not in hp.series
    assert hp.summary["control"] == "power"
    for t in range(N):
        assert plan.import_kw[t] - plan.export_kw[t] == pytest.approx(
            2.0 + hp.setpoint_kw[t], abs=2e-3
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"control": "relay"}, "devices[0].control"),
        (
            {"hot_water": {"volume_l": 200.0, "temperature_c": 50.0}},
            "no planned hot water",
        ),
    ],
)
def test_bad_control_is_rejected(change: dict[str, Any], message: str) -> None:
    """An unknown control, or hot water on a pump the plan cannot set."""
    problem = _problem([_pump()], 0.5)
    problem["devices"][0].update(deepcopy(change))
    with pytest.raises(ProblemError, match=message.replace("[", r"\[")):
        plan_for(problem)


def test_the_households_baseline_counts_what_the_pump_draws_not_its_mode() -> None:
    """Without a car the saving is nil: the baseline prices the pump as planned.

    It used to add each device's setpoint; for a pump on its own thermostat
    that is its mode (2.5 kW whenever released), far above what it draws.
    """
    problem = _problem([_pump()], 0.5)
    problem["base_load_kw"] = [0.5] * N
    problem["pv_kw"] = [0.0] * N
    plan = plan_for(problem)
    inputs = PlanInputs(problem=problem, mode=OptimiserMode.CHEAPEST, notes=())
    assert baseline_cost_eur(plan, inputs) == pytest.approx(
        plan_energy_cost_eur(plan), abs=0.01
    )
