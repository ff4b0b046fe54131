"""HouseholdConfig: round trips through JSON and YAML, secrets apart, clear errors."""

from __future__ import annotations

from datetime import time
import json
from typing import Any

import pytest

from custom_components.stroomwijs.engine.household import (
    DeviceConfig,
    GridConfig,
    HouseholdConfig,
    HouseholdConfigError,
    LimitConfig,
    MeterConfig,
    OptimiserConfig,
    OptimiserMode,
    TariffConfig,
)


def _full() -> HouseholdConfig:
    return HouseholdConfig(
        name="Thuis",
        grid=GridConfig(phases=3, fuse_a=25.0),
        meter=MeterConfig(
            source="network", host="192.0.2.10", tcp_port=2000, dsmr_version="5L"
        ),
        limits=(
            LimitConfig(
                id="evening",
                kind="window",
                label="evening",
                start=time(16),
                end=time(21),
                import_w=4000.0,
                weekdays=(0, 1, 2, 3, 4),
                months=(1, 2, 3, 10, 11, 12),
            ),
            LimitConfig(
                id="gac",
                kind="openadr",
                url="https://vtn.example/openadr3",
                client_id="ven-1",
                ean="871685900000000000",
                programs=("gac-congestion",),
            ),
            LimitConfig(id="cap", kind="capacity", budget_w=2500.0),
            LimitConfig(id="dim", kind="dim", entity="binary_sensor.dim", devices=2),
        ),
        devices=(
            DeviceConfig(
                id="car",
                kind="ocpp_charger",
                name="Car",
                charger_id="cp-1",
                password_required=True,
                phases=1,
                max_current_a=32.0,
                capacity_kwh=70.0,
            ),
            DeviceConfig(id="wallbox", kind="quasar", name="Quasar", host="192.0.2.11"),
        ),
        tariff=TariffConfig(
            price_source="sensor.nordpool",
            export_basis="fixed",
            export_fixed_eur_per_kwh=0.07,
            capacity_eur_per_kw_month=4.2,
        ),
        optimiser=OptimiserConfig(mode=OptimiserMode.CHEAPEST, horizon_hours=36),
        secrets={
            "meter.encryption_key": "00112233445566778899AABBCCDDEEFF",
            "limits.gac.client_secret": "s3cret",
            "devices.car.password": "pw",
        },
    )


def test_round_trip_through_json_and_yaml() -> None:
    """What to_json/to_yaml write, from_json/from_yaml read back unchanged."""
    config = _full()
    assert HouseholdConfig.from_json(config.to_json()) == config
    assert HouseholdConfig.from_yaml(config.to_yaml()) == config
    assert HouseholdConfig.from_dict(config.to_dict()) == config


def test_an_export_without_secrets_carries_none_and_says_what_is_missing() -> None:
    """The installer profile leaves secrets out; an import asks for them."""
    config = _full()
    text = config.to_yaml(include_secrets=False)
    for secret in config.secrets.values():
        assert secret not in text
    imported = HouseholdConfig.from_yaml(text)
    assert imported.missing_secrets() == [
        "meter.encryption_key",
        "limits.gac.client_secret",
        "devices.car.password",
    ]
    assert imported.with_secrets(config.secrets) == config
    with pytest.raises(HouseholdConfigError, match=r"secrets\.bogus"):
        imported.with_secrets({"bogus": "x"})


def test_a_default_document_round_trips() -> None:
    """Empty (null) fields written out read back (a meter without a port)."""
    config = HouseholdConfig()
    assert HouseholdConfig.from_json(config.to_json()) == config
    assert HouseholdConfig.from_yaml(config.to_yaml()) == config


def test_defaults_fill_an_empty_document() -> None:
    """An empty document is a household on a 3x25 A connection without a meter."""
    config = HouseholdConfig.from_dict({})
    assert config.grid == GridConfig()
    assert config.meter.source == "none"
    assert config.optimiser.mode is OptimiserMode.AUTO


def _with(path: str, value: Any) -> dict[str, Any]:  # noqa: ANN401 - any JSON value
    data = _full().to_dict()
    target: Any = data
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if isinstance(target, list) else target[key]
    last = keys[-1]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return data


