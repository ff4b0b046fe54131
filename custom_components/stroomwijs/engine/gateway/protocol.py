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

from custom_components.stroomwijs.engine.drivers.entities import EntityState
from custom_components.stroomwijs.engine.numbers import parse_number

PROTOCOL_VERSION: Final = 1
SUPPORTED_VERSIONS: Final = (1,)
MAX_MESSAGE_BYTES: Final = 1_048_576
"""The largest message the gateway reads (a config push or two days of prices
fit easily); a larger one closes the connection with 1009."""
MAX_DEPTH: Final = 32
"""Nesting deeper than this is refused before the JSON is parsed."""
MAX_ID_LENGTH: Final = 64

FEATURE_ENTITY_HOST: Final = "entity_host"
"""The gateway drives devices through Home Assistant's entities, relayed by
the integration (``entity_states``, ``entity_call``, ``entity_call_result``)."""
FEATURE_DEVICE_COMMANDS: Final = "device_commands"
"""``add_device`` and ``remove_device``: a heat pump, boiler or appliance
comes or goes while the household runs (no restart)."""
FEATURES: Final = (FEATURE_ENTITY_HOST, FEATURE_DEVICE_COMMANDS)
"""What this gateway can do beyond protocol 1 as first released; the
``welcome`` lists them (an older gateway sends no ``features``)."""
MAX_ENTITY_STATES: Final = 512
"""The most entity states in one ``entity_states`` message."""
MAX_ENTITY_ID: Final = 255
MAX_STATE_TEXT: Final = 255
"""Home Assistant's own limit for a state."""
MAX_ATTRIBUTES: Final = 64
MAX_ATTRIBUTE_TEXT: Final = 255
ENTITY_SERVICES: Final = frozenset({"turn_on", "turn_off", "press", "set_temperature"})
"""The services the drivers call, the only ones an ``entity_call`` may ask for."""
ENTITY_CALL_FIELDS: Final = frozenset({"entity_id", "temperature"})

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
STATES = "states"
"""A list of entity states (read into ``EntityState``; see :func:`read_states`)."""


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
    "add_device": {
        "device": Field(OBJECT, required=True),
        "secrets": Field(OBJECT, nullable=True),
    },
    "remove_device": {"device_id": Field(ID, required=True)},
    "entity_states": {
        "states": Field(STATES, required=True),
        "full": Field(BOOL, required=True),
    },
    "entity_call_result": {
        "call_id": Field(ID, required=True),
        "error": Field(TEXT, nullable=True),
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
        number = parse_number(value)
        if number is None:
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
    if field.kind == STATES:
        return read_states(name, value)
    msg = f"{name}: unknown field kind"  # pragma: no cover - a spec error
    raise ProtocolError("internal_error", msg)


def _entity_id(value: object) -> str | None:
    """Return ``value`` when it is an entity id (``domain.object_id``, short)."""
    if not isinstance(value, str) or len(value) > MAX_ENTITY_ID:
        return None
    domain, dot, object_id = value.partition(".")
    if not dot or not domain or not object_id or value != value.strip():
        return None
    if any(char.isspace() for char in value):
        return None
    return value


def _attribute(value: object) -> bool:
    """Whether an attribute may cross: null, a flag, a finite number, short text."""
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int | float):
        return parse_number(value) is not None
    return isinstance(value, str) and len(value) <= MAX_ATTRIBUTE_TEXT


