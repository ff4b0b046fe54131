"""EV chargers in Home Assistant: subentries, the hub view and the entity base.

Chargers are config subentries (type ``charger``) of the household entry.
The engine's ``Household`` runs them (the OCPP central system and the
Quasar drivers, see ``engine/household/chargers.py``); ``ChargerHub`` is the
view entities and services use. An unknown charger id that reaches the
central system starts an integration discovery flow; the user confirms it
and it becomes a subentry. Until then it has no control.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT, Platform

from .engine.drivers.ocpp import CentralSystem, ChargerConfig
from .engine.drivers.quasar import QuasarConfig
from .engine.household import DeviceConfig, Household
from .engine.household.chargers import (
    CHARGER_STATES,
    OCPP_STATES,
    QUASAR_STATES,
    ChargerDevice,
    ChargerHandle,
    ocpp_charger_config,
    quasar_charger_config,
)

__all__ = [
    "CHARGER_STATES",
    "OCPP_STATES",
    "QUASAR_STATES",
    "ChargerDevice",
    "ChargerHandle",
]

SUBENTRY_CHARGER: Final = "charger"
CONF_KIND: Final = "kind"
KIND_OCPP: Final = "ocpp"
KIND_QUASAR: Final = "quasar"
CONF_CHARGER_ID: Final = "charger_id"
CONF_CHARGER_PHASES: Final = "phases"
CONF_MAX_CURRENT: Final = "max_current_a"
CONF_MIN_CURRENT: Final = "min_current_a"
CONF_MINIMUM_INSTEAD_OF_PAUSE: Final = "minimum_instead_of_pause"
CONF_CAPACITY: Final = "capacity_kwh"
CONF_OCPP_HOST: Final = "ocpp_host"
CONF_OCPP_PORT: Final = "ocpp_port"
CONF_OCPP_REQUIRE_AUTH: Final = "ocpp_require_auth"
CONF_OCPP_CERTFILE: Final = "ocpp_certfile"
CONF_OCPP_KEYFILE: Final = "ocpp_keyfile"
DEFAULT_OCPP_HOST: Final = "0.0.0.0"  # noqa: S104 - chargers are on the LAN
DEFAULT_OCPP_PORT: Final = 9000
CHARGER_PLATFORMS: Final = (
    Platform.BINARY_SENSOR,
    Platform.DATETIME,
    Platform.NUMBER,
    Platform.SWITCH,
)


def device_config(
    sid: str, title: str, data: Mapping[str, Any], secrets: dict[str, str]
) -> DeviceConfig | None:
    """Build the household's device entry from a charger subentry.

    A password goes into ``secrets`` (the household config keeps secrets
    apart). Raises ValueError or KeyError for data that cannot work.
    """
    capacity = data.get(CONF_CAPACITY)
    common: dict[str, Any] = {
        "id": sid,
        "name": title,
        "minimum_instead_of_pause": bool(data.get(CONF_MINIMUM_INSTEAD_OF_PAUSE)),
        "capacity_kwh": None if capacity in (None, "") else float(capacity),
    }
    kind = data.get(CONF_KIND)
    if kind == KIND_OCPP:
        password = data.get(CONF_PASSWORD) or None
        if password:
            secrets[f"devices.{sid}.password"] = str(password)
        return DeviceConfig(
            kind="ocpp_charger",
            charger_id=str(data[CONF_CHARGER_ID]),
            password_required=bool(password),
            phases=int(data.get(CONF_CHARGER_PHASES, 3)),
            max_current_a=float(data.get(CONF_MAX_CURRENT, 16.0)),
            min_current_a=float(data.get(CONF_MIN_CURRENT, 6.0)),
            **common,
        )
    if kind == KIND_QUASAR:
        return DeviceConfig(
            kind="quasar",
            host=str(data[CONF_HOST]),
            port=int(data.get(CONF_PORT, 502)),
            **common,
        )
    return None


def charger_config(data: dict[str, Any], title: str) -> ChargerConfig:
    """Build the engine's OCPP charger config from subentry data (ValueError if bad)."""
    secrets: dict[str, str] = {}
    device = device_config("new", title, {**data, CONF_KIND: KIND_OCPP}, secrets)
    if device is None:  # pragma: no cover - the kind is forced above
        raise ValueError("not an OCPP charger")
    return ocpp_charger_config(device, secrets.get("devices.new.password"))


def quasar_config(data: dict[str, Any], title: str) -> QuasarConfig:
    """Build the engine's Quasar config from subentry data (ValueError if bad)."""
    device = device_config("new", title, {**data, CONF_KIND: KIND_QUASAR}, {})
    if device is None:  # pragma: no cover - the kind is forced above
        raise ValueError("not a Quasar")
    return quasar_charger_config(device)


class ChargerHub:
    """The chargers of one household, as entities and services see them."""

    def __init__(self, household: Household) -> None:
        """View the household's chargers."""
        self.household = household

    @property
    def handles(self) -> dict[str, ChargerHandle]:
        """Chargers by subentry id."""
        return self.household.chargers.handles

    @property
    def csms(self) -> CentralSystem | None:
        """The OCPP central system, when it runs."""
        return self.household.chargers.csms
