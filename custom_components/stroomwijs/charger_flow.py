"""Flows for chargers: add one as a subentry, or confirm a discovered one.

``ChargerDiscoveryFlow`` is mixed into the integration's config flow: an
unknown OCPP charger id that reaches the central system starts an
``integration_discovery`` flow, and only the user's confirmation turns it
into a charger subentry of the household (which then reloads and gives the
charger control).
"""

from __future__ import annotations

import ipaddress
import ssl
from types import MappingProxyType
from typing import Any

from homeassistant.config_entries import (
    ConfigFlowResult,
    ConfigSubentry,
    ConfigSubentryFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import selector
from homeassistant.helpers.network import NoURLAvailableError, get_url
import probatio as vol
from yarl import URL

from .adoption import ADOPT, AdoptionFlow
from .charger import (
    CONF_CAPACITY,
    CONF_CHARGER_ID,
    CONF_CHARGER_PHASES,
    CONF_KIND,
    CONF_MAX_CURRENT,
    CONF_MIN_CURRENT,
    CONF_MINIMUM_INSTEAD_OF_PAUSE,
    CONF_OCPP_CERTFILE,
    CONF_OCPP_HOST,
    CONF_OCPP_KEYFILE,
    CONF_OCPP_PORT,
    CONF_OCPP_REQUIRE_AUTH,
    DEFAULT_OCPP_HOST,
    DEFAULT_OCPP_PORT,
    KIND_OCPP,
    KIND_QUASAR,
    SUBENTRY_CHARGER,
    charger_config,
    quasar_config,
)
from .engine.capabilities import DeviceUnavailableError
from .engine.drivers.quasar import QuasarCharger
from .models import StroomwijsConfigEntry

FLOOR_OPTIONS = ["6", "8"]
OCPP_PATH = "/ocpp/"
"""Where the central system takes chargers (engine/drivers/ocpp/csms.py)."""
FALLBACK_HOST = "homeassistant.local"
_ANY_ADDRESS = ("0.0.0.0", "::", "")  # noqa: S104 - compared, never bound


def csms_url(hass: HomeAssistant, options: dict[str, Any]) -> str:
    """Return the URL a charger must be given, up to its charge point id."""
    scheme = "wss" if options.get(CONF_OCPP_CERTFILE) else "ws"
    port = int(options.get(CONF_OCPP_PORT) or DEFAULT_OCPP_PORT)
    host = str(options.get(CONF_OCPP_HOST) or DEFAULT_OCPP_HOST)
    if host in _ANY_ADDRESS:
        try:
            url = get_url(hass, allow_external=False, allow_cloud=False)
        except NoURLAvailableError:
            url = ""
        host = URL(url).host or FALLBACK_HOST if url else FALLBACK_HOST
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address
    return f"{scheme}://{host}:{port}{OCPP_PATH}"


def _amperes(minimum: float, maximum: float) -> selector.NumberSelector:
    return selector.NumberSelector(
        selector.NumberSelectorConfig(
            min=minimum,
            max=maximum,
            step=1,
            unit_of_measurement="A",
            mode=selector.NumberSelectorMode.BOX,
        )
    )


def _capacity() -> selector.NumberSelector:
    return selector.NumberSelector(
        selector.NumberSelectorConfig(
            min=1,
            max=300,
            step=0.1,
            unit_of_measurement="kWh",
            mode=selector.NumberSelectorMode.BOX,
        )
    )


def ocpp_server_schema(defaults: dict[str, Any]) -> vol.Schema:
    """Fields of the OCPP central system's options."""
    return vol.Schema(
        {
            vol.Required(
                CONF_OCPP_HOST, default=defaults.get(CONF_OCPP_HOST, DEFAULT_OCPP_HOST)
            ): selector.TextSelector(),
            vol.Required(
                CONF_OCPP_PORT,
                default=int(defaults.get(CONF_OCPP_PORT) or DEFAULT_OCPP_PORT),
            ): selector.NumberSelector(
                selector.NumberSelectorConfig(
                    min=1, max=65535, step=1, mode=selector.NumberSelectorMode.BOX
                )
            ),
            vol.Required(
                CONF_OCPP_REQUIRE_AUTH,
                default=bool(defaults.get(CONF_OCPP_REQUIRE_AUTH, False)),
            ): selector.BooleanSelector(),
            vol.Optional(
                CONF_OCPP_CERTFILE,
                description={"suggested_value": defaults.get(CONF_OCPP_CERTFILE)},
            ): selector.TextSelector(),
            vol.Optional(
                CONF_OCPP_KEYFILE,
                description={"suggested_value": defaults.get(CONF_OCPP_KEYFILE)},
            ): selector.TextSelector(),
        }
    )


def validate_ocpp_server_options(
    user_input: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, str]]:
    """Check the central system's options; return them and form errors.

    Runs in an executor: it reads the certificate files (security profile 2).
    """
    errors: dict[str, str] = {}
    host = str(user_input[CONF_OCPP_HOST]).strip()
    try:
        ipaddress.ip_address(host)
    except ValueError:
        errors[CONF_OCPP_HOST] = "invalid_bind_address"
    certfile = str(user_input.get(CONF_OCPP_CERTFILE) or "").strip() or None
    keyfile = str(user_input.get(CONF_OCPP_KEYFILE) or "").strip() or None
    if keyfile and not certfile:
        errors[CONF_OCPP_CERTFILE] = "certificate_required"
    elif certfile:
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(certfile, keyfile)
        except OSError, ssl.SSLError:
            errors[CONF_OCPP_CERTFILE] = "invalid_certificate"
    changes = {
        CONF_OCPP_HOST: host,
        CONF_OCPP_PORT: int(user_input[CONF_OCPP_PORT]),
        CONF_OCPP_REQUIRE_AUTH: bool(user_input[CONF_OCPP_REQUIRE_AUTH]),
        CONF_OCPP_CERTFILE: certfile,
        CONF_OCPP_KEYFILE: keyfile,
    }
    return changes, errors


