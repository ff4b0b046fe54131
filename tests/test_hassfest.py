"""Offline checks that stand in for hassfest and HACS validation in CI.

hassfest (home-assistant/core ``script/hassfest``) and HACS's action need the
network or a core checkout; these tests apply the same rules to our files:

- manifest: keys, their order, their values;
- strings.json and every translation: the layout Home Assistant loads, and
  each text free of HTML, URLs, quoted or non-identifier placeholders and
  stray spaces; ``data_description`` only for fields that exist;
- en.json equals strings.json, nl.json has the same keys and placeholders;
- icons.json: the layout, ``mdi:`` icons, an icon for every action, and only
  for entities and states that exist;
- quality_scale.yaml: all 54 rules, each done, or exempt with a reason;
- HACS: hacs.json, brand images (sizes, PNG, transparency) and the licence.

The checks that need a running Home Assistant (registered services against
services.yaml, CONFIG_SCHEMA, placeholders a flow really passes) are in
tests/ha/test_hassfest_runtime.py.
"""

from __future__ import annotations

from collections.abc import Iterator
import json
from pathlib import Path
import re
import string
from typing import Any, Final

from homeassistant.helpers import config_validation as cv
from PIL import Image
import pytest
import voluptuous
import yaml

ROOT = Path(__file__).resolve().parent.parent
INTEGRATION = ROOT / "custom_components/stroomwijs"
MANIFEST = json.loads((INTEGRATION / "manifest.json").read_text(encoding="utf-8"))
STRINGS = json.loads((INTEGRATION / "strings.json").read_text(encoding="utf-8"))
TRANSLATIONS = sorted((INTEGRATION / "translations").glob("*.json"))

# The 54 rules of the integration quality scale (developers.home-assistant.io,
# "Integration quality scale" > rules), by tier.
QUALITY_SCALE_RULES = {
    "bronze": [
        "action-setup",
        "appropriate-polling",
        "brands",
        "common-modules",
        "config-flow",
        "config-flow-test-coverage",
        "dependency-transparency",
        "docs-actions",
        "docs-conditions",
        "docs-high-level-description",
        "docs-installation-instructions",
        "docs-removal-instructions",
        "docs-triggers",
        "entity-event-setup",
        "entity-unique-id",
        "has-entity-name",
        "runtime-data",
        "test-before-configure",
        "test-before-setup",
        "unique-config-entry",
    ],
    "silver": [
        "action-exceptions",
        "config-entry-unloading",
        "docs-configuration-parameters",
        "docs-installation-parameters",
        "entity-unavailable",
        "integration-owner",
        "log-when-unavailable",
        "parallel-updates",
        "reauthentication-flow",
        "test-coverage",
    ],
    "gold": [
        "devices",
        "diagnostics",
        "discovery",
        "discovery-update-info",
        "docs-data-update",
        "docs-examples",
        "docs-known-limitations",
        "docs-supported-devices",
        "docs-supported-functions",
        "docs-troubleshooting",
        "docs-use-cases",
        "dynamic-devices",
        "entity-category",
        "entity-device-class",
        "entity-disabled-by-default",
        "entity-translations",
        "exception-translations",
        "icon-translations",
        "reconfiguration-flow",
        "repair-issues",
        "stale-devices",
    ],
    "platinum": ["async-dependency", "inject-websession", "strict-typing"],
}

# Text rules (hassfest's translation validator, restated).
_URL = re.compile(
    r"(?:\b(?:ftps?|scp|https?|mqtts?|socket|socks5)://|\bwww\.)"
    r"[a-z0-9]+(?:[-.][a-z0-9]+)*\.[a-z]{2,5}",
    re.IGNORECASE,
)
_QUOTED_PLACEHOLDER = re.compile(r"'\{\w+\}'")
_COMBINED_REFERENCE = re.compile(r".\[%|%\].")
_TRANSLATION_KEY = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
_SLUG = re.compile(r"^[a-z0-9_]+$")


