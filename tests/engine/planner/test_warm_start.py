"""A warm re-plan starts from the previous plan, moved onto the new time grid."""

from __future__ import annotations

from datetime import datetime, timedelta
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from custom_components.stroomwijs.engine.planner import Plan, Problem, lp, solve


def _household(repo_root: Path) -> dict[str, Any]:
    path = repo_root / "examples" / "reference_household.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    data["solver"] = {"threads": 1, "time_limit_s": 20.0}
    return data


def _later(data: dict[str, Any], slots: int) -> dict[str, Any]:
    """Return the household ``slots`` quarter-hours later (series moved along)."""
    n = len(data["base_load_kw"])
    later = json.loads(json.dumps(data))
    later["start"] = (
        datetime.fromisoformat(data["start"]) + timedelta(minutes=15 * slots)
    ).isoformat()
    later["horizon_slots"] = n - slots

    def move(value: Any) -> Any:  # noqa: ANN401
        if isinstance(value, dict):
            return {key: move(item) for key, item in value.items()}
        if isinstance(value, list) and len(value) == n:
            return value[slots:]
        if isinstance(value, list):
            return [move(item) for item in value]
        return value

    return move(later)  # type: ignore[no-any-return]


def test_a_stored_plan_warm_starts_the_next_solve(repo_root: Path) -> None:
    """A plan read back from JSON, two slots old, seeds the re-plan."""
    data = _household(repo_root)
    first = solve(Problem.from_dict(data))
    stored = Plan.from_json(first.to_json())
    later = Problem.from_dict(_later(data, 2))
    warm = solve(later, warm_start=stored)
    cold = solve(Problem.from_dict(_later(data, 2)))
    assert warm.solver.warm_start
    assert not cold.solver.warm_start
    assert warm.slot_starts == cold.slot_starts
    assert warm.solver.status == "optimal"
    # Never worse than a cold solve by more than the solver's own gap.
    assert warm.solver.objective_eur <= cold.solver.objective_eur * 1.01
    for value, cap in zip(warm.import_kw, warm.import_cap_kw, strict=True):
        assert value <= cap + 1e-6
    assert Plan.from_json(warm.to_json()).solver.warm_start


def test_a_plan_for_another_time_is_ignored(repo_root: Path) -> None:
    """A previous plan that covers none of the new slots starts nothing."""
    data = _household(repo_root)
    first = solve(Problem.from_dict(data))
    far = json.loads(json.dumps(data))
    far["start"] = "2025-12-01T00:00:00Z"
    for device in far["devices"]:
        for key in ("arrival", "departure", "earliest_start", "finish_by"):
            device.pop(key, None)
        device.pop("legionella", None)
    plan = solve(Problem.from_dict(far), warm_start=first)
    assert not plan.solver.warm_start
    assert plan.solver.status == "optimal"


def test_an_old_plan_without_the_warm_start_field_still_reads() -> None:
    """Plans stored before ``solver.warm_start`` existed read as cold solves."""
    data = json.loads(
        Plan.from_json(
            solve(
                Problem.from_dict(
                    {
                        "start": "2025-10-15T04:00:00Z",
                        "horizon_slots": 4,
                        "prices": {"spot_eur_per_kwh": [0.1, 0.2, 0.3, 0.1]},
                        "base_load_kw": 0.5,
                    }
                )
            ).to_json()
        ).to_json()
    )
    del data["solver"]["warm_start"]
    assert Plan.from_dict(data).solver.warm_start is False
    assert (
        pytest.approx(data["cost"]["total_eur"]) == Plan.from_dict(data).cost.total_eur
    )


def test_a_fallback_plan_is_not_a_warm_start(repo_root: Path) -> None:
    """A rule-based plan holds safe minimums: the re-plan starts cold."""
    data = _household(repo_root)
    data["solver"]["time_limit_s"] = 1e-6  # no time to find any plan
    fallback = solve(Problem.from_dict(data))
    assert fallback.solver.status == "fallback"
    data["solver"]["time_limit_s"] = 20.0
    plan = solve(Problem.from_dict(_later(data, 1)), warm_start=fallback)
    assert not plan.solver.warm_start
    assert plan.solver.status == "optimal"


@pytest.mark.parametrize("elapsed", [0, 1, 5, 96, 191])
def test_any_elapsed_time_gives_a_valid_plan(repo_root: Path, elapsed: int) -> None:
    """From no slot to all but one passed, the re-plan keeps every limit."""
    data = _household(repo_root)
    first = solve(Problem.from_dict(data))
    later = Problem.from_dict(_later(data, elapsed))
    plan = solve(later, warm_start=first)
    assert plan.solver.warm_start
    assert plan.solver.status == "optimal"
    for value, cap in zip(plan.import_kw, plan.import_cap_kw, strict=True):
        assert value <= cap + 1e-6


