"""Small problem builders for the planner tests."""

from __future__ import annotations

from typing import Any

from custom_components.stroomwijs.engine.planner import Plan, Problem, solve

START = "2025-10-14T22:00:00Z"


def make_problem(
    spot: list[float], devices: list[dict[str, Any]] | None = None, **extra: object
) -> dict[str, Any]:
    """Return a household with flat zero base load, no PV and the given spot prices."""
    problem: dict[str, Any] = {
        "start": START,
        "prices": {"spot_eur_per_kwh": spot, "export": {"basis": "spot"}},
        "base_load_kw": 0.0,
        "pv_kw": 0.0,
        "grid": {"fuse": "3x25"},
        "devices": devices or [],
        "solver": {"time_limit_s": 20.0},
    }
    problem.update(extra)
    return problem


def plan_for(data: dict[str, Any]) -> Plan:
    """Solve a problem given as data."""
    return solve(Problem.from_dict(data))
