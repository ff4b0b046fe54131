"""White goods: a washing machine, dishwasher or dryer, started by plan.

Two ways to start an appliance at the planned time:

* **Smart plug with power metering** (:class:`PlugAppliance`). The user
  loads the machine and presses start while the plug is off, then arms it
  (:meth:`async_arm`: the "arm" button or ``stroomwijs.run_before``, which
  also sets the deadline). At the planned start Stroomwijs switches the plug
  on and the machine begins its program. The power signature tells the end
  of the cycle: below ``idle_w`` for ``quiet_for`` after at least
  ``min_cycle``. The plug stays on afterwards (the user unloads).
* **Remote start** (:class:`RemoteStartAppliance`: Home Connect, Miele and
  similar): the integration's "remote start allowed" entity arms it, a
  button or service starts it, and its operation-state entity reports
  running and finished.

Both are ``Deferrable`` (a pending run with a profile, an earliest start and
a finish-by deadline; :meth:`async_start`) and ``Switchable`` for the guard,
which curtails white goods only in a DSO emergency. A running cycle is never
interrupted otherwise: switching a running plug off is recorded as an
emergency interruption and reported (:attr:`events`, a warning), and it
resumes when the guard releases it. The Household starts a cycle with
:meth:`async_start` at the planned start; it must not hand white-goods
setpoints to the guard's plan following. If the plan has not started the
cycle by its last possible start, the driver starts it itself so the
deadline holds.

The power profile (kWh per 15 minutes) is learned from the plug's past
cycles: the median of the last five, with a per-kind default until the
first cycle has been seen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
import itertools
import logging
import math
import statistics
from typing import Any

from custom_components.stroomwijs.engine.capabilities import (
    DeferrableRun,
    DeviceUnavailableError,
)

from .entities import (
    AvailabilityLog,
    EntityCallError,
    EntityPort,
    check_entity_id,
    domain_of,
    on_off,
    switch_entity,
    usable,
)
from .sg_ready import Clock, power_entity_w, utc_now

_LOGGER = logging.getLogger(__name__)

SLOT = timedelta(minutes=15)
MAX_PROFILE_SLOTS = 48
LEARN_CYCLES = 5
START_TIMEOUT = timedelta(minutes=5)


class ApplianceKind(StrEnum):
    """What the appliance is (chooses the default profile)."""

    WASHING_MACHINE = "washing_machine"
    DISHWASHER = "dishwasher"
    DRYER = "dryer"


DEFAULT_PROFILES: dict[ApplianceKind, tuple[float, ...]] = {
    # 40 degC cotton: heating first, then washing, rinsing and spinning.
    ApplianceKind.WASHING_MACHINE: (0.50, 0.08, 0.04, 0.04, 0.04, 0.05, 0.08, 0.04),
    # Eco programme: heating for the wash and again for the final rinse.
    ApplianceKind.DISHWASHER: (0.05, 0.40, 0.05, 0.03, 0.35, 0.10, 0.02),
    # Heat-pump dryer, cotton dry.
    ApplianceKind.DRYER: (0.20, 0.22, 0.22, 0.22, 0.22, 0.20, 0.12),
}


class CycleState(StrEnum):
    """Where the appliance's cycle is."""

    IDLE = "idle"
    ARMED = "armed"
    RUNNING = "running"
    INTERRUPTED = "interrupted"


