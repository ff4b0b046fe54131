"""The engine's view of one OCPP charger, whatever protocol version it speaks.

``OcppCharger`` is a ``PowerMeter``, a ``PowerSettable`` and a
``Bidirectional`` (see ``engine.capabilities``). It outlives websocket
connections: when the charger reconnects (or the central system restarts and
restores a ``snapshot``), the new session picks up the limits, the setpoint
and the transaction where the old one left them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
import logging
import math
from typing import Any, Protocol

from custom_components.stroomwijs.engine.capabilities import (
    DepartureNeeds,
    DeviceUnavailableError,
    PowerRange,
)

_LOGGER = logging.getLogger(__name__)

CAR_FLOOR_CHOICES_A: tuple[float, ...] = (6.0, 8.0)
"""The smallest current a car accepts: 6 A by IEC 61851, 8 A for cars that stall."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargerConfig:
    """What the user configured for one charger."""

    charger_id: str
    name: str | None = None
    password: str | None = None
    """Security profile 1 (HTTP Basic) password; None = no Basic auth."""
    phases: int = 3
    voltage_v: float = 230.0
    min_current_a: float = 6.0
    """Car floor: never ask for less (except a full pause)."""
    max_current_a: float = 16.0
    """What the charger and its circuit carry."""
    minimum_instead_of_pause: bool = False
    """Hold the car at the floor instead of pausing (cars that will not resume)."""
    capacity_kwh: float | None = None
    """The car's usable battery, if the user knows it."""
    v2g_allowed: bool = True
    """Whether discharge (V2H/V2G) may be used at all."""
    evse_id: int = 1
    connector_id: int = 1
    offline_setpoint_validity_s: int = 300
    """OCPP 2.1: a setpoint lapses this long after the central system is gone."""

    def __post_init__(self) -> None:
        """Reject settings no charger can have."""
        if not self.charger_id or "/" in self.charger_id:
            msg = f"invalid charger id {self.charger_id!r}"
            raise ValueError(msg)
        if self.phases not in (1, 3):
            msg = f"a charger uses 1 or 3 phases, not {self.phases}"
            raise ValueError(msg)
        if not 6.0 <= self.min_current_a <= 16.0:  # noqa: PLR2004
            msg = f"car floor {self.min_current_a} A is outside 6..16 A"
            raise ValueError(msg)
        if self.max_current_a < self.min_current_a:
            raise ValueError("maximum current is below the car floor")
        if self.offline_setpoint_validity_s < 0:
            raise ValueError("offline validity cannot be negative")

    @property
    def watts_per_amp(self) -> float:
        """Power per ampere over all phases used."""
        return self.phases * self.voltage_v

    @property
    def hardware_max_w(self) -> float:
        """The most the charger can take."""
        return self.max_current_a * self.watts_per_amp

    @property
    def floor_w(self) -> float:
        """The car floor in watts."""
        return self.min_current_a * self.watts_per_amp


@dataclass(frozen=True, slots=True, kw_only=True)
class EvNeeds:
    """What the car declared (OCPP 2.1 NotifyEVChargingNeeds)."""

    min_charge_w: float | None = None
    max_charge_w: float | None = None
    min_discharge_w: float | None = None
    max_discharge_w: float | None = None
    min_v2x_energy_wh: float | None = None
    max_v2x_energy_wh: float | None = None
    target_soc: float | None = None
    """Fraction 0..1."""
    departure: datetime | None = None
    requested_transfer: str | None = None

    @property
    def can_discharge(self) -> bool:
        """Whether the car offers any discharge power."""
        return (self.max_discharge_w or 0.0) > 0.0


@dataclass(slots=True, kw_only=True)
class ChargerState:
    """Everything known about a charger; survives reconnects."""

    connected: bool = False
    accepted_boot: bool = False
    responsive: bool = True
    """False while a connected charger stays silent or misses answers."""
    unavailable_reason: str | None = None
    protocol: str | None = None
    vendor: str | None = None
    model: str | None = None
    serial: str | None = None
    firmware: str | None = None
    connector_status: str | None = None
    plugged_in: bool = False
    transaction_id: str | None = None
    charging_state: str | None = None
    power_w: float | None = None
    current_a: float | None = None
    energy_wh: float | None = None
    session_start_energy_wh: float | None = None
    soc_pct: float | None = None
    needs: EvNeeds = field(default_factory=EvNeeds)
    rate_unit: str = "A"
    rate_units: tuple[str, ...] = ()
    """Every unit the charger takes in schedules ("A", "W"); empty: unknown."""
    max_stack_level: int = 1
    applied_setpoint_w: float | None = None
    applied_limit_w: float | None = None
    last_seen: datetime | None = None
    last_error: str | None = None
    connections: int = 0
    rejected_readings: int = 0
    """Power readings dropped as unreadable or implausible."""
    auth_refused: bool = False
    """Its last connection was refused for missing or wrong credentials."""


