"""A simulated household: real base load, simulated devices, a reading a second.

The base load comes from a real 15-minute household profile (the Fluvius or
NEDU files in ``shared/data``), spread over the phases with a little seeded
noise. Simulated devices implement the capability protocols, so the guard
drives them exactly as it drives real drivers: an EV charger with a reaction
delay, a minimum current and optional V2G discharge, a boiler, a heat pump
with a minimum run time and a temperature, white goods, and a cooking load
that nobody controls. Time is simulated: :meth:`SimHousehold.step` advances
the clock and returns the meter reading for that instant, which satisfies the
guard's ``GridMeasurement`` protocol. :meth:`telegram_values` renders the same
instant for the P1 telegram server, so the load model can also stream real
DSMR telegrams over TCP.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Awaitable, Callable, Sequence
import csv
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import inspect
from pathlib import Path
import random

from custom_components.stroomwijs.engine.capabilities import (
    ComfortBand,
    DepartureNeeds,
    DeviceUnavailableError,
    PowerRange,
)

from .p1 import TelegramValuesIn

VOLTAGE_V = 230.0
QUARTER_S = 900.0

type Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True, kw_only=True)
class SimReading:
    """One simulated meter reading (satisfies the guard's GridMeasurement)."""

    timestamp: datetime
    import_w: float
    export_w: float
    phase_power_w: tuple[float, float, float]
    phase_currents_a: tuple[float | None, ...]
    quarter_average_w: float | None
    quarter_projection_w: float | None
    text_message: str | None = None
    month_peak_w: float | None = None
    """The highest completed quarter-hour average of the month so far."""

    @property
    def net_power_w(self) -> float:
        """Import minus export."""
        return self.import_w - self.export_w


class BaseLoadProfile:
    """Household base load in W over time, from a 15-minute energy profile."""

    def __init__(
        self,
        starts: Sequence[datetime],
        watts: Sequence[float],
        *,
        noise_w: float = 50.0,
        seed: int = 1,
    ) -> None:
        """Use the average power ``watts[i]`` from ``starts[i]`` on."""
        if not starts or len(starts) != len(watts):
            raise ValueError("a profile needs matching, non-empty starts and watts")
        self._starts = list(starts)
        self._watts = list(watts)
        self._noise_w = noise_w
        self._rng = random.Random(seed)  # noqa: S311 - simulation noise

    @classmethod
    def constant(cls, watts: float) -> BaseLoadProfile:
        """Build a flat load, for tests that want exact numbers."""
        return cls([datetime(2000, 1, 1, tzinfo=UTC)], [watts], noise_w=0.0)

    @classmethod
    def from_csv(
        cls,
        path: Path,
        *,
        column: str = "import_kwh",
        interval: timedelta = timedelta(minutes=15),
        align_to: datetime | None = None,
        noise_w: float = 50.0,
        seed: int = 1,
    ) -> BaseLoadProfile:
        """Read a ``start_utc,<column>`` energy file (kWh per interval).

        ``align_to`` shifts the profile so that its first interval starts
        then (the simulation may run in another year than the data).
        """
        starts: list[datetime] = []
        watts: list[float] = []
        per_hour = timedelta(hours=1) / interval
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                value = row.get(column, "")
                if not value:
                    continue
                starts.append(datetime.fromisoformat(row["start_utc"]))
                watts.append(float(value) * 1000.0 * per_hour)
        if not starts:
            msg = f"{path} has no values in column {column!r}"
            raise ValueError(msg)
        if align_to is not None:
            shift = align_to - starts[0]
            starts = [start + shift for start in starts]
        return cls(starts, watts, noise_w=noise_w, seed=seed)

    def at(self, when: datetime) -> float:
        """Return the base load at ``when`` (the last value holds after the end)."""
        index = max(bisect_right(self._starts, when) - 1, 0)
        noise = self._rng.gauss(0.0, self._noise_w) if self._noise_w else 0.0
        return max(self._watts[index] + noise, 0.0)


@dataclass(kw_only=True)
class _Delayed:
    """A value that follows commands after a reaction delay."""

    value: float
    delay: timedelta
    queue: list[tuple[datetime, float]] = field(default_factory=list)

    def command(self, now: datetime, value: float) -> None:
        self.queue.append((now + self.delay, value))

    def current(self, now: datetime) -> float:
        while self.queue and self.queue[0][0] <= now:
            self.value = self.queue.pop(0)[1]
        return self.value

    def last_commanded(self) -> float:
        return self.queue[-1][1] if self.queue else self.value


class SimDevice:
    """Common parts: id, name, availability, phases and the shared clock."""

    def __init__(
        self,
        device_id: str,
        name: str,
        *,
        clock: Clock,
        phases: tuple[int, ...] = (0, 1, 2),
    ) -> None:
        """Name the device and give it the household's clock."""
        self._device_id = device_id
        self._name = name
        self._clock = clock
        self.phases = phases
        self.fail_commands = False
        """Set to make the device unavailable: every command raises."""
        self.reject_commands = False
        """Set to make commands raise while the device still looks available."""
        self.commands: list[tuple[datetime, float]] = []

    @property
    def device_id(self) -> str:
        """Stable identifier."""
        return self._device_id

    @property
    def name(self) -> str:
        """Human-readable name."""
        return self._name

    @property
    def available(self) -> bool:
        """Whether the device answers."""
        return not self.fail_commands

    def _check(self) -> None:
        if self.fail_commands or self.reject_commands:
            msg = f"{self._name} does not answer"
            raise DeviceUnavailableError(msg)

    def load_w(self) -> float:
        """Power the device draws at the clock's time."""
        raise NotImplementedError


class SimEvCharger(SimDevice):
    """EV charger (PowerSettable, PowerMeter, Bidirectional) with a delay."""

    def __init__(
        self,
        device_id: str = "ev",
        name: str = "EV charger",
        *,
        clock: Clock,
        max_w: float = 3 * 16 * VOLTAGE_V,
        min_current_a: float = 6.0,
        discharge_w: float = 0.0,
        reaction_delay: timedelta = timedelta(seconds=2),
        setpoint_w: float | None = None,
        phases: tuple[int, ...] = (0, 1, 2),
        soc: float = 0.5,
        capacity_kwh: float = 60.0,
    ) -> None:
        """Start charging at ``setpoint_w`` (default: full power)."""
        super().__init__(device_id, name, clock=clock, phases=phases)
        self._range = PowerRange(
            min_w=-discharge_w,
            max_w=max_w,
            min_active_w=min_current_a * VOLTAGE_V * len(phases),
        )
        start = max_w if setpoint_w is None else setpoint_w
        self._power = _Delayed(value=start, delay=reaction_delay)
        self._setpoint: float | None = start
        self._soc = soc
        self._capacity = capacity_kwh
        self.plugged = True

    @property
    def power_range(self) -> PowerRange:
        """Setpoints accepted now."""
        return self._range

    @property
    def setpoint_w(self) -> float | None:
        """Last setpoint applied."""
        return self._setpoint

    async def async_set_power(self, setpoint_w: float) -> None:
        """Apply a setpoint; the car follows after the reaction delay."""
        self._check()
        value = self._range.clamp(setpoint_w)
        self._setpoint = value
        now = self._clock()
        self.commands.append((now, value))
        self._power.command(now, value)

    @property
    def power_w(self) -> float | None:
        """Power the car takes now."""
        return self.load_w()

    @property
    def energy_kwh(self) -> float | None:
        """The simulated charger does not count energy."""
        return None

    def load_w(self) -> float:
        """Power at the clock's time (after the reaction delay)."""
        return self._power.current(self._clock()) if self.plugged else 0.0

    @property
    def soc(self) -> float | None:
        """State of charge."""
        return self._soc

    @property
    def capacity_kwh(self) -> float | None:
        """Battery capacity."""
        return self._capacity

    @property
    def plugged_in(self) -> bool:
        """Whether a car is connected."""
        return self.plugged

    @property
    def departure(self) -> DepartureNeeds:
        """No declared departure."""
        return DepartureNeeds(departure=None, target_soc=None)

    @property
    def discharge_allowed(self) -> bool:
        """Whether V2G discharge is possible."""
        return self._range.min_w < 0


class SimSwitchLoad(SimDevice):
    """On/off load (Switchable, PowerMeter): boiler, white goods."""

    def __init__(
        self,
        device_id: str,
        name: str,
        *,
        clock: Clock,
        rated_w: float,
        on: bool = True,
        min_on: timedelta = timedelta(0),
        min_off: timedelta = timedelta(0),
        reaction_delay: timedelta = timedelta(milliseconds=500),
        phases: tuple[int, ...] = (0,),
    ) -> None:
        """Create a load of ``rated_w`` that starts ``on`` or off."""
        super().__init__(device_id, name, clock=clock, phases=phases)
        self._rated = rated_w
        self._min_on = min_on
        self._min_off = min_off
        self._state = _Delayed(value=1.0 if on else 0.0, delay=reaction_delay)

    @property
    def is_on(self) -> bool | None:
        """Whether the load is switched on (as commanded)."""
        return self._state.last_commanded() > 0

    @property
    def rated_power_w(self) -> float:
        """Power when on."""
        return self._rated

    @property
    def min_on_time(self) -> timedelta:
        """Shortest run."""
        return self._min_on

    @property
    def min_off_time(self) -> timedelta:
        """Shortest rest."""
        return self._min_off

    async def async_switch(self, on: bool) -> None:  # noqa: FBT001
        """Switch; the load follows after its reaction delay."""
        self._check()
        now = self._clock()
        self.commands.append((now, self._rated if on else 0.0))
        self._state.command(now, 1.0 if on else 0.0)

    @property
    def power_w(self) -> float | None:
        """Power drawn now."""
        return self.load_w()

    @property
    def energy_kwh(self) -> float | None:
        """Not counted."""
        return None

    def load_w(self) -> float:
        """Power at the clock's time."""
        return self._rated * self._state.current(self._clock())


class SimHeatPump(SimSwitchLoad):
    """Heat pump: an on/off compressor with a minimum run time and a room."""

    def __init__(
        self,
        device_id: str = "heat_pump",
        name: str = "Heat pump",
        *,
        clock: Clock,
        rated_w: float = 2_500.0,
        on: bool = True,
        min_on: timedelta = timedelta(minutes=10),
        min_off: timedelta = timedelta(minutes=5),
        temperature_c: float = 20.5,
        comfort: ComfortBand | None = None,
        phases: tuple[int, ...] = (0, 1, 2),
    ) -> None:
        """Create a heat pump heating a room that starts at ``temperature_c``."""
        super().__init__(
            device_id,
            name,
            clock=clock,
            rated_w=rated_w,
            on=on,
            min_on=min_on,
            min_off=min_off,
            reaction_delay=timedelta(seconds=1),
            phases=phases,
        )
        self._temperature = temperature_c
        self._comfort = comfort or ComfortBand(min_c=19.0, max_c=22.0)
        self._last_update: datetime | None = None

    @property
    def temperature_c(self) -> float | None:
        """Room temperature now."""
        return self._temperature

    @property
    def comfort(self) -> ComfortBand:
        """Comfort band."""
        return self._comfort

    def advance(self, now: datetime) -> None:
        """Heat up 1 K/h while running, cool 0.5 K/h otherwise."""
        if self._last_update is not None:
            hours = (now - self._last_update).total_seconds() / 3600.0
            rate = 1.0 if self.load_w() > 0 else -0.5
            self._temperature += rate * hours
        self._last_update = now


@dataclass(frozen=True, slots=True, kw_only=True)
class FixedLoad:
    """A load nobody controls (cooking, kettle): on between start and end."""

    name: str
    start: datetime
    end: datetime
    watts: float
    phases: tuple[int, ...] = (0,)


type ReadingListener = Callable[[SimReading], object]


class SimHousehold:
    """A household on a grid connection, advancing in simulated time."""

    def __init__(
        self,
        *,
        start: datetime,
        base_load: BaseLoadProfile,
        base_phase_split: tuple[float, float, float] = (0.5, 0.25, 0.25),
    ) -> None:
        """Start the clock at ``start`` (aware)."""
        if start.tzinfo is None:
            raise ValueError("the simulation start must be time-zone aware")
        self.now = start.astimezone(UTC)
        self.base_load = base_load
        self.base_phase_split = base_phase_split
        self.devices: list[SimDevice] = []
        self.fixed_loads: list[FixedLoad] = []
        self.text_message: str | None = None
        self._listeners: list[ReadingListener] = []
        self._quarter: datetime | None = None
        self._quarter_energy_j = 0.0
        self._last_net_w = 0.0
        self.history: list[SimReading] = []

    def clock(self) -> datetime:
        """Return the simulated time (pass this to devices and the guard)."""
        return self.now

    def add[D: SimDevice](self, device: D) -> D:
        """Add a simulated device."""
        self.devices.append(device)
        return device

    def add_fixed_load(self, load: FixedLoad) -> None:
        """Add an uncontrolled load (cooking)."""
        self.fixed_loads.append(load)

    def subscribe(self, callback: ReadingListener) -> Callable[[], None]:
        """Meter protocol: ``callback(reading)`` for every step."""
        self._listeners.append(callback)

        def _unsubscribe() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return _unsubscribe

    def phase_loads(self) -> tuple[float, float, float]:
        """Power per phase at the current simulated time."""
        phases = [0.0, 0.0, 0.0]
        base = self.base_load.at(self.now)
        for index, share in enumerate(self.base_phase_split):
            phases[index] += base * share
        for device in self.devices:
            if isinstance(device, SimHeatPump):
                device.advance(self.now)
            load = device.load_w()
            for phase in device.phases:
                phases[phase] += load / len(device.phases)
        for fixed in self.fixed_loads:
            if fixed.start <= self.now < fixed.end:
                for phase in fixed.phases:
                    phases[phase] += fixed.watts / len(fixed.phases)
        return phases[0], phases[1], phases[2]

    def reading(self, dt: timedelta = timedelta(seconds=1)) -> SimReading:
        """Take the meter reading at the current time (integrates over ``dt``)."""
        phases = self.phase_loads()
        net = sum(phases)
        quarter = self.now.replace(
            minute=self.now.minute - self.now.minute % 15, second=0, microsecond=0
        )
        if quarter != self._quarter:
            self._quarter = quarter
            self._quarter_energy_j = 0.0
        else:
            self._quarter_energy_j += max(self._last_net_w, 0.0) * dt.total_seconds()
        self._last_net_w = net
        elapsed = (self.now - quarter).total_seconds()
        average = self._quarter_energy_j / elapsed if elapsed > 0 else None
        projection = (
            self._quarter_energy_j + max(net, 0.0) * (QUARTER_S - elapsed)
        ) / QUARTER_S
        reading = SimReading(
            timestamp=self.now,
            import_w=max(net, 0.0),
            export_w=max(-net, 0.0),
            phase_power_w=phases,
            phase_currents_a=tuple(abs(p) / VOLTAGE_V for p in phases),
            quarter_average_w=average,
            quarter_projection_w=projection,
            text_message=self.text_message,
        )
        self.history.append(reading)
        return reading

    async def async_step(self, dt: timedelta = timedelta(seconds=1)) -> SimReading:
        """Advance the clock by ``dt``, take a reading and hand it out."""
        self.now += dt
        reading = self.reading(dt)
        for listener in tuple(self._listeners):
            result = listener(reading)
            if inspect.isawaitable(result):
                await result
        return reading

    async def async_run(
        self,
        seconds: int,
        on_reading: Callable[[SimReading], Awaitable[object]] | None = None,
        dt: timedelta = timedelta(seconds=1),
    ) -> list[SimReading]:
        """Step ``seconds`` times; await ``on_reading(reading)`` after each."""
        readings: list[SimReading] = []
        for _ in range(seconds):
            reading = await self.async_step(dt)
            if on_reading is not None:
                await on_reading(reading)
            readings.append(reading)
        return readings

    def telegram_values(self) -> TelegramValuesIn:
        """Return the current instant for the P1 telegram builder."""
        phases = self.phase_loads()
        net = sum(phases)
        return TelegramValuesIn(
            timestamp=self.now,
            import_w=max(net, 0.0),
            export_w=max(-net, 0.0),
            phase_import_w=tuple(max(p, 0.0) for p in phases),
            phase_export_w=tuple(max(-p, 0.0) for p in phases),
            phase_currents_a=tuple(abs(p) / VOLTAGE_V for p in phases),
            text_message=self.text_message,
        )
