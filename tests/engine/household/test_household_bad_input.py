"""The household's commands and its saved state, given bad input.

NaN, infinite or negative limits and setpoints, departures without a zone
and SoCs outside 0..1 are refused without touching anything; a store that
fails or holds garbage, and a listener that raises, do not keep the
household from starting or from telling the others.
"""

from __future__ import annotations

from datetime import timedelta
import math
from typing import Any

import pytest

from custom_components.stroomwijs.engine.household import (
    Household,
    HouseholdEvent,
    HouseholdPorts,
    MemoryStateStore,
)
from custom_components.stroomwijs.engine.household.forecast import (
    BaseLoadForecaster,
)
from custom_components.stroomwijs.engine.household.runtime import (
    PROBLEM_PLAN_FAILED,
    PlanState,
)
from custom_components.stroomwijs.engine.planner.schema import ProblemError

from .conftest import (
    FAST,
    HomeFactory,
    Reading,
    car,
    day_prices,
    household_config,
    local,
)

START = local(16, 12)


class FailingStore(MemoryStateStore):
    """A store whose disk fails on reading."""

    async def async_load(self) -> object:
        """Fail as a broken disk does."""
        msg = "disk on fire"
        raise OSError(msg)


async def _bare(
    store: MemoryStateStore | None = None,
    solver: Any = None,  # noqa: ANN401
) -> Household:
    """Return a started household without chargers or devices."""
    clock = [START]
    ports = HouseholdPorts(
        clock=lambda: clock[0],
        store=store or MemoryStateStore(),
        realtime=False,
        ocpp_session=FAST,
    )
    if solver is not None:
        ports.solver = solver
    household = Household(household_config(devices=()), ports)
    await household.async_start()
    return household


@pytest.mark.parametrize("value", [math.nan, math.inf, -1.0, 10**400])
async def test_manual_limit_refuses_nan_infinite_and_negative(value: float) -> None:
    """A limit of NaN, Infinity or below zero is refused; the old one stays."""
    household = await _bare()
    try:
        household.set_manual_limit(import_w=5000.0, duration=None, label="mine")
        assert household.limits.import_limit_w == 5000.0
        before = household.limits.import_limit_w
        with pytest.raises(ValueError, match="finite number"):
            household.set_manual_limit(import_w=value, duration=None, label="bad")
        with pytest.raises(ValueError, match="finite number"):
            household.set_manual_limit(
                import_w=3000.0, export_w=value, duration=None, label="bad"
            )
        assert household.limits.import_limit_w == before
        with pytest.raises(ValueError, match="duration"):
            household.set_manual_limit(
                import_w=3000.0, duration=timedelta(minutes=-5), label="bad"
            )
        assert household.limits.import_limit_w == before
    finally:
        await household.async_stop()


