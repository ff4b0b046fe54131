"""A Shelly Gen2+ plug or relay found by zeroconf becomes a household's device.

Gen2 and later Shelly devices announce ``_shelly._tcp`` (and ``_http._tcp``,
like Gen1) with ``gen`` in the TXT record; the instance name is the device
id, ``shelly<model>-<mac>``. The config flow's zeroconf step hands them here
(a mixin of the config flow, next to the Energy Socket's):

1. A first-generation device (``_http._tcp`` without ``gen``, or ``gen=1``)
   is aborted with ``shelly_gen1``: it speaks another API, which Stroomwijs
   does not drive.
2. *Confirm*: the household, the role (boiler element or appliance) and the
   device's password if it has one. The device is asked who it is
   (``/shelly``: its MAC must match, its generation must be 2 or more) and
   its first switch is read with the password: a relay without power
   metering (no ``apower``, a Plus 1) is aborted with
   ``shelly_not_metered``; a password that is missing or wrong is asked
   again.
3. The role's form, then a ``device`` subentry with the ``shelly`` driver
   mapping (docs/devices.md); the household runs it at once.

The flow's unique id is ``shelly_<mac>``: an ignored device stays ignored,
one that is a device already is not offered again, and its new address is
followed like the Energy Socket's.
"""

from __future__ import annotations

import re
from typing import Any, Final

from homeassistant.config_entries import ConfigFlowResult
from homeassistant.const import CONF_PASSWORD
from homeassistant.helpers import selector
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
import probatio as vol

from .device_flow import KIND_BOILER
from .engine.drivers.metered_plug import PlugError
from .engine.drivers.shelly import ShellyConfig, ShellyPlug
from .socket_flow import CONF_HOUSEHOLD, CONF_ROLE, ROLES, SocketDiscoveryFlow

DRIVER_SHELLY: Final = "shelly"
SHELLY_PREFIX: Final = "shelly_"
ZEROCONF_SHELLY: Final = "_shelly._tcp.local."
ZEROCONF_HTTP: Final = "_http._tcp.local."
PROBE_TIMEOUT_S: Final = 5.0
_DEVICE_ID = re.compile(r"^(shelly[a-z0-9]*)-([0-9a-f]{12})$")


def shelly_unique_id(mac: str) -> str:
    """Return the unique id of the device (and the flow) of a Shelly."""
    return f"{SHELLY_PREFIX}{mac.lower()}"


def is_shelly(discovery_info: ZeroconfServiceInfo) -> bool:
    """Whether an announcement is a Shelly's (``_shelly._tcp`` or ``_http``)."""
    if discovery_info.type == ZEROCONF_SHELLY:
        return True
    return (
        discovery_info.type == ZEROCONF_HTTP
        and discovery_info.name.lower().startswith("shelly")
    )


def _generation(value: object) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) < 3 else None  # noqa: PLR2004


