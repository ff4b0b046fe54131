"""Electric hot-water boiler: switch/plug, ``water_heater`` or Modbus relay.

Control
    * **switch**: a switch entity (a smart plug or a contactor) powers the
      element; the element's own thermostat stops it at ``thermostat_c``.
    * **water_heater**: an HA ``water_heater`` entity; "on" sets its target to
      the normal temperature, "off" sets it to ``min_c`` (so the heater's own
      thermostat holds the 40 degC floor), a legionella run sets 60+ degC.
    * **modbus**: a Modbus TCP relay module (coil) switches the contactor.

The tank
    The temperature comes from a sensor where one exists (entity, the
    water heater's ``current_temperature``, or a Modbus register).
    Otherwise an energy-balance estimate runs: element heat in, standing
    loss ``UA (T - room)`` and the expected draw out. When the element is
    switched on but draws (almost) nothing, its thermostat has stopped it:
    the tank is at ``thermostat_c`` and the estimate is reset to it.

Rules
    * Never below ``min_c`` (40 degC): below it the driver switches the
      element on itself, and its :attr:`power_range` no longer reaches 0,
      so the guard takes another device instead.
    * Legionella: a run to ``legionella.temperature_c`` every
      ``legionella.interval``; in the last ``legionella.flexibility`` before
      it is due the planner places it in the cheapest hours of its window
      (:meth:`planner_input`), and if it has not happened by the deadline the
      driver runs it itself. It is never skipped; it completes when the tank
      is measured (or its thermostat stops it) at the temperature.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
import logging
import math
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from custom_components.stroomwijs.engine.capabilities import (
    ComfortBand,
    DeviceUnavailableError,
    PowerRange,
)

from .entities import (
    AvailabilityLog,
    EntityCallError,
    EntityPort,
    attribute_number,
    check_entity_id,
    on_off,
    switch_entity,
    usable,
)
from .modbus_link import ModbusLink
from .sg_ready import Clock, power_entity_w, temperature_entity_c, utc_now

_LOGGER = logging.getLogger(__name__)

WATER_KWH_PER_LITRE_K = 4.186 / 3600.0
THERMOSTAT_IDLE_SHARE = 0.1
"""Below this share of the rated power the element counts as stopped."""
THERMOSTAT_IDLE_FOR = timedelta(seconds=30)
DEFAULT_DRAW_SHAPE: tuple[float, ...] = (
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.05, 0.2, 0.15, 0.03, 0.02, 0.02,
    0.05, 0.02, 0.01, 0.01, 0.02, 0.04, 0.1, 0.08, 0.1, 0.06, 0.04, 0.0,
)  # fmt: skip
"""Share of the day's hot-water draw per local hour (sums to 1)."""


class ControlKind(StrEnum):
    """How the element is switched."""

    SWITCH = "switch"
    WATER_HEATER = "water_heater"
    MODBUS = "modbus"


@dataclass(frozen=True, slots=True, kw_only=True)
class LegionellaPolicy:
    """The periodic disinfection run."""

    interval: timedelta = timedelta(days=7)
    temperature_c: float = 60.0
    flexibility: timedelta = timedelta(days=1)
    """How long before the deadline the planner may place the run."""

    def __post_init__(self) -> None:
        """Reject unsafe or impossible schedules."""
        if not timedelta(days=1) <= self.interval <= timedelta(days=14):
            raise ValueError("the legionella interval must be within 1..14 days")
        if not 60 <= self.temperature_c <= 80:  # noqa: PLR2004
            raise ValueError("the legionella temperature must be within 60..80 degC")
        if not timedelta(hours=1) <= self.flexibility <= self.interval:
            raise ValueError("legionella flexibility must be within 1 h..interval")


