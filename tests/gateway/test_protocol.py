"""The protocol's validation, the token file and the installation settings."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, strategies as st
import pytest

from custom_components.stroomwijs.engine.gateway.auth import (
    TokenError,
    bearer,
    load_or_create_token,
    token_matches,
)
from custom_components.stroomwijs.engine.gateway.protocol import (
    MAX_DEPTH,
    REQUESTS,
    ProtocolError,
    encode,
    negotiate,
    parse,
)
from custom_components.stroomwijs.engine.gateway.service import HostSettings
from custom_components.stroomwijs.engine.household import (
    HouseholdConfig,
    MeterConfig,
)

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(st.text(max_size=300))
def test_any_text_is_a_request_or_a_protocol_error(text: str) -> None:
    """No input makes parse raise anything but a ProtocolError."""
    refused: ProtocolError | None = None
    try:
        parse(text)
    except ProtocolError as err:
        refused = err
    if refused is not None:
        assert refused.code
        assert refused.message


@given(
    st.sampled_from(sorted(REQUESTS)),
    st.dictionaries(st.sampled_from(["a", "import_w", "device_id", "v"]), JSON),
)
def test_any_fields_are_validated_or_refused(
    kind: str, fields: dict[str, object]
) -> None:
    """Random fields for every request type: a Request or a ProtocolError."""
    message = {"v": 1, "id": 1, "type": kind, **fields}
    message["v"] = 1
    try:
        request = parse(json.dumps(message))
    except ProtocolError:
        return
    assert request.type == kind
    assert set(request.fields) <= set(REQUESTS[kind])


def test_depth_limit_counts_brackets_outside_strings() -> None:
    """Brackets in strings do not count; real nesting past the limit does."""
    inside = json.dumps({"v": 1, "type": "ping", "id": "[[[[[[[[[[{{{{{{{{"})
    assert parse(inside).id == "[[[[[[[[[[{{{{{{{{"
    ok = '{"v": 1, "type": "push_config", "config": ' + (
        '{"a":' * (MAX_DEPTH - 2) + "1" + "}" * (MAX_DEPTH - 2) + "}"
    )
    assert parse(ok).type == "push_config"
    deep = '{"v": 1, "type": "push_config", "config": ' + (
        '{"a":' * MAX_DEPTH + "1" + "}" * MAX_DEPTH + "}"
    )
    with pytest.raises(ProtocolError) as err:
        parse(deep)
    assert err.value.code == "too_deep"


def test_fields_are_read_into_their_types() -> None:
    """Numbers become floats, times datetimes with a zone, choices checked."""
    request = parse(
        json.dumps(
            {
                "v": 1,
                "id": "abc",
                "type": "set_departure",
                "device_id": "car",
                "departure": "2030-01-02T07:00:00+01:00",
                "target_soc": 1,
            }
        )
    )
    assert request.id == "abc"
    assert request.fields["target_soc"] == 1.0
    assert request.fields["departure"].utcoffset() is not None
    for bad in ({"v": 1, "type": "set_override", "device_id": "c", "action": "x"},):
        with pytest.raises(ProtocolError):
            parse(json.dumps(bad))


def test_negotiation_picks_the_highest_common_version() -> None:
    """Version 1 is spoken; versions only the future knows are refused."""
    assert negotiate([1]) == 1
    assert negotiate([3, 2, 1]) == 1
    for offered in ([], [2], ["1"], [True]):
        with pytest.raises(ProtocolError) as err:
            negotiate(offered)
        assert err.value.code == "unsupported_version"


def test_encode_refuses_non_finite_numbers() -> None:
    """Every message the gateway sends is valid JSON."""
    assert json.loads(encode({"type": "x"})) == {"v": 1, "type": "x"}
    with pytest.raises(ValueError, match="JSON compliant"):
        encode({"type": "x", "value": float("nan")})


def test_token_file_is_made_0600_and_read_back(tmp_path: Path) -> None:
    """Made once, then the same token; loosened permissions are tightened."""
    path = tmp_path / "api_token"
    token = load_or_create_token(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(token) >= 43
    assert load_or_create_token(path) == token
    path.chmod(0o644)
    assert load_or_create_token(path) == token
    assert path.stat().st_mode & 0o777 == 0o600
    path.write_text("short\n", encoding="ascii")
    with pytest.raises(TokenError, match="not a usable API token"):
        load_or_create_token(path)


def test_token_comparison_and_bearer_header() -> None:
    """Only the exact token matches; only the Bearer scheme carries it."""
    token = "t" * 43
    assert token_matches(token, token)
    assert not token_matches(token, None)
    assert not token_matches(token, token[:-1])
    assert not token_matches(token, token + "t")
    assert not token_matches(token, "é" * 43)
    assert bearer(f"Bearer {token}") == token
    assert bearer(f"bearer  {token} ") == token
    assert bearer(f"Basic {token}") is None
    assert bearer(token) is None
    assert bearer(None) is None
    assert bearer("Bearer ") is None


def test_host_settings_replace_the_documents_values() -> None:
    """The add-on's options win over a pushed document; profile 2 needs TLS."""
    config = HouseholdConfig(meter=MeterConfig(source="serial", serial_port="/dev/a"))
    host = HostSettings(
        ocpp_host="0.0.0.0",  # noqa: S104
        ocpp_port=9000,
        ocpp_security_profile=2,
        ocpp_certfile="/ssl/fullchain.pem",
        ocpp_keyfile="/ssl/privkey.pem",
        serial_port="/dev/ttyUSB0",
    )
    host.check()
    result = host.apply(config)
    assert result.ocpp.port == 9000
    assert result.ocpp.host == "0.0.0.0"  # noqa: S104
    assert result.ocpp.require_auth is True
    assert result.ocpp.certfile == "/ssl/fullchain.pem"
    assert result.meter.serial_port == "/dev/ttyUSB0"
    plain = HostSettings(ocpp_security_profile=0, ocpp_certfile="/ssl/x.pem").apply(
        config
    )
    assert plain.ocpp.require_auth is False
    assert plain.ocpp.certfile is None
    assert HostSettings().apply(config) == config
    with pytest.raises(ValueError, match="needs a certificate"):
        HostSettings(ocpp_security_profile=2).check()
    with pytest.raises(ValueError, match="not a port"):
        HostSettings(ocpp_port=70000).check()
