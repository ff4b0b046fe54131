"""The household's repair issues, and the reauthentications its runtime starts.

Every issue is translated (strings.json ``issues``); none carries engine
text in its placeholders, only names, numbers and times. Where the user can
fix the cause from the UI the issue is fixable (``repairs.py`` holds the
flows); the others say what to do.

- ``dso_signal_lost`` / ``dso_signal_never``: an OpenADR server silent for
  its timeout. Fixable: check the server's address and credentials.
- ``limit_source_failed``: another limit source raised an error. Not
  fixable here: reconfigure or remove that source.
- ``plan_failed_<cause>``: planning failed (``timeout``, ``invalid_problem``,
  ``no_plan``, ``solver_error``). Fixable: plan again, or switch the
  optimiser off.
- ``limit_not_holdable``: the uncontrolled load alone is over the limit.
  Not fixable here: switch large loads off by hand.

Credentials a server or charger refuses are not repairs: the runtime starts
the subentry's reauthentication (``REAUTH_SUBENTRY``), which asks for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util

from .const import DOMAIN, REAUTH_SUBENTRY
from .engine.drivers.ocpp import OcppCharger
from .engine.household import Household
from .engine.household.chargers import ChargerHandle
from .engine.household.runtime import (
    PLAN_FAILURE_INVALID,
    PLAN_FAILURE_NO_PLAN,
    PLAN_FAILURE_SOLVER,
    PLAN_FAILURE_TIMEOUT,
    PROBLEM_DSO_SIGNAL,
    PROBLEM_NOT_HOLDABLE,
    PROBLEM_PLAN_FAILED,
)
from .engine.limits.openadr import OpenAdrVen
from .limits_flow import (
    CONF_LIMIT_KIND,
    KIND_CAPACITY,
    KIND_DIM,
    KIND_WINDOW,
    SUBENTRY_GRID_LIMIT,
)
from .models import StroomwijsConfigEntry

ISSUE_DSO_SIGNAL: Final = "dso_signal_lost"
ISSUE_DSO_NEVER: Final = "dso_signal_never"
ISSUE_SOURCE_FAILED: Final = "limit_source_failed"
ISSUE_PLAN_FAILED: Final = "plan_failed"
ISSUE_NOT_HOLDABLE: Final = "limit_not_holdable"
PLAN_CAUSES: Final = frozenset(
    {
        PLAN_FAILURE_TIMEOUT,
        PLAN_FAILURE_INVALID,
        PLAN_FAILURE_NO_PLAN,
        PLAN_FAILURE_SOLVER,
    }
)
DATA_ENTRY_ID: Final = "entry_id"
DATA_SUBENTRY_ID: Final = "subentry_id"


def dso_issue_id(entry_id: str, subentry_id: str) -> str:
    """Return the issue id of one OpenADR source's lost signal."""
    return f"{ISSUE_DSO_SIGNAL}_{entry_id}_{subentry_id}"


def plan_issue_id(entry_id: str) -> str:
    """Return the issue id of the household's failed planning."""
    return f"{ISSUE_PLAN_FAILED}_{entry_id}"


def _entry_issue_ids(hass: HomeAssistant, entry_id: str) -> list[str]:
    return [
        issue_id
        for domain, issue_id in ir.async_get(hass).issues
        if domain == DOMAIN and entry_id in issue_id
    ]


@callback
def async_delete_issues(hass: HomeAssistant, entry_id: str) -> None:
    """Delete every issue of a household (it is removed)."""
    for issue_id in _entry_issue_ids(hass, entry_id):
        ir.async_delete_issue(hass, DOMAIN, issue_id)


def openadr_sources(
    entry: StroomwijsConfigEntry, household: Household
) -> list[tuple[str, OpenAdrVen]]:
    """Pair each OpenADR subentry id with its running VEN (the config's order)."""
    ids = [limit.id for limit in household.config.limits if limit.kind == "openadr"]
    return [
        (sid, ven)
        for sid, ven in zip(ids, household.limits.vens, strict=False)
        if sid in entry.subentries
    ]


@callback
def async_update_problem(
    hass: HomeAssistant,
    entry: StroomwijsConfigEntry,
    household: Household | None,
    data: Mapping[str, Any],
) -> None:
    """Show (or clear) the repair issue of one household problem.

    ``household`` is None when the household runs in the gateway add-on: its
    limit sources are not in this process, so a lost DSO signal is told as a
    failed source (what to do), not as a fixable per-source issue.
    """
    key = str(data.get("key"))
    if key == PROBLEM_DSO_SIGNAL:
        if household is not None:
            async_sync_limit_issues(hass, entry, household)
        else:
            _remote_source_issue(hass, entry, active=bool(data.get("active")))
        return
    details: dict[str, Any] = dict(data.get("details") or {})
    if key == PROBLEM_PLAN_FAILED:
        issue_id = plan_issue_id(entry.entry_id)
        if not data.get("active"):
            ir.async_delete_issue(hass, DOMAIN, issue_id)
            return
        cause = str(details.get("cause"))
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            is_fixable=True,
            is_persistent=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=f"{ISSUE_PLAN_FAILED}_"
            + (cause if cause in PLAN_CAUSES else PLAN_FAILURE_SOLVER),
            translation_placeholders={"household": entry.title},
            data={DATA_ENTRY_ID: entry.entry_id},
        )
    elif key == PROBLEM_NOT_HOLDABLE:
        issue_id = f"{ISSUE_NOT_HOLDABLE}_{entry.entry_id}"
        if not data.get("active"):
            ir.async_delete_issue(hass, DOMAIN, issue_id)
            return
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=ISSUE_NOT_HOLDABLE,
            translation_placeholders={
                "household": entry.title,
                "limit_w": str(details.get("limit_w", "?")),
                "shortfall_w": str(details.get("shortfall_w", "?")),
            },
        )