@dataclass(frozen=True, slots=True, kw_only=True)
class ModbusRelay:
    """A Modbus TCP relay module (one coil) and, optionally, a tank register."""

    host: str
    port: int = 502
    unit_id: int = 1
    coil: int = 0
    temperature_register: int | None = None
    """Holding register with the tank temperature in 0.1 degC."""
    timeout_s: float = 3.0
    reconnect_s: float = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class BoilerConfig:
    """One electric boiler."""

    device_id: str
    name: str
    control: ControlKind
    volume_l: float
    power_w: float
    entity_id: str | None = None
    """The switch or water_heater entity (for those controls)."""
    modbus: ModbusRelay | None = None
    temperature_entity: str | None = None
    power_entity: str | None = None
    thermostat_c: float = 65.0
    """Element thermostat (switch/Modbus) or the heater's normal target."""
    min_c: float = 40.0
    efficiency: float = 1.0
    loss_w_per_k: float = 1.5
    room_c: float = 18.0
    daily_draw_kwh: float = 4.0
    legionella: LegionellaPolicy = field(default_factory=LegionellaPolicy)
    timezone: str = "Europe/Amsterdam"
    phases: int = 1
    phase: int = 1

    def __post_init__(self) -> None:  # noqa: C901, PLR0912
        """Reject a configuration that cannot work, with a clear reason."""
        if not self.device_id.strip():
            raise ValueError("device_id cannot be empty")
        if self.control is ControlKind.SWITCH:
            if self.entity_id is None:
                raise ValueError("switch control needs entity_id (a switch)")
            check_entity_id(self.entity_id, "switch", "input_boolean")
        elif self.control is ControlKind.WATER_HEATER:
            if self.entity_id is None:
                raise ValueError("water_heater control needs entity_id")
            check_entity_id(self.entity_id, "water_heater")
        elif self.modbus is None:
            raise ValueError("modbus control needs the modbus relay settings")
        if self.temperature_entity is not None:
            check_entity_id(self.temperature_entity, "sensor")
        if self.power_entity is not None:
            check_entity_id(self.power_entity, "sensor")
        if not 10 <= self.volume_l <= 2000:  # noqa: PLR2004
            raise ValueError("volume_l must be within 10..2000")
        if not 100 <= self.power_w <= 20_000:  # noqa: PLR2004
            raise ValueError("power_w must be within 100..20000")
        if not 40 <= self.min_c < self.thermostat_c <= 90:  # noqa: PLR2004
            raise ValueError("need 40 <= min_c < thermostat_c <= 90 degC")
        if not 0 < self.efficiency <= 1:
            raise ValueError("efficiency must be within 0..1")
        if not 0 <= self.loss_w_per_k <= 100 or not 0 <= self.daily_draw_kwh <= 100:  # noqa: PLR2004
            raise ValueError("loss_w_per_k and daily_draw_kwh must be within 0..100")
        if self.phases not in {1, 3} or self.phase not in {1, 2, 3}:
            raise ValueError("phases must be 1 or 3, phase 1..3")
        if (
            self.control is not ControlKind.WATER_HEATER
            and self.legionella.temperature_c > self.thermostat_c
        ):
            raise ValueError(
                "the element thermostat is below the legionella temperature: "
                "a switch cannot disinfect; raise thermostat_c or use a water heater"
            )
        ZoneInfo(self.timezone)

    @property
    def capacity_kwh_per_k(self) -> float:
        """Heat capacity of the tank."""
        return self.volume_l * WATER_KWH_PER_LITRE_K


class TankEstimator:
    """Energy balance of the tank, for boilers without a sensor."""

    def __init__(self, config: BoilerConfig, temperature_c: float) -> None:
        """Start at ``temperature_c``."""
        self.config = config
        self.temperature_c = temperature_c
        self._zone = ZoneInfo(config.timezone)

    def draw_kwh(self, start: datetime, seconds: float) -> float:
        """Return the heat expected to be drawn in ``seconds`` from ``start``."""
        hour = start.astimezone(self._zone).hour
        share = DEFAULT_DRAW_SHAPE[hour]
        return self.config.daily_draw_kwh * share * seconds / 3600.0

    def advance(self, start: datetime, seconds: float, element_w: float) -> None:
        """Integrate ``seconds`` with the element at ``element_w``."""
        cfg = self.config
        cap = cfg.capacity_kwh_per_k
        remaining = seconds
        cursor = start
        while remaining > 0:
            step = min(remaining, 60.0)
            hours = step / 3600.0
            heat = element_w / 1000.0 * cfg.efficiency * hours
            loss = cfg.loss_w_per_k / 1000.0 * (self.temperature_c - cfg.room_c) * hours
            draw = self.draw_kwh(cursor, step)
            self.temperature_c += (heat - loss - draw) / cap
            self.temperature_c = min(max(self.temperature_c, cfg.room_c), 100.0)
            remaining -= step
            cursor += timedelta(seconds=step)

    def reset(self, temperature_c: float) -> None:
        """Known temperature (thermostat stop or a sensor)."""
        self.temperature_c = temperature_c


