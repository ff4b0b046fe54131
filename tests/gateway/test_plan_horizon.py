"""The last plan runs until its horizon ends; then the safe rules, never unlimited.

The gateway adds nothing to this: it is how the ``Household`` it hosts
behaves when re-plans fail (no solver, a hung solve). Checked here under a
simulated clock, with a real OCPP 2.1 car on loopback, because the gateway
relies on it while Home Assistant (and its prices) are away.
"""

from __future__ import annotations

from datetime import datetime

from custom_components.stroomwijs.engine.household import OptimiserConfig, PlanState
from custom_components.stroomwijs.engine.household.runtime import PROBLEM_PLAN_FAILED
from custom_components.stroomwijs.engine.planner import Plan, Problem, solve
from tests.engine.household.conftest import (  # noqa: F401 - fixtures
    HomeFactory,
    car,
    household_config,
    local,
    loopback_sockets,
    make_home,
)


async def test_last_plan_until_its_horizon_then_the_guard_rules(
    make_home: HomeFactory,  # noqa: F811 - the imported fixture
) -> None:
    """Solves fail after the first: the plan is kept, then released safely."""
    working = [True]

    def solver(problem: Problem, now: datetime, previous: Plan | None) -> Plan:
        if not working[0]:
            msg = "no solver (the test)"
            raise RuntimeError(msg)
        return solve(problem, now=now, warm_start=previous)

    config = household_config(
        optimiser=OptimiserConfig(horizon_hours=4, time_limit_s=5.0)
    )
    home = await make_home(start=local(16, 10), config=config, solver=solver)
    household = home.household
    await home.sim.async_plug_in(car(soc=0.3))
    for _ in range(3):
        await home.step()
    plan = household.plan
    assert plan is not None
    assert household.plan_status.state in {PlanState.OK, PlanState.TIME_LIMIT}
    horizon_end = datetime.fromisoformat(plan.slot_starts[-1])

    # From now on every re-plan fails: the last plan goes on.
    working[0] = False
    kept: list[tuple[datetime, bool, float | None]] = []
    while home.now < horizon_end:
        await home.step()
        kept.append(
            (home.now, household.plan is plan, household.planned_power_w("car"))
        )
    assert all(same for _, same, _ in kept), "the last plan stays in force"
    assert all(planned is not None for _, _, planned in kept)
    assert household.plan_status.state is PlanState.FALLBACK
    assert "kept the last plan" in household.plan_status.reasons
    assert PROBLEM_PLAN_FAILED in household.problems

    # The horizon ended (about 14:00): no plan, the car back to its own
    # behaviour (full power) under the fuse.
    for _ in range(20):
        await home.step()
    assert household.plan is None
    assert household.planned_power_w("car") is None
    assert household.plan_status.state is PlanState.FALLBACK
    assert "no plan: the guard's rules hold the limit" in household.plan_status.reasons
    assert home.sim.station.power_w > 10_000.0, "released, not left paused"

    # Into the 16-21 h window of 4 kW: the guard holds it (the car cannot
    # charge at its 6 A minimum beside the house, so it pauses), and the
    # charger keeps the window as its own limit: never unlimited.
    while home.now < local(16, 16, 30):
        await home.step()
    in_window = [(when, net) for when, net, _ in home.grid_w if local(16, 16) <= when]
    assert len(in_window) >= 30
    over = [(when, net) for when, net in in_window[1:] if net > 4000.0 + 1.0]
    assert not over, over[:3]
    station_max = home.sim.station.station_max
    assert station_max is not None
    assert station_max.limit is not None
    assert home.sim.station.to_watts(station_max.limit, station_max.unit) <= 4000.0
