"""OCPP 1.6J session: charge-only smart charging.

The DSO limit goes out as a ``ChargePointMaxProfile`` on connector 0, which
the charger keeps when the central system is gone; the plan goes out as a
``TxProfile`` for the running transaction. Rate unit and stack depth come
from ``ChargingScheduleAllowedChargingRateUnit`` and
``ChargeProfileMaxStackLevel``.
"""

# The ocpp library is untyped and OCPP payloads are free-form JSON.
# ruff: noqa: ANN401

from __future__ import annotations

from collections.abc import Mapping
import itertools
import logging
import time
from typing import Any

from ocpp.v16 import ChargePoint as _V16ChargePoint, call, call_result

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

PLUGGED_STATUSES = frozenset(
    {"Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing"}
)
RATE_UNIT_KEY = "ChargingScheduleAllowedChargingRateUnit"
STACK_LEVEL_KEY = "ChargeProfileMaxStackLevel"
# Transaction ids are ours to assign in 1.6; start from the clock so ids stay
# unique over restarts of the central system.
_TRANSACTION_IDS = itertools.count(int(time.time()) % 1_000_000_000)


class V16Session(BaseSession, _V16ChargePoint):  # type: ignore[misc]
    """One OCPP 1.6J connection."""

    version = "ocpp1.6"

    @on("BootNotification")
    def on_boot_notification(
        self, *, charge_point_vendor: str, charge_point_model: str, **kwargs: Any
    ) -> Any:
        """Accept known chargers; keep unknown ones pending."""
        status = self.boot_status(
            vendor=charge_point_vendor,
            model=charge_point_model,
            serial=kwargs.get("charge_point_serial_number"),
            fw=kwargs.get("firmware_version"),
        )
        return call_result.BootNotification(
            current_time=utc_now_iso(), interval=self.boot_interval, status=status
        )

    @after("BootNotification")
    def after_boot_notification(self, **_kwargs: Any) -> None:
        """Configure the charger once the boot answer is out."""
        self.booted()

    @on("Heartbeat")
    def on_heartbeat(self, **_kwargs: Any) -> Any:
        """Answer with the time."""
        return call_result.Heartbeat(current_time=utc_now_iso())

    @on("StatusNotification")
    def on_status_notification(
        self, *, connector_id: int, status: str, **_kwargs: Any
    ) -> Any:
        """Track whether a car is plugged in."""
        charger = self.charger
        if charger is not None and connector_id == charger.config.connector_id:
            charger.state.connector_status = status
            plugged = status in PLUGGED_STATUSES
            if not plugged and charger.state.plugged_in:
                charger.state.soc_pct = None
                charger.state.power_w = 0.0
            charger.state.plugged_in = plugged
            charger.notify()
        return call_result.StatusNotification()

    @on("Authorize")
    def on_authorize(self, **_kwargs: Any) -> Any:
        """Every tag may charge at home."""
        return call_result.Authorize(id_tag_info={"status": "Accepted"})

    @on("StartTransaction")
    def on_start_transaction(
        self, *, connector_id: int, meter_start: int, **_kwargs: Any
    ) -> Any:
        """Assign a transaction id and remember where the meter started."""
        charger = self.require_charger()
        transaction_id = next(_TRANSACTION_IDS)
        if connector_id == charger.config.connector_id:
            charger.state.transaction_id = str(transaction_id)
            charger.state.session_start_energy_wh = float(meter_start)
            charger.state.energy_wh = float(meter_start)
            charger.state.plugged_in = True
            charger.notify()
        return call_result.StartTransaction(
            transaction_id=transaction_id, id_tag_info={"status": "Accepted"}
        )

    @after("StartTransaction")
    def after_start_transaction(self, **_kwargs: Any) -> None:
        """Apply the plan to the new transaction."""
        self.reapply_soon()

    @on("StopTransaction")
    def on_stop_transaction(
        self, *, transaction_id: int, meter_stop: int, **_kwargs: Any
    ) -> Any:
        """Close the transaction."""
        charger = self.require_charger()
        if charger.state.transaction_id == str(transaction_id):
            charger.state.transaction_id = None
            charger.state.energy_wh = float(meter_stop)
            charger.state.applied_setpoint_w = None
            charger.notify()
        return call_result.StopTransaction(id_tag_info={"status": "Accepted"})

    @on("MeterValues")
    def on_meter_values(
        self,
        *,
        connector_id: int,
        meter_value: list[Mapping[str, Any]],
        transaction_id: int | None = None,
        **_kwargs: Any,
    ) -> Any:
        """Store readings; a transaction id here restores state after a restart."""
        charger = self.require_charger()
        if connector_id == charger.config.connector_id:
            if transaction_id is not None and charger.state.transaction_id is None:
                charger.state.transaction_id = str(transaction_id)
                charger.state.plugged_in = True
                self.reapply_soon()
            self.apply_reading(parse_meter_values(meter_value))
        return call_result.MeterValues()

    # -- configuration -----------------------------------------------------------
    async def async_detect(self) -> None:
        """Read the allowed rate unit and the stack depth."""
        charger = self.require_charger()
        result = await checked_call(
            self,
            call.GetConfiguration(key=[RATE_UNIT_KEY, STACK_LEVEL_KEY]),
            what="GetConfiguration",
            timeout_s=self.options.response_timeout_s,
        )
        for item in result.configuration_key or []:
            key, value = item.get("key"), str(item.get("value", ""))
            if key == RATE_UNIT_KEY:
                units = {part.strip() for part in value.split(",")}
                charger.state.rate_unit = "W" if units == {"Power"} else "A"
                charger.state.rate_units = tuple(
                    unit
                    for unit, name in (("A", "Current"), ("W", "Power"))
                    if name in units
                )
            elif key == STACK_LEVEL_KEY and value.strip().isdigit():
                charger.state.max_stack_level = int(value)

    def _profile(
        self, profile_id: int, purpose: str, limit: float, **extra: Any
    ) -> dict[str, Any]:
        charger = self.require_charger()
        unit = charger.state.rate_unit
        return {
            "charging_profile_id": profile_id,
            "stack_level": 0
            if purpose == "ChargePointMaxProfile"
            else min(1, charger.state.max_stack_level),
            "charging_profile_purpose": purpose,
            "charging_profile_kind": "Absolute",
            "charging_schedule": {
                "charging_rate_unit": unit,
                "start_schedule": schedule_start(),
                "charging_schedule_period": [
                    {"start_period": 0, "limit": self.limit_in_unit(limit, unit)}
                ],
            },
            **extra,
        }

    async def _async_set_profile(
        self, connector_id: int, profile: dict[str, Any], *, what: str
    ) -> None:
        await self.send_profile_once(
            connector_id,
            profile,
            lambda: self._async_send_profile(connector_id, profile, what),
        )

    async def _async_send_profile(
        self, connector_id: int, profile: dict[str, Any], what: str
    ) -> None:
        result = await checked_call(
            self,
            call.SetChargingProfile(
                connector_id=connector_id, cs_charging_profiles=profile
            ),
            what=f"SetChargingProfile ({what})",
            timeout_s=self.options.response_timeout_s,
        )
        if result.status != "Accepted":
            msg = f"charger {self.id} answered {result.status} to the {what}"
            self.require_charger().state.last_error = msg
            raise DeviceUnavailableError(msg)

    async def async_apply_limits(self) -> None:
        """ChargePointMaxProfile on connector 0: kept by the charger offline."""
        charger = self.require_charger()
        limit_w = charger.station_limit_w
        profile = self._profile(STATION_PROFILE_ID, "ChargePointMaxProfile", limit_w)
        await self._async_set_profile(0, profile, what="station limit")
        self.record_limit(limit_w)

    async def async_apply_setpoint(self, setpoint_w: float) -> None:
        """TxProfile for the running transaction (charge only)."""
        charger = self.require_charger()
        transaction_id = charger.state.transaction_id
        if transaction_id is None or not transaction_id.isdigit():
            _LOGGER.debug("%s: no transaction; setpoint waits", self.id)
            return
        setpoint = max(0.0, setpoint_w)
        profile = self._profile(
            TX_PROFILE_ID, "TxProfile", setpoint, transaction_id=int(transaction_id)
        )
        await self._async_set_profile(
            charger.config.connector_id, profile, what="charging profile"
        )
        self.record_setpoint(setpoint)

    async def async_request_state(self) -> None:
        """Ask for the connector status and meter values (with the transaction)."""
        charger = self.require_charger()
        for message in ("StatusNotification", "MeterValues"):
            result = await checked_call(
                self,
                call.TriggerMessage(
                    requested_message=message, connector_id=charger.config.connector_id
                ),
                what=f"TriggerMessage {message}",
                timeout_s=self.options.response_timeout_s,
            )
            _LOGGER.debug("%s: trigger %s: %s", self.id, message, result.status)

    async def async_probe(self) -> None:
        """Ask for a Heartbeat; any answer shows the charger executes CALLs."""
        await checked_call(
            self,
            call.TriggerMessage(requested_message="Heartbeat"),
            what="TriggerMessage Heartbeat",
            timeout_s=self.options.response_timeout_s,
        )
