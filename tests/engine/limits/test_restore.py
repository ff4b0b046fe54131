"""The manual limit across a restart (issue 10, defect 19)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
import math

import pytest

from custom_components.stroomwijs.engine.limits import LimitStack, ManualLimitSource

NOW = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)


def test_an_active_manual_limit_holds_until_its_end_after_a_restart() -> None:
    """3 kW for 30 min, restored 10 min in: 3 kW until the end, then gone."""
    source = ManualLimitSource()
    source.set_limit(
        now=NOW, import_w=3_000, duration=timedelta(minutes=30), label="demo"
    )
    saved = json.loads(json.dumps(source.export_state(), allow_nan=False))
    restored = ManualLimitSource()
    assert restored.restore_state(saved, NOW + timedelta(minutes=10))
    stack = LimitStack([restored])
    during = stack.effective(NOW + timedelta(minutes=29))
    assert during.import_w == 3_000
    assert during.import_source == "manual:demo"
    assert during.until == NOW + timedelta(minutes=30)
    assert stack.effective(NOW + timedelta(minutes=30)).import_w is None


def test_a_limit_that_ended_during_the_restart_is_dropped() -> None:
    """Restored after its end: no limit."""
    source = ManualLimitSource()
    source.set_limit(now=NOW, import_w=3_000, duration=timedelta(minutes=30))
    restored = ManualLimitSource()
    assert not restored.restore_state(source.export_state(), NOW + timedelta(hours=1))
    assert restored.current is None


def test_an_open_ended_limit_survives() -> None:
    """A limit until cleared stays until cleared."""
    source = ManualLimitSource()
    source.set_limit(now=NOW, import_w=None, export_w=0.0, duration=None)
    restored = ManualLimitSource()
    assert restored.restore_state(source.export_state(), NOW + timedelta(days=30))
    assert restored.current is not None
    assert restored.current.export_w == 0.0


def test_no_limit_exports_as_none() -> None:
    """Nothing set: nothing restored."""
    assert not ManualLimitSource().restore_state(
        ManualLimitSource().export_state(), NOW
    )


GOOD = {
    "label": "user",
    "import_w": 3000.0,
    "export_w": None,
    "start": "2026-11-23T17:00:00+00:00",
    "end": "2026-11-23T17:30:00+00:00",
}


@pytest.mark.parametrize(
    "stored",
    [
        None,
        "x",
        {"version": 2, "limit": GOOD},
        {"version": 1, "limit": "x"},
        {"version": 1, "limit": {**GOOD, "import_w": math.nan}},
        {"version": 1, "limit": {**GOOD, "import_w": math.inf}},
        {"version": 1, "limit": {**GOOD, "import_w": -1}},
        {"version": 1, "limit": {**GOOD, "import_w": "3000"}},
        {"version": 1, "limit": {**GOOD, "import_w": None}},
        {"version": 1, "limit": {**GOOD, "label": ""}},
        {"version": 1, "limit": {**GOOD, "label": "x" * 1000}},
        {"version": 1, "limit": {**GOOD, "start": "2026-11-23T17:00:00"}},
        {"version": 1, "limit": {**GOOD, "start": "2027-01-01T00:00Z"}},
        {"version": 1, "limit": {**GOOD, "start": None}},
        {"version": 1, "limit": {**GOOD, "end": "2026-11-23T16:00Z"}},
        {"version": 1, "limit": {**GOOD, "end": "9999-12-31T23:59Z"}},
        {"version": 1, "limit": {**GOOD, "end": "9999-12-31T23:59-14:00"}},
        {"version": 1, "limit": {**GOOD, "end": 12}},
    ],
)
def test_hostile_stored_manual_limits_are_ignored_never_raised(stored: object) -> None:
    """Whatever the store gives back, restoring logs and goes on."""
    source = ManualLimitSource()
    assert not source.restore_state(stored, NOW + timedelta(minutes=1))
    assert source.current is None


@pytest.mark.parametrize("value", [math.nan, math.inf, -5.0, 1e12])
def test_an_absurd_manual_limit_is_refused(value: float) -> None:
    """The service refuses what is not a household's limit."""
    with pytest.raises(ValueError, match=r"manual limit|non-negative"):
        ManualLimitSource().set_limit(now=NOW, import_w=value, duration=None)
