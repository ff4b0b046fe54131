"""What the meter reports: one reading per telegram, plus connection figures.

Sign convention (see ``engine.capabilities``): power in W, grid power is
positive for import and negative for export. ``import_w`` and ``export_w``
are the two non-negative registers the meter reports (1-0:1.7.0 and
1-0:2.7.0); ``net_power_w`` is their difference.

Per-phase tuples are ordered L1, L2, L3 and are as long as the number of
phases the meter reports; an element is ``None`` when the meter omits that
value for that phase.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

type QuarterSource = Literal["meter", "computed"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PeakRecord:
    """One month of the 13-month peak history (0-0:98.1.0)."""

    month_start: datetime | None
    """Start of the month the peak belongs to (UTC); None if the meter sent junk."""
    at: datetime | None
    """When the peak quarter-hour ended (UTC); None if the meter sent junk."""
    power_w: float
    """The quarter-hour average import power of the peak, in W."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TelegramValues:
    """The values decoded from one telegram, before anything is derived.

    Every field is optional because every meter omits something.
    """

    dsmr_version: str
    header: str | None = None
    meter_time: datetime | None = None
    equipment_id: str | None = None
    import_w: float | None = None
    export_w: float | None = None
    phase_import_w: tuple[float | None, ...] = ()
    phase_export_w: tuple[float | None, ...] = ()
    phase_currents_a: tuple[float | None, ...] = ()
    phase_voltages_v: tuple[float | None, ...] = ()
    import_t1_kwh: float | None = None
    import_t2_kwh: float | None = None
    export_t1_kwh: float | None = None
    export_t2_kwh: float | None = None
    import_total_kwh: float | None = None
    export_total_kwh: float | None = None
    tariff: int | None = None
    meter_quarter_average_w: float | None = None
    meter_month_peak_w: float | None = None
    meter_month_peak_at: datetime | None = None
    peak_history: tuple[PeakRecord, ...] = ()
    text_message: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterReading:
    """The household's grid truth at one instant, as derived from a telegram."""

    timestamp: datetime
    """When the telegram arrived (aware, UTC)."""
    meter_time: datetime | None
    """The meter's own clock (0-0:1.0.0) in UTC, if it sends one."""
    dsmr_version: str
    equipment_id: str | None
    import_w: float
    export_w: float
    phase_import_w: tuple[float | None, ...]
    phase_export_w: tuple[float | None, ...]
    phase_currents_a: tuple[float | None, ...]
    phase_voltages_v: tuple[float | None, ...]
    phase_headroom_a: tuple[float | None, ...]
    """Amperes left to the main fuse per phase; None without a current."""
    import_t1_kwh: float | None
    import_t2_kwh: float | None
    export_t1_kwh: float | None
    export_t2_kwh: float | None
    import_total_kwh: float | None
    export_total_kwh: float | None
    tariff: int | None
    quarter_start: datetime
    """Start (UTC) of the quarter-hour the averages below belong to."""
    quarter_average_w: float | None
    quarter_average_source: QuarterSource | None
    quarter_projection_w: float | None
    """Where the quarter-hour average will end if the import stays as it is."""
    month_peak_w: float | None
    month_peak_at: datetime | None
    peak_history: tuple[PeakRecord, ...]
    text_message: str | None
    header: str | None = None
    """The telegram's identification line without '/' (``ISk5\\2MT382-1000``)."""

    @property
    def net_power_w(self) -> float:
        """Grid power: import minus export (negative while exporting)."""
        return self.import_w - self.export_w

    @property
    def phases(self) -> int:
        """How many phases the meter reports (0 if it reports none)."""
        return max(
            len(self.phase_currents_a),
            len(self.phase_voltages_v),
            len(self.phase_import_w),
            len(self.phase_export_w),
        )

    @property
    def peak_average_w(self) -> float | None:
        """Mean of the last 12 monthly peaks: this month and the history.

        Belgian capacity tariffs bill this rolling average (with a minimum of
        2.5 kW per month, which is not applied here). None without history.
        """
        if not self.peak_history:
            return None
        months = [record.power_w for record in self.peak_history]
        if self.month_peak_w is not None:
            months = [*months[-11:], self.month_peak_w]
        else:
            months = months[-12:]
        return sum(months) / len(months)

    def phase_net_power_w(self) -> tuple[float | None, ...]:
        """Net power per phase (import minus export), None where unknown."""
        out: list[float | None] = []
        for index in range(self.phases):
            imp = _at(self.phase_import_w, index)
            exp = _at(self.phase_export_w, index)
            out.append(None if imp is None else imp - (exp or 0.0))
        return tuple(out)

    def as_dict(self) -> dict[str, Any]:
        """Return the reading as JSON-ready data (the CLI's ``--json`` line)."""
        names = ("L1", "L2", "L3")
        net = self.phase_net_power_w()
        return {
            "timestamp": self.timestamp.isoformat(),
            "meter_time": _iso(self.meter_time),
            "dsmr_version": self.dsmr_version,
            "equipment_id": self.equipment_id,
            "power": {
                "net_w": self.net_power_w,
                "import_w": self.import_w,
                "export_w": self.export_w,
            },
            "phases": [
                {
                    "phase": names[index] if index < len(names) else str(index + 1),
                    "net_w": net[index],
                    "import_w": _at(self.phase_import_w, index),
                    "export_w": _at(self.phase_export_w, index),
                    "current_a": _at(self.phase_currents_a, index),
                    "voltage_v": _at(self.phase_voltages_v, index),
                    "headroom_a": _at(self.phase_headroom_a, index),
                }
                for index in range(self.phases)
            ],
            "energy": {
                "import_t1_kwh": self.import_t1_kwh,
                "import_t2_kwh": self.import_t2_kwh,
                "export_t1_kwh": self.export_t1_kwh,
                "export_t2_kwh": self.export_t2_kwh,
                "import_total_kwh": self.import_total_kwh,
                "export_total_kwh": self.export_total_kwh,
            },
            "tariff": self.tariff,
            "quarter_hour": {
                "start": self.quarter_start.isoformat(),
                "average_w": self.quarter_average_w,
                "source": self.quarter_average_source,
                "projection_w": self.quarter_projection_w,
            },
            "month_peak": {
                "power_w": self.month_peak_w,
                "at": _iso(self.month_peak_at),
                "average_12_months_w": self.peak_average_w,
            },
            "peak_history": [
                {
                    "month_start": _iso(record.month_start),
                    "at": _iso(record.at),
                    "power_w": record.power_w,
                }
                for record in self.peak_history
            ],
            "text_message": self.text_message,
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _at(values: tuple[float | None, ...], index: int) -> float | None:
    """Return ``values[index]`` or None past the end."""
    return values[index] if index < len(values) else None


@dataclass(slots=True)
class MeterStats:
    """Counters of what happened on the meter's connection."""

    telegrams: int = 0
    """Telegrams decoded and accepted."""
    crc_errors: int = 0
    """Telegrams skipped because their CRC did not match."""
    parse_errors: int = 0
    """Telegrams skipped because they could not be decoded."""
    decrypt_errors: int = 0
    """Encrypted frames that the configured key could not open."""
    rejected_readings: int = 0
    """Decoded readings refused as not finite or physically implausible."""
    connects: int = 0
    """Successful connections (the first one included)."""
    connection_errors: int = 0
    """Failed connection attempts and lost connections."""
    last_error: str | None = None
    last_telegram_at: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        """Return the counters as plain data (for diagnostics and JSON)."""
        return {
            "telegrams": self.telegrams,
            "crc_errors": self.crc_errors,
            "parse_errors": self.parse_errors,
            "decrypt_errors": self.decrypt_errors,
            "rejected_readings": self.rejected_readings,
            "connects": self.connects,
            "connection_errors": self.connection_errors,
            "last_error": self.last_error,
            "last_telegram_at": (
                self.last_telegram_at.isoformat() if self.last_telegram_at else None
            ),
        }