class ShellyDiscoveryFlow(SocketDiscoveryFlow):
    """The config flow's part for Shelly Gen2+ plugs and relays (a mixin)."""

    async def async_step_shelly_discovered(
        self, discovery_info: ZeroconfServiceInfo
    ) -> ConfigFlowResult:
        """Take a Shelly's announcement: once per MAC, ignoring respected."""
        generation = _generation(discovery_info.properties.get("gen"))
        if generation is None and discovery_info.type == ZEROCONF_HTTP:
            generation = 1  # Gen2+ put gen= in both announcements, Gen1 in none
        if generation is not None and generation < 2:  # noqa: PLR2004
            return self.async_abort(reason="shelly_gen1")
        label = discovery_info.name.split(".", 1)[0].lower()
        match = _DEVICE_ID.fullmatch(label)
        host = str(discovery_info.ip_address)
        port = discovery_info.port or 80
        if match is None:
            return self.async_abort(reason="invalid_discovery")
        mac = match.group(2)
        try:
            ShellyConfig(host=host, port=port, mac=mac)
        except ValueError:
            return self.async_abort(reason="invalid_discovery")
        unique_id = shelly_unique_id(mac)
        await self.async_set_unique_id(unique_id)
        self._abort_if_unique_id_configured()  # an ignored device stays ignored
        self._follow_plug_address(unique_id, host, port)
        if not self._households():
            return self.async_abort(reason="socket_household_first")
        app = str(discovery_info.properties.get("app") or "")[:32]
        name = f"Shelly {app}" if app else f"Shelly {mac[-6:].upper()}"
        self._socket = {
            "host": host,
            "port": port,
            "name": name,
            "driver": DRIVER_SHELLY,
            "prefix": "shelly",
            "unique_id": unique_id,
            "socket": {"host": host, "port": port, "mac": mac},
        }
        self.context["title_placeholders"] = {"name": name}
        return await self.async_step_shelly_confirm()

    async def async_step_shelly_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Confirm the relay: household, role, its password if it has one."""
        households = self._households()
        if not households:
            return self.async_abort(reason="socket_household_first")
        info = self._socket
        errors: dict[str, str] = {}
        placeholders = {"name": info["name"], "host": info["host"], "error": ""}
        if user_input is not None:
            password = str(user_input.get(CONF_PASSWORD) or "") or None
            if str(user_input[CONF_HOUSEHOLD]) not in households:
                errors[CONF_HOUSEHOLD] = "household_gone"
            else:
                outcome = await self._async_probe_shelly(password)
                if outcome in {"shelly_gen1", "shelly_not_metered"}:
                    return self.async_abort(reason=outcome)
                if outcome is None:
                    self._socket_choice = dict(user_input)
                    return await self._async_role_form(str(user_input[CONF_ROLE]), None)
                if outcome == "shelly_password":
                    errors[CONF_PASSWORD] = "shelly_password"
                else:
                    errors["base"] = "shelly_unreachable"
                    placeholders["error"] = outcome
        options = [
            selector.SelectOptionDict(value=entry_id, label=entry.title)
            for entry_id, entry in households.items()
        ]
        return self.async_show_form(
            step_id="shelly_confirm",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_HOUSEHOLD, default=options[0]["value"]): (
                        selector.SelectSelector(
                            selector.SelectSelectorConfig(options=options)
                        )
                    ),
                    vol.Required(CONF_ROLE, default=KIND_BOILER): (
                        selector.SelectSelector(
                            selector.SelectSelectorConfig(
                                options=ROLES, translation_key="socket_role"
                            )
                        )
                    ),
                    vol.Optional(CONF_PASSWORD): selector.TextSelector(
                        selector.TextSelectorConfig(
                            type=selector.TextSelectorType.PASSWORD
                        )
                    ),
                }
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def _async_probe_shelly(  # noqa: PLR0911 - one return per outcome
        self, password: str | None
    ) -> str | None:
        """Ask the device who it is and read its switch.

        None when it can be driven (the password, if any, is kept); else
        ``shelly_gen1``, ``shelly_not_metered``, ``shelly_password`` or the
        reason it did not answer as expected.
        """
        info = self._socket
        socket = {
            key: value for key, value in info["socket"].items() if key != "password"
        }
        try:
            config = ShellyConfig(
                **socket, password=password, timeout_s=PROBE_TIMEOUT_S
            )
        except ValueError:
            return "shelly_password"
        plug = ShellyPlug(config, async_get_clientsession(self.hass), name=info["name"])
        try:
            identity = await plug.async_identify()
            if identity.mac != config.mac:
                return f"another device answers at {info['host']}"
            if not identity.supported:
                return "shelly_gen1"
            if identity.auth and password is None:
                return "shelly_password"
            status = await plug.async_status()
        except PlugError as err:
            if "authentication" in str(err):
                return "shelly_password"
            return str(err)
        if "apower" not in status:
            return "shelly_not_metered"
        if password is not None:
            socket["password"] = password
        if identity.app:
            socket["model"] = identity.app
        info["socket"] = socket
        return None

    async def async_step_shelly_boiler(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Describe the boiler whose element is on the relay."""
        return await self._async_role_form(KIND_BOILER, user_input)

    async def async_step_shelly_plug_appliance(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Say which appliance is on the relay."""
        return await self._async_role_form("plug_appliance", user_input)


__all__ = ["ShellyDiscoveryFlow", "is_shelly", "shelly_unique_id"]