def _ocpp_schema(defaults: dict[str, Any], *, with_id: bool) -> vol.Schema:
    fields: dict[Any, Any] = {}
    if with_id:
        fields[vol.Required(CONF_CHARGER_ID)] = selector.TextSelector()
    fields.update(
        {
            vol.Optional(CONF_PASSWORD): _password(),
            vol.Required(
                CONF_CHARGER_PHASES, default=str(defaults.get(CONF_CHARGER_PHASES, 3))
            ): selector.SelectSelector(
                selector.SelectSelectorConfig(
                    options=["1", "3"], translation_key="phases"
                )
            ),
            vol.Required(
                CONF_MAX_CURRENT, default=defaults.get(CONF_MAX_CURRENT, 16)
            ): _amperes(6, 63),
            vol.Required(
                CONF_MIN_CURRENT, default=str(int(defaults.get(CONF_MIN_CURRENT, 6)))
            ): selector.SelectSelector(
                selector.SelectSelectorConfig(options=FLOOR_OPTIONS)
            ),
            vol.Required(
                CONF_MINIMUM_INSTEAD_OF_PAUSE,
                default=bool(defaults.get(CONF_MINIMUM_INSTEAD_OF_PAUSE, False)),
            ): selector.BooleanSelector(),
            vol.Optional(
                CONF_CAPACITY,
                description={"suggested_value": defaults.get(CONF_CAPACITY)},
            ): _capacity(),
        }
    )
    return vol.Schema(fields)


def _check_ocpp(data: dict[str, Any], charger_id: str) -> str | None:
    """Return "invalid_charger" for settings no charger can have."""
    try:
        charger_config(data, charger_id)
    except ValueError:
        return "invalid_charger"
    return None


def _password() -> selector.TextSelector:
    return selector.TextSelector(
        selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD)
    )


def _quasar_schema(defaults: dict[str, Any]) -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(
                CONF_HOST, default=defaults.get(CONF_HOST, vol.UNDEFINED)
            ): selector.TextSelector(),
            vol.Required(
                CONF_PORT, default=int(defaults.get(CONF_PORT, 502))
            ): selector.NumberSelector(
                selector.NumberSelectorConfig(
                    min=1, max=65535, step=1, mode=selector.NumberSelectorMode.BOX
                )
            ),
            vol.Required(
                CONF_MINIMUM_INSTEAD_OF_PAUSE,
                default=bool(defaults.get(CONF_MINIMUM_INSTEAD_OF_PAUSE, False)),
            ): selector.BooleanSelector(),
            vol.Optional(
                CONF_CAPACITY,
                description={"suggested_value": defaults.get(CONF_CAPACITY)},
            ): _capacity(),
        }
    )


