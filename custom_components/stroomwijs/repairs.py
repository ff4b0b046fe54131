"""Fix flows of the household's repair issues (see ``issues.py``).

- A lost OpenADR signal: check the server's address and client credentials;
  they are tried on the server before they are stored, and the household
  reloads with them.
- Failed planning: plan again now, or switch the optimiser off (the guard
  still holds every limit).

Home Assistant deletes the issue when a flow finishes with an entry; a flow
that cannot fix anything (the household or source is gone) aborts.
"""

from __future__ import annotations

from typing import Any, Final

from homeassistant.components.repairs import RepairsFlow, RepairsFlowResult
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers.selector import (
    BooleanSelector,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import probatio as vol

from .const import DOMAIN
from .engine.household.runtime import PlanState
from .issues import DATA_ENTRY_ID, DATA_SUBENTRY_ID, ISSUE_DSO_SIGNAL, ISSUE_PLAN_FAILED
from .limits_flow import (
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_URL,
    async_check_openadr,
)
from .models import StroomwijsConfigEntry

CONF_OPTIMISER_OFF: Final = "optimiser_off"


def _entry(
    hass: HomeAssistant, data: dict[str, Any] | None
) -> StroomwijsConfigEntry | None:
    entry_id = str((data or {}).get(DATA_ENTRY_ID) or "")
    entry = hass.config_entries.async_get_entry(entry_id)
    return entry if entry is not None and entry.domain == DOMAIN else None


class OpenAdrSettingsRepairFlow(RepairsFlow):
    """Check an OpenADR source's server address and credentials."""

    def __init__(self, data: dict[str, Any] | None) -> None:
        """Fix the source that ``data`` names."""
        self._data = dict(data or {})

    async def async_step_init(
        self,
        user_input: dict[str, Any] | None = None,  # noqa: ARG002
    ) -> RepairsFlowResult:
        """Start at the server's settings."""
        return await self.async_step_settings()

    async def async_step_settings(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """Show the address and client id; try what the user enters."""
        entry = _entry(self.hass, self._data)
        subentry = (
            None
            if entry is None
            else entry.subentries.get(str(self._data.get(DATA_SUBENTRY_ID)))
        )
        if entry is None or subentry is None:
            return self.async_abort(reason="source_gone")
        errors: dict[str, str] = {}
        if user_input is not None:
            url = str(user_input[CONF_URL]).strip().rstrip("/")
            _programs, error = await async_check_openadr(
                self.hass,
                url,
                str(user_input[CONF_CLIENT_ID]),
                str(user_input[CONF_CLIENT_SECRET]),
            )
            if error is None:
                self.hass.config_entries.async_update_subentry(
                    entry,
                    subentry,
                    data={
                        **subentry.data,
                        CONF_URL: url,
                        CONF_CLIENT_ID: str(user_input[CONF_CLIENT_ID]),
                        CONF_CLIENT_SECRET: str(user_input[CONF_CLIENT_SECRET]),
                    },
                )
                self.hass.config_entries.async_schedule_reload(entry.entry_id)
                return self.async_create_entry(data={})
            errors["base"] = error
        schema = vol.Schema(
            {
                vol.Required(CONF_URL): TextSelector(
                    TextSelectorConfig(type=TextSelectorType.URL)
                ),
                vol.Required(CONF_CLIENT_ID): TextSelector(),
                vol.Required(CONF_CLIENT_SECRET): TextSelector(
                    TextSelectorConfig(type=TextSelectorType.PASSWORD)
                ),
            }
        )
        return self.async_show_form(
            step_id="settings",
            data_schema=self.add_suggested_values_to_schema(
                schema,
                user_input
                or {
                    CONF_URL: subentry.data.get(CONF_URL),
                    CONF_CLIENT_ID: subentry.data.get(CONF_CLIENT_ID),
                },
            ),
            errors=errors,
            description_placeholders={"source": subentry.title},
        )


class PlanRepairFlow(RepairsFlow):
    """Plan again now, or switch the optimiser off."""

    def __init__(self, data: dict[str, Any] | None) -> None:
        """Fix the household that ``data`` names."""
        self._data = dict(data or {})

    async def async_step_init(
        self,
        user_input: dict[str, Any] | None = None,  # noqa: ARG002
    ) -> RepairsFlowResult:
        """Start at the choice."""
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """Plan again; on failure say so, and offer to switch the optimiser off."""
        entry: StroomwijsConfigEntry | None = _entry(self.hass, self._data)
        if entry is None or entry.state is not ConfigEntryState.LOADED:
            return self.async_abort(reason="household_gone")
        household = entry.runtime_data.limits  # here or in the gateway
        errors: dict[str, str] = {}
        if user_input is not None:
            if user_input.get(CONF_OPTIMISER_OFF):
                await household.async_set_enabled(enabled=False)
                await household.async_plan_now()
                return self.async_create_entry(data={})
            status = await household.async_plan_now()
            if status.state is not PlanState.FALLBACK:
                return self.async_create_entry(data={})
            errors["base"] = "plan_still_failing"
        return self.async_show_form(
            step_id="confirm",
            data_schema=vol.Schema(
                {vol.Required(CONF_OPTIMISER_OFF, default=False): BooleanSelector()}
            ),
            errors=errors,
            description_placeholders={"household": entry.title},
        )


async def async_create_fix_flow(
    hass: HomeAssistant,
    issue_id: str,
    data: dict[str, str | int | float | None] | None,
) -> RepairsFlow:
    """Return the flow that fixes ``issue_id``."""
    if issue_id.startswith(ISSUE_DSO_SIGNAL):
        return OpenAdrSettingsRepairFlow(data)
    if issue_id.startswith(ISSUE_PLAN_FAILED):
        return PlanRepairFlow(data)
    msg = f"issue {issue_id} has no fix flow"
    raise ValueError(msg)