def text_problems(value: object, *, placeholders: bool = True) -> list[str]:
    """Return why ``value`` cannot be a translated text (empty: it can)."""
    if not isinstance(value, str):
        return [f"not a string: {value!r}"]
    problems: list[str] = []
    try:
        cv.string_with_no_html(value)
    except voluptuous.Invalid:
        problems.append("contains HTML (a <tag> is read as markup)")
    if value != value.strip():
        problems.append("leading or trailing spaces")
    if _URL.search(value):
        problems.append("contains a URL: pass it as a placeholder")
    if _QUOTED_PLACEHOLDER.search(value):
        problems.append("placeholder in single quotes")
    if _COMBINED_REFERENCE.search(value):
        problems.append("a reference combined with other text")
    return problems + _placeholder_problems(value, placeholders=placeholders)


def _placeholder_problems(value: str, *, placeholders: bool) -> list[str]:
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(value) if name]
    except ValueError as err:
        return [f"unbalanced braces: {err}"]
    if not placeholders:
        return [f"placeholder {{{name}}} is not allowed here" for name in names]
    return [
        f"placeholder {{{name}}} is not an identifier"
        for name in names
        if not name.isidentifier()
    ]


def _texts(tree: dict[str, Any], path: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in tree.items():
        where = f"{path}.{key}" if path else key
        if isinstance(value, dict):
            yield from _texts(value, where)
        else:
            yield where, value


def _flow_problems(flow: dict[str, Any], where: str, *, subentry: bool) -> list[str]:
    allowed = {"flow_title", "step", "error", "abort", "progress", "create_entry"}
    allowed |= {"initiate_flow", "entry_type"} if subentry else {"initiate_flow"}
    problems = [f"{where}.{key}: unknown key" for key in set(flow) - allowed]
    if "title" in flow:
        problems.append(f"{where}.title: moved to the root of strings.json")
    if subentry:
        problems += [
            f"{where}: needs {key}"
            for key in ("entry_type", "initiate_flow")
            if key not in flow
        ]
        if "user" not in flow.get("initiate_flow", {}):
            problems.append(f"{where}.initiate_flow: needs user")
    elif set(flow.get("initiate_flow", {})) - {"user"}:
        problems.append(f"{where}.initiate_flow: only user")
    step_keys = {
        "title",
        "description",
        "data",
        "data_description",
        "menu_options",
        "menu_option_descriptions",
        "submit",
        "sections",
    }
    for step_id, step in flow.get("step", {}).items():
        here = f"{where}.step.{step_id}"
        problems += [f"{here}.{key}: unknown key" for key in set(step) - step_keys]
        problems += [
            f"{here}.data_description.{field}: no such field in data"
            for field in set(step.get("data_description", {}))
            - set(step.get("data", {}))
        ]
        if step.get("title") == MANIFEST["name"]:
            problems.append(f"{here}.title: do not title a step with the brand name")
    return problems


def _entity_problems(entities_by_platform: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    entity_keys = {"name", "state", "state_attributes", "unit_of_measurement"}
    for platform, entities in entities_by_platform.items():
        if not _SLUG.match(platform):
            problems.append(f"entity.{platform}: not a platform")
        for key, entity in entities.items():
            here = f"entity.{platform}.{key}"
            if not _TRANSLATION_KEY.match(key):
                problems.append(f"{here}: invalid translation key")
            problems += [
                f"{here}.{name}: unknown key" for name in set(entity) - entity_keys
            ]
            states = dict(entity.get("state", {}))
            for attribute in entity.get("state_attributes", {}).values():
                states.update(attribute.get("state", {}))
            for state, text in states.items():
                if not _TRANSLATION_KEY.match(state):
                    problems.append(f"{here}: invalid state key {state}")
                problems += [
                    f"{here}.{state}: {problem}"
                    for problem in text_problems(text, placeholders=False)
                ]
    return problems


def _service_problems(services: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    for name, service in services.items():
        here = f"services.{name}"
        if not _TRANSLATION_KEY.match(name):
            problems.append(f"{here}: invalid service name")
        problems += [
            f"{here}: needs {key}"
            for key in ("name", "description")
            if key not in service
        ]
        for field, texts in service.get("fields", {}).items():
            keys = set(texts)
            if (
                not {"name", "description"}
                <= keys
                <= {"name", "description", "example"}
            ):
                problems.append(f"{here}.fields.{field}: name and description")
    return problems


def _other_problems(strings: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    for name, issue in strings.get("issues", {}).items():
        if "title" not in issue:
            problems.append(f"issues.{name}: needs a title")
        if ("description" in issue) == ("fix_flow" in issue):
            problems.append(f"issues.{name}: a description or a fix_flow")
    problems += [
        f"exceptions.{name}: a slug with only a message"
        for name, exception in strings.get("exceptions", {}).items()
        if not _SLUG.match(name) or set(exception) - {"message"}
    ]
    for name, selector in strings.get("selector", {}).items():
        problems += [
            f"selector.{name}.options.{option}: invalid key"
            for option in selector.get("options", {})
            if not _TRANSLATION_KEY.match(option)
        ]
    return problems


TOP_LEVEL_KEYS = {
    "title",
    "config",
    "config_subentries",
    "options",
    "selector",
    "entity",
    "entity_component",
    "device",
    "exceptions",
    "services",
    "issues",
    "conditions",
    "triggers",
    "device_automation",
    "system_health",
    "common",
}


def strings_problems(strings: dict[str, Any]) -> list[str]:
    """Check the layout of a strings or translation file; return the problems."""
    problems = [
        f"{key}: unknown top-level key" for key in set(strings) - TOP_LEVEL_KEYS
    ]
    for section in ("config", "options"):
        if section in strings:
            problems += _flow_problems(strings[section], section, subentry=False)
    for kind, flow in strings.get("config_subentries", {}).items():
        problems += _flow_problems(flow, f"config_subentries.{kind}", subentry=True)
    problems += _entity_problems(strings.get("entity", {}))
    problems += _service_problems(strings.get("services", {}))
    problems += _other_problems(strings)
    for where, value in _texts(strings):
        problems += [f"{where}: {problem}" for problem in text_problems(value)]
    return problems


# Manifest ---------------------------------------------------------------------

IOT_CLASSES = {
    "assumed_state",
    "calculated",
    "cloud_polling",
    "cloud_push",
    "local_polling",
    "local_push",
}
INTEGRATION_TYPES = {
    "device",
    "entity",
    "hardware",
    "helper",
    "hub",
    "service",
    "system",
    "virtual",
}
MANIFEST_KEYS = {
    "domain",
    "name",
    "after_dependencies",
    "bluetooth",
    "codeowners",
    "config_flow",
    "dependencies",
    "dhcp",
    "documentation",
    "homekit",
    "import_executor",
    "integration_type",
    "iot_class",
    "issue_tracker",
    "loggers",
    "mqtt",
    "quality_scale",
    "requirements",
    "single_config_entry",
    "ssdp",
    "usb",
    "version",
    "zeroconf",
}


def test_manifest_has_only_known_keys_in_hassfest_order() -> None:
    """Domain, name, then the rest sorted; no key hassfest does not know."""
    keys = list(MANIFEST)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    assert set(keys) <= MANIFEST_KEYS, set(keys) - MANIFEST_KEYS


def test_manifest_values_are_valid() -> None:
    """Values hassfest's manifest schema accepts for a custom integration."""
    assert re.fullmatch(r"[a-z0-9_]+", MANIFEST["domain"])
    assert MANIFEST["iot_class"] in IOT_CLASSES
    assert MANIFEST["integration_type"] in INTEGRATION_TYPES
    assert MANIFEST["codeowners"]
    assert all(owner.startswith("@") for owner in MANIFEST["codeowners"])
    for key in ("documentation", "issue_tracker"):
        assert MANIFEST[key].startswith("https://"), key
    assert all(isinstance(name, str) and name for name in MANIFEST["loggers"])
    for entry in MANIFEST.get("zeroconf", []):
        kind = entry if isinstance(entry, str) else entry["type"]
        assert re.fullmatch(r"_[a-z0-9-]+\._(tcp|udp)\.local\.", kind), kind
    assert MANIFEST.get("dependencies", []) == sorted(MANIFEST.get("dependencies", []))
    assert MANIFEST["requirements"] == sorted(MANIFEST["requirements"], key=str.lower)


# Strings and translations -----------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [INTEGRATION / "strings.json", *TRANSLATIONS],
    ids=lambda path: path.name,
)
def test_strings_follow_the_translation_schema(path: Path) -> None:
    """Layout and texts as hassfest's translation validator wants them."""
    strings = json.loads(path.read_text(encoding="utf-8"))
    assert strings_problems(strings) == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Set the URL to ws://<host>:9000/ocpp/<id>.", "HTML"),
        ("See https://example.com/docs for more.", "URL"),
        ("Name '{name}' exists.", "single quotes"),
        ("Charger {charger id}.", "identifier"),
        (" padded", "spaces"),
        ("[%key:common::config_flow::data::host%] of it", "combined"),
    ],
)
def test_the_text_check_catches_what_hassfest_rejects(text: str, problem: str) -> None:
    """The rules themselves: each known fault is reported."""
    assert any(problem in found for found in text_problems(text))


def test_the_text_check_accepts_placeholders_and_plain_urls_of_other_schemes() -> None:
    """A placeholder, a path, a ws:// template without a real host are fine."""
    assert text_problems("Set it to {url} then /ocpp/ and the id.") == []
    assert text_problems("Chargers connect to ws://ADDRESS:PORT/ocpp/ID.") == []
    assert text_problems("Charging {name}", placeholders=False)


def test_every_flow_step_with_fields_has_their_labels() -> None:
    """A data_description without a label is a mistake the UI shows raw."""
    for section in ("config", "options"):
        for step_id, step in STRINGS[section]["step"].items():
            assert set(step.get("data_description", {})) <= set(step.get("data", {}))
            assert step.get("title") or step.get("description") or step_id


# icons.json -------------------------------------------------------------------

ICONS = json.loads((INTEGRATION / "icons.json").read_text(encoding="utf-8"))
_MDI = re.compile(r"^mdi:[a-z0-9]+(?:-[a-z0-9]+)*$")


def _icon_values(tree: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    yield from _texts(tree)


def test_icons_are_mdi_icons() -> None:
    """Every icon is an ``mdi:`` name."""
    for where, icon in _icon_values(ICONS):
        assert isinstance(icon, str), where
        assert _MDI.match(icon), f"{where}: {icon}"


def test_icons_cover_every_action_and_only_known_entities() -> None:
    """An icon per action; entity icons only for translation keys and states."""
    services = yaml.safe_load((INTEGRATION / "services.yaml").read_text())
    assert set(ICONS) <= {"entity", "services"}
    assert set(ICONS["services"]) == set(services)
    for name, icon in ICONS["services"].items():
        assert set(icon) <= {"service", "sections"}, name
    for platform, entities in ICONS["entity"].items():
        known = STRINGS["entity"].get(platform, {})
        for key, icon in entities.items():
            assert key in known, f"{platform}.{key} has no translation"
            assert set(icon) <= {"default", "state", "state_attributes", "range"}
            assert "default" in icon, f"{platform}.{key}"
            states = set(known[key].get("state", {}))
            if platform in {"binary_sensor", "switch"}:
                states |= {"on", "off"}
            assert set(icon.get("state", {})) <= states, f"{platform}.{key}"
            for attribute, attribute_icons in icon.get("state_attributes", {}).items():
                attribute_states = known[key]["state_attributes"][attribute]["state"]
                assert set(attribute_icons.get("state", {})) <= set(attribute_states)


DEVICE_CLASS_ICON: Final = frozenset(
    {
        "sensor.phase_power",  # power: mdi:flash
        "sensor.phase_current",  # current: mdi:current-ac
        "sensor.phase_voltage",  # voltage: mdi:sine-wave
        "sensor.driver_power",  # power
        "sensor.charger_session_energy",  # energy: mdi:lightning-bolt
        "sensor.charger_soc",  # battery: an icon per charge level
    }
)
"""Entities whose device class gives the icon in exactly their context.

The rule says not to override those ("a PM2.5 sensor entity would not get a
custom icon"); the battery class also shows the charge level, which a fixed
icon would hide.
"""


def test_every_translated_entity_has_an_icon() -> None:
    """icon-translations: an icon per named entity, unless its device class's."""
    for platform, entities in STRINGS["entity"].items():
        for key in entities:
            icons = ICONS["entity"].get(platform, {})
            if f"{platform}.{key}" in DEVICE_CLASS_ICON:
                assert key not in icons, f"{platform}.{key}: the device class's"
            else:
                assert key in icons, f"{platform}.{key}"


def test_every_charger_state_has_an_icon() -> None:
    """The charger-state sensor shows an icon per state."""
    states = STRINGS["entity"]["sensor"]["charger_state"]["state"]
    assert set(ICONS["entity"]["sensor"]["charger_state"]["state"]) == set(states)


# Quality scale ----------------------------------------------------------------


def test_quality_scale_lists_all_54_rules_each_decided_with_reasons() -> None:
    """Every rule is there, done or exempt; exempt always says why."""
    rules = yaml.safe_load((INTEGRATION / "quality_scale.yaml").read_text())["rules"]
    expected = {rule for tier in QUALITY_SCALE_RULES.values() for rule in tier}
    assert len(expected) == 54
    assert set(rules) == expected, set(rules) ^ expected
    for name, value in rules.items():
        status = value if isinstance(value, str) else value["status"]
        assert status in {"done", "exempt"}, f"{name}: {status}"
        if status != "done":
            assert isinstance(value, dict), f"{name}: {status} needs a comment"
            assert str(value.get("comment", "")).strip(), f"{name} needs a reason"


# HACS -------------------------------------------------------------------------

HACS_KEYS = {
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


def test_hacs_repository_layout() -> None:
    """One integration in custom_components, a README and valid hacs.json."""
    integrations = [
        path for path in (ROOT / "custom_components").iterdir() if path.is_dir()
    ]
    integrations = [path for path in integrations if not path.name.startswith("__")]
    assert [path.name for path in integrations] == [MANIFEST["domain"]]
    assert (ROOT / "README.md").is_file()
    hacs = json.loads((ROOT / "hacs.json").read_text(encoding="utf-8"))
    assert set(hacs) <= HACS_KEYS
    assert isinstance(hacs["name"], str)
    assert hacs.get("content_in_root", False) is False
    assert hacs.get("zip_release", False) is False or "filename" in hacs
    for code in hacs.get("country", []):
        assert re.fullmatch(r"[A-Z]{2}", code)
    for key in ("domain", "documentation", "issue_tracker", "codeowners", "name"):
        assert MANIFEST.get(key), f"HACS needs {key} in the manifest"
    assert MANIFEST.get("version"), "a custom integration needs a version"


def test_licence_is_the_apache_licence_the_readme_names() -> None:
    """A LICENSE at the root, the full Apache-2.0 text, as pyproject says."""
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text
    assert "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert len(text.splitlines()) > 150  # the whole text, not a pointer to it
    assert 'license = "Apache-2.0"' in (ROOT / "pyproject.toml").read_text()
    assert "Apache" in (ROOT / "README.md").read_text(encoding="utf-8")


BRAND = INTEGRATION / "brand"


@pytest.mark.parametrize(("name", "size"), [("icon.png", 256), ("icon@2x.png", 512)])
def test_brand_icons_are_square_pngs_of_the_required_size(name: str, size: int) -> None:
    """HA's brand rules: icon 256x256, icon@2x 512x512, transparent PNG."""
    with Image.open(BRAND / name) as image:
        assert image.format == "PNG"
        assert image.size == (size, size)
        assert image.mode == "RGBA"
        assert image.getextrema()[3][0] == 0  # some transparency
        box = image.getbbox()
    assert box is not None
    # Trimmed: the drawing reaches (nearly) every edge.
    assert box[0] <= 2
    assert box[1] <= 2
    assert box[2] >= size - 2
    assert box[3] >= size - 2


@pytest.mark.parametrize(
    ("name", "shortest"),
    [
        ("logo.png", (128, 256)),
        ("logo@2x.png", (256, 512)),
        ("dark_logo.png", (128, 256)),
        ("dark_logo@2x.png", (256, 512)),
    ],
)
def test_brand_logos_are_trimmed_landscape_pngs(
    name: str, shortest: tuple[int, int]
) -> None:
    """Logos: landscape, shortest side within HA's bounds, trimmed."""
    with Image.open(BRAND / name) as image:
        assert image.format == "PNG"
        width, height = image.size
        assert width >= height
        assert shortest[0] <= min(width, height) <= shortest[1]
        box = image.getbbox()
    assert box is not None
    assert box[0] <= 2
    assert box[1] <= 2
    assert box[2] >= width - 2
    assert box[3] >= height - 2


def test_brand_folder_holds_only_images_home_assistant_serves() -> None:
    """The brands proxy serves these names; anything else is never shown."""
    allowed = {
        f"{dark}{kind}{hidpi}.png"
        for dark in ("", "dark_")
        for kind in ("icon", "logo")
        for hidpi in ("", "@2x")
    }
    present = {path.name for path in BRAND.iterdir()}
    assert {"icon.png", "logo.png"} <= present
    assert present <= allowed
