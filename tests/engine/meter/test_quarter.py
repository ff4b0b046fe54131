"""Quarter-hour averages, projections and the monthly peak, DST included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import itertools

from hypothesis import given, strategies as st
import pytest

from custom_components.stroomwijs.engine.grid import GridConnection
from custom_components.stroomwijs.engine.meter.core import Meter
from custom_components.stroomwijs.engine.meter.models import TelegramValues
from custom_components.stroomwijs.engine.meter.quarter import (
    MonthPeakTracker,
    QuarterResult,
    QuarterTracker,
    billing_month,
    project_from_meter,
    quarter_start,
)

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _feed(
    tracker: QuarterTracker, start: datetime, watts: list[float], step: float
) -> list[QuarterResult]:
    done: list[QuarterResult] = []
    for index, power in enumerate(watts):
        done += tracker.add(start + timedelta(seconds=index * step), power)
    return done


def test_quarter_boundaries_are_utc_quarters() -> None:
    """12:14:59 belongs to 12:00, 12:15:00 starts a new quarter."""
    assert quarter_start(T0 + timedelta(minutes=14, seconds=59)) == T0
    assert quarter_start(T0 + timedelta(minutes=15)) == T0 + timedelta(minutes=15)


def test_constant_load_averages_to_itself_and_closes_on_the_boundary() -> None:
    """1 s telegrams of 2 kW for a quarter: the closed quarter averages 2 kW."""
    tracker = QuarterTracker()
    done = _feed(tracker, T0, [2000.0] * 901, 1.0)
    assert len(done) == 1
    assert done[0].start == T0
    assert done[0].average_w == pytest.approx(2000.0)
    assert done[0].coverage == pytest.approx(1.0)


def test_step_in_the_middle_gives_the_time_weighted_average() -> None:
    """1 kW for 10 min then 4 kW for 5 min averages 2 kW."""
    tracker = QuarterTracker()
    done = _feed(tracker, T0, [1000.0] * 600 + [4000.0] * 300 + [0.0], 1.0)
    assert done[0].average_w == pytest.approx(2000.0)


def test_projection_assumes_the_present_power_for_the_rest() -> None:
    """After 5 min at 3 kW, now 0 W: the quarter ends near 1 kW."""
    tracker = QuarterTracker()
    _feed(tracker, T0, [3000.0] * 301, 1.0)
    now = T0 + timedelta(seconds=300)
    assert tracker.average_w() == pytest.approx(3000.0)
    assert tracker.projection_w(now, 0.0) == pytest.approx(1000.0)
    assert tracker.projection_w(now, 3000.0) == pytest.approx(3000.0)


def test_a_gap_does_not_count_as_zero_import() -> None:
    """A 5-minute outage is missing data, not 0 W (the safe side)."""
    tracker = QuarterTracker()
    _feed(tracker, T0, [2000.0] * 60, 1.0)
    tracker.add(T0 + timedelta(minutes=6), 2000.0)
    assert tracker.average_w() == pytest.approx(2000.0)


def test_export_counts_as_zero_import() -> None:
    """Negative import (export) never lowers the average below zero."""
    tracker = QuarterTracker()
    _feed(tracker, T0, [-3000.0] * 10, 1.0)
    assert tracker.average_w() == 0.0


def test_dst_end_night_has_quarters_of_fifteen_real_minutes() -> None:
    """Across 25 Oct 2026 (03:00 CEST -> 02:00 CET) every quarter is 900 s.

    The local hour 02:00-03:00 happens twice; a local-time implementation
    would merge its two occurrences into one eight-quarter hour.
    """
    tracker = QuarterTracker()
    start = datetime(2026, 10, 24, 23, 30, tzinfo=UTC)  # 01:30 CEST
    done = _feed(tracker, start, [1000.0] * (3 * 3600 // 10 + 1), 10.0)
    assert len(done) == 12
    assert all(q.coverage == pytest.approx(1.0) for q in done)
    starts = [q.start for q in done]
    assert all(b - a == timedelta(minutes=15) for a, b in itertools.pairwise(starts))


def test_dst_start_night_has_no_missing_quarters() -> None:
    """Across 29 Mar 2026 (02:00 CET -> 03:00 CEST) quarters stay contiguous."""
    tracker = QuarterTracker()
    start = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)  # 01:00 CET
    done = _feed(tracker, start, [500.0] * (2 * 3600 // 10 + 1), 10.0)
    assert [q.start for q in done] == [
        start + timedelta(minutes=15 * n) for n in range(8)
    ]


def test_meter_reported_average_is_projected_over_the_rest() -> None:
    """1-0:1.4.0 of 2 kW after 10 min and 5 kW now ends at 3 kW."""
    moment = T0 + timedelta(minutes=10)
    assert project_from_meter(2000.0, moment, 5000.0) == pytest.approx(3000.0)


def test_month_peak_is_the_highest_quarter_and_resets_each_local_month() -> None:
    """The peak is kept per local month: 31 Oct 23:00 UTC is already November.

    October's 3 kW quarter does not count once November (local time) began.
    """
    peaks = MonthPeakTracker()
    tracker = QuarterTracker()
    start = datetime(2026, 10, 31, 22, 15, tzinfo=UTC)  # 23:15 CET, October
    watts = [1000.0] * 900 + [3000.0] * 900 + [500.0] * 2700 + [0.0]
    for quarter in _feed(tracker, start, watts, 1.0):
        peaks.add(quarter)
    assert billing_month(datetime(2026, 10, 31, 23, 30, tzinfo=UTC)) == (2026, 11)
    now = start + timedelta(seconds=len(watts))
    peak_w, peak_at = peaks.current(now)
    assert peak_w == pytest.approx(500.0)
    assert peak_at == datetime(2026, 10, 31, 23, 15, tzinfo=UTC)  # first of equals


def test_meter_derives_quarter_and_peak_when_the_meter_does_not() -> None:
    """A Dutch meter: the Meter computes the average, projection and peak."""
    clock = [T0]
    meter = Meter(grid=GridConnection(phases=3, fuse_a=25), clock=lambda: clock[0])
    values = TelegramValues(dsmr_version="5", import_w=2300.0, export_w=0.0)
    for second in range(1801):
        clock[0] = T0 + timedelta(seconds=second)
        reading = meter.process(values)
    assert reading.quarter_average_source == "computed"
    assert reading.quarter_average_w == pytest.approx(2300.0)
    assert reading.quarter_projection_w == pytest.approx(2300.0)
    assert reading.month_peak_w == pytest.approx(2300.0)
    assert reading.month_peak_at == T0 + timedelta(minutes=15)  # first of equals


def test_headroom_takes_the_larger_of_reported_and_derived_current() -> None:
    """A meter reporting 5 A while 2300 W flows at 230 V counts as 10 A."""
    meter = Meter(grid=GridConnection(phases=3, fuse_a=25))
    values = TelegramValues(
        dsmr_version="5",
        import_w=2300.0,
        phase_import_w=(2300.0, 0.0, 0.0),
        phase_export_w=(0.0, 0.0, 460.0),
        phase_currents_a=(5.0, 1.0, 2.0),
        phase_voltages_v=(230.0, 230.0, 230.0),
    )
    reading = meter.process(values, T0)
    assert reading.phase_headroom_a == pytest.approx((15.0, 24.0, 23.0))


@given(
    st.lists(st.floats(min_value=0, max_value=20_000), min_size=2, max_size=200),
    st.floats(min_value=0.1, max_value=20.0),
)
def test_average_stays_between_the_lowest_and_highest_sample(
    watts: list[float], step: float
) -> None:
    """Whatever the load, a quarter's average lies within its samples' range."""
    tracker = QuarterTracker()
    done = _feed(tracker, T0, watts, step)
    open_average = tracker.average_w()
    for average in [q.average_w for q in done] + (
        [open_average] if open_average is not None else []
    ):
        assert min(watts) - 1e-6 <= average <= max(watts) + 1e-6
