"""hassfest's checks that need a running Home Assistant.

- services.yaml describes exactly the actions the integration registers, with
  the fields their schemas accept, and strings.json names each of them;
- CONFIG_SCHEMA says "config entries only": YAML under ``stroomwijs:`` is
  refused with Home Assistant's own repair issue;
- the flow translation check (conftest.py) reports what it should.
"""

from __future__ import annotations

import json
from pathlib import Path

from homeassistant.config_entries import ConfigFlow
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
import probatio as vol
import yaml

from custom_components.stroomwijs.const import DOMAIN

from .conftest import flow_result_problems

INTEGRATION = Path(__file__).resolve().parents[2] / "custom_components/stroomwijs"
SERVICES = yaml.safe_load((INTEGRATION / "services.yaml").read_text(encoding="utf-8"))
STRINGS = json.loads((INTEGRATION / "strings.json").read_text(encoding="utf-8"))


async def test_services_yaml_matches_the_registered_actions(
    hass: HomeAssistant,
) -> None:
    """Every registered action is described, and nothing else is."""
    assert await async_setup_component(hass, DOMAIN, {})
    registered = hass.services.async_services_for_domain(DOMAIN)
    assert set(registered) == set(SERVICES)
    assert set(STRINGS["services"]) == set(SERVICES)
    for name, service in registered.items():
        described = set(SERVICES[name].get("fields", {}))
        assert set(STRINGS["services"][name].get("fields", {})) == described, name
        schema = service.schema
        assert schema is not None, name
        accepted = {str(key) for key in schema.schema}
        assert accepted == described, name
        required = {str(key) for key in schema.schema if isinstance(key, vol.Required)}
        marked = {
            field
            for field, spec in SERVICES[name].get("fields", {}).items()
            if (spec or {}).get("required")
        }
        assert required == marked, name


async def test_yaml_configuration_is_refused_with_a_repair(
    hass: HomeAssistant,
) -> None:
    """CONFIG_SCHEMA is config-entry-only: YAML raises core's issue."""
    assert await async_setup_component(hass, DOMAIN, {DOMAIN: {"fuse_a": 25}})
    issue = ir.async_get(hass).async_get_issue(
        "homeassistant", f"config_entry_only_{DOMAIN}"
    )
    assert issue is not None


class _Flow(ConfigFlow):
    """A stand-in config flow of this integration's module."""

    __module__ = "custom_components.stroomwijs.config_flow"


def test_flow_check_reports_missing_texts_and_placeholders() -> None:
    """A field without text, an unknown error, a placeholder without value."""
    flow = _Flow()
    flow.handler = DOMAIN
    problems = flow_result_problems(
        flow,
        {
            "type": FlowResultType.FORM,
            "step_id": "discovery_confirm",
            "data_schema": vol.Schema({vol.Required("unlabelled"): str}),
            "errors": {"base": "no_such_error"},
            "description_placeholders": {"name": "P1"},
        },
    )
    assert problems == [
        "config.step.discovery_confirm.data.unlabelled: no label",
        "config.step.discovery_confirm.data_description.unlabelled: no description",
        "config.step.discovery_confirm: error no_such_error has no text",
        (
            "config.step.discovery_confirm: description placeholders without value "
            "{'host'}"
        ),
    ]
    assert flow_result_problems(
        flow, {"type": FlowResultType.ABORT, "reason": "no_such_reason"}
    ) == ["config: abort no_such_reason"]
    assert flow_result_problems(
        flow, {"type": FlowResultType.FORM, "step_id": "no_such_step"}
    ) == ["config.step.no_such_step: no texts"]