class ProfileLearner:
    """Learns the per-slot energy of an appliance from its past cycles."""

    def __init__(self, kind: ApplianceKind) -> None:
        """Start with the kind's default profile."""
        self.kind = kind
        self.cycles: list[tuple[float, ...]] = []

    @property
    def profile(self) -> tuple[float, ...]:
        """KWh per 15-minute slot: the median of recent cycles, or the default."""
        if not self.cycles:
            return DEFAULT_PROFILES[self.kind]
        recent = self.cycles[-LEARN_CYCLES:]
        length = round(statistics.median(len(c) for c in recent))
        return tuple(
            round(statistics.median(c[i] if i < len(c) else 0.0 for c in recent), 4)
            for i in range(max(length, 1))
        )

    def add(
        self, samples: Sequence[tuple[datetime, float]]
    ) -> tuple[float, ...] | None:
        """Add one finished cycle given as (time, W) samples; return its profile.

        Power is held from one sample to the next (a step signal, like an
        HA state). Cycles shorter than a minute or longer than 12 h are
        discarded as noise, and so is one with a non-finite sample (it would
        make the planner's profile NaN).
        """
        if len(samples) < 2 or not all(math.isfinite(w) for _, w in samples):  # noqa: PLR2004
            return None
        start = samples[0][0]
        end = samples[-1][0]
        if not timedelta(minutes=1) <= end - start <= MAX_PROFILE_SLOTS * SLOT:
            return None
        slots = math.ceil((end - start) / SLOT)
        energy = [0.0] * slots
        for (at, watts), (nxt, _) in itertools.pairwise(samples):
            cursor = at
            while cursor < nxt:
                index = min(int((cursor - start) / SLOT), slots - 1)
                boundary = start + SLOT * (index + 1)
                until = min(nxt, boundary)
                hours = (until - cursor).total_seconds() / 3600.0
                energy[index] += max(watts, 0.0) / 1000.0 * hours
                cursor = until if until > cursor else nxt
        profile = tuple(round(e, 4) for e in energy)
        self.cycles.append(profile)
        self.cycles = self.cycles[-LEARN_CYCLES * 2 :]
        return profile


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplianceConfig:
    """What both appliance drivers share."""

    device_id: str
    name: str
    kind: ApplianceKind = ApplianceKind.WASHING_MACHINE
    power_entity: str | None = None
    default_deadline: timedelta = timedelta(hours=12)
    """Finish-by when the user arms without a deadline."""
    phase: int = 1

    def check(self) -> None:
        """Reject a configuration that cannot work."""
        if not self.device_id.strip():
            raise ValueError("device_id cannot be empty")
        if self.power_entity is not None:
            check_entity_id(self.power_entity, "sensor")
        if not timedelta(minutes=30) <= self.default_deadline <= timedelta(days=2):
            raise ValueError("default_deadline must be within 30 min..2 days")
        if self.phase not in {1, 2, 3}:
            raise ValueError("phase must be 1, 2 or 3")