@callback
def _remote_source_issue(
    hass: HomeAssistant, entry: StroomwijsConfigEntry, *, active: bool
) -> None:
    issue_id = f"{ISSUE_SOURCE_FAILED}_{entry.entry_id}"
    if not active:
        ir.async_delete_issue(hass, DOMAIN, issue_id)
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key=ISSUE_SOURCE_FAILED,
        translation_placeholders={"household": entry.title, "sources": "OpenADR"},
    )


_SOURCE_KINDS: Final = {
    "window": KIND_WINDOW,
    "capacity": KIND_CAPACITY,
    "dim14a": KIND_DIM,
}
"""The engine's name of a limit source, and the kind of subentry it comes from."""


def source_titles(entry: StroomwijsConfigEntry, sources: list[str]) -> str:
    """Name failed limit sources as the household's card does: by their titles.

    The engine names a source by its kind (``window``, ``capacity``); the
    user knows it by the title of its grid-limit subentry, in their language.
    A source without a subentry keeps the engine's name.
    """
    names: set[str] = set()
    for source in sources:
        kind = _SOURCE_KINDS.get(source)
        titles = {
            sub.title
            for sub in entry.subentries.values()
            if kind is not None
            and sub.subentry_type == SUBENTRY_GRID_LIMIT
            and sub.data.get(CONF_LIMIT_KIND) == kind
        }
        names |= titles or {source}
    return ", ".join(sorted(names))


@callback
def async_sync_limit_issues(
    hass: HomeAssistant, entry: StroomwijsConfigEntry, household: Household
) -> None:
    """Make the limit sources' issues match their state now.

    Each silent OpenADR server has a fixable issue of its own; other failed
    sources share one that says what to do.
    """
    now = household.ports.clock()
    wanted: set[str] = set()
    covered: set[str] = set()
    for sid, ven in openadr_sources(entry, household):
        if ven.problem(now) is None:
            continue
        covered.add(ven.name)
        issue_id = dso_issue_id(entry.entry_id, sid)
        wanted.add(issue_id)
        heard = ven.watchdog.last_heard
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            is_fixable=True,
            is_persistent=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=ISSUE_DSO_SIGNAL if heard else ISSUE_DSO_NEVER,
            translation_placeholders={
                "household": entry.title,
                "source": entry.subentries[sid].title,
                "since": ""
                if heard is None
                else dt_util.as_local(heard).strftime("%Y-%m-%d %H:%M"),
                "failsafe_w": f"{ven.failsafe_import_w:.0f}",
            },
            data={DATA_ENTRY_ID: entry.entry_id, DATA_SUBENTRY_ID: sid},
        )
    effective = household.limits.effective
    failed = sorted(
        {
            problem.partition(":")[0]
            for problem in (effective.problems if effective is not None else ())
        }
        - covered
    )
    if failed:
        issue_id = f"{ISSUE_SOURCE_FAILED}_{entry.entry_id}"
        names = source_titles(entry, failed)
        wanted.add(issue_id)
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=ISSUE_SOURCE_FAILED,
            translation_placeholders={
                "household": entry.title,
                "sources": names,
            },
        )
    for issue_id in _entry_issue_ids(hass, entry.entry_id):
        if (
            issue_id.startswith((ISSUE_DSO_SIGNAL, ISSUE_SOURCE_FAILED))
            and issue_id not in wanted
        ):
            ir.async_delete_issue(hass, DOMAIN, issue_id)


@callback
def async_follow_openadr_credentials(
    hass: HomeAssistant, entry: StroomwijsConfigEntry, household: Household
) -> None:
    """Start a source's reauthentication when its server refuses our credentials."""
    asked: set[str] = set()

    @callback
    def _check() -> None:
        for sid, ven in openadr_sources(entry, household):
            if not ven.status.auth_failed:
                asked.discard(sid)
            elif sid not in asked:
                asked.add(sid)
                entry.async_start_reauth(hass, data={REAUTH_SUBENTRY: sid})

    entry.async_on_unload(household.add_listener(_check))
    _check()


@callback
def async_follow_charger_credentials(
    hass: HomeAssistant, entry: StroomwijsConfigEntry, handle: ChargerHandle
) -> None:
    """Start a charger's reauthentication when its password is refused."""
    device = handle.device
    if not isinstance(device, OcppCharger):
        return
    asked = [False]

    @callback
    def _check() -> None:
        if not device.state.auth_refused:
            asked[0] = False
        elif not asked[0]:
            asked[0] = True
            entry.async_start_reauth(hass, data={REAUTH_SUBENTRY: handle.subentry_id})

    entry.async_on_unload(handle.add_listener(_check))
    _check()
