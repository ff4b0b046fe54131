"""Repair issues: translated, fixable where the user can fix them, and their flows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
import string
from typing import Any

from homeassistant.components.repairs import repairs_flow_manager
from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.stroomwijs.const import CONF_FUSE_A, CONF_PHASES, DOMAIN
from custom_components.stroomwijs.engine.household.runtime import PlanState
from custom_components.stroomwijs.engine.planner import solve
from custom_components.stroomwijs.engine.simulate.vtn import SimVtn, gac_program
from custom_components.stroomwijs.issues import (
    ISSUE_DSO_SIGNAL,
    ISSUE_SOURCE_FAILED,
    async_sync_limit_issues,
    dso_issue_id,
    plan_issue_id,
)
from custom_components.stroomwijs.limits_flow import (
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_EAN,
    CONF_LIMIT_KIND,
    CONF_TIMEOUT_MIN,
    CONF_URL,
    KIND_CAPACITY,
    KIND_OPENADR,
    SUBENTRY_GRID_LIMIT,
)
from custom_components.stroomwijs.repairs import (
    OpenAdrSettingsRepairFlow,
    PlanRepairFlow,
    async_create_fix_flow,
)

from .charger_support import setup_loaded
from .conftest import STRINGS
from .p1_support import until
from .test_planner import PRICES, _household, _prices

EAN = "871685900012345678"


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets; pytest-socket still limits connections to 127.0.0.1."""


@pytest.fixture
async def vtn() -> AsyncIterator[SimVtn]:
    """Run an OpenADR 3 VTN with one grid-aware charging program."""
    async with SimVtn() as server:
        server.add_program(gac_program("program-1"))
        yield server


def _openadr(vtn: SimVtn, title: str = "Netbeheerder") -> ConfigSubentryData:
    return ConfigSubentryData(
        data={
            CONF_LIMIT_KIND: KIND_OPENADR,
            CONF_URL: vtn.base_url,
            CONF_CLIENT_ID: vtn.client_id,
            CONF_CLIENT_SECRET: vtn.client_secret,
            CONF_EAN: EAN,
            CONF_TIMEOUT_MIN: 0.01,
        },
        subentry_type=SUBENTRY_GRID_LIMIT,
        title=title,
        unique_id=None,
    )


def _household_with(*subentries: ConfigSubentryData) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title="Thuis",
        version=1,
        minor_version=4,
        data={CONF_PHASES: 3, CONF_FUSE_A: 25.0},
        subentries_data=list(subentries),
    )


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _check_texts(issue: ir.IssueEntry, result: dict[str, Any] | None = None) -> None:
    """Check the issue's texts, and a shown step's labels, errors and placeholders."""
    texts = STRINGS["issues"][issue.translation_key]
    given = set(issue.translation_placeholders or {})
    if "description" in texts:
        assert _placeholders(texts["description"]) <= given
        return
    flow = texts["fix_flow"]
    if result is None:
        return
    if result["type"] is FlowResultType.ABORT:
        assert result["reason"] in flow["abort"]
        return
    if result["type"] is not FlowResultType.FORM:
        return
    step = flow["step"][result["step_id"]]
    keys = {str(key) for key in result["data_schema"].schema}
    assert keys <= set(step["data"])
    assert keys <= set(step["data_description"])
    for error in (result.get("errors") or {}).values():
        assert error in flow["error"]
    shown = given | set(result.get("description_placeholders") or {})
    assert _placeholders(step["description"]) <= shown


async def _lose_signal(hass: HomeAssistant, vtn: SimVtn) -> None:
    vtn.down = True
    await asyncio.sleep(1.0)  # longer than the 0.6 s signal timeout
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=10))
    await hass.async_block_till_done()


