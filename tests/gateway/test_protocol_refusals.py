"""Each way a request is refused: the code and the message the client sees.

``test_protocol.py`` checks with hypothesis that anything is a request or a
ProtocolError; here each refusal is named, so that a change of code or of
message (what the integration shows) is deliberate.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
import json

import pytest

from custom_components.stroomwijs.engine.gateway.protocol import (
    MAX_ENTITY_STATES,
    MAX_MESSAGE_BYTES,
    ProtocolError,
    message_id,
    parse,
)


def _msg(kind: str, **fields: object) -> str:
    return json.dumps({"v": 1, "id": 1, "type": kind, **fields})


def _state(entity_id: str = "switch.a", **changes: object) -> dict[str, object]:
    return {"entity_id": entity_id, "state": "on", "attributes": {}, **changes}


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        (" " * (MAX_MESSAGE_BYTES + 1), "too_large", "the message is too large"),
        ("[" * 40 + "]" * 40, "too_deep", "nested deeper than 32 levels"),
        ('{"v": NaN}', "invalid_json", "NaN is not a number JSON allows"),
        ('{"v": -Infinity}', "invalid_json", "-Infinity is not a number JSON"),
        ('{"v": 1,', "invalid_json", "not valid JSON: "),
        ("[1]", "invalid_message", "a message must be a JSON object"),
        ('{"type": "ping"}', "invalid_message", "v: the protocol version is missing"),
        ('{"v": true, "type": "ping"}', "invalid_message", "v: the protocol"),
        ('{"v": 2, "type": "ping"}', "unsupported_version", "protocol version 2 is"),
        ('{"v": 1, "id": true, "type": "ping"}', "invalid_message", "id: must be"),
        ('{"v": 1, "id": 9007199254740993, "type": "ping"}', "invalid_message", "id:"),
        (
            '{"v": 1, "id": "' + "x" * 65 + '", "type": "ping"}',
            "invalid_message",
            "id:",
        ),
        ('{"v": 1, "type": 5}', "invalid_message", "type: missing"),
        (
            '{"v": 1, "type": "reboot"}',
            "unknown_type",
            "type: unknown request 'reboot'",
        ),
        (_msg("ping", extra=1), "invalid_message", "extra: not a field of ping"),
        (_msg("set_manual_limit"), "invalid_message", "import_w: required"),
        (
            _msg("set_manual_limit", import_w="5"),
            "invalid_message",
            "expected a number",
        ),
        (_msg("set_manual_limit", import_w=True), "invalid_message", "expected a numb"),
        (  # an integer beyond a float's range, as JSON may write one
            '{"v": 1, "type": "set_manual_limit", "import_w": 1' + "0" * 400 + "}",
            "invalid_message",
            "import_w: must be finite",
        ),
        (_msg("set_manual_limit", import_w=-1), "invalid_message", "at least 0"),
        (_msg("set_manual_limit", import_w=2e6), "invalid_message", "at most 1e+06"),
        (_msg("set_v2g", device_id="car", allowed=None), "invalid_message", "null"),
        (_msg("set_v2g", device_id="car", allowed=1), "invalid_message", "true or fal"),
        (_msg("set_v2g", device_id="c" * 65, allowed=True), "invalid_message", "64"),
        (_msg("set_mode", mode="max"), "invalid_message", "mode: must be one of auto"),
        (_msg("set_prices", prices=[1]), "invalid_message", "expected an object"),
        (_msg("hello", protocols=list(range(17))), "invalid_message", "short list"),
        (
            _msg("run_before", device_id="w", finish_by=5),
            "invalid_message",
            "finish_by: expected an ISO time",
        ),
        (
            _msg("run_before", device_id="w", finish_by="tomorrow"),
            "invalid_message",
            "finish_by: not an ISO 8601 time",
        ),
        (
            _msg("run_before", device_id="w", finish_by="2026-01-14T07:00:00"),
            "invalid_message",
            "finish_by: needs a time zone",
        ),
        (
            _msg("entity_states", full=True, states={}),
            "invalid_message",
            f"states: expected a list of at most {MAX_ENTITY_STATES} states",
        ),
        (
            _msg("entity_states", full=True, states=[_state(extra=1)]),
            "invalid_message",
            "states[0]: expected an object with entity_id, state, attributes",
        ),
        (
            _msg("entity_states", full=True, states=[_state(), _state()]),
            "invalid_message",
            "states[1].entity_id: not an entity id, or given twice",
        ),
        *(
            (
                _msg("entity_states", full=True, states=[_state(bad)]),
                "invalid_message",
                "states[0].entity_id: not an entity id",
            )
            for bad in ("switch", ".a", "switch.", " switch.a", "switch.a b", 5)
        ),
        (
            _msg("entity_states", full=True, states=[_state(state=1)]),
            "invalid_message",
            "states[0].state: expected a text of at most 255 chars",
        ),
        *(
            (
                _msg("entity_states", full=True, states=[_state(attributes=bad)]),
                "invalid_message",
                "states[0].attributes: at most 64",
            )
            for bad in (
                [1],
                {"a": [1]},
                {"a": {"b": 1}},
                {"a": "x" * 256},
                {"k" * 65: 1},
                {str(i): i for i in range(65)},
            )
        ),
    ],
)
def test_refused(text: str, code: str, message: str) -> None:
    """Each malformed request is refused with its code and a clear message."""
    with pytest.raises(ProtocolError) as refused:
        parse(text)
    assert refused.value.code == code
    assert message in str(refused.value)


def test_accepted_fields_come_back_typed() -> None:
    """Times with a zone, lists, objects, flags and entity states."""
    when = datetime(2026, 1, 14, 7, tzinfo=timezone(timedelta(hours=1)))
    request = parse(_msg("run_before", device_id="washer", finish_by=when.isoformat()))
    assert request.fields["finish_by"] == when
    assert request.fields["finish_by"].astimezone(UTC).hour == 6
    states = parse(
        _msg(
            "entity_states",
            full=False,
            states=[
                _state(attributes={"unit": "W", "n": 1.5, "ok": True, "none": None})
            ],
        )
    ).fields["states"]
    assert states[0].entity_id == "switch.a"
    assert states[0].attributes == {"unit": "W", "n": 1.5, "ok": True, "none": None}
    limit = parse(_msg("set_manual_limit", import_w=None, label="x"))
    assert limit.fields == {"import_w": None, "label": "x"}
    assert limit.id == 1


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"id": 7}, 7),
        ({"id": "a"}, "a"),
        ({"id": True}, None),
        ({"id": 2**53}, None),
        ({"id": "x" * 65}, None),
        ({"id": 1.5}, None),
        ([1], None),
        ({}, None),
    ],
)
def test_message_id_for_error_replies(data: object, expected: object) -> None:
    """Only a valid id is echoed in an error reply."""
    assert message_id(data) == expected
