"""What a store holds at the end of the horizon is worth no more than it saves.

Heat or charge left over is credited at what it would save later (the
cheapest import price), never above what the energy that made it was worth:
a PV surplus is worth the export price. A plan that heats a tank from PV only
to end the horizon fuller than it started must therefore never pay off.
"""

from __future__ import annotations

from typing import Any

import pytest

from custom_components.stroomwijs.engine.planner import ProblemError

from .helpers import make_problem, plan_for

SLOTS = 16
FEED_IN = 0.13


def _sunny(devices: list[dict[str, Any]], **extra: object) -> dict[str, Any]:
    """Sixteen sunny quarter-hours: 3 kW of PV over a 0.3 kW load, fixed feed-in."""
    data = make_problem([0.10] * SLOTS, devices, **extra)
    data["prices"]["export"] = {"basis": "fixed", "fixed_eur_per_kwh": FEED_IN}
    data["base_load_kw"] = 0.3
    data["pv_kw"] = 3.0
    data["solver"] = {"mip_rel_gap": 1e-4, "mip_abs_gap_eur": 0.0}
    return data


def _boiler(**extra: object) -> dict[str, Any]:
    boiler: dict[str, Any] = {
        "id": "boiler",
        "kind": "boiler",
        "volume_l": 100.0,
        "power_kw": 2.0,
        "temperature_c": 50.0,
        "min_c": 40.0,
        "max_c": 75.0,
    }
    boiler.update(extra)
    return boiler


def test_boiler_does_not_hoard_pv_heat_at_the_horizon() -> None:
    """PV surplus is worth its feed-in price: at most the standing loss is made up.

    Heat short of the start would cost the import price to replace, so PV
    may top the tank up once (one slot of the on/off element); it never
    fills it further, for a credit above the start is worth less than the
    feed-in it gives up.
    """
    plan = plan_for(_sunny([_boiler()]))
    result = plan.devices["boiler"]
    lift = 2.0 * 0.25 / (100.0 * 4.186 / 3600.0)  # one slot of the element
    assert sum(p > 0 for p in result.setpoint_kw) <= 1
    assert result.series["temperature_c"][-1] <= 50.0 + lift
    assert max(result.series["temperature_c"]) <= 50.0 + lift


def test_heat_pump_house_does_not_hoard_pv_heat_at_the_horizon() -> None:
    """Heating the house above its start from PV surplus earns nothing."""
    heat_pump = {
        "id": "hp",
        "kind": "heat_pump",
        "max_power_kw": 2.0,
        "min_modulation": 0.0,
        "outdoor_c": 10.0,
        "house": {
            "heat_capacity_kwh_per_k": 10.0,
            "heat_loss_kw_per_k": 0.1,
            "indoor_c": 20.5,
        },
        "comfort": {"min_c": 20.0, "max_c": 23.0},
    }
    plan = plan_for(_sunny([heat_pump]))
    indoor = plan.devices["hp"].series["indoor_c"]
    # It may keep the house at its start temperature, never end above it.
    assert indoor[-1] <= 20.5 + 1e-3


def test_keep_ends_no_emptier_than_the_start_and_gains_nothing_above_it() -> None:
    """With ``keep`` the tank is reheated to its start, and no further."""
    draws = [0.0] * SLOTS
    draws[2] = 1.5
    data = make_problem([0.10] * SLOTS, [_boiler(end_condition="keep", draw_kwh=draws)])
    data["solver"] = {"mip_rel_gap": 1e-4, "mip_abs_gap_eur": 0.0}
    plan = plan_for(data)
    temps = plan.devices["boiler"].series["temperature_c"]
    lift = 2.0 * 0.25 / (100.0 * 4.186 / 3600.0)  # one slot of the element
    assert 50.0 - 1e-3 <= temps[-1] <= 50.0 + lift


def test_an_unknown_end_condition_is_rejected_with_its_field() -> None:
    """A typo in ``end_condition`` names the field instead of passing silently."""
    with pytest.raises(ProblemError, match=r"devices\[0\]\.end_condition"):
        plan_for(_sunny([_boiler(end_condition="full")]))


def _heat_pump(**extra: object) -> dict[str, Any]:
    heat_pump: dict[str, Any] = {
        "id": "hp",
        "kind": "heat_pump",
        "max_power_kw": 2.0,
        "min_modulation": 0.0,
        "outdoor_c": 10.0,
        "house": {
            "heat_capacity_kwh_per_k": 10.0,
            "heat_loss_kw_per_k": 0.1,
            "indoor_c": 20.5,
        },
        "comfort": {"min_c": 20.0, "max_c": 23.0},
    }
    heat_pump.update(extra)
    return heat_pump


def test_heat_pump_tank_does_not_hoard_pv_heat_at_the_horizon() -> None:
    """The heat pump's hot-water tank follows the same rule as the boiler."""
    tank = {"volume_l": 200.0, "temperature_c": 50.0, "min_c": 45.0, "max_c": 60.0}
    plan = plan_for(_sunny([_heat_pump(hot_water=tank)]))
    series = plan.devices["hp"].series
    # Fully modulating: it may make up the standing loss, never store more.
    assert series["tank_c"][-1] <= 50.0 + 1e-3
    assert series["indoor_c"][-1] <= 20.5 + 1e-3


def test_car_does_not_store_pv_beyond_its_target_at_the_horizon() -> None:
    """A kWh charged from PV beyond the target is worth its feed-in, no more."""
    car = {
        "id": "ev",
        "kind": "ev",
        "capacity_kwh": 60.0,
        "soc": 0.5,
        "target_soc": 0.5,
        "max_charge_kw": 11.0,
    }
    plan = plan_for(_sunny([car]))
    result = plan.devices["ev"]
    assert max(result.setpoint_kw) <= 1e-6
    assert result.series["soc"][-1] <= 0.5 + 1e-6


def test_valued_battery_does_not_store_pv_at_the_horizon() -> None:
    """A battery valued at the end (not ``keep``) gains nothing by filling from PV."""
    battery = {
        "id": "battery",
        "kind": "battery",
        "capacity_kwh": 10.0,
        "soc": 0.5,
        "max_charge_kw": 5.0,
        "end_condition": "value",
    }
    plan = plan_for(_sunny([battery]))
    result = plan.devices["battery"]
    assert result.series["soc"][-1] <= 0.5 + 1e-6
