"""The heat pump block within its daily blocking rules (SG-Ready, EVU lock).

Every off-period of the plan is a block; the rules cap the blocks and the
blocked minutes per local day. Each case also solves the same problem
without the rules, to show that the rules are what changes the plan.
"""

from __future__ import annotations

from copy import deepcopy
import re
from typing import Any

import pytest

from custom_components.stroomwijs.engine.planner import Plan, Problem, ProblemError

from .helpers import make_problem, plan_for

OFF_KW = 1e-6


def _heat_pump(blocking: dict[str, Any] | None = None) -> dict[str, Any]:
    hp: dict[str, Any] = {
        "id": "hp",
        "kind": "heat_pump",
        "max_power_kw": 3.0,
        "outdoor_c": 2.0,
        "house": {
            "heat_capacity_kwh_per_k": 10.0,
            "heat_loss_kw_per_k": 0.2,
            "indoor_c": 21.0,
        },
        "comfort": {"min_c": 20.0, "max_c": 22.0},
        "min_on_minutes": 30,
        "min_off_minutes": 30,
        "is_on": True,
    }
    if blocking is not None:
        hp["blocking"] = blocking
    return hp


def _budget(blocks: int, minutes: float, day_ends: str) -> dict[str, Any]:
    return {
        "blocks_left_today": blocks,
        "blocked_minutes_left_today": minutes,
        "day_ends": day_ends,
        "max_blocks_per_day": 3,
        "max_blocked_minutes_per_day": 120.0,
    }


def _with_and_without(
    problem: dict[str, Any], blocking: dict[str, Any]
) -> tuple[Plan, Plan]:
    free = plan_for(problem)
    ruled = deepcopy(problem)
    ruled["devices"][0]["blocking"] = blocking
    return free, plan_for(ruled)


def _off_runs(setpoint: list[float], slots: range) -> int:
    runs = 0
    for t in slots:
        before_on = t == 0 or setpoint[t - 1] > OFF_KW
        if setpoint[t] <= OFF_KW and before_on:
            runs += 1
    return runs


def _off_minutes(plan: Plan, slots: range) -> float:
    setpoint = plan.devices["hp"].setpoint_kw
    return sum(plan.slot_hours[t] * 60.0 for t in slots if setpoint[t] <= OFF_KW)


def test_no_blocks_left_keeps_the_pump_on_until_midnight_then_blocks_again() -> None:
    """20:00 local, no blocks left: on until 00:00, then a block for price."""
    n = 32
    spot = [0.2] * n
    spot[0:4] = [0.6] * 4  # 20:00-21:00 local
    spot[20:24] = [0.6] * 4  # 01:00-02:00 local, the next day
    problem = make_problem(spot, [_heat_pump()], start="2025-10-15T18:00:00Z")
    free, ruled = _with_and_without(
        problem, _budget(0, 60.0, "2025-10-16T00:00:00+02:00")
    )
    assert min(free.devices["hp"].setpoint_kw[0:4]) <= OFF_KW  # price alone blocks
    setpoint = ruled.devices["hp"].setpoint_kw
    assert min(setpoint[0:16]) > OFF_KW  # today: no block left
    assert min(setpoint[20:24]) <= OFF_KW  # after midnight the budget is back
    assert _off_minutes(ruled, range(16, n)) <= 120.0 + 1e-6


def test_sixty_minutes_left_allow_at_most_sixty_minutes_off_today() -> None:
    """A partial first slot counts its real minutes."""
    n = 24
    spot = [0.2] * n
    spot[0:10] = [0.7] * 10  # the first 2 h 25 min are dear
    problem = make_problem(
        spot,
        [_heat_pump()],
        start="2025-10-15T19:05:00Z",
        first_slot_minutes=10,
    )
    day_ends = "2025-10-16T00:00:00+02:00"
    free, ruled = _with_and_without(problem, _budget(3, 60.0, day_ends))
    today = range(12)  # until 22:00Z = 00:00 local
    assert _off_minutes(free, today) > 60.0
    assert _off_minutes(ruled, today) <= 60.0 + 1e-6
    assert _off_minutes(ruled, today) >= 45.0 - 1e-6  # the budget is used
    setpoint = ruled.devices["hp"].setpoint_kw
    assert _off_runs(setpoint, today) <= 3


