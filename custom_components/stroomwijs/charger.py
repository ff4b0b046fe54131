"""EV chargers in Home Assistant: subentries, the hub view and the entity base.

Chargers are config subentries (type ``charger``) of the household entry.
The engine's ``Household`` runs them (the OCPP central system and the
Quasar drivers, see ``engine/household/chargers.py``); ``ChargerHub`` is the
view entities and services use. An unknown charger id that reaches the
central system starts an integration discovery flow; the user confirms it
and it becomes a subentry. Until then it has no control.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT, Platform

from .engine.drivers.ocpp import CentralSystem, ChargerConfig, OcppCharger
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
from .household_view import ChargerView

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


class LocalCharger:
    """A charger of the household in this process (a ``ChargerView``)."""

    def __init__(self, household: Household, handle: ChargerHandle) -> None:
        """View ``handle`` of ``household``."""
        self.household = household
        self.handle = handle

    @property
    def device_id(self) -> str:
        """The household's id for it."""
        return self.handle.device_id

    @property
    def subentry_id(self) -> str:
        """The charger's subentry."""
        return self.handle.subentry_id

    @property
    def title(self) -> str:
        """Its name."""
        return self.handle.title

    @property
    def kind(self) -> str:
        """``ocpp`` or ``quasar``."""
        return self.handle.kind

    @property
    def available(self) -> bool:
        """Whether the charger answers."""
        return self.handle.device.available

    @property
    def plugged_in(self) -> bool | None:
        """Whether a car is plugged in."""
        return self.handle.device.plugged_in

    @property
    def power_w(self) -> float | None:
        """What it draws now."""
        return self.handle.device.power_w

    @property
    def setpoint_w(self) -> float | None:
        """The power it was last told."""
        return self.handle.device.setpoint_w

    @property
    def soc_pct(self) -> float | None:
        """The car's SoC in percent."""
        return self.handle.soc_pct

    @property
    def session_energy_kwh(self) -> float | None:
        """Energy of the running session."""
        return self.handle.session_energy_kwh

    @property
    def state_name(self) -> str | None:
        """The state as one of ``CHARGER_STATES``."""
        return self.handle.state_name

    @property
    def limit_w(self) -> float | None:
        """The charger-side limit in force."""
        return self.handle.limit_w

    @property
    def boost_w(self) -> float:
        """The most it can take."""
        return self.handle.boost_w

    @property
    def departure(self) -> datetime | None:
        """When the car leaves."""
        return self.handle.device.departure.departure

    @property
    def target_soc(self) -> float | None:
        """The wanted SoC at departure (0..1)."""
        return self.handle.device.departure.target_soc

    @property
    def min_soc(self) -> float | None:
        """The SoC never to go below (0..1)."""
        return self.handle.device.departure.min_soc

    @property
    def v2g_allowed(self) -> bool:
        """Whether discharge is allowed."""
        return self.handle.device.v2g_allowed

    @property
    def identity(self) -> tuple[str | None, str | None, str | None, str | None]:
        """Vendor, model, serial and firmware from its boot (OCPP)."""
        device = self.handle.device
        if not isinstance(device, OcppCharger):
            return (None, None, None, None)
        state = device.state
        return (state.vendor, state.model, state.serial, state.firmware)

    def planned_power_w(self, slots_ahead: int = 0) -> float | None:
        """Return what the plan gives it now or later."""
        return self.household.planned_power_w(
            self.handle.device_id, slots_ahead=slots_ahead
        )

    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` on every change of the charger."""
        return self.handle.add_listener(listener)

    async def async_set_override(self, setpoint_w: float | None) -> None:
        """Boost, pause or resume through the household (and its guard)."""
        await self.household.async_set_override(self.handle.device_id, setpoint_w)

    async def async_set_departure(self, changes: dict[str, Any]) -> None:
        """Change the departure needs; the household re-plans."""
        self.household.set_departure(self.handle.device_id, changes)

    async def async_set_v2g(self, *, allowed: bool) -> None:
        """Allow or forbid discharge; the household re-plans."""
        self.handle.device.set_v2g_allowed(allowed)
        self.handle.notify()
        self.household.request_replan("V2G allowed" if allowed else "V2G forbidden")


class ChargerHub:
    """The chargers of one household, as entities and services see them.

    ``views`` are what entities use (in this process or in the gateway);
    ``handles`` and ``csms`` are the engine's, in this process only.
    """

    def __init__(
        self,
        household: Household | None,
        views: Mapping[str, ChargerView] | None = None,
    ) -> None:
        """View the household's chargers (or ``views`` of a remote one)."""
        self.household = household
        self.views: dict[str, ChargerView] = (
            dict(views)
            if views is not None
            else {
                device_id: LocalCharger(household, handle)
                for device_id, handle in household.chargers.handles.items()
            }
            if household is not None
            else {}
        )

    @property
    def handles(self) -> dict[str, ChargerHandle]:
        """The engine's chargers by subentry id (empty for a remote household)."""
        return {} if self.household is None else self.household.chargers.handles

    @property
    def csms(self) -> CentralSystem | None:
        """The OCPP central system, when it runs here."""
        return None if self.household is None else self.household.chargers.csms
