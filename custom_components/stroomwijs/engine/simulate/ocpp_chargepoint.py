"""Simulated OCPP charge points (2.1, 2.0.1, 1.6) with a car battery.

Built on the ``ocpp`` library's own ChargePoint classes, connected with a
real websocket (``websockets`` client), so the central system under test
talks to a genuine OCPP peer. The station keeps its charging profiles the
way a real one does: the station-wide maximum survives a lost connection,
an OCPP 2.1 profile with ``invalidAfterOfflineDuration`` lapses once the
station has been offline longer than ``maxOfflineDuration``.

The car's SoC moves with the power the station actually applies, which is
the transaction profile's limit or setpoint, capped by the station maximum,
the hardware, the car's own limits and the car floor (6 A), and zero when
the battery is full (charging) or empty (discharging).
"""

# The ocpp library is untyped and OCPP payloads are free-form JSON.
# ruff: noqa: ANN401

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
import itertools
import logging
import ssl
import time
from typing import Any, cast
import uuid

from ocpp.v16 import ChargePoint as _V16ChargePoint, call_result as call_result16
from ocpp.v21 import ChargePoint as _V21ChargePoint
from ocpp.v201 import ChargePoint as _V201ChargePoint
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from custom_components.stroomwijs.engine.drivers.ocpp.common import on, utc_now_iso

_LOGGER = logging.getLogger(__name__)

VERSIONS = ("ocpp2.1", "ocpp2.0.1", "ocpp1.6")
SIM_FIRMWARE = "sim-1.0"
"""The firmware version every simulated station's BootNotification names."""


@dataclass(slots=True, kw_only=True)
class SimCar:
    """A car battery. Power is positive into the car."""

    capacity_kwh: float = 60.0
    soc: float = 0.5
    max_charge_w: float = 11_000.0
    max_discharge_w: float = 0.0
    """Above zero for a bidirectional car."""
    min_charge_w: float = 0.0
    min_discharge_w: float = 0.0
    target_soc: float = 0.8
    departure: datetime | None = None

    def absorb(self, power_w: float, dt_s: float) -> float:
        """Take ``power_w`` for ``dt_s`` seconds; return the power really taken."""
        if (power_w > 0 and self.soc >= 1.0) or (power_w < 0 and self.soc <= 0.0):
            return 0.0
        delta = power_w * dt_s / 3_600_000.0 / self.capacity_kwh
        self.soc = min(1.0, max(0.0, self.soc + delta))
        return power_w


@dataclass(slots=True, kw_only=True)
class SimProfile:
    """A charging profile the station holds."""

    profile_id: int
    purpose: str
    unit: str
    limit: float | None
    stack_level: int = 0
    setpoint: float | None = None
    discharge_limit: float | None = None
    operation_mode: str | None = None
    transaction_id: str | None = None
    max_offline_s: int | None = None
    invalid_after_offline: bool = False


