"""OCPP 2.1 session: bidirectional (V2X) charging with central setpoints.

The car declares what it can do in ``NotifyEVChargingNeeds`` (its
``v2xChargingParameters``); Stroomwijs then drives it with a TxProfile whose
period has ``operationMode`` ``CentralSetpoint``, a ``setpoint`` that is
negative for discharge, a charge ``limit`` and a ``dischargeLimit`` (<= 0).
They are in W when the charger's ``RateUnit`` lists W, else in A (rounded
toward zero to 0.1 A).

Every transaction profile carries ``maxOfflineDuration`` and
``invalidAfterOfflineDuration``: if Stroomwijs goes away, the setpoint (a
discharge, or a boost) lapses and the charger falls back to the station-wide
maximum profile, which has no offline expiry and so keeps the DSO limit.
"""

# The ocpp library is untyped and OCPP payloads are free-form JSON.
# ruff: noqa: ANN401

from __future__ import annotations

from collections.abc import Mapping
import logging
from typing import Any

from ocpp.v21 import ChargePoint as _V21ChargePoint

from .charger import EvNeeds
from .common import on, parse_timestamp
from .ocpp2 import Ocpp2Handlers

_LOGGER = logging.getLogger(__name__)


def _number(source: Mapping[str, Any], key: str) -> float | None:
    value = source.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def parse_charging_needs(charging_needs: Mapping[str, Any]) -> EvNeeds:
    """Turn a (snake_case) ChargingNeedsType into ``EvNeeds``."""
    v2x = charging_needs.get("v2x_charging_parameters") or {}
    dc = charging_needs.get("dc_charging_parameters") or {}
    target = _number(v2x, "target_soc")
    if target is None:
        target = _number(dc, "target_soc")
    max_charge = _number(v2x, "max_charge_power")
    if max_charge is None:
        max_charge = _number(dc, "ev_max_power")
    return EvNeeds(
        min_charge_w=_number(v2x, "min_charge_power"),
        max_charge_w=max_charge,
        min_discharge_w=_number(v2x, "min_discharge_power"),
        max_discharge_w=_number(v2x, "max_discharge_power"),
        min_v2x_energy_wh=_number(v2x, "ev_min_v2x_energy_request"),
        max_v2x_energy_wh=_number(v2x, "ev_max_v2x_energy_request"),
        target_soc=None if target is None else max(0.0, min(1.0, target / 100.0)),
        departure=parse_timestamp(charging_needs.get("departure_time")),
        requested_transfer=charging_needs.get("requested_energy_transfer"),
    )


class V21Session(Ocpp2Handlers, _V21ChargePoint):  # type: ignore[misc]
    """One OCPP 2.1 connection, validated against the 2.1 schemas."""

    version = "ocpp2.1"

    @on("NotifyEVChargingNeeds")
    def on_notify_ev_charging_needs(
        self, *, charging_needs: Mapping[str, Any], evse_id: int, **_kwargs: Any
    ) -> Any:
        """Store what the car can do and wants, then re-apply the setpoint."""
        charger = self.require_charger()
        if evse_id != charger.config.evse_id:
            return self._call_result.NotifyEVChargingNeeds(status="Rejected")
        charger.state.needs = parse_charging_needs(charging_needs)
        charger.state.plugged_in = True
        _LOGGER.debug("%s: charging needs %s", self.id, charger.state.needs)
        charger.notify()
        self.reapply_soon()
        return self._call_result.NotifyEVChargingNeeds(status="Accepted")

    def tx_profile(
        self, transaction_id: str, unit: str, periods: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Build a TxProfile that lapses when the central system is gone."""
        profile = super().tx_profile(transaction_id, unit, periods)
        profile["max_offline_duration"] = (
            self.require_charger().config.offline_setpoint_validity_s
        )
        profile["invalid_after_offline_duration"] = True
        return profile

    async def async_apply_setpoint(self, setpoint_w: float) -> None:
        """Send a CentralSetpoint profile (negative = discharge) for V2X cars."""
        charger = self.require_charger()
        if not charger.state.needs.can_discharge:
            await super().async_apply_setpoint(setpoint_w)
            return
        transaction_id = charger.state.transaction_id
        if transaction_id is None:
            _LOGGER.debug("%s: no transaction; setpoint waits", self.id)
            return
        power_range = charger.power_range
        setpoint = round(max(power_range.min_w, min(setpoint_w, power_range.max_w)))
        unit = self.v2x_unit
        period = {
            "start_period": 0,
            "operation_mode": "CentralSetpoint",
            "setpoint": self.toward_zero(setpoint, unit),
            "limit": self.limit_in_unit(max(0.0, power_range.max_w), unit),
            "discharge_limit": self.toward_zero(min(0.0, power_range.min_w), unit),
        }
        profile = self.tx_profile(transaction_id, unit, [period])
        await self._async_set_profile(
            charger.config.evse_id, profile, what="central setpoint"
        )
        self.record_setpoint(float(setpoint))

    @property
    def v2x_unit(self) -> str:
        """Unit of central setpoints: W where the charger takes W, else A.

        V2X setpoints are powers (ISO 15118-20 works in W), so W is used
        whenever ``SmartChargingCtrlr.RateUnit`` lists it. A charger that
        takes only A, or whose configuration could not be read, gets the
        profile in A, as its charge-only profiles are.
        """
        state = self.require_charger().state
        return "W" if "W" in state.rate_units else state.rate_unit

    def toward_zero(self, watts: float, unit: str) -> float:
        """Convert a signed power to ``unit``, rounded toward zero (0.1 A, 1 W).

        Never more charge nor more discharge than asked for.
        """
        if unit == "W":
            return float(round(watts))
        amps = abs(watts) / self.require_charger().config.watts_per_amp
        magnitude = int(amps * 10.0 + 1e-9) / 10.0
        return -magnitude if watts < 0 else magnitude
