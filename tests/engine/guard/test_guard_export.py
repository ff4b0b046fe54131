"""The export limit: the guard takes up excess PV export with its loads."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from custom_components.stroomwijs.engine.guard import InterventionKind
from custom_components.stroomwijs.engine.limits import TimeWindow
from custom_components.stroomwijs.engine.simulate.household import FixedLoad

from .support import build_rig

START = datetime(2026, 6, 23, 9, 30, tzinfo=UTC)  # 11:30 in Amsterdam


async def test_export_over_the_limit_is_absorbed_by_the_ev_then_released() -> None:
    """6 kW of export against a 2 kW export limit: the EV takes up the rest."""
    window = TimeWindow(
        start=time(12, 0), end=time(13, 30), export_w=2_000, label="midday"
    )
    rig = build_rig(start=START, windows=(window,))
    rig.house.add_fixed_load(
        FixedLoad(
            name="pv",
            start=START,
            end=START + timedelta(hours=3),
            watts=-12_000,
            phases=(0, 1, 2),
        )
    )
    await rig.guard.async_set_plan("ev", 0, rig.house.now)
    await rig.run(30)
    # 12 kW PV - 1.5 kW base - 2 kW boiler - 2.5 kW heat pump = 6 kW export.
    assert rig.house.history[-1].export_w > 5_000
    assert not [i for i in rig.log if i.kind is InterventionKind.ABSORB]
    await rig.run(31 * 60)  # into the window (12:00 local is 10:00 UTC)
    absorbed = [i for i in rig.log if i.kind is InterventionKind.ABSORB]
    assert absorbed
    assert absorbed[0].device_id == "ev"
    in_window = [
        r
        for r in rig.house.history
        if datetime(2026, 6, 23, 10, 0, 5, tzinfo=UTC) <= r.timestamp
    ]
    assert all(r.export_w <= 2_000 for r in in_window)
    assert all(r.import_w == 0 for r in in_window)  # absorbing never imports
    # After the window (13:30 local) the EV goes back to its plan.
    await rig.run(91 * 60)
    ended = [i for i in rig.log if i.kind is InterventionKind.ABSORB_END]
    assert ended
    assert rig.ev.setpoint_w == 0
