"""Turn telegram text into ``TelegramValues`` with dsmr-parser.

dsmr-parser does the hard part (OBIS matching, CRC, decryption); this module
maps its objects onto one flat, unit-normalised structure (W, A, V, kWh, UTC)
that is the same for every meter.
"""

# dsmr-parser is untyped: its telegram objects are handled as Any on purpose.
# ruff: noqa: ANN401
from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from decimal import Decimal
import math
import re
from typing import Any

from dsmr_parser.exceptions import DecryptionError, InvalidChecksumError
from dsmr_parser.parsers import TelegramParser

from .models import PeakRecord, TelegramValues
from .versions import DsmrVersion

_POWER_FACTORS = {"kW": Decimal(1000), "W": Decimal(1), "MW": Decimal(1_000_000)}
_ENERGY_FACTORS = {"kWh": Decimal(1), "Wh": Decimal("0.001"), "MWh": Decimal(1000)}
_EQUIPMENT_FIELDS = (
    "EQUIPMENT_IDENTIFIER",
    "BELGIUM_EQUIPMENT_IDENTIFIER",
    "LUXEMBOURG_EQUIPMENT_IDENTIFIER",
    "Q3D_EQUIPMENT_IDENTIFIER",
    "EQUIPMENT_SERIAL_NUMBER",
    "COSEM_LOGICAL_DEVICE_NAME",
)
_MAX_PHASES = 3


class TelegramError(Exception):
    """A telegram was skipped; ``kind`` says why."""

    def __init__(self, kind: str, message: str) -> None:
        """Keep the reason (crc, parse or decrypt) and the message."""
        super().__init__(message)
        self.kind = kind


def normalise_line_ends(text: str) -> str:
    """Restore CRLF line ends (the CRC covers them) if something stripped them."""
    if "\r\n" in text:
        return text
    return text.replace("\n", "\r\n")


def detect_version(telegram: str) -> str:
    """Guess the version key of a plain telegram from its header and CRC."""
    header = (_header(telegram) or "").upper()
    has_crc = re.search(r"![0-9A-F]{1,4}\r?\n", telegram) is not None
    if header.startswith("FLU"):
        return "5B"
    if header.startswith("ESY"):
        return "Q3D"
    if not has_crc:
        return "2.2"
    if re.search(r"1-3:0\.2\.8\(4\d\)", telegram):
        return "4"
    return "5"


class TelegramDecoder:
    """Decode the telegrams of one DSMR version (and key, if encrypted)."""

    def __init__(self, version: DsmrVersion, *, encryption_key: str = "") -> None:
        """Prepare dsmr-parser for ``version``."""
        self.version = version
        self._parser = TelegramParser(version.specification)
        self._key = encryption_key

    def decode(self, telegram: str) -> TelegramValues:
        """Decode one complete telegram; raise TelegramError if it is unusable.

        ``telegram`` is the text from ``/`` to the CRC line, or for encrypted
        versions the hex of one general-global-cipher frame.
        """
        try:
            parsed = self._parser.parse(
                telegram,
                encryption_key=self._key,
                # Like Home Assistant's dsmr integration: decrypt without the
                # GCM tag check and rely on the telegram's CRC for integrity.
                authentication_key=None if self.version.encrypted else "",
            )
        except InvalidChecksumError as err:
            raise TelegramError("crc", str(err)) from err
        except DecryptionError as err:
            raise TelegramError("decrypt", str(err)) from err
        except Exception as err:
            # dsmr-parser lets decimal.InvalidOperation (a flipped digit, most
            # of all on DSMR 2.2 without a CRC), ValueError, IndexError and
            # more escape; none of them may take the line down.
            raise TelegramError("parse", _describe(err)) from err
        try:
            values = _values_from(parsed, self.version.key, _header(telegram))
        except Exception as err:
            raise TelegramError("parse", _describe(err)) from err
        if not _has_any_measurement(values):
            msg = "the telegram holds no power or energy value"
            raise TelegramError("parse", msg)
        bad = non_finite_fields(values)
        if bad:
            msg = f"not a finite number: {', '.join(bad)}"
            raise TelegramError("parse", msg)
        return values


def _describe(err: BaseException) -> str:
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def non_finite_fields(values: TelegramValues) -> list[str]:
    """Return the names of the values that are NaN or infinite.

    A valid CRC only proves that the bytes arrived as the meter sent them; a
    ``NaN`` or ``Infinity`` in a register is still no measurement, and it
    would make every comparison in the guard false.
    """
    bad: list[str] = []
    for item in fields(values):
        value = getattr(values, item.name)
        if isinstance(value, float) and not math.isfinite(value):
            bad.append(item.name)
        elif isinstance(value, tuple):
            for entry in value:
                number = getattr(entry, "power_w", entry)
                if isinstance(number, float) and not math.isfinite(number):
                    bad.append(item.name)
                    break
    return bad


def _header(telegram: str) -> str | None:
    """Return the identification line of a plain telegram (without '/')."""
    if not telegram.startswith("/"):
        return None
    return telegram[1:].split("\r\n", 1)[0].strip() or None


def _has_any_measurement(values: TelegramValues) -> bool:
    return any(
        value is not None
        for value in (
            values.import_w,
            values.export_w,
            values.import_t1_kwh,
            values.import_total_kwh,
            *values.phase_import_w,
            *values.phase_currents_a,
        )
    )


def _obj(telegram: Any, name: str) -> Any:
    return getattr(telegram, name, None)


