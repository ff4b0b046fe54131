"""The JSON Schema of the household document (``HouseholdConfig``).

Editors and installers check a ``household.yaml`` against it before the
add-on reads it (``stroomwijs household schema`` prints it; YAML editors take
it with ``# yaml-language-server: $schema=household.schema.json``). It states
what :meth:`HouseholdConfig.from_dict` reads: every section and field, their
types, ranges and choices, the fields each kind of limit and device takes,
and the secrets' keys. ``from_dict`` remains the judge: it also checks what a
schema cannot say (unique ids, a charger's maximum above its minimum, a
driver device's mapping, which the drivers' own reader checks, and that every
secret belongs to a setting).

``tests/engine/household/test_schema.py`` keeps the two in step: documents
``from_dict`` reads are valid here, and the bad ones of its tests are refused
here too where a schema can see the fault.
"""

from __future__ import annotations

from typing import Any, Final

from .config import (
    CONFIG_VERSION,
    DEVICE_KINDS,
    EXPORT_BASES,
    LIMIT_KINDS,
    MAX_TEXT,
    METER_SOURCES,
    OptimiserMode,
)

SCHEMA_ID: Final = "https://stroomwijs.invalid/schema/household-v1.json"
"""The schema's own identifier (not a URL anything is fetched from)."""

_TIME_PATTERN: Final = r"^([01][0-9]|2[0-3])(:?[0-5][0-9](:?[0-5][0-9](\.[0-9]+)?)?)?$"
_SECRET_KEYS: Final = (
    r"^(meter\.(encryption_key|token)|devices\.[^.]+\.password"  # noqa: S105 - keys
    r"|limits\.[^.]+\.client_secret)$"
)


def _text(**extra: Any) -> dict[str, Any]:  # noqa: ANN401 - schema keywords
    return {"type": "string", "maxLength": MAX_TEXT, **extra}


def _number(low: float, high: float, **extra: Any) -> dict[str, Any]:  # noqa: ANN401
    return {"type": "number", "minimum": low, "maximum": high, **extra}


def _integer(low: int, high: int, **extra: Any) -> dict[str, Any]:  # noqa: ANN401
    return {"type": "integer", "minimum": low, "maximum": high, **extra}


def _optional(schema: dict[str, Any]) -> dict[str, Any]:
    """Let a field also be null (null: the default)."""
    return {"anyOf": [schema, {"type": "null"}]}


def _section(
    properties: dict[str, Any],
    *,
    required: tuple[str, ...] = (),
    **extra: Any,  # noqa: ANN401 - schema keywords
) -> dict[str, Any]:
    """Return an object of these fields and no others (null: all defaults)."""
    section: dict[str, Any] = {
        "type": ["object", "null"],
        "properties": properties,
        "additionalProperties": False,
        **extra,
    }
    if required:
        section["required"] = list(required)
    return section


def _kind(
    kind: str, common: dict[str, Any], own: dict[str, Any], required: tuple[str, ...]
) -> dict[str, Any]:
    """One kind of limit or device: its ``kind`` and exactly its fields."""
    return {
        "type": "object",
        "properties": {"kind": {"const": kind}, **common, **own},
        "required": ["id", "kind", *required],
        "additionalProperties": False,
    }


def _limits() -> dict[str, Any]:
    common = {"id": _text(), "label": _optional(_text())}
    watts = _optional(_number(0.0, 1_000_000.0))
    kinds = {
        "window": (
            {
                "start": _text(pattern=_TIME_PATTERN),
                "end": _text(pattern=_TIME_PATTERN),
                "import_w": watts,
                "export_w": watts,
                "weekdays": _optional(
                    {"type": "array", "minItems": 1, "items": _integer(0, 6)}
                ),
                "months": _optional(
                    {"type": "array", "minItems": 1, "items": _integer(1, 12)}
                ),
            },
            ("start", "end"),
        ),
        "openadr": (
            {
                "url": _text(pattern=r"^https?://"),
                "client_id": _text(),
                "ean": _text(),
                "programs": _optional({"type": "array", "items": {"type": "string"}}),
                "failsafe_w": _optional(_number(0.0, 1_000_000.0)),
                "timeout_min": _optional(_number(1.0, 1_440.0)),
            },
            ("url", "client_id", "ean"),
        ),
        "capacity": ({"budget_w": watts}, ()),
        "dim": (
            {
                "entity": _text(),
                "devices": _optional(_integer(1, 100)),
                "mode": _optional({"enum": ["connection", "device"]}),
            },
            ("entity",),
        ),
    }
    assert tuple(kinds) == LIMIT_KINDS  # noqa: S101 - kept in step with config.py
    window = _kind("window", common, *kinds["window"])
    window["anyOf"] = [
        {"required": ["import_w"], "properties": {"import_w": {"type": "number"}}},
        {"required": ["export_w"], "properties": {"export_w": {"type": "number"}}},
    ]
    return {
        "type": ["array", "null"],
        "items": {
            "oneOf": [
                window if kind == "window" else _kind(kind, common, *fields)
                for kind, fields in kinds.items()
            ]
        },
    }