@dataclass(slots=True, kw_only=True)
class SimStation:
    """Charger hardware and the profiles it keeps over connection losses."""

    phases: int = 3
    voltage_v: float = 230.0
    max_current_a: float = 16.0
    min_current_a: float = 6.0
    rate_units: tuple[str, ...] = ("A", "W")
    max_stack_level: int = 3
    bidirectional: bool = False
    clock: Callable[[], float] = time.monotonic
    station_max: SimProfile | None = None
    tx_profile: SimProfile | None = None
    car: SimCar | None = None
    power_w: float = 0.0
    energy_import_wh: float = 0.0
    energy_export_wh: float = 0.0
    offline_since: float | None = None
    profiles_received: list[SimProfile] = field(default_factory=list)

    @property
    def watts_per_amp(self) -> float:
        """Power per ampere over the phases."""
        return self.phases * self.voltage_v

    def to_watts(self, value: float, unit: str) -> float:
        """Convert a limit to watts."""
        return value if unit == "W" else value * self.watts_per_amp

    def expire_offline_profiles(self) -> None:
        """Drop a profile that must not outlive the central system."""
        profile = self.tx_profile
        if profile is None or self.offline_since is None:
            return
        if not profile.invalid_after_offline or profile.max_offline_s is None:
            return
        if self.clock() - self.offline_since > profile.max_offline_s:
            _LOGGER.debug("profile %s lapsed while offline", profile.profile_id)
            self.tx_profile = None

    def target_power_w(self) -> float:
        """Return the power the station drives the car at now."""
        car = self.car
        if car is None:
            return 0.0
        self.expire_offline_profiles()
        charge_cap = min(self.max_current_a * self.watts_per_amp, car.max_charge_w)
        if self.station_max is not None and self.station_max.limit is not None:
            charge_cap = min(
                charge_cap, self.to_watts(self.station_max.limit, self.station_max.unit)
            )
        discharge_cap = car.max_discharge_w if self.bidirectional else 0.0
        target = charge_cap
        profile = self.tx_profile
        if profile is not None and profile.operation_mode == "CentralSetpoint":
            setpoint = self.to_watts(profile.setpoint or 0.0, profile.unit)
            if profile.limit is not None:
                charge_cap = min(charge_cap, self.to_watts(profile.limit, profile.unit))
            if profile.discharge_limit is not None:
                discharge_cap = min(
                    discharge_cap,
                    -self.to_watts(profile.discharge_limit, profile.unit),
                )
            target = max(-discharge_cap, min(setpoint, charge_cap))
        elif profile is not None and profile.limit is not None:
            target = min(charge_cap, self.to_watts(profile.limit, profile.unit))
        floor = max(self.min_current_a * self.watts_per_amp, car.min_charge_w)
        if 0.0 < target < floor:
            target = 0.0  # the car does not start below its floor
        if 0.0 < -target < car.min_discharge_w:
            target = 0.0
        return target

    def step(self, dt_s: float) -> float:
        """Advance the physics by ``dt_s`` seconds; return the power applied."""
        car = self.car
        if car is None:
            self.power_w = 0.0
            return 0.0
        self.power_w = car.absorb(self.target_power_w(), dt_s)
        energy = self.power_w * dt_s / 3600.0
        if energy >= 0:
            self.energy_import_wh += energy
        else:
            self.energy_export_wh -= energy
        return self.power_w

    def install(self, profile: SimProfile) -> str | None:
        """Store a profile; return a rejection reason or None."""
        if profile.unit not in self.rate_units:
            return "UnsupportedRateUnit"
        if profile.stack_level > self.max_stack_level:
            return "InvalidStackLevel"
        if profile.operation_mode == "CentralSetpoint" and not self.bidirectional:
            return "UnsupportedMode"
        negative = (profile.setpoint or 0.0) < 0 or (profile.limit or 0.0) < 0
        if negative and not self.bidirectional:
            return "InvalidSchedule"
        if profile.discharge_limit is not None and profile.discharge_limit > 0:
            return "InvalidSchedule"
        self.profiles_received.append(profile)
        if profile.purpose in {"ChargingStationMaxProfile", "ChargePointMaxProfile"}:
            self.station_max = profile
        else:
            self.tx_profile = profile
        return None


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _first_period(schedule: Mapping[str, Any]) -> Mapping[str, Any]:
    periods = schedule.get("charging_schedule_period") or [{}]
    return cast("Mapping[str, Any]", periods[0])


def _sampled(station: SimStation, car: SimCar | None, *, v16: bool) -> list[Any]:
    power = station.power_w
    values: list[tuple[str, float, str]] = [
        ("Power.Active.Import", max(0.0, power), "W"),
        ("Power.Active.Export", max(0.0, -power), "W"),
        ("Energy.Active.Import.Register", round(station.energy_import_wh, 1), "Wh"),
    ]
    if car is not None:
        values.append(("SoC", round(car.soc * 100.0, 1), "Percent"))
    if v16:
        return [
            {"value": f"{value:g}", "measurand": measurand, "unit": unit}
            for measurand, value, unit in values
        ]
    return [
        {"value": value, "measurand": measurand, "unit_of_measure": {"unit": unit}}
        for measurand, value, unit in values
    ]


