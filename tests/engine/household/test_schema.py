"""The household document's JSON Schema agrees with what HouseholdConfig reads."""

from __future__ import annotations

from dataclasses import fields
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
import pytest
import yaml

from custom_components.stroomwijs.engine.cli import main
from custom_components.stroomwijs.engine.household import (
    DeviceConfig,
    ForecastConfig,
    GridConfig,
    GuardSettings,
    HouseholdConfig,
    LimitConfig,
    MeterConfig,
    OcppServerConfig,
    OptimiserConfig,
    TariffConfig,
)
from custom_components.stroomwijs.engine.household.schema import household_schema

from .test_config import BAD_DOCUMENTS, _full

SCENARIOS = Path(__file__).parents[3] / "examples" / "scenarios"
VALIDATOR = Draft202012Validator(household_schema())

# Faults only the reader sees: a window that ends where it starts, an id used
# twice, a time zone that does not exist.
SEMANTIC_ONLY = {"limits[0].end", "devices[1].id", "time_zone"}

BOILER = DeviceConfig(
    id="boiler",
    kind="driver",
    name="Boiler",
    driver={
        "driver": "boiler",
        "control": "switch",
        "entity_id": "switch.boiler",
        "volume_l": 120,
        "power_w": 2000,
    },
)


def _errors(document: Any) -> list[str]:  # noqa: ANN401 - any JSON value
    return [error.message for error in VALIDATOR.iter_errors(document)]


def test_the_schema_is_a_draft_2020_12_schema() -> None:
    """A validator of the draft it names accepts it."""
    Draft202012Validator.check_schema(household_schema())


def _documents() -> list[Any]:
    full = _full()
    with_driver = HouseholdConfig(name="Boiler", devices=(BOILER,))
    scenarios = [
        yaml.safe_load(path.read_text(encoding="utf-8"))["household"]
        for path in sorted(SCENARIOS.glob("*.yaml"))
    ]
    assert scenarios
    return [
        {},
        HouseholdConfig().to_dict(),
        full.to_dict(),
        full.to_dict(include_secrets=False),
        json.loads(full.to_json()),
        yaml.safe_load(full.to_yaml()),
        with_driver.to_dict(),
        *scenarios,
    ]


def test_documents_the_household_reads_are_valid() -> None:
    """What to_dict writes, and every shipped scenario's household, pass."""
    for document in _documents():
        HouseholdConfig.from_dict(document)
        assert _errors(document) == [], document


@pytest.mark.parametrize(("data", "path"), BAD_DOCUMENTS)
def test_bad_documents_are_refused_by_the_schema_too(
    data: Any,  # noqa: ANN401 - any JSON value
    path: str,
) -> None:
    """Each fault a schema can see is refused by it, as by the reader."""
    if path in SEMANTIC_ONLY:
        assert _errors(data) == []
    else:
        assert _errors(data), path


@pytest.mark.parametrize(
    ("section", "config_type"),
    [
        ("grid", GridConfig),
        ("meter", MeterConfig),
        ("ocpp", OcppServerConfig),
        ("tariff", TariffConfig),
        ("forecasts", ForecastConfig),
        ("optimiser", OptimiserConfig),
        ("guard", GuardSettings),
    ],
)
def test_every_field_of_a_section_is_in_the_schema(
    section: str, config_type: type
) -> None:
    """A field added to a section must be added to the schema (and back)."""
    schema = household_schema()["properties"][section]["properties"]
    assert set(schema) == {item.name for item in fields(config_type)}


@pytest.mark.parametrize(
    ("section", "config_type"), [("limits", LimitConfig), ("devices", DeviceConfig)]
)
def test_every_field_of_a_limit_or_device_is_in_the_schema(
    section: str, config_type: type
) -> None:
    """The kinds' fields together are the dataclass's fields."""
    kinds = household_schema()["properties"][section]["items"]["oneOf"]
    named = {name for kind in kinds for name in kind["properties"]}
    assert named == {item.name for item in fields(config_type)}
    top = {
        name
        for name in household_schema()["properties"]
        if name not in {"version", "name", "time_zone", "secrets"}
    }
    assert top == {
        item.name
        for item in fields(HouseholdConfig)
        if item.name not in {"version", "name", "time_zone", "secrets"}
    }


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"meter": {"source": "serial"}}, "serial_port"),
        ({"meter": {"source": "network", "host": "192.0.2.1"}}, "tcp_port"),
        (
            {
                "limits": [
                    {"id": "w", "kind": "window", "start": "16:00", "end": "21:00"}
                ]
            },
            "",
        ),
        ({"limits": [{"id": "c", "kind": "capacity", "url": "https://x"}]}, ""),
        ({"devices": [{"id": "q", "kind": "quasar"}]}, ""),
        ({"devices": [{"id": "b", "kind": "driver", "driver": {}}]}, ""),
        ({"secrets": {"devices.car.pin": "1234"}}, ""),
        ({"grid": {"phases": True}}, ""),
    ],
)
def test_the_schema_refuses_what_the_reader_refuses(
    change: dict[str, Any], where: str
) -> None:
    """What the reader refuses for its shape, the schema refuses too.

    A meter without its address, a window without a limit, fields of another
    kind, a driver device without its driver, an unknown secret, a boolean
    for a number.
    """
    with pytest.raises(ValueError, match=where):
        HouseholdConfig.from_dict(change)
    assert _errors(change)


def test_the_cli_prints_the_schema_and_checks_a_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``stroomwijs household schema`` and ``... check FILE``."""
    assert main(["household", "schema"]) == 0
    assert json.loads(capsys.readouterr().out) == household_schema()
    good = tmp_path / "household.yaml"
    good.write_text(_full().to_yaml(include_secrets=False), encoding="utf-8")
    assert main(["household", "check", str(good)]) == 0
    out = capsys.readouterr().out
    assert "a valid household document (4 limit sources, 2 devices)" in out
    assert "meter.encryption_key" in out
    bad = tmp_path / "household.json"
    bad.write_text(json.dumps({"grid": {"fuse_a": 1}}), encoding="utf-8")
    assert main(["household", "check", str(bad)]) == 1
    assert "grid.fuse_a: must be at least 6" in capsys.readouterr().err


def test_the_shipped_schema_file_is_the_schema() -> None:
    """docs/household.schema.json is what ``stroomwijs household schema`` prints."""
    shipped = Path(__file__).parents[3] / "docs" / "household.schema.json"
    assert json.loads(shipped.read_text(encoding="utf-8")) == household_schema()