def _devices() -> dict[str, Any]:
    common = {
        "id": _text(minLength=1),
        "name": _optional(_text()),
        "minimum_instead_of_pause": _optional({"type": "boolean"}),
        "capacity_kwh": _optional(_number(1.0, 500.0)),
        "v2g_allowed": _optional({"type": "boolean"}),
    }
    kinds = {
        "ocpp_charger": (
            {
                "charger_id": _text(minLength=1, pattern=r"^[^/]+$"),
                "password_required": _optional({"type": "boolean"}),
                "phases": _optional({"enum": [1, 3]}),
                "max_current_a": _optional(_number(6.0, 80.0)),
                "min_current_a": _optional(_number(6.0, 16.0)),
            },
            ("charger_id",),
        ),
        "quasar": (
            {"host": _text(), "port": _optional(_integer(1, 65535))},
            ("host",),
        ),
        "driver": (
            {
                "driver": {
                    "type": "object",
                    "required": ["driver"],
                    "properties": {"driver": {"type": "string"}},
                    "description": "a driver's mapping (docs/devices.md)",
                },
                "password_required": _optional({"type": "boolean"}),
            },
            ("driver",),
        ),
    }
    assert tuple(kinds) == DEVICE_KINDS  # noqa: S101 - kept in step with config.py
    return {
        "type": ["array", "null"],
        "items": {
            "oneOf": [_kind(kind, common, *fields) for kind, fields in kinds.items()]
        },
    }


def _meter() -> dict[str, Any]:
    meter = _section(
        {
            "source": _optional({"enum": list(METER_SOURCES)}),
            "serial_port": _optional(_text()),
            "host": _optional(_text()),
            "tcp_port": _optional(_integer(1, 65535)),
            "dsmr_version": _optional(_text()),
            "api_version": _optional({"enum": ["v1", "v2"]}),
            "update_interval_s": _optional(_number(1.0, 3600.0)),
            "entities": _optional({"type": "object"}),
        }
    )
    needs = {
        "serial": ["serial_port"],
        "network": ["host", "tcp_port"],
        "homewizard": ["host"],
    }
    meter["allOf"] = [
        {
            "if": {
                "type": "object",
                "required": ["source"],
                "properties": {"source": {"const": source}},
            },
            "then": {
                "required": fields,
                "properties": {field: {"not": {"type": "null"}} for field in fields},
            },
        }
        for source, fields in needs.items()
    ]
    return meter


def household_schema() -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) of the household document."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Stroomwijs household",
        "description": "The household document (docs/household.md).",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "version": _optional(_integer(1, CONFIG_VERSION)),
            "name": _optional(_text()),
            "time_zone": _optional(_text()),
            "grid": _section(
                {
                    "phases": _optional({"enum": [1, 3]}),
                    "fuse_a": _optional(_number(6.0, 250.0)),
                    "voltage_v": _optional(_number(100.0, 260.0)),
                }
            ),
            "meter": _meter(),
            "limits": _limits(),
            "devices": _devices(),
            "ocpp": _section(
                {
                    "enabled": _optional({"type": "boolean"}),
                    "host": _optional(_text()),
                    "port": _optional(_integer(0, 65535)),
                    "require_auth": _optional({"type": "boolean"}),
                    "certfile": _optional(_text()),
                    "keyfile": _optional(_text()),
                }
            ),
            "tariff": _section(
                {
                    "price_source": _optional(_text()),
                    "markup_eur_per_kwh": _optional(_number(-1.0, 5.0)),
                    "energy_tax_eur_per_kwh": _optional(_number(0.0, 5.0)),
                    "vat": _optional(_number(0.0, 1.0)),
                    "export_basis": _optional({"enum": list(EXPORT_BASES)}),
                    "export_fixed_eur_per_kwh": _optional(_number(-5.0, 5.0)),
                    "capacity_eur_per_kw_month": _optional(_number(0.0, 1_000.0)),
                }
            ),
            "forecasts": _section(
                {
                    "pv_source": _optional(_text()),
                    "outdoor_source": _optional(_text()),
                    "base_load_weeks": _optional(_integer(1, 12)),
                }
            ),
            "optimiser": _section(
                {
                    "mode": _optional({"enum": [mode.value for mode in OptimiserMode]}),
                    "enabled": _optional({"type": "boolean"}),
                    "horizon_hours": _optional(_integer(4, 48)),
                    "replan_minutes": _optional(_integer(5, 60)),
                    "time_limit_s": _optional(_number(0.1, 60.0)),
                    "deviation_kwh": _optional(_number(0.05, 100.0)),
                }
            ),
            "guard": _section(
                {
                    "margin_w": _optional(_number(0.0, 5_000.0)),
                    "data_timeout_s": _optional(_number(2.0, 600.0)),
                    "manual_duration_min": _optional(_number(1.0, 7 * 24 * 60.0)),
                }
            ),
            "secrets": {
                "type": ["object", "null"],
                "propertyNames": {"pattern": _SECRET_KEYS},
                "additionalProperties": {"type": "string"},
                "description": "kept apart so that an export can leave them out",
            },
        },
    }