class _Sim2Handlers:
    """CSMS-initiated messages for the 2.0.1 and 2.1 simulated stations."""

    sim: OcppSimulator
    _call: Any
    _call_result: Any

    @on("SetChargingProfile")
    def on_set_charging_profile(
        self, *, evse_id: int, charging_profile: Mapping[str, Any], **_kwargs: Any
    ) -> Any:
        schedule = charging_profile["charging_schedule"][0]
        period = _first_period(schedule)
        profile = SimProfile(
            profile_id=charging_profile["id"],
            purpose=charging_profile["charging_profile_purpose"],
            unit=schedule["charging_rate_unit"],
            limit=_float(period.get("limit")),
            stack_level=charging_profile["stack_level"],
            setpoint=_float(period.get("setpoint")),
            discharge_limit=_float(period.get("discharge_limit")),
            operation_mode=period.get("operation_mode"),
            transaction_id=charging_profile.get("transaction_id"),
            max_offline_s=charging_profile.get("max_offline_duration"),
            invalid_after_offline=bool(
                charging_profile.get("invalid_after_offline_duration", False)
            ),
        )
        reason = self.sim.check_profile(profile, evse_id)
        if reason is not None:
            return self._call_result.SetChargingProfile(
                status="Rejected", status_info={"reason_code": reason}
            )
        return self._call_result.SetChargingProfile(status="Accepted")

    @on("ClearChargingProfile")
    def on_clear_charging_profile(self, **_kwargs: Any) -> Any:
        self.sim.station.tx_profile = None
        return self._call_result.ClearChargingProfile(status="Accepted")

    @on("GetVariables")
    def on_get_variables(
        self, *, get_variable_data: list[Mapping[str, Any]], **_kwargs: Any
    ) -> Any:
        station = self.sim.station
        known = {
            ("SmartChargingCtrlr", "RateUnit"): ",".join(station.rate_units),
            ("SmartChargingCtrlr", "ProfileStackLevel"): str(station.max_stack_level),
        }
        results = []
        for item in get_variable_data:
            key = (item["component"]["name"], item["variable"]["name"])
            value = known.get(key)
            result: dict[str, Any] = {
                "attribute_status": "Accepted"
                if value is not None
                else "UnknownVariable",
                "component": item["component"],
                "variable": item["variable"],
            }
            if value is not None:
                result["attribute_value"] = value
            results.append(result)
        return self._call_result.GetVariables(get_variable_result=results)

    @on("TriggerMessage")
    def on_trigger_message(self, *, requested_message: str, **_kwargs: Any) -> Any:
        supported = {"StatusNotification", "TransactionEvent", "MeterValues"}
        if requested_message not in supported:
            return self._call_result.TriggerMessage(status="NotImplemented")
        if requested_message == "TransactionEvent" and self.sim.transaction_id is None:
            return self._call_result.TriggerMessage(status="Rejected")
        self.sim.later(self.sim.async_send_triggered(requested_message))
        return self._call_result.TriggerMessage(status="Accepted")


class _V21Sim(_Sim2Handlers, _V21ChargePoint):  # type: ignore[misc]
    """OCPP 2.1 station."""


class _V201Sim(_Sim2Handlers, _V201ChargePoint):  # type: ignore[misc]
    """OCPP 2.0.1 station."""


