"""The guard: holds the grid connection within the DSO limit and the fuse.

It runs on every meter reading. Measured import must stay at or below
``min(DSO limit, fuse) - margin`` and each phase current at or below the fuse
minus a margin. When a reading (plus the effect of commands still on their
way) breaks that, the guard curtails in the fixed order of
:class:`~..capabilities.CurtailPriority`: EV charging down to its minimum or
into V2G discharge, the boiler, the heat pump (minimum run time and comfort
floor respected), EV pause where the car tolerates it, and white goods only as
an emergency. It releases one device at a time with hysteresis and a random
stagger, so the end of a window causes no rebound peak.

Otherwise the guard follows the plan: setpoints the planner gives it are
passed on, an increase only as far as the headroom allows. A user's manual
override wins over the plan and over normal curtailment; only the DSO limit
and the fuse still hold it back, and the guard says so. When readings stop,
controllable devices fall to their safe minimum until data returns.

Hostile input never blinds it: a reading that is not finite, or beyond what
the connection can carry, is a bad reading (recorded, never acted on; a few in
a row are lost data), the meter's availability is heard at once, and a limit
source that fails turns into the failsafe limit. When curtailing everything
it may still leaves the connection over the limit, the guard says that the
limit cannot be held and by how much (``GuardStatus.shortfall_w``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
import logging
import math
import random
from typing import Any
from zoneinfo import ZoneInfo

from custom_components.stroomwijs.engine.capabilities import (
    Bidirectional,
    CurtailPriority,
    Device,
    DeviceUnavailableError,
    PowerMeter,
    PowerSettable,
    Switchable,
    Thermal,
)
from custom_components.stroomwijs.engine.grid import GridConnection
from custom_components.stroomwijs.engine.limits.base import EffectiveLimit, LimitStack

from .measurement import GridMeasurement, Meter

_LOGGER = logging.getLogger(__name__)

_ORDER = (
    CurtailPriority.EV,
    CurtailPriority.BOILER,
    CurtailPriority.HEAT_PUMP,
    CurtailPriority.EV_PAUSE,
    CurtailPriority.WHITE_GOODS,
)
_EPSILON_W = 1.0
_MIN_CUT_W = 50.0
"""A cut sheds at least this much (a 1 W excess still moves the first device),
and a release grants at least this much (not a command per telegram for the
few watts a device reads under its setpoint)."""
_REPORT_GRACE = timedelta(seconds=120)
"""A power report unchanged since a command may be older than the command
(OCPP chargers send meter values every 10-60 s) for this long."""
_BURST = timedelta(milliseconds=500)
"""Readings read closer together than this came in one burst (they queued
while the host was busy): the later ones are no newer than the first. Half
a DSMR 5 telegram interval."""
_MINIMUM_START_DOUBLINGS = 4
"""A car's start at its minimum without the hysteresis waits up to 2**4
release windows after as many starts in a row."""
_MINIMUM_START_RESET = timedelta(minutes=30)
"""That back-off starts again after this long without such a start."""
STATE_VERSION = 1
"""Version of the dictionary that :meth:`Guard.export_state` returns."""


class InterventionKind(StrEnum):
    """What the guard did."""

    CURTAIL = "curtail"
    EMERGENCY = "emergency"
    RELEASE = "release"
    PLAN = "plan"
    PLAN_CLAMPED = "plan_clamped"
    OVERRIDE = "override"
    OVERRIDE_LIMITED = "override_limited"
    DATA_LOST = "data_lost"
    DATA_RESTORED = "data_restored"
    COMMAND_FAILED = "command_failed"
    LIMIT_CHANGED = "limit_changed"
    ABSORB = "absorb"
    ABSORB_END = "absorb_end"
    BAD_READING = "bad_reading"
    """A reading was not finite or not plausible: ignored."""
    LIMIT_NOT_HOLDABLE = "limit_not_holdable"
    """Everything controllable is curtailed and the limit is still exceeded."""
    LIMIT_HOLDABLE = "limit_holdable"
    """The connection is within the limit again after it could not be held."""
    DEVICE_UNAVAILABLE = "device_unavailable"
    DEVICE_AVAILABLE = "device_available"
    REASSERT = "reassert"
    """After a restart: the setpoint that limit, plan and override call for."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Intervention:
    """One recorded action or observation of the guard."""

    timestamp: datetime
    kind: InterventionKind
    device_id: str | None
    from_w: float | None
    to_w: float | None
    reason: str
    limit_w: float | None
    measured_w: float | None
    shortfall_w: float | None = None
    """How far over the limit the connection stays (LIMIT_NOT_HOLDABLE)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GuardConfig:
    """Tuning of one guard; the defaults suit a DSMR 5 meter (1 s telegrams)."""

    grid: GridConnection
    margin_w: float = 200.0
    """Kept free below the import limit."""
    phase_margin_a: float = 1.0
    """Kept free below the fuse on each phase."""
    release_hysteresis_w: float = 500.0
    """Extra headroom needed before a device gets power back."""
    release_hold: timedelta = timedelta(seconds=10)
    """No release sooner than this after the last curtailment."""
    stagger_min: timedelta = timedelta(seconds=5)
    stagger_max: timedelta = timedelta(seconds=30)
    """Random delay between two releases."""
    data_timeout: timedelta = timedelta(seconds=10)
    """Readings missing this long count as "P1 data lost"."""
    lookahead: timedelta | None = None
    """Act on a limit this early; None: the slowest device's reaction delay."""
    command_timeout: timedelta = timedelta(seconds=3)
    """A device that has not taken a command by then counts as failed, and the
    guard moves on to the next one (a hanging device never blocks it)."""
    release_window: timedelta = timedelta(seconds=60)
    """Releases (never cuts) size the room from the worst uncontrolled load
    seen in this window, so noise in the base load does not make devices go
    up and down."""
    bad_readings_lost: int = 3
    """This many bad (non-finite or implausible) readings in a row: data lost."""
    time_zone: str = "Europe/Amsterdam"
    """Local time zone; the interventions-today count starts at its midnight."""

    def __post_init__(self) -> None:
        """Reject settings that cannot work."""
        numbers = (self.margin_w, self.phase_margin_a, self.release_hysteresis_w)
        if not all(math.isfinite(value) for value in numbers):
            raise ValueError("margins and hysteresis must be finite numbers")
        if self.margin_w < 0 or self.phase_margin_a < 0:
            raise ValueError("margins cannot be negative")
        if self.release_hysteresis_w < 0:
            raise ValueError("the release hysteresis cannot be negative")
        if self.stagger_min < timedelta(0) or self.stagger_max < self.stagger_min:
            raise ValueError("need 0 <= stagger_min <= stagger_max")
        if self.data_timeout <= timedelta(0):
            raise ValueError("the data timeout must be positive")
        if self.command_timeout <= timedelta(0):
            raise ValueError("the command timeout must be positive")
        if self.release_window < timedelta(0):
            raise ValueError("the release window cannot be negative")
        if self.bad_readings_lost < 1:
            raise ValueError("bad_readings_lost must be at least 1")
        ZoneInfo(self.time_zone)


@dataclass(kw_only=True)
class GuardedDevice:
    """A device under the guard, with what the guard must know about it."""

    device: Device
    priority: CurtailPriority
    reaction_delay: timedelta = timedelta(seconds=2)
    """How long the device takes to follow a command."""
    pause_allowed: bool = False
    """Whether an EV may be paused (some cars end the session when paused)."""
    phases: tuple[int, ...] = (0, 1, 2)
    """Phases (0-based) the device draws from, evenly."""
    comfort_floor_c: float | None = None
    """Heat pump: never curtail below this temperature (default: comfort.min_c)."""

    def __post_init__(self) -> None:
        """Check that the device can be driven at all."""
        if not isinstance(self.device, PowerSettable | Switchable):
            name = getattr(self.device, "device_id", type(self.device).__name__)
            msg = f"{name} is neither PowerSettable nor Switchable"
            raise TypeError(msg)
        if not self.phases or any(p not in (0, 1, 2) for p in self.phases):
            raise ValueError("phases must be a non-empty subset of 0, 1, 2")

    @property
    def device_id(self) -> str:
        """The device's id."""
        return self.device.device_id


