"""The hand-over to the add-on's gateway (Supervisor discovery).

The add-on announces its API to the Supervisor (service ``stroomwijs``:
host, port and token; see ``engine/gateway/discovery.py``), which starts the
config flow's ``async_step_hassio``. ``GatewayDiscoveryFlow`` checks that
the announcement comes from the Stroomwijs add-on, asks the user which
household should run there, proves the gateway answers with that token and
a protocol both speak, and then writes the gateway's address into the
entry and reloads it: from then on ``remote_household.py`` connects and
sends the household's document (limits, chargers, tariff) to the gateway.

A household already in that gateway only gets a new token (the add-on was
reinstalled) and is reloaded; nothing else changes.
"""

from __future__ import annotations

from typing import Any, Final

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
)
from homeassistant.helpers.service_info.hassio import HassioServiceInfo
import probatio as vol

from . import remote_household
from .engine.gateway.client import ConnectionState, GatewayAddress, GatewayClient
from .engine.gateway.entities import RelayedEntityPort
from .engine.gateway.protocol import FEATURE_ENTITY_HOST
from .engine.household import HouseholdConfigError
from .engine.household.devices import HouseholdDevices, household_entity_ids
from .engine.limits.base import utc_now
from .household_glue import household_config
from .models import StroomwijsConfigEntry
from .remote_household import CLIENT_NAME, CONF_GATEWAY, CONF_HANDOVER

ADDON_SLUG: Final = "stroomwijs"
CONF_HOUSEHOLD: Final = "household"
PROBE_TIMEOUT_S: Final = 15.0
PROBE_ERRORS: Final = {
    ConnectionState.AUTH_FAILED: "invalid_auth",
    ConnectionState.VERSION_MISMATCH: "version_mismatch",
}


def is_stroomwijs_addon(slug: str) -> bool:
    """Whether ``slug`` is the Stroomwijs add-on (``<repository>_stroomwijs``)."""
    return slug == ADDON_SLUG or slug.endswith(f"_{ADDON_SLUG}")


def gateway_address(config: dict[str, Any]) -> GatewayAddress | None:
    """Read host, port and token from a discovery message (None if unusable)."""
    host, port, token = config.get("host"), config.get("port"), config.get("token")
    if not isinstance(host, str) or not host or not isinstance(token, str):
        return None
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:  # noqa: PLR2004
        return None
    return GatewayAddress(host=host, port=port, token=token)