class _CycleDriver:
    """The cycle bookkeeping both appliance drivers share."""

    config: ApplianceConfig

    def __init__(self, port: EntityPort, clock: Clock) -> None:
        self._port = port
        self._clock = clock
        self._health = AvailabilityLog(_LOGGER, self.config.name)
        self.learner = ProfileLearner(self.config.kind)
        self.state = CycleState.IDLE
        self.armed_at: datetime | None = None
        self.finish_by: datetime | None = None
        self.only_if_cheaper_than: float | None = None
        self.started_at: datetime | None = None
        self._samples: list[tuple[datetime, float]] = []
        self.interruptions = 0
        self.events: list[str] = []

    # -- Device -----------------------------------------------------------
    @property
    def device_id(self) -> str:
        """Stable identifier."""
        return self.config.device_id

    @property
    def name(self) -> str:
        """Human-readable name."""
        return self.config.name

    @property
    def available(self) -> bool:
        """Whether the appliance's entities answer."""
        return self._health.available

    # -- PowerMeter -----------------------------------------------------------
    @property
    def power_w(self) -> float | None:
        """Measured power (None without a power entity)."""
        entity = self.config.power_entity
        return None if entity is None else power_entity_w(self._port.get_state(entity))

    @property
    def energy_kwh(self) -> float | None:
        """Not counted."""
        return None

    # -- Switchable (for the guard) -------------------------------------------
    @property
    def rated_power_w(self) -> float:
        """The profile's highest slot power."""
        return max(self.learner.profile) / SLOT.total_seconds() * 3_600_000.0

    @property
    def min_on_time(self) -> timedelta:
        """A cycle runs to its end."""
        return timedelta(0)

    @property
    def min_off_time(self) -> timedelta:
        """No rest needed."""
        return timedelta(0)

    # -- Deferrable ---------------------------------------------------------------
    @property
    def profile_kwh(self) -> tuple[float, ...]:
        """The learned (or default) profile."""
        return self.learner.profile

    def _deadline(self) -> datetime | None:
        if self.armed_at is None:
            return None
        return self.finish_by or self.armed_at + self.config.default_deadline

    @property
    def pending_run(self) -> DeferrableRun | None:
        """The armed run waiting for its start, if any."""
        deadline = self._deadline()
        if self.state is not CycleState.ARMED or deadline is None:
            return None
        assert self.armed_at is not None  # noqa: S101 - armed has a time
        return DeferrableRun(
            profile_kwh=self.profile_kwh,
            earliest_start=self.armed_at,
            finish_by=deadline,
            only_if_cheaper_than=self.only_if_cheaper_than,
        )

    @property
    def deadline(self) -> datetime | None:
        """When the armed or running cycle must be done (None: nothing armed)."""
        return self._deadline()

    def latest_start(self) -> datetime | None:
        """Return the last start that still finishes by the deadline."""
        deadline = self._deadline()
        if deadline is None:
            return None
        return deadline - SLOT * len(self.profile_kwh)

    def set_deadline(self, finish_by: datetime | None) -> None:
        """``stroomwijs.run_before``: the cycle must be done by ``finish_by``."""
        if finish_by is not None and finish_by.tzinfo is None:
            raise ValueError("finish_by must carry a time zone")
        self.finish_by = finish_by

    def _arm(
        self, finish_by: datetime | None, only_if_cheaper_than: float | None
    ) -> None:
        now = self._clock()
        if only_if_cheaper_than is not None and not (
            math.isfinite(only_if_cheaper_than) and only_if_cheaper_than >= 0
        ):
            raise ValueError("only_if_cheaper_than must be a price >= 0")
        if finish_by is not None and finish_by <= now:
            raise ValueError("the deadline has passed already")
        self.set_deadline(finish_by)
        self.only_if_cheaper_than = only_if_cheaper_than
        self.state = CycleState.ARMED
        self.armed_at = now
        self.events.append(
            "armed"
            + ("" if finish_by is None else f", done by {finish_by.isoformat()}")
        )

    async def async_disarm(self) -> None:
        """Disarm: the user changed their mind before the start."""
        if self.state is CycleState.ARMED:
            self.state = CycleState.IDLE
            self.armed_at = None
            self.finish_by = None
            self.only_if_cheaper_than = None
            self.events.append("disarmed")

    def _started(self) -> None:
        now = self._clock()
        self.state = CycleState.RUNNING
        self.started_at = now
        self._samples = []
        self.events.append("cycle started")

    def _finished(self) -> None:
        profile = self.learner.add(self._samples)
        self.state = CycleState.IDLE
        self.armed_at = None
        self.finish_by = None
        self.only_if_cheaper_than = None
        self.started_at = None
        self._samples = []
        self.events.append(
            "cycle finished"
            + ("" if profile is None else f" ({sum(profile):.2f} kWh learned)")
        )

    def planner_input(self) -> dict[str, Any] | None:
        """Build the planner's ``white_goods`` device; None when nothing is armed."""
        now = self._clock()
        profile = list(self.profile_kwh)
        data: dict[str, Any] = {
            "id": self.device_id,
            "kind": "white_goods",
            "name": self.name,
            "profile_kwh": profile,
            "phases": 1,
            "phase": self.config.phase,
        }
        if self.state in {CycleState.RUNNING, CycleState.INTERRUPTED}:
            started = self.started_at or now
            done = int((now - started) / SLOT)
            data["running_for_slots"] = (
                min(max(done, 1), len(profile) - 1) if (len(profile) > 1) else 0
            )
            if data["running_for_slots"] == 0:
                del data["running_for_slots"]
            return data
        run = self.pending_run
        if run is None:
            return None
        if run.earliest_start > now:
            # Armed before now: the plan starts now anyway. An earliest start
            # of "now" as this driver's clock reads it would lie a moment
            # after the plan's start and keep the cycle out of its first slot.
            data["earliest_start"] = run.earliest_start.isoformat()
        data["finish_by"] = run.finish_by.isoformat()
        if run.only_if_cheaper_than is not None:
            data["only_if_cheaper_than_eur_per_kwh"] = run.only_if_cheaper_than
        return data

    def export_state(self) -> dict[str, Any]:
        """JSON-safe state: learned cycles and an armed or running cycle."""
        return {
            "cycles": [list(c) for c in self.learner.cycles],
            "state": self.state.value,
            "armed_at": _iso(self.armed_at),
            "finish_by": _iso(self.finish_by),
            "started_at": _iso(self.started_at),
            "only_if_cheaper_than": self.only_if_cheaper_than,
        }

    def restore_state(self, data: object) -> None:
        """Load :meth:`export_state` data; malformed data raises ValueError."""
        if not isinstance(data, Mapping):
            raise ValueError("appliance state must be an object")  # noqa: TRY004
        cycles_raw = data.get("cycles", [])
        if not isinstance(cycles_raw, list):
            raise ValueError("cycles must be a list")  # noqa: TRY004
        cycles: list[tuple[float, ...]] = []
        for cycle in cycles_raw[-LEARN_CYCLES * 2 :]:
            if (
                not isinstance(cycle, list)
                or not 0 < len(cycle) <= MAX_PROFILE_SLOTS
                or not all(
                    isinstance(v, int | float)
                    and not isinstance(v, bool)
                    and 0 <= v <= 10  # noqa: PLR2004
                    for v in cycle
                )
            ):
                raise ValueError("each cycle must be 1..48 energies of 0..10 kWh")
            cycles.append(tuple(float(v) for v in cycle))
        state = CycleState(str(data.get("state", "idle")))
        cheaper = data.get("only_if_cheaper_than")
        if cheaper is not None:
            cheaper = _price(cheaper)
        self.learner.cycles = cycles
        self.state = state
        self.armed_at = _time(data.get("armed_at"), "armed_at")
        self.finish_by = _time(data.get("finish_by"), "finish_by")
        self.started_at = _time(data.get("started_at"), "started_at")
        self.only_if_cheaper_than = None if cheaper is None else float(cheaper)
        if state is CycleState.ARMED and self.armed_at is None:
            raise ValueError("an armed cycle needs armed_at")


