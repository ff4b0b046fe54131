"""Manifest, HACS metadata and pinned requirements are what HA and HACS accept."""

from __future__ import annotations

import json
from pathlib import Path
import re

import homeassistant
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
import pytest

ROOT = Path(__file__).resolve().parent.parent
INTEGRATION = ROOT / "custom_components/stroomwijs"
MANIFEST = json.loads((INTEGRATION / "manifest.json").read_text(encoding="utf-8"))
HA_CONSTRAINTS = Path(homeassistant.__file__).parent / "package_constraints.txt"

# Pins of HA core integrations a user may run beside ours (they share one
# Python environment): dsmr and homewizard.
CORE_INTEGRATION_PINS = {
    "dsmr-parser": "1.11.1",
    "python-homewizard-energy": "10.2.0",
}


def _constraints() -> dict[str, Requirement]:
    result: dict[str, Requirement] = {}
    for raw in HA_CONSTRAINTS.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        req = Requirement(line)
        name = canonicalize_name(req.name)
        if name in result:
            # Repeated names narrow each other; keep both specifier sets.
            req.specifier &= result[name].specifier
        result[name] = req
    return result


def _manifest_requirements() -> list[Requirement]:
    return [Requirement(line) for line in MANIFEST["requirements"]]


def test_manifest_keys_are_ordered_like_hassfest_wants() -> None:
    """Keys are domain, name, then the rest in alphabetical order."""
    keys = list(MANIFEST)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])


def test_manifest_has_the_keys_a_custom_integration_needs() -> None:
    """HACS and hassfest reject a manifest without these."""
    required = {
        "domain",
        "name",
        "version",
        "documentation",
        "issue_tracker",
        "codeowners",
        "config_flow",
        "iot_class",
        "integration_type",
        "requirements",
    }
    assert required <= set(MANIFEST)
    assert MANIFEST["domain"] == "stroomwijs"
    assert MANIFEST["config_flow"] is True
    Version(MANIFEST["version"])  # must parse as a version (AwesomeVersion-compatible)


def test_requirements_are_pinned_exactly() -> None:
    """Every runtime requirement is pinned with ==."""
    for req in _manifest_requirements():
        specs = list(req.specifier)
        assert len(specs) == 1, req
        assert specs[0].operator == "==", req


def test_requirements_satisfy_home_assistant_constraints() -> None:
    """Our pins sit inside package_constraints.txt of the HA we test against."""
    constraints = _constraints()
    for req in _manifest_requirements():
        pinned = Version(next(iter(req.specifier)).version)
        constraint = constraints.get(canonicalize_name(req.name))
        if constraint is not None:
            assert constraint.specifier.contains(pinned, prereleases=True), (
                f"{req} conflicts with Home Assistant's {constraint}"
            )


def test_requirements_match_core_integrations() -> None:
    """Dsmr and homewizard pins equal those of HA's own integrations."""
    pins = {
        canonicalize_name(r.name): next(iter(r.specifier)).version
        for r in _manifest_requirements()
    }
    for name, version in CORE_INTEGRATION_PINS.items():
        assert pins.get(canonicalize_name(name)) == version


@pytest.mark.parametrize("domain", ["dsmr", "homewizard"])
def test_core_integration_pins_are_what_installed_ha_uses(domain: str) -> None:
    """The installed HA's own dsmr and homewizard manifests pin what we pin."""
    manifest = json.loads(
        (
            Path(homeassistant.__file__).parent
            / "components"
            / domain
            / "manifest.json"
        ).read_text(encoding="utf-8")
    )
    ours = {
        canonicalize_name(r.name): str(r.specifier) for r in _manifest_requirements()
    }
    for line in manifest["requirements"]:
        req = Requirement(line)
        if canonicalize_name(req.name) in ours:
            assert ours[canonicalize_name(req.name)] == str(req.specifier)


def test_installed_versions_are_the_pinned_ones() -> None:
    """The test environment runs exactly what the manifest pins."""
    from importlib.metadata import version  # noqa: PLC0415

    for req in _manifest_requirements():
        assert version(req.name) == next(iter(req.specifier)).version


def test_development_requirements_repeat_the_manifest() -> None:
    """requirements_test.txt lists the manifest's runtime pins unchanged."""
    text = (ROOT / "requirements_test.txt").read_text(encoding="utf-8")
    lines = {
        canonicalize_name(Requirement(line).name): line
        for line in (raw.split("#", 1)[0].strip() for raw in text.splitlines())
        if line
    }
    for line in MANIFEST["requirements"]:
        assert lines.get(canonicalize_name(Requirement(line).name)) == line


def test_hacs_json_uses_only_schema_keys() -> None:
    """hacs.json holds keys from the HACS schema and the tested HA minimum."""
    hacs = json.loads((ROOT / "hacs.json").read_text(encoding="utf-8"))
    allowed = {
        "name",
        "content_in_root",
        "zip_release",
        "filename",
        "hide_default_branch",
        "country",
        "homeassistant",
        "hacs",
        "persistent_directory",
        "render_readme",
    }
    assert set(hacs) <= allowed
    assert hacs["name"]


def test_hacs_minimum_is_the_tested_release() -> None:
    """The minimum HA in hacs.json is the release the tests run on."""
    from homeassistant.const import __version__ as ha_version  # noqa: PLC0415

    hacs = json.loads((ROOT / "hacs.json").read_text(encoding="utf-8"))
    assert hacs["homeassistant"] == ha_version
    assert re.fullmatch(r"2026\.10\.\d+", ha_version)


def test_quality_scale_has_every_rule_decided() -> None:
    """Every rule in quality_scale.yaml is done or exempt with a reason."""
    import yaml  # noqa: PLC0415

    rules = yaml.safe_load(
        (INTEGRATION / "quality_scale.yaml").read_text(encoding="utf-8")
    )["rules"]
    assert len(rules) >= 50
    for name, value in rules.items():
        if isinstance(value, str):
            assert value == "done", name
        else:
            assert value["status"] in {"done", "exempt", "todo"}, name
            assert value.get("comment"), f"{name} needs a reason"