async def test_a_silent_openadr_server_has_a_repair_that_tries_new_settings(
    hass: HomeAssistant, vtn: SimVtn
) -> None:
    """The issue names the source; its flow tests the settings before it stores them."""
    assert await async_setup_component(hass, "repairs", {})
    entry = _household_with(_openadr(vtn))
    await setup_loaded(hass, entry)
    sid = next(iter(entry.subentries))
    ven = entry.runtime_data.household.limits.ven
    assert ven is not None
    await until(lambda: ven.watchdog.last_heard is not None)
    await _lose_signal(hass, vtn)
    issue_id = dso_issue_id(entry.entry_id, sid)
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_key == "dso_signal_lost"
    placeholders = issue.translation_placeholders or {}
    assert placeholders["source"] == "Netbeheerder"
    assert placeholders["household"] == "Thuis"
    assert placeholders["failsafe_w"] == "4200"
    assert placeholders["since"]  # it was heard at start
    _check_texts(issue)

    manager = repairs_flow_manager(hass)
    assert manager is not None
    result = dict(await manager.async_init(DOMAIN, context={"issue_id": issue_id}))
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "settings"
    _check_texts(issue, result)
    new = {
        CONF_URL: vtn.base_url + "/",
        CONF_CLIENT_ID: vtn.client_id,
        CONF_CLIENT_SECRET: "the-new-secret",
    }
    result = dict(await manager.async_configure(result["flow_id"], new))
    assert result["errors"] == {"base": "cannot_connect"}  # still down
    _check_texts(issue, result)
    vtn.down = False
    result = dict(await manager.async_configure(result["flow_id"], new))
    assert result["errors"] == {"base": "invalid_auth"}  # the old secret holds
    _check_texts(issue, result)
    vtn.client_secret = "the-new-secret"  # noqa: S105 - the operator issued a new one
    result = dict(await manager.async_configure(result["flow_id"], new))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    data = entry.subentries[sid].data
    assert data[CONF_CLIENT_SECRET] == "the-new-secret"
    assert data[CONF_URL] == vtn.base_url  # trailing slash dropped
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    ven = entry.runtime_data.household.limits.ven  # the reloaded household
    assert ven is not None
    assert await ven.async_poll()
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_server_never_reached_says_so(hass: HomeAssistant, vtn: SimVtn) -> None:
    """Down from the start: the issue says it was never reached, and is fixable."""
    vtn.down = True
    entry = _household_with(_openadr(vtn))
    await setup_loaded(hass, entry)
    sid = next(iter(entry.subentries))
    await _lose_signal(hass, vtn)
    issue = ir.async_get(hass).async_get_issue(
        DOMAIN, dso_issue_id(entry.entry_id, sid)
    )
    assert issue is not None
    assert issue.translation_key == "dso_signal_never"
    assert issue.is_fixable
    _check_texts(issue)
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_the_repair_of_a_removed_source_aborts(
    hass: HomeAssistant, vtn: SimVtn
) -> None:
    """A source (or household) removed meanwhile leaves nothing to fix."""
    entry = _household_with(_openadr(vtn))
    await setup_loaded(hass, entry)
    for data in (
        {"entry_id": entry.entry_id, "subentry_id": "gone"},
        {"entry_id": "no-such-entry", "subentry_id": "gone"},
        None,
    ):
        flow = OpenAdrSettingsRepairFlow(data)
        flow.hass = hass
        result = await flow.async_step_init()
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "source_gone"
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_other_failed_sources_get_one_issue_that_says_what_to_do(
    hass: HomeAssistant, vtn: SimVtn
) -> None:
    """A failing non-OpenADR source: one unfixable issue naming it; cleared after.

    It is named by its subentry's title, as the household's card shows it,
    not by the engine's name of its kind.
    """
    capacity = ConfigSubentryData(
        data={CONF_LIMIT_KIND: KIND_CAPACITY},
        subentry_type=SUBENTRY_GRID_LIMIT,
        title="Capaciteitstarief",
        unique_id=None,
    )
    entry = _household_with(_openadr(vtn), capacity)
    await setup_loaded(hass, entry)
    household = entry.runtime_data.household
    capacity_failed = ("capacity: failed (boom); failsafe limit",)
    effective = household.limits.effective
    assert effective is not None
    household.limits.effective = replace(effective, problems=capacity_failed)
    async_sync_limit_issues(hass, entry, household)
    issue_id = f"{ISSUE_SOURCE_FAILED}_{entry.entry_id}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert not issue.is_fixable
    assert (issue.translation_placeholders or {})["sources"] == "Capaciteitstarief"
    _check_texts(issue)
    household.limits.effective = effective
    async_sync_limit_issues(hass, entry, household)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    assert await hass.config_entries.async_unload(entry.entry_id)


