"""The guard with the Belgian capacity-tariff target."""

from __future__ import annotations

from datetime import UTC, datetime

from custom_components.stroomwijs.engine.guard import InterventionKind
from custom_components.stroomwijs.engine.limits import (
    CapacityTariffSource,
    EffectiveLimit,
    LimitStack,
)

from .support import build_rig

QUARTER_START = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)


async def test_quarter_hour_average_stays_under_the_monthly_budget() -> None:
    """A 5 kW budget against 17 kW of wishes: the quarter ends at or under 5 kW."""
    rig = build_rig(start=QUARTER_START)
    capacity = CapacityTariffSource(budget_w=5_000)
    rig.limits.add(capacity)
    seen: list[EffectiveLimit] = []
    rig.limits.subscribe(lambda new, _old: seen.append(new))
    for _ in range(899):
        reading = await rig.house.async_step()
        await rig.guard.async_process(reading)
        rig.limits.refresh(reading.timestamp)
    last = rig.house.history[-1]
    assert last.quarter_average_w is not None
    assert last.quarter_average_w <= 5_000
    # The moving target is announced when it starts binding, not every second.
    changes = [i for i in rig.log if i.kind is InterventionKind.LIMIT_CHANGED]
    assert len(changes) <= 2
    assert len(seen) <= 2


def test_capacity_value_changes_do_not_wake_listeners() -> None:
    """refresh() reports the capacity source once, not each new allowance."""
    capacity = CapacityTariffSource(budget_w=3_000)
    stack = LimitStack([capacity])
    calls: list[float | None] = []
    stack.subscribe(lambda new, _old: calls.append(new.import_w))
    for second in range(0, 300, 10):
        now = QUARTER_START.replace(second=second % 60, minute=second // 60)
        capacity.observe(now, 4_000.0)
        stack.refresh(now)
    assert len(calls) == 1
