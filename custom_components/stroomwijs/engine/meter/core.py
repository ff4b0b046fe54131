"""The meter: derives readings from telegram values and hands them out.

A ``Meter`` does not know where telegrams come from. A stream reader (serial
or TCP), the HomeWizard poller, or Home Assistant's entity adapter feed it
``TelegramValues``; it adds what the engine derives (quarter-hour average and
projection, monthly peak, headroom per phase) and pushes each ``MeterReading``
to every subscriber at once, at the meter's own rate.

Every telegram is checked before anything is derived from it: a value that
is not a finite number, or a power or current beyond what the connection can
physically carry (``plausibility_problem``), makes the whole telegram a
rejected reading. It is counted (``stats.rejected_readings``), logged, never
pushed to subscribers; ``REJECTED_IN_A_ROW`` of them in a row make the meter
unavailable at once (data lost: the guard's safe side).

Across a restart the host keeps what the meter derived: ``export_state``
returns the quarter-hour in progress, the month's peak and the 13-month
history as JSON-safe data, and ``restore_state`` takes them back after
checking every field (bad stored state is logged and ignored, never a crash).
The first telegram after the restart fills the gap from the meter's energy
register, so the quarter is not averaged over the readings since the restart
only.

When no reading arrives for ``stale_after`` seconds the meter becomes
unavailable: subscribers to availability hear it at once, so the guard can
fall back to its safe side. It logs that once, and logs once when readings
return.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
import logging
import math
from typing import Any

from custom_components.stroomwijs.engine.grid import (
    FUSE_RANGE_A,
    PLAUSIBLE_FACTOR,
    GridConnection,
)

from .decode import non_finite_fields
from .models import (
    MeterReading,
    MeterStats,
    PeakRecord,
    QuarterSource,
    TelegramValues,
)
from .quarter import (
    BILLING_ZONE,
    MonthPeakTracker,
    QuarterTracker,
    StateError,
    project_from_meter,
    quarter_start,
)

_LOGGER = logging.getLogger(__name__)

LARGEST_CONNECTION = GridConnection(phases=3, fuse_a=FUSE_RANGE_A[1])
"""Used for the plausibility bound when the meter knows no grid connection."""
PLAUSIBLE_VOLTAGE_V = (50.0, 300.0)
"""Phase voltages outside this range are glitches: the nominal voltage is used."""
REJECTED_IN_A_ROW = 3
"""This many rejected readings in a row count as data lost."""
STATE_VERSION = 1
"""Version of the dictionary that :meth:`Meter.export_state` returns."""

type ReadingCallback = Callable[[MeterReading], None]
type AvailabilityCallback = Callable[[bool], None]


def utc_now() -> datetime:
    """Return the current time (aware, UTC)."""
    return datetime.now(UTC)


class Meter:
    """The household's grid meter, fed with telegram values."""

    def __init__(
        self,
        *,
        name: str = "P1 meter",
        grid: GridConnection | None = None,
        stale_after: float = 10.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """Create a meter that is unavailable until its first reading."""
        self.name = name
        self.grid = grid
        self.stale_after = stale_after
        self.stats = MeterStats()
        self._clock = clock
        self._available = False
        self._ever_available = False
        self._last: MeterReading | None = None
        self._quarters = QuarterTracker()
        self._peaks = MonthPeakTracker()
        self._subscribers: list[ReadingCallback] = []
        self._availability_subscribers: list[AvailabilityCallback] = []
        self._stale_handle: asyncio.TimerHandle | None = None
        self._unavailable_reason: str | None = None
        self._rejected_in_a_row = 0

    @property
    def available(self) -> bool:
        """Whether a fresh reading is at hand."""
        return self._available

    @property
    def last_reading(self) -> MeterReading | None:
        """The newest reading (it may be stale; check ``available``)."""
        return self._last

    @property
    def unavailable_reason(self) -> str | None:
        """Why the meter is unavailable, if it is."""
        return None if self._available else self._unavailable_reason

    def subscribe(self, callback: ReadingCallback) -> Callable[[], None]:
        """Call ``callback`` with every reading; return a function to stop."""
        self._subscribers.append(callback)
        return lambda: _discard(self._subscribers, callback)

    def subscribe_availability(
        self, callback: AvailabilityCallback
    ) -> Callable[[], None]:
        """Call ``callback(available)`` whenever availability changes."""
        self._availability_subscribers.append(callback)
        return lambda: _discard(self._availability_subscribers, callback)

    def process(
        self, values: TelegramValues, received_at: datetime | None = None
    ) -> MeterReading | None:
        """Derive a reading from one telegram, store it and push it out.

        Return None when the values are rejected (not finite, or implausible
        for the connection): they are counted and reported, never acted on.
        """
        now = (received_at or self._clock()).astimezone(UTC)
        problem = plausibility_problem(values, self.grid)
        if problem is not None:
            self._reject(problem)
            return None
        self._rejected_in_a_row = 0
        reading = self._derive(values, now)
        self._last = reading
        self.stats.telegrams += 1
        self.stats.last_telegram_at = now
        self._arm_stale_timer()
        self._set_available(available=True, reason=None)
        for callback in list(self._subscribers):
            try:
                callback(reading)
            except Exception:
                _LOGGER.exception("A subscriber of %s failed", self.name)
        return reading

    def _reject(self, problem: str) -> None:
        """Count a rejected reading; too many in a row is data lost."""
        self.stats.rejected_readings += 1
        self.stats.last_error = problem
        self._rejected_in_a_row += 1
        if self._rejected_in_a_row == 1:
            _LOGGER.warning("%s: reading rejected: %s", self.name, problem)
        else:
            _LOGGER.debug("%s: reading rejected: %s", self.name, problem)
        if self._rejected_in_a_row >= REJECTED_IN_A_ROW:
            self.mark_unavailable(
                f"{self._rejected_in_a_row} rejected readings in a row ({problem})"
            )

    def mark_unavailable(self, reason: str) -> None:
        """Declare the data lost (connection gone, meter silent)."""
        self._cancel_stale_timer()
        self._set_available(available=False, reason=reason)

    def close(self) -> None:
        """Stop the timers; the meter is unavailable afterwards."""
        self._cancel_stale_timer()
        self._available = False
        self._unavailable_reason = "stopped"

    def _derive(self, values: TelegramValues, now: datetime) -> MeterReading:
        import_w = values.import_w
        export_w = values.export_w
        if import_w is None and values.phase_import_w:
            import_w = sum(v for v in values.phase_import_w if v is not None)
        if export_w is None and values.phase_export_w:
            export_w = sum(v for v in values.phase_export_w if v is not None)
        import_w = import_w or 0.0
        export_w = export_w or 0.0
        if import_w < 0:
            # Some meters (EasyMeter Q3D) report one signed power register.
            import_w, export_w = 0.0, export_w - import_w
        values = _split_signed_phases(values)

        for quarter in self._quarters.add(now, import_w, values.import_total_kwh):
            self._peaks.add(quarter)
        if values.meter_quarter_average_w is not None:
            quarter_average: float | None = values.meter_quarter_average_w
            source: QuarterSource | None = "meter"
            projection: float | None = project_from_meter(
                values.meter_quarter_average_w, now, import_w
            )
        else:
            quarter_average = self._quarters.average_w()
            source = "computed" if quarter_average is not None else None
            projection = self._quarters.projection_w(now, import_w)
        if values.meter_month_peak_w is not None:
            peak_w: float | None = values.meter_month_peak_w
            peak_at = values.meter_month_peak_at
        else:
            peak_w, peak_at = self._peaks.current(now)

        return MeterReading(
            timestamp=now,
            meter_time=values.meter_time,
            dsmr_version=values.dsmr_version,
            equipment_id=values.equipment_id,
            import_w=import_w,
            export_w=export_w,
            phase_import_w=values.phase_import_w,
            phase_export_w=values.phase_export_w,
            phase_currents_a=values.phase_currents_a,
            phase_voltages_v=values.phase_voltages_v,
            phase_headroom_a=self._headroom(values, import_w - export_w),
            import_t1_kwh=values.import_t1_kwh,
            import_t2_kwh=values.import_t2_kwh,
            export_t1_kwh=values.export_t1_kwh,
            export_t2_kwh=values.export_t2_kwh,
            import_total_kwh=values.import_total_kwh,
            export_total_kwh=values.export_total_kwh,
            tariff=values.tariff,
            quarter_start=quarter_start(now),
            quarter_average_w=quarter_average,
            quarter_average_source=source,
            quarter_projection_w=projection,
            month_peak_w=peak_w,
            month_peak_at=peak_at,
            peak_history=values.peak_history or self._local_history(),
            text_message=values.text_message,
            header=values.header,
        )

    def _local_history(self) -> tuple[PeakRecord, ...]:
        """Return the computed peaks of completed months (oldest first)."""
        return tuple(
            PeakRecord(
                month_start=datetime(
                    record.month[0], record.month[1], 1, tzinfo=BILLING_ZONE
                ).astimezone(UTC),
                at=record.at,
                power_w=record.power_w,
            )
            for record in self._peaks.history
        )

    # ------------------------------------------------------------ restarts

    def export_state(self) -> dict[str, Any]:
        """Return what must survive a restart, as JSON-safe data.

        The quarter-hour in progress (with the last energy register value, so
        the gap of the restart can be filled), the month's computed peak and
        the history of completed months.
        """
        return {
            "version": STATE_VERSION,
            "saved_at": self._clock().astimezone(UTC).isoformat(),
            "quarter": self._quarters.export_state(),
            "peak": self._peaks.export_state(),
        }

    def restore_state(self, data: object, now: datetime | None = None) -> bool:
        """Take back exported state; return whether any of it was restored.

        Each part (quarter, peak) is checked on its own; a part that is
        corrupt, from the future or from another version is logged with the
        reason and ignored. Nothing here raises on bad data.
        """
        moment = (now or self._clock()).astimezone(UTC)
        if not isinstance(data, Mapping) or data.get("version") != STATE_VERSION:
            _LOGGER.warning(
                "%s: stored state ignored: not version %s", self.name, STATE_VERSION
            )
            return False
        restored = False
        for part in ("quarter", "peak"):
            if data.get(part) is None:
                continue
            fresh: QuarterTracker | MonthPeakTracker = (
                QuarterTracker() if part == "quarter" else MonthPeakTracker()
            )
            try:
                fresh.restore_state(data[part], moment)
            except StateError as err:
                _LOGGER.warning("%s: stored %s ignored: %s", self.name, part, err)
                continue
            except Exception:
                _LOGGER.exception("%s: stored %s ignored", self.name, part)
                continue
            if isinstance(fresh, QuarterTracker):
                self._quarters = fresh
            else:
                self._peaks = fresh
            restored = True
        return restored

    def _headroom(
        self, values: TelegramValues, net_w: float
    ) -> tuple[float | None, ...]:
        """Amperes left per phase, taking the larger of measured and derived.

        DSMR meters report whole amperes on many models and never a sign, so
        the current is also derived from the phase's power and voltage; the
        larger of the two counts (the safe side).
        """
        grid = self.grid
        if grid is None:
            return ()
        phases = max(
            len(values.phase_currents_a),
            len(values.phase_import_w),
            len(values.phase_voltages_v),
        )
        if phases == 0:
            if grid.phases == 1:
                return (grid.phase_headroom_a(abs(net_w) / grid.voltage_v),)
            return ()
        out: list[float | None] = []
        for index in range(phases):
            current = _at(values.phase_currents_a, index)
            imp = _at(values.phase_import_w, index)
            exp = _at(values.phase_export_w, index)
            voltage = _at(values.phase_voltages_v, index)
            if (
                voltage is None
                or not PLAUSIBLE_VOLTAGE_V[0] <= voltage <= (PLAUSIBLE_VOLTAGE_V[1])
            ):
                voltage = grid.voltage_v  # a glitch in the register: nominal
            derived = (
                abs((imp or 0.0) - (exp or 0.0)) / voltage
                if imp is not None or exp is not None
                else None
            )
            candidates = [c for c in (current, derived) if c is not None]
            if not candidates:
                out.append(None)
                continue
            out.append(round(grid.phase_headroom_a(max(candidates)), 3))
        return tuple(out)

    def _set_available(self, *, available: bool, reason: str | None) -> None:
        if available == self._available:
            if not available:
                self._unavailable_reason = reason
            return
        self._available = available
        self._unavailable_reason = reason
        if available:
            if self._ever_available:
                _LOGGER.info("%s is back: readings arrive again", self.name)
            self._ever_available = True
        else:
            _LOGGER.info("%s is unavailable: %s", self.name, reason)
        for callback in list(self._availability_subscribers):
            try:
                callback(available)
            except Exception:
                _LOGGER.exception("An availability subscriber of %s failed", self.name)

    def _arm_stale_timer(self) -> None:
        self._cancel_stale_timer()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if math.isfinite(self.stale_after):
            self._stale_handle = loop.call_later(self.stale_after, self._on_stale)

    def _cancel_stale_timer(self) -> None:
        if self._stale_handle is not None:
            self._stale_handle.cancel()
            self._stale_handle = None

    def _on_stale(self) -> None:
        self._stale_handle = None
        self._set_available(
            available=False,
            reason=f"no valid telegram for {self.stale_after:g} s",
        )


def _at(values: tuple[float | None, ...], index: int) -> float | None:
    return values[index] if index < len(values) else None


def plausibility_problem(
    values: TelegramValues, grid: GridConnection | None
) -> str | None:
    """Return why ``values`` cannot be a real reading, or None if they can.

    The rule: every value must be a finite number, the telegram must carry
    a power value (import, export or per phase), and no power (total, per
    phase, the meter's quarter-hour average or monthly peak) may exceed
    ``PLAUSIBLE_FACTOR`` times what the connection carries, nor any phase
    current that factor times the main fuse. Without a known connection the
    largest one there is (3x400 A) sets the bound.
    """
    bad = non_finite_fields(values)
    if bad:
        return f"not a finite number: {', '.join(bad)}"
    if values.import_w is None and not any(
        value is not None for value in values.phase_import_w
    ):
        # Energy registers alone say nothing about the power now; reading
        # them as 0 W would hand the guard headroom that may not exist.
        return "the telegram holds no import power"
    connection = grid or LARGEST_CONNECTION
    bound_w = connection.plausible_max_power_w
    bound_a = connection.plausible_max_current_a
    powers = {
        "import_w": values.import_w,
        "export_w": values.export_w,
        "meter_quarter_average_w": values.meter_quarter_average_w,
        "meter_month_peak_w": values.meter_month_peak_w,
    }
    for index, value in enumerate(values.phase_import_w):
        powers[f"phase_import_w[{index}]"] = value
    for index, value in enumerate(values.phase_export_w):
        powers[f"phase_export_w[{index}]"] = value
    for name, value in powers.items():
        if value is not None and abs(value) > bound_w:
            return (
                f"{name} of {value:.0f} W is beyond {bound_w:.0f} W, "
                f"{PLAUSIBLE_FACTOR:g} x what {connection} carries"
            )
    for index, current in enumerate(values.phase_currents_a):
        if current is not None and abs(current) > bound_a:
            return (
                f"phase current L{index + 1} of {current:.1f} A is beyond "
                f"{bound_a:.0f} A, {PLAUSIBLE_FACTOR:g} x the {connection} fuse"
            )
    return None


def _split_signed_phases(values: TelegramValues) -> TelegramValues:
    """Turn negative phase import (a signed register) into phase export."""
    if not any(v is not None and v < 0 for v in values.phase_import_w):
        return values
    imports: list[float | None] = []
    exports: list[float | None] = []
    for index, imp in enumerate(values.phase_import_w):
        exp = _at(values.phase_export_w, index)
        if imp is not None and imp < 0:
            imports.append(0.0)
            exports.append((exp or 0.0) - imp)
        else:
            imports.append(imp)
            exports.append(exp)
    return replace(values, phase_import_w=tuple(imports), phase_export_w=tuple(exports))


def _discard[T](items: list[T], item: T) -> None:
    if item in items:
        items.remove(item)
