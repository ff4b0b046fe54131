"""Add a heat pump, boiler or appliance to the household (a ``device`` subentry).

The device is described by its driver profile: the mapping the engine's
drivers read (docs/devices.md), pasted as YAML. Stroomwijs checks it with
the drivers' own reader, so an error names the bad field.
"""

from __future__ import annotations

from typing import Any, Final

from homeassistant.config_entries import ConfigSubentryFlow, SubentryFlowResult
from homeassistant.const import CONF_NAME
from homeassistant.helpers.selector import (
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import probatio as vol
import yaml  # type: ignore[import-untyped]

from .engine.household import HouseholdConfig, HouseholdConfigError

SUBENTRY_DEVICE: Final = "device"
CONF_DRIVER: Final = "driver"
CONF_PROFILE: Final = "profile"


def parse_profile(name: str, text: str) -> dict[str, Any]:
    """Read and check a driver profile; ValueError says what is wrong."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        msg = f"not valid YAML: {getattr(err, 'problem', err)}"
        raise ValueError(msg) from None
    if not isinstance(data, dict):
        msg = "expected a mapping with a driver key"
        raise ValueError(msg)  # noqa: TRY004 - the user's text, shown as an error
    document = {
        "devices": [{"id": "device", "kind": "driver", "name": name, "driver": data}]
    }
    try:
        config = HouseholdConfig.from_dict(document)
    except HouseholdConfigError as err:
        raise ValueError(str(err).replace("devices[0].", "")) from None
    return dict(config.devices[0].driver)


class DeviceSubentryFlow(ConfigSubentryFlow):
    """Add a driver device from its profile."""

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Ask for a name and the driver profile."""
        errors: dict[str, str] = {}
        placeholders = {"error": ""}
        if user_input is not None:
            name = str(user_input[CONF_NAME]).strip() or "Device"
            try:
                driver = parse_profile(name, str(user_input[CONF_PROFILE]))
            except ValueError as err:
                errors[CONF_PROFILE] = "invalid_profile"
                placeholders["error"] = str(err)
            else:
                return self.async_create_entry(title=name, data={CONF_DRIVER: driver})
        defaults = user_input or {}
        schema = vol.Schema(
            {
                vol.Required(CONF_NAME, default=defaults.get(CONF_NAME, "")): str,
                vol.Required(
                    CONF_PROFILE, default=defaults.get(CONF_PROFILE, "")
                ): TextSelector(
                    TextSelectorConfig(type=TextSelectorType.TEXT, multiline=True)
                ),
            }
        )
        return self.async_show_form(
            step_id="user",
            data_schema=schema,
            errors=errors,
            description_placeholders=placeholders,
        )
