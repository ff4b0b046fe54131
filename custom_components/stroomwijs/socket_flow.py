"""A HomeWizard Energy Socket found by zeroconf becomes a household's device.

The socket announces itself on ``_hwenergy._tcp`` (API v1) with
``product_type`` ``HWE-SKT``, its serial and whether its local API is on,
and may announce ``_homewizard._tcp`` (API v2) too. The config flow's
zeroconf step hands both here (a mixin of the config flow); the driver
speaks API v1 on port 80, so a v2 announcement is offered the same way and
its confirm step says when v1 is off:

1. *Confirm*: the socket's name and address; the household it joins and the
   role it plays: the element of an electric boiler, or a washing machine,
   dishwasher or dryer. The socket is asked once who it is (its serial
   must match the announcement).
2. The role's form (the boiler's tank, or the appliance and its default
   deadline).
3. A ``device`` subentry of the household with the ``homewizard_socket``
   driver mapping (docs/devices.md); the household runs it at once.

The flow's unique id is ``homewizard_socket_<serial>``, so an ignored
socket stays ignored; a socket that is already a device is not offered
again, and when it announces a new address the device's address is updated.
The role forms and the address following are shared with the Shelly flow
(``shelly_flow.py``).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Final

from homeassistant.config_entries import (
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentry,
)
from homeassistant.const import CONF_NAME
from homeassistant.data_entry_flow import AbortFlow
from homeassistant.helpers import selector
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
import probatio as vol

from .device_flow import (
    APPLIANCES,
    CONF_APPLIANCE,
    CONF_DEADLINE_HOURS,
    CONF_DRIVER,
    CONF_ELEMENT_POWER,
    CONF_TEMPERATURE_ENTITY,
    CONF_THERMOSTAT,
    CONF_VOLUME,
    KIND_BOILER,
    KIND_PLUG,
    SUBENTRY_DEVICE,
    check_driver,
)
from .engine.drivers.homewizard_socket import (
    PRODUCT_TYPE,
    HomeWizardSocket,
    HomeWizardSocketConfig,
    SocketError,
)
from .models import StroomwijsConfigEntry

DRIVER_SOCKET: Final = "homewizard_socket"
SOCKET_PREFIX: Final = "homewizard_socket_"
CONF_HOUSEHOLD: Final = "household"
CONF_ROLE: Final = "role"
ROLES: Final = [KIND_BOILER, KIND_PLUG]
ZEROCONF_V1: Final = "_hwenergy._tcp.local."
SOCKET_V1_PORT = 80
"""Where a socket's local API v1 listens (tests point it at a simulator)."""
PROBE_TIMEOUT_S: Final = 5.0


def socket_unique_id(serial: str) -> str:
    """Return the unique id of the device (and the flow) of a socket."""
    return f"{SOCKET_PREFIX}{serial.lower()}"


def _number(low: float, high: float, step: float, unit: str) -> selector.NumberSelector:
    return selector.NumberSelector(
        selector.NumberSelectorConfig(
            min=low,
            max=high,
            step=step,
            unit_of_measurement=unit,
            mode=selector.NumberSelectorMode.BOX,
        )
    )


def _role_schema(role: str, name: str, max_w: float = 3680) -> vol.Schema:
    fields: dict[Any, Any] = {vol.Required(CONF_NAME, default=name): str}
    if role == KIND_BOILER:
        fields.update(
            {
                vol.Required(CONF_VOLUME, default=120): _number(10, 1000, 5, "L"),
                vol.Required(CONF_ELEMENT_POWER, default=min(2000, max_w)): _number(
                    100, max_w, 50, "W"
                ),
                vol.Required(CONF_THERMOSTAT, default=65): _number(45, 85, 1, "°C"),
                vol.Optional(CONF_TEMPERATURE_ENTITY): selector.EntitySelector(
                    selector.EntitySelectorConfig(
                        domain="sensor", device_class="temperature"
                    )
                ),
            }
        )
    else:
        fields.update(
            {
                vol.Required(CONF_APPLIANCE, default=APPLIANCES[0]): (
                    selector.SelectSelector(
                        selector.SelectSelectorConfig(
                            options=APPLIANCES, translation_key="appliance"
                        )
                    )
                ),
                vol.Required(CONF_DEADLINE_HOURS, default=12): _number(1, 48, 0.5, "h"),
            }
        )
    return vol.Schema(fields)


