"""Static windows, manual limits, the P1 message, capacity target, dim input."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from custom_components.stroomwijs.engine.limits import (
    CapacityTariffSource,
    DimInputSource,
    DimMode,
    LimitStack,
    ManualLimitSource,
    P1MessageLimitSource,
    StaticWindowSource,
    TimeWindow,
    connection_limit_w,
    parse_limit_message,
)
from custom_components.stroomwijs.engine.limits.p1_message import MessageFormatError
from custom_components.stroomwijs.engine.limits.windows import WINTER, WORKDAYS

AMS = ZoneInfo("Europe/Amsterdam")


def _at(*args: int) -> datetime:
    return datetime(*args, tzinfo=AMS)  # type: ignore[misc]


def test_window_follows_local_time_in_winter_and_summer() -> None:
    """16:00-21:00 local is 15:00Z in winter and 14:00Z in summer."""
    source = StaticWindowSource(
        [TimeWindow.parse("16:00-21:00", import_w=4_000, label="evening")]
    )
    stack = LimitStack([source])
    winter = stack.effective(datetime(2026, 1, 15, 15, 0, tzinfo=UTC))
    assert winter.import_w == 4_000
    assert winter.until == datetime(2026, 1, 15, 20, 0, tzinfo=UTC)
    assert stack.effective(datetime(2026, 1, 15, 14, 59, tzinfo=UTC)).import_w is None
    summer = stack.effective(datetime(2026, 7, 15, 14, 0, tzinfo=UTC))
    assert summer.import_w == 4_000
    assert stack.effective(datetime(2026, 7, 15, 19, 0, tzinfo=UTC)).import_w is None


@pytest.mark.parametrize("day", [(2026, 3, 29), (2026, 10, 25)])
def test_window_keeps_its_wall_clock_on_dst_change_days(
    day: tuple[int, int, int],
) -> None:
    """On both DST change days the window still starts at 16:00 local."""
    source = StaticWindowSource([TimeWindow.parse("16:00-21:00", import_w=4_000)])
    start = _at(*day, 16, 0)
    (limit,) = source.limits_between(start, start + timedelta(seconds=1))
    assert limit.start == start
    assert limit.end == _at(*day, 21, 0)
    assert limit.end - limit.start == timedelta(hours=5)


def test_window_over_midnight_and_across_the_night_of_dst_end() -> None:
    """22:00-06:00 on the night the clocks go back lasts nine real hours."""
    source = StaticWindowSource([TimeWindow.parse("22:00-06:00", import_w=3_000)])
    start = _at(2026, 10, 24, 22, 0)
    (limit,) = source.limits_between(start, start + timedelta(seconds=1))
    assert limit.end is not None
    assert limit.end - limit.start == timedelta(hours=9)


def test_window_per_weekday_and_season() -> None:
    """A workday winter window is absent on a Saturday and in July."""
    window = TimeWindow.parse(
        "17:00-20:00", import_w=5_000, weekdays=WORKDAYS, months=WINTER
    )
    source = StaticWindowSource([window])
    monday = _at(2026, 11, 23, 18, 0)
    saturday = _at(2026, 11, 28, 18, 0)
    july = _at(2026, 7, 13, 18, 0)
    second = timedelta(seconds=1)
    assert source.limits_between(monday, monday + second)
    assert not source.limits_between(saturday, saturday + second)
    assert not source.limits_between(july, july + second)


def test_window_rejects_nonsense() -> None:
    """Clear errors for malformed windows."""
    with pytest.raises(ValueError, match="HH:MM-HH:MM"):
        TimeWindow.parse("16-21x")
    with pytest.raises(ValueError, match="limit import"):
        TimeWindow(start=time(1), end=time(2))
    with pytest.raises(ValueError, match="weekdays"):
        TimeWindow(start=time(1), end=time(2), import_w=1, weekdays=frozenset({7}))


def test_manual_limit_has_value_duration_and_label() -> None:
    """The manual limit shows its label and ends after its duration."""
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    manual = ManualLimitSource()
    manual.set_limit(
        now=now, import_w=2_500, duration=timedelta(minutes=30), label="installer"
    )
    stack = LimitStack([manual])
    assert stack.effective(now).import_source == "manual:installer"
    assert stack.effective(now + timedelta(minutes=31)).import_w is None
    with pytest.raises(ValueError, match="duration"):
        manual.set_limit(now=now, import_w=1, duration=timedelta(0))


@pytest.mark.parametrize(
    ("text", "import_w", "export_w"),
    [
        ("LIMIT 4.0kW UNTIL 2026-11-23T21:00Z", 4_000, None),
        ("limit 3500W for 90m", 3_500, None),
        ("LIMIT 5kW EXPORT 0kW", 5_000, 0),
        ("LIMIT 2,5 kW FOR 2h", 2_500, None),
    ],
)
def test_p1_message_formats(text: str, import_w: float, export_w: float | None) -> None:
    """Documented examples parse to the right values."""
    parsed = parse_limit_message(text)
    assert parsed is not None
    assert parsed.import_w == import_w
    assert parsed.export_w == export_w


def test_p1_message_is_read_from_hex_and_follows_the_field() -> None:
    """A hex-encoded message sets the limit; emptying the field ends it."""
    now = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    source = P1MessageLimitSource()
    hex_text = b"LIMIT 4.0kW UNTIL 2026-11-23T21:00Z".hex().upper()
    limit = source.feed(hex_text, now)
    assert limit is not None
    assert limit.import_w == 4_000
    assert limit.end == datetime(2026, 11, 23, 21, 0, tzinfo=UTC)
    assert source.feed(hex_text, now + timedelta(seconds=1)) is limit
    assert source.feed("", now + timedelta(seconds=2)) is None
    assert source.feed("Storing op 12-11", now) is None  # other text: no limit


def test_p1_message_garbled_keeps_the_limit_and_reports_it() -> None:
    """A broken LIMIT message never lifts an active limit."""
    now = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    source = P1MessageLimitSource()
    source.feed("LIMIT 4kW", now)
    assert source.feed("LIMIT lots", now) is not None
    assert source.problem(now) is not None
    with pytest.raises(MessageFormatError):
        parse_limit_message("LIMIT 4kW UNTIL 2026-11-23T21:00")  # no zone
    assert source.feed("LIMIT OFF", now) is None
    assert source.problem(now) is None


def test_p1_message_with_past_until_sets_nothing() -> None:
    """An UNTIL in the past is ignored."""
    now = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)
    assert P1MessageLimitSource().feed("LIMIT 4kW UNTIL 2026-11-23T21:00Z", now) is None


def test_capacity_budget_becomes_an_instant_limit_for_the_rest_of_the_quarter() -> None:
    """3 kW budget, 5 min at 4.5 kW so far: 2.25 kW allowed for 10 min."""
    source = CapacityTariffSource(budget_w=3_000)
    start = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
    now = start + timedelta(minutes=5)
    source.observe(now, 4_500)
    assert source.allowed_w(now) == pytest.approx(2_250)
    (limit,) = source.limits_between(now, now + timedelta(seconds=1))
    assert limit.end == start + timedelta(minutes=15)


def test_capacity_target_follows_this_months_peak_and_resets_monthly() -> None:
    """Without a budget the target is the month's peak (floor 2.5 kW)."""
    source = CapacityTariffSource()
    t0 = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)
    assert source.target_w == 2_500
    source.observe(t0 + timedelta(minutes=14), 4_200)
    source.observe(t0 + timedelta(minutes=15), 0)
    assert source.month_peak_w == 4_200
    assert source.target_w == 4_200
    # Brussels midnight: a new month starts, the peak resets.
    source.observe(datetime(2026, 11, 30, 23, 0, tzinfo=UTC), 100)
    assert source.month_peak_w == 0
    assert source.target_w == 2_500


def test_dim_connection_limit_follows_the_german_rule() -> None:
    """4.2 kW + (n-1) * f * 4.2 kW: 3 devices give 10.5 kW."""
    assert connection_limit_w(1) == 4_200
    assert connection_limit_w(3) == pytest.approx(10_500)
    assert connection_limit_w(12) == pytest.approx(4_200 + 11 * 0.45 * 4_200)
    now = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    dim = DimInputSource(devices=3)
    stack = LimitStack([dim])
    assert stack.effective(now).import_w is None
    dim.set_input(on=True, now=now)
    assert stack.effective(now).import_w == pytest.approx(10_500)
    dim.set_input(on=False, now=now)
    assert stack.effective(now).import_w is None


def test_dim_per_device_mode_caps_devices_not_the_connection() -> None:
    """Per-device mode gives each device 4.2 kW and no connection limit."""
    now = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    dim = DimInputSource(devices=2, mode=DimMode.PER_DEVICE)
    dim.set_input(on=True, now=now)
    assert dim.device_cap_w == 4_200
    assert dim.limits_between(now, now + timedelta(seconds=1)) == []