def _failing_solver(problem: Any, now: Any, previous: Any) -> Any:  # noqa: ANN401
    msg = "HiGHS crashed"
    raise RuntimeError(msg)


async def test_failed_planning_has_a_repair_that_plans_again_or_switches_off(
    hass: HomeAssistant,
) -> None:
    """Plan again (still failing: said so; working: fixed), or optimiser off."""
    assert await async_setup_component(hass, "repairs", {})
    hass.states.async_set(PRICES, "0.1", _prices(tomorrow=True))
    async with _household(hass) as (entry, household, _car_id):
        household.ports.solver = _failing_solver
        status = await household.async_plan_now()
        assert status.state is PlanState.FALLBACK
        await hass.async_block_till_done()
        issue_id = plan_issue_id(entry.entry_id)
        issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
        assert issue is not None
        assert issue.is_fixable
        assert issue.translation_key == "plan_failed_solver_error"
        assert issue.translation_placeholders == {"household": "Thuis"}
        manager = repairs_flow_manager(hass)
        assert manager is not None
        result = dict(await manager.async_init(DOMAIN, context={"issue_id": issue_id}))
        assert result["step_id"] == "confirm"
        _check_texts(issue, result)
        result = dict(
            await manager.async_configure(result["flow_id"], {"optimiser_off": False})
        )
        assert result["errors"] == {"base": "plan_still_failing"}
        _check_texts(issue, result)
        household.ports.solver = lambda problem, now, previous: solve(
            problem, now=now, warm_start=previous
        )
        result = dict(
            await manager.async_configure(result["flow_id"], {"optimiser_off": False})
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        await hass.async_block_till_done()
        assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
        assert household.enabled

        household.ports.solver = _failing_solver
        await household.async_plan_now()
        await hass.async_block_till_done()
        assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
        result = dict(await manager.async_init(DOMAIN, context={"issue_id": issue_id}))
        result = dict(
            await manager.async_configure(result["flow_id"], {"optimiser_off": True})
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        await hass.async_block_till_done()
        assert not household.enabled
        assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
        state = hass.states.get("switch.thuis_optimiser")
        assert state is not None
        assert state.state == "off"


async def test_the_plan_repair_of_an_unloaded_household_aborts(
    hass: HomeAssistant,
) -> None:
    """Nothing to plan: the flow says the household is not loaded."""
    entry = _household_with()
    entry.add_to_hass(hass)
    flow = PlanRepairFlow({"entry_id": entry.entry_id})
    flow.hass = hass
    result = await flow.async_step_init()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "household_gone"


async def test_only_fixable_issues_have_a_flow(hass: HomeAssistant) -> None:
    """An issue without a fix flow is refused by name."""
    with pytest.raises(ValueError, match="limit_not_holdable_x"):
        await async_create_fix_flow(hass, "limit_not_holdable_x", None)
    assert isinstance(
        await async_create_fix_flow(hass, f"{ISSUE_DSO_SIGNAL}_a_b", {}),
        OpenAdrSettingsRepairFlow,
    )


def test_every_issue_is_translated_and_says_what_to_do_or_has_a_flow() -> None:
    """English and Dutch: every issue key the integration raises has its texts."""
    raised = {
        "dso_signal_lost",
        "dso_signal_never",
        "limit_source_failed",
        "limit_not_holdable",
        "plan_failed_timeout",
        "plan_failed_invalid_problem",
        "plan_failed_no_plan",
        "plan_failed_solver_error",
        "gateway_unreachable",
        "gateway_version_mismatch",
    }
    assert set(STRINGS["issues"]) == raised
    for key in raised:
        issue = STRINGS["issues"][key]
        assert "title" in issue
        assert ("description" in issue) != ("fix_flow" in issue)
