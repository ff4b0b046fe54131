"""Fixtures for tests that run inside Home Assistant."""

from __future__ import annotations

from collections.abc import Iterator
import json
from pathlib import Path
import string
from typing import Any

from homeassistant import data_entry_flow
from homeassistant.config_entries import ConfigFlow, ConfigSubentryFlow, OptionsFlow
import pytest

STRINGS: dict[str, Any] = json.loads(
    (
        Path(__file__).resolve().parents[2]
        / "custom_components/stroomwijs/strings.json"
    ).read_text(encoding="utf-8")
)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load the integrations in custom_components/."""


def _section(flow: object) -> tuple[str, dict[str, Any]] | None:
    """Return where the texts of ``flow`` live in strings.json."""
    if isinstance(flow, ConfigSubentryFlow):
        kind = str(flow.handler[1])
        return f"config_subentries.{kind}", STRINGS["config_subentries"][kind]
    if isinstance(flow, OptionsFlow):
        return "options", STRINGS["options"]
    if isinstance(flow, ConfigFlow):
        return "config", STRINGS["config"]
    return None


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def flow_result_problems(flow: object, result: dict[str, Any]) -> list[str]:
    """Compare what a flow showed with strings.json; return the mismatches.

    A form's fields each need a label and a description, its errors and a
    menu's options a text, every placeholder of its description a value,
    and an abort reason a text.
    """
    found = _section(flow)
    if found is None or not type(flow).__module__.startswith(
        "custom_components.stroomwijs"
    ):
        return []
    where, section = found
    kind = result["type"]
    if kind is data_entry_flow.FlowResultType.ABORT:
        reason = result["reason"]
        return (
            [] if reason in section.get("abort", {}) else [f"{where}: abort {reason}"]
        )
    if kind not in (
        data_entry_flow.FlowResultType.FORM,
        data_entry_flow.FlowResultType.MENU,
    ):
        return []
    step_id = result["step_id"]
    step = section.get("step", {}).get(step_id)
    if step is None:
        return [f"{where}.step.{step_id}: no texts"]
    here = f"{where}.step.{step_id}"
    if kind is data_entry_flow.FlowResultType.MENU:
        problems = [
            f"{here}.menu_options.{option}: no text"
            for option in result.get("menu_options") or []
            if option not in step.get("menu_options", {})
        ]
    else:
        problems = _form_problems(here, step, section, result)
    given = set(result.get("description_placeholders") or {})
    missing = _placeholders(step.get("description", "")) - given
    if missing:
        problems.append(f"{here}: description placeholders without value {missing}")
    return problems


def _form_problems(
    here: str, step: dict[str, Any], section: dict[str, Any], result: dict[str, Any]
) -> list[str]:
    schema = result.get("data_schema")
    keys = [str(key) for key in (schema.schema if schema is not None else [])]
    problems = [
        f"{here}.data.{key}: no label"
        for key in keys
        if key not in step.get("data", {})
    ]
    problems += [
        f"{here}.data_description.{key}: no description"
        for key in keys
        if key not in step.get("data_description", {})
    ]
    problems += [
        f"{here}: error {error} has no text"
        for error in (result.get("errors") or {}).values()
        if error not in section.get("error", {})
    ]
    return problems


@pytest.fixture(autouse=True)
def check_flow_translations() -> Iterator[list[str]]:
    """Fail a test whose flows show anything strings.json cannot label.

    The offline stand-in for core's translation check in flow tests: it sees
    every step of every Stroomwijs flow the test runs.
    """
    problems: list[str] = []
    original = data_entry_flow.FlowManager._async_handle_step

    async def _checked(
        self: data_entry_flow.FlowManager[Any, Any, Any],
        flow: Any,  # noqa: ANN401 - any flow handler
        step_id: str,
        user_input: Any,  # noqa: ANN401 - form data or discovery info
    ) -> Any:  # noqa: ANN401 - the manager's own result type
        result = await original(self, flow, step_id, user_input)
        problems.extend(flow_result_problems(flow, dict(result)))
        return result

    data_entry_flow.FlowManager._async_handle_step = _checked  # type: ignore[method-assign]
    try:
        yield problems
    finally:
        data_entry_flow.FlowManager._async_handle_step = original  # type: ignore[method-assign]
    assert problems == [], "\n".join(problems)