def read_states(name: str, value: object) -> tuple[EntityState, ...]:
    """Check an ``entity_states`` list; ProtocolError naming the first bad item."""
    if not isinstance(value, list) or len(value) > MAX_ENTITY_STATES:
        msg = f"{name}: expected a list of at most {MAX_ENTITY_STATES} states"
        raise ProtocolError("invalid_message", msg)
    states: list[EntityState] = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        where = f"{name}[{index}]"
        if not isinstance(item, Mapping) or set(item) - {
            "entity_id",
            "state",
            "attributes",
        }:
            msg = f"{where}: expected an object with entity_id, state, attributes"
            raise ProtocolError("invalid_message", msg)
        entity_id = _entity_id(item.get("entity_id"))
        if entity_id is None or entity_id in seen:
            msg = f"{where}.entity_id: not an entity id, or given twice"
            raise ProtocolError("invalid_message", msg)
        seen.add(entity_id)
        state = item.get("state")
        if not isinstance(state, str) or len(state) > MAX_STATE_TEXT:
            msg = f"{where}.state: expected a text of at most {MAX_STATE_TEXT} chars"
            raise ProtocolError("invalid_message", msg)
        attributes = item.get("attributes", {})
        if (
            not isinstance(attributes, Mapping)
            or len(attributes) > MAX_ATTRIBUTES
            or not all(
                isinstance(key, str) and len(key) <= MAX_ID_LENGTH and _attribute(v)
                for key, v in attributes.items()
            )
        ):
            msg = (
                f"{where}.attributes: at most {MAX_ATTRIBUTES}, each null, true or "
                f"false, a finite number or a text of at most {MAX_ATTRIBUTE_TEXT}"
            )
            raise ProtocolError("invalid_message", msg)
        states.append(
            EntityState(entity_id=entity_id, state=state, attributes=dict(attributes))
        )
    return tuple(states)


def wire_state(
    entity_id: str, state: str, attributes: Mapping[str, object]
) -> dict[str, Any]:
    """Return one entity state as ``entity_states`` carries it.

    Attributes that cannot cross (lists, objects, long texts, non-finite
    numbers) are left out, and at most :data:`MAX_ATTRIBUTES` go; a longer
    state is cut (Home Assistant's own states are never longer).
    """
    kept: dict[str, object] = {}
    for key, value in attributes.items():
        if len(kept) >= MAX_ATTRIBUTES:
            break
        if len(key) <= MAX_ID_LENGTH and _attribute(value):
            kept[key] = value
    return {
        "entity_id": entity_id,
        "state": state[:MAX_STATE_TEXT],
        "attributes": kept,
    }


@dataclass(frozen=True, slots=True)
class EntityCall:
    """A service call the gateway asks Home Assistant to carry out."""

    call_id: str
    domain: str
    service: str
    data: Mapping[str, Any]

    @property
    def entity_id(self) -> str:
        """The entity the call is for."""
        return str(self.data["entity_id"])


def read_entity_call(message: Mapping[str, Any]) -> EntityCall:
    """Check an ``entity_call`` push (the integration's side); ProtocolError if bad.

    Only the drivers' services (:data:`ENTITY_SERVICES`) on one entity, in
    the entity's own domain, with the data the drivers send (the entity id,
    a finite temperature).
    """
    call_id = message.get("call_id")
    if not isinstance(call_id, str) or not 0 < len(call_id) <= MAX_ID_LENGTH:
        raise ProtocolError("invalid_message", "call_id: expected a short text")
    domain, service, data = (
        message.get("domain"),
        message.get("service"),
        message.get("data"),
    )
    if service not in ENTITY_SERVICES or not isinstance(service, str):
        raise ProtocolError("invalid_message", f"service: {str(service)[:40]!r}")
    if not isinstance(data, Mapping) or set(data) - ENTITY_CALL_FIELDS:
        raise ProtocolError("invalid_message", "data: only entity_id and temperature")
    entity_id = _entity_id(data.get("entity_id"))
    if entity_id is None or not isinstance(domain, str):
        raise ProtocolError("invalid_message", "data.entity_id: not an entity id")
    if entity_id.partition(".")[0] != domain:
        raise ProtocolError("invalid_message", "domain: not the entity's domain")
    temperature = data.get("temperature")
    if "temperature" in data and (
        isinstance(temperature, bool)
        or not isinstance(temperature, int | float)
        or not math.isfinite(temperature)
        or not -50 <= temperature <= 120  # noqa: PLR2004
    ):
        raise ProtocolError("invalid_message", "data.temperature: not a temperature")
    return EntityCall(call_id, domain, service, dict(data))


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
