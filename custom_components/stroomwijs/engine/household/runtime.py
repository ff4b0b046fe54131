"""``Household``: one home's meter, limits, guard, chargers and planner loop.

A host (Home Assistant, the add-on gateway, the simulator) builds a
``Household`` from a :class:`HouseholdConfig` and :class:`HouseholdPorts`
(what the host provides: a clock, a state store, an HTTP session, an
executor, a meter feed of its own). The household wires the engine parts
itself; the host only shows its snapshots and events and hands it commands.

Real time and simulated time: with ``ports.realtime`` (the default) the
household runs its own loops (the guard at telegram rate, a tick every few
seconds). A simulator sets ``realtime=False`` and drives it: it feeds
readings with :meth:`Household.async_feed` and advances time with
:meth:`Household.async_tick`.

The planner loop (model-predictive control): the household re-plans every
``optimiser.replan_minutes`` and on events (a car plugged in or out, a new
or changed limit, new prices or PV forecast, a departure or target change, a
device becoming available or not, a quarter-hour whose energy deviates from
the plan). The solve runs in the host's executor, never on the event loop,
and is bounded in time. A failed or timed-out solve keeps the last valid plan
(or, without one, leaves the devices to the guard's safe rules) and raises
the ``plan_failed`` problem until a solve works again. At each quarter-hour
the plan's setpoints go to the guard, which stays the only controller that
acts on the meter reading.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping
import contextlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
import functools
import logging
import math
import ssl
import time as monotonic_time
from typing import Any, Final
from zoneinfo import ZoneInfo

import aiohttp

from custom_components.stroomwijs.engine.capabilities import (
    DepartureNeeds,
    DeviceUnavailableError,
    PowerSettable,
)
from custom_components.stroomwijs.engine.drivers.entities import EntityPort
from custom_components.stroomwijs.engine.drivers.ocpp import (
    OcppCharger,
    PendingCharger,
    SessionOptions,
)
from custom_components.stroomwijs.engine.grid import GridConnection
from custom_components.stroomwijs.engine.guard import (
    Guard,
    GuardConfig,
    Intervention,
    InterventionKind,
)
from custom_components.stroomwijs.engine.guard.measurement import GridMeasurement
from custom_components.stroomwijs.engine.limits import EffectiveLimit
from custom_components.stroomwijs.engine.limits.base import utc_now
from custom_components.stroomwijs.engine.meter.core import Meter
from custom_components.stroomwijs.engine.meter.models import MeterReading
from custom_components.stroomwijs.engine.planner import (
    Plan,
    Problem,
    ProblemError,
    solve,
)

from .chargers import (
    SHARE_INTERVAL,
    SHARE_STEP_W,
    ChargerForGuard,
    ChargerHandle,
    HouseholdChargers,
    charger_shares,
    charger_side_limit_w as _charger_side_limit_w,
)
from .config import DeviceConfig, HouseholdConfig, OptimiserMode
from .devices import HouseholdDevices, guarded_device
from .forecast import BaseLoadForecaster
from .inputs import InputFormatError, Series
from .limits import HouseholdLimits, build_limits
from .meter import (
    FIRST_READING_TIMEOUT,
    MeterFeed,
    MeterFeedFactory,
    async_first_reading,
    build_meter,
)
from .planning import (
    SLOT,
    PlanInputs,
    baseline_cost_eur,
    build_problem,
    energy_cost_eur,
    plan_energy_cost_eur,
    quarter_floor,
    setpoint_w,
    slot_index,
)
from .state import STATE_VERSION, StateStore

_LOGGER = logging.getLogger(__name__)

REFRESH_INTERVAL: Final = timedelta(seconds=5)
DEVICE_BACK_RETRY: Final = timedelta(seconds=10)
"""How soon a device that answers again but refused its setting is asked again."""
DEVICE_BACK_MAX: Final = timedelta(hours=6)
"""How long a device that answers again may wait for its setting (SG-Ready's
longest minimum time between changes)."""
SAVE_INTERVAL: Final = timedelta(seconds=30)
REPLAN_DEBOUNCE: Final = timedelta(milliseconds=500)
SOLVE_GRACE_S: Final = 2.0
"""Extra time over the solver's own limit before the solve counts as hung."""
PLAN_ATTRIBUTE_SLOTS: Final = 96
PROBLEM_PLAN_FAILED: Final = "plan_failed"
PLAN_FAILURE_TIMEOUT: Final = "timeout"
"""The ``cause`` in a plan_failed problem: the solver did not finish in time."""
PLAN_FAILURE_INVALID: Final = "invalid_problem"
"""The planning problem could not be built from the inputs."""
PLAN_FAILURE_NO_PLAN: Final = "no_plan"
"""The solver ended without a feasible plan."""
PLAN_FAILURE_SOLVER: Final = "solver_error"
"""The solver raised an error."""
PROBLEM_DSO_SIGNAL: Final = "dso_signal_lost"
PROBLEM_NOT_HOLDABLE: Final = "limit_not_holdable"
LIMIT_TRIGGER_W: Final = 100.0
DEVIATION_MIN_SECONDS: Final = 300.0
"""A quarter's deviation from a plan made in it counts after 5 minutes."""

type Clock = Callable[[], datetime]
type Solver = Callable[[Problem, datetime, Plan | None], Plan]
"""Solve a problem at a time, warm-starting from the previous plan (or None)."""
type BlockingRunner = Callable[[Callable[[], Plan]], Awaitable[Plan]]
type EventListener = Callable[[HouseholdEvent], None]
type Spawner = Callable[[Coroutine[Any, Any, Any], str], asyncio.Future[Any]]


def _default_solver(problem: Problem, now: datetime, previous: Plan | None) -> Plan:
    return solve(problem, now=now, warm_start=previous)


async def _run_in_executor(job: Callable[[], Plan]) -> Plan:
    return await asyncio.get_running_loop().run_in_executor(None, job)


class PlanState(StrEnum):
    """What the plan status says."""

    WAITING = "waiting"
    """No plan yet (the first solve has not finished)."""
    OK = "ok"
    TIME_LIMIT = "time_limit"
    """The solver stopped at its time limit with a good plan."""
    FALLBACK = "fallback"
    """The last solve failed: the last valid plan (or the safe rules) hold."""
    OFF = "off"
    """The optimiser is off or disabled: devices follow their own behaviour."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanStatus:
    """The planner's state, for entities and hosts."""

    state: PlanState = PlanState.WAITING
    mode: OptimiserMode | None = None
    """The mode the plan in force was made in."""
    reasons: tuple[str, ...] = ()
    last_replan: datetime | None = None
    next_replan: datetime | None = None
    solve_time_s: float | None = None
    cost_today_eur: float | None = None
    cost_tomorrow_eur: float | None = None
    saving_eur: float | None = None
    """Expected saving over the horizon against the uncontrolled baseline."""


@dataclass(frozen=True, slots=True)
class HouseholdProblem:
    """Something the user should know or fix (a repair issue in HA)."""

    key: str
    details: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class HouseholdEvent:
    """Something that happened: ``kind`` plus data."""

    kind: str
    data: Mapping[str, Any]


@dataclass(slots=True, kw_only=True)
class HouseholdPorts:
    """What the host provides."""

    clock: Clock = utc_now
    store: StateStore | None = None
    session: aiohttp.ClientSession | None = None
    meter_feed: MeterFeedFactory | None = None
    """The host's own meter feed (for the ``entities`` meter source)."""
    run_blocking: BlockingRunner = _run_in_executor
    ssl_context: ssl.SSLContext | None = None
    solver: Solver = _default_solver
    realtime: bool = True
    """Run the guard's own loop at telegram rate (False: a simulator drives it)."""
    spawn: Spawner | None = None
    """Start a background task (Home Assistant: the entry's background tasks)."""
    wake: Callable[[], None] | None = None
    """Set by a host that ticks the household itself (``async_tick`` every few
    seconds): called when something wants a tick soon. Without it the household
    runs its own loop."""
    first_reading_timeout: float = FIRST_READING_TIMEOUT
    entity_port: EntityPort | None = None
    """The host's entities (switches, thermostats, sensors) for driver devices."""
    ocpp_session: SessionOptions | None = None
    """OCPP session timing (tests shorten it); None: the protocol defaults."""


@dataclass(slots=True)
class _QuarterAccount:
    """Energy and device power of the quarter-hour in progress."""

    start: datetime | None = None
    energy_kwh: float = 0.0
    device_kwh: float = 0.0
    seconds: float = 0.0
    last: datetime | None = None
    last_net_kw: float | None = None
    plan_kwh: float = 0.0
    """Energy since the plan in force was made (or since the quarter began)."""
    plan_seconds: float = 0.0