async def test_store_that_fails_to_load_does_not_stop_the_start(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A broken store is logged; the household starts from scratch."""
    household = await _bare(FailingStore())
    try:
        assert "Could not load the household's saved state" in caplog.text
        assert household.forecaster.samples() == 0
    finally:
        await household.async_stop()


async def test_an_absurd_number_in_the_saved_forecast_loses_nothing_else() -> None:
    """An integer beyond a float in the saved forecast: prices and the rest load.

    It used to raise OverflowError in the forecaster's restore, which ended
    the whole restore there: the prices, PV forecast and plan were lost.
    """
    store = MemoryStateStore()
    first = await _bare(store)
    first.set_prices(day_prices())
    await first.async_save()
    await first.async_stop()
    assert store.data is not None
    store.data["forecaster"] = {"0:40": [1.5, 10**400, "x", 2.5], "1:3": [10**400]}
    second = await _bare(store)
    try:
        assert second.prices == day_prices()
        assert second.forecaster.to_state() == {"0:40": [1.5, 2.5]}
    finally:
        await second.async_stop()


@pytest.mark.parametrize("stored", [["not", "a", "mapping"], {"version": -1}])
async def test_saved_state_of_the_wrong_shape_is_ignored(
    stored: object,
) -> None:
    """A list, or a state of another version, starts the household from scratch."""
    household = await _bare(MemoryStateStore(stored))  # type: ignore[arg-type]
    try:
        assert household.prices is None
        assert household.forecaster.samples() == 0
    finally:
        await household.async_stop()


def test_forecaster_restore_skips_integers_beyond_a_float() -> None:
    """An integer too big for a float (json reads it exactly) is skipped."""
    forecaster = BaseLoadForecaster(time_zone="Europe/Amsterdam")
    forecaster.restore({"0:40": [1.5, 10**400, 2.5], "1:3": [10**400]})
    assert forecaster.to_state() == {"0:40": [1.5, 2.5]}


async def test_a_failing_listener_does_not_silence_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One listener raising is logged; the next one still hears the change."""
    household = await _bare()
    heard: list[str] = []
    events: list[HouseholdEvent] = []

    def broken() -> None:
        msg = "listener bug"
        raise RuntimeError(msg)

    def broken_event(_event: HouseholdEvent) -> None:
        msg = "event listener bug"
        raise RuntimeError(msg)

    try:
        household.add_listener(broken)
        household.add_listener(lambda: heard.append("changed"))
        household.subscribe(broken_event)
        household.subscribe(events.append)
        household.set_manual_limit(import_w=3000.0, duration=None, label="mine")
        household.notify()
        assert heard
        assert events
        assert "household listener failed" in caplog.text
        household.set_manual_limit(
            import_w=2000.0, duration=timedelta(hours=1), label="lower"
        )
    finally:
        await household.async_stop()


async def test_a_nan_reading_adds_no_energy_to_the_quarter() -> None:
    """A NaN meter reading is skipped: the quarter's forecast sample stays finite."""
    household = await _bare()
    try:
        when = local(16, 12)
        for minute in range(16):
            value = math.nan if minute == 7 else 800.0
            reading = Reading(
                timestamp=when + timedelta(minutes=minute), import_w=value
            )
            await household.async_feed(reading)
        await household.async_feed(
            Reading(timestamp=when + timedelta(minutes=16), import_w=800.0)
        )
        state = household.forecaster.to_state()
        assert len(state) == 1
        (values,) = state.values()
        assert values == [pytest.approx(0.8, abs=0.01)]
    finally:
        await household.async_stop()


async def test_car_commands_refuse_nan_and_zoneless_departures(
    make_home: HomeFactory,
) -> None:
    """A NaN setpoint, a departure without a zone or a SoC of 1.5 is refused."""
    home = await make_home(start=START)
    household = home.household
    home.sim.car = car()
    await home.step()
    with pytest.raises(ValueError, match="not a setpoint"):
        await household.async_set_override("car", math.nan)
    assert household.handle("car").device.manual_setpoint_w is None  # type: ignore[attr-defined]
    naive = (START + timedelta(hours=8)).replace(tzinfo=None)
    with pytest.raises(ValueError, match="zone"):
        household.set_departure("car", {"departure": naive})
    for key in ("target_soc", "min_soc"):
        for bad in (1.5, -0.1, math.nan, 10**400):
            with pytest.raises(ValueError, match=r"within 0\.\.1"):
                household.set_departure("car", {key: bad})
    with pytest.raises(KeyError):
        household.set_departure("no-such-car", {"target_soc": 0.5})


@pytest.mark.parametrize(
    "needs",
    [
        {"min_soc": 10**400},
        {"target_soc": 10**400},
        {"target_soc": True},
        {"min_soc": "nan"},
        {"departure": "tomorrow"},
        "08:00",
    ],
)
async def test_a_saved_departure_of_absurd_values_loses_nothing_else(
    needs: object,
) -> None:
    """A saved departure with a SoC beyond a float (or of text) is skipped alone.

    An integer SoC beyond a float raised OverflowError and ended the restore
    there: the prices (and the forecast, plan and chargers) were lost.
    """
    store = MemoryStateStore()
    first = await _bare(store)
    first.set_prices(day_prices())
    await first.async_save()
    await first.async_stop()
    assert store.data is not None
    store.data["departures"] = {"car": needs}
    second = await _bare(store)
    try:
        assert second.prices == day_prices()
    finally:
        await second.async_stop()


class FlakyStore(MemoryStateStore):
    """A store whose disk is full until told otherwise."""

    full = True

    async def async_save(self, data: dict[str, Any]) -> None:
        """Fail while the disk is full."""
        if self.full:
            msg = "No space left on device"
            raise OSError(msg)
        await super().async_save(data)


async def test_a_failing_save_is_logged_and_tried_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A full disk: logged, the state kept as unsaved, saved once it can be."""
    store = FlakyStore()
    household = await _bare(store)
    try:
        household.set_prices(day_prices())
        await household.async_save()
        assert "Could not save the household's state" in caplog.text
        assert store.data is None
        store.full = False
        await household.async_save()
        assert store.data is not None
        assert store.data["prices"] is not None
    finally:
        await household.async_stop()


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (ProblemError("price series too short"), "invalid_problem"),
        (RuntimeError("HiGHS crashed"), "solver_error"),
    ],
)
async def test_a_failing_solver_is_a_fallback_with_its_cause(
    error: Exception, cause: str
) -> None:
    """The solver raising: no plan, a FALLBACK status and a problem saying why."""

    def broken(_problem: object, _now: object, _previous: object) -> None:
        raise error

    household = await _bare(solver=broken)
    try:
        household.set_prices(day_prices())
        status = await household.async_plan_now()
        assert status.state is PlanState.FALLBACK
        assert household.plan is None
        problem = household.problems[PROBLEM_PLAN_FAILED]
        assert problem.details["cause"] == cause
        assert str(error) in problem.details["error"]
    finally:
        await household.async_stop()