def test_the_budget_is_kept_for_the_dso_window_not_spent_on_the_morning_price() -> None:
    """One block left: it goes to the 16-17 h window, not the dear morning."""
    n = 48  # 07:00-19:00 local
    spot = [0.2] * n
    spot[0:4] = [0.6] * 4  # 07:00-08:00 local
    grid = {
        "fuse": "3x25",
        "windows": [
            {
                "start": "2025-10-15T14:00:00Z",
                "end": "2025-10-15T15:00:00Z",
                "import_kw": 1.0,
            }
        ],
    }
    problem = make_problem(
        spot,
        [_heat_pump()],
        start="2025-10-15T05:00:00Z",
        grid=grid,
        base_load_kw=0.5,
    )
    free, ruled = _with_and_without(
        problem, _budget(1, 60.0, "2025-10-16T00:00:00+02:00")
    )
    free_sp = free.devices["hp"].setpoint_kw
    assert min(free_sp[0:4]) <= OFF_KW  # without the rules the morning blocks
    assert max(free_sp[36:40]) <= OFF_KW
    setpoint = ruled.devices["hp"].setpoint_kw
    assert min(setpoint[0:36]) > OFF_KW
    assert max(setpoint[36:40]) <= OFF_KW
    assert max(ruled.import_kw[36:40]) <= 1.0 + 1e-6
    assert max(ruled.unserved_load_kw) <= 1e-6


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"blocks_left_today": 4}, ".blocks_left_today: is above max_blocks_per_day"),
        (
            {"blocked_minutes_left_today": 130},
            ".blocked_minutes_left_today: is above max_blocked_minutes_per_day",
        ),
        ({"blocks_left_today": -1}, ".blocks_left_today: must be within 0..96"),
        ({"day_ends": "2025-10-17T00:00:00Z"}, ".day_ends: must lie within a day"),
        ({"day_ends": None}, ".day_ends: is required"),
        ({"blocks_left": 1}, ": unknown field(s) blocks_left"),
    ],
)
def test_blocking_rules_are_checked(change: dict[str, Any], message: str) -> None:
    """Malformed rules name the offending field."""
    blocking = _budget(2, 60.0, "2025-10-15T22:00:00Z")
    blocking.update(change)
    blocking = {k: v for k, v in blocking.items() if v is not None}
    problem = make_problem([0.2] * 8, [_heat_pump(blocking)])
    with pytest.raises(ProblemError, match=re.escape(f"devices[0].blocking{message}")):
        Problem.from_dict(problem)


def test_an_ongoing_block_is_no_new_block() -> None:
    """Blocked now with no blocks left: the block may go on (minutes allowing)."""
    n = 8
    spot = [0.6] * 4 + [0.2] * 4
    hp = _heat_pump(_budget(0, 30.0, "2025-10-15T22:00:00Z"))
    hp["is_on"] = False
    hp["in_state_for_minutes"] = 40.0
    plan = plan_for(make_problem(spot, [hp]))
    setpoint = plan.devices["hp"].setpoint_kw
    off = [t for t in range(n) if setpoint[t] <= OFF_KW]
    assert off == [0, 1]


def test_a_budget_from_the_day_before_gives_the_full_caps() -> None:
    """Read just before midnight, the budget's today is over: full caps apply."""
    n = 16
    spot = [0.6] * 8 + [0.2] * 8
    hp = _heat_pump(_budget(0, 0.0, "2025-10-14T22:00:00Z"))
    problem = make_problem(spot, [hp], start="2025-10-14T22:00:01Z")
    problem["first_slot_minutes"] = 15 - 1 / 60
    setpoint = plan_for(problem).devices["hp"].setpoint_kw
    off = sum(1 for t in range(n) if setpoint[t] <= OFF_KW)
    assert 1 <= off <= 8  # some block (the full day's 120 min), not none


def test_a_window_the_rules_cannot_block_is_explained_not_a_fallback() -> None:
    """No block left and a window below the pump's minimum: still a plan, told."""
    n = 16
    grid = {
        "fuse": "3x25",
        "windows": [
            {
                "start": "2025-10-14T23:00:00Z",
                "end": "2025-10-15T00:00:00Z",
                "import_kw": 0.5,
            }
        ],
    }
    hp = _heat_pump(_budget(0, 60.0, "2025-10-15T22:00:00Z"))
    plan = plan_for(make_problem([0.2] * n, [hp], grid=grid))
    assert plan.solver.status == "optimal"
    assert max(plan.import_kw[4:8]) <= 0.5 + 1e-6
    assert any("more blocking than the rules allow" in e for e in plan.explanations)
