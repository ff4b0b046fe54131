"""Reading planner problems from plain JSON data, with clear error messages.

Every error names the path of the offending field, e.g.
``devices[2].capacity_kwh: must be above 0, got -5``, so that a user who
hand-writes a problem file sees at once what to fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
import math
from typing import Any, cast


class ProblemError(ValueError):
    """A planner problem is malformed or inconsistent."""


class Reader:
    """Typed access to one JSON object, remembering where it sits."""

    def __init__(self, data: object, path: str = "problem") -> None:
        """Wrap ``data``, which must be a JSON object."""
        if not isinstance(data, Mapping):
            msg = f"{path}: expected an object, got {_kind(data)}"
            raise ProblemError(msg)
        self._data = cast("Mapping[str, Any]", data)
        self.path = path
        self._used: set[str] = set()

    def has(self, key: str) -> bool:
        """Whether ``key`` is present and not null."""
        return self._data.get(key) is not None

    def _get(self, key: str) -> object:
        self._used.add(key)
        return self._data.get(key)

    def where(self, key: str) -> str:
        """Return the path of ``key`` inside this object."""
        return f"{self.path}.{key}"

    def error(self, key: str, message: str) -> ProblemError:
        """Return an error about ``key``."""
        return ProblemError(f"{self.where(key)}: {message}")

    def number(
        self,
        key: str,
        default: float | None = None,
        *,
        low: float | None = None,
        high: float | None = None,
        above: float | None = None,
    ) -> float:
        """Return a number (required unless ``default`` is given) within bounds."""
        value = self._get(key)
        if value is None:
            if default is None:
                raise self.error(key, "is required")
            return default
        number = _as_number(value, self.where(key))
        _check_bounds(number, self.where(key), low=low, high=high, above=above)
        return number

    def optional_number(
        self, key: str, *, low: float | None = None, high: float | None = None
    ) -> float | None:
        """Return a number or None when absent."""
        if not self.has(key):
            self._used.add(key)
            return None
        return self.number(key, low=low, high=high)

    def integer(
        self, key: str, default: int | None = None, *, low: int, high: int
    ) -> int:
        """Return a whole number within ``low..high``."""
        value = self._get(key)
        if value is None:
            if default is None:
                raise self.error(key, "is required")
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"expected a whole number, got {_kind(value)}")
        if isinstance(value, float) and (not math.isfinite(value) or value % 1):
            raise self.error(key, f"expected a whole number, got {value}")
        number = int(value)
        if not low <= number <= high:
            raise self.error(key, f"must be within {low}..{high}, got {number}")
        return number

    def boolean(self, key: str, *, default: bool) -> bool:
        """Return a true/false flag."""
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {_kind(value)}")
        return value

    def text(
        self, key: str, default: str | None = None, *, choices: Sequence[str] = ()
    ) -> str:
        """Return a string, optionally one of ``choices``."""
        value = self._get(key)
        if value is None:
            if default is None:
                raise self.error(key, "is required")
            return default
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {_kind(value)}")
        if choices and value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)}; got {value!r}")
        return value

    def time(self, key: str) -> datetime:
        """Return an ISO 8601 timestamp with a time zone."""
        value = self.text(key)
        return parse_time(value, self.where(key))

    def optional_time(self, key: str) -> datetime | None:
        """Return an ISO 8601 timestamp or None when absent."""
        if not self.has(key):
            self._used.add(key)
            return None
        return self.time(key)

    def obj(self, key: str) -> Reader:
        """Return a nested object (an empty one when absent)."""
        value = self._get(key)
        return Reader({} if value is None else value, self.where(key))

    def objects(self, key: str) -> list[Reader]:
        """Return a list of objects (empty when absent)."""
        value = self._get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(key, f"expected a list, got {_kind(value)}")
        items = cast("list[object]", value)
        return [Reader(item, f"{self.where(key)}[{i}]") for i, item in enumerate(items)]

    def numbers(self, key: str) -> list[float] | None:
        """Return a list of numbers, or None when absent."""
        value = self._get(key)
        if value is None:
            return None
        if not isinstance(value, list):
            raise self.error(key, f"expected a list of numbers, got {_kind(value)}")
        items = cast("list[object]", value)
        return [_as_number(v, f"{self.where(key)}[{i}]") for i, v in enumerate(items)]

    def series(
        self,
        key: str,
        length: int,
        default: float | None = None,
        *,
        low: float | None = None,
        high: float | None = None,
    ) -> list[float]:
        """Return a per-slot series: a single number for every slot, or a list.

        A list must cover at least ``length`` slots; values past the horizon
        are ignored, as forecasts often reach further than prices.
        """
        value = self._get(key)
        if value is None:
            if default is None:
                raise self.error(key, "is required")
            return [default] * length
        if isinstance(value, int | float) and not isinstance(value, bool):
            values = [float(value)] * length
        else:
            listed = self.numbers(key)
            if listed is None:  # pragma: no cover - handled above
                raise self.error(key, "is required")
            if len(listed) < length:
                raise self.error(
                    key, f"has {len(listed)} values but the horizon has {length} slots"
                )
            values = listed[:length]
        for i, number in enumerate(values):
            _check_bounds(number, f"{self.where(key)}[{i}]", low=low, high=high)
        return values

    def names(self) -> list[str]:
        """Return every key present (marking them all as read)."""
        self._used.update(self._data)
        return list(self._data)

    def raw(self, key: str) -> object:
        """Return the value of ``key`` as it is."""
        return self._get(key)

    def mapping(self, key: str) -> dict[str, object]:
        """Return an object whose keys are names (e.g. device ids)."""
        value = self._get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.error(key, f"expected an object, got {_kind(value)}")
        return {str(k): v for k, v in cast("Mapping[object, object]", value).items()}

    def texts(self, key: str) -> list[str]:
        """Return a list of strings (empty when absent)."""
        value = self._get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(
            isinstance(v, str) for v in cast("list[object]", value)
        ):
            raise self.error(key, "expected a list of strings")
        return cast("list[str]", value)

    def lists(self, key: str) -> list[object]:
        """Return a list of anything (empty when absent)."""
        value = self._get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(key, f"expected a list, got {_kind(value)}")
        return cast("list[object]", value)

    def unknown_keys(self) -> list[str]:
        """Keys present in the data that nothing read (likely typos)."""
        return sorted(set(self._data) - self._used)

    def reject_unknown(self) -> None:
        """Fail on keys that nothing read, so that typos do not pass silently."""
        if unknown := self.unknown_keys():
            msg = f"{self.path}: unknown field(s) {', '.join(unknown)}"
            raise ProblemError(msg)


def parse_time(value: str, where: str) -> datetime:
    """Parse an ISO 8601 timestamp that carries a time zone."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        msg = (
            f"{where}: expected an ISO 8601 time such as "
            f"2025-10-14T22:00:00Z, got {value!r}"
        )
        raise ProblemError(msg) from None
    if moment.tzinfo is None:
        msg = f"{where}: the time {value!r} needs a time zone (e.g. Z)"
        raise ProblemError(msg)
    return moment


def _as_number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = f"{where}: expected a number, got {_kind(value)}"
        raise ProblemError(msg)
    try:
        number = float(value)
    except OverflowError:  # an int beyond a float (json reads it exactly)
        number = math.inf
    if not math.isfinite(number):
        msg = f"{where}: expected a finite number, got {number}"
        raise ProblemError(msg)
    return number


def _check_bounds(
    number: float,
    where: str,
    *,
    low: float | None = None,
    high: float | None = None,
    above: float | None = None,
) -> None:
    if low is not None and number < low:
        msg = f"{where}: must be at least {low:g}, got {number:g}"
        raise ProblemError(msg)
    if high is not None and number > high:
        msg = f"{where}: must be at most {high:g}, got {number:g}"
        raise ProblemError(msg)
    if above is not None and number <= above:
        msg = f"{where}: must be above {above:g}, got {number:g}"
        raise ProblemError(msg)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__
