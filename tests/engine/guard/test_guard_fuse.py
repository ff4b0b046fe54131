"""The guard holds the main fuse per phase: cooking + EV + heat pump at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from custom_components.stroomwijs.engine.grid import GridConnection
from custom_components.stroomwijs.engine.guard import InterventionKind
from custom_components.stroomwijs.engine.simulate.household import FixedLoad

from .support import build_rig

START = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)


async def test_cooking_ev_and_heat_pump_at_once_stay_under_the_fuse() -> None:
    """A 7.4 kW hob on L1+L2 with an 11 kW EV and a heat pump: no phase over 25 A."""
    rig = build_rig(start=START, grid=GridConnection(phases=3, fuse_a=25))
    await rig.run(30)  # settle: the boiler on L2 already forces the EV down
    cooking_start = rig.house.now + timedelta(seconds=5)
    rig.house.add_fixed_load(
        FixedLoad(
            name="induction hob",
            start=cooking_start,
            end=cooking_start + timedelta(minutes=20),
            watts=7_400,
            phases=(0, 1),
        )
    )
    await rig.run(120)
    bound = rig.guard.reaction_bound(timedelta(seconds=1))
    for reading in rig.house.history:
        if reading.timestamp >= cooking_start + bound:
            assert all(
                current is not None and current <= 25.0
                for current in reading.phase_currents_a
            ), (reading.timestamp, reading.phase_currents_a)
    # The EV gave way before anything else.
    curtailed = [i for i in rig.log if i.kind is InterventionKind.CURTAIL]
    assert curtailed[0].device_id == "ev"
    assert "fuse" in curtailed[0].reason
    # Cooking itself is never touched, and the washer (white goods) stayed off.
    assert not rig.washer.commands


async def test_phase_overload_is_corrected_even_when_total_power_is_fine() -> None:
    """A single overloaded phase triggers curtailment below the total limit."""
    rig = build_rig(start=START, grid=GridConnection(phases=3, fuse_a=25))
    await rig.run(20)
    last = rig.house.history[-1]
    assert last.net_power_w < rig.guard.config.grid.max_power_w
    assert max(c or 0.0 for c in last.phase_currents_a) <= 25.0
    assert any(i.device_id == "ev" for i in rig.log)