class _V16Sim(_V16ChargePoint):  # type: ignore[misc]
    """OCPP 1.6 charge point."""

    sim: OcppSimulator

    @on("SetChargingProfile")
    def on_set_charging_profile(
        self, *, connector_id: int, cs_charging_profiles: Mapping[str, Any]
    ) -> Any:
        schedule = cs_charging_profiles["charging_schedule"]
        period = _first_period(schedule)
        tx_id = cs_charging_profiles.get("transaction_id")
        profile = SimProfile(
            profile_id=cs_charging_profiles["charging_profile_id"],
            purpose=cs_charging_profiles["charging_profile_purpose"],
            unit="W" if schedule["charging_rate_unit"] == "W" else "A",
            limit=_float(period.get("limit")),
            stack_level=cs_charging_profiles["stack_level"],
            transaction_id=None if tx_id is None else str(tx_id),
        )
        reason = self.sim.check_profile(profile, connector_id)
        return call_result16.SetChargingProfile(
            status="Accepted" if reason is None else "Rejected"
        )

    @on("GetConfiguration")
    def on_get_configuration(self, *, key: list[str] | None = None) -> Any:
        station = self.sim.station
        units = ",".join(
            "Power" if unit == "W" else "Current" for unit in station.rate_units
        )
        known = {
            "ChargingScheduleAllowedChargingRateUnit": units,
            "ChargeProfileMaxStackLevel": str(station.max_stack_level),
        }
        wanted = key or list(known)
        return call_result16.GetConfiguration(
            configuration_key=[
                {"key": name, "readonly": True, "value": known[name]}
                for name in wanted
                if name in known
            ],
            unknown_key=[name for name in wanted if name not in known] or None,
        )

    @on("TriggerMessage")
    def on_trigger_message(self, *, requested_message: str, **_kwargs: Any) -> Any:
        if requested_message not in {"StatusNotification", "MeterValues"}:
            return call_result16.TriggerMessage(status="NotImplemented")
        self.sim.later(self.sim.async_send_triggered(requested_message))
        return call_result16.TriggerMessage(status="Accepted")


_CLASSES: Mapping[str, type[Any]] = {
    "ocpp2.1": _V21Sim,
    "ocpp2.0.1": _V201Sim,
    "ocpp1.6": _V16Sim,
}


