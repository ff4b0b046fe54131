"""The meter across a restart (issue 10, defect 19).

What the meter derived itself (the quarter-hour in progress, the month's
peak and the history of months) goes to the host's store as JSON and comes
back; the gap of the restart is filled from the meter's energy register.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
import math
from typing import Any

import pytest

from custom_components.stroomwijs.engine.grid import GridConnection
from custom_components.stroomwijs.engine.meter.core import Meter
from custom_components.stroomwijs.engine.meter.models import (
    MeterReading,
    TelegramValues,
)

GRID = GridConnection(phases=3, fuse_a=25)
T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def values(import_w: float, import_kwh: float | None = None) -> TelegramValues:
    """Return a telegram's values with the power and the import register."""
    return TelegramValues(
        dsmr_version="5", import_w=import_w, import_total_kwh=import_kwh
    )


def through_json(state: dict[str, Any]) -> Any:  # noqa: ANN401 - whatever JSON gives
    """Return the state as the host's store gives it back."""
    return json.loads(json.dumps(state, allow_nan=False))


class Register:
    """A meter's import register that counts what flows."""

    def __init__(self) -> None:
        """Start at 1000 kWh."""
        self.kwh = 1000.0

    def run(self, watts: float, seconds: float) -> None:
        """Count ``watts`` for ``seconds``."""
        self.kwh += watts * seconds / 3_600_000.0


def feed(
    meter: Meter, register: Register, start: datetime, watts: float, seconds: int
) -> MeterReading:
    """Feed one reading a second for ``seconds``; return the last reading."""
    reading: MeterReading | None = None
    for second in range(seconds):
        register.run(watts, 1.0)
        reading = meter.process(
            values(watts, round(register.kwh, 3)), start + timedelta(seconds=second)
        )
    assert reading is not None
    return reading


def test_the_quarter_in_progress_survives_a_restart_and_its_gap_is_filled() -> None:
    """1 kW for 8 min, 7 kW during a 2 min restart, 1 kW after: 1.8 kW average."""
    register = Register()
    meter = Meter(grid=GRID, clock=lambda: T0 + timedelta(minutes=8))
    feed(meter, register, T0, 1_000, 480)
    saved = through_json(meter.export_state())

    register.run(7_000, 120)  # the meter counts on while Home Assistant restarts
    restarted = Meter(grid=GRID)
    assert restarted.restore_state(saved, T0 + timedelta(minutes=10))
    reading = feed(restarted, register, T0 + timedelta(minutes=10), 1_000, 300)
    assert reading.quarter_average_source == "computed"
    # (8 min x 1 kW + 2 min x 7 kW + 5 min x 1 kW) / 15 min = 1.8 kW.
    assert reading.quarter_average_w == pytest.approx(1_800, rel=0.01)


def test_without_the_stored_state_only_the_readings_since_count() -> None:
    """The defect itself: a fresh meter averages since the restart only."""
    register = Register()
    register.run(7_000, 120)
    fresh = Meter(grid=GRID)
    reading = feed(fresh, register, T0 + timedelta(minutes=10), 1_000, 300)
    assert reading.quarter_average_w == pytest.approx(1_000)


def test_the_peak_and_the_history_of_months_survive_a_restart() -> None:
    """October ends at 5 kW, November starts at 2 kW: both come back."""
    register = Register()
    start = datetime(2026, 10, 31, 22, 0, tzinfo=UTC)  # 23:00 in Brussels
    meter = Meter(grid=GRID)
    feed(meter, register, start, 5_000, 45 * 60)
    reading = feed(meter, register, start + timedelta(minutes=45), 2_000, 31 * 60)
    assert reading.month_peak_w == pytest.approx(2_000)
    assert [r.power_w for r in reading.peak_history] == pytest.approx([5_000])
    saved = through_json(meter.export_state())

    restarted = Meter(grid=GRID)
    at = start + timedelta(minutes=77)
    assert restarted.restore_state(saved, at)
    after = feed(restarted, register, at, 2_000, 5)
    assert after.month_peak_w == pytest.approx(2_000)
    assert after.month_peak_at == reading.month_peak_at
    assert [r.power_w for r in after.peak_history] == pytest.approx([5_000])
    assert after.peak_history[0].month_start == datetime(2026, 9, 30, 22, 0, tzinfo=UTC)


