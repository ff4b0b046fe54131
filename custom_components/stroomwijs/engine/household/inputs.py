"""Prices and PV forecasts as hosts hand them to a household.

Home Assistant users get day-ahead prices from several integrations, each
with its own attribute format; :func:`parse_price_attributes` reads them
into one :class:`Series` of (start, EUR/kWh). The formats (all tested on
real-shaped states in ``tests/engine/household/test_inputs.py``):

* Nord Pool (the HACS ``nordpool`` sensor): ``raw_today``/``raw_tomorrow``,
  lists of ``{start, end, value}``; the unit from ``unit_of_measurement``
  (EUR/kWh, c/kWh or EUR/MWh).
* EnergyZero (the ``energyzero.get_energy_prices`` response as an
  attribute, e.g. through a template sensor): ``prices``, a list of
  ``{timestamp, price}``.
* ENTSO-E (the HACS ``entsoe`` sensor): ``prices_today``/``prices_tomorrow``
  or ``prices``, lists of ``{time, price}``.
* Tibber (the ``tibber.get_prices`` response): ``prices``, either a list of
  ``{start_time, price}`` or a mapping of home name to such a list.

Steps of 15, 30 and 60 minutes are read; the step is taken from the
distance between consecutive starts.

PV forecasts: Solcast's ``detailedForecast`` (``{period_start,
pv_estimate}`` in kW), Forecast.Solar's ``wh_hours`` / ``watts`` mappings of
ISO time to Wh (per hour) or W, and a plain list of ``{start, kw}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
import math
from typing import Any, Final

MAX_POINTS: Final = 2 * 24 * 4 * 2
"""Two days of 15-minute points, with room to spare; more is cut off."""
STEPS: Final = frozenset(
    {timedelta(minutes=15), timedelta(minutes=30), timedelta(hours=1)}
)
PRICE_BOUND_EUR_PER_KWH: Final = 100.0
"""Prices beyond +-100 EUR/kWh are no day-ahead price: the point is dropped."""


class InputFormatError(ValueError):
    """An entity's attributes hold nothing we can read."""


@dataclass(frozen=True, slots=True)
class Series:
    """Values on consecutive steps (15, 30 or 60 minutes), from ``start``."""

    start: datetime
    step: timedelta
    values: tuple[float, ...]

    @property
    def end(self) -> datetime:
        """The end of the last step."""
        return self.start + self.step * len(self.values)

    def value_at(self, when: datetime) -> float | None:
        """Return the value of the step holding ``when`` (None outside)."""
        if when < self.start or when >= self.end:
            return None
        index = int((when - self.start) / self.step)
        return self.values[index]

    def average(self, start: datetime, end: datetime) -> float | None:
        """Time-weighted average over [start, end) (None where not covered)."""
        if start < self.start or end > self.end or end <= start:
            return None
        total = 0.0
        cursor = start
        while cursor < end:
            index = int((cursor - self.start) / self.step)
            step_end = min(self.start + self.step * (index + 1), end)
            total += self.values[index] * (step_end - cursor).total_seconds()
            cursor = step_end
        return total / (end - start).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "start": self.start.isoformat(),
            "step_minutes": self.step.total_seconds() / 60,
            "values": list(self.values),
        }

    @classmethod
    def from_dict(cls, data: object) -> Series:
        """Read ``to_dict`` output back (InputFormatError if malformed)."""
        if not isinstance(data, Mapping):
            raise InputFormatError("expected a mapping")
        try:
            start = _parse_time(data["start"])
            step = timedelta(minutes=float(data["step_minutes"]))
            values = tuple(float(v) for v in data["values"])
        except (KeyError, TypeError, ValueError, OverflowError) as err:
            raise InputFormatError(str(err)) from None
        if step not in STEPS:
            raise InputFormatError("step must be 15, 30 or 60 minutes")
        if not all(math.isfinite(v) for v in values) or len(values) > MAX_POINTS:
            raise InputFormatError("values must be finite and not too many")
        return cls(start, step, values)


def _parse_time(value: object) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        moment = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
    else:
        msg = f"not a time: {value!r}"
        raise InputFormatError(msg)
    if moment.tzinfo is None:
        msg = f"time without zone: {value!r}"
        raise InputFormatError(msg)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        msg = f"time out of range: {value!r}"
        raise InputFormatError(msg) from None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _points(
    items: object, time_keys: Sequence[str], value_keys: Sequence[str]
) -> list[tuple[datetime, float]]:
    if not isinstance(items, list):
        return []
    points: list[tuple[datetime, float]] = []
    for item in items[: MAX_POINTS * 2]:
        if not isinstance(item, Mapping):
            continue
        when = next((item[k] for k in time_keys if item.get(k) is not None), None)
        value = next(
            (_number(item[k]) for k in value_keys if item.get(k) is not None), None
        )
        if when is None or value is None:
            continue
        try:
            points.append((_parse_time(when), value))
        except InputFormatError, ValueError:
            continue
    return points


def _series(points: list[tuple[datetime, float]]) -> Series:
    """Turn (start, value) points into a regular series (gaps end it)."""
    points = sorted(dict(points).items())
    if not points:
        raise InputFormatError("no usable points")
    if len(points) == 1:
        step = timedelta(hours=1)
    else:
        step = min(b[0] - a[0] for a, b in pairwise(points))
    if step not in STEPS:
        msg = f"steps of {step} are not 15, 30 or 60 minutes"
        raise InputFormatError(msg)
    start = points[0][0]
    values: list[float] = []
    expected = start
    for when, value in points:
        if when != expected:
            if when < expected:
                continue
            # An hourly point amid 15-minute ones, or a gap: stop at the gap.
            break
        values.append(value)
        try:
            expected = when + step
        except OverflowError:
            msg = f"a time near the end of the calendar: {when.isoformat()}"
            raise InputFormatError(msg) from None
    return Series(start, step, tuple(values[:MAX_POINTS]))