def _price(raw: object) -> float:
    """Return a saved price limit as a float; ValueError unless finite >= 0."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ValueError("only_if_cheaper_than must be a number")  # noqa: TRY004
    try:
        value = float(raw)  # an int beyond a float's range overflows
    except OverflowError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ValueError("only_if_cheaper_than must be a price >= 0")
    return value


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _time(raw: object, name: str) -> datetime | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        msg = f"{name} must be an ISO time"
        raise ValueError(msg)  # noqa: TRY004
    value = datetime.fromisoformat(raw)
    if value.tzinfo is None:
        msg = f"{name} must carry a time zone"
        raise ValueError(msg)
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class PlugApplianceConfig(ApplianceConfig):
    """An appliance behind a metered smart plug."""

    plug_entity: str
    idle_w: float = 5.0
    quiet_for: timedelta = timedelta(minutes=5)
    min_cycle: timedelta = timedelta(minutes=10)

    def __post_init__(self) -> None:
        """Reject a configuration that cannot work."""
        self.check()
        check_entity_id(self.plug_entity, "switch")
        if self.power_entity is None:
            raise ValueError("a plug appliance needs the plug's power entity")
        if not 0 < self.idle_w <= 100:  # noqa: PLR2004
            raise ValueError("idle_w must be within 0..100 W")
        if not timedelta(minutes=1) <= self.quiet_for <= timedelta(hours=1):
            raise ValueError("quiet_for must be within 1..60 min")


class PlugAppliance(_CycleDriver):
    """A metered smart plug: arm, switch on at the planned time, see the end."""

    config: PlugApplianceConfig

    def __init__(
        self, config: PlugApplianceConfig, port: EntityPort, *, clock: Clock = utc_now
    ) -> None:
        """Drive ``config.plug_entity`` through ``port``."""
        self.config = config
        super().__init__(port, clock)
        self._quiet_since: datetime | None = None

    @property
    def is_on(self) -> bool | None:
        """Whether the plug is on."""
        return on_off(self._port.get_state(self.config.plug_entity))

    async def async_arm(
        self,
        finish_by: datetime | None = None,
        *,
        only_if_cheaper_than: float | None = None,
    ) -> None:
        """Arm: the user pressed start with the plug off; wait for the plan.

        The plug is switched off if it is not (a machine that has not begun
        drawing power keeps its programme).
        """
        if self.state in {CycleState.RUNNING, CycleState.INTERRUPTED}:
            raise ValueError("a cycle is running; it cannot be armed again")
        if self.is_on:
            await self._plug(on=False)
        self._arm(finish_by, only_if_cheaper_than)

    async def async_start(self) -> None:
        """Switch the plug on: the armed programme begins."""
        if self.state is not CycleState.ARMED:
            msg = f"{self.name}: nothing armed to start"
            raise DeviceUnavailableError(msg)
        await self._plug(on=True)
        self._started()

    async def async_switch(self, on: bool) -> None:  # noqa: FBT001
        """Switch for the guard: start or resume; off only in an emergency."""
        if on:
            if self.state is CycleState.ARMED:
                await self.async_start()
            elif self.state is CycleState.INTERRUPTED:
                await self._plug(on=True)
                self.state = CycleState.RUNNING
                self.events.append("cycle resumed after the emergency")
                _LOGGER.warning("%s: cycle resumed after the emergency", self.name)
            return
        if self.state is CycleState.RUNNING:
            await self._plug(on=False)
            self.state = CycleState.INTERRUPTED
            self.interruptions += 1
            message = "cycle interrupted: DSO emergency"
            self.events.append(message)
            _LOGGER.warning("%s: %s", self.name, message)

    async def _plug(self, *, on: bool) -> None:
        try:
            await switch_entity(self._port, self.config.plug_entity, on=on)
        except EntityCallError as err:
            self._health.down(str(err))
            raise
        self._health.up()

    async def async_update(self) -> None:
        """Sample the power, detect the end, start a cycle that must start now."""
        now = self._clock()
        plug = self._port.get_state(self.config.plug_entity)
        if not usable(plug):
            self._health.down("the plug entity is unavailable")
            return
        self._health.up()
        power = self.power_w
        if self.state is CycleState.ARMED:
            await self._while_armed(now, power)
        elif self.state is CycleState.INTERRUPTED and self.is_on:
            # Power is back (the user, or another controller): it carries on.
            self.state = CycleState.RUNNING
            self.events.append("cycle resumed: the plug is on again")
        elif self.state is CycleState.RUNNING:
            self._while_running(now, power)

    async def _while_armed(self, now: datetime, power: float | None) -> None:
        if self.is_on and power is not None and power >= self.config.idle_w:
            # The user switched the plug on by hand: the cycle runs.
            self._started()
            self.events.append("started by hand at the plug")
            return
        latest = self.latest_start()
        if latest is not None and now >= latest:
            self.events.append("started by the driver: the deadline is near")
            await self.async_start()

    def _while_running(self, now: datetime, power: float | None) -> None:
        if self.is_on is False:
            # Switched off outside Stroomwijs mid-cycle: treat as interrupted.
            self.state = CycleState.INTERRUPTED
            self.events.append("plug switched off outside Stroomwijs mid-cycle")
            return
        if power is None:
            return
        self._samples.append((now, power))
        started = self.started_at or now
        if power >= self.config.idle_w:
            self._quiet_since = None
            return
        if self._quiet_since is None:
            self._quiet_since = now
        quiet = now - self._quiet_since
        if quiet >= self.config.quiet_for and now - started >= self.config.min_cycle:
            # Trim the quiet tail from the learned profile.
            cut = self._quiet_since
            self._samples = [s for s in self._samples if s[0] <= cut]
            self._quiet_since = None
            self._finished()


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteStartApplianceConfig(ApplianceConfig):
    """An appliance its own integration can start (Home Connect, Miele)."""

    remote_start_entity: str
    """binary_sensor/switch that is on while remote start is allowed (armed)."""
    operation_state_entity: str
    """sensor with the programme state (e.g. ready, run, finished)."""
    start_entity: str
    """button (pressed) or switch (turned on) that starts the programme."""
    running_states: frozenset[str] = field(
        default_factory=lambda: frozenset({"run", "running", "in_use", "main_wash"})
    )
    finished_states: frozenset[str] = field(
        default_factory=lambda: frozenset(
            {"finished", "end", "ready", "inactive", "off"}
        )
    )

    def __post_init__(self) -> None:
        """Reject a configuration that cannot work."""
        self.check()
        check_entity_id(self.remote_start_entity, "binary_sensor", "switch")
        check_entity_id(self.operation_state_entity, "sensor", "select")
        check_entity_id(self.start_entity, "button", "switch")
        if self.running_states & self.finished_states:
            raise ValueError("a state cannot mean both running and finished")


class RemoteStartAppliance(_CycleDriver):
    """Started through its integration; cannot be interrupted remotely."""

    config: RemoteStartApplianceConfig

    def __init__(
        self,
        config: RemoteStartApplianceConfig,
        port: EntityPort,
        *,
        clock: Clock = utc_now,
    ) -> None:
        """Watch and start the appliance of ``config`` through ``port``."""
        self.config = config
        super().__init__(port, clock)
        self._seen_running = False

    def _operation(self) -> str | None:
        state = self._port.get_state(self.config.operation_state_entity)
        return None if not usable(state) or state is None else state.state.lower()

    @property
    def remote_start_allowed(self) -> bool:
        """Whether the user has enabled remote start (door closed, programme set)."""
        return bool(on_off(self._port.get_state(self.config.remote_start_entity)))

    @property
    def is_on(self) -> bool | None:
        """Whether a programme runs."""
        operation = self._operation()
        return None if operation is None else operation in self.config.running_states

    async def async_arm(
        self,
        finish_by: datetime | None = None,
        *,
        only_if_cheaper_than: float | None = None,
    ) -> None:
        """Arm for the plan (remote start must be allowed on the machine)."""
        if not self.remote_start_allowed:
            msg = f"{self.name}: remote start is not allowed"
            raise DeviceUnavailableError(msg)
        self._arm(finish_by, only_if_cheaper_than)

    async def async_start(self) -> None:
        """Start the programme through the integration."""
        if self.state is not CycleState.ARMED:
            msg = f"{self.name}: nothing armed to start"
            raise DeviceUnavailableError(msg)
        if not self.remote_start_allowed:
            msg = f"{self.name}: remote start not allowed now"
            raise DeviceUnavailableError(msg)
        entity = self.config.start_entity
        try:
            if domain_of(entity) == "button":
                await self._port.async_call_service(
                    "button", "press", {"entity_id": entity}
                )
            else:
                await switch_entity(self._port, entity, on=True)
        except EntityCallError as err:
            self._health.down(str(err))
            raise
        self._health.up()
        self._started()

    async def async_switch(self, on: bool) -> None:  # noqa: FBT001
        """Start when armed; a running programme cannot be stopped remotely."""
        if on and self.state is CycleState.ARMED:
            await self.async_start()
        elif not on and self.state is CycleState.RUNNING:
            msg = f"{self.name}: a running programme cannot be interrupted remotely"
            raise DeviceUnavailableError(msg)

    async def async_update(self) -> None:
        """Follow the machine's state; start when the deadline is near."""
        now = self._clock()
        operation = self._operation()
        if operation is None:
            self._health.down("operation state unavailable")
            return
        self._health.up()
        if self.state is CycleState.ARMED:
            if operation in self.config.running_states:
                self._started()  # started on the machine itself
                self._seen_running = True
                return
            if not self.remote_start_allowed:
                self.state = CycleState.IDLE
                self.armed_at = None
                self.events.append("remote start withdrawn on the machine: disarmed")
                return
            latest = self.latest_start()
            if latest is not None and now >= latest:
                self.events.append("started by the driver: the deadline is near")
                await self.async_start()
            return
        if self.state is CycleState.RUNNING:
            self._follow_run(now, operation)

    def _follow_run(self, now: datetime, operation: str) -> None:
        power = self.power_w
        if power is not None:
            self._samples.append((now, power))
        if operation in self.config.running_states:
            self._seen_running = True
        elif operation in self.config.finished_states and self._seen_running:
            self._seen_running = False
            self._finished()
        elif (
            not self._seen_running
            and self.started_at is not None
            and now - self.started_at > START_TIMEOUT
        ):
            self.state = CycleState.ARMED
            self.events.append("the programme did not start: armed again")