@dataclass(slots=True)
class _Replan:
    reasons: list[str] = field(default_factory=list)
    requested_at: datetime | None = None


class Household:
    """One home: meter, limit sources, guard, chargers and the planner loop."""

    def __init__(self, config: HouseholdConfig, ports: HouseholdPorts) -> None:
        """Build every part; nothing runs until ``async_start``."""
        self.config = config
        self.ports = ports
        self.grid = GridConnection(
            phases=config.grid.phases,
            fuse_a=config.grid.fuse_a,
            voltage_v=config.grid.voltage_v,
        )
        self._zone = ZoneInfo(config.time_zone)
        self.meter: Meter | None = None
        self.feed: MeterFeed | None = None
        if config.meter.source != "none":
            self.meter, self.feed = build_meter(
                config.meter,
                grid=self.grid,
                name=config.name,
                session=ports.session,
                encryption_key=config.secret("meter.encryption_key"),
                token=config.secret("meter.token"),
                feed_factory=ports.meter_feed,
                clock=self._now,
            )
        self.limits: HouseholdLimits = build_limits(
            config, self.grid, clock=self._now, session=ports.session
        )
        self.chargers = HouseholdChargers(
            config,
            ssl_context=ports.ssl_context,
            on_new_charger=self._on_new_charger,
            on_change=self._on_charger_change,
            spawn=self._spawn,
            session=ports.ocpp_session,
        )
        self.devices = HouseholdDevices(
            config, port=ports.entity_port, clock=self._now, session=ports.session
        )
        dim = self.limits.dim
        self.guard = Guard(
            GuardConfig(
                grid=self.grid,
                margin_w=config.guard.margin_w,
                data_timeout=timedelta(seconds=config.guard.data_timeout_s),
            ),
            [*self.chargers.guarded_devices(), *self.devices.guarded_devices()],
            limits=self.limits.stack,
            device_cap_w=(lambda: dim.device_cap_w) if dim is not None else None,
        )
        self._guarded = self.meter is not None or not ports.realtime
        """Whether the guard gets readings (from the meter, or a simulator)."""
        self.forecaster = BaseLoadForecaster(
            time_zone=config.time_zone, weeks=config.forecasts.base_load_weeks
        )
        self.mode: OptimiserMode = config.optimiser.mode
        self.enabled: bool = config.optimiser.enabled
        self.prices: Series | None = None
        self.pv_forecast: Series | None = None
        self.outdoor_forecast: Series | None = None
        self.plan: Plan | None = None
        self.plan_inputs: PlanInputs | None = None
        self.plan_status = PlanStatus()
        self.problems: dict[str, HouseholdProblem] = {}
        self._listeners: list[Callable[[], None]] = []
        self._owed: dict[str, tuple[datetime, datetime]] = {}
        """Devices that answer again and still wait for their setting: since
        when, and when to look again."""
        self._event_listeners: list[EventListener] = []
        self._unsubs: list[Callable[[], None]] = []
        self._tasks: set[asyncio.Future[Any]] = set()
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._replan = _Replan()
        self._replan_lock = asyncio.Lock()
        self._tick_lock = asyncio.Lock()
        self._planned_drivers: set[str] = set()
        self._next_replan: datetime | None = None
        self._applied_slot: datetime | None = None
        self._quarter = _QuarterAccount()
        self._fed_month_peak_w: float | None = None
        """The month peak a simulator's readings carry (no meter of its own)."""
        self._plugged: dict[str, tuple[bool, bool, str | None]] = {}
        self._shares_sent: dict[str, tuple[float | None, datetime]] = {}
        """Per OCPP charger: the share of the DSO limit last sent, and when."""
        self._last_save: datetime | None = None
        self._dirty = False
        self._started = False
        self._saving_soon = False

    def _now(self) -> datetime:
        """Return the host's clock's time, looked up at each call.

        Every part (meter, limit sources, drivers, the guard's loop) reads the
        time through this, so a host or test that replaces ``ports.clock`` moves
        the whole household onto one clock.
        """
        return self.ports.clock()

    # ================================================================ events

    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` whenever any state changes (entities refresh)."""
        self._listeners.append(listener)
        return lambda: _discard(self._listeners, listener)

    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        """Call ``listener(event)`` on limit changes, interventions, plans, problems."""
        self._event_listeners.append(listener)
        return lambda: _discard(self._event_listeners, listener)

    def notify(self) -> None:
        """Tell the listeners something changed."""
        for listener in tuple(self._listeners):
            try:
                listener()
            except Exception:
                _LOGGER.exception("household listener failed")

    def _fire(self, kind: str, data: Mapping[str, Any]) -> None:
        event = HouseholdEvent(kind, data)
        for listener in tuple(self._event_listeners):
            try:
                listener(event)
            except Exception:
                _LOGGER.exception("household event listener failed")

    def _raise_problem(self, key: str, details: Mapping[str, str]) -> None:
        problem = HouseholdProblem(key, dict(details))
        if self.problems.get(key) == problem:
            return
        self.problems[key] = problem
        self._fire("problem", {"key": key, "active": True, "details": dict(details)})

    def _clear_problem(self, key: str) -> None:
        if self.problems.pop(key, None) is not None:
            self._fire("problem", {"key": key, "active": False, "details": {}})

    # ================================================================ lifecycle

    async def async_start(self) -> None:
        """Restore state, wait for the meter, start chargers, loops and the planner.

        Raises ``NoReadingError`` when the meter gives no first reading, and
        ``OSError`` when the OCPP central system cannot listen; everything
        started is stopped again before it raises.
        """
        await self._async_load_state()
        try:
            if self.meter is not None and self.feed is not None:
                await async_first_reading(
                    self.meter, self.feed, self.ports.first_reading_timeout
                )
                self._unsubs.append(self.meter.subscribe(self._on_reading))
                self._unsubs.append(
                    self.meter.subscribe_availability(self.guard.feed_availability)
                )
            await self.chargers.async_start()
            await self.devices.async_start()
        except BaseException:
            await self._async_stop_parts()
            raise
        try:
            await self._async_start_running()
        except BaseException:
            self._started = False
            await self._async_stop_parts()
            raise

    async def _async_start_running(self) -> None:
        self._started = True
        self._unsubs.append(self.limits.stack.subscribe(self._on_limit_change))
        self._unsubs.append(self.guard.subscribe(self._on_intervention))
        # What a DSO's VTN has announced is saved as it comes (a restart while
        # the VTN does not answer still holds it).
        self._unsubs.extend(ven.subscribe(self._save_soon) for ven in self.limits.vens)
        for handle in self.chargers.handles.values():
            self._plugged[handle.device_id] = _charger_state(handle)
        if self.meter is not None and self.meter.last_reading is not None:
            # The guard knows the grid before anything is asked of it: with no
            # reading it would hold every rise back (the safe side) until its
            # loop had seen one.
            await self.guard.async_process(self.meter.last_reading)
        effective = self.limits.refresh(self.ports.clock())
        # The charger-side limit is the DSO's share only: whatever a charger
        # kept from before (a cap of the guard's, say) is replaced now, or on
        # its reconnect; with a reading, each charger's share follows at once.
        await self._async_send_charger_limits(_charger_side_limit_w(effective))
        await self._async_update_shares(self.ports.clock())
        await self._async_reassert()
        if self.ports.realtime:
            self._start_loops()
        self.request_replan("start")
        self.notify()

    async def _async_load_state(self) -> None:
        if self.ports.store is None:
            return
        try:
            stored = await self.ports.store.async_load()
        except Exception:
            _LOGGER.exception("Could not load the household's saved state")
            return
        try:
            self._restore(stored, self.ports.clock())
        except Exception:
            # Each part guards itself; whatever slips through must not keep
            # the household (and its guard) from starting.
            _LOGGER.exception("The household's saved state was partly ignored")

    def _start_loops(self) -> None:
        if self.meter is not None:
            self._spawn(self.guard.async_run(self._stop, self._now), "guard")
        if self.ports.wake is None:
            self._spawn(self._async_loop(), "household loop")
        for ven in self.limits.vens:
            self._spawn(ven.async_run(self._stop), f"OpenADR VEN {ven.ean}")

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        self._spawn_task(coro, name)

    def _spawn_task(
        self, coro: Coroutine[Any, Any, Any], name: str
    ) -> asyncio.Future[Any]:
        title = f"stroomwijs {self.config.name} {name}"
        if self.ports.spawn is not None:
            task = self.ports.spawn(coro, title)
        else:
            task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def async_stop(self) -> None:
        """Stop every loop and connection, and save the state."""
        self._stop.set()
        self._wake.set()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._started:
            await self.async_save()
        self._started = False
        await self._async_stop_parts()

    async def _async_stop_parts(self) -> None:
        for unsub in self._unsubs:
            unsub()
        self._unsubs.clear()
        await self.chargers.async_stop()
        await self.devices.async_stop()
        if self.feed is not None:
            await self.feed.stop()

    # ================================================================ readings

    def _on_reading(self, reading: MeterReading) -> None:
        """Hand every telegram to the guard and the quarter account.

        The guard feeds the limit sources (the P1 text message among them),
        each in its own error handling.
        """
        if self.ports.realtime:
            self.guard.feed(reading)
        self._account(reading)

    async def async_feed(self, reading: GridMeasurement) -> None:
        """Process one reading now, in simulated time (the guard acts at once)."""
        await self.guard.async_process(reading)
        self._account(reading)
        # A simulated meter carries the month's peak as the P1 meter's
        # reading does (a Belgian meter's 1-0:1.6.0, or the meter's own
        # tracker); the planner's capacity tariff starts from it.
        peak = getattr(reading, "month_peak_w", None)
        self._fed_month_peak_w = (
            float(peak)
            if isinstance(peak, int | float)
            and not isinstance(peak, bool)
            and math.isfinite(peak)
            and peak >= 0.0
            else None
        )

    def _device_power_kw(self) -> float:
        total = self.devices.power_kw()
        for handle in self.chargers.handles.values():
            power = handle.device.power_w
            if power is not None and math.isfinite(power):
                total += power / 1000.0
        return total

    def _account(self, reading: GridMeasurement) -> None:
        net = reading.net_power_w
        if not math.isfinite(net):
            return
        when = reading.timestamp
        quarter = self._quarter
        start = quarter_floor(when)
        if quarter.start is not None and start != quarter.start:
            self._close_quarter()
            quarter = self._quarter
        if quarter.start is None:
            quarter.start = start
        if quarter.last is not None and quarter.last_net_kw is not None:
            seconds = min((when - quarter.last).total_seconds(), 60.0)
            if seconds > 0:
                quarter.energy_kwh += quarter.last_net_kw * seconds / 3600.0
                quarter.device_kwh += self._device_power_kw() * seconds / 3600.0
                quarter.seconds += seconds
                quarter.plan_kwh += quarter.last_net_kw * seconds / 3600.0
                quarter.plan_seconds += seconds
        quarter.last = when
        quarter.last_net_kw = net / 1000.0

    def _close_quarter(self) -> None:
        quarter = self._quarter
        self._quarter = _QuarterAccount()
        if quarter.start is None or quarter.seconds < 600:  # noqa: PLR2004
            return
        hours = quarter.seconds / 3600.0
        uncontrolled_kw = (quarter.energy_kwh - quarter.device_kwh) / hours
        if self.pv_forecast is not None:
            pv = self.pv_forecast.average(quarter.start, quarter.start + SLOT)
            uncontrolled_kw += pv or 0.0
        self.forecaster.observe(quarter.start, uncontrolled_kw)
        self._dirty = True
        plan = self.plan
        if plan is None or quarter.plan_seconds < DEVIATION_MIN_SECONDS:
            return
        # The plan's slot for this quarter: a whole one, or, for a plan made
        # during it, the partial first slot from then to the quarter's end.
        # What the meter measured since that plan was made is compared with
        # it, as a quarter-hour's worth.
        index = slot_index(plan, quarter.start + SLOT - timedelta(microseconds=1))
        if index is None:
            return
        planned_kwh = (plan.import_kw[index] - plan.export_kw[index]) * 0.25
        measured_kwh = quarter.plan_kwh * (900.0 / quarter.plan_seconds)
        if abs(measured_kwh - planned_kwh) >= self.config.optimiser.deviation_kwh:
            self.request_replan(
                f"the last quarter-hour used {measured_kwh:.2f} kWh, "
                f"the plan expected {planned_kwh:.2f} kWh"
            )

    # ================================================================ limits

    async def _async_send_charger_limits(self, limit_w: float | None) -> None:
        for gd in self.guard.devices:
            if isinstance(gd.device, ChargerForGuard):
                try:
                    await gd.device.async_set_dso_limit(limit_w)
                except Exception:
                    _LOGGER.exception("charger-side limit for %s failed", gd.device_id)

    async def _async_update_shares(self, now: datetime) -> None:
        """Give each OCPP charger its share of what the house leaves free.

        While a DSO limit is active, each charger's station limit is its
        setpoint plus an equal part of what the limit (less the guard's
        margin) leaves beyond the house and every charger's setpoint
        (:func:`.chargers.charger_shares`). It is what holds the limit when
        the household is gone longer than a setpoint's offline validity,
        and what a car plugged in draws before the guard's first setpoint.
        A share moves on a change of at least ``SHARE_STEP_W``, at most
        every ``SHARE_INTERVAL`` (the guard raises it at once for what it
        grants). Without a fresh reading the shares stay as they are.
        """
        chargers = [
            gd.device
            for gd in self.guard.devices
            if isinstance(gd.device, ChargerForGuard)
        ]
        if not chargers:
            return
        shares = self._shares_now(now, chargers)
        if shares is None:
            return
        for device, share in zip(chargers, shares, strict=True):
            if not self._share_due(device, share, now):
                continue
            self._shares_sent[device.device_id] = (share, now)
            try:
                await device.async_set_share(share)
            except Exception:
                _LOGGER.exception("charger-side share for %s failed", device.device_id)

    def _shares_now(
        self, now: datetime, chargers: list[ChargerForGuard]
    ) -> list[float | None] | None:
        """Each charger's share now (None each: no DSO limit; None: no reading)."""
        effective = self.limits.effective
        limit_w = None if effective is None else _charger_side_limit_w(effective)
        if limit_w is None:
            return [None] * len(chargers)
        status = self.guard.status()
        net = status.measured_w
        if (
            status.data_lost
            or net is None
            or not math.isfinite(net)
            or status.timestamp is None
            or now - status.timestamp > self.guard.config.data_timeout
        ):
            return None
        house = net
        for device in chargers:
            seen = device.power_w
            if seen is None or not math.isfinite(seen):
                seen = device.setpoint_w or 0.0
            house -= seen
        return list(
            charger_shares(
                limit_w - self.guard.config.margin_w,
                house,
                [device.setpoint_w or 0.0 for device in chargers],
            )
        )

    def _share_due(
        self, device: ChargerForGuard, share: float | None, now: datetime
    ) -> bool:
        """Whether the station limit a share gives is far enough from the one in force.

        Compared with the limit in force, not with the last share sent: a
        grant that raised the station limit and was cut again since leaves
        the share the same, but the limit in force too high.
        """
        sent = self._shares_sent.get(device.device_id)
        if sent is None:
            return True
        last, at = sent
        if (last is None) != (share is None):
            return True
        wanted = device.station_limit_for(share)
        in_force = device.station_limit_w
        if wanted == in_force:
            return False
        if wanted is None or in_force is None:
            return True
        return abs(wanted - in_force) >= SHARE_STEP_W and now - at >= SHARE_INTERVAL

    def _on_limit_change(self, new: EffectiveLimit, old: EffectiveLimit | None) -> None:
        self.limits.effective = new
        charger_limit = _charger_side_limit_w(new)
        if old is None or _charger_side_limit_w(old) != charger_limit:
            # The shares are worked out anew from the new limit at the next
            # tick, not held back by the interval.
            self._shares_sent.clear()
            sent = [
                self._spawn_task(
                    gd.device.async_set_dso_limit(charger_limit),
                    f"charger-side limit {gd.device_id}",
                )
                for gd in self.guard.devices
                if isinstance(gd.device, ChargerForGuard)
            ]
            before = None if old is None else _charger_side_limit_w(old)
            if (
                old is not None
                and self._guarded
                and sent
                and (
                    charger_limit is None
                    or (before is not None and charger_limit > before)
                )
            ):
                # A raised limit widens the chargers' range only once it has
                # reached them; the guard then re-sends what plan or override
                # call for (a car held at 0 W by a window below its minimum
                # would otherwise wait for the next quarter-hour, or, with the
                # optimiser off, for ever).
                self._spawn(self._async_reassert_after_limit(sent), "reassert")
        if old is not None:
            self._fire(
                "limit_changed",
                {
                    "import_limit_w": new.import_w,
                    "export_limit_w": new.export_w,
                    "source": new.import_source,
                    "failsafe": new.failsafe,
                },
            )
            if _limit_moved(old, new):
                self.request_replan("the grid limit changed")
        if new.problems:
            self._raise_problem(
                PROBLEM_DSO_SIGNAL, {"problem": "; ".join(new.problems)}
            )
        else:
            self._clear_problem(PROBLEM_DSO_SIGNAL)
        self.notify()

    async def _async_reassert_after_limit(
        self, sent: list[asyncio.Future[Any]]
    ) -> None:
        await asyncio.wait(sent, timeout=30.0)
        try:
            await self.guard.async_reassert(self.ports.clock())
        except Exception:
            _LOGGER.exception("could not re-send the setpoints after a limit rise")

    def _on_intervention(self, item: Intervention) -> None:
        if item.kind is InterventionKind.LIMIT_CHANGED:
            return  # the limit stack reports limit changes itself
        self._dirty = True
        if item.kind is InterventionKind.LIMIT_NOT_HOLDABLE:
            self._raise_problem(
                PROBLEM_NOT_HOLDABLE,
                {
                    "shortfall_w": f"{item.shortfall_w or 0.0:.0f}",
                    "limit_w": f"{item.limit_w or 0.0:.0f}",
                },
            )
        elif item.kind is InterventionKind.LIMIT_HOLDABLE:
            self._clear_problem(PROBLEM_NOT_HOLDABLE)
        self._fire(
            item.kind.value,
            {
                "device_id": item.device_id,
                "from_w": item.from_w,
                "to_w": item.to_w,
                "reason": item.reason,
                "limit_w": item.limit_w,
                "measured_w": item.measured_w,
                "shortfall_w": item.shortfall_w,
            },
        )
        self.notify()

    # ================================================================ chargers

    def _on_new_charger(self, pending: PendingCharger) -> None:
        self._fire(
            "new_charger",
            {
                "charger_id": pending.charger_id,
                "protocol": pending.protocol,
                "vendor": pending.vendor,
                "model": pending.model,
            },
        )

    def _on_charger_change(self, handle: ChargerHandle) -> None:
        state = _charger_state(handle)
        before = self._plugged.get(handle.device_id)
        self._plugged[handle.device_id] = state
        self._dirty = True
        if self._started and state[0] and (before is None or before != state):
            # Back, or a car came: it gets what its override or the plan say,
            # never what it last held before it went away.
            self._spawn(self._async_reassert_device(handle), "reassert")
        if before is not None and before[:2] != state[:2]:
            what = (
                "plugged in"
                if state[1] and not before[1]
                else (
                    "unplugged"
                    if before[1] and not state[1]
                    else ("available" if state[0] else "unavailable")
                )
            )
            self.request_replan(f"{handle.title} {what}")
        self.notify()

    # ================================================================ commands

    def set_manual_limit(
        self,
        *,
        import_w: float | None,
        duration: timedelta | None,
        label: str,
        export_w: float | None = None,
    ) -> None:
        """Set the manual grid limit (ValueError on a bad value or duration)."""
        for value in (import_w, export_w):
            if value is not None and not _finite_watts(value):
                msg = f"a limit must be a finite number of W, not {str(value)[:24]}"
                raise ValueError(msg)
        now = self.ports.clock()
        self.limits.manual.set_limit(
            now=now,
            import_w=import_w,
            duration=duration,
            label=label,
            export_w=export_w,
        )
        self.limits.refresh(now)
        self._save_soon()
        self.notify()

    def clear_manual_limit(self) -> None:
        """Remove the manual grid limit."""
        self.limits.manual.clear()
        self.limits.refresh(self.ports.clock())
        self._save_soon()
        self.notify()

    def handle(self, device_id: str) -> ChargerHandle:
        """Return the charger with this id (KeyError if none)."""
        return self.chargers.handles[device_id]

    async def async_set_override(
        self, device_id: str, setpoint_w: float | None
    ) -> None:
        """Boost or pause a charger (None: back to the plan); the DSO limit holds.

        The charger keeps the override (it survives a restart in its
        snapshot) and the guard follows it instead of the plan, capping it
        only where the limit needs that.
        """
        handle = self.handle(device_id)
        if setpoint_w is not None and not math.isfinite(setpoint_w):
            msg = f"not a setpoint: {setpoint_w}"
            raise ValueError(msg)
        # Under a guard the override is only recorded on the charger: the
        # guard sends what the limit leaves of it (sent in full first, a boost
        # drew up to the charger-side limit on top of the house until capped).
        await handle.async_manual(setpoint_w, send=not self._guarded)
        await self._async_set_override(
            handle.device.device_id, setpoint_w, self.ports.clock()
        )
        self._save_soon()
        self.notify()

    async def _async_set_plan(
        self, guard_id: str, setpoint_w: float, now: datetime
    ) -> None:
        """Give a device a planned setpoint: through the guard, which may cap it.

        Without a meter there is nothing to guard with: the setpoint goes to
        the device (a charger still holds its charger-side DSO limit).
        """
        if self._guarded:
            await self.guard.async_set_plan(guard_id, setpoint_w, now)
            return
        if guard_id in self.devices.overrides:
            return  # the user's boost or block wins
        for gd in self.guard.devices:
            if gd.device_id == guard_id and isinstance(gd.device, PowerSettable):
                if getattr(gd.device, "manual_setpoint_w", None) is not None:
                    return  # the user's override wins
                rng = gd.device.power_range
                try:
                    await gd.device.async_set_power(
                        rng.clamp(setpoint_w, allow_pause=gd.pause_allowed)
                    )
                except DeviceUnavailableError as err:
                    _LOGGER.debug("Plan for %s not applied: %s", guard_id, err)

    async def _async_set_override(
        self, guard_id: str, setpoint_w: float | None, now: datetime
    ) -> None:
        """Tell the guard of the user's override (it still holds the limit)."""
        if self._guarded:
            await self.guard.async_set_override(guard_id, setpoint_w, now)

    async def _async_reassert_device(self, handle: ChargerHandle) -> None:
        device = handle.device
        now = self.ports.clock()
        manual = device.manual_setpoint_w if isinstance(device, OcppCharger) else None
        try:
            if manual is not None:
                await self._async_set_override(device.device_id, manual, now)
                return
            planned = (
                None
                if self.plan is None or self.plan_inputs is None
                else setpoint_w(self.plan, handle.device_id, now)
            )
            if planned is None and self.plan_status.state is PlanState.WAITING:
                return
            await self._async_set_plan(
                device.device_id,
                _full_power_w(device) if planned is None else planned,
                now,
            )
        except Exception:
            _LOGGER.exception("could not give %s its setpoint", handle.title)

    async def _async_reassert(self) -> None:
        """After a start, every device gets what its override or the plan calls for.

        A restart must leave no device stuck at an old setpoint: restored
        overrides go back to the guard, and every other charger gets the
        plan's setpoint (or, without a plan, its own behaviour).
        """
        now = self.ports.clock()
        for handle in self.chargers.handles.values():
            device = handle.device
            manual = (
                device.manual_setpoint_w if isinstance(device, OcppCharger) else None
            )
            if manual is not None:
                with contextlib.suppress(Exception):
                    await self._async_set_override(device.device_id, manual, now)
        await self._async_reassert_overrides(now)
        await self._async_apply_plan(force=True)
        if self._guarded:
            await self.guard.async_reassert(now)

    def set_departure(self, device_id: str, changes: Mapping[str, Any]) -> None:
        """Change a car's departure time, target or minimum SoC, and re-plan."""
        handle = self.handle(device_id)
        departure = changes.get("departure")
        if departure is not None and (
            not isinstance(departure, datetime) or departure.tzinfo is None
        ):
            raise ValueError("departure must be a time with a zone")
        for key in ("target_soc", "min_soc"):
            value = changes.get(key)
            if value is not None and not _fraction(value):
                msg = f"{key} must be within 0..1"
                raise ValueError(msg)
        handle.set_departure(changes)
        self._save_soon()
        self.request_replan(f"{handle.title}: departure or target changed")
        self.notify()

    def set_device_planned(self, device_id: str, *, planned: bool) -> None:
        """Put a heat pump, boiler or appliance in the plan, or leave it to itself.

        Left out, it follows its own thermostat or cycle; the guard still
        holds the limit with it. KeyError for an unknown device.
        """
        driver = self.devices.drivers[device_id]
        if planned:
            self.devices.unplanned.discard(device_id)
        else:
            self.devices.unplanned.add(device_id)
        self._save_soon()
        self.request_replan(
            f"{driver.name}: " + ("planned again" if planned else "left to itself")
        )
        self.notify()

    async def async_add_device(
        self, device: DeviceConfig, secrets: Mapping[str, str] | None = None
    ) -> None:
        """Add a heat pump, boiler or appliance while the household runs.

        The meter, the guard and the chargers carry on. The driver is built
        (ConfigError if it cannot be), started and read once, put under the
        guard with its kind's priority, and a new plan is asked for.
        ``secrets`` holds the device's password (``devices.<id>.password``).
        ValueError for an id in use or a device that is not a ``driver``.
        """
        if device.kind != "driver":
            msg = f"{device.id}: only driver devices are added while running"
            raise ValueError(msg)
        if self.config.device(device.id) is not None:
            msg = f"{device.id} is in the household already"
            raise ValueError(msg)
        own = {
            k: v
            for k, v in (secrets or {}).items()
            if k.startswith(f"devices.{device.id}.")
        }
        self.devices.secrets.update(own)
        try:
            driver = await self.devices.async_add(device)
        except Exception:
            for key in own:
                self.devices.secrets.pop(key, None)
            raise
        await self.guard.async_add_device(guarded_device(driver))
        self.config = replace(
            self.config,
            devices=(*self.config.devices, device),
            secrets={**self.config.secrets, **own},
        )
        self.request_replan(f"{device.name} added")
        self.notify()

    async def async_remove_device(self, device_id: str) -> None:
        """Take a heat pump, boiler or appliance out while the household runs.

        The guard lets go of it first, then the device is left to its own
        rules (see ``HouseholdDevices.async_remove``) and the plan is made
        again without it. KeyError for an unknown driver device.
        """
        if device_id not in self.devices.drivers:
            raise KeyError(device_id)
        await self.guard.async_remove_device(device_id)
        self.devices.overrides.pop(device_id, None)
        self._planned_drivers.discard(device_id)
        if self.plan_inputs is not None:
            self.plan_inputs.device_map.pop(device_id, None)
        driver = await self.devices.async_remove(device_id)
        prefix = f"devices.{device_id}."
        for key in [k for k in self.devices.secrets if k.startswith(prefix)]:
            del self.devices.secrets[key]
        self.config = replace(
            self.config,
            devices=tuple(d for d in self.config.devices if d.id != device_id),
            secrets={
                k: v for k, v in self.config.secrets.items() if not k.startswith(prefix)
            },
        )
        self._save_soon()
        self.request_replan(f"{driver.name} removed")
        self.notify()

    def set_socket_address(self, device_id: str, host: str, port: int) -> None:
        """Reach a device's HomeWizard Energy Socket at a new address, running.

        KeyError when the device is not on a socket, ValueError for an
        address that is not one. The device goes on; only its socket moves.
        """
        socket = self.devices.sockets[device_id]
        socket.move(host, port)
        self.config = replace(
            self.config,
            devices=tuple(
                replace(
                    d,
                    driver={
                        **d.driver,
                        "socket": {**d.driver["socket"], "host": host, "port": port},
                    },
                )
                if d.id == device_id
                else d
                for d in self.config.devices
            ),
        )
        self.notify()

    async def async_set_device_override(
        self, device_id: str, mode: str | None, duration: timedelta | None = None
    ) -> None:
        """Boost or block a heat pump or boiler for ``duration``; None: the plan again.

        The override wins over the plan (the device leaves the plan until it
        ends); the guard still holds the DSO limit and the fuse with it and
        says so when it holds an override back (``override_limited``). The
        device's own rules still hold: ``OverrideRefusedError`` (a ValueError,
        with a reason code) when they forbid it now; KeyError for an unknown
        device. It survives a restart and ends by itself.
        """
        driver = self.devices.drivers[device_id]
        now = self.ports.clock()
        if mode is None:
            if self.devices.overrides.pop(device_id, None) is None:
                return
            await self._async_set_override(device_id, None, now)
            if _pinned(driver) or not driver.available:
                # Its own rules hold it where the override left it (an
                # SG-Ready pump within its minimum time between changes), or
                # it does not answer: it gets its setting once it can.
                self._owed[device_id] = (now, now + DEVICE_BACK_RETRY)
            self.request_replan(f"{driver.name}: manual setting ended")
        else:
            if duration is None:
                msg = "a boost or block needs a duration"
                raise ValueError(msg)
            before = self.devices.overrides.get(device_id)
            override = self.devices.set_override(device_id, mode, duration)
            try:
                await self._async_device_override(device_id, override.setpoint_w, now)
            except Exception:
                if before is None:
                    self.devices.overrides.pop(device_id, None)
                else:
                    self.devices.overrides[device_id] = before
                raise
            self.request_replan(
                f"{driver.name}: manual {mode} until "
                f"{override.until.isoformat(timespec='minutes')}"
            )
        self._save_soon()
        self.notify()

    async def _async_device_override(
        self, device_id: str, setpoint_w: float, now: datetime
    ) -> None:
        """Give a driver the user's setpoint: through the guard if there is one."""
        if self._guarded:
            await self.guard.async_set_override(device_id, setpoint_w, now)
            return
        driver = self.devices.drivers[device_id]
        if isinstance(driver, PowerSettable):
            await driver.async_set_power(setpoint_w)

    def _replan_for_availability(self) -> None:
        """Re-plan for each heat pump, boiler or appliance that went or came back.

        (A charger's availability comes with its own change events.)
        """
        changed, self.devices.availability_changed = (
            self.devices.availability_changed,
            {},
        )
        for device_id, available in sorted(changed.items()):
            driver = self.devices.drivers.get(device_id)
            if driver is None:
                continue
            what = "available" if available else "unavailable"
            self.request_replan(f"{driver.name} became {what}")

    async def _async_devices_back(self, now: datetime) -> None:
        """Give devices that answer again what they should be doing now.

        While a device did not answer (its Home Assistant away from the
        gateway, a Modbus link down) commands to it failed: an override
        that ended, a plan step or a release may have been missed, and the
        device would stay where it was (a heat pump blocked). Its override,
        or else what the guard or the plan wants of it, is sent again; a
        curtailment by the guard stays until the guard releases it; before
        the first plan, the plan gives it its setting. A device whose own
        rules pin it where it is for now (an SG-Ready pump
        within its minimum time between changes) gets it once they let it
        go (looked at every ``DEVICE_BACK_RETRY``, for at most
        ``DEVICE_BACK_MAX``); one that refuses is asked again as often.
        """
        back, self.devices.came_back = self.devices.came_back, set()
        for device_id in back:
            self._owed[device_id] = (now, now)
        for device_id, (since, due) in sorted(self._owed.items()):
            driver = self.devices.drivers.get(device_id)
            if due > now:
                continue
            if driver is None or now - since > DEVICE_BACK_MAX:
                del self._owed[device_id]
                continue
            if _pinned(driver):
                self._owed[device_id] = (since, now + DEVICE_BACK_RETRY)
                continue
            _LOGGER.info("%s answers again; giving it its setting", device_id)
            try:
                done = await self._async_give_setting(device_id, now)
            except Exception:
                _LOGGER.exception("could not bring %s back to its setting", device_id)
                done = False
            if done:
                del self._owed[device_id]
            else:
                self._owed[device_id] = (since, now + DEVICE_BACK_RETRY)

    async def _async_give_setting(self, device_id: str, now: datetime) -> bool:
        """Send a device its override, or what the guard or plan wants of it."""
        override = self.devices.overrides.get(device_id)
        if override is not None and override.until > now:
            await self._async_device_override(device_id, override.setpoint_w, now)
            return True
        if self.plan_status.state is PlanState.WAITING:
            return True  # no plan yet: the first one gives every device its own
        if self._guarded:
            return await self.guard.async_device_back(device_id, now)
        # No guard: the plan's slot is sent to every device again.
        self._applied_slot = None
        return True

    async def _async_expire_overrides(self, now: datetime) -> None:
        for device_id in self.devices.expired_overrides(now):
            try:
                await self.async_set_device_override(device_id, None)
            except Exception:
                _LOGGER.exception("could not end the override of %s", device_id)

    async def _async_reassert_overrides(self, now: datetime) -> None:
        """After a start: overrides in force go to the guard, ended ones are lifted."""
        held = set(self.guard.status().overrides) if self._guarded else set()
        for device_id in self.devices.drivers:
            override = self.devices.overrides.get(device_id)
            try:
                if override is not None:
                    await self._async_device_override(
                        device_id, override.setpoint_w, now
                    )
                elif device_id in held:
                    await self._async_set_override(device_id, None, now)
            except Exception:
                _LOGGER.exception("could not restore the override of %s", device_id)

    async def async_run_before(self, device_id: str, finish_by: datetime) -> None:
        """Arm an appliance (or move its deadline) to be done by ``finish_by``.

        KeyError for a device that is not an appliance; ValueError for a
        deadline that has passed or a cycle that already runs.
        """
        await self.devices.async_run_before(device_id, finish_by)
        self._appliance_changed(device_id, "deadline set")

    async def async_arm_appliance(self, device_id: str) -> None:
        """Arm an appliance with its default deadline; the plan starts it."""
        await self.devices.async_arm(device_id)
        self._appliance_changed(device_id, "armed")

    async def async_disarm_appliance(self, device_id: str) -> None:
        """Disarm an appliance that waits for its planned start."""
        await self.devices.async_disarm(device_id)
        self._appliance_changed(device_id, "disarmed")

    def _appliance_changed(self, device_id: str, what: str) -> None:
        self._save_soon()
        self.request_replan(f"{self.devices.drivers[device_id].name}: {what}")
        self.notify()

    def set_mode(self, mode: OptimiserMode) -> None:
        """Choose what the planner optimises (off: no plan)."""
        self.mode = OptimiserMode(mode)
        self._save_soon()
        self.request_replan(f"mode set to {self.mode.value}")

    def set_enabled(self, enabled: bool) -> None:  # noqa: FBT001
        """Switch the optimiser on or off (the guard always holds the limit)."""
        self.enabled = bool(enabled)
        self._save_soon()
        self.request_replan("optimiser switched " + ("on" if enabled else "off"))

    def set_prices(self, prices: Series | None) -> None:
        """Take new day-ahead prices (EUR/kWh, before markup, tax and VAT)."""
        if prices == self.prices:
            return
        self.prices = prices
        self._dirty = True
        self.request_replan("new prices" if prices is not None else "prices gone")

    def set_pv_forecast(self, forecast: Series | None) -> None:
        """Take a new PV forecast (kW)."""
        if forecast == self.pv_forecast:
            return
        self.pv_forecast = forecast
        self._dirty = True
        self.request_replan("new PV forecast")

    def set_outdoor_forecast(self, forecast: Series | None) -> None:
        """Take an outdoor temperature forecast (°C) for the heat pumps."""
        if forecast == self.outdoor_forecast:
            return
        self.outdoor_forecast = forecast
        if self.devices.drivers:
            self.request_replan("new outdoor forecast")

    def set_dim_input(self, *, on: bool) -> None:
        """Follow the §14a dim input."""
        dim = self.limits.dim
        if dim is None:
            return
        now = self.ports.clock()
        dim.set_input(on=on, now=now)
        self.limits.refresh(now)
        self.notify()

    def request_replan(self, reason: str) -> None:
        """Re-plan soon (requests within a couple of seconds are combined)."""
        replan = self._replan
        if reason not in replan.reasons:
            replan.reasons.append(reason)
        if replan.requested_at is None:
            replan.requested_at = self.ports.clock()
        self._wake.set()
        if self.ports.wake is not None and self._started:
            self.ports.wake()

    def request_device_poll(self) -> None:
        """Read every heat pump, boiler and appliance at the next tick, soon.

        The host calls this when its entities all went away or came back (a
        gateway's Home Assistant), so the drivers and the guard see it at
        once rather than at the next 15 s poll.
        """
        self.devices.poll_soon()
        self._wake.set()
        if self.ports.wake is not None and self._started:
            self.ports.wake()

    async def async_plan_now(self) -> PlanStatus:
        """Re-plan at once and return the new status."""
        self.request_replan("asked to plan now")
        await self._async_replan(self.ports.clock())
        return self.plan_status

    # ================================================================ ticking

    async def _async_loop(self) -> None:
        while not self._stop.is_set():
            now = self.ports.clock()
            try:
                await self.async_tick(now)
            except Exception:
                _LOGGER.exception("household tick failed")
            now = self.ports.clock()
            until_quarter = (quarter_floor(now) + SLOT - now).total_seconds() + 0.05
            wait = min(REFRESH_INTERVAL.total_seconds(), max(until_quarter, 0.05))
            if self._replan.requested_at is not None:
                due = self._replan.requested_at + REPLAN_DEBOUNCE
                wait = min(wait, max((due - now).total_seconds(), 0.0))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def async_tick(self, now: datetime) -> None:
        """Do the periodic work for ``now``: limits, re-plans, the plan's slot.

        Ticks never overlap (the host's timer and a wake-up may coincide).
        """
        async with self._tick_lock:
            await self._async_tick(now)

    async def _async_tick(self, now: datetime) -> None:
        if not self.ports.realtime:
            await self.guard.async_tick(now)
        self.limits.refresh(now)
        await self._async_update_shares(now)
        await self.devices.async_poll()
        self._replan_for_availability()
        await self._async_devices_back(now)
        await self._async_expire_overrides(now)
        due = self._next_replan is not None and now >= self._next_replan
        if due:
            self.request_replan("scheduled")
        requested = self._replan.requested_at
        if requested is not None and (
            due or not self.ports.realtime or now - requested >= REPLAN_DEBOUNCE
        ):
            # A scheduled re-plan runs at once: the old plan's next slot is
            # not sent first, only to be replaced a moment later.
            await self._async_replan(now)
        elif self._applied_slot != quarter_floor(now):
            await self._async_apply_plan()
        if self._dirty and (
            self._last_save is None or now - self._last_save >= SAVE_INTERVAL
        ):
            await self.async_save()
        self.notify()

    # ================================================================ planning

    def _schedule_next(self, now: datetime) -> None:
        step = timedelta(minutes=self.config.optimiser.replan_minutes)
        self._next_replan = quarter_floor(now) + step
        if self._next_replan <= now:
            self._next_replan += step

    async def _async_replan(self, now: datetime) -> None:
        async with self._replan_lock:
            reasons = self._replan.reasons
            self._replan = _Replan()
            self._schedule_next(now)
            if not self.enabled or self.mode is OptimiserMode.OFF:
                await self._async_plan_off(now)
                return
            try:
                inputs = self._build_inputs(now)
            except Exception as err:
                _LOGGER.exception("the planner's problem could not be built")
                self._on_plan_failure(
                    now,
                    f"the problem could not be built: {err}",
                    None,
                    None,
                    0.0,
                    reasons,
                    cause=PLAN_FAILURE_INVALID,
                )
                await self._async_apply_plan(force=True)
                self.notify()
                return
            await self._async_solve(now, inputs, reasons)

    def _build_inputs(self, now: datetime) -> PlanInputs:
        return build_problem(
            self.config,
            now=now,
            chargers=self.chargers.handles.values(),
            prices=self.prices,
            pv=self.pv_forecast,
            forecaster=self.forecaster,
            stack=self.limits.stack,
            month_peak_kw=self._month_peak_kw(),
            mode=self.mode,
            time_limit_s=self.config.optimiser.time_limit_s,
            devices=self.devices,
            outdoor=self.outdoor_forecast,
            quarter_energy_kwh=(
                self._quarter.energy_kwh
                if self._quarter.start == quarter_floor(now)
                else 0.0
            ),
        )

    async def _async_solve(
        self, now: datetime, inputs: PlanInputs, reasons: list[str]
    ) -> None:
        started = monotonic_time.perf_counter()
        failure: str | None = None
        cause = PLAN_FAILURE_SOLVER
        plan: Plan | None = None
        try:
            problem = Problem.from_dict(inputs.problem)
            # The previous plan, shifted by the slots that have passed,
            # is the solver's first incumbent (never a fallback plan).
            previous = (
                self.plan
                if self.plan is not None and self.plan.solver.status != "fallback"
                else None
            )
            job = functools.partial(self.ports.solver, problem, now, previous)
            async with asyncio.timeout(
                self.config.optimiser.time_limit_s + SOLVE_GRACE_S
            ):
                plan = await self.ports.run_blocking(job)
        except TimeoutError:
            failure = "the solver did not finish in time"
            cause = PLAN_FAILURE_TIMEOUT
        except ProblemError as err:
            failure = f"the problem could not be built: {err}"
            cause = PLAN_FAILURE_INVALID
        except Exception as err:
            _LOGGER.exception("planner failed")
            failure = f"the solver failed: {err}"
        elapsed = monotonic_time.perf_counter() - started
        if plan is not None and plan.solver.status == "fallback":
            failure = "the solver found no plan in time; " + "; ".join(
                plan.explanations[:2]
            )
            cause = PLAN_FAILURE_NO_PLAN
        if failure is not None:
            self._on_plan_failure(
                now, failure, inputs, plan, elapsed, reasons, cause=cause
            )
        else:
            assert plan is not None  # noqa: S101 - set when failure is None
            self._on_plan(now, plan, inputs, elapsed, reasons)
        await self._async_apply_plan(force=True)
        self._save_soon()
        self.notify()

    def _on_plan(
        self,
        now: datetime,
        plan: Plan,
        inputs: PlanInputs,
        elapsed: float,
        reasons: list[str],
    ) -> None:
        self.plan = plan
        self.plan_inputs = inputs
        # The quarter's deviation from this plan counts from now on.
        self._quarter.plan_kwh = 0.0
        self._quarter.plan_seconds = 0.0
        state = (
            PlanState.TIME_LIMIT
            if plan.solver.status == "time_limit"
            else (PlanState.OK)
        )
        self.plan_status = self._status(
            now, state, inputs.mode, (*inputs.notes, *plan.explanations[:3]), elapsed
        )
        self._clear_problem(PROBLEM_PLAN_FAILED)
        self._fire(
            "plan_updated",
            {
                "state": state.value,
                "reasons": list(reasons),
                "solve_time_s": round(elapsed, 3),
            },
        )

    def _on_plan_failure(  # noqa: PLR0917 - what the status shows
        self,
        now: datetime,
        failure: str,
        inputs: PlanInputs | None,
        fallback: Plan | None,
        elapsed: float,
        reasons: list[str],
        *,
        cause: str = PLAN_FAILURE_SOLVER,
    ) -> None:
        kept = self.plan is not None and slot_index(self.plan, now) is not None
        if not kept and fallback is not None and inputs is not None:
            self.plan = fallback
            self.plan_inputs = inputs
            self._quarter.plan_kwh = 0.0
            self._quarter.plan_seconds = 0.0
        elif not kept:
            self.plan = None
            fallback = None
        note = (
            (
                "kept the rule-based safe plan"
                if self.plan is not None and self.plan.solver.status == "fallback"
                else "kept the last plan"
            )
            if kept
            else (
                "using the rule-based safe plan"
                if fallback is not None
                else ("no plan: the guard's rules hold the limit")
            )
        )
        mode = self.plan_status.mode if kept or inputs is None else inputs.mode
        self.plan_status = self._status(
            now, PlanState.FALLBACK, mode, (failure, note), elapsed
        )
        self._raise_problem(PROBLEM_PLAN_FAILED, {"error": failure, "cause": cause})
        _LOGGER.warning("Planning failed (%s); %s", failure, note)
        self._fire(
            "plan_updated",
            {"state": PlanState.FALLBACK.value, "reasons": list(reasons)},
        )

    def _status(
        self,
        now: datetime,
        state: PlanState,
        mode: OptimiserMode | None,
        reasons: tuple[str, ...],
        elapsed: float | None,
    ) -> PlanStatus:
        plan = self.plan
        today = now.astimezone(self._zone).date()
        midnight = datetime.combine(
            today + timedelta(days=1), datetime.min.time(), self._zone
        )
        cost_today = cost_tomorrow = saving = None
        if plan is not None:
            cost_today = energy_cost_eur(plan, since=quarter_floor(now), until=midnight)
            covers_tomorrow = datetime.fromisoformat(plan.slot_starts[-1]) >= (
                midnight + timedelta(days=1) - SLOT
            )
            cost_tomorrow = (
                energy_cost_eur(
                    plan, since=midnight, until=midnight + timedelta(days=1)
                )
                if covers_tomorrow
                else None
            )
            if self.plan_inputs is not None and self.plan_inputs.problem:
                saving = baseline_cost_eur(plan, self.plan_inputs) - (
                    plan_energy_cost_eur(plan)
                )
        return PlanStatus(
            state=state,
            mode=mode,
            reasons=tuple(dict.fromkeys(reasons)),
            last_replan=now,
            next_replan=self._next_replan,
            solve_time_s=None if elapsed is None else round(elapsed, 3),
            cost_today_eur=None if cost_today is None else round(cost_today, 2),
            cost_tomorrow_eur=None
            if cost_tomorrow is None
            else round(cost_tomorrow, 2),
            saving_eur=None if saving is None else round(saving, 2),
        )

    async def _async_plan_off(self, now: datetime) -> None:
        was_planned = self.plan is not None
        self.plan = None
        self.plan_inputs = None
        reason = "the optimiser is off" if self.enabled else "the optimiser is disabled"
        self.plan_status = PlanStatus(
            state=PlanState.OFF,
            mode=self.mode,
            reasons=(reason,),
            last_replan=now,
            next_replan=self._next_replan,
        )
        self._clear_problem(PROBLEM_PLAN_FAILED)
        if was_planned or self._applied_slot is None:
            await self._async_release_to_default(now)
        self._applied_slot = quarter_floor(now)
        self.notify()

    async def _async_release_drivers(self, now: datetime, keep: set[str]) -> None:
        """Let driver devices without a planned setpoint follow their own rules.

        Their planned setpoint is forgotten, and the guard sends each the value
        it has unplanned (a boiler or heat pump may run, its thermostat
        decides), so nothing stays where the last plan left it.
        """
        released = self._planned_drivers - keep
        self._planned_drivers = set(keep)
        if not released:
            return
        for device_id in released:
            try:
                await self.guard.async_set_plan(device_id, None, now)
            except Exception:
                _LOGGER.exception("could not release %s", device_id)
        if self._guarded:
            await self.guard.async_reassert(now)

    async def _async_release_to_default(self, now: datetime) -> None:
        """Without a plan, every device goes back to its own behaviour.

        A charger charges at full power, a boiler or heat pump follows its
        thermostat; the guard still caps them to the limit.
        """
        await self._async_release_drivers(now, set())
        await self._async_release_chargers(now)

    async def _async_release_chargers(self, now: datetime) -> None:
        """Every available charger follows its own behaviour: full power."""
        for handle in self.chargers.handles.values():
            device = handle.device
            if not device.available:
                continue
            try:
                await self._async_set_plan(device.device_id, _full_power_w(device), now)
            except Exception:
                _LOGGER.exception("could not release %s", handle.title)

    async def _async_apply_plan(self, *, force: bool = False) -> None:
        """Give the guard the plan's setpoints for the current slot."""
        now = self.ports.clock()
        slot = quarter_floor(now)
        if not force and self._applied_slot == slot:
            return
        self._applied_slot = slot
        plan, inputs = self.plan, self.plan_inputs
        if plan is None or inputs is None:
            if self.plan_status.state is not PlanState.WAITING:
                await self._async_release_to_default(now)
            return
        if slot_index(plan, now) is None:
            # The plan ran out: back to the safe default until the next solve.
            self.plan = None
            await self._async_release_to_default(now)
            self.request_replan("the plan ran out")
            return
        planned = await self._async_apply_slot(plan, inputs, now)
        for handle in self.chargers.handles.values():
            if handle.device_id not in planned and handle.device.available:
                with contextlib.suppress(Exception):
                    await self._async_set_plan(
                        handle.device.device_id, _full_power_w(handle.device), now
                    )

    async def _async_apply_slot(
        self, plan: Plan, inputs: PlanInputs, now: datetime
    ) -> set[str]:
        """Send each planned device its setpoint now; return which were planned."""
        planned: set[str] = set()
        for planner_id, guard_id in inputs.device_map.items():
            value = setpoint_w(plan, planner_id, now)
            if value is None:
                continue
            planned.add(planner_id)
            try:
                if await self.devices.async_follow_plan(planner_id, value):
                    continue
                await self._async_set_plan(guard_id, value, now)
            except Exception:
                _LOGGER.exception("could not apply the plan to %s", guard_id)
        await self._async_release_drivers(
            now, {d for d in planned if d in self.devices.drivers}
        )
        return planned

    def _month_peak_kw(self) -> float | None:
        if self.meter is None:
            fed = self._fed_month_peak_w
            return None if fed is None else fed / 1000.0
        reading = self.meter.last_reading
        if reading is None or reading.month_peak_w is None:
            return None
        return reading.month_peak_w / 1000.0

    # ================================================================ snapshots

    def planned_power_w(self, device_id: str, *, slots_ahead: int = 0) -> float | None:
        """Return the plan's setpoint for a device now (0) or in a later slot."""
        plan = self.plan
        if plan is None:
            return None
        return setpoint_w(plan, device_id, self.ports.clock() + SLOT * slots_ahead)

    def plan_rows(self, limit: int = PLAN_ATTRIBUTE_SLOTS) -> list[dict[str, Any]]:
        """Return the plan from now: rows of time, grid kW and kW per device."""
        plan = self.plan
        if plan is None:
            return []
        first = slot_index(plan, self.ports.clock()) or 0
        rows: list[dict[str, Any]] = []
        for index in range(first, min(first + limit, len(plan.slot_starts))):
            row: dict[str, Any] = {
                "start": plan.slot_starts[index],
                "grid_kw": round(plan.import_kw[index] - plan.export_kw[index], 3),
                "price": plan.import_price[index],
            }
            for device_id, result in plan.devices.items():
                row[device_id] = round(result.setpoint_kw[index], 3)
            rows.append(row)
        return rows

    @property
    def interventions_today(self) -> int:
        """Guard interventions today (local time)."""
        return self.guard.status().interventions_today

    # ================================================================ state

    def _save_soon(self) -> None:
        self._dirty = True
        if not self._started or self.ports.store is None:
            return
        if self._saving_soon:
            return
        self._saving_soon = True
        self._spawn(self._async_save_soon(), "save")

    async def _async_save_soon(self) -> None:
        self._saving_soon = False
        await self.async_save()

    async def async_save(self) -> None:
        """Save what must survive a restart."""
        store = self.ports.store
        if store is None:
            return
        self._last_save = self.ports.clock()
        self._dirty = False
        try:
            await store.async_save(self.state())
        except Exception:
            _LOGGER.exception("Could not save the household's state")
            self._dirty = True

    def state(self) -> dict[str, Any]:
        """Return the JSON-safe state that survives a restart."""
        departures: dict[str, Any] = {}
        for handle in self.chargers.handles.values():
            needs = handle.device.departure
            departures[handle.device_id] = {
                "departure": None
                if needs.departure is None
                else needs.departure.isoformat(),
                "target_soc": needs.target_soc,
                "min_soc": needs.min_soc,
            }
        return {
            "version": STATE_VERSION,
            "saved_at": self.ports.clock().isoformat(),
            "mode": self.mode.value,
            "enabled": self.enabled,
            "config_mode": self.config.optimiser.mode.value,
            "config_enabled": self.config.optimiser.enabled,
            "manual": self.limits.manual.export_state(),
            "openadr": {ven.name: ven.export_state() for ven in self.limits.vens},
            "guard": self.guard.export_state(),
            "meter": None if self.meter is None else self.meter.export_state(),
            "departures": departures,
            "chargers": self.chargers.snapshots(),
            "devices": self.devices.export_state(),
            "forecaster": self.forecaster.to_state(),
            "prices": None if self.prices is None else self.prices.to_dict(),
            "pv": None if self.pv_forecast is None else self.pv_forecast.to_dict(),
            "plan": None if self.plan is None else self.plan.to_dict(),
            "plan_devices": {}
            if self.plan_inputs is None
            else dict(self.plan_inputs.device_map),
        }

    def _restore(self, stored: object, now: datetime) -> None:  # noqa: C901, PLR0912
        """Restore a saved state; what is malformed or expired is skipped."""
        if not isinstance(stored, Mapping) or stored.get("version") != STATE_VERSION:
            return
        # The mode and switch the user set last win, unless the configuration
        # changed them since (an options change is newer than the saved state).
        if stored.get("config_mode") == self.config.optimiser.mode.value:
            with contextlib.suppress(ValueError):
                self.mode = OptimiserMode(str(stored.get("mode", self.mode.value)))
        if isinstance(stored.get("enabled"), bool) and (
            stored.get("config_enabled") == self.config.optimiser.enabled
        ):
            self.enabled = bool(stored["enabled"])
        if stored.get("manual") is not None:
            self.limits.manual.restore_state(stored["manual"], now)
        openadr = stored.get("openadr")
        if isinstance(openadr, Mapping):
            for ven in self.limits.vens:
                ven.restore_state(openadr.get(ven.name), now)
        if stored.get("guard") is not None:
            self.guard.restore_state(stored["guard"], now)
        if self.meter is not None and stored.get("meter") is not None:
            self.meter.restore_state(stored["meter"], now)
        departures = stored.get("departures")
        if isinstance(departures, Mapping):
            for device_id, data in departures.items():
                handle = self.chargers.handles.get(str(device_id))
                needs = _read_needs(data, now)
                if handle is not None and needs is not None:
                    handle.device.set_departure(needs)
        chargers = stored.get("chargers")
        if isinstance(chargers, Mapping):
            self.chargers.restore(chargers)
        self.devices.restore_state(stored.get("devices"))
        self.forecaster.restore(stored.get("forecaster"))
        for key, setter in (("prices", "prices"), ("pv", "pv_forecast")):
            data = stored.get(key)
            if data is None:
                continue
            try:
                setattr(self, setter, Series.from_dict(data))
            except (InputFormatError, OverflowError) as err:
                _LOGGER.warning("Saved %s ignored: %s", key, err)
        self._restore_plan(stored, now)

    def _restore_plan(self, stored: Mapping[str, Any], now: datetime) -> None:
        data = stored.get("plan")
        devices = stored.get("plan_devices")
        if data is None or not isinstance(devices, Mapping):
            return
        try:
            plan = Plan.from_dict(data)
            if slot_index(plan, now) is None:
                return  # it ended while we were away
        except Exception as err:  # noqa: BLE001 - a bad saved plan is skipped
            _LOGGER.warning("Saved plan ignored: %s", err)
            return
        # A rule-based safe plan (the solver had failed) comes back as what
        # it is, not as a good plan.
        safe = plan.solver.status == "fallback"
        note = "restored after a restart" + (
            ": the rule-based safe plan" if safe else ""
        )
        self.plan = plan
        self.plan_inputs = PlanInputs(
            problem={},
            mode=self.mode,
            notes=(note,),
            device_map={str(k): str(v) for k, v in devices.items()},
        )
        self.plan_status = replace(
            self.plan_status,
            state=PlanState.FALLBACK if safe else PlanState.OK,
            mode=self.mode,
            reasons=(note,),
            last_replan=plan.created,
        )


def _charger_state(handle: ChargerHandle) -> tuple[bool, bool, str | None]:
    """Available, plugged in, and the transaction (a new one wants a setpoint)."""
    device = handle.device
    transaction = (
        device.state.transaction_id if isinstance(device, OcppCharger) else None
    )
    return device.available, device.plugged_in, transaction


def _pinned(device: object) -> bool:
    """Whether a device's own rules hold it where it is for now (no range)."""
    if not isinstance(device, PowerSettable):
        return False
    try:
        power = device.power_range
    except Exception:  # noqa: BLE001 - a broken range: treat as free
        return False
    return power.max_w - power.min_w < 1.0


def _full_power_w(device: PowerSettable) -> float:
    """Return a charger's full power, what it gets unplanned.

    The hardware's, not the range under the station limit in force (a DSO
    window may narrow that to 0 W until its end reaches the charger); the
    guard caps it to the limit.
    """
    if isinstance(device, OcppCharger):
        return device.power_range_under(None).max_w
    return device.power_range.max_w


def _limit_moved(old: EffectiveLimit, new: EffectiveLimit) -> bool:
    if (new.import_source or "").startswith("capacity") and (
        old.import_source or ""
    ).startswith("capacity"):
        return False
    for a, b in ((old.import_w, new.import_w), (old.export_w, new.export_w)):
        if (a is None) != (b is None):
            return True
        if a is not None and b is not None and abs(a - b) >= LIMIT_TRIGGER_W:
            return True
    return False


def _finite_watts(value: float) -> bool:
    """Whether a power is a finite number >= 0 (an int beyond a float is not)."""
    try:
        number = float(value)
    except OverflowError:
        return False
    return math.isfinite(number) and number >= 0


def _fraction(value: object) -> bool:
    """Whether a value is a number within 0..1 (not NaN, not beyond a float)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except TypeError, ValueError, OverflowError:
        return False
    return 0.0 <= number <= 1.0


def _read_needs(data: object, now: datetime) -> DepartureNeeds | None:
    if not isinstance(data, Mapping):
        return None
    try:
        text = data.get("departure")
        departure = None if text is None else datetime.fromisoformat(str(text))
        target = data.get("target_soc")
        min_soc = float(data.get("min_soc") or 0.0)
    except TypeError, ValueError, OverflowError:
        return None
    if departure is not None and (departure.tzinfo is None or departure <= now):
        departure = None
    if target is not None:
        if isinstance(target, bool) or not isinstance(target, (int, float)):
            return None
        if not 0.0 <= target <= 1.0:  # an int beyond a float compares exactly
            return None
    if not 0.0 <= min_soc <= 1.0:
        return None
    return DepartureNeeds(
        departure=departure,
        target_soc=None if target is None else float(target),
        min_soc=min_soc,
    )


def _discard[T](items: list[T], item: T) -> None:
    with contextlib.suppress(ValueError):
        items.remove(item)


def overrides_of(household: Household) -> dict[str, float | None]:
    """Return the user's manual setpoints per charger (for diagnostics)."""
    return {
        handle.device_id: handle.device.manual_setpoint_w
        if isinstance(handle.device, OcppCharger)
        else None
        for handle in household.chargers.handles.values()
    }