@dataclass(slots=True)
class _State:
    plan_w: float | None = None
    override_w: float | None = None
    target_w: float | None = None
    curtailed: bool = False
    restore_w: float | None = None
    curtailed_at: datetime | None = None
    switched_at: datetime | None = None
    was_on: bool | None = None
    absorb_from_w: float | None = None
    """Power before the guard raised the device to take up excess export."""
    pending: list[tuple[datetime, float]] = field(default_factory=list)
    forced_pause: bool = False
    """An EV that may not pause was paused in an emergency."""
    seen_w: float | None = None
    """The last power the device reported while it was available."""
    unavailable: bool = False
    refused: tuple[float, float] | None = None
    """(asked, took): the device did not go as low as the guard asked."""
    cut_done_at: datetime | None = None
    """When the device first reported a pending cut as delivered."""
    commanded_at: datetime | None = None
    report_at_command: float | None = None
    """The device's own power report when the guard last commanded it."""
    minimum_starts: int = 0
    """Starts at the minimum without the hysteresis in a row (the back-off)."""
    minimum_start_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GuardStatus:
    """What the guard is doing now, for entities and logs."""

    timestamp: datetime | None
    import_limit_w: float
    limit_source: str
    measured_w: float | None
    headroom_w: float | None
    curtailed: tuple[str, ...]
    overrides: tuple[str, ...]
    override_notice: str | None
    data_lost: bool
    interventions: int
    limit_holdable: bool = True
    """False while curtailing all it may still leaves the connection over."""
    shortfall_w: float | None = None
    """How far over the limit the connection stays while it is not holdable."""
    forced_pause: tuple[str, ...] = ()
    """EVs that may not pause but were paused in an emergency."""
    emergency_notice: str | None = None
    """Why a device was stopped against its settings, for the user."""
    interventions_today: int = 0
    """Interventions since local midnight (limit changes not counted)."""
    bad_readings: int = 0
    """Readings ignored as not finite or implausible, since start."""
    meter_available: bool | None = None
    """The meter's availability as last heard (None: never heard)."""
    unavailable_devices: tuple[str, ...] = ()
    """Guarded devices that do not answer; their power counts as unknown."""


type InterventionListener = Callable[[Intervention], None]
type Clock = Callable[[], datetime]