def test_a_peak_of_a_month_that_ended_during_the_restart_moves_to_history() -> None:
    """Stored in October, restored in November: October's peak is history."""
    register = Register()
    start = datetime(2026, 10, 31, 21, 0, tzinfo=UTC)
    meter = Meter(grid=GRID)
    feed(meter, register, start, 4_000, 20 * 60)
    saved = through_json(meter.export_state())
    restarted = Meter(grid=GRID)
    restarted.restore_state(saved, datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    reading = feed(
        restarted, register, datetime(2026, 11, 2, 9, 0, tzinfo=UTC), 1_000, 5
    )
    assert reading.month_peak_w is None
    assert [r.power_w for r in reading.peak_history] == pytest.approx([4_000])


GOOD_QUARTER = {
    "start": "2026-11-23T12:00:00+00:00",
    "energy_ws": 1000.0 * 60,
    "covered_s": 60.0,
    "last_at": "2026-11-23T12:01:00+00:00",
    "last_w": 1000.0,
    "last_kwh": 1000.5,
}


@pytest.mark.parametrize(
    "stored",
    [
        None,
        "garbage",
        [],
        {"version": 2},
        {"version": 1, "quarter": "x"},
        {"version": 1, "quarter": {**GOOD_QUARTER, "energy_ws": math.nan}},
        {"version": 1, "quarter": {**GOOD_QUARTER, "energy_ws": -5}},
        {"version": 1, "quarter": {**GOOD_QUARTER, "energy_ws": 1e300}},
        {"version": 1, "quarter": {**GOOD_QUARTER, "covered_s": 10_000}},
        {"version": 1, "quarter": {**GOOD_QUARTER, "start": "2026-11-23T12:07:00"}},
        {"version": 1, "quarter": {**GOOD_QUARTER, "start": "2026-11-23T12:07Z"}},
        {"version": 1, "quarter": {**GOOD_QUARTER, "last_at": "2027-01-01T00:00Z"}},
        {
            "version": 1,
            "quarter": {**GOOD_QUARTER, "last_at": "9999-12-31T23:59-14:00"},
        },
        {"version": 1, "quarter": {**GOOD_QUARTER, "last_w": True}},
        {"version": 1, "peak": {"month": [2026, 13], "peak_w": 1.0}},
        {"version": 1, "peak": {"month": [2027, 1], "peak_w": None}},
        {"version": 1, "peak": {"month": [2026, 11], "peak_w": 9e9, "peak_at": "x"}},
        {
            "version": 1,
            "peak": {"month": [2026, 11], "peak_w": 1, "peak_at": "2020-01-01T00:00Z"},
        },
        {"version": 1, "peak": {"month": [2026, 11], "history": "x"}},
        {"version": 1, "peak": {"month": [2026, 11], "history": [{}] * 100}},
        {
            "version": 1,
            "peak": {
                "month": [2026, 11],
                "history": [{"month": [2026, 12], "power_w": 1, "at": "2026-12-02Z"}],
            },
        },
    ],
)
def test_hostile_stored_meter_state_is_ignored_never_raised(stored: object) -> None:
    """Whatever the store gives back, restoring logs and goes on."""
    meter = Meter(grid=GRID)
    assert not meter.restore_state(stored, T0 + timedelta(minutes=5))
    reading = meter.process(values(1_000), T0 + timedelta(minutes=5))
    assert reading is not None
    assert reading.quarter_average_w == pytest.approx(1_000)


def test_a_good_part_is_restored_beside_a_corrupt_one() -> None:
    """A corrupt peak does not cost the quarter."""
    meter = Meter(grid=GRID)
    stored = {"version": 1, "quarter": GOOD_QUARTER, "peak": {"month": "x"}}
    assert meter.restore_state(stored, T0 + timedelta(minutes=1, seconds=10))
    reading = meter.process(values(3_000), T0 + timedelta(minutes=1, seconds=10))
    assert reading is not None
    # 60 s at 1 kW, then 10 s held at 1 kW: the stored minute counts.
    assert reading.quarter_average_w == pytest.approx(1_000)
