"""Hypothesis properties: over random households the hard limits always hold.

Whatever the prices, loads, limits and devices, every plan keeps import and
export within the DSO caps, every phase within the main fuse, the guaranteed
EV minimum, the boiler's on/off steps and the white goods' unsplit cycles,
and the energy balances in every slot.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st
import numpy as np

from custom_components.stroomwijs.engine.planner import Plan, Problem, solve

from .helpers import START

TOLERANCE = 2e-3


@st.composite
def households(draw: st.DrawFn) -> dict[str, Any]:
    """Random but physical households of 4 to 16 slots."""
    n = draw(st.integers(4, 16))
    price = st.floats(-0.2, 0.8, allow_nan=False)
    power = st.floats(0.0, 4.0, allow_nan=False)
    devices: list[dict[str, Any]] = []
    if draw(st.booleans()):
        devices.append(
            {
                "id": "ev",
                "kind": "ev",
                "mode": draw(st.sampled_from(["v2g", "v2h", "charge_only"])),
                "capacity_kwh": draw(st.floats(10.0, 80.0)),
                "soc": draw(st.floats(0.0, 1.0)),
                "min_soc": draw(st.floats(0.0, 0.5)),
                "target_soc": draw(st.floats(0.0, 1.0)),
                "max_charge_kw": 11.0,
                "min_charge_kw": draw(st.sampled_from([0.0, 4.14])),
                "round_trip_efficiency": 0.85,
                "phases": draw(st.sampled_from([1, 3])),
            }
        )
    if draw(st.booleans()):
        devices.append(
            {
                "id": "boiler",
                "kind": "boiler",
                "volume_l": 100.0,
                "power_kw": 2.0,
                "temperature_c": draw(st.floats(35.0, 70.0)),
                "draw_kwh": draw(st.lists(st.floats(0.0, 0.6), min_size=n, max_size=n)),
            }
        )
    if draw(st.booleans()):
        devices.append(
            {
                "id": "wm",
                "kind": "white_goods",
                "profile_kwh": draw(
                    st.lists(st.floats(0.0, 0.6), min_size=1, max_size=4)
                ),
                "phase": draw(st.integers(1, 3)),
            }
        )
    if draw(st.booleans()):
        devices.append(
            {
                "id": "battery",
                "kind": "battery",
                "capacity_kwh": 10.0,
                "soc": draw(st.floats(0.0, 1.0)),
                "max_charge_kw": 5.0,
                "may_export": draw(st.booleans()),
            }
        )
    if draw(st.booleans()):
        devices.append(
            {
                "id": "hp",
                "kind": "heat_pump",
                "max_power_kw": 2.5,
                "min_modulation": draw(st.sampled_from([0.0, 0.3, 1.0])),
                "outdoor_c": draw(st.floats(-10.0, 15.0)),
                "house": {
                    "heat_capacity_kwh_per_k": 10.0,
                    "heat_loss_kw_per_k": 0.15,
                    "indoor_c": draw(st.floats(17.0, 23.0)),
                },
                "min_on_minutes": draw(st.sampled_from([0, 30])),
            }
        )
    return {
        "start": START,
        "prices": {
            "spot_eur_per_kwh": draw(st.lists(price, min_size=n, max_size=n)),
            "export": draw(
                st.sampled_from(
                    [{"basis": "spot"}, {"basis": "fixed", "fixed_eur_per_kwh": 0.13}]
                )
            ),
        },
        "base_load_kw": draw(st.lists(power, min_size=n, max_size=n)),
        "pv_kw": draw(st.lists(st.floats(0.0, 6.0), min_size=n, max_size=n)),
        "grid": {
            "fuse": draw(st.sampled_from(["3x25", "3x16", "1x35"])),
            "dso_import_kw": draw(
                st.lists(st.floats(0.5, 12.0), min_size=n, max_size=n)
            ),
            "dso_export_kw": draw(st.floats(0.0, 10.0)),
        },
        "devices": devices,
        "solver": {"time_limit_s": 10.0},
    }


def _check_limits(problem: Problem, plan: Plan) -> None:
    imports = np.asarray(plan.import_kw)
    exports = np.asarray(plan.export_kw)
    assert (imports <= problem.import_cap_kw + 1e-6).all()
    assert (exports <= problem.export_cap_kw + 1e-6).all()
    assert (imports >= 0).all()
    assert (exports >= 0).all()
    limit = problem.phase_limit_kw
    for phase in plan.phase_kw:
        assert np.abs(np.asarray(phase)).max() <= limit + TOLERANCE


def _check_balance(problem: Problem, plan: Plan) -> None:
    devices = sum(
        (np.asarray(r.setpoint_kw) for r in plan.devices.values()),
        start=np.zeros(problem.grid.count),
    )
    net = np.asarray(plan.import_kw) - np.asarray(plan.export_kw)
    expected = (
        problem.base_load_kw
        - np.asarray(plan.unserved_load_kw)
        - (problem.pv_kw - np.asarray(plan.pv_curtailed_kw))
        + devices
    )
    assert np.allclose(net, expected, atol=TOLERANCE * (1 + len(plan.devices)))


def _check_devices(data: dict[str, Any], plan: Plan) -> None:
    for spec in data["devices"]:
        result = plan.devices[spec["id"]]
        if spec["kind"] == "ev":
            floor = min(spec["min_soc"], spec["soc"])
            assert min(result.series["soc"]) >= floor - 1e-4
            if spec["mode"] == "charge_only":
                assert min(result.setpoint_kw) >= -1e-6
        elif spec["kind"] == "boiler":
            assert all(abs(p) < 1e-6 or abs(p - 2.0) < 1e-6 for p in result.setpoint_kw)
        elif spec["kind"] == "white_goods":
            start = result.summary["start_slot"]
            power = np.asarray(result.setpoint_kw)
            if start is None:
                assert not power.any()
            else:
                assert isinstance(start, int)
                profile = np.asarray(spec["profile_kwh"]) / 0.25
                end = start + profile.shape[0]
                assert np.allclose(
                    power[start:end], profile[: len(power[start:end])], atol=1e-3
                )
                assert not power[:start].any()
                assert not power[end:].any()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=households())
def test_random_households_keep_every_hard_limit_and_balance(
    data: dict[str, Any],
) -> None:
    """DSO caps, fuse per phase, EV minimum, unsplit cycles; balance per slot."""
    problem = Problem.from_dict(data)
    plan = solve(problem)
    assert plan.solver.status in {"optimal", "time_limit", "fallback"}
    _check_limits(problem, plan)
    _check_balance(problem, plan)
    _check_devices(data, plan)