class Guard:
    """One controller per meter: keeps the connection within its limits."""

    def __init__(
        self,
        config: GuardConfig,
        devices: Sequence[GuardedDevice],
        *,
        limits: LimitStack | None = None,
        device_cap_w: Callable[[], float | None] | None = None,
        rng: random.Random | None = None,
        log_size: int = 1000,
    ) -> None:
        """Guard ``devices`` under ``config`` and the limits of ``limits``."""
        ids = [d.device_id for d in devices]
        if len(set(ids)) != len(ids):
            raise ValueError("device ids must be unique")
        self.config = config
        self._devices = {d.device_id: d for d in devices}
        self._state = {d.device_id: _State() for d in devices}
        self._limits = limits
        self._device_cap_w = device_cap_w
        self._rng = rng or random.Random()  # noqa: S311 - staggering, not crypto
        self._log: deque[Intervention] = deque(maxlen=log_size)
        self._count = 0
        self._listeners: list[InterventionListener] = []
        self._lock = asyncio.Lock()
        self._last_reading: GridMeasurement | None = None
        self._rise_from_w: float | None = None
        """The net power read when the oldest rise still pending was asked."""
        self._last_curtail: datetime | None = None
        self._next_release: datetime | None = None
        self._data_lost = False
        self._limit_key: tuple[float | None, str] | None = None
        self._stack_failing = False
        self._import_limit_w = config.grid.max_power_w
        self._limit_source = "fuse"
        self._export_limit_w: float | None = None
        self._export_source: str | None = None
        self._next_absorb_end: datetime | None = None
        self._override_notice: str | None = None
        self._latest: GridMeasurement | None = None
        self._started: datetime | None = None
        self._wake = asyncio.Event()
        self._tz = ZoneInfo(config.time_zone)
        self._today: date | None = None
        self._today_count = 0
        self._bad_readings = 0
        self._bad_in_a_row = 0
        self._meter_available: bool | None = None
        self._meter_lost: bool = False
        self._shortfall_w: float | None = None
        self._held_since: datetime | None = None
        self._recent_base: deque[tuple[datetime, float]] = deque()
        self._source_errors: dict[int, str] = {}
        slowest = max((d.reaction_delay for d in devices), default=timedelta(0))
        self._lookahead = config.lookahead if config.lookahead is not None else slowest

    # ------------------------------------------------------------------ API

    @property
    def devices(self) -> tuple[GuardedDevice, ...]:
        """The guarded devices."""
        return tuple(self._devices.values())

    @property
    def log(self) -> tuple[Intervention, ...]:
        """The most recent interventions, oldest first."""
        return tuple(self._log)

    def subscribe(self, listener: InterventionListener) -> Callable[[], None]:
        """Call ``listener(intervention)`` for each intervention."""
        self._listeners.append(listener)

        def _unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return _unsubscribe

    def status(self) -> GuardStatus:
        """Return a snapshot for entities."""
        reading = self._last_reading
        measured = None if reading is None else reading.net_power_w
        limit = self._import_limit_w
        return GuardStatus(
            timestamp=None if reading is None else reading.timestamp,
            import_limit_w=limit,
            limit_source=self._limit_source,
            measured_w=measured,
            headroom_w=None if measured is None else limit - measured,
            curtailed=tuple(i for i, s in self._state.items() if s.curtailed),
            overrides=tuple(
                i for i, s in self._state.items() if s.override_w is not None
            ),
            override_notice=self._override_notice,
            data_lost=self._data_lost,
            interventions=self._count,
            limit_holdable=self._shortfall_w is None,
            shortfall_w=self._shortfall_w,
            forced_pause=tuple(i for i, s in self._state.items() if s.forced_pause),
            emergency_notice=self._emergency_notice(),
            interventions_today=self._today_count,
            bad_readings=self._bad_readings,
            meter_available=self._meter_available,
            unavailable_devices=tuple(
                i for i, s in self._state.items() if s.unavailable
            ),
        )

    def _emergency_notice(self) -> str | None:
        forced = [i for i, s in self._state.items() if s.forced_pause]
        if not forced:
            return None
        return (
            f"{', '.join(forced)} paused although set not to pause: the "
            f"{self._limit_source} limit of {self._import_limit_w:.0f} W outranks it"
        )

    def reaction_bound(self, telegram_interval: timedelta) -> timedelta:
        """Longest a breach can last: see it, command, device reacts, see it."""
        slowest = max(
            (d.reaction_delay for d in self._devices.values()), default=timedelta(0)
        )
        return slowest + 2 * telegram_interval

    def attach(self, meter: Meter) -> Callable[[], None]:
        """Take readings from ``meter``; run :meth:`async_run` to process them.

        A meter that also offers ``subscribe_availability`` (the P1 ``Meter``
        does) is heard at once when it goes unavailable: the guard falls to
        its safe side then, without waiting for its own data timeout.
        """
        stops = [meter.subscribe(self.feed)]
        subscribe_availability = getattr(meter, "subscribe_availability", None)
        if callable(subscribe_availability):
            stops.append(subscribe_availability(self.feed_availability))

        def _detach() -> None:
            for stop in stops:
                stop()

        return _detach

    def feed(self, reading: GridMeasurement) -> None:
        """Hand over a reading without waiting (keeps only the newest)."""
        self._latest = reading
        self._wake.set()

    def feed_availability(self, available: bool) -> None:  # noqa: FBT001
        """Hear the meter's availability (a ``subscribe_availability`` callback).

        Unavailable: :meth:`async_run` declares the data lost at once.
        """
        self._meter_available = available
        if not available:
            self._meter_lost = True
            self._wake.set()

    async def async_meter_unavailable(self, now: datetime, reason: str) -> None:
        """Declare the data lost now: the meter said it has no readings."""
        async with self._lock:
            self._meter_available = False
            if not self._data_lost:
                await self._enter_data_lost(now, f"meter unavailable: {reason}")

    async def async_run(
        self, stop: asyncio.Event, clock: Clock, tick: timedelta = timedelta(seconds=1)
    ) -> None:
        """Process fed readings as they come and check for lost data."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(self._wake.wait(), tick.total_seconds())
            except TimeoutError:
                try:
                    await self.async_tick(clock())
                except Exception:
                    _LOGGER.exception("guard failed on its data check")
                continue
            self._wake.clear()
            if self._meter_lost:
                self._meter_lost = False
                try:
                    await self.async_meter_unavailable(clock(), "no valid telegram")
                except Exception:
                    _LOGGER.exception("guard failed on the meter's availability")
            reading, self._latest = self._latest, None
            if reading is None:
                continue
            try:
                await self.async_process(reading)
            except Exception:
                # The safety net must keep running: log, and take the next one.
                _LOGGER.exception(
                    "guard failed on the reading of %s", reading.timestamp
                )

    # ------------------------------------------------------------ restarts

    def export_state(self) -> dict[str, Any]:
        """Return what must survive a restart, as JSON-safe data.

        The interventions-today count (with its local day) and the active
        manual overrides. Plans are not kept: the planner sends them again.
        """
        return {
            "version": STATE_VERSION,
            "day": None if self._today is None else self._today.isoformat(),
            "interventions_today": self._today_count,
            "overrides": {
                device_id: state.override_w
                for device_id, state in self._state.items()
                if state.override_w is not None
            },
        }

    def restore_state(self, data: object, now: datetime) -> bool:
        """Take back exported state; return whether any of it was restored.

        Checked field by field: a count of another day starts at zero, and an
        override for an unknown device or with a value the device cannot take
        is dropped; each with a logged reason, never an exception. Restored
        overrides take effect with :meth:`async_reassert`.
        """
        if not isinstance(data, Mapping) or data.get("version") != STATE_VERSION:
            _LOGGER.warning("stored guard state ignored: not version %s", STATE_VERSION)
            return False
        restored = False
        today = now.astimezone(self._tz).date()
        count = data.get("interventions_today")
        day = data.get("day")
        if (
            isinstance(count, int)
            and not isinstance(count, bool)
            and 0 <= count <= 10**9
            and day == today.isoformat()
        ):
            self._today, self._today_count = today, count
            restored = True
        elif count is not None:
            _LOGGER.info("stored interventions count not of today: starts at 0")
        overrides = data.get("overrides")
        if not isinstance(overrides, Mapping):
            overrides = {}
            _LOGGER.warning("stored overrides ignored: not a mapping")
        for device_id, value in overrides.items():
            problem = self._override_problem(device_id, value)
            if problem is not None:
                _LOGGER.warning("stored override ignored: %s", problem)
                continue
            self._state[device_id].override_w = float(value)
            restored = True
        self._refresh_notice()
        return restored

    async def async_add_device(self, device: GuardedDevice) -> None:
        """Put one more device under the running guard (a device added later).

        Under the guard's lock, so no pass sees half a device. The look-ahead
        follows the slowest device, as when the guard is made (unless set).
        """
        async with self._lock:
            self._devices[device.device_id] = device
            self._state[device.device_id] = _State()
            self._follow_slowest()

    async def async_remove_device(self, device_id: str) -> None:
        """Let the running guard forget a device (removed by the user).

        What it still had pending goes with it; the caller hands the device
        back to its own rules.
        """
        async with self._lock:
            self._devices.pop(device_id, None)
            self._state.pop(device_id, None)
            self._follow_slowest()

    def _follow_slowest(self) -> None:
        if self.config.lookahead is None:
            self._lookahead = max(
                (d.reaction_delay for d in self._devices.values()),
                default=timedelta(0),
            )

    def _override_problem(self, device_id: object, value: object) -> str | None:
        if not isinstance(device_id, str) or device_id not in self._devices:
            return f"unknown device {str(device_id)[:60]!r}"
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{device_id}: not a number"
        try:
            finite = math.isfinite(value)
        except OverflowError:  # an int beyond a float (json reads it exactly)
            finite = False
        if not finite:
            return f"{device_id}: not a finite number"
        device = self._devices[device_id].device
        low, high = 0.0, math.inf
        if isinstance(device, PowerSettable):
            low, high = device.power_range.min_w, device.power_range.max_w
        elif isinstance(device, Switchable):
            high = device.rated_power_w
        if not low <= value <= high:
            return f"{device_id}: {value} W is outside {low:g}..{high:g} W"
        return None

    async def async_reassert(self, now: datetime) -> None:
        """Send every device the setpoint that limit, plan and override call for.

        For after a restart (or whenever the devices' state is in doubt):
        nothing the guard did before is remembered, so a device may still sit
        where it was left (an EV at setpoint 0). Each available device gets
        its override, else its plan, else what it does unplanned (an EV: full
        power); a rise beyond the headroom is clamped and released later as
        room appears. A device without any of these is left alone.
        """
        async with self._lock:
            for gd in self._order():
                state = self._state[gd.device_id]
                if not _is_available(gd):
                    continue
                wish = self._wish(gd)
                if wish is None:
                    continue
                state.curtailed = False
                state.forced_pause = False
                kind = (
                    InterventionKind.OVERRIDE
                    if state.override_w is not None
                    else InterventionKind.REASSERT
                )
                await self._apply_wish(gd, wish, now, kind)
            self._refresh_notice()

    # ------------------------------------------------------- plan/override

    async def async_set_plan(
        self, device_id: str, setpoint_w: float | None, now: datetime
    ) -> None:
        """Follow the planner's setpoint for a device (None: leave it be).

        Raise ValueError for a setpoint that is not a finite number.
        """
        _check_setpoint(setpoint_w)
        async with self._lock:
            gd = self._get(device_id)
            state = self._state[device_id]
            state.plan_w = setpoint_w
            if setpoint_w is None or state.override_w is not None or state.curtailed:
                return
            await self._apply_wish(gd, setpoint_w, now, InterventionKind.PLAN)

    async def async_set_override(
        self, device_id: str, setpoint_w: float | None, now: datetime
    ) -> None:
        """Apply the user's manual setting (None: back to the plan).

        Raise ValueError for a setpoint that is not a finite number.
        """
        _check_setpoint(setpoint_w)
        async with self._lock:
            gd = self._get(device_id)
            state = self._state[device_id]
            ended = state.override_w
            state.override_w = setpoint_w
            if setpoint_w is None:
                self._record(
                    now, InterventionKind.OVERRIDE, gd, None, None, "override ended"
                )
                self._refresh_notice()
                if state.curtailed and state.restore_w == ended:
                    state.restore_w = None  # never release back to an old override
                # Back to the plan, or to what the device does unplanned (an
                # EV charges): a device is never left where the override was.
                # A curtailment of the override ends with it; the new wish is
                # curtailed anew if the limit needs that.
                wish = self._wish(gd)
                if wish is not None and _is_available(gd):
                    state.curtailed = False
                    await self._apply_wish(gd, wish, now, InterventionKind.PLAN)
                return
            self._record(
                now, InterventionKind.OVERRIDE, gd, None, setpoint_w, "manual override"
            )
            state.curtailed = False
            await self._apply_wish(gd, setpoint_w, now, InterventionKind.OVERRIDE)
            self._refresh_notice()

    async def async_device_back(self, device_id: str, now: datetime) -> bool:
        """Send a device that answers again what it should do now.

        Commands to it failed while it did not answer (an override ended, a
        plan step): its override, else the plan's setpoint, else what it
        does unplanned, is applied again (within the headroom, as any wish).
        A device the guard holds curtailed stays so until a release. False
        when the device refused (its own rules: too soon after a change; the
        caller tries again later). KeyError for an unknown device.
        """
        async with self._lock:
            gd = self._get(device_id)
            state = self._state[device_id]
            if state.curtailed or not _is_available(gd):
                return True
            wish = self._wish(gd)
            if wish is None:
                return True
            kind = (
                InterventionKind.OVERRIDE
                if state.override_w is not None
                else InterventionKind.PLAN
            )
            return await self._apply_wish(gd, wish, now, kind)

    # ----------------------------------------------------------- the loop

    async def async_tick(self, now: datetime) -> None:
        """Check for lost P1 data; call about once a second."""
        async with self._lock:
            last = self._last_reading
            if self._data_lost:
                return
            if last is not None and now - last.timestamp < self.config.data_timeout:
                return
            if last is None:
                if self._started is None:
                    self._started = now
                if now - self._started < self.config.data_timeout:
                    return
            await self._enter_data_lost(now, "no meter data")

    async def _enter_data_lost(self, now: datetime, reason: str) -> None:
        self._data_lost = True
        self._record(
            now,
            InterventionKind.DATA_LOST,
            None,
            None,
            None,
            f"{reason}: devices to safe minimum",
        )
        for gd in self._devices.values():
            await self._to_safe_minimum(gd, now)

    async def async_process(self, reading: GridMeasurement) -> None:
        """Act on one meter reading."""
        async with self._lock:
            problem = self._reading_problem(reading)
            if problem is not None:
                stamp = getattr(reading, "timestamp", None)
                at = stamp if isinstance(stamp, datetime) else None
                await self._bad_reading(problem, at)
                return
            self._bad_in_a_row = 0
            await self._process(reading)

    def _reading_problem(self, reading: GridMeasurement) -> str | None:
        """Why a reading must not be acted on; None if it may."""
        grid = self.config.grid
        try:
            stamp: object = reading.timestamp
            if not isinstance(stamp, datetime) or stamp.utcoffset() is None:
                return "the reading has no time with a time zone"
            values: dict[str, object] = {
                "net power": reading.net_power_w,
                "import": reading.import_w,
                "export": reading.export_w,
            }
            currents: tuple[object, ...] = tuple(reading.phase_currents_a)
        except Exception as err:  # noqa: BLE001 - a broken reading is a bad one
            return f"the reading cannot be read ({type(err).__name__}: {err})"
        values.update(
            {f"current L{i + 1}": c for i, c in enumerate(currents) if c is not None}
        )
        for name, value in values.items():
            if not isinstance(value, int | float) or not math.isfinite(value):
                return f"{name} is not a finite number ({value!r})"
            bound, unit = (
                (grid.plausible_max_current_a, "A")
                if name.startswith("current")
                else (grid.plausible_max_power_w, "W")
            )
            if abs(value) > bound:
                return (
                    f"{name} of {value:.0f} {unit} is beyond {bound:.0f} {unit}, "
                    f"implausible for {grid}"
                )
        return None

    async def _bad_reading(self, problem: str, at: datetime | None) -> None:
        """Count a reading that is not acted on; a few in a row: data lost."""
        self._bad_readings += 1
        self._bad_in_a_row += 1
        last = self._last_reading
        now = at or (last.timestamp if last is not None else None)
        if now is None:
            return
        if self._bad_in_a_row == 1:
            self._record(now, InterventionKind.BAD_READING, None, None, None, problem)
        if self._bad_in_a_row >= self.config.bad_readings_lost and not self._data_lost:
            await self._enter_data_lost(
                now, f"{self._bad_in_a_row} bad readings in a row ({problem})"
            )

    async def _process(self, reading: GridMeasurement) -> None:
        now = reading.timestamp
        self._last_reading = reading
        if self._data_lost:
            self._data_lost = False
            self._record(
                now, InterventionKind.DATA_RESTORED, None, None, None, "meter data back"
            )
            self._last_curtail = now
        self._observe_switches(now)
        self._observe_devices(now, reading)
        limit_w = self._update_limit(now, reading)
        pending_total, pending_phase = self._pending(now)
        expected = reading.net_power_w + pending_total
        need_total = expected - limit_w
        need_phase = self._phase_needs(reading, pending_phase)
        await self._enforce_caps(now, reading)
        if need_total > 0 or any(n > 0 for n in need_phase):
            shortfall = await self._curtail(now, need_total, need_phase)
            self._track_shortfall(now, shortfall)
            return
        self._track_shortfall(now, 0.0)
        await self._release(now, limit_w - expected - self._grant_margin(), need_phase)
        if self._export_limit_w is not None:
            export_room = self._export_limit_w - self.config.margin_w + expected
            if export_room < 0:
                await self._absorb(now, -export_room, limit_w - expected, need_phase)
                return
            await self._end_absorb(now, export_room)
        else:
            await self._end_absorb(now, math.inf)

    # ------------------------------------------------------------ helpers

    def _observe_devices(self, now: datetime, reading: GridMeasurement) -> None:
        """Note each device's availability and power, and the uncontrolled load."""
        controlled = 0.0
        for gd in self._devices.values():
            state = self._state[gd.device_id]
            available = _is_available(gd)
            if available == state.unavailable:
                state.unavailable = not available
                kind = (
                    InterventionKind.DEVICE_AVAILABLE
                    if available
                    else InterventionKind.DEVICE_UNAVAILABLE
                )
                reason = (
                    "answers again"
                    if available
                    else "does not answer: its power counts as unknown, on the "
                    "safe side"
                )
                self._record(now, kind, gd, None, None, reason)
            seen = self._seen_power(gd) if available else None
            if seen is not None:
                state.seen_w = seen
            controlled += state.seen_w or 0.0
        window = self.config.release_window
        recent = self._recent_base
        recent.append((now, reading.net_power_w - controlled))
        while recent and now - recent[0][0] > window:
            recent.popleft()

    def _seen_power(self, gd: GuardedDevice) -> float | None:
        """Power the device draws now as far as it says, else as commanded."""
        device = gd.device
        value: float | None = None
        if isinstance(device, PowerMeter):
            value = device.power_w  # NaN stays: no fallback for a broken report
            report = self._report(gd)
            if report is not None and self._stale(gd, report):
                value = self._state[gd.device_id].target_w  # predates the command
        if value is None and isinstance(device, PowerSettable):
            value = device.setpoint_w
        if value is None and isinstance(device, Switchable):
            on = device.is_on
            value = None if on is None else (device.rated_power_w if on else 0.0)
        if value is None or not math.isfinite(value):
            return None
        return value

    def _grant_margin(self, exclude: GuardedDevice | None = None) -> float:
        """Room held back before power is granted (a release or a plan rise).

        Two parts, both only ever used for grants, never for cuts: how much
        higher the uncontrolled load has been within ``release_window`` than
        it is now (the worst-recent view, so noise does not make devices go
        up and down), and what unavailable devices may draw beyond what they
        were last seen to (their power is unknown: they may go up to what
        they were last allowed, or their maximum).
        """
        margin = 0.0
        recent = self._recent_base
        if recent:
            margin = max(value for _, value in recent) - recent[-1][1]
        for gd in self._devices.values():
            state = self._state[gd.device_id]
            if gd is exclude or not state.unavailable:
                continue
            margin += max(self._may_draw(gd) - (state.seen_w or 0.0), 0.0)
        return max(margin, 0.0)

    def _may_draw(self, gd: GuardedDevice) -> float:
        """Return what an unavailable device may draw: last allowed, else its max."""
        state = self._state[gd.device_id]
        if state.target_w is not None:
            return max(state.target_w, state.seen_w or 0.0)
        device = gd.device
        if isinstance(device, PowerSettable):
            return device.power_range.max_w
        if isinstance(device, Switchable):
            return device.rated_power_w
        return state.seen_w or 0.0

    def _track_shortfall(self, now: datetime, shortfall: float) -> None:
        """Report when the limit cannot be held, and when it can again."""
        if shortfall > _EPSILON_W:
            self._held_since = None
            if self._shortfall_w is None:
                self._shortfall_w = shortfall
                self._record(
                    now,
                    InterventionKind.LIMIT_NOT_HOLDABLE,
                    None,
                    None,
                    None,
                    f"everything controllable is curtailed and the connection is "
                    f"still {shortfall:.0f} W over the {self._limit_source} limit",
                    shortfall_w=shortfall,
                )
            self._shortfall_w = shortfall
            return
        if self._shortfall_w is None:
            return
        if self._held_since is None:
            self._held_since = now
        if now - self._held_since >= self.config.release_hold:
            self._shortfall_w = None
            self._held_since = None
            self._record(
                now,
                InterventionKind.LIMIT_HOLDABLE,
                None,
                None,
                None,
                f"within the {self._limit_source} limit again",
            )

    def _get(self, device_id: str) -> GuardedDevice:
        try:
            return self._devices[device_id]
        except KeyError:
            msg = f"unknown device {device_id!r}"
            raise KeyError(msg) from None

    def _record(  # noqa: PLR0917 - one line per field of the record
        self,
        now: datetime,
        kind: InterventionKind,
        gd: GuardedDevice | None,
        from_w: float | None,
        to_w: float | None,
        reason: str,
        *,
        shortfall_w: float | None = None,
    ) -> None:
        reading = self._last_reading
        item = Intervention(
            timestamp=now,
            kind=kind,
            device_id=None if gd is None else gd.device_id,
            from_w=from_w,
            to_w=to_w,
            reason=reason,
            limit_w=self._import_limit_w,
            measured_w=None if reading is None else reading.net_power_w,
            shortfall_w=shortfall_w,
        )
        self._log.append(item)
        self._count += 1
        _LOGGER.debug(
            "%s %s %s -> %s W (limit %s W, meter %s W): %s",
            kind,
            item.device_id or "-",
            from_w,
            to_w,
            item.limit_w,
            item.measured_w,
            reason,
        )
        if kind is not InterventionKind.LIMIT_CHANGED:
            day = now.astimezone(self._tz).date()
            if day != self._today:
                self._today = day
                self._today_count = 0
            self._today_count += 1
        for listener in tuple(self._listeners):
            try:
                listener(item)
            except Exception:
                _LOGGER.exception("intervention listener failed")

    def _refresh_notice(self) -> None:
        held = [
            i
            for i, s in self._state.items()
            if s.override_w is not None
            and s.target_w is not None
            and s.target_w < s.override_w - _EPSILON_W
        ]
        self._override_notice = (
            None
            if not held
            else (
                f"manual override of {', '.join(held)} held back to keep the "
                f"{self._limit_source} limit of {self._import_limit_w:.0f} W"
            )
        )

    def _update_limit(self, now: datetime, reading: GridMeasurement) -> float:
        fuse_w = self.config.grid.max_power_w
        value, source, moving = fuse_w, "fuse", False
        if self._limits is not None:
            self._feed_sources(reading)
            try:
                value, source, moving = self._limit_from_stack(now, value)
            except Exception:
                # The stack isolates its sources; should it fail as a whole,
                # keep the last limit (never more than the fuse): the guard
                # must go on with every reading. Logged once, not per reading.
                if not self._stack_failing:
                    _LOGGER.exception("the limit stack failed; keeping the last limit")
                self._stack_failing = True
                value = min(self._import_limit_w, fuse_w)
                source = self._limit_source
            else:
                if self._stack_failing:
                    _LOGGER.info("the limit stack works again")
                self._stack_failing = False
        limit_w = value - self.config.margin_w
        self._import_limit_w = value
        self._limit_source = source
        # A moving target (the capacity budget) is recorded when it starts
        # binding, not at every reading.
        key = (None if moving else round(value, 1), source)
        if key != self._limit_key:
            if self._limit_key is not None:
                self._record(
                    now,
                    InterventionKind.LIMIT_CHANGED,
                    None,
                    None,
                    value,
                    f"import limit {value:.0f} W from {source}",
                )
            self._limit_key = key
        return limit_w

    def _feed_sources(self, reading: GridMeasurement) -> None:
        """Give each source the reading it follows; a failing one is logged."""
        assert self._limits is not None  # noqa: S101 - checked by the caller
        average = reading.quarter_average_w
        if average is not None and not math.isfinite(average):
            average = None
        for source_obj in self._limits.sources:
            try:
                observe = getattr(source_obj, "observe", None)
                if callable(observe):
                    observe(reading.timestamp, average)
                observe_reading = getattr(source_obj, "observe_reading", None)
                if callable(observe_reading):
                    observe_reading(reading)
            except Exception as err:
                # Logged once per source and error, not at every telegram.
                text = f"{type(err).__name__}: {err}"
                if self._source_errors.get(id(source_obj)) != text:
                    _LOGGER.exception("limit source %r failed on a reading", source_obj)
                self._source_errors[id(source_obj)] = text
            else:
                self._source_errors.pop(id(source_obj), None)

    def _limit_from_stack(
        self, now: datetime, fuse_w: float
    ) -> tuple[float, str, bool]:
        assert self._limits is not None  # noqa: S101 - checked by the caller
        value, source, moving = fuse_w, "fuse", False
        export: tuple[float, str] | None = None
        for at in (now, now + self._lookahead):
            eff: EffectiveLimit = self._limits.effective(at)
            if eff.import_w is not None and eff.import_w < value:
                value, source = eff.import_w, eff.import_source or "dso"
                moving = eff.import_moving
            if eff.export_w is not None and (
                export is None or eff.export_w < export[0]
            ):
                export = (eff.export_w, eff.export_source or "dso")
        self._export_limit_w = None if export is None else export[0]
        self._export_source = None if export is None else export[1]
        return value, source, moving

    def _phase_needs(
        self, reading: GridMeasurement, pending_phase: list[float]
    ) -> list[float]:
        grid = self.config.grid
        allowed_a = grid.fuse_a - self.config.phase_margin_a
        needs: list[float] = []
        for index in range(3):
            currents = reading.phase_currents_a
            current = currents[index] if index < len(currents) else None
            if current is None:
                needs.append(-math.inf)
                continue
            expected_a = current + pending_phase[index] / grid.voltage_v
            needs.append((expected_a - allowed_a) * grid.voltage_v)
        return needs

    def _pending(
        self, now: datetime, *, trim: bool = True
    ) -> tuple[float, list[float]]:
        """Power commanded but not yet in the meter reading, in all and per phase.

        With ``trim`` a rise that the device reports as delivered no longer
        counts (see ``_unrealised``); without it every command counts for its
        whole declared reaction delay, the cautious view used before granting
        power to another device.
        """
        total = 0.0
        phase = [0.0, 0.0, 0.0]
        rises: list[tuple[GuardedDevice, float]] = []
        rise_total = 0.0
        for device_id, state in self._state.items():
            state.pending = [(at, d) for at, d in state.pending if at > now]
            gd = self._devices[device_id]
            delta = sum(d for _, d in state.pending)
            whole = delta
            if trim:
                delta = self._unrealised(gd, delta, now)
            if whole > 0:
                rise_total += whole
                rises.append((gd, delta))
                continue
            total += delta
            for p in gd.phases:
                phase[p] += delta / len(gd.phases)
        if rise_total <= 0:
            self._rise_from_w = None
        scale = 1.0
        reading = self._last_reading
        if trim and rises and self._rise_from_w is not None and reading is not None:
            # What the meter shows of the rises: a device whose own report
            # lags (OCPP meter values come every 10-60 s) is in the reading
            # long before it says so, and counting its rise again cut it
            # back, paused it and released it over and over.
            reported = sum(delta for _, delta in rises)
            shown = max(reading.net_power_w - self._rise_from_w, 0.0)
            left = max(rise_total - shown, 0.0)
            if reported > left:
                scale = left / reported
        for gd, delta in rises:
            total += delta * scale
            for p in gd.phases:
                phase[p] += delta * scale / len(gd.phases)
        return total, phase

    def _unrealised(self, gd: GuardedDevice, pending_w: float, now: datetime) -> float:
        """Return the part of a pending change that the device has not delivered.

        The declared reaction delay is an upper bound: a device that reports
        its own power and has reached its new target is (or within one
        telegram will be) in the meter reading. Counting a rise again makes
        the guard see a breach that is not there and cut the device again,
        over and over. Counting a cut again is worse: the guard believes the
        reading will still fall, and holds still while the home stays over
        the limit for the rest of the delay. So both are trimmed to what the
        device has yet to deliver: a rise at once, a cut once the device
        reports it whole, from the first reading read at least ``_BURST``
        after the one during which it did. The reading that arrives with the
        report may have been taken before the device moved, and so may every
        reading of a burst that queued up while the host was busy; trimming
        the cut there would make the guard cut (pause, or send into V2G
        discharge) a device that has already done enough. A device whose report
        lags, or is NaN, keeps the whole change counted. Releases wait while
        any command is pending, and granting power to another device uses the
        untrimmed view.
        """
        device = gd.device
        state = self._state[gd.device_id]
        target = state.target_w
        if (
            pending_w == 0
            or target is None
            or not isinstance(device, PowerMeter)
            or device.power_w is None
            or not math.isfinite(device.power_w)
        ):
            state.cut_done_at = None
            return pending_w
        if pending_w > 0:
            state.cut_done_at = None
            return min(pending_w, max(0.0, target - device.power_w))
        if device.power_w > target + _EPSILON_W:  # not there yet: all of it
            state.cut_done_at = None
            return pending_w
        if state.cut_done_at is None:
            state.cut_done_at = now
        if now - state.cut_done_at >= _BURST:
            return 0.0
        return pending_w

    def _report(self, gd: GuardedDevice) -> float | None:
        """Return the device's own power report; None if none (NaN is none)."""
        device = gd.device
        value = device.power_w if isinstance(device, PowerMeter) else None
        return value if value is not None and math.isfinite(value) else None

    def _stale(self, gd: GuardedDevice, report: float) -> bool:
        """Whether a power report may predate the guard's last command.

        A report that has not changed since the guard commanded a different
        power says nothing about the command yet: OCPP chargers report with
        their meter values, every 10-60 s. Trusting it made the guard think a
        car it had released still drew nothing (and cut the washer instead
        of the car), or that a car it had cut still drew its old power. So
        for ``_REPORT_GRACE`` after the command the report is weighed
        against the command (``_power``; the uncontrolled-load estimate
        takes the command), once the device's declared reaction delay is
        over (before that, an unchanged report is most likely true). Only for
        devices
        that take a power setpoint: an on/off load switched on may well draw
        nothing (a boiler whose own thermostat has stopped it).
        """
        state = self._state[gd.device_id]
        reading = self._last_reading
        return (
            isinstance(gd.device, PowerSettable)
            and not state.pending
            and state.commanded_at is not None
            and state.report_at_command is not None
            and state.target_w is not None
            and reading is not None
            and reading.timestamp - state.commanded_at <= _REPORT_GRACE
            and abs(report - state.report_at_command) <= _EPSILON_W
            and abs(report - state.target_w) > _EPSILON_W
        )

    def _power(self, gd: GuardedDevice, *, shed: bool) -> float:
        """Return what the device draws now, as far as the guard can tell.

        Within the reaction delay: what was asked. When the report may
        predate the last command (``_stale``), the guard cannot tell whether
        the device followed it, and each decision takes its safe side:
        ``shed`` (how much a cut can take off) the higher of the two, so a
        car that never got its pause is paused again and a car released a
        moment ago is cut before the washer; a grant the lower, so it never
        gives more than there is room for.
        """
        state = self._state[gd.device_id]
        report = self._report(gd)
        target = state.target_w
        if target is not None and report is not None and self._stale(gd, report):
            return max(report, target) if shed else min(report, target)
        if target is not None and state.pending:
            return target
        if report is not None:
            return report
        return self._power_unmeasured(gd)

    def _power_unmeasured(self, gd: GuardedDevice) -> float:
        """Return the power of a device that reports none: as set or switched."""
        device = gd.device
        if isinstance(device, PowerSettable):
            setpoint = device.setpoint_w
            if setpoint is not None and math.isfinite(setpoint):
                return setpoint
            return self._state[gd.device_id].target_w or 0.0
        if isinstance(device, Switchable):
            return device.rated_power_w if device.is_on else 0.0
        return 0.0

    def _observe_switches(self, now: datetime) -> None:
        for device_id, gd in self._devices.items():
            if isinstance(gd.device, Switchable) and not isinstance(
                gd.device, PowerSettable
            ):
                state = self._state[device_id]
                on = gd.device.is_on
                if on and state.was_on is False and state.switched_at is None:
                    state.switched_at = now
                if on is not None and on != state.was_on:
                    if state.was_on is not None:
                        state.switched_at = now
                    state.was_on = on

    async def _command(
        self,
        gd: GuardedDevice,
        target_w: float,
        now: datetime,
        kind: InterventionKind,
        reason: str,
        *,
        emergency_pause: bool = False,
    ) -> bool:
        state = self._state[gd.device_id]
        before = self._power(gd, shed=True)
        if target_w >= before:  # a rise: count it from the lower view
            before = self._power(gd, shed=False)
        timeout = self.config.command_timeout.total_seconds()
        failure: str | None
        try:
            async with asyncio.timeout(timeout):
                target_w = await self._send(
                    gd, target_w, now, emergency_pause=emergency_pause
                )
        except DeviceUnavailableError as err:
            failure = str(err) or type(err).__name__
        except TimeoutError:
            failure = f"no answer within {timeout:g} s"
        except Exception as err:  # a driver bug must not stop the guard
            _LOGGER.exception("command to %s failed", gd.device_id)
            failure = f"{type(err).__name__}: {err}"
        else:
            failure = None
        if failure is not None:
            self._record(
                now, InterventionKind.COMMAND_FAILED, gd, before, target_w, failure
            )
            return False
        asked = target_w
        target_w = self._accepted(gd, target_w)
        if target_w > asked + _EPSILON_W:
            # The driver would not go that low (its own floor, a user's boost
            # it keeps): count what it took, so the rest is shed elsewhere or
            # reported as a shortfall, and do not ask again in vain.
            state.refused = (asked, target_w)
            reason = f"{reason}; the device took {target_w:.0f} W"
        else:
            state.refused = None
        state.target_w = target_w
        state.commanded_at = now
        report = gd.device.power_w if isinstance(gd.device, PowerMeter) else None
        state.report_at_command = (
            report if report is not None and math.isfinite(report) else None
        )
        delta = target_w - before
        if abs(delta) > 0:
            if delta > 0 and self._rise_from_w is None:
                last = self._last_reading
                self._rise_from_w = None if last is None else last.net_power_w
            state.pending.append((now + gd.reaction_delay, delta))
        self._record(now, kind, gd, before, target_w, reason)
        return True

    async def _send(
        self,
        gd: GuardedDevice,
        target_w: float,
        now: datetime,
        *,
        emergency_pause: bool,
    ) -> float:
        """Send one command; return what it asked for (on/off: 0 or rated)."""
        device = gd.device
        pause = getattr(device, "async_emergency_pause", None)
        if emergency_pause and callable(pause):
            # A driver that holds a car at its minimum instead of pausing
            # (``minimum_instead_of_pause``) pauses it here.
            await pause()
        elif isinstance(device, PowerSettable):
            await device.async_set_power(target_w)
        elif isinstance(device, Switchable):
            on = target_w > 0
            await device.async_switch(on)
            state = self._state[gd.device_id]
            state.switched_at = now
            state.was_on = on
            return device.rated_power_w if on else 0.0
        return target_w

    def _accepted(self, gd: GuardedDevice, asked_w: float) -> float:
        """Return the setpoint the device reports after a command for ``asked_w``."""
        device = gd.device
        if not isinstance(device, PowerSettable):
            return asked_w
        try:
            took = device.setpoint_w
        except Exception:  # noqa: BLE001 - a driver that cannot say took it
            return asked_w
        if took is None or not math.isfinite(took):
            return asked_w
        return took

    def _cap(self, gd: GuardedDevice) -> float | None:
        if self._device_cap_w is None or not isinstance(gd.device, PowerSettable):
            return None
        return self._device_cap_w()

    async def _enforce_caps(self, now: datetime, reading: GridMeasurement) -> None:
        del reading
        for gd in self._devices.values():
            cap = self._cap(gd)
            if cap is None or not isinstance(gd.device, PowerSettable):
                continue
            power = self._power(gd, shed=True)
            if power > cap + _EPSILON_W:
                state = self._state[gd.device_id]
                target = gd.device.power_range.clamp(cap, allow_pause=True)
                if not state.curtailed:
                    state.restore_w = power
                state.curtailed = True
                state.curtailed_at = now
                self._last_curtail = now
                await self._command(
                    gd, target, now, InterventionKind.CURTAIL, "dim: per-device cap"
                )

    # ------------------------------------------------------------ curtail

    def _comfort_allows(self, gd: GuardedDevice) -> bool:
        """Whether a thermal device is above its comfort floor (or unknown)."""
        device = gd.device
        if not isinstance(device, Thermal):
            return True
        floor_c = gd.comfort_floor_c
        if floor_c is None:
            floor_c = device.comfort.min_c
        temp = device.temperature_c
        return temp is None or temp > floor_c

    def _min_run_done(self, gd: GuardedDevice) -> bool:
        """Whether an on/off device has run its minimum time."""
        device = gd.device
        if not isinstance(device, Switchable) or isinstance(device, PowerSettable):
            return True
        since = self._state[gd.device_id].switched_at
        reading = self._last_reading
        if since is None or reading is None:
            return True
        return reading.timestamp - since >= device.min_on_time

    def _ev_floor(self, gd: GuardedDevice, step: CurtailPriority) -> float | None:
        """Lowest power of an EV charger in the EV or EV-pause step."""
        device = gd.device
        if not isinstance(device, PowerSettable):
            return (
                0.0 if step is CurtailPriority.EV_PAUSE and gd.pause_allowed else None
            )
        rng = device.power_range
        if step is CurtailPriority.EV_PAUSE:
            if not gd.pause_allowed:
                return None
            # Past the pause into V2G discharge, only after the boiler and the
            # heat pump have given way: their heat keeps, while a discharge
            # costs the round trip's losses, battery wear and energy the
            # driver may need.
            if (
                isinstance(device, Bidirectional)
                and device.discharge_allowed
                and device.plugged_in
            ):
                return rng.min_w
            return max(rng.min_w, 0.0)
        return max(min(rng.min_active_w, rng.max_w), rng.min_w, 0.0)

    def _floor(
        self, gd: GuardedDevice, step: CurtailPriority, *, emergency: bool
    ) -> float | None:
        """Lowest power this step may take the device to; None: not applicable."""
        state = self._state[gd.device_id]
        if not _is_available(gd) or (state.override_w is not None and not emergency):
            return None
        if gd.priority is CurtailPriority.EV:
            if step in {CurtailPriority.EV, CurtailPriority.EV_PAUSE}:
                return self._ev_floor(gd, step)
            return None
        blocked = (
            step is not gd.priority
            or (step is CurtailPriority.WHITE_GOODS and not emergency)
            or (
                step is CurtailPriority.HEAT_PUMP
                and not emergency
                and not (self._comfort_allows(gd) and self._min_run_done(gd))
            )
        )
        if blocked:
            return None
        if isinstance(gd.device, PowerSettable):
            return max(gd.device.power_range.min_w, 0.0)
        return 0.0

    def _candidates(
        self,
    ) -> list[tuple[GuardedDevice, CurtailPriority, bool, float, bool]]:
        """Every (device, step, emergency, floor, forced) in curtailment order.

        ``forced`` marks the very last resort: an EV that may not pause is
        paused after all, because the DSO limit outranks the car's comfort.
        """
        found: list[tuple[GuardedDevice, CurtailPriority, bool, float, bool]] = []
        for emergency in (False, True):
            for step in _ORDER:
                for gd in self._devices.values():
                    floor = self._floor(gd, step, emergency=emergency)
                    if floor is not None:
                        found.append((gd, step, emergency, floor, False))
        for gd in self._devices.values():
            if (
                gd.priority is CurtailPriority.EV
                and not gd.pause_allowed
                and not self._state[gd.device_id].unavailable
                and _is_available(gd)
            ):
                device = gd.device
                floor = (
                    max(device.power_range.min_w, 0.0)
                    if isinstance(device, PowerSettable)
                    else 0.0
                )
                found.append((gd, CurtailPriority.EV_PAUSE, True, floor, True))
        return found

    async def _curtail(
        self, now: datetime, need_total: float, need_phase: list[float]
    ) -> float:
        """Curtail in order; return how much remains over the limit (W)."""
        self._next_release = None
        needs = [need_total, *need_phase]
        for gd, step, emergency, floor, forced in self._candidates():
            if max(needs) <= 0:
                break
            power = self._power(gd, shed=True)
            required = max(
                needs[0], *(needs[1 + p] * len(gd.phases) for p in gd.phases)
            )
            if power <= floor + _EPSILON_W or required <= 0:
                continue
            target = self._curtail_target(
                gd, power, required, floor, allow_pause=forced
            )
            if target >= power or self._refuses(gd, target):
                continue
            state = self._state[gd.device_id]
            if not state.curtailed:
                state.restore_w = self._wish(gd) or power
            kind, reason = self._curtail_record(
                state, step, max(needs), emergency=emergency, forced=forced
            )
            if await self._command(
                gd, target, now, kind, reason, emergency_pause=forced and target <= 0
            ):
                target = state.target_w if state.target_w is not None else target
                state.curtailed = True
                state.absorb_from_w = None
                state.curtailed_at = now
                if forced and target <= 0:
                    state.forced_pause = True
                self._last_curtail = now
                reduction = max(power - target, 0.0)
                needs[0] -= reduction
                for p in gd.phases:
                    needs[1 + p] -= reduction / len(gd.phases)
        self._refresh_notice()
        # What stays over the limit itself (the margins are the guard's own).
        phase_margin_w = self.config.phase_margin_a * self.config.grid.voltage_v
        return max(
            needs[0] - self.config.margin_w, *(n - phase_margin_w for n in needs[1:])
        )

    def _refuses(self, gd: GuardedDevice, target: float) -> bool:
        """Whether the device already refused to go this low, and still sits there."""
        refused = self._state[gd.device_id].refused
        if refused is None or target > refused[0] + _EPSILON_W:
            return False
        return abs(self._accepted(gd, math.nan) - refused[1]) <= _EPSILON_W

    def _curtail_record(
        self,
        state: _State,
        step: CurtailPriority,
        over_w: float,
        *,
        emergency: bool,
        forced: bool,
    ) -> tuple[InterventionKind, str]:
        """Return the kind and the reason of a cut, for the log and the user."""
        if forced:
            return InterventionKind.EMERGENCY, (
                f"emergency: paused although set not to pause; the "
                f"{self._limit_source} limit outranks it (over by {over_w:.0f} W)"
            )
        if state.override_w is not None and not emergency:
            kind = InterventionKind.OVERRIDE_LIMITED
        elif emergency:
            kind = InterventionKind.EMERGENCY
        else:
            kind = InterventionKind.CURTAIL
        return (
            kind,
            f"{step.value}: over the {self._limit_source} limit by {over_w:.0f} W",
        )

    def _curtail_target(
        self,
        gd: GuardedDevice,
        power: float,
        required: float,
        floor: float,
        *,
        allow_pause: bool = False,
    ) -> float:
        """Highest accepted setpoint that sheds ``required`` W, not below floor.

        Any positive excess moves the device: it sheds at least ``_MIN_CUT_W``
        (a 1 W excess must not skip it and switch off the next one instead).
        """
        device = gd.device
        if not isinstance(device, PowerSettable):
            return 0.0
        rng = device.power_range
        cut = max(required, _MIN_CUT_W)
        wanted = min(max(power - cut, floor, rng.min_w), rng.max_w)
        if wanted == 0.0 or abs(wanted) >= rng.min_active_w:
            return wanted
        # In the dead band: round towards more reduction where allowed.
        if (
            wanted > 0
            and (floor <= 0 <= wanted)
            and (
                allow_pause or gd.pause_allowed or gd.priority is not CurtailPriority.EV
            )
        ):
            return 0.0
        if -rng.min_active_w >= max(floor, rng.min_w):
            return -rng.min_active_w
        if floor <= 0:
            return 0.0
        return max(floor, min(rng.min_active_w, rng.max_w))

    # ------------------------------------------------------------ release

    def _wish(self, gd: GuardedDevice) -> float | None:
        state = self._state[gd.device_id]
        wish: float | None
        if state.override_w is not None:
            wish = state.override_w
        elif state.plan_w is not None:
            wish = state.plan_w
        elif state.restore_w is not None:
            wish = state.restore_w
        else:
            wish = self._unplanned_w(gd)
        cap = self._cap(gd)
        if wish is not None and cap is not None:
            wish = min(wish, cap)
        return wish

    def _unplanned_w(self, gd: GuardedDevice) -> float | None:
        """Return what a device does when nobody plans or overrides it.

        An EV charges at full power; a boiler or heat pump is allowed to run
        (its own thermostat decides). White goods are never started by the
        guard: None, they keep what they do.
        """
        device = gd.device
        if gd.priority is CurtailPriority.WHITE_GOODS:
            return None
        if isinstance(device, PowerSettable):
            return device.power_range.max_w
        if isinstance(device, Switchable):
            return device.rated_power_w
        return None

    async def _release(
        self, now: datetime, headroom: float, need_phase: list[float]
    ) -> None:
        curtailed = [
            gd
            for gd in reversed(self._order())
            if self._state[gd.device_id].curtailed
            # A device that does not answer gets nothing until it does.
            and not self._state[gd.device_id].unavailable
        ]
        if not curtailed:
            self._next_release = None
            return
        if self._last_curtail is not None and (
            now - self._last_curtail < self.config.release_hold
        ):
            return
        if any(state.pending for state in self._state.values()):
            return
        if self._next_release is None:
            self._next_release = now + self._stagger()
            return
        if now < self._next_release:
            return
        spare = headroom - self.config.release_hysteresis_w
        phase_spare = [
            -n - self.config.phase_margin_a * self.config.grid.voltage_v
            for n in need_phase
        ]
        for gd in curtailed:
            if await self._release_one(gd, now, spare, phase_spare):
                break
        self._next_release = now + self._stagger()
        self._refresh_notice()

    async def _release_one(
        self, gd: GuardedDevice, now: datetime, spare: float, phase_spare: list[float]
    ) -> bool:
        state = self._state[gd.device_id]
        device = gd.device
        wish = self._wish(gd)
        power = self._power(gd, shed=False)
        # A device that reads a few watts under its setpoint is released: a
        # command per telegram for 20 W would only fill the log.
        if wish is None or wish <= power + _MIN_CUT_W:
            state.curtailed = False
            state.forced_pause = False
            return False
        if isinstance(device, Switchable) and not isinstance(device, PowerSettable):
            since = state.switched_at
            if since is not None and now - since < device.min_off_time:
                return False
        target = self._release_target(gd, now, power, wish, spare, phase_spare)
        if target is None:
            return False
        kind = InterventionKind.RELEASE
        if await self._command(gd, target, now, kind, "headroom back: release"):
            state.curtailed = target < wish - _EPSILON_W
            if target > 0:
                state.forced_pause = False
            return True
        return False

    def _release_target(  # noqa: PLR0917 - the release's figures
        self,
        gd: GuardedDevice,
        now: datetime,
        power: float,
        wish: float,
        spare: float,
        phase_spare: list[float],
    ) -> float | None:
        """Return what ``gd`` may go up to now (None: nothing)."""
        device = gd.device
        phase_room = [phase_spare[p] * len(gd.phases) for p in gd.phases]
        room = min(spare, *phase_room)
        if wish - power <= room:
            return wish
        if isinstance(device, PowerSettable) and room > 0:
            clamped = device.power_range.clamp(power + room, allow_pause=True)
            if power + _MIN_CUT_W <= clamped <= power + room:
                return clamped
        fits = min(spare + self.config.release_hysteresis_w, *phase_room)
        return self._start_at_minimum(gd, now, power, wish, fits)

    def _start_at_minimum(
        self, gd: GuardedDevice, now: datetime, power: float, wish: float, fits: float
    ) -> float | None:
        """Return the minimum of a paused car that fits only without hysteresis.

        A car paused under a window that leaves it a little more than its
        minimum (4.3 kW free for a 4.14 kW minimum) never got the minimum
        plus the 500 W hysteresis, so it stayed paused for the rest of the
        window while its plan wanted it on. Once the pause has lasted the
        release window (the worst-recent view then covers a whole window
        of the load without it), it starts at its minimum if that fits
        under the margin: a base load that then rises pauses it again,
        with a back-off: each start in a row waits twice as long as the last
        (one release window, then 2, 4, 8, at most 16), so a base load that
        steps up and down (a compressor) does not stop and start the car
        every minute; the count starts again after ``_MINIMUM_START_RESET``
        without such a start. Only cars: a heat pump or a boiler waits for
        the hysteresis (its tank or the house holds the heat, and its
        compressor or relay must not go on and off).
        """
        device = gd.device
        state = self._state[gd.device_id]
        if (
            gd.priority is not CurtailPriority.EV
            or not isinstance(device, PowerSettable)
            or abs(power) > _EPSILON_W
        ):
            return None
        minimum = device.power_range.min_active_w
        since = state.curtailed_at
        last = state.minimum_start_at
        if last is not None and now - last >= _MINIMUM_START_RESET:
            state.minimum_starts = 0
        wait = self.config.release_window * (
            2 ** min(state.minimum_starts, _MINIMUM_START_DOUBLINGS)
        )
        if (
            minimum <= _EPSILON_W
            or wish < minimum
            or minimum > fits
            or since is None
            or now - since < wait
        ):
            return None
        state.minimum_starts += 1
        state.minimum_start_at = now
        return minimum

    def _order(self) -> list[GuardedDevice]:
        rank = {p: i for i, p in enumerate(_ORDER)}
        return sorted(self._devices.values(), key=lambda gd: rank[gd.priority])

    def _stagger(self) -> timedelta:
        low = self.config.stagger_min.total_seconds()
        high = self.config.stagger_max.total_seconds()
        return timedelta(seconds=self._rng.uniform(low, high))

    # ------------------------------------------------------- export limit

    def _absorb_ceiling(self, gd: GuardedDevice) -> float | None:
        """Highest power the device may be raised to for absorbing export."""
        device = gd.device
        state = self._state[gd.device_id]
        blocked = (
            state.override_w is not None
            or state.curtailed
            or not device.available
            or gd.priority is CurtailPriority.WHITE_GOODS
            or (isinstance(device, Bidirectional) and not device.plugged_in)
            or (
                isinstance(device, Thermal)
                and device.temperature_c is not None
                and device.temperature_c >= device.comfort.max_c
            )
        )
        ceiling: float | None = None
        if blocked:
            pass
        elif isinstance(device, PowerSettable):
            cap = self._cap(gd)
            ceiling = device.power_range.max_w
            ceiling = ceiling if cap is None else min(ceiling, cap)
        elif isinstance(device, Switchable) and not device.is_on:
            since = state.switched_at
            reading = self._last_reading
            resting = (
                since is not None
                and reading is not None
                and reading.timestamp - since < device.min_off_time
            )
            ceiling = None if resting else device.rated_power_w
        return ceiling

    async def _absorb(
        self,
        now: datetime,
        excess: float,
        import_room: float,
        need_phase: list[float],
    ) -> None:
        """Raise loads to take up export above the export limit.

        Loads go up only as far as the excess (an on/off load only if its
        whole power fits in it), so absorbing never creates new import.
        """
        del import_room
        self._next_absorb_end = None
        for gd in self._order():
            if excess <= _EPSILON_W:
                return
            ceiling = self._absorb_ceiling(gd)
            if ceiling is None:
                continue
            power = self._power(gd, shed=False)
            room = min(
                excess,
                *(-need_phase[p] * len(gd.phases) for p in gd.phases),
            )
            wanted = min(ceiling, power + room)
            device = gd.device
            if isinstance(device, PowerSettable):
                rng = device.power_range
                if 0 < wanted < rng.min_active_w or -rng.min_active_w < wanted < 0:
                    wanted = 0.0 if power >= 0 else -rng.min_active_w
            if wanted <= power + _EPSILON_W:
                continue
            state = self._state[gd.device_id]
            reason = f"export over the {self._export_source} limit by {excess:.0f} W"
            from_w = power if state.absorb_from_w is None else state.absorb_from_w
            if await self._command(gd, wanted, now, InterventionKind.ABSORB, reason):
                state.absorb_from_w = from_w
                excess -= wanted - power

    async def _end_absorb(self, now: datetime, export_room: float) -> None:
        """Bring raised loads back, one at a time, once export has room."""
        raised = [
            gd
            for gd in self._order()
            if self._state[gd.device_id].absorb_from_w is not None
        ]
        if not raised or any(state.pending for state in self._state.values()):
            return
        if self._next_absorb_end is None:
            self._next_absorb_end = now + self._stagger()
            return
        if now < self._next_absorb_end:
            return
        for gd in reversed(raised):
            state = self._state[gd.device_id]
            back_to = state.plan_w if state.plan_w is not None else state.absorb_from_w
            assert back_to is not None  # noqa: S101 - raised devices have one
            power = self._power(gd, shed=True)
            drop = power - back_to
            if drop > export_room - self.config.release_hysteresis_w:
                continue
            if await self._command(
                gd, back_to, now, InterventionKind.ABSORB_END, "export has room again"
            ):
                state.absorb_from_w = None
                break
        self._next_absorb_end = now + self._stagger()

    async def _apply_wish(
        self, gd: GuardedDevice, wish: float, now: datetime, kind: InterventionKind
    ) -> bool:
        """Send a wish within the headroom; False when the device refused it."""
        state = self._state[gd.device_id]
        power = self._power(gd, shed=False)
        cap = self._cap(gd)
        target = wish if cap is None else min(wish, cap)
        if target > power + _EPSILON_W and _released_thermostat(gd, target):
            return True  # already released: nothing to send, nothing pending
        if target > power + _EPSILON_W:
            headroom = self._headroom(now, gd)
            if target - power > headroom:
                allowed = power + max(headroom, 0.0)
                device = gd.device
                if isinstance(device, PowerSettable):
                    allowed = device.power_range.clamp(allowed, allow_pause=True)
                    allowed = min(allowed, power + max(headroom, 0.0))
                    allowed = max(allowed, power)
                else:
                    allowed = power
                state.curtailed = True
                state.restore_w = wish
                state.curtailed_at = now
                limited = (
                    InterventionKind.OVERRIDE_LIMITED
                    if kind is InterventionKind.OVERRIDE
                    else InterventionKind.PLAN_CLAMPED
                )
                reason = (
                    f"wanted {wish:.0f} W; {self._limit_source} limit leaves "
                    f"{max(headroom, 0.0):.0f} W"
                )
                if allowed > power + _EPSILON_W or isinstance(gd.device, PowerSettable):
                    return await self._command(gd, allowed, now, limited, reason)
                self._record(now, limited, gd, power, allowed, reason)
                return True
        return await self._command(gd, target, now, kind, "follow setpoint")

    def _headroom(self, now: datetime, gd: GuardedDevice) -> float:
        """Return how much more ``gd`` may draw now (total and on its phases)."""
        reading = self._last_reading
        if reading is None or self._data_lost:
            return 0.0
        pending, pending_phase = self._pending(now, trim=False)
        limit_w = self._import_limit_w - self.config.margin_w
        total = limit_w - (reading.net_power_w + pending) - self._grant_margin(gd)
        needs = self._phase_needs(reading, pending_phase)
        return min(total, *(-needs[p] * len(gd.phases) for p in gd.phases))

    async def _to_safe_minimum(self, gd: GuardedDevice, now: datetime) -> None:
        device = gd.device
        state = self._state[gd.device_id]
        if gd.priority is CurtailPriority.WHITE_GOODS:
            return
        if gd.priority is CurtailPriority.HEAT_PUMP and isinstance(device, Thermal):
            floor_c = (
                gd.comfort_floor_c
                if gd.comfort_floor_c is not None
                else device.comfort.min_c
            )
            temp = device.temperature_c
            if temp is not None and temp <= floor_c:
                return
        if isinstance(device, PowerSettable):
            rng = device.power_range
            if gd.priority is CurtailPriority.EV and not gd.pause_allowed:
                target = max(min(rng.min_active_w, rng.max_w), rng.min_w, 0.0)
            else:
                target = max(rng.min_w, 0.0)
        else:
            target = 0.0
        power = self._power(gd, shed=True)
        if power <= target + _EPSILON_W:
            return
        if not state.curtailed:
            state.restore_w = power if state.plan_w is None else state.plan_w
        if await self._command(
            gd, target, now, InterventionKind.CURTAIL, "no meter data: safe minimum"
        ):
            state.curtailed = True
            state.curtailed_at = now
            self._last_curtail = now


def _is_available(gd: GuardedDevice) -> bool:
    """Whether the device answers; a driver that cannot say does not."""
    try:
        return bool(gd.device.available)
    except Exception:  # noqa: BLE001 - a broken property is an unavailable device
        return False


def _released_thermostat(gd: GuardedDevice, target: float) -> bool:
    """Whether the device is already released to its own thermostat at ``target``.

    An SG-Ready pump in its normal mode draws when its thermostat calls;
    idle, it reads below the plan's setpoint. Holding the setpoint to the
    headroom would block it before it draws, spending a rationed block (and
    blocked minutes) on nothing: it is curtailed when it draws over the
    limit instead, like any load. Only the very mode asked for counts: a
    pump left in mode 3 (its boost power) is not released at its rated
    power, and goes back to mode 2.
    """
    device = gd.device
    if not getattr(device, "runs_on_own_thermostat", False):
        return False
    setpoint = getattr(device, "setpoint_w", None)
    return isinstance(setpoint, int | float) and abs(setpoint - target) <= 1.0


def _check_setpoint(setpoint_w: float | None) -> None:
    if setpoint_w is not None and not math.isfinite(setpoint_w):
        msg = f"a setpoint must be a finite number of W, got {setpoint_w}"
        raise ValueError(msg)
