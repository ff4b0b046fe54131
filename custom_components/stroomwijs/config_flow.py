"""Config flow for Stroomwijs."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.const import CONF_NAME
from homeassistant.core import callback
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)
import voluptuous as vol

from .const import (
    CONF_FUSE_A,
    CONF_PHASES,
    DEFAULT_FUSE_A,
    DEFAULT_NAME,
    DEFAULT_PHASES,
    DOMAIN,
)
from .engine.grid import GridConnection


def _grid_schema(defaults: dict[str, Any]) -> dict[vol.Marker, Any]:
    """Fields describing the grid connection."""
    return {
        vol.Required(
            CONF_PHASES, default=str(defaults.get(CONF_PHASES, DEFAULT_PHASES))
        ): SelectSelector(
            SelectSelectorConfig(
                options=["1", "3"],
                mode=SelectSelectorMode.LIST,
                translation_key=CONF_PHASES,
            )
        ),
        vol.Required(
            CONF_FUSE_A, default=defaults.get(CONF_FUSE_A, DEFAULT_FUSE_A)
        ): NumberSelector(
            NumberSelectorConfig(
                min=6,
                max=400,
                step=1,
                mode=NumberSelectorMode.BOX,
                unit_of_measurement="A",
            )
        ),
    }


def _validate_grid(user_input: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Normalise the grid fields; return them and an error key, if any."""
    try:
        grid = GridConnection(
            phases=int(user_input[CONF_PHASES]), fuse_a=float(user_input[CONF_FUSE_A])
        )
    except ValueError:
        return {}, "invalid_grid_connection"
    return {CONF_PHASES: grid.phases, CONF_FUSE_A: grid.fuse_a}, None


class StroomwijsConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up a Stroomwijs household."""

    VERSION = 1
    MINOR_VERSION = 1

    @staticmethod
    @callback
    def async_get_options_flow(
        config_entry: ConfigEntry,  # noqa: ARG004
    ) -> StroomwijsOptionsFlow:
        """Return the options flow."""
        return StroomwijsOptionsFlow()

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the household's name and its grid connection."""
        errors: dict[str, str] = {}
        if user_input is not None:
            grid, error = _validate_grid(user_input)
            if error is None:
                return self.async_create_entry(title=user_input[CONF_NAME], data=grid)
            errors["base"] = error
        defaults = user_input or {}
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_NAME, default=defaults.get(CONF_NAME, DEFAULT_NAME)
                ): TextSelector(),
                **_grid_schema(defaults),
            }
        )
        return self.async_show_form(step_id="user", data_schema=schema, errors=errors)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the grid connection of an existing household."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            grid, error = _validate_grid(user_input)
            if error is None:
                return self.async_update_reload_and_abort(entry, data_updates=grid)
            errors["base"] = error
        schema = vol.Schema(_grid_schema(user_input or dict(entry.data)))
        return self.async_show_form(
            step_id="reconfigure", data_schema=schema, errors=errors
        )


class StroomwijsOptionsFlow(OptionsFlowWithReload):
    """Tune a running household."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the household options."""
        errors: dict[str, str] = {}
        if user_input is not None:
            grid, error = _validate_grid(user_input)
            if error is None:
                return self.async_create_entry(data=grid)
            errors["base"] = error
        current = {**self.config_entry.data, **self.config_entry.options}
        schema = vol.Schema(_grid_schema(user_input or current))
        return self.async_show_form(step_id="init", data_schema=schema, errors=errors)