BAD_DOCUMENTS: list[tuple[Any, str]] = [
    (_with("grid.phases", 2), "grid.phases"),
    (_with("grid.fuse_a", "25"), "grid.fuse_a"),
    (_with("grid.fuse_a", 1e9), "grid.fuse_a"),
    (_with("grid.colour", "red"), "grid.colour"),
    (_with("meter.source", "carrier-pigeon"), "meter.source"),
    (_with("meter.tcp_port", 70000), "meter.tcp_port"),
    (_with("limits.0.start", "25:00"), "limits[0].start"),
    (_with("limits.0.end", "16:00"), "limits[0].end"),
    (_with("limits.0.weekdays", [0, 9]), "limits[0].weekdays[1]"),
    (_with("limits.1.url", "ftp://x"), "limits[1].url"),
    (_with("limits.2.kind", "vibes"), "limits[2].kind"),
    (_with("devices.0.max_current_a", 4), "devices[0].max_current_a"),
    (_with("devices.0.charger_id", "a/b"), "devices[0].charger_id"),
    (_with("devices.1.id", "car"), "devices[1].id"),
    (_with("tariff.vat", 2), "tariff.vat"),
    (_with("optimiser.mode", "maximum"), "optimiser.mode"),
    (_with("optimiser.horizon_hours", 1e6), "optimiser.horizon_hours"),
    (_with("version", 99), "version"),
    (_with("time_zone", "Mars/Olympus"), "time_zone"),
    ([1, 2, 3], ""),
]
"""Bad documents and the path of the field their error must name."""


@pytest.mark.parametrize(("data", "path"), BAD_DOCUMENTS)
def test_bad_documents_name_the_field(data: Any, path: str) -> None:  # noqa: ANN401
    """Every error says where the bad field is."""
    with pytest.raises(HouseholdConfigError) as caught:
        HouseholdConfig.from_dict(data)
    if path:
        assert caught.value.path == path, str(caught.value)
        assert str(caught.value).startswith(path)


def test_an_unknown_secret_is_refused() -> None:
    """A secret no setting uses is an error, not silently kept."""
    data = _full().to_dict()
    data["secrets"]["devices.wallbox.password"] = "x"
    with pytest.raises(HouseholdConfigError, match=r"secrets\.devices\.wallbox"):
        HouseholdConfig.from_dict(data)


@pytest.mark.parametrize(
    "text",
    [
        '{"grid": {"fuse_a": NaN}}',
        '{"grid": {"fuse_a": Infinity}}',
        "[" * 100_000 + "]" * 100_000,
        '{"grid": ',
        "x" * 2_000_000,
    ],
)
def test_hostile_json_is_refused_with_an_error(text: str) -> None:
    """Non-finite numbers, deep nesting, truncation and huge input: an error."""
    with pytest.raises(HouseholdConfigError):
        HouseholdConfig.from_json(text)


@pytest.mark.parametrize(
    "text",
    ["grid: [unclosed", "grid:\n  phases: !!python/object:os.system x", "a: " * 1],
)
def test_hostile_yaml_is_refused_with_an_error(text: str) -> None:
    """YAML syntax errors and unsafe tags are errors (safe_load only)."""
    with pytest.raises(HouseholdConfigError):
        HouseholdConfig.from_yaml(text)


def test_deep_nesting_inside_a_field_is_refused() -> None:
    """Nesting is bounded before any field is read."""
    nested: Any = "x"
    for _ in range(50):
        nested = {"a": nested}
    with pytest.raises(HouseholdConfigError, match="nested too deeply"):
        HouseholdConfig.from_dict({"meter": {"entities": nested}})


def test_json_output_is_strict_json() -> None:
    """The document is valid JSON (no NaN) that other tools can read."""
    json.loads(_full().to_json(), parse_constant=lambda _: pytest.fail("NaN"))


@pytest.mark.parametrize(
    ("path", "value", "error"),
    [
        ("limits", "x", "limits: expected a list"),
        ("name", 5, "name: expected text"),
        ("grid.fuse_a", float("nan"), "grid.fuse_a: must be a finite number"),
        ("grid.fuse_a", -3, "grid.fuse_a: must be at least 6"),
        (
            "devices.0.password_required",
            "yes",
            "devices[0].password_required: expected true or false",
        ),
        ("limits.0.weekdays", [], "limits[0].weekdays: expected a non-empty list"),
        (
            "limits.0.weekdays",
            ["mon"],
            "limits[0].weekdays[0]: expected a whole number",
        ),
        ("limits.1.programs", [1], "limits[1].programs: expected a list of text"),
        ("limits.1.id", "evening", "limits[1].id: 'evening' is used twice"),
        ("devices.0.phases", 2, "devices[0].phases: must be 1 or 3"),
        ("devices.0", 5, "devices[0]: expected a mapping"),
        ("devices", {"a": 1}, "devices: expected a list"),
        (
            "limits.0.start",
            "16:00+01:00",
            "limits[0].start: a local wall-clock time has no zone",
        ),
        ("meter.host", None, "meter.host: is required for a network meter"),
        ("secrets", {"a": 5}, "secrets.a: expected text"),
    ],
)
def test_wrong_types_and_values_say_what_is_expected(
    path: str,
    value: Any,  # noqa: ANN401 - any JSON value
    error: str,
) -> None:
    """Each wrong type or value is refused with its path and what it must be."""
    with pytest.raises(HouseholdConfigError) as caught:
        HouseholdConfig.from_dict(_with(path, value))
    assert str(caught.value) == error
