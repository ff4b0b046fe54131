"""Handlers common to OCPP 2.0.1 and 2.1.

The message shapes these handlers use are the same in both versions; each
version's session class binds them to its own ``ocpp`` library module
(``ocpp.v201`` or ``ocpp.v21``), so the payloads are validated against that
version's schemas.
"""

# The ocpp library is untyped and OCPP payloads are free-form JSON.
# ruff: noqa: ANN401

from __future__ import annotations

from collections.abc import Mapping
import logging
from typing import Any

from custom_components.stroomwijs.engine.capabilities import DeviceUnavailableError

from .common import checked_call, on, parse_meter_values, utc_now_iso
from .session import (
    STATION_PROFILE_ID,
    TX_PROFILE_ID,
    BaseSession,
    after,
    schedule_start,
)

_LOGGER = logging.getLogger(__name__)

SMART_CHARGING_CTRLR = "SmartChargingCtrlr"
PLUGGED_STATES = frozenset({"EVConnected", "Charging", "SuspendedEV", "SuspendedEVSE"})


class Ocpp2Handlers(BaseSession):
    """Messages and profiles for OCPP 2.0.1 and 2.1 (charge-only smart charging)."""

    _call: Any
    _call_result: Any

    # -- messages from the charger ------------------------------------------------
    @on("BootNotification")
    def on_boot_notification(
        self,
        *,
        charging_station: Mapping[str, Any],
        reason: str,
        **_kwargs: Any,
    ) -> Any:
        """Accept known chargers; keep unknown ones pending."""
        status = self.boot_status(
            vendor=charging_station.get("vendor_name"),
            model=charging_station.get("model"),
            serial=charging_station.get("serial_number"),
            fw=charging_station.get("firmware_version"),
        )
        _LOGGER.debug("%s booted (%s): %s", self.id, reason, status)
        return self._call_result.BootNotification(
            current_time=utc_now_iso(), interval=self.boot_interval, status=status
        )

    @after("BootNotification")
    def after_boot_notification(self, **_kwargs: Any) -> None:
        """Configure the charger once the boot answer is out."""
        self.booted()

    @on("Heartbeat")
    def on_heartbeat(self, **_kwargs: Any) -> Any:
        """Answer with the time."""
        return self._call_result.Heartbeat(current_time=utc_now_iso())

    @on("StatusNotification")
    def on_status_notification(
        self, *, connector_status: str, evse_id: int, connector_id: int, **_kwargs: Any
    ) -> Any:
        """Track whether a car is plugged in."""
        charger = self.charger
        if charger is not None and evse_id == charger.config.evse_id:
            charger.state.connector_status = connector_status
            plugged = connector_status == "Occupied"
            if plugged != charger.state.plugged_in:
                charger.state.plugged_in = plugged
                if not plugged:
                    self.forget_car()
            charger.notify()
        del connector_id
        return self._call_result.StatusNotification()

    @on("Authorize")
    def on_authorize(self, **_kwargs: Any) -> Any:
        """Every token may charge at home."""
        return self._call_result.Authorize(id_token_info={"status": "Accepted"})

    @on("TransactionEvent")
    def on_transaction_event(
        self,
        *,
        event_type: str,
        transaction_info: Mapping[str, Any],
        trigger_reason: str,
        meter_value: list[Mapping[str, Any]] | None = None,
        evse: Mapping[str, Any] | None = None,
        id_token: Mapping[str, Any] | None = None,
        **_kwargs: Any,
    ) -> Any:
        """Follow the transaction and its meter values."""
        charger = self.require_charger()
        evse_id = evse.get("id") if evse else None
        if evse_id not in (None, charger.config.evse_id):
            return self._transaction_result(id_token)
        state = charger.state
        transaction_id = str(transaction_info.get("transaction_id"))
        new_transaction = state.transaction_id != transaction_id
        charging_state = transaction_info.get("charging_state")
        if isinstance(charging_state, str):
            state.charging_state = charging_state
        if event_type == "Ended":
            state.transaction_id = None
            state.session_start_energy_wh = None
            state.applied_setpoint_w = None
            state.charging_state = None
            if trigger_reason in {"EVDeparted", "EVCommunicationLost"}:
                state.plugged_in = False
                self.forget_car()
        else:
            state.transaction_id = transaction_id
            if new_transaction:
                state.session_start_energy_wh = None
            if isinstance(charging_state, str):
                state.plugged_in = charging_state in PLUGGED_STATES
            elif event_type == "Started":
                state.plugged_in = True
        if meter_value:
            self.apply_reading(parse_meter_values(meter_value))
        charger.notify()
        if event_type != "Ended" and new_transaction:
            self.reapply_soon()
        return self._transaction_result(id_token)

    def _transaction_result(self, id_token: Mapping[str, Any] | None) -> Any:
        if id_token is None:
            return self._call_result.TransactionEvent()
        return self._call_result.TransactionEvent(id_token_info={"status": "Accepted"})

    @on("MeterValues")
    def on_meter_values(
        self, *, evse_id: int, meter_value: list[Mapping[str, Any]], **_kwargs: Any
    ) -> Any:
        """Store power, energy and SoC."""
        charger = self.require_charger()
        if evse_id in (0, charger.config.evse_id):
            self.apply_reading(parse_meter_values(meter_value))
        return self._call_result.MeterValues()

    def forget_car(self) -> None:
        """Drop the car's SoC and needs once it left."""
        charger = self.charger
        if charger is None:
            return
        charger.state.soc_pct = None
        charger.state.power_w = 0.0
        charger.state.needs = type(charger.state.needs)()

    # -- configuration -----------------------------------------------------------
    async def async_detect(self) -> None:
        """Read RateUnit and ProfileStackLevel from SmartChargingCtrlr."""
        charger = self.require_charger()
        request = self._call.GetVariables(
            get_variable_data=[
                {
                    "component": {"name": SMART_CHARGING_CTRLR},
                    "variable": {"name": "RateUnit"},
                },
                {
                    "component": {"name": SMART_CHARGING_CTRLR},
                    "variable": {"name": "ProfileStackLevel"},
                },
            ]
        )
        result = await checked_call(
            self,
            request,
            what="GetVariables",
            timeout_s=self.options.response_timeout_s,
        )
        for item in result.get_variable_result:
            if item.get("attribute_status") != "Accepted":
                continue
            name = item.get("variable", {}).get("name")
            value = str(item.get("attribute_value", ""))
            if name == "RateUnit":
                charger.state.rate_unit = self.choose_unit(value)
                charger.state.rate_units = tuple(
                    unit
                    for unit in ("A", "W")
                    if unit in {part.strip().upper() for part in value.split(",")}
                )
            elif name == "ProfileStackLevel" and value.strip().isdigit():
                charger.state.max_stack_level = int(value)
        _LOGGER.debug(
            "%s: rate unit %s, max stack level %s",
            self.id,
            charger.state.rate_unit,
            charger.state.max_stack_level,
        )

    @staticmethod
    def choose_unit(member_list: str) -> str:
        """Prefer amperes (the car floor is in A) when the charger takes both."""
        units = {part.strip().upper() for part in member_list.split(",")}
        if "A" in units:
            return "A"
        if "W" in units:
            return "W"
        return "A"

    @property
    def tx_stack_level(self) -> int:
        """Stack level for the transaction profile, within the charger's range."""
        return min(1, self.require_charger().state.max_stack_level)

    async def async_apply_limits(self) -> None:
        """Send ChargingStationMaxProfile on EVSE 0: the DSO share, kept offline."""
        charger = self.require_charger()
        unit = charger.state.rate_unit
        limit_w = charger.station_limit_w
        profile = {
            "id": STATION_PROFILE_ID,
            "stack_level": 0,
            "charging_profile_purpose": "ChargingStationMaxProfile",
            "charging_profile_kind": "Absolute",
            "charging_schedule": [
                {
                    "id": STATION_PROFILE_ID,
                    "start_schedule": schedule_start(),
                    "charging_rate_unit": unit,
                    "charging_schedule_period": [
                        {"start_period": 0, "limit": self.limit_in_unit(limit_w, unit)}
                    ],
                }
            ],
        }
        await self._async_set_profile(0, profile, what="station limit")
        self.record_limit(limit_w)

    async def async_apply_setpoint(self, setpoint_w: float) -> None:
        """Send the transaction profile: a charge limit (never below zero)."""
        charger = self.require_charger()
        transaction_id = charger.state.transaction_id
        if transaction_id is None:
            _LOGGER.debug("%s: no transaction; setpoint waits", self.id)
            return
        unit = charger.state.rate_unit
        limit = self.limit_in_unit(max(0.0, setpoint_w), unit)
        profile = self.tx_profile(
            transaction_id, unit, [{"start_period": 0, "limit": limit}]
        )
        await self._async_set_profile(
            charger.config.evse_id, profile, what="charging profile"
        )
        self.record_setpoint(max(0.0, setpoint_w))

    def tx_profile(
        self, transaction_id: str, unit: str, periods: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Build a TxProfile with one schedule."""
        return {
            "id": TX_PROFILE_ID,
            "stack_level": self.tx_stack_level,
            "charging_profile_purpose": "TxProfile",
            "charging_profile_kind": "Absolute",
            "transaction_id": transaction_id,
            "charging_schedule": [
                {
                    "id": TX_PROFILE_ID,
                    "start_schedule": schedule_start(),
                    "charging_rate_unit": unit,
                    "charging_schedule_period": periods,
                }
            ],
        }

    async def _async_set_profile(
        self, evse_id: int, profile: dict[str, Any], *, what: str
    ) -> None:
        await self.send_profile_once(
            evse_id, profile, lambda: self._async_send_profile(evse_id, profile, what)
        )

    async def _async_send_profile(
        self, evse_id: int, profile: dict[str, Any], what: str
    ) -> None:
        request = self._call.SetChargingProfile(
            evse_id=evse_id, charging_profile=profile
        )
        result = await checked_call(
            self,
            request,
            what=f"SetChargingProfile ({what})",
            timeout_s=self.options.response_timeout_s,
        )
        if result.status != "Accepted":
            reason = ""
            if isinstance(result.status_info, Mapping):
                reason = f" ({result.status_info.get('reason_code')})"
            msg = f"charger {self.id} rejected the {what}{reason}"
            self.require_charger().state.last_error = msg
            raise DeviceUnavailableError(msg)

    async def async_request_state(self) -> None:
        """Ask for a TransactionEvent and a StatusNotification (state after restart)."""
        charger = self.require_charger()
        evse = {"id": charger.config.evse_id}
        for message in ("StatusNotification", "TransactionEvent"):
            request = self._call.TriggerMessage(
                requested_message=message,
                evse=evse
                if message == "TransactionEvent"
                else {**evse, "connector_id": charger.config.connector_id},
            )
            result = await checked_call(
                self,
                request,
                what=f"TriggerMessage {message}",
                timeout_s=self.options.response_timeout_s,
            )
            _LOGGER.debug("%s: trigger %s: %s", self.id, message, result.status)

    async def async_probe(self) -> None:
        """Ask for a Heartbeat; any answer shows the charger executes CALLs."""
        await checked_call(
            self,
            self._call.TriggerMessage(requested_message="Heartbeat"),
            what="TriggerMessage Heartbeat",
            timeout_s=self.options.response_timeout_s,
        )