class OcppSimulator:
    """A charge point with a car, speaking one OCPP version over a websocket."""

    def __init__(
        self,
        charger_id: str,
        *,
        version: str = "ocpp2.1",
        station: SimStation | None = None,
        evse_id: int = 1,
        connector_id: int = 1,
    ) -> None:
        """Create the station; it connects with ``async_connect``."""
        if version not in VERSIONS:
            msg = f"unknown OCPP version {version!r}"
            raise ValueError(msg)
        self.charger_id = charger_id
        self.serial_number = f"SIM-{charger_id}"[:25]
        """Sent at boot (OCPP allows 25 characters)."""
        self.version = version
        self.station = station or SimStation(bidirectional=version == "ocpp2.1")
        self.evse_id = evse_id
        self.connector_id = connector_id
        self.transaction_id: str | None = None
        self.boot_status: str | None = None
        self._ws: ClientConnection | None = None
        self._cp: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._seq = itertools.count()
        self._heartbeat: asyncio.Task[None] | None = None
        self.frozen = False
        """A hung station: the TCP link stays open, nothing is read or sent."""
        self.validate_own_calls = True
        """Check the station's own CALLs and their answers against the OCPP
        schemas (the central system always checks what it receives). Long
        replays switch it off: it is most of the station's cost."""

    # -- connection ------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        """Whether the websocket is open."""
        return self._reader is not None and not self._reader.done()

    async def async_connect(
        self,
        base_url: str,
        *,
        password: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        boot: bool = True,
    ) -> None:
        """Open the websocket (and boot, unless this is a mere reconnect).

        Raises ``websockets.exceptions.InvalidStatus`` when the server refuses.
        """
        headers = {}
        if password is not None:
            token = base64.b64encode(f"{self.charger_id}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        self._ws = await connect(
            base_url + self.charger_id,
            subprotocols=[Subprotocol(self.version)],
            additional_headers=headers,
            ssl=ssl_context,
            open_timeout=5,
        )
        cp = _CLASSES[self.version](self.charger_id, self._ws, response_timeout=5)
        cp.sim = self
        self._cp = cp
        self._reader = asyncio.get_running_loop().create_task(self._async_read(cp))
        if self.station.offline_since is not None:
            self.station.expire_offline_profiles()
            self.station.offline_since = None
        if boot:
            await self.async_boot()

    async def _async_read(self, cp: Any) -> None:
        with suppress(ConnectionClosed):
            await cp.start()
        if self.station.offline_since is None:
            self.station.offline_since = self.station.clock()

    def freeze(self) -> None:
        """Hang: stop reading (so no pongs either) and stop sending heartbeats."""
        self.frozen = True
        if self._ws is not None:
            self._ws.transport.pause_reading()

    def thaw(self) -> None:
        """Recover from ``freeze``: read again and beat again."""
        self.frozen = False
        if self._ws is not None:
            self._ws.transport.resume_reading()

    async def _async_beat(self, interval_s: float) -> None:
        """Send Heartbeat every ``interval_s`` as the boot answer asked."""
        while True:
            await asyncio.sleep(interval_s)
            if self.frozen:
                continue
            try:
                await self.async_call(self._call_module().Heartbeat())
            except (ConnectionClosed, TimeoutError) as err:
                _LOGGER.debug("%s: heartbeat failed: %s", self.charger_id, err)
                return

    async def async_disconnect(self) -> None:
        """Drop the connection (the station keeps its profiles)."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            with suppress(asyncio.CancelledError):
                await self._reader
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def async_wait_closed(self, timeout_s: float = 5.0) -> None:
        """Wait until the server closed the connection."""
        if self._reader is not None:
            async with asyncio.timeout(timeout_s):
                await asyncio.shield(self._reader)

    def later(self, coro: Any) -> None:
        """Send something after the current answer went out."""

        async def _run() -> None:
            await asyncio.sleep(0)
            try:
                await coro
            except (ConnectionClosed, TimeoutError) as err:
                _LOGGER.debug("%s: deferred send failed: %s", self.charger_id, err)

        task = asyncio.get_running_loop().create_task(_run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def async_call(self, payload: Any) -> Any:
        """Send one CALL and return the result (errors raise)."""
        if self._cp is None:
            msg = "not connected"
            raise RuntimeError(msg)
        return await self._cp.call(
            payload,
            suppress=False,
            skip_schema_validation=not self.validate_own_calls,
        )

    def _call_module(self) -> Any:
        return self._cp._call  # noqa: SLF001

    # -- station behaviour -------------------------------------------------------
    def check_profile(self, profile: SimProfile, evse_or_connector: int) -> str | None:
        """Validate and install a profile the central system sent."""
        station_wide = profile.purpose in {
            "ChargingStationMaxProfile",
            "ChargePointMaxProfile",
        }
        if station_wide and evse_or_connector != 0:
            return "InvalidEvse"
        if profile.purpose == "TxProfile" and (
            profile.transaction_id is None
            or profile.transaction_id != self.transaction_id
        ):
            return "TxNotFound"
        return self.station.install(profile)

    async def async_boot(self) -> str:
        """Send BootNotification; returns Accepted, Pending or Rejected."""
        module = self._call_module()
        if self.version == "ocpp1.6":
            result = await self.async_call(
                module.BootNotification(
                    charge_point_vendor="Stroomwijs",
                    charge_point_model="Sim16",
                    charge_point_serial_number=self.serial_number,
                    firmware_version=SIM_FIRMWARE,
                )
            )
        else:
            result = await self.async_call(
                module.BootNotification(
                    charging_station={
                        "vendor_name": "Stroomwijs",
                        "model": "Sim2",
                        "serial_number": self.serial_number,
                        "firmware_version": SIM_FIRMWARE,
                    },
                    reason="PowerUp",
                )
            )
        self.boot_status = str(result.status)
        interval = getattr(result, "interval", 0)
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        if (
            self.boot_status == "Accepted"
            and isinstance(interval, int)
            and interval > 0
        ):
            self._heartbeat = asyncio.get_running_loop().create_task(
                self._async_beat(float(interval))
            )
        return self.boot_status

    async def async_plug_in(self, car: SimCar | None = None) -> None:
        """Connect a car and start a transaction."""
        self.station.car = car or SimCar(
            max_discharge_w=11_000.0 if self.station.bidirectional else 0.0
        )
        module = self._call_module()
        if self.version == "ocpp1.6":
            await self._status16("Preparing")
            result = await self.async_call(
                module.StartTransaction(
                    connector_id=self.connector_id,
                    id_tag="SIMTAG",
                    meter_start=int(self.station.energy_import_wh),
                    timestamp=utc_now_iso(),
                )
            )
            self.transaction_id = str(result.transaction_id)
            await self._status16("Charging")
            return
        await self.async_call(
            module.StatusNotification(
                timestamp=utc_now_iso(),
                connector_status="Occupied",
                evse_id=self.evse_id,
                connector_id=self.connector_id,
            )
        )
        self.transaction_id = uuid.uuid4().hex[:16]
        await self._transaction_event("Started", "CablePluggedIn", "EVConnected")
        if self.version == "ocpp2.1":
            await self.async_notify_needs()

    async def async_notify_needs(self) -> str:
        """OCPP 2.1: tell the central system what the car can and wants."""
        car = self.station.car
        if car is None:
            msg = "no car plugged in"
            raise RuntimeError(msg)
        capacity_wh = car.capacity_kwh * 1000.0
        v2x: dict[str, Any] = {
            "min_charge_power": car.min_charge_w,
            "max_charge_power": car.max_charge_w,
            "target_soc": round(car.target_soc * 100),
            "ev_target_energy_request": max(
                0.0, (car.target_soc - car.soc) * capacity_wh
            ),
            "ev_min_v2x_energy_request": -car.soc * capacity_wh * 0.8,
            "ev_max_v2x_energy_request": (1.0 - car.soc) * capacity_wh,
        }
        if car.max_discharge_w > 0:
            v2x["min_discharge_power"] = car.min_discharge_w
            v2x["max_discharge_power"] = car.max_discharge_w
        needs: dict[str, Any] = {
            "requested_energy_transfer": "AC_BPT"
            if car.max_discharge_w
            else "AC_three_phase",
            "control_mode": "DynamicControl",
            "v2x_charging_parameters": v2x,
        }
        if car.departure is not None:
            needs["departure_time"] = car.departure.isoformat()
        result = await self.async_call(
            self._call_module().NotifyEVChargingNeeds(
                evse_id=self.evse_id, charging_needs=needs
            )
        )
        return str(result.status)

    async def async_unplug(self) -> None:
        """End the transaction and disconnect the car."""
        module = self._call_module()
        self.station.step(0.0)
        if self.version == "ocpp1.6":
            if self.transaction_id is not None:
                await self.async_call(
                    module.StopTransaction(
                        meter_stop=int(self.station.energy_import_wh),
                        timestamp=utc_now_iso(),
                        transaction_id=int(self.transaction_id),
                    )
                )
            self.transaction_id = None
            self.station.car = None
            await self._status16("Available")
            return
        if self.transaction_id is not None:
            await self._transaction_event("Ended", "EVDeparted", "Idle")
        self.transaction_id = None
        self.station.car = None
        self.station.tx_profile = None
        await self.async_call(
            module.StatusNotification(
                timestamp=utc_now_iso(),
                connector_status="Available",
                evse_id=self.evse_id,
                connector_id=self.connector_id,
            )
        )

    async def async_step(self, dt_s: float) -> float:
        """Advance the physics and report meter values; returns applied power."""
        power = self.station.step(dt_s)
        if self.connected:
            await self._report_meter_values()
        return power

    async def _report_meter_values(self) -> None:
        module = self._call_module()
        timestamp = utc_now_iso()
        if self.version == "ocpp1.6":
            await self.async_call(
                module.MeterValues(
                    connector_id=self.connector_id,
                    transaction_id=None
                    if self.transaction_id is None
                    else int(self.transaction_id),
                    meter_value=[
                        {
                            "timestamp": timestamp,
                            "sampled_value": _sampled(
                                self.station, self.station.car, v16=True
                            ),
                        }
                    ],
                )
            )
            return
        if self.transaction_id is not None:
            await self._transaction_event("Updated", "MeterValuePeriodic", None)
            return
        await self.async_call(
            module.MeterValues(
                evse_id=self.evse_id,
                meter_value=[
                    {
                        "timestamp": timestamp,
                        "sampled_value": _sampled(self.station, None, v16=False),
                    }
                ],
            )
        )

    def _charging_state(self) -> str:
        power = self.station.power_w
        if self.station.car is None:
            return "Idle"
        if power != 0:
            return "Charging"
        return "SuspendedEVSE"

    async def _transaction_event(
        self, event_type: str, trigger: str, charging_state: str | None
    ) -> None:
        info: dict[str, Any] = {
            "transaction_id": self.transaction_id,
            "charging_state": charging_state or self._charging_state(),
        }
        await self.async_call(
            self._call_module().TransactionEvent(
                event_type=event_type,
                timestamp=utc_now_iso(),
                trigger_reason=trigger,
                seq_no=next(self._seq),
                transaction_info=info,
                evse={"id": self.evse_id, "connector_id": self.connector_id},
                meter_value=[
                    {
                        "timestamp": utc_now_iso(),
                        "sampled_value": _sampled(
                            self.station, self.station.car, v16=False
                        ),
                    }
                ],
            )
        )

    async def _status16(self, status: str) -> None:
        await self.async_call(
            self._call_module().StatusNotification(
                connector_id=self.connector_id, error_code="NoError", status=status
            )
        )

    async def async_send_triggered(self, message: str) -> None:
        """Answer a TriggerMessage with the requested message."""
        module = self._call_module()
        if message == "TransactionEvent" and self.transaction_id is not None:
            await self._transaction_event("Updated", "Trigger", None)
        elif message == "MeterValues":
            await self._report_meter_values()
        elif message == "StatusNotification":
            if self.version == "ocpp1.6":
                status = "Available"
                if self.station.car is not None:
                    status = "Charging" if self.transaction_id else "Preparing"
                await self._status16(status)
            else:
                await self.async_call(
                    module.StatusNotification(
                        timestamp=utc_now_iso(),
                        connector_status="Occupied"
                        if self.station.car is not None
                        else "Available",
                        evse_id=self.evse_id,
                        connector_id=self.connector_id,
                    )
                )


async def async_run(
    sim: OcppSimulator,
    base_url: str,
    *,
    stop: asyncio.Event,
    tick_s: float = 1.0,
    time_scale: float = 1.0,
    password: str | None = None,
    car: SimCar | None = None,
) -> None:
    """Run a simulated charger until ``stop``: connect, plug in, report, reconnect.

    ``time_scale`` speeds up the car's physics (60 = a minute per second).
    """
    delay = 1.0
    while not stop.is_set():
        try:
            await sim.async_connect(base_url, password=password)
            if sim.boot_status == "Accepted" and sim.transaction_id is None:
                await sim.async_plug_in(car)
            delay = 1.0
            while sim.connected and not stop.is_set():
                if sim.boot_status == "Accepted":
                    await sim.async_step(tick_s * time_scale)
                with suppress(TimeoutError):
                    async with asyncio.timeout(tick_s):
                        await stop.wait()
        except (OSError, ConnectionClosed, TimeoutError) as err:
            _LOGGER.info("%s: connection failed (%s); retrying", sim.charger_id, err)
        except Exception as err:  # noqa: BLE001 - a refused handshake, keep trying
            _LOGGER.warning("%s: %s; retrying", sim.charger_id, err)
        await sim.async_disconnect()
        if not stop.is_set():
            with suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await stop.wait()
            delay = min(delay * 2, 30.0)


def main(argv: list[str] | None = None) -> int:
    """Run one simulated charge point (for the demo and manual testing)."""
    import argparse  # noqa: PLC0415

    parser = argparse.ArgumentParser(description="Simulated OCPP charge point")
    parser.add_argument(
        "url", help="central system base URL, e.g. ws://127.0.0.1:9000/ocpp/"
    )
    parser.add_argument("charger_id")
    parser.add_argument("--version", choices=VERSIONS, default="ocpp2.1")
    parser.add_argument("--password")
    parser.add_argument("--soc", type=float, default=0.5, help="start SoC, 0..1")
    parser.add_argument("--time-scale", type=float, default=1.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    sim = OcppSimulator(args.charger_id, version=args.version)
    car = SimCar(
        soc=args.soc,
        max_discharge_w=11_000.0 if args.version == "ocpp2.1" else 0.0,
    )

    async def _run() -> None:
        await async_run(
            sim,
            args.url,
            stop=asyncio.Event(),
            password=args.password,
            time_scale=args.time_scale,
            car=car,
        )

    with suppress(KeyboardInterrupt):
        asyncio.run(_run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