def _unit_factor(unit: object) -> float:
    text = str(unit or "").replace(" ", "").lower()
    if "mwh" in text:
        return 0.001
    if text.startswith(("c/", "ct/", "cent")):
        return 0.01
    return 1.0


def parse_price_attributes(attributes: Mapping[str, Any]) -> Series:
    """Read day-ahead prices (EUR/kWh) from a price entity's attributes.

    Whatever the attributes hold, the only error is InputFormatError.
    """
    try:
        return _parse_prices(attributes)
    except InputFormatError:
        raise
    except (ValueError, TypeError, OverflowError, AttributeError) as err:
        msg = f"unreadable prices: {err}"
        raise InputFormatError(msg) from None


def _parse_prices(attributes: Mapping[str, Any]) -> Series:
    factor = _unit_factor(attributes.get("unit_of_measurement"))
    points: list[tuple[datetime, float]] = []
    for key in ("raw_today", "raw_tomorrow"):  # Nord Pool
        points += _points(attributes.get(key), ("start",), ("value",))
    for key in ("prices_today", "prices_tomorrow"):  # ENTSO-E
        points += _points(attributes.get(key), ("time",), ("price",))
    prices = attributes.get("prices")
    if isinstance(prices, Mapping):  # Tibber: one list per home
        prices = next(iter(prices.values()), None)
    points += _points(
        prices,
        ("start_time", "timestamp", "time", "start", "from"),
        ("price", "total", "value"),
    )
    if not points:
        raise InputFormatError(
            "no price list found (raw_today, prices_today or prices)"
        )
    points = [
        (when, value * factor)
        for when, value in points
        if abs(value * factor) <= PRICE_BOUND_EUR_PER_KWH
    ]
    return _series(points)


def parse_pv_attributes(attributes: Mapping[str, Any]) -> Series:
    """Read a PV forecast (kW) from a forecast entity's attributes.

    Whatever the attributes hold, the only error is InputFormatError.
    """
    try:
        return _parse_pv(attributes)
    except InputFormatError:
        raise
    except (ValueError, TypeError, OverflowError, AttributeError) as err:
        msg = f"unreadable forecast: {err}"
        raise InputFormatError(msg) from None


def _parse_pv(attributes: Mapping[str, Any]) -> Series:
    points = _points(
        attributes.get("detailedForecast"),
        ("period_start",),
        ("pv_estimate",),
    )
    if not points:
        points = _points(attributes.get("forecast"), ("start", "datetime"), ("kw",))
    for key, scale in (("wh_hours", 0.001), ("watts", 0.001)):
        mapping = attributes.get(key)
        if points or not isinstance(mapping, Mapping):
            continue
        for when, value in list(mapping.items())[: MAX_POINTS * 4]:
            number = _number(value)
            if number is None:
                continue
            try:
                points.append((_parse_time(when), number * scale))
            except InputFormatError, ValueError:
                continue
        if points:
            # Forecast.Solar lists daylight only: a missing hour between two
            # listed ones is a night (no sun), not the end of the forecast.
            points = _night_filled(points)
    if not points:
        raise InputFormatError("no forecast found (detailedForecast or wh_hours)")
    points = [(when, max(0.0, min(value, 1_000.0))) for when, value in points]
    return _series(points)


def _night_filled(points: list[tuple[datetime, float]]) -> list[tuple[datetime, float]]:
    """Fill the steps missing between a mapping's points with zero."""
    times = sorted({when for when, _ in points})
    if len(times) < 2:  # noqa: PLR2004
        return points
    step = min(b - a for a, b in pairwise(times))
    if step not in STEPS:
        return points  # _series says what is wrong
    listed = set(times)
    filled = list(points)
    when = times[0]
    try:
        while when < times[-1] and len(filled) < MAX_POINTS * 4:
            when += step
            if when not in listed:
                filled.append((when, 0.0))
    except OverflowError:
        pass  # near the end of the calendar: _series says so
    return filled


OUTDOOR_BOUND_C: Final = 60.0
"""A forecast outside +-60 degC is no outdoor temperature: the point is dropped."""


def parse_temperature_forecast(items: object, unit: object = "°C") -> Series:
    """Read an hourly (or finer) outdoor temperature forecast, in degC.

    ``items`` is a weather entity's forecast list (``weather.get_forecasts``:
    ``datetime`` and ``temperature``); ``unit`` its ``temperature_unit``
    (degC, degF or K). Whatever they hold, the only error is InputFormatError.
    """
    text = str(unit or "°C").strip().upper().replace("°", "")
    if text not in {"C", "F", "K"}:
        msg = f"unknown temperature unit {unit!r}"
        raise InputFormatError(msg)
    points: list[tuple[datetime, float]] = []
    for when, value in _points(items, ("datetime",), ("temperature",)):
        celsius = (
            (value - 32.0) * 5.0 / 9.0
            if text == "F"
            else value - 273.15
            if text == "K"
            else value
        )
        if -OUTDOOR_BOUND_C <= celsius <= OUTDOOR_BOUND_C:
            points.append((when, round(celsius, 2)))
    if not points:
        raise InputFormatError("no forecast points with a time and a temperature")
    return _series(points)
