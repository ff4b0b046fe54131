"""The gateway's WebSocket protocol: versioned JSON messages, each validated.

Every message is one JSON object ``{"v": 1, "id": ..., "type": ..., ...}``.
``v`` is the protocol version of the message, ``id`` (optional, a string or
an integer) is echoed in the reply, ``type`` names the request. A message is
parsed and checked completely before anything acts on it: text that is not
JSON, nested deeper than :data:`MAX_DEPTH`, not an object, of an unknown
type or with a field of the wrong type gets an ``error`` reply (a
:class:`ProtocolError`), never an exception in the server.

The protocol is versioned as a whole: a client says which versions it speaks
in its ``hello``; the gateway answers with the one it picks, or with an
``unsupported_version`` error naming the versions it supports (and closes
with :data:`CLOSE_UNSUPPORTED_VERSION`). See docs/gateway.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
import json
import math
from typing import Any, Final

PROTOCOL_VERSION: Final = 1
SUPPORTED_VERSIONS: Final = (1,)
MAX_MESSAGE_BYTES: Final = 1_048_576
"""The largest message the gateway reads (a config push or two days of prices
fit easily); a larger one closes the connection with 1009."""
MAX_DEPTH: Final = 32
"""Nesting deeper than this is refused before the JSON is parsed."""
MAX_ID_LENGTH: Final = 64

CLOSE_UNSUPPORTED_VERSION: Final = 4002
"""WebSocket close code after a hello with no common protocol version."""
CLOSE_HELLO_TIMEOUT: Final = 4008
"""WebSocket close code when no hello came in time."""


class ProtocolError(Exception):
    """A request the gateway refuses; the reply is ``{"type": "error", ...}``."""

    def __init__(
        self, code: str, message: str, details: Mapping[str, str] | None = None
    ) -> None:
        """Keep a machine-readable ``code``, a message for people and details.

        ``details`` (an ``override_refused``'s reason and its values) go with
        the error reply, so a client can say it in its own language.
        """
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = dict(details) if details else None


@dataclass(frozen=True, slots=True)
class Request:
    """One validated request."""

    type: str
    id: str | int | None
    fields: Mapping[str, Any]


# Field kinds: what a value must be.
NUMBER = "number"
"""A finite int or float (not a bool)."""
TEXT = "text"
BOOL = "bool"
OBJECT = "object"
LIST = "list"
TIME = "time"
"""An ISO 8601 date-time with a zone (read into a ``datetime``)."""
ID = "id"
"""A short text (an id)."""


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a request type."""

    kind: str
    required: bool = False
    nullable: bool = False
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None


REQUESTS: Final[Mapping[str, Mapping[str, Field]]] = {
    "hello": {
        "protocols": Field(LIST, required=True),
        "client": Field(TEXT),
    },
    "ping": {},
    "subscribe": {},
    "unsubscribe": {},
    "get_snapshot": {},
    "get_config": {},
    "set_manual_limit": {
        "import_w": Field(NUMBER, required=True, nullable=True, low=0.0, high=1e6),
        "export_w": Field(NUMBER, nullable=True, low=0.0, high=1e6),
        "duration_min": Field(NUMBER, nullable=True, low=1.0, high=60 * 24 * 7),
        "label": Field(TEXT),
    },
    "clear_manual_limit": {},
    "set_override": {
        "device_id": Field(ID, required=True),
        "action": Field(TEXT, required=True, choices=("boost", "pause", "resume")),
        "setpoint_w": Field(NUMBER, nullable=True, low=-1e5, high=1e5),
    },
    "set_departure": {
        "device_id": Field(ID, required=True),
        "departure": Field(TIME, nullable=True),
        "target_soc": Field(NUMBER, nullable=True, low=0.0, high=1.0),
        "min_soc": Field(NUMBER, nullable=True, low=0.0, high=1.0),
    },
    "set_v2g": {
        "device_id": Field(ID, required=True),
        "allowed": Field(BOOL, required=True),
    },
    "set_device_planned": {
        "device_id": Field(ID, required=True),
        "planned": Field(BOOL, required=True),
    },
    "arm_appliance": {"device_id": Field(ID, required=True)},
    "disarm_appliance": {"device_id": Field(ID, required=True)},
    "run_before": {
        "device_id": Field(ID, required=True),
        "finish_by": Field(TIME, required=True),
    },
    "set_device_override": {
        "device_id": Field(ID, required=True),
        "mode": Field(TEXT, required=True, choices=("auto", "boost", "block")),
        "duration_min": Field(NUMBER, nullable=True, low=1.0, high=24 * 60),
    },
    "set_mode": {
        "mode": Field(
            TEXT,
            required=True,
            choices=("auto", "self_consumption", "cheapest", "off"),
        ),
    },
    "set_enabled": {"enabled": Field(BOOL, required=True)},
    "set_prices": {"prices": Field(OBJECT, required=True, nullable=True)},
    "set_pv_forecast": {"forecast": Field(OBJECT, required=True, nullable=True)},
    "set_outdoor_forecast": {"forecast": Field(OBJECT, required=True, nullable=True)},
    "set_dim_input": {"on": Field(BOOL, required=True)},
    "plan_now": {},
    "push_config": {
        "config": Field(OBJECT, required=True),
        "state": Field(OBJECT, nullable=True),
    },
}
"""Every request type and its fields (other fields are refused)."""


def check_depth(text: str, limit: int = MAX_DEPTH) -> None:
    """Refuse JSON text nested deeper than ``limit``, before it is parsed.

    Counts brackets outside strings, so a hostile message cannot make the
    parser recurse.
    """
    depth = 0
    in_string = False
    escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                msg = f"nested deeper than {limit} levels"
                raise ProtocolError("too_deep", msg)
        elif char in "]}":
            depth -= 1


def _reject_constant(name: str) -> None:
    msg = f"{name} is not a number JSON allows"
    raise ProtocolError("invalid_json", msg)


def parse(text: str) -> Request:
    """Parse and validate one message (ProtocolError if it is refused)."""
    if len(text) > MAX_MESSAGE_BYTES:
        raise ProtocolError("too_large", "the message is too large")
    check_depth(text)
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as err:
        msg = f"not valid JSON: {err.msg} at column {err.colno}"
        raise ProtocolError("invalid_json", msg) from None
    except RecursionError:
        raise ProtocolError("too_deep", "nested too deeply") from None
    return validate(data)


def message_id(data: object) -> str | int | None:
    """Return a message's ``id`` when it is a valid one (for error replies)."""
    if not isinstance(data, Mapping):
        return None
    value = data.get("id")
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and abs(value) < 2**53:
        return value
    if isinstance(value, str) and len(value) <= MAX_ID_LENGTH:
        return value
    return None


def validate(data: object) -> Request:  # noqa: C901
    """Check a parsed message against its type's fields."""
    if not isinstance(data, Mapping):
        raise ProtocolError("invalid_message", "a message must be a JSON object")
    version = data.get("v")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ProtocolError("invalid_message", "v: the protocol version is missing")
    if version not in SUPPORTED_VERSIONS:
        msg = (
            f"protocol version {version} is not supported; this gateway speaks "
            f"{', '.join(str(v) for v in SUPPORTED_VERSIONS)}"
        )
        raise ProtocolError("unsupported_version", msg)
    if "id" in data and data["id"] is not None and message_id(data) is None:
        msg = f"id: must be an integer or a text of at most {MAX_ID_LENGTH} chars"
        raise ProtocolError("invalid_message", msg)
    kind = data.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("invalid_message", "type: missing")
    spec = REQUESTS.get(kind)
    if spec is None:
        raise ProtocolError("unknown_type", f"type: unknown request {kind[:40]!r}")
    fields: dict[str, Any] = {}
    for name, value in data.items():
        if name in {"v", "id", "type"}:
            continue
        if name not in spec:
            msg = f"{name[:40]}: not a field of {kind}"
            raise ProtocolError("invalid_message", msg)
        fields[name] = _check(name, spec[name], value)
    for name, field in spec.items():
        if field.required and name not in fields:
            raise ProtocolError("invalid_message", f"{name}: required")
    return Request(kind, message_id(data), fields)


def _check(name: str, field: Field, value: object) -> Any:  # noqa: ANN401, C901, PLR0911, PLR0912
    if value is None:
        if field.nullable:
            return None
        raise ProtocolError("invalid_message", f"{name}: may not be null")
    if field.kind == NUMBER:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ProtocolError("invalid_message", f"{name}: expected a number")
        number = float(value)
        if not math.isfinite(number):
            raise ProtocolError("invalid_message", f"{name}: must be finite")
        if field.low is not None and number < field.low:
            msg = f"{name}: must be at least {field.low:g}"
            raise ProtocolError("invalid_message", msg)
        if field.high is not None and number > field.high:
            msg = f"{name}: must be at most {field.high:g}"
            raise ProtocolError("invalid_message", msg)
        return number
    if field.kind in {TEXT, ID}:
        limit = MAX_ID_LENGTH if field.kind == ID else 200
        if not isinstance(value, str) or len(value) > limit:
            msg = f"{name}: expected a text of at most {limit} characters"
            raise ProtocolError("invalid_message", msg)
        if field.choices and value not in field.choices:
            msg = f"{name}: must be one of {', '.join(field.choices)}"
            raise ProtocolError("invalid_message", msg)
        return value
    if field.kind == BOOL:
        if not isinstance(value, bool):
            raise ProtocolError("invalid_message", f"{name}: expected true or false")
        return value
    if field.kind == OBJECT:
        if not isinstance(value, Mapping):
            raise ProtocolError("invalid_message", f"{name}: expected an object")
        return value
    if field.kind == LIST:
        if not isinstance(value, list) or len(value) > 16:  # noqa: PLR2004
            raise ProtocolError("invalid_message", f"{name}: expected a short list")
        return value
    if field.kind == TIME:
        if not isinstance(value, str):
            raise ProtocolError("invalid_message", f"{name}: expected an ISO time")
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ProtocolError(
                "invalid_message", f"{name}: not an ISO 8601 time"
            ) from None
        if moment.tzinfo is None:
            raise ProtocolError("invalid_message", f"{name}: needs a time zone")
        return moment
    msg = f"{name}: unknown field kind"  # pragma: no cover - a spec error
    raise ProtocolError("internal_error", msg)


def negotiate(protocols: list[Any]) -> int:
    """Pick the highest protocol version both sides speak."""
    offered = {p for p in protocols if isinstance(p, int) and not isinstance(p, bool)}
    common = offered & set(SUPPORTED_VERSIONS)
    if not common:
        shown = ", ".join(str(p)[:10] for p in protocols) or "none"
        msg = (
            f"no common protocol version: the client speaks {shown}, this "
            f"gateway {', '.join(str(v) for v in SUPPORTED_VERSIONS)}; update "
            "the add-on or the integration so they match"
        )
        raise ProtocolError("unsupported_version", msg)
    return max(common)


def encode(message: Mapping[str, Any]) -> str:
    """Return a message as JSON text with the protocol version."""
    return json.dumps(
        {"v": PROTOCOL_VERSION, **message}, allow_nan=False, default=_default
    )


def _default(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    msg = f"not JSON: {type(value).__name__}"
    raise TypeError(msg)