class _Control(Protocol):
    """The element's switch, whatever it is."""

    def is_on(self) -> bool | None: ...

    def measured_c(self) -> float | None: ...

    async def async_refresh(self) -> None: ...

    async def async_set(self, *, on: bool, target_c: float) -> None: ...


class _SwitchControl:
    def __init__(self, port: EntityPort, entity_id: str) -> None:
        self._port = port
        self._entity = entity_id

    def is_on(self) -> bool | None:
        return on_off(self._port.get_state(self._entity))

    def measured_c(self) -> float | None:
        return None

    async def async_refresh(self) -> None:
        if not usable(self._port.get_state(self._entity)):
            msg = f"{self._entity} is unavailable"
            raise DeviceUnavailableError(msg)

    async def async_set(self, *, on: bool, target_c: float) -> None:
        del target_c
        await switch_entity(self._port, self._entity, on=on)


class _WaterHeaterControl:
    """On: the normal (or legionella) target; off: hold ``min_c``."""

    def __init__(self, port: EntityPort, entity_id: str, min_c: float) -> None:
        self._port = port
        self._entity = entity_id
        self._min_c = min_c

    def target(self) -> float | None:
        return attribute_number(self._port.get_state(self._entity), "temperature")

    def is_on(self) -> bool | None:
        target = self.target()
        return None if target is None else target > self._min_c + 0.5

    def measured_c(self) -> float | None:
        value = attribute_number(
            self._port.get_state(self._entity), "current_temperature"
        )
        return value if value is not None and 0 <= value <= 100 else None  # noqa: PLR2004

    async def async_refresh(self) -> None:
        if self.target() is None:
            msg = f"{self._entity} reports no target"
            raise DeviceUnavailableError(msg)

    async def async_set(self, *, on: bool, target_c: float) -> None:
        await self._port.async_call_service(
            "water_heater",
            "set_temperature",
            {"entity_id": self._entity, "temperature": target_c if on else self._min_c},
        )


class _ModbusControl:
    def __init__(self, relay: ModbusRelay, name: str) -> None:
        self._relay = relay
        self.link = ModbusLink(
            relay.host,
            relay.port,
            relay.unit_id,
            name,
            _LOGGER,
            timeout_s=relay.timeout_s,
            reconnect_s=relay.reconnect_s,
        )
        self._on: bool | None = None
        self._temp: float | None = None

    def is_on(self) -> bool | None:
        return self._on

    def measured_c(self) -> float | None:
        return self._temp

    async def async_refresh(self) -> None:
        self._on = (await self.link.read_coils(self._relay.coil, 1))[0]
        register = self._relay.temperature_register
        if register is not None:
            raw = (await self.link.read(register, 1))[0]
            value = (raw - 0x10000 if raw & 0x8000 else raw) / 10.0
            self._temp = value if 0 <= value <= 100 else None  # noqa: PLR2004

    async def async_set(self, *, on: bool, target_c: float) -> None:
        del target_c
        await self.link.write_coil(self._relay.coil, on=on)
        self._on = on


