"""Combining limit sources, and the failsafe watchdog."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from custom_components.stroomwijs.engine.limits import (
    EffectiveLimit,
    Limit,
    LimitStack,
    ManualLimitSource,
    SignalWatchdog,
    combine,
)

NOW = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)


def test_effective_limit_is_the_minimum_per_direction_with_its_source() -> None:
    """Import and export each take their own lowest active value."""
    limits = [
        Limit(source="a", import_w=5_000, export_w=3_000),
        Limit(source="b", import_w=4_000),
        Limit(source="c", export_w=2_000, start=NOW - timedelta(hours=1)),
        Limit(source="expired", import_w=1_000, end=NOW),
        Limit(source="future", import_w=500, start=NOW + timedelta(seconds=1)),
    ]
    result = combine(NOW, limits)
    assert (result.import_w, result.import_source) == (4_000, "b")
    assert (result.export_w, result.export_source) == (2_000, "c")
    assert result.active


def test_no_source_means_no_limit() -> None:
    """Without active limits there is nothing to hold (the fuse still is)."""
    result = LimitStack().effective(NOW)
    assert result.import_w is None
    assert not result.active
    assert not result.repairs_needed


def test_limit_rejects_bad_values() -> None:
    """Negative values, naive times and empty windows are refused."""
    with pytest.raises(ValueError, match="non-negative"):
        Limit(source="x", import_w=-1)
    with pytest.raises(ValueError, match="aware"):
        Limit(source="x", import_w=1, start=datetime(2026, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="before it starts"):
        Limit(source="x", import_w=1, start=NOW, end=NOW)
    with pytest.raises(ValueError, match="source"):
        Limit(source="", import_w=1)


def test_stack_tells_listeners_about_changes_only() -> None:
    """refresh() calls listeners when the effective limit changes."""
    manual = ManualLimitSource()
    stack = LimitStack([manual])
    seen: list[tuple[EffectiveLimit, EffectiveLimit | None]] = []
    stack.subscribe(lambda new, old: seen.append((new, old)))
    stack.refresh(NOW)
    stack.refresh(NOW + timedelta(seconds=1))
    assert len(seen) == 1
    manual.set_limit(now=NOW, import_w=3_000, duration=timedelta(hours=1))
    stack.refresh(NOW + timedelta(seconds=2))
    assert len(seen) == 2
    assert seen[-1][0].import_source == "manual:user"
    stack.refresh(NOW + timedelta(hours=2))
    assert seen[-1][0].import_w is None


def test_upcoming_lists_future_limits_in_order() -> None:
    """upcoming() finds limits that start within the horizon."""
    manual = ManualLimitSource()
    manual.set_limit(
        now=NOW + timedelta(minutes=30), import_w=3_000, duration=timedelta(hours=1)
    )
    stack = LimitStack([manual])
    assert stack.upcoming(NOW, timedelta(hours=1))[0].import_w == 3_000
    assert stack.upcoming(NOW, timedelta(minutes=10)) == []


def test_watchdog_enters_failsafe_after_timeout_and_holds_two_hours() -> None:
    """Silence beyond the timeout starts the failsafe; it lasts >= 2 h."""
    dog = SignalWatchdog(timeout=timedelta(minutes=15), started=NOW)
    dog.heard(NOW)
    assert dog.failsafe_window(NOW + timedelta(minutes=14)) is None
    window = dog.failsafe_window(NOW + timedelta(minutes=16))
    assert window == (NOW + timedelta(minutes=15), None)
    # The feed comes back after 20 minutes: the failsafe still holds 2 h.
    for minutes in range(20, 140, 5):
        dog.heard(NOW + timedelta(minutes=minutes))
        if minutes < 135:
            held = dog.failsafe_window(NOW + timedelta(minutes=minutes))
            assert held == (NOW + timedelta(minutes=15), NOW + timedelta(minutes=135))
    assert dog.failsafe_window(NOW + timedelta(minutes=136)) is None


def test_watchdog_never_heard_goes_failsafe_after_timeout_from_start() -> None:
    """A feed that never answers is lost one timeout after set-up."""
    dog = SignalWatchdog(timeout=timedelta(minutes=5), started=NOW)
    assert dog.last_heard is None
    assert not dog.lost(NOW + timedelta(minutes=4))
    assert dog.lost(NOW + timedelta(minutes=5))


def test_watchdog_stays_failsafe_while_the_feed_stays_lost() -> None:
    """Long silence never ends in "unlimited"."""
    dog = SignalWatchdog(timeout=timedelta(minutes=5), started=NOW)
    dog.heard(NOW)
    assert dog.failsafe_window(NOW + timedelta(days=3)) is not None


def test_a_failing_limit_listener_does_not_keep_the_others_from_the_limit() -> None:
    """``refresh`` tells every listener, whatever one of them raises."""
    source = ManualLimitSource()
    stack = LimitStack([source])
    heard: list[float | None] = []

    def broken(new: object, old: object) -> None:
        del new, old
        raise RuntimeError

    stack.subscribe(broken)
    stack.subscribe(lambda new, _old: heard.append(new.import_w))
    source.set_limit(now=NOW, import_w=3_000, duration=None)
    assert stack.refresh(NOW).import_w == 3_000
    assert heard == [3_000]