class GatewayDiscoveryFlow(ConfigFlow):
    """The steps of the hand-over; the config flow inherits them."""

    _gateway: GatewayAddress | None = None
    _addon_name: str = ""

    async def async_gateway_discovered(
        self, discovery_info: HassioServiceInfo
    ) -> ConfigFlowResult:
        """Check the add-on's announcement; offer the hand-over."""
        if not is_stroomwijs_addon(discovery_info.slug):
            return self.async_abort(reason="not_stroomwijs_addon")
        address = gateway_address(discovery_info.config)
        if address is None:
            return self.async_abort(reason="invalid_discovery")
        await self.async_set_unique_id(f"gateway_{discovery_info.slug}")
        entries = self._async_current_entries(include_ignore=False)
        for entry in entries:
            known = entry.data.get(CONF_GATEWAY) or {}
            if (known.get("host"), known.get("port")) != (address.host, address.port):
                continue
            if known.get("token") != address.token:
                # The add-on was reinstalled: its new token, nothing else.
                self.hass.config_entries.async_update_entry(
                    entry, data={**entry.data, CONF_GATEWAY: _data(address)}
                )
                self.hass.config_entries.async_schedule_reload(entry.entry_id)
            return self.async_abort(reason="already_configured")
        if not self._candidates():
            return self.async_abort(reason="household_first")
        self._gateway = address
        self._addon_name = discovery_info.name
        self.context["title_placeholders"] = {"name": discovery_info.name}
        return await self.async_step_hassio_confirm()

    def _candidates(self) -> list[StroomwijsConfigEntry]:
        return [
            entry
            for entry in self._async_current_entries(include_ignore=False)
            if not entry.data.get(CONF_GATEWAY)
        ]

    async def async_step_hassio_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask which household moves to the gateway; prove the gateway answers."""
        address = self._gateway
        if address is None:
            return self.async_abort(reason="invalid_discovery")
        candidates = {entry.entry_id: entry for entry in self._candidates()}
        if not candidates:
            return self.async_abort(reason="household_first")
        errors: dict[str, str] = {}
        placeholders = {
            "addon": self._addon_name,
            "gateway": f"{address.host}:{address.port}",
            "reason": "",
        }
        if user_input is not None:
            entry = candidates.get(str(user_input[CONF_HOUSEHOLD]))
            reason, entities = (None, frozenset[str]())
            if entry is not None:
                reason, entities = self._not_runnable(entry)
            if entry is None:
                errors[CONF_HOUSEHOLD] = "household_gone"
            elif reason is not None:
                errors[CONF_HOUSEHOLD] = "not_in_gateway"
                placeholders["reason"] = reason
            else:
                state, features = await self._async_probe_gateway(address)
                if (
                    state == ConnectionState.CONNECTED
                    and FEATURE_ENTITY_HOST not in features
                    and entities
                ):
                    # An add-on too old to drive devices through Home
                    # Assistant's entities: the household stays here.
                    state = ConnectionState.VERSION_MISMATCH
                if state == ConnectionState.CONNECTED:
                    self.hass.config_entries.async_update_entry(
                        entry,
                        data={
                            **entry.data,
                            CONF_GATEWAY: _data(address),
                            CONF_HANDOVER: True,
                        },
                    )
                    self.hass.config_entries.async_schedule_reload(entry.entry_id)
                    return self.async_abort(
                        reason="moved_to_gateway",
                        description_placeholders={"household": entry.title},
                    )
                errors["base"] = PROBE_ERRORS.get(state, "cannot_connect")
        options = [
            SelectOptionDict(value=entry_id, label=entry.title)
            for entry_id, entry in candidates.items()
        ]
        return self.async_show_form(
            step_id="hassio_confirm",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_HOUSEHOLD, default=options[0]["value"]): (
                        SelectSelector(SelectSelectorConfig(options=options))
                    )
                }
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

    def _not_runnable(
        self, entry: StroomwijsConfigEntry
    ) -> tuple[str | None, frozenset[str]]:
        """Say why the gateway could not run ``entry``'s household (None: it can).

        A meter read from Home Assistant's entities cannot work there: the
        guard would stop with Home Assistant. Devices driven through
        entities can (Home Assistant relays them, and the gateway holds the
        limit without them while it is away), if the add-on is new enough:
        the entities they use come back to be checked when it answers.
        """
        try:
            config = household_config(self.hass, entry)
        except (KeyError, ValueError, HouseholdConfigError) as err:
            return str(err), frozenset()
        if config.meter.source == "entities":
            return "its meter is read from Home Assistant entities", frozenset()
        try:
            HouseholdDevices(config, port=RelayedEntityPort(), clock=utc_now)
        except (ValueError, HouseholdConfigError) as err:
            return f"a device cannot be built ({err})", frozenset()
        return None, household_entity_ids(config)

    async def _async_probe_gateway(
        self, address: GatewayAddress
    ) -> tuple[str, frozenset[str]]:
        """Connect, say hello and subscribe once; how it ended, and the features."""
        client = GatewayClient(
            async_get_clientsession(self.hass),
            address,
            client_name=f"{CLIENT_NAME}/flow",
            protocols=remote_household.PROTOCOLS,
        )
        client.start()
        try:
            state = await client.async_wait_first_try(PROBE_TIMEOUT_S)
            return state, client.features
        finally:
            await client.async_stop()


def _data(address: GatewayAddress) -> dict[str, Any]:
    return {"host": address.host, "port": address.port, "token": address.token}