class Boiler:
    """An electric boiler: PowerSettable (0 or its element), PowerMeter, Thermal."""

    def __init__(
        self,
        config: BoilerConfig,
        port: EntityPort | None = None,
        *,
        clock: Clock = utc_now,
    ) -> None:
        """Drive the boiler of ``config``; entity controls need ``port``."""
        self.config = config
        self._port = port
        self._clock = clock
        self._health = AvailabilityLog(_LOGGER, config.name)
        self._control = self._make_control()
        self.estimator = TankEstimator(config, config.min_c)
        self._estimate_known = False
        self._last_update: datetime | None = None
        self._idle_since: datetime | None = None
        self._heating_seen = False
        self._stop_pending = False
        self.thermostat_stops = 0
        self._stops_at_legionella = 0
        """How often the element's thermostat was seen stopping it."""
        self.last_legionella: datetime | None = None
        self._legionella_running = False
        self.events: list[str] = []

    def _make_control(self) -> _Control:
        cfg = self.config
        if cfg.control is ControlKind.MODBUS:
            assert cfg.modbus is not None  # noqa: S101 - checked by the config
            return _ModbusControl(cfg.modbus, cfg.name)
        if self._port is None or cfg.entity_id is None:
            msg = f"{cfg.control} control needs an entity port"
            raise ValueError(msg)
        if cfg.control is ControlKind.SWITCH:
            return _SwitchControl(self._port, cfg.entity_id)
        return _WaterHeaterControl(self._port, cfg.entity_id, cfg.min_c)

    # -- Device -------------------------------------------------------------
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
        """Whether the element's switch answers."""
        return self._health.available

    # -- readings ---------------------------------------------------------------
    @property
    def is_on(self) -> bool | None:
        """Whether the element is switched on (its thermostat may still stop it)."""
        return self._control.is_on()

    @property
    def power_w(self) -> float | None:
        """Measured power; without a meter, the rated power while switched on."""
        entity = self.config.power_entity
        if entity is not None and self._port is not None:
            return power_entity_w(self._port.get_state(entity))
        on = self.is_on
        if on is None:
            return None
        return self.config.power_w if on and not self._thermostat_idle() else 0.0

    @property
    def energy_kwh(self) -> float | None:
        """Not counted."""
        return None

    def _sensor_c(self) -> float | None:
        entity = self.config.temperature_entity
        if entity is not None and self._port is not None:
            return temperature_entity_c(self._port.get_state(entity))
        return self._control.measured_c()

    @property
    def measured(self) -> bool:
        """Whether the tank temperature is measured (else estimated)."""
        return self._sensor_c() is not None

    @property
    def temperature_c(self) -> float | None:
        """Tank temperature: measured, or the energy-balance estimate."""
        sensed = self._sensor_c()
        if sensed is not None:
            return sensed
        return self.estimator.temperature_c if self._estimate_known else None

    @property
    def comfort(self) -> ComfortBand:
        """The tank's allowed range."""
        return ComfortBand(min_c=self.config.min_c, max_c=self.config.thermostat_c)

    def _stop_confirmed(self) -> bool:
        """Whether the last idle period began with a thermostat stop."""
        return self.thermostat_stops > self._stops_at_legionella

    def _thermostat_idle(self) -> bool:
        since = self._idle_since
        return since is not None and self._clock() - since >= THERMOSTAT_IDLE_FOR

    # -- PowerSettable ---------------------------------------------------------
    @property
    def setpoint_w(self) -> float | None:
        """The element's power when switched on, else 0."""
        on = self.is_on
        return None if on is None else (self.config.power_w if on else 0.0)

    def must_heat(self) -> str | None:
        """Why the element may not be switched off now (None: it may)."""
        temp = self.temperature_c
        if temp is not None and temp < self.config.min_c:
            return f"the tank is at {temp:.1f} degC, below {self.config.min_c:g} degC"
        if self._legionella_running:
            return "the legionella run is overdue and running"
        return None

    @property
    def power_range(self) -> PowerRange:
        """0 or the element; not down to 0 while the tank must be heated."""
        rated = self.config.power_w
        low = rated if self.must_heat() is not None else 0.0
        return PowerRange(min_w=low, max_w=rated, min_active_w=rated)

    async def async_set_power(self, setpoint_w: float) -> None:
        """Switch the element on (any setpoint > 0) or off."""
        if math.isnan(setpoint_w):
            raise ValueError("setpoint is not a number")
        on = setpoint_w > 0
        reason = self.must_heat()
        if not on and reason is not None:
            msg = f"{self.name}: stays on: {reason}"
            raise DeviceUnavailableError(msg)
        await self._switch(on=on)

    async def _switch(self, *, on: bool) -> None:
        target = self.config.thermostat_c
        if self._legionella_due_now():
            target = max(target, self.config.legionella.temperature_c)
        if on == self.is_on and (
            self.config.control is not ControlKind.WATER_HEATER or not on
        ):
            return
        try:
            await self._control.async_set(on=on, target_c=target)
        except (EntityCallError, DeviceUnavailableError) as err:
            self._health.down(str(err))
            raise
        self._health.up()
        self._idle_since = None

    # -- upkeep -----------------------------------------------------------------
    async def async_update(self) -> None:
        """Refresh, estimate, and keep the rules (40 degC, legionella)."""
        now = self._clock()
        try:
            await self._control.async_refresh()
        except DeviceUnavailableError as err:
            self._health.down(str(err))
            raise
        self._health.up()
        self._estimate(now)
        if self.last_legionella is None:
            # No history: assume the run is due within the flexibility window,
            # so the planner can still choose cheap hours for it.
            policy = self.config.legionella
            self.last_legionella = now - policy.interval + policy.flexibility
        self._check_legionella_done(now)
        await self._back_to_normal_target()
        if self._legionella_overdue(now) and not self._legionella_running:
            self._legionella_running = True
            self.events.append("legionella run overdue: running it now")
            _LOGGER.info("%s: legionella run overdue, running it now", self.name)
        reason = self.must_heat()
        if reason is not None and not self.is_on:
            self.events.append(f"element on: {reason}")
            await self._switch(on=True)

    async def _back_to_normal_target(self) -> None:
        """Bring a water heater left at the legionella target back to normal."""
        control = self._control
        if not isinstance(control, _WaterHeaterControl) or self._legionella_due_now():
            return
        target = control.target()
        if target is not None and target > self.config.thermostat_c + 0.5:
            await control.async_set(on=True, target_c=self.config.thermostat_c)

    def _estimate(self, now: datetime) -> None:
        last = self._last_update
        self._last_update = now
        self._watch_thermostat(now)
        sensed = self._sensor_c()
        if sensed is not None:
            self.estimator.reset(sensed)
            self._estimate_known = True
            return
        if last is not None:
            seconds = max((now - last).total_seconds(), 0.0)
            self.estimator.advance(last, seconds, self.power_w or 0.0)
        if self._stop_pending and self._thermostat_idle():
            # The element drew power, then its thermostat stopped it: the
            # tank is at the thermostat's setting. Reset once per stop.
            self._stop_pending = False
            self.thermostat_stops += 1
            self.estimator.reset(self.config.thermostat_c)
            self._estimate_known = True
        elif self.is_on and self.estimator.temperature_c >= self.config.thermostat_c:
            self.estimator.reset(self.config.thermostat_c)

    def _watch_thermostat(self, now: datetime) -> None:
        """Follow the metered power: heating, then idle while on, is a stop."""
        on = self.is_on
        measured: float | None = None
        if self.config.power_entity is not None and self._port is not None:
            measured = power_entity_w(self._port.get_state(self.config.power_entity))
        if not on or measured is None:
            self._idle_since = None
            self._heating_seen = False
            self._stop_pending = False
            return
        if measured >= THERMOSTAT_IDLE_SHARE * self.config.power_w:
            self._idle_since = None
            self._heating_seen = True
            self._stop_pending = False
        elif self._idle_since is None:
            self._idle_since = now
            self._stop_pending = self._heating_seen
            self._heating_seen = False

    # -- legionella -----------------------------------------------------------------
    def legionella_deadline(self) -> datetime | None:
        """When the next run must have happened (None: never run yet: now)."""
        last = self.last_legionella
        return None if last is None else last + self.config.legionella.interval

    def _legionella_due_now(self) -> bool:
        now = self._clock()
        deadline = self.legionella_deadline()
        if deadline is None:
            return True
        return now >= deadline - self.config.legionella.flexibility

    def _legionella_overdue(self, now: datetime) -> bool:
        deadline = self.legionella_deadline()
        return deadline is None or now >= deadline

    def _check_legionella_done(self, now: datetime) -> None:
        temp = self.temperature_c
        if temp is None or temp < self.config.legionella.temperature_c - 0.1:
            return
        # A metered plug waits for the thermostat's stop; a sensor is proof;
        # with neither, the estimate is all there is.
        confirmed = (
            self.measured or self._thermostat_idle() or self.config.power_entity is None
        )
        if not confirmed:
            return
        self.last_legionella = now
        self._stops_at_legionella = self.thermostat_stops
        if self._legionella_running:
            self._legionella_running = False
            self.events.append("legionella run complete")

    def legionella_window(self) -> tuple[datetime, datetime] | None:
        """Return the window the planner may use for the run, when one is due."""
        now = self._clock()
        deadline = self.legionella_deadline()
        if deadline is None or now >= deadline:
            return (now, now + timedelta(hours=2))
        opens = deadline - self.config.legionella.flexibility
        if now < opens:
            return None
        return (
            (now, deadline)
            if deadline - now >= timedelta(hours=1)
            else (
                now,
                now + timedelta(hours=1),
            )
        )

    # -- planner / persistence ------------------------------------------------
    def planner_input(
        self, *, start: datetime, slots: int, slot_minutes: int = 15
    ) -> dict[str, Any]:
        """Build the planner's ``boiler`` device from the live state.

        The draw forecast follows the configured daily draw and hourly shape.
        """
        cfg = self.config
        temp = self.temperature_c
        estimator = self.estimator
        draws = [
            round(
                estimator.draw_kwh(
                    start + timedelta(minutes=slot_minutes * i), slot_minutes * 60.0
                ),
                4,
            )
            for i in range(slots)
        ]
        data: dict[str, Any] = {
            "id": cfg.device_id,
            "kind": "boiler",
            "name": cfg.name,
            "volume_l": cfg.volume_l,
            "power_kw": cfg.power_w / 1000.0,
            "efficiency": cfg.efficiency,
            "temperature_c": round(
                min(max(cfg.min_c if temp is None else temp, 0.0), 100.0), 2
            ),
            "min_c": cfg.min_c,
            "max_c": max(cfg.thermostat_c, cfg.legionella.temperature_c)
            if cfg.control is ControlKind.WATER_HEATER
            else cfg.thermostat_c,
            "room_c": cfg.room_c,
            "loss_w_per_k": cfg.loss_w_per_k,
            "draw_kwh": draws,
            "phases": cfg.phases,
        }
        if cfg.phases == 1:
            data["phase"] = cfg.phase
        window = self.legionella_window()
        if window is not None:
            data["legionella"] = {
                "due": True,
                "temperature_c": cfg.legionella.temperature_c,
                "window_start": window[0].isoformat(),
                "window_end": window[1].isoformat(),
            }
        return data

    def export_state(self) -> dict[str, Any]:
        """JSON-safe state: the last legionella run and the estimate."""
        return {
            "last_legionella": None
            if self.last_legionella is None
            else self.last_legionella.isoformat(),
            "estimate_c": round(self.estimator.temperature_c, 3)
            if self._estimate_known
            else None,
        }

    def restore_state(self, data: object) -> None:
        """Load :meth:`export_state` data; malformed data raises ValueError."""
        if not isinstance(data, dict):
            raise ValueError("boiler state must be an object")  # noqa: TRY004
        last = data.get("last_legionella")
        if last is not None:
            if not isinstance(last, str):
                raise ValueError("last_legionella must be an ISO time")
            parsed = datetime.fromisoformat(last)
            if parsed.tzinfo is None or parsed > self._clock() + timedelta(days=1):
                raise ValueError("last_legionella must be an aware time, not ahead")
            self.last_legionella = parsed
        estimate = data.get("estimate_c")
        if estimate is not None:
            if isinstance(estimate, bool) or not isinstance(estimate, int | float):
                raise ValueError("estimate_c must be a number")
            if not 0 <= estimate <= 100:  # noqa: PLR2004
                raise ValueError("estimate_c must be within 0..100")
            self.estimator.reset(float(estimate))
            self._estimate_known = True

    def close(self) -> None:
        """Close a Modbus connection, if any."""
        if isinstance(self._control, _ModbusControl):
            self._control.link.close()