def test_a_stored_plan_without_time_zones_is_ignored(repo_root: Path) -> None:
    """Slot times that name no zone cannot be placed: the solve starts cold."""
    data = _household(repo_root)
    stored = solve(Problem.from_dict(data)).to_dict()
    stored["slots"]["start"] = [text[:19] for text in stored["slots"]["start"]]
    plan = solve(Problem.from_dict(_later(data, 1)), warm_start=Plan.from_dict(stored))
    assert not plan.solver.warm_start
    assert plan.solver.status == "optimal"


def test_a_warm_replan_proves_its_gap_by_a_relaxation(
    repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The re-plan's gap is proven by an LP bound, and that bound is valid.

    With the previous plan's on/off pattern held from 12 h on, the
    relaxation's bound closes the 1 % gap, so HiGHS's MIP (a root LP from
    scratch plus cuts) need not run. The bound must really bound: the same
    restricted MIP, solved by HiGHS, never costs less.
    """
    captured: list[Any] = []
    original = lp.ModelBuilder._warm_start

    def spy(self: lp.ModelBuilder, model: Any, *args: Any) -> Any:  # noqa: ANN401
        start = original(self, model, *args)
        captured.append((model, start))
        return start

    monkeypatch.setattr(lp.ModelBuilder, "_warm_start", spy)
    data = _household(repo_root)
    first = solve(Problem.from_dict(data))
    captured.clear()
    plan = solve(Problem.from_dict(_later(data, 1)), warm_start=first)
    assert plan.solver.status == "optimal"
    assert plan.solver.solver_status.startswith("Optimal (relaxation bound")
    assert plan.solver.mip_gap <= 0.01
    model, start = captured[-1]
    assert start.frozen.shape[0] > 0  # some on/off pattern was kept
    assert start.frozen_bound is not None
    assert start.bound <= start.frozen_bound + 1e-9
    objective = plan.solver.objective_eur
    bound = start.frozen_bound
    if plan.solver.solver_status == "Optimal (relaxation bound)":
        bound = start.bound
    assert objective - bound <= 0.01 * objective + 1e-9
    # HiGHS on the restricted MIP: its dual bound never falls below ours.
    highs = lp._new_highs(1, 30.0)
    highs.setOptionValue("mip_rel_gap", 1e-4)
    highs.passModel(model)
    index = start.frozen.astype(np.int32)
    values = start.values[start.frozen]
    highs.changeColsBounds(index.shape[0], index, values, values)
    highs.run()
    info = highs.getInfo()
    assert info.mip_dual_bound >= start.frozen_bound - 1e-6
    assert info.objective_function_value <= objective + 1e-6


def test_the_mip_is_skipped_when_the_relaxation_is_integral() -> None:
    """A model whose LP relaxation is already integral is not handed to HiGHS's MIP."""
    model = lp.ModelBuilder()
    on = model.add_binaries(4, cost=[3.0, 1.0, 2.0, 4.0])
    rows = model.add_rows(1, 2.0, np.inf)  # at least two on: the two cheapest
    model.add_terms(rows, on, 1.0)
    solution = model.solve(time_limit_s=5.0, mip_rel_gap=0.01)
    assert solution.status is lp.SolveStatus.OPTIMAL
    assert solution.solver_status == "Optimal (relaxation bound)"
    assert solution.mip_gap == pytest.approx(0.0)
    assert list(solution.values[on]) == [0.0, 1.0, 1.0, 0.0]
    assert solution.objective == pytest.approx(3.0)


def test_a_stopped_solve_reports_the_relaxation_gap_when_tighter() -> None:
    """HiGHS stopped at its time limit may report a gap wider than the LP's.

    The gap a plan reports is the smaller of HiGHS's and the one to the
    relaxation the warm start solved (a valid bound either way).
    """
    assert lp._gap(10.0, 9.8, float("inf")) == pytest.approx(0.02)
    assert lp._gap(10.0, 9.8, 3.24) == pytest.approx(0.02)
    assert lp._gap(10.0, 9.8, 0.005) == pytest.approx(0.005)
    assert lp._gap(10.0, -lp.INF, 3.24) == pytest.approx(3.24)
    assert lp._gap(10.0, 10.5, 0.5) == pytest.approx(0.0)
