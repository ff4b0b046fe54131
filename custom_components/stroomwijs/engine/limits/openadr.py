"""OpenADR 3 VEN for the Dutch Grid Aware Charging (GAC) profile.

The DSO runs a VTN; Stroomwijs is a VEN that reads programs and events over
the OpenADR 3 REST API with OAuth2 client credentials. GAC events carry one
``IMPORT_CAPACITY_LIMIT`` payload in ``KW`` per interval, target the
connection by its EAN (``POWER_SERVICE_LOCATION``), and every program has a
safe-mode event: the limit to apply when the VEN loses the VTN.

The VEN polls (the poll doubles as heartbeat) and, where the VTN offers
subscriptions, also takes webhook notifications for immediate updates. When
the VTN stays silent for longer than the timeout, the program's safe-mode
limit (or the configured failsafe) applies, held for at least two hours.

The entity models here are our own typed dataclasses, parsed leniently from
both the 3.0.1 and the 3.1 JSON shapes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
import logging
import re
import secrets
import time
from typing import Any, Literal, cast

import aiohttp
from aiohttp import web

from custom_components.stroomwijs.engine.numbers import parse_number

from .base import (
    DEFAULT_FAILSAFE_IMPORT_W,
    DEFAULT_FAILSAFE_MIN_HOLD,
    Limit,
    SignalWatchdog,
    require_aware,
    utc_now,
)

_LOGGER = logging.getLogger(__name__)

IMPORT_CAPACITY_LIMIT = "IMPORT_CAPACITY_LIMIT"
EXPORT_CAPACITY_LIMIT = "EXPORT_CAPACITY_LIMIT"
EAN_TARGET_TYPES = frozenset({"POWER_SERVICE_LOCATION", "EAN", "EAN18"})
_UNIT_FACTORS = {"KW": 1000.0, "W": 1.0, "MW": 1_000_000.0}
_DURATION = re.compile(
    r"^(?P<sign>-)?P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?"
    r"(?:(?P<days>\d+)D)?(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?"
    r"(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
INFINITE_YEARS = 9999
"""OpenADR writes an open-ended duration as ``P9999Y``."""
SAFE_MODE_NAME = re.compile(r"safe[\s_-]?mode", re.IGNORECASE)
HTTP_UNAUTHORIZED = 401
MAX_OBJECTS = 5000
"""Programs or events one poll reads at most (a VTN paging forever is broken)."""
HTTP_NOT_SUPPORTED = frozenset({404, 405, 501})


class OpenAdrError(Exception):
    """Talking to the VTN failed."""


class OpenAdrAuthError(OpenAdrError):
    """The VTN or its token endpoint rejected our credentials."""


class OpenAdrFormatError(OpenAdrError, ValueError):
    """The VTN sent an object that does not have the OpenADR 3 shape."""


def parse_duration(text: str) -> timedelta | None:
    """Parse an ISO 8601 duration; None for OpenADR's infinite ``P9999Y``."""
    match = _DURATION.match(text.strip())
    if match is None or text.strip() in {"P", "PT"}:
        msg = f"not an ISO 8601 duration: {text!r}"
        raise OpenAdrFormatError(msg)
    years = int(match["years"] or 0)
    months = int(match["months"] or 0)
    if years >= INFINITE_YEARS:
        return None
    if years or months:
        msg = f"durations in years or months are not supported: {text!r}"
        raise OpenAdrFormatError(msg)
    try:
        value = timedelta(
            weeks=int(match["weeks"] or 0),
            days=int(match["days"] or 0),
            hours=float(match["hours"] or 0),
            minutes=float(match["minutes"] or 0),
            seconds=float(match["seconds"] or 0),
        )
    except OverflowError:
        msg = f"duration out of range: {text!r}"
        raise OpenAdrFormatError(msg) from None
    return -value if match["sign"] else value


def _limit_value(raw: object) -> float | None:
    """Return a payload value as a finite, non-negative float (None: unreadable)."""
    value = parse_number(raw)
    return value if value is not None and value >= 0 else None


def _parse_time(text: object, what: str) -> datetime:
    if not isinstance(text, str):
        msg = f"{what} must be an ISO 8601 string, got {text!r}"
        raise OpenAdrFormatError(msg)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        msg = f"{what} is not an ISO 8601 time: {text!r}"
        raise OpenAdrFormatError(msg) from None
    if value.tzinfo is None:
        msg = f"{what} has no time zone: {text!r}"
        raise OpenAdrFormatError(msg)
    return value