def _quasar_data(user_input: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {
        CONF_KIND: KIND_QUASAR,
        CONF_HOST: str(user_input[CONF_HOST]).strip(),
        CONF_PORT: int(user_input[CONF_PORT]),
        CONF_MINIMUM_INSTEAD_OF_PAUSE: bool(user_input[CONF_MINIMUM_INSTEAD_OF_PAUSE]),
    }
    if user_input.get(CONF_CAPACITY):
        data[CONF_CAPACITY] = float(user_input[CONF_CAPACITY])
    return data


async def async_check_quasar(data: dict[str, Any]) -> str | None:
    """Read a Quasar once over Modbus TCP; return an error key, or None."""
    host = str(data[CONF_HOST])
    if not host or any(char.isspace() or char in "/:" for char in host):
        return "invalid_host"
    device = QuasarCharger(quasar_config(data, "Wallbox Quasar"))
    try:
        await device.async_connect()
        await device.async_update()
    except DeviceUnavailableError:
        return "cannot_connect"
    finally:
        device.close()
    return None


def charger_title(charger_id: str, vendor: str | None, model: str | None) -> str:
    """Name a charger by what its BootNotification said, and its id."""
    brand = " ".join(part for part in (vendor, model) if part)
    return f"{brand} ({charger_id})" if brand else charger_id


def _ocpp_data(user_input: dict[str, Any], charger_id: str) -> dict[str, Any]:
    data = {
        CONF_KIND: KIND_OCPP,
        CONF_CHARGER_ID: charger_id,
        CONF_CHARGER_PHASES: int(user_input[CONF_CHARGER_PHASES]),
        CONF_MAX_CURRENT: float(user_input[CONF_MAX_CURRENT]),
        CONF_MIN_CURRENT: float(user_input[CONF_MIN_CURRENT]),
        CONF_MINIMUM_INSTEAD_OF_PAUSE: bool(user_input[CONF_MINIMUM_INSTEAD_OF_PAUSE]),
    }
    if user_input.get(CONF_PASSWORD):
        data[CONF_PASSWORD] = user_input[CONF_PASSWORD]
    if user_input.get(CONF_CAPACITY):
        data[CONF_CAPACITY] = float(user_input[CONF_CAPACITY])
    return data


class ChargerSubentryFlow(ConfigSubentryFlow):
    """Add an OCPP charger or a Wallbox Quasar to the household."""

    async def async_step_user(
        self,
        user_input: dict[str, Any] | None = None,  # noqa: ARG002
    ) -> SubentryFlowResult:
        """Choose the kind of charger."""
        return self.async_show_menu(
            step_id="user", menu_options=[KIND_OCPP, KIND_QUASAR]
        )

    def _taken(self, unique_id: str) -> bool:
        entry = self._get_entry()
        return any(sub.unique_id == unique_id for sub in entry.subentries.values())

    async def async_step_ocpp(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Ask for an OCPP charger's id (as set in the charger) and limits."""
        errors: dict[str, str] = {}
        if user_input is not None:
            charger_id = str(user_input[CONF_CHARGER_ID]).strip()
            data = _ocpp_data(user_input, charger_id)
            if (error := _check_ocpp(data, charger_id)) is not None:
                errors["base"] = error
            else:
                if self._taken(charger_id):
                    return self.async_abort(reason="already_configured")
                return self.async_create_entry(
                    title=charger_id, data=data, unique_id=charger_id
                )
        entry = self._get_entry()
        return self.async_show_form(
            step_id="ocpp",
            data_schema=self.add_suggested_values_to_schema(
                _ocpp_schema({}, with_id=True), user_input or {}
            ),
            errors=errors,
            description_placeholders={
                "url": csms_url(self.hass, {**entry.data, **entry.options})
            },
        )

    async def async_step_quasar(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Ask for a Wallbox Quasar's address (Modbus TCP must be on)."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _quasar_data(user_input)
            unique_id = f"quasar_{data[CONF_HOST]}:{data[CONF_PORT]}"
            if self._taken(unique_id):
                return self.async_abort(reason="already_configured")
            error = await async_check_quasar(data)
            if error is not None:
                errors["base"] = error
            else:
                return self.async_create_entry(
                    title=f"Wallbox Quasar {data[CONF_HOST]}",
                    data=data,
                    unique_id=unique_id,
                )
        return self.async_show_form(
            step_id="quasar",
            data_schema=self.add_suggested_values_to_schema(
                _quasar_schema({}), user_input or {}
            ),
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a charger's limits (and a Quasar's address) in place."""
        entry = self._get_entry()
        subentry = self._get_reconfigure_subentry()
        current = dict(subentry.data)
        quasar = current.get(CONF_KIND) == KIND_QUASAR
        errors: dict[str, str] = {}
        if user_input is not None:
            if quasar:
                data = _quasar_data(user_input)
                unique_id = f"quasar_{data[CONF_HOST]}:{data[CONF_PORT]}"
            else:
                unique_id = str(current[CONF_CHARGER_ID])
                data = _ocpp_data(user_input, unique_id)
                if not user_input.get(CONF_PASSWORD) and current.get(CONF_PASSWORD):
                    data[CONF_PASSWORD] = current[CONF_PASSWORD]  # kept when empty
            if unique_id != subentry.unique_id and self._taken(unique_id):
                return self.async_abort(reason="already_configured")
            error = (
                await async_check_quasar(data)
                if quasar
                else _check_ocpp(data, unique_id)
            )
            if error is not None:
                errors["base"] = error
            else:
                return self.async_update_reload_and_abort(
                    entry, subentry, data=data, unique_id=unique_id
                )
        defaults = {**current, **(user_input or {})}
        schema = (
            _quasar_schema(defaults)
            if quasar
            else _ocpp_schema(defaults, with_id=False)
        )
        return self.async_show_form(
            step_id="reconfigure_quasar" if quasar else "reconfigure_ocpp",
            data_schema=schema,
            errors=errors,
            description_placeholders={"name": subentry.title},
        )

    async def async_step_reconfigure_ocpp(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Submit the OCPP charger's reconfigure form."""
        return await self.async_step_reconfigure(user_input)

    async def async_step_reconfigure_quasar(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Submit the Quasar's reconfigure form."""
        return await self.async_step_reconfigure(user_input)


class ChargerDiscoveryFlow(AdoptionFlow):
    """The config flow's part for discovered OCPP chargers (a mixin).

    Integration discovery also brings proposals to adopt devices already in
    Home Assistant (``adoption.py``).
    """

    _discovered: dict[str, Any]

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls,
        config_entry: StroomwijsConfigEntry,  # noqa: ARG003
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Chargers are subentries of the household."""
        return {SUBENTRY_CHARGER: ChargerSubentryFlow}

    async def async_step_integration_discovery(
        self, discovery_info: dict[str, Any]
    ) -> ConfigFlowResult:
        """Handle an unknown charger id that reached the central system."""
        if ADOPT in discovery_info:
            return await self.async_step_adopt(discovery_info)
        charger_id = str(discovery_info[CONF_CHARGER_ID])
        await self.async_set_unique_id(f"ocpp_charger_{charger_id}")
        self._abort_if_unique_id_configured()
        entry = self.hass.config_entries.async_get_entry(discovery_info["entry_id"])
        if entry is None:
            return self.async_abort(reason="household_gone")
        if any(sub.unique_id == charger_id for sub in entry.subentries.values()):
            return self.async_abort(reason="already_configured")
        self._discovered = discovery_info
        self.context["title_placeholders"] = {
            "name": charger_title(
                charger_id, discovery_info.get("vendor"), discovery_info.get("model")
            )
        }
        return await self.async_step_ocpp_confirm()

    async def async_step_ocpp_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Let the user accept the charger (and give its limits and password)."""
        info = self._discovered
        charger_id = str(info[CONF_CHARGER_ID])
        title = charger_title(charger_id, info.get("vendor"), info.get("model"))
        errors: dict[str, str] = {}
        if user_input is not None:
            entry = self.hass.config_entries.async_get_entry(info["entry_id"])
            if entry is None:
                return self.async_abort(reason="household_gone")
            data = _ocpp_data(user_input, charger_id)
            if (error := _check_ocpp(data, charger_id)) is not None:
                errors["base"] = error
            else:
                self.hass.config_entries.async_add_subentry(
                    entry,
                    ConfigSubentry(
                        data=MappingProxyType(data),
                        subentry_type=SUBENTRY_CHARGER,
                        title=title,
                        unique_id=charger_id,
                    ),
                )
                return self.async_abort(reason="charger_added")
        return self.async_show_form(
            step_id="ocpp_confirm",
            data_schema=_ocpp_schema({}, with_id=False),
            errors=errors,
            description_placeholders={
                "charger": title,
                "protocol": str(info.get("protocol") or "OCPP"),
            },
        )