class ChargerSession(Protocol):
    """What an OCPP version's session offers the charger view."""

    version: str

    async def async_apply_limits(self) -> None:
        """Send the charger-side (station-wide) maximum profile."""
        ...

    async def async_apply_setpoint(self, setpoint_w: float) -> None:
        """Send the transaction profile for ``setpoint_w``."""
        ...

    async def async_close(self) -> None:
        """Close the websocket."""
        ...


type Listener = Callable[[], None]


class OcppCharger:
    """One charger as the planner and the guard see it."""

    def __init__(self, config: ChargerConfig) -> None:
        """Start with nothing known and the safe defaults."""
        self.config = config
        self.state = ChargerState()
        self._session: ChargerSession | None = None
        self._station_limit_w: float | None = None
        self._desired_w: float | None = None
        self._manual_w: float | None = None
        self._departure_override: DepartureNeeds | None = None
        self._min_soc = 0.0
        self._v2g_allowed = config.v2g_allowed
        self._listeners: list[Listener] = []
        self._was_available = False
        self._reported_unavailable = False

    # -- Device -----------------------------------------------------------
    @property
    def device_id(self) -> str:
        """Stable identifier."""
        return f"ocpp_{self.config.charger_id}"

    @property
    def name(self) -> str:
        """Human-readable name."""
        return self.config.name or self.config.charger_id

    @property
    def available(self) -> bool:
        """Connected, booted, accepted and responding."""
        return (
            self._session is not None
            and self.state.accepted_boot
            and self.state.responsive
        )

    @property
    def protocol(self) -> str | None:
        """The OCPP version of the current (or last) connection."""
        return self.state.protocol

    # -- PowerMeter ---------------------------------------------------------
    @property
    def power_w(self) -> float | None:
        """Measured power; negative while discharging; None while unavailable.

        The last reading of a charger that went away says nothing about what
        it draws now, so it is not passed on as if it did.
        """
        if not self.available:
            return None
        return self.state.power_w

    @property
    def energy_kwh(self) -> float | None:
        """The charger's import register in kWh."""
        if self.state.energy_wh is None:
            return None
        return self.state.energy_wh / 1000.0

    @property
    def session_energy_kwh(self) -> float | None:
        """Energy taken since the transaction started."""
        start = self.state.session_start_energy_wh
        if start is None or self.state.energy_wh is None:
            return None
        return max(0.0, (self.state.energy_wh - start) / 1000.0)

    # -- Bidirectional ----------------------------------------------------------
    @property
    def soc(self) -> float | None:
        """The car's SoC as a fraction, if the charger reports it."""
        if self.state.soc_pct is None:
            return None
        return self.state.soc_pct / 100.0

    @property
    def capacity_kwh(self) -> float | None:
        """Usable capacity from the configuration."""
        return self.config.capacity_kwh

    @property
    def plugged_in(self) -> bool:
        """Whether a car is connected."""
        return self.state.plugged_in

    @property
    def departure(self) -> DepartureNeeds:
        """The user's departure needs win; else what the car declared."""
        if self._departure_override is not None:
            return self._departure_override
        needs = self.state.needs
        return DepartureNeeds(
            departure=needs.departure,
            target_soc=needs.target_soc,
            min_soc=self._min_soc,
        )

    @property
    def discharge_allowed(self) -> bool:
        """Whether discharge is possible and allowed right now."""
        if not (self._v2g_allowed and self.state.protocol == "ocpp2.1"):
            return False
        if not (self.plugged_in and self.state.needs.can_discharge):
            return False
        soc = self.soc
        return soc is None or soc > self.departure.min_soc

    # -- PowerSettable ------------------------------------------------------------
    @property
    def station_limit_w(self) -> float:
        """The charger-side limit in force: the DSO share, never unlimited."""
        hardware = self.config.hardware_max_w
        if self._station_limit_w is None:
            return hardware
        return max(0.0, min(self._station_limit_w, hardware))

    @property
    def power_range(self) -> PowerRange:
        """What the charger and the car accept now."""
        return self.power_range_under(self.station_limit_w)

    def power_range_under(self, station_limit_w: float | None) -> PowerRange:
        """Return what the charger and car would accept under another station limit.

        None: no station limit, only the hardware.
        """
        if not self.plugged_in:
            return PowerRange(min_w=0.0, max_w=0.0)
        needs = self.state.needs
        hardware = self.config.hardware_max_w
        max_w = (
            hardware
            if station_limit_w is None
            else max(0.0, min(station_limit_w, hardware))
        )
        if needs.max_charge_w is not None:
            max_w = min(max_w, needs.max_charge_w)
        floor = self.config.floor_w
        dc = (needs.requested_transfer or "").startswith("DC")
        if dc and needs.min_charge_w is not None:
            floor = needs.min_charge_w  # a DC car states its own minimum
        elif needs.min_charge_w is not None:
            floor = max(floor, needs.min_charge_w)
        if max_w < floor:
            max_w = 0.0  # charging below the floor would stall the car
        min_w = 0.0
        if self.discharge_allowed:
            min_w = -min(needs.max_discharge_w or 0.0, self.config.hardware_max_w)
        return PowerRange(min_w=min_w, max_w=max_w, min_active_w=floor)

    @property
    def setpoint_w(self) -> float | None:
        """The setpoint the charger last accepted."""
        return self.state.applied_setpoint_w

    @property
    def manual_setpoint_w(self) -> float | None:
        """The user's override, if any."""
        return self._manual_w

    def clamp(self, setpoint_w: float) -> float:
        """Return the setpoint actually sent for a wish of ``setpoint_w``."""
        allow_pause = not self.config.minimum_instead_of_pause
        value = self.power_range.clamp(setpoint_w, allow_pause=allow_pause)
        if value > self.power_range.max_w:  # limit below the floor: pause
            return 0.0
        return value

    async def async_set_power(self, setpoint_w: float) -> None:
        """Apply the planner's or guard's setpoint (a manual override wins)."""
        if math.isnan(setpoint_w):
            raise ValueError("setpoint is not a number")
        self._desired_w = setpoint_w
        if self._manual_w is not None:
            setpoint_w = self._manual_w
        await self._async_send_setpoint(setpoint_w)

    async def async_emergency_pause(self) -> None:
        """Pause now, even a car held at its minimum and a user's boost.

        Only the guard calls this, when the DSO limit or the fuse cannot be
        held otherwise: it outranks ``minimum_instead_of_pause`` and the
        override (the guard tells the user why).
        """
        self._desired_w = 0.0
        session = self._require_session()
        if self.state.applied_setpoint_w == 0.0:
            return
        await session.async_apply_setpoint(0.0)

    async def async_set_manual(
        self, setpoint_w: float | None, *, send: bool = True
    ) -> None:
        """Set (or with None clear) the user's override, e.g. boost or pause.

        With ``send=False`` the override is only recorded: a guard that holds
        a limit sends what fits of it (a boost sent first in full would draw
        up to the charger-side limit on top of the house until capped).
        """
        self._manual_w = setpoint_w
        if not send:
            return
        target = setpoint_w if setpoint_w is not None else self._desired_w
        if target is not None:
            await self._async_send_setpoint(target)

    async def async_boost(self) -> None:
        """Charge now at the most the limit allows."""
        await self.async_set_manual(self.config.hardware_max_w)

    async def async_pause(self) -> None:
        """Pause (or hold at the floor when pausing is not safe for the car)."""
        await self.async_set_manual(0.0)

    async def _async_send_setpoint(self, setpoint_w: float) -> None:
        session = self._require_session()
        value = self.clamp(setpoint_w)
        if value == self.state.applied_setpoint_w:
            return  # the charger has it already; do not flood it
        await session.async_apply_setpoint(value)

    async def async_set_station_limit(self, limit_w: float | None) -> None:
        """Set the charger-side limit (the DSO share) and send it at once.

        The limit is kept even when sending fails: it goes out on reconnect.
        """
        if limit_w is not None and (math.isnan(limit_w) or limit_w < 0):
            msg = f"invalid limit {limit_w}"
            raise ValueError(msg)
        self._station_limit_w = limit_w
        session = self._require_session()
        await session.async_apply_limits()
        # What the setpoint should be now (the override first): a pause sent
        # while the limit was on its way must not be undone by re-sending the
        # setpoint that applied before it.
        wanted = self._manual_w if self._manual_w is not None else self._desired_w
        current = self.state.applied_setpoint_w
        if wanted is None or current is None:
            return
        value = self.clamp(wanted)
        if current > self.power_range.max_w or value < current:
            await self._async_send_setpoint(wanted)

    def set_departure(self, needs: DepartureNeeds | None) -> None:
        """Set (or with None clear) the user's departure needs."""
        if needs is not None:
            self._min_soc = needs.min_soc
        self._departure_override = needs
        self.notify()

    def set_min_soc(self, min_soc: float) -> None:
        """Set the SoC that discharge never undercuts (fraction)."""
        if not 0.0 <= min_soc <= 1.0:
            raise ValueError("minimum SoC is a fraction 0..1")
        self._min_soc = min_soc
        if self._departure_override is not None:
            self._departure_override = replace(
                self._departure_override, min_soc=min_soc
            )
        self.notify()

    @property
    def v2g_allowed(self) -> bool:
        """Whether the user allows discharge at all."""
        return self._v2g_allowed

    def set_v2g_allowed(self, allowed: bool) -> None:  # noqa: FBT001
        """Allow or forbid discharge."""
        self._v2g_allowed = allowed
        self.notify()

    # -- sessions ----------------------------------------------------------------
    def _require_session(self) -> ChargerSession:
        if self._session is None or not self.state.accepted_boot:
            msg = f"charger {self.config.charger_id} is offline"
            raise DeviceUnavailableError(msg)
        if not self.state.responsive:
            msg = (
                f"charger {self.config.charger_id} is not responding "
                f"({self.state.unavailable_reason})"
            )
            raise DeviceUnavailableError(msg)
        return self._session

    def set_responsive(self, *, responsive: bool, reason: str | None = None) -> None:
        """Mark the connected charger (not) responding; notifies on change."""
        if self.state.responsive == responsive:
            return
        self.state.responsive = responsive
        self.state.unavailable_reason = None if responsive else reason
        self.notify()

    @property
    def desired_setpoint_w(self) -> float | None:
        """What should be applied now (override first), before clamping."""
        return self._manual_w if self._manual_w is not None else self._desired_w

    def attach(self, session: ChargerSession) -> None:
        """Hand control to a new connection."""
        self._session = session
        self.state.connected = True
        self.state.accepted_boot = False
        self.state.responsive = True
        self.state.unavailable_reason = "reconnecting"
        self.state.protocol = session.version
        self.state.connections += 1
        # What the previous connection applied must be sent again.
        self.state.applied_setpoint_w = None
        self.state.applied_limit_w = None
        self.notify()

    def detach(self, session: ChargerSession) -> None:
        """Forget ``session`` when it ends (unless a newer one took over)."""
        if self._session is not session:
            return
        self._session = None
        self.state.connected = False
        self.state.accepted_boot = False
        self.state.unavailable_reason = "disconnected"
        self.notify()

    @property
    def session(self) -> ChargerSession | None:
        """The live connection, if any."""
        return self._session

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` on every change; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def notify(self) -> None:
        """Tell listeners something changed."""
        self._log_availability()
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:
                _LOGGER.exception("listener of %s failed", self.device_id)

    def _log_availability(self) -> None:
        """Log once when the charger becomes unavailable, once when it is back."""
        available = self.available
        if available == self._was_available:
            return
        self._was_available = available
        if not available:
            self._reported_unavailable = True
            _LOGGER.info(
                "Charger %s is unavailable: %s",
                self.name,
                self.state.unavailable_reason or "not booted",
            )
        elif self._reported_unavailable:
            self._reported_unavailable = False
            _LOGGER.info("Charger %s is available again", self.name)

    # -- persistence ----------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """State worth keeping over a restart (JSON-serialisable)."""
        return {
            "transaction_id": self.state.transaction_id,
            "session_start_energy_wh": self.state.session_start_energy_wh,
            "station_limit_w": self._station_limit_w,
            "desired_w": self._desired_w,
            "manual_w": self._manual_w,
            "min_soc": self._min_soc,
            "v2g_allowed": self._v2g_allowed,
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Restore a ``snapshot``; unknown or malformed fields are ignored."""

        def number(key: str) -> float | None:
            value = data.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
            return None

        transaction_id = data.get("transaction_id")
        if isinstance(transaction_id, str):
            self.state.transaction_id = transaction_id
        self.state.session_start_energy_wh = number("session_start_energy_wh")
        self._station_limit_w = number("station_limit_w")
        self._desired_w = number("desired_w")
        self._manual_w = number("manual_w")
        min_soc = number("min_soc")
        if min_soc is not None and 0.0 <= min_soc <= 1.0:
            self._min_soc = min_soc
        allowed = data.get("v2g_allowed")
        if isinstance(allowed, bool):
            self._v2g_allowed = allowed