def _mapping(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        msg = f"{what} must be a JSON object, got {type(value).__name__}"
        raise OpenAdrFormatError(msg)
    return cast("Mapping[str, Any]", value)


def _list(value: object, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        msg = f"{what} must be a JSON array, got {type(value).__name__}"
        raise OpenAdrFormatError(msg)
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class IntervalPeriod:
    """Start and duration of an event or interval (None: open-ended)."""

    start: datetime | None
    duration: timedelta | None
    randomize_start: timedelta | None = None

    @classmethod
    def from_json(cls, data: object) -> IntervalPeriod:
        """Parse an ``intervalPeriod`` object."""
        obj = _mapping(data, "intervalPeriod")
        start = obj.get("start")
        duration = obj.get("duration")
        randomize = obj.get("randomizeStart")
        return cls(
            start=None if start is None else _parse_time(start, "intervalPeriod.start"),
            duration=None if duration is None else parse_duration(str(duration)),
            randomize_start=None
            if randomize is None
            else parse_duration(str(randomize)),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """One target: a type (None in the 3.1 list-of-strings form) and values."""

    type: str | None
    values: tuple[str, ...]


def _parse_targets(data: object) -> tuple[Target, ...]:
    targets: list[Target] = []
    plain: list[str] = []
    for item in _list(data, "targets"):
        if isinstance(item, str):
            plain.append(item)
            continue
        obj = _mapping(item, "target")
        values = tuple(str(value) for value in _list(obj.get("values"), "values"))
        targets.append(Target(type=str(obj.get("type", "")) or None, values=values))
    if plain:
        targets.append(Target(type=None, values=tuple(plain)))
    return tuple(targets)


@dataclass(frozen=True, slots=True, kw_only=True)
class PayloadDescriptor:
    """What a payload type means: its units."""

    payload_type: str
    units: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ValuesMap:
    """A typed list of payload values."""

    type: str
    values: tuple[Any, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class EventInterval:
    """One interval of an event with its payloads."""

    id: int
    interval_period: IntervalPeriod | None
    payloads: tuple[ValuesMap, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Program:
    """An OpenADR 3 program (the fields GAC uses)."""

    id: str
    program_name: str
    retailer_name: str | None = None
    program_type: str | None = None
    binding_events: bool = False
    targets: tuple[Target, ...] = ()
    binding_events_given: bool = False
    """Whether the VTN stated ``bindingEvents`` at all."""
    openadr_version: str = "3.0.1"
    """The JSON shape it came in: "3.0.1" (fields) or "3.1" (attributes)."""

    @classmethod
    def from_json(cls, data: object) -> Program:
        """Parse a program object (3.0.1 fields or 3.1 attributes)."""
        obj = _mapping(data, "program")
        attributes: dict[str, Any] = {}
        for attr in _list(obj.get("attributes"), "attributes"):
            attr_obj = _mapping(attr, "attribute")
            values = _list(attr_obj.get("values"), "values")
            if values:
                attributes[str(attr_obj.get("type"))] = values[0]
        program_id = obj.get("id")
        name = obj.get("programName")
        if not isinstance(program_id, str) or not isinstance(name, str):
            raise OpenAdrFormatError("a program needs a string id and programName")
        binding = obj.get("bindingEvents", attributes.get("BINDING_EVENTS"))
        retailer = obj.get("retailerName", attributes.get("RETAILER_NAME"))
        program_type = obj.get("programType", attributes.get("PROGRAM_TYPE"))
        return cls(
            id=program_id,
            program_name=name,
            retailer_name=None if retailer is None else str(retailer),
            program_type=None if program_type is None else str(program_type),
            binding_events=bool(binding),
            targets=_parse_targets(obj.get("targets")),
            binding_events_given=binding is not None,
            openadr_version="3.1" if "attributes" in obj else "3.0.1",
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CapacityInterval:
    """One interval of a capacity event, resolved to absolute times."""

    start: datetime
    end: datetime | None
    import_w: float | None
    export_w: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """An OpenADR 3 event (the fields GAC uses)."""

    id: str
    program_id: str
    event_name: str | None
    priority: int | None
    targets: tuple[Target, ...]
    payload_descriptors: tuple[PayloadDescriptor, ...]
    interval_period: IntervalPeriod | None
    intervals: tuple[EventInterval, ...]
    modification_date_time: datetime | None = None
    interval_ids: tuple[int, ...] = ()
    """Interval ids in the order the VTN sent them (``intervals`` is sorted)."""

    @classmethod
    def from_json(cls, data: object) -> Event:
        """Parse an event object; OpenAdrFormatError if it has the wrong shape."""
        try:
            return cls._from_json(data)
        except (KeyError, TypeError) as err:
            msg = f"malformed event: {err!r}"
            raise OpenAdrFormatError(msg) from err

    @classmethod
    def _from_json(cls, data: object) -> Event:
        obj = _mapping(data, "event")
        event_id = obj.get("id")
        program_id = obj.get("programID")
        if not isinstance(event_id, str) or not isinstance(program_id, str):
            raise OpenAdrFormatError("an event needs a string id and programID")
        descriptors = tuple(
            PayloadDescriptor(
                payload_type=str(_mapping(item, "payloadDescriptor")["payloadType"]),
                units=_mapping(item, "payloadDescriptor").get("units"),
            )
            for item in _list(obj.get("payloadDescriptors"), "payloadDescriptors")
        )
        intervals: list[EventInterval] = []
        for item in _list(obj.get("intervals"), "intervals"):
            interval = _mapping(item, "interval")
            period = interval.get("intervalPeriod")
            payloads = tuple(
                ValuesMap(
                    type=str(_mapping(p, "payload")["type"]),
                    values=tuple(_list(_mapping(p, "payload").get("values"), "values")),
                )
                for p in _list(interval.get("payloads"), "payloads")
            )
            raw_id = interval.get("id")
            if not isinstance(raw_id, int):
                raise OpenAdrFormatError("an interval needs an integer id")
            intervals.append(
                EventInterval(
                    id=raw_id,
                    interval_period=None
                    if period is None
                    else IntervalPeriod.from_json(period),
                    payloads=payloads,
                )
            )
        period = obj.get("intervalPeriod")
        modified = obj.get("modificationDateTime")
        priority = obj.get("priority")
        return cls(
            id=event_id,
            program_id=program_id,
            event_name=obj.get("eventName"),
            priority=priority if isinstance(priority, int) else None,
            targets=_parse_targets(obj.get("targets")),
            payload_descriptors=descriptors,
            interval_period=None
            if period is None
            else IntervalPeriod.from_json(period),
            intervals=tuple(sorted(intervals, key=lambda i: i.id)),
            interval_ids=tuple(interval.id for interval in intervals),
            modification_date_time=None
            if modified is None
            else _parse_time(modified, "modificationDateTime"),
        )

    @property
    def is_safe_mode(self) -> bool:
        """Whether this is the program's safe-mode event."""
        return bool(self.event_name and SAFE_MODE_NAME.search(self.event_name))

    def targets_ean(self, ean: str) -> bool:
        """Whether the event applies to the connection with this EAN."""
        relevant = [
            t for t in self.targets if t.type is None or t.type in EAN_TARGET_TYPES
        ]
        if not relevant:
            # Untargeted (or only VEN_NAME-targeted) events apply to this VEN.
            return True
        return any(ean in target.values for target in relevant)

    def unit_factor(self, payload_type: str) -> float:
        """Return the factor from the payload's units to W."""
        for descriptor in self.payload_descriptors:
            if descriptor.payload_type == payload_type:
                units = (descriptor.units or "KW").upper()
                if units not in _UNIT_FACTORS:
                    msg = f"unsupported units {descriptor.units!r} for {payload_type}"
                    raise OpenAdrFormatError(msg)
                return _UNIT_FACTORS[units]
        return _UNIT_FACTORS["KW"]

    def capacity_intervals(self) -> list[CapacityInterval]:
        """Return the import/export limits per interval, in W, absolute time."""
        result: list[CapacityInterval] = []
        cursor: datetime | None = None
        for position, interval in enumerate(self.intervals):
            period = interval.interval_period or self.interval_period
            if period is None or period.start is None:
                if cursor is None:
                    msg = f"event {self.id}: interval {interval.id} has no start"
                    raise OpenAdrFormatError(msg)
                start = cursor
            elif interval.interval_period is None and self.interval_period is not None:
                step = self.interval_period.duration or timedelta(0)
                assert self.interval_period.start is not None  # noqa: S101
                start = self.interval_period.start + position * step
            else:
                start = period.start
            duration = None if period is None else period.duration
            try:
                end = None if duration is None else start + duration
            except OverflowError:
                msg = f"event {self.id}: interval {interval.id} ends past year 9999"
                raise OpenAdrFormatError(msg) from None
            values: dict[str, float | None] = {
                IMPORT_CAPACITY_LIMIT: None,
                EXPORT_CAPACITY_LIMIT: None,
            }
            for payload in interval.payloads:
                if payload.type in values and payload.values:
                    raw = payload.values[0]
                    value = _limit_value(raw)
                    if value is None:
                        shown = f"{raw!r}"[:40]
                        negative = isinstance(raw, int | float) and raw < 0
                        what = "negative " if negative else ""
                        msg = f"event {self.id}: {what}{payload.type} value {shown}"
                        raise OpenAdrFormatError(msg)
                    values[payload.type] = value * self.unit_factor(payload.type)
            result.append(
                CapacityInterval(
                    start=start,
                    end=end,
                    import_w=values[IMPORT_CAPACITY_LIMIT],
                    export_w=values[EXPORT_CAPACITY_LIMIT],
                )
            )
            cursor = end
        return result


_EAN18 = re.compile(r"\d{18}")
_SEMVER_PROGRAM_TYPE = re.compile(
    r"DSO_CPO_INTERFACE-(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
    r"(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))"
    r"?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
"""GAC 2.0: a semantic version, without leading zeros (as ElaadNL checks it)."""

type GacVersion = Literal["2.0", "2.1", "2.2"]
GAC_VERSIONS: tuple[GacVersion, ...] = ("2.0", "2.1", "2.2")
GAC_PROGRAM_TYPES: Mapping[GacVersion, str] = {
    "2.1": "DSO_CPO_INTERFACE-2.1.1",
    "2.2": "DSO_CPO_INTERFACE-2.2.0",
}
"""GAC 2.1 and 2.2 (OpenADR 3.1) require exactly this program type."""
VEN_NAME_MAX = 128
RETAILER_NAME_RANGE = (2, 128)

# The departures are reported in ElaadNL's words (openadr3-client-gac-compliance),
# so a DSO and an installer read the same message in both tools.
_PSL = "POWER_SERVICE_LOCATION"
_VEN_NAME = "VEN_NAME"


def gac_version_of(program: Program) -> GacVersion | None:
    """Which GAC version a program follows, as far as it says.

    An OpenADR 3.0.1 program is GAC 2.0; a 3.1 program is 2.1 or 2.2 by its
    exact program type, and None when that names neither.
    """
    if program.openadr_version == "3.0.1":
        return "2.0"
    for version, program_type in GAC_PROGRAM_TYPES.items():
        if program.program_type == program_type:
            return version
    return None


def program_gac_violations(
    program: Program, gac_version: GacVersion | None = None
) -> list[str]:
    """List where a program departs from the GAC profile (empty: compliant).

    ``gac_version`` None takes the version the program's shape and type
    name (``gac_version_of``); a 3.1 program whose type names neither 2.1
    nor 2.2 is held to both.
    """
    version = gac_version or gac_version_of(program)
    if version == "2.0":
        return _program_violations_20(program)
    problems: list[str] = []
    low, high = RETAILER_NAME_RANGE
    if program.retailer_name is None:
        problems.append("The program must have a RETAILER_NAME attribute.")
    elif not low <= len(program.retailer_name) <= high:
        problems.append(
            "The RETAILER_NAME attribute must be between 2 and 128 characters long."
        )
    if program.program_type is None:
        problems.append("The program must have a PROGRAM_TYPE attribute.")
    else:
        allowed = (
            [GAC_PROGRAM_TYPES[version]]
            if version is not None
            else list(GAC_PROGRAM_TYPES.values())
        )
        if program.program_type not in allowed:
            problems.append(
                f"The PROGRAM_TYPE attribute must equal {' or '.join(allowed)}."
            )
    if not program.binding_events:
        problems.append("The BINDING_EVENTS attribute must be set to true.")
    return problems


def _program_violations_20(program: Program) -> list[str]:
    problems: list[str] = []
    low, high = RETAILER_NAME_RANGE
    if program.retailer_name is None:
        problems.append("The program must have a retailer name.")
    elif not low <= len(program.retailer_name) <= high:
        problems.append("The retailer name must be between 2 and 128 characters long.")
    if program.program_type is None:
        problems.append("The program must have a program type.")
    elif not _SEMVER_PROGRAM_TYPE.fullmatch(program.program_type):
        problems.append(
            "The program type must follow the format DSO_CPO_INTERFACE-x.x.x."
        )
    if program.binding_events_given and not program.binding_events:
        problems.append("The program must have bindingEvents set to true.")
    return problems


def _descriptor_violations(event: Event) -> list[str]:
    descriptors = event.payload_descriptors
    if not descriptors:
        return ["The event must have a payload descriptor."]
    problems: list[str] = []
    if len(descriptors) != 1:
        problems.append("The event must have exactly one payload descriptor.")
    if descriptors[0].payload_type != IMPORT_CAPACITY_LIMIT:
        problems.append(
            "The payload descriptor must have a payload type of "
            "'IMPORT_CAPACITY_LIMIT'."
        )
    if descriptors[0].units != "KW":
        problems.append(
            "The payload descriptor must have a units of 'KW' (case sensitive)."
        )
    return problems


def _interval_violations(event: Event) -> list[str]:
    problems: list[str] = []
    top = event.interval_period is not None
    if any((i.interval_period is not None) == top for i in event.intervals):
        problems.append(
            "'interval_period' must either be set on the event-level, "
            "or for each interval."
        )
    if not event.intervals:
        problems.append("The event must have at least one interval.")
        return problems
    ids = event.interval_ids or tuple(i.id for i in event.intervals)
    if any(b <= a for a, b in pairwise(ids)):
        problems.append(
            "The event interval must have an id value that is strictly increasing."
        )
    # Every interval is checked (ElaadNL's 2.1/2.2 plugin checks the last one).
    for interval in event.intervals:
        payloads = interval.payloads
        if not payloads:
            problems.append("The event interval must have a payload.")
        elif len(payloads) != 1:
            problems.append("The event interval must have exactly one payload.")
        elif payloads[0].type != IMPORT_CAPACITY_LIMIT:
            problems.append(
                "The event interval payload must have a payload type of "
                "'IMPORT_CAPACITY_LIMIT'."
            )
        elif len(payloads[0].values) != 1:
            problems.append(
                "The event interval payload must have exactly one value per payload."
            )
    return list(dict.fromkeys(problems))


def _target_violations_20(event: Event) -> list[str]:
    """GAC 2.0 (OpenADR 3.0.1): one location target, one VEN name target."""
    problems: list[str] = []
    locations = [t for t in event.targets if t.type == _PSL]
    ven_names = [t for t in event.targets if t.type == _VEN_NAME]
    if not locations:
        problems.append("The event must contain a POWER_SERVICE_LOCATION target.")
    if not ven_names:
        problems.append("The event must contain a VEN_NAME target.")
    if len(locations) > 1:
        problems.append(
            "The event must contain exactly one POWER_SERVICE_LOCATION target."
        )
    if len(ven_names) > 1:
        problems.append("The event must contain exactly one VEN_NAME target.")
    if len(locations) == 1 and len(ven_names) == 1:
        location, ven_name = locations[0], ven_names[0]
        if not location.values:
            problems.append("The POWER_SERVICE_LOCATION target value may not be empty.")
        if not all(_EAN18.fullmatch(value) for value in location.values):
            problems.append(
                "The POWER_SERVICE_LOCATION target value must be a list of "
                "'EAN18' values."
            )
        if not ven_name.values:
            problems.append("The VEN_NAME target value may not be empty.")
        if not all(1 <= len(value) <= VEN_NAME_MAX for value in ven_name.values):
            problems.append(
                "The VEN_NAME target value must be a list of 'VEN name' values "
                "(between 1 and 128 characters)."
            )
    return problems


def _target_violations_21(event: Event) -> list[str]:
    """GAC 2.1 and 2.2 (OpenADR 3.1): targets are plain EAN18 strings."""
    plain = all(t.type is None for t in event.targets)
    values = [value for t in event.targets for value in t.values]
    if not plain or not all(_EAN18.fullmatch(value) for value in values):
        return ["The targets value must be a list of 'EAN18' values."]
    return []


def event_gac_violations(
    event: Event, gac_version: GacVersion | None = None
) -> list[str]:
    """List where an event departs from the GAC profile (empty: compliant).

    ``gac_version`` None takes the version from the shape of the targets:
    typed targets (OpenADR 3.0.1) are GAC 2.0, plain strings (3.1) are 2.1
    and 2.2 (whose event rules are the same); no targets at all count as 2.0.
    """
    problems: list[str] = []
    if event.priority is not None:
        problems.append("The event must not have a priority set for GAC 2.0 compliance")
    problems += _interval_violations(event)
    if gac_version is None:
        typed = any(t.type is not None for t in event.targets)
        gac_version = "2.0" if typed or not event.targets else "2.1"
    if gac_version == "2.0":
        problems += _target_violations_20(event)
    else:
        problems += _target_violations_21(event)
    problems += _descriptor_violations(event)
    return problems


class OpenAdrClient:
    """Asynchronous OpenADR 3 REST client on an injected aiohttp session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        client_id: str,
        client_secret: str,
        token_url: str | None = None,
        scope: str | None = None,
        request_timeout: float = 10.0,
    ) -> None:
        """Talk to the VTN at ``base_url`` (e.g. ``https://vtn.example/openadr3``)."""
        self._session = session
        self._base = base_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._token_url = token_url or f"{self._base}/auth/token"
        self._scope = scope
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        self._token: str | None = None
        self._token_expires = 0.0

    @property
    def base_url(self) -> str:
        """The VTN's base URL."""
        return self._base

    async def async_token(self) -> str:
        """Return a valid access token, fetched with client credentials if needed."""
        if self._token is not None and time.monotonic() < self._token_expires:
            return self._token
        form = {"grant_type": "client_credentials"}
        if self._scope:
            form["scope"] = self._scope
        auth = aiohttp.encode_basic_auth(self._client_id, self._client_secret)
        try:
            async with self._session.post(
                self._token_url,
                data=form,
                headers={"Authorization": auth},
                timeout=self._timeout,
            ) as response:
                if response.status in {400, 401, 403}:
                    msg = f"token endpoint refused the credentials ({response.status})"
                    raise OpenAdrAuthError(msg)
                response.raise_for_status()
                body = _mapping(await response.json(), "token response")
        except (aiohttp.ClientError, TimeoutError) as err:
            msg = f"cannot reach the token endpoint: {err}"
            raise OpenAdrError(msg) from err
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise OpenAdrAuthError("the token response has no access_token")
        expires_in = body.get("expires_in", 3600)
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else 3600
        self._token = token
        self._token_expires = time.monotonic() + max(lifetime - 30.0, 1.0)
        return token

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: object = None,
        retry_auth: bool = True,
    ) -> tuple[int, object]:
        token = await self.async_token()
        try:
            async with self._session.request(
                method,
                f"{self._base}{path}",
                params=params,
                json=json,
                headers={"Authorization": f"Bearer {token}"},
                timeout=self._timeout,
            ) as response:
                if response.status == HTTP_UNAUTHORIZED and retry_auth:
                    self._token = None
                    return await self._request(
                        method, path, params=params, json=json, retry_auth=False
                    )
                if response.status == HTTP_UNAUTHORIZED:
                    raise OpenAdrAuthError("the VTN rejected our access token")
                if response.status in HTTP_NOT_SUPPORTED or response.status == 204:  # noqa: PLR2004
                    return response.status, None
                response.raise_for_status()
                try:
                    return response.status, await response.json()
                except (ValueError, RecursionError) as err:
                    msg = f"{method} {path}: unreadable JSON ({type(err).__name__})"
                    raise OpenAdrFormatError(msg) from err
        except (aiohttp.ClientError, TimeoutError) as err:
            msg = f"{method} {path} failed: {err}"
            raise OpenAdrError(msg) from err

    async def _get_all(self, path: str, params: Mapping[str, str]) -> list[Any]:
        page = 50
        items: list[Any] = []
        skip = 0
        while True:
            status, body = await self._request(
                "GET", path, params={**params, "skip": str(skip), "limit": str(page)}
            )
            if status in HTTP_NOT_SUPPORTED:
                msg = f"GET {path} is not offered by the VTN ({status})"
                raise OpenAdrError(msg)
            batch = _list(body, path)
            items.extend(batch)
            if len(batch) < page:
                return items
            skip += page
            if skip >= MAX_OBJECTS:
                msg = f"GET {path}: more than {MAX_OBJECTS} objects; refusing more"
                raise OpenAdrFormatError(msg)

    async def async_get_programs(self) -> list[Program]:
        """All programs visible to this VEN."""
        return [
            Program.from_json(item) for item in await self._get_all("/programs", {})
        ]

    async def async_get_events(
        self, *, program_id: str | None = None, ean: str | None = None
    ) -> list[Event]:
        """Events, optionally filtered by program and EAN target."""
        params: dict[str, str] = {}
        if program_id is not None:
            params["programID"] = program_id
        if ean is not None:
            params["targetType"] = "POWER_SERVICE_LOCATION"
            params["targetValues"] = ean
        return [
            Event.from_json(item) for item in await self._get_all("/events", params)
        ]

    async def async_subscribe(
        self,
        *,
        client_name: str,
        program_id: str,
        callback_url: str,
        bearer_token: str,
    ) -> str | None:
        """Subscribe to event changes; None when the VTN offers no subscriptions."""
        body = {
            "clientName": client_name,
            "programID": program_id,
            "objectOperations": [
                {
                    "objects": ["EVENT", "PROGRAM"],
                    "operations": ["POST", "PUT", "DELETE"],
                    "callbackUrl": callback_url,
                    "bearerToken": bearer_token,
                }
            ],
        }
        status, reply = await self._request("POST", "/subscriptions", json=body)
        if status in HTTP_NOT_SUPPORTED:
            return None
        sub_id = _mapping(reply, "subscription").get("id")
        return str(sub_id) if sub_id is not None else None

    async def async_delete_subscription(self, subscription_id: str) -> None:
        """Remove a subscription (ignored if the VTN no longer knows it)."""
        await self._request("DELETE", f"/subscriptions/{subscription_id}")


@dataclass(slots=True)
class VenStatus:
    """What the VEN knows and how healthy its feed is."""

    programs: dict[str, Program] = field(default_factory=dict)
    events: dict[str, Event] = field(default_factory=dict)
    last_error: str | None = None
    auth_failed: bool = False
    """The last poll failed because the VTN refused our client credentials."""
    subscriptions: list[str] = field(default_factory=list)
    gac_warnings: dict[str, list[str]] = field(default_factory=dict)
    """Object id -> where it departs from the GAC profile (still applied)."""


type Clock = Callable[[], datetime]


class OpenAdrVen:
    """Limit source that follows the GAC events for one EAN."""

    def __init__(
        self,
        client: OpenAdrClient,
        *,
        ean: str,
        programs: Sequence[str] | None = None,
        failsafe_import_w: float = DEFAULT_FAILSAFE_IMPORT_W,
        timeout: timedelta = timedelta(minutes=15),
        failsafe_min_hold: timedelta = DEFAULT_FAILSAFE_MIN_HOLD,
        poll_interval: timedelta = timedelta(minutes=1),
        clock: Clock = utc_now,
        name: str = "openadr",
        gac_version: GacVersion | None = None,
    ) -> None:
        """Follow ``programs`` (by name; None: all) for the connection ``ean``.

        ``gac_version`` is the GAC version the DSO announced, if known; the
        GAC checks then hold every object to it, else to the version each
        program's shape and type name.
        """
        if not re.fullmatch(r"\d{18}", ean):
            msg = f"an EAN code has 18 digits, got {ean!r}"
            raise ValueError(msg)
        if failsafe_import_w < 0:
            raise ValueError("the failsafe limit cannot be negative")
        if poll_interval <= timedelta(0):
            raise ValueError("the poll interval must be positive")
        self._client = client
        self._ean = ean
        self._program_names = None if programs is None else frozenset(programs)
        self._failsafe_w = failsafe_import_w
        self._poll_interval = poll_interval
        self._clock = clock
        self._name = name
        self.status = VenStatus()
        self.watchdog = SignalWatchdog(
            timeout=timeout, min_hold=failsafe_min_hold, started=require_aware(clock())
        )
        self._listeners: list[Callable[[], None]] = []
        self._webhook_token = secrets.token_urlsafe(24)
        self._gac_version = gac_version
        self._reachable: bool | None = None
        """None until the first poll; then whether the last poll worked."""
        self._remembered: list[Limit] = []
        """The limits of the events known before a restart, held until the
        VTN's first full answer replaces them (``restore_state``)."""
        self._remembered_failsafe_w: float | None = None

    @property
    def name(self) -> str:
        """Label of the source."""
        return self._name

    @property
    def ean(self) -> str:
        """The connection this VEN follows."""
        return self._ean

    @property
    def webhook_token(self) -> str:
        """Bearer token the VTN must present on notifications."""
        return self._webhook_token

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` after every change of programs or events."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _notify(self) -> None:
        for listener in tuple(self._listeners):
            listener()

    def _follows(self, program_id: str) -> bool:
        program = self.status.programs.get(program_id)
        if program is None:
            return self._program_names is None
        return (
            self._program_names is None or program.program_name in self._program_names
        )

    async def async_poll(self) -> bool:
        """Fetch programs and events once; False (and logged) on failure."""
        try:
            programs = await self._client.async_get_programs()
            events: list[Event] = []
            for program in programs:
                if self._program_names is not None and (
                    program.program_name not in self._program_names
                ):
                    continue
                events.extend(
                    await self._client.async_get_events(
                        program_id=program.id, ean=self._ean
                    )
                )
        except OpenAdrError as err:
            self.status.last_error = str(err)
            self.status.auth_failed = isinstance(err, OpenAdrAuthError)
            if self._reachable is not False:
                # Once, when the feed becomes unavailable (HA: info level).
                _LOGGER.info("OpenADR VTN %s is unavailable: %s", self._name, err)
            else:
                _LOGGER.debug("OpenADR poll failed again: %s", err)
            self._reachable = False
            return False
        if self._reachable is False:
            _LOGGER.info("OpenADR VTN %s is available again", self._name)
        self._reachable = True
        self._remembered = []
        self._remembered_failsafe_w = None
        self.status.programs = {program.id: program for program in programs}
        self.status.events = {
            event.id: event for event in events if event.targets_ean(self._ean)
        }
        self._check_gac()
        self.status.last_error = None
        self.status.auth_failed = False
        self.watchdog.heard(self._clock())
        self._notify()
        return True

    def _check_gac(self) -> None:
        """Note (and log once) objects that do not follow the GAC profile."""
        warnings: dict[str, list[str]] = {}
        for program in self.status.programs.values():
            if problems := program_gac_violations(program, self._gac_version):
                warnings[program.id] = problems
        for event in self.status.events.values():
            version = self._gac_version
            owner = self.status.programs.get(event.program_id)
            if version is None and owner is not None:
                version = gac_version_of(owner)
            if problems := event_gac_violations(event, version):
                warnings[event.id] = problems
        for object_id, problems in warnings.items():
            if self.status.gac_warnings.get(object_id) != problems:
                _LOGGER.warning(
                    "OpenADR %s departs from the GAC profile: %s",
                    object_id,
                    "; ".join(problems),
                )
        self.status.gac_warnings = warnings

    async def async_subscribe(self, callback_url: str) -> bool:
        """Ask the VTN for notifications on every followed program."""
        subscribed = False
        for program in self.status.programs.values():
            if not self._follows(program.id):
                continue
            try:
                sub_id = await self._client.async_subscribe(
                    client_name=f"stroomwijs-{self._ean}",
                    program_id=program.id,
                    callback_url=callback_url,
                    bearer_token=self._webhook_token,
                )
            except OpenAdrError as err:
                _LOGGER.info("VTN subscription failed, polling only: %s", err)
                return False
            if sub_id is None:
                return False
            self.status.subscriptions.append(sub_id)
            subscribed = True
        return subscribed

    def handle_notification(self, payload: object) -> bool:
        """Apply one VTN notification; True if it changed anything."""
        obj = _mapping(payload, "notification")
        object_type = str(obj.get("objectType", "")).upper()
        operation = str(obj.get("operation", "")).upper()
        changed = False
        if object_type == "EVENT":
            event = Event.from_json(obj.get("object"))
            if operation == "DELETE" or not event.targets_ean(self._ean):
                changed = self.status.events.pop(event.id, None) is not None
            elif self._follows(event.program_id):
                self.status.events[event.id] = event
                changed = True
        elif object_type == "PROGRAM":
            program = Program.from_json(obj.get("object"))
            if operation == "DELETE":
                changed = self.status.programs.pop(program.id, None) is not None
                for event_id in [
                    e.id
                    for e in self.status.events.values()
                    if e.program_id == program.id
                ]:
                    del self.status.events[event_id]
            else:
                self.status.programs[program.id] = program
                changed = True
        self.watchdog.heard(self._clock())
        if changed:
            self._notify()
        return changed

    async def async_run(self, stop: asyncio.Event | None = None) -> None:
        """Poll forever (or until ``stop`` is set)."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                await self.async_poll()
            except Exception:
                # A bug must not end the polling; the watchdog covers the gap.
                _LOGGER.exception("OpenADR poll crashed")
            try:
                await asyncio.wait_for(
                    stop.wait(), timeout=self._poll_interval.total_seconds()
                )
            except TimeoutError:
                continue

    @property
    def failsafe_import_w(self) -> float:
        """The safe-mode limit of the followed programs, else the configured one."""
        values = [
            value
            for event in self.status.events.values()
            if event.is_safe_mode and self._follows(event.program_id)
            for value in _safe_values_w(event)
        ]
        if values:
            return min(values)
        if self._remembered_failsafe_w is not None:
            return self._remembered_failsafe_w
        return self._failsafe_w

    def export_state(self) -> dict[str, Any]:
        """Return the limits the VTN has set that have not ended, JSON-safe.

        With the program's safe-mode limit when the VTN named one. The host
        saves this so that a restart while the VTN does not answer still
        holds them (``restore_state``).
        """
        now = self._clock()
        limits = [
            limit
            for limit in self._event_limits(now, None)
            if limit.end is None or limit.end > now
        ]
        limits.extend(
            limit for limit in self._remembered if limit.end is None or limit.end > now
        )
        safe = [
            value
            for event in self.status.events.values()
            if event.is_safe_mode and self._follows(event.program_id)
            for value in _safe_values_w(event)
        ]
        failsafe = min(safe) if safe else self._remembered_failsafe_w
        return {
            "version": 1,
            "vtn": self._client.base_url,
            "ean": self._ean,
            "failsafe_import_w": failsafe,
            "limits": [
                {
                    "source": limit.source,
                    "import_w": limit.import_w,
                    "export_w": limit.export_w,
                    "start": None if limit.start is None else limit.start.isoformat(),
                    "end": None if limit.end is None else limit.end.isoformat(),
                    "failsafe": limit.failsafe,
                    "detail": limit.detail,
                }
                for limit in limits
            ],
        }

    def restore_state(self, data: object, now: datetime) -> int:
        """Hold the saved limits until the VTN first answers; return how many.

        What has ended, and every entry that is not what ``export_state``
        writes, is skipped; so is all of it when it was saved for another VTN
        or connection (EAN): a limit source removed or changed must not hand
        its limits or its safe-mode limit to the one in its place. Once a
        poll succeeds, the VTN's own events replace them all.
        """
        if self._reachable is not None or not isinstance(data, Mapping):
            return 0
        if data.get("version") != 1:
            return 0
        if data.get("vtn") != self._client.base_url or data.get("ean") != self._ean:
            _LOGGER.info(
                "%s: the saved limits are another VTN's or connection's; not kept",
                self._name,
            )
            return 0
        failsafe = _limit_value(data.get("failsafe_import_w"))
        if failsafe is not None:
            self._remembered_failsafe_w = failsafe
        items = data.get("limits")
        remembered: list[Limit] = []
        for item in items if isinstance(items, list) else []:
            limit = _remembered_limit(item, self._name)
            if limit is not None and (limit.end is None or limit.end > now):
                remembered.append(limit)
        self._remembered = remembered
        if remembered:
            _LOGGER.info(
                "OpenADR %s: %d limits from before the restart hold until the "
                "VTN answers",
                self._name,
                len(remembered),
            )
        return len(remembered)

    def limits_between(self, start: datetime, end: datetime) -> list[Limit]:
        """Event limits overlapping the range, plus the failsafe when lost."""
        found = self._event_limits(start, end)
        if self._remembered:
            # No full answer since a restart: what the VTN had set before.
            found.extend(
                limit
                for limit in self._remembered
                if limit.overlaps(start, end)
                and not any(
                    limit.source == seen.source
                    and limit.start == seen.start
                    and limit.end == seen.end
                    for seen in found
                )
            )
        # The failsafe is a state of the feed now, not a forecast.
        window = self.watchdog.failsafe_window(self._clock())
        if window is not None:
            found.append(
                Limit(
                    source=f"{self._name}:failsafe",
                    import_w=self.failsafe_import_w,
                    start=window[0],
                    end=window[1],
                    failsafe=True,
                    detail="VTN silent; safe-mode limit applies",
                )
            )
        return found

    def _event_limits(self, start: datetime, end: datetime | None) -> list[Limit]:
        """Return the known events' limits that overlap ``start``..``end``."""
        stop = end if end is not None else datetime.max.replace(tzinfo=UTC)
        found: list[Limit] = []
        for event in self.status.events.values():
            if event.is_safe_mode or not self._follows(event.program_id):
                continue
            try:
                intervals = event.capacity_intervals()
            except OpenAdrFormatError as err:
                # An event we cannot read still says "a limit applies here":
                # hold the safe-mode limit over its span, never nothing.
                self.status.last_error = str(err)
                span_start, span_end = _event_span(event)
                limit = Limit(
                    source=f"{self._name}:{event.event_name or event.id}",
                    import_w=self.failsafe_import_w,
                    start=span_start,
                    end=span_end,
                    failsafe=True,
                    detail=f"event {event.id} unreadable ({err}); safe-mode limit",
                )
                if limit.overlaps(start, stop):
                    found.append(limit)
                continue
            for interval in intervals:
                if interval.import_w is None and interval.export_w is None:
                    continue
                limit = Limit(
                    source=f"{self._name}:{event.event_name or event.id}",
                    import_w=interval.import_w,
                    export_w=interval.export_w,
                    start=interval.start,
                    end=interval.end,
                    detail=f"event {event.id}",
                )
                if limit.overlaps(start, stop):
                    found.append(limit)
        return found

    def problem(self, now: datetime) -> str | None:
        """Report a lost VTN: it needs a repair."""
        if self.watchdog.lost(now):
            heard = self.watchdog.last_heard
            since = "never reached" if heard is None else f"silent since {heard:%c %Z}"
            return f"VTN {since}; failsafe limit {self.failsafe_import_w:.0f} W applies"
        return None


def _saved_watts(value: object) -> float | None:
    """Read saved watts: None, or a finite non-negative number (else ValueError)."""
    if value is None:
        return None
    watts = _limit_value(value)
    if watts is None:
        raise ValueError(value)
    return watts


def _saved_time(value: object) -> datetime | None:
    """Read a saved time: None, or an ISO time with its zone (else ValueError)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(value)  # noqa: TRY004 - the reader's one error type
    return require_aware(datetime.fromisoformat(value), "time")


def _remembered_limit(item: object, name: str) -> Limit | None:
    """Read one saved limit (``OpenAdrVen.export_state``); None if malformed."""
    if not isinstance(item, Mapping):
        return None
    source = item.get("source")
    detail = item.get("detail")
    if not isinstance(source, str) or not source.startswith(f"{name}:"):
        return None
    try:
        limit = Limit(
            source=source,
            import_w=_saved_watts(item.get("import_w")),
            export_w=_saved_watts(item.get("export_w")),
            start=_saved_time(item.get("start")),
            end=_saved_time(item.get("end")),
            failsafe=item.get("failsafe") is True,
            detail=(f"{detail}; " if isinstance(detail, str) and detail else "")
            + "kept from before a restart until the VTN answers",
        )
    except ValueError:
        return None
    if limit.import_w is None and limit.export_w is None:
        return None
    return limit


def _end_of(start: datetime, duration: timedelta | None) -> datetime | None:
    """Return the end of a span; None (open) when it lies past year 9999."""
    if duration is None:
        return None
    try:
        return start + duration
    except OverflowError:
        return None


def _event_span(event: Event) -> tuple[datetime | None, datetime | None]:
    """Return the time an event covers, as far as it can be read (None: open)."""
    starts: list[datetime] = []
    ends: list[datetime | None] = []
    top = event.interval_period
    if top is not None and top.start is not None:
        starts.append(top.start)
        if top.duration is None:
            ends.append(None)
        else:
            count = max(1, len(event.intervals))
            try:
                ends.append(_end_of(top.start, top.duration * count))
            except OverflowError:
                ends.append(None)
    for interval in event.intervals:
        period = interval.interval_period
        if period is not None and period.start is not None:
            starts.append(period.start)
            ends.append(_end_of(period.start, period.duration))
    if not starts:
        return None, None
    end = None if not ends or None in ends else max(e for e in ends if e is not None)
    return min(starts), end


def _safe_values_w(event: Event) -> list[float]:
    """Return the import limits a safe-mode event names (it may lack a start)."""
    factor = event.unit_factor(IMPORT_CAPACITY_LIMIT)
    return [
        value * factor
        for interval in event.intervals
        for payload in interval.payloads
        if payload.type == IMPORT_CAPACITY_LIMIT
        and payload.values
        and (value := _limit_value(payload.values[0])) is not None
    ]


class VenWebhook:
    """Receives VTN notifications on a local HTTP endpoint."""

    def __init__(
        self, ven: OpenAdrVen, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        """Serve ``POST /notifications`` for ``ven`` on ``host:port``."""
        self._ven = ven
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None

    @property
    def url(self) -> str:
        """The callback URL to give the VTN."""
        if self._site is None or self._runner is None:
            raise RuntimeError("the webhook is not started")
        addresses = self._runner.addresses
        port = addresses[0][1] if addresses else self._port
        return f"http://{self._host}:{port}/notifications"

    async def _handle(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self._ven.webhook_token}":
            return web.Response(status=401)
        try:
            payload = await request.json()
            self._ven.handle_notification(payload)
        except (ValueError, KeyError) as err:
            _LOGGER.warning("bad OpenADR notification: %s", err)
            return web.Response(status=400, text=str(err))
        return web.Response(status=200)

    async def async_start(self) -> None:
        """Start listening."""
        app = web.Application()
        app.router.add_post("/notifications", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self._host, self._port)
        await self._site.start()

    async def async_stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner = None
        self._site = None