def _device_part(role: str, form: dict[str, Any]) -> dict[str, Any]:
    if role == KIND_BOILER:
        device: dict[str, Any] = {
            "driver": KIND_BOILER,
            CONF_VOLUME: float(form[CONF_VOLUME]),
            CONF_ELEMENT_POWER: float(form[CONF_ELEMENT_POWER]),
            CONF_THERMOSTAT: float(form[CONF_THERMOSTAT]),
        }
        if form.get(CONF_TEMPERATURE_ENTITY):
            device[CONF_TEMPERATURE_ENTITY] = str(form[CONF_TEMPERATURE_ENTITY])
        return device
    return {
        "driver": KIND_PLUG,
        "kind": str(form[CONF_APPLIANCE]),
        "default_deadline": {"hours": float(form[CONF_DEADLINE_HOURS])},
    }


def find_socket_device(
    entries: list[StroomwijsConfigEntry], unique_id: str
) -> tuple[StroomwijsConfigEntry, ConfigSubentry] | None:
    """Return the household and device subentry of a socket, if it has one."""
    for entry in entries:
        for sub in entry.subentries.values():
            if sub.subentry_type == SUBENTRY_DEVICE and sub.unique_id == unique_id:
                return entry, sub
    return None


class SocketDiscoveryFlow(ConfigFlow):
    """The config flow's part for HomeWizard Energy Sockets (a mixin)."""

    _socket: dict[str, Any]
    _socket_choice: dict[str, Any]

    def _households(self) -> dict[str, StroomwijsConfigEntry]:
        return {
            entry.entry_id: entry
            for entry in self._async_current_entries(include_ignore=False)
        }

    def _follow_plug_address(self, unique_id: str, host: str, port: int | None) -> None:
        """Abort (already_configured) for a plug that is a device already.

        A new address is stored in the device's subentry (``port`` None
        keeps the stored port); a running household follows it without a
        reload, one that is not running is set up again with it.
        """
        found = find_socket_device(list(self._households().values()), unique_id)
        if found is None:
            return
        entry, sub = found
        driver = dict(sub.data[CONF_DRIVER])
        socket = dict(driver["socket"])
        port = int(socket.get("port", 80)) if port is None else port
        if (socket.get("host"), socket.get("port", 80)) != (host, port):
            socket.update(host=host, port=port)
            self.hass.config_entries.async_update_subentry(
                entry, sub, data={CONF_DRIVER: {**driver, "socket": socket}}
            )
            household = (
                entry.runtime_data.household
                if entry.state is ConfigEntryState.LOADED
                else None
            )
            if household is not None and sub.subentry_id in household.devices.sockets:
                # The running household follows it: nothing restarts.
                household.set_socket_address(sub.subentry_id, host, port)
            else:
                self.hass.config_entries.async_schedule_reload(entry.entry_id)
        raise AbortFlow("already_configured")

    async def async_step_socket_discovered(
        self, discovery_info: ZeroconfServiceInfo
    ) -> ConfigFlowResult:
        """Take a socket's announcement: once per serial, ignoring respected."""
        properties = discovery_info.properties
        v1 = discovery_info.type == ZEROCONF_V1
        serial = str(properties.get("serial") or "")
        host = str(discovery_info.ip_address)
        # The driver speaks the local API v1, on port 80. The API v2
        # announcement (port 443) names the same socket: it is offered the
        # same way (the confirm step says whether v1 is on), with one flow
        # and one device per serial whichever of the two comes first.
        port = (discovery_info.port or 80) if v1 else SOCKET_V1_PORT
        try:
            HomeWizardSocketConfig(host=host, port=port, serial=serial)
        except ValueError:
            return self.async_abort(reason="invalid_discovery")
        unique_id = socket_unique_id(serial)
        await self.async_set_unique_id(unique_id)
        self._abort_if_unique_id_configured()  # an ignored socket stays ignored
        self._follow_plug_address(unique_id, host, port if v1 else None)
        if v1 and properties.get("api_enabled") != "1":
            return self.async_abort(reason="socket_api_disabled")
        if not self._households():
            return self.async_abort(reason="socket_household_first")
        name = str(properties.get("product_name") or "Energy Socket")[:64]
        self._socket = {
            "host": host,
            "port": port,
            "serial": serial,
            "name": name,
            "driver": DRIVER_SOCKET,
            "prefix": "socket",
            "unique_id": unique_id,
            "socket": {"host": host, "port": port, "serial": serial},
        }
        self.context["title_placeholders"] = {"name": name}
        return await self.async_step_socket_confirm()

    async def async_step_socket_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Confirm the socket, and say which household it joins, in what role."""
        households = self._households()
        if not households:
            return self.async_abort(reason="socket_household_first")
        info = self._socket
        errors: dict[str, str] = {}
        placeholders = {"name": info["name"], "host": info["host"], "error": ""}
        if user_input is not None:
            if str(user_input[CONF_HOUSEHOLD]) not in households:
                errors[CONF_HOUSEHOLD] = "household_gone"
            else:
                error = await self._async_probe_socket()
                if error is None:
                    self._socket_choice = dict(user_input)
                    role = str(user_input[CONF_ROLE])
                    return await self._async_role_form(role, None)
                errors["base"] = "socket_unreachable"
                placeholders["error"] = error
        options = [
            selector.SelectOptionDict(value=entry_id, label=entry.title)
            for entry_id, entry in households.items()
        ]
        return self.async_show_form(
            step_id="socket_confirm",
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
                }
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def _async_probe_socket(self) -> str | None:
        """Ask the socket who it is; the reason it cannot be used, or None."""
        info = self._socket
        config = HomeWizardSocketConfig(
            host=info["host"],
            port=info["port"],
            serial=info["serial"],
            timeout_s=PROBE_TIMEOUT_S,
        )
        socket = HomeWizardSocket(
            config, async_get_clientsession(self.hass), name=info["name"]
        )
        try:
            identity = await socket.async_identify()
        except SocketError as err:
            return str(err)
        if identity.get("serial", "").lower() != info["serial"].lower():
            return f"another device answers at {info['host']}"
        return None

    async def async_step_socket_boiler(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Describe the boiler whose element is on the socket."""
        return await self._async_role_form(KIND_BOILER, user_input)

    async def async_step_socket_plug_appliance(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Say which appliance is on the socket."""
        return await self._async_role_form(KIND_PLUG, user_input)

    async def _async_role_form(
        self, role: str, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        info = self._socket
        errors: dict[str, str] = {}
        placeholders = {"name": info["name"], "error": ""}
        if user_input is not None:
            entry = self._households().get(str(self._socket_choice[CONF_HOUSEHOLD]))
            if entry is None:
                return self.async_abort(reason="household_gone")
            name = str(user_input[CONF_NAME]).strip() or info["name"]
            mapping = {
                "driver": info["driver"],
                "socket": dict(info["socket"]),
                "device": _device_part(role, user_input),
            }
            try:
                driver = check_driver(name, mapping)
            except ValueError as err:
                errors["base"] = "invalid_device"
                placeholders["error"] = str(err)
            else:
                unique_id = str(info["unique_id"])
                if find_socket_device([entry], unique_id) is not None:
                    return self.async_abort(reason="device_already_added")
                self.hass.config_entries.async_add_subentry(
                    entry,
                    ConfigSubentry(
                        data=MappingProxyType({CONF_DRIVER: driver}),
                        subentry_type=SUBENTRY_DEVICE,
                        title=name,
                        unique_id=unique_id,
                    ),
                )
                return self.async_abort(reason="device_added")
        return self.async_show_form(
            step_id=f"{info['prefix']}_{role}",
            data_schema=_role_schema(role, info["name"], info.get("max_w", 3680)),
            errors=errors,
            description_placeholders=placeholders,
        )


__all__ = ["PRODUCT_TYPE", "SocketDiscoveryFlow", "socket_unique_id"]