def _number(obj: Any) -> float | None:
    """Return the object's numeric value, or None."""
    if obj is None:
        return None
    value = obj.value
    if isinstance(value, (Decimal, int, float)):
        return float(value)
    return None


def _scaled(obj: Any, factors: dict[str, Decimal], default: str) -> float | None:
    """Return the value converted with ``factors`` (exact, via Decimal)."""
    if obj is None or not isinstance(obj.value, (Decimal, int)):
        return None
    factor = factors.get(obj.unit or default, factors[default])
    return float(Decimal(obj.value) * factor)


def _power_w(obj: Any) -> float | None:
    return _scaled(obj, _POWER_FACTORS, "kW")


def _energy_kwh(obj: Any) -> float | None:
    return _scaled(obj, _ENERGY_FACTORS, "kWh")


def _utc(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return None


def _text(value: Any) -> str | None:
    """Decode a DSMR octet string: hex-encoded text, or plain text."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if len(text) % 2 == 0:
        try:
            decoded = bytes.fromhex(text).decode("utf-8")
        except ValueError:
            return text
        if decoded.isprintable():
            return decoded.strip() or None
    return text


def _phase_tuple(telegram: Any, pattern: str, convert: Any) -> tuple[float | None, ...]:
    values = [
        convert(_obj(telegram, pattern.format(n=n))) for n in range(1, _MAX_PHASES + 1)
    ]
    while values and values[-1] is None:
        values.pop()
    return tuple(values)


def _sum(*values: float | None) -> float | None:
    present = [Decimal(str(value)) for value in values if value is not None]
    return float(sum(present)) if present else None


def _peak_history(telegram: Any) -> tuple[PeakRecord, ...]:
    records = _obj(telegram, "BELGIUM_MAXIMUM_DEMAND_13_MONTHS")
    if not isinstance(records, list):
        return ()
    history: list[PeakRecord] = []
    for record in records:
        power = _power_w(record)
        if power is None:
            continue
        history.append(
            PeakRecord(
                month_start=_utc(record.datetime),
                at=_utc(record.occurred),
                power_w=power,
            )
        )
    return tuple(history)


def _values_from(telegram: Any, version: str, header: str | None) -> TelegramValues:
    """Map a parsed dsmr-parser telegram onto TelegramValues."""
    equipment = next(
        (
            text
            for name in _EQUIPMENT_FIELDS
            if (text := _text(getattr(_obj(telegram, name), "value", None)))
        ),
        None,
    )
    tariff_obj = _obj(telegram, "ELECTRICITY_ACTIVE_TARIFF")
    tariff: int | None = None
    if tariff_obj is not None and tariff_obj.value is not None:
        try:
            tariff = int(str(tariff_obj.value))
        except ValueError:
            tariff = None
    peak = _obj(telegram, "BELGIUM_MAXIMUM_DEMAND_MONTH")
    import_t1 = _energy_kwh(_obj(telegram, "ELECTRICITY_USED_TARIFF_1"))
    import_t2 = _energy_kwh(_obj(telegram, "ELECTRICITY_USED_TARIFF_2"))
    export_t1 = _energy_kwh(_obj(telegram, "ELECTRICITY_DELIVERED_TARIFF_1"))
    export_t2 = _energy_kwh(_obj(telegram, "ELECTRICITY_DELIVERED_TARIFF_2"))
    import_total = _energy_kwh(_obj(telegram, "ELECTRICITY_IMPORTED_TOTAL"))
    export_total = _energy_kwh(_obj(telegram, "ELECTRICITY_EXPORTED_TOTAL"))
    timestamp = _obj(telegram, "P1_MESSAGE_TIMESTAMP")
    text = _obj(telegram, "TEXT_MESSAGE")
    return TelegramValues(
        dsmr_version=version,
        header=header,
        meter_time=_utc(timestamp.value) if timestamp is not None else None,
        equipment_id=equipment,
        import_w=_power_w(_obj(telegram, "CURRENT_ELECTRICITY_USAGE")),
        export_w=_power_w(_obj(telegram, "CURRENT_ELECTRICITY_DELIVERY")),
        phase_import_w=_phase_tuple(
            telegram, "INSTANTANEOUS_ACTIVE_POWER_L{n}_POSITIVE", _power_w
        ),
        phase_export_w=_phase_tuple(
            telegram, "INSTANTANEOUS_ACTIVE_POWER_L{n}_NEGATIVE", _power_w
        ),
        phase_currents_a=_phase_tuple(telegram, "INSTANTANEOUS_CURRENT_L{n}", _number),
        phase_voltages_v=_phase_tuple(telegram, "INSTANTANEOUS_VOLTAGE_L{n}", _number),
        import_t1_kwh=import_t1,
        import_t2_kwh=import_t2,
        export_t1_kwh=export_t1,
        export_t2_kwh=export_t2,
        import_total_kwh=(
            import_total if import_total is not None else _sum(import_t1, import_t2)
        ),
        export_total_kwh=(
            export_total if export_total is not None else _sum(export_t1, export_t2)
        ),
        tariff=tariff,
        meter_quarter_average_w=_power_w(
            _obj(telegram, "BELGIUM_CURRENT_AVERAGE_DEMAND")
        ),
        meter_month_peak_w=_power_w(peak),
        meter_month_peak_at=_utc(peak.datetime) if peak is not None else None,
        peak_history=_peak_history(telegram),
        text_message=_text(text.value) if text is not None else None,
    )
