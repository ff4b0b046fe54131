"""The OCPP central system against real ``ocpp`` charge points over loopback."""

# Test-only passwords.
# ruff: noqa: S106

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
import json
from pathlib import Path
import ssl

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from custom_components.stroomwijs.engine.capabilities import (
    Bidirectional,
    DepartureNeeds,
    DeviceUnavailableError,
    PowerMeter,
    PowerSettable,
)
from custom_components.stroomwijs.engine.drivers.ocpp import (
    ChargerConfig,
    PendingCharger,
)
from custom_components.stroomwijs.engine.drivers.ocpp.common import (
    parse_meter_values,
)
from custom_components.stroomwijs.engine.simulate.ocpp_chargepoint import (
    OcppSimulator,
    SimCar,
    SimStation,
    async_run,
)
from tests.tls import self_signed_certificate

from .conftest import CsmsFactory, wait_for


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        """Start at zero."""
        self.now = 0.0

    def __call__(self) -> float:
        """Return the current time."""
        return self.now


async def _connected(
    make_csms: CsmsFactory,
    version: str,
    config: ChargerConfig | None = None,
    station: SimStation | None = None,
) -> tuple[object, OcppSimulator]:
    config = config or ChargerConfig(charger_id="cp1")
    csms = await make_csms(config)
    sim = OcppSimulator(config.charger_id, version=version, station=station)
    await sim.async_connect(csms.url)
    charger = csms.chargers[config.charger_id]
    await wait_for(lambda: charger.state.applied_limit_w is not None, what="limit")
    return csms, sim


async def test_v21_car_discharges_on_negative_setpoint(make_csms: CsmsFactory) -> None:
    """A 2.1 car declares V2X needs, gets a negative central setpoint and discharges."""
    csms = await make_csms(ChargerConfig(charger_id="v2x", capacity_kwh=60.0))
    sim = OcppSimulator("v2x", version="ocpp2.1")
    await sim.async_connect(csms.url)
    charger = csms.chargers["v2x"]
    assert isinstance(charger, PowerMeter)
    assert isinstance(charger, PowerSettable)
    assert isinstance(charger, Bidirectional)
    departure = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)
    await sim.async_plug_in(
        SimCar(soc=0.6, max_discharge_w=7000.0, target_soc=0.9, departure=departure)
    )
    await wait_for(lambda: charger.discharge_allowed, what="V2X needs")
    assert charger.power_range.min_w == -7000.0
    assert charger.departure.departure == departure
    assert charger.departure.target_soc == pytest.approx(0.9)

    await charger.async_set_power(-5000.0)
    profile = sim.station.tx_profile
    assert profile is not None
    assert profile.operation_mode == "CentralSetpoint"
    assert profile.setpoint == -5000.0
    assert profile.discharge_limit is not None
    assert profile.discharge_limit <= 0
    assert profile.invalid_after_offline
    assert profile.max_offline_s == 300

    applied = await sim.async_step(3600.0)
    assert applied == -5000.0
    await wait_for(lambda: charger.power_w == -5000.0, what="meter value")
    assert charger.soc == pytest.approx(0.6 - 5.0 / 60.0, abs=0.002)
    assert charger.setpoint_w == -5000.0

    # A setpoint beyond what the car offers is clamped to its discharge limit.
    await charger.async_set_power(-20_000.0)
    assert sim.station.tx_profile is not None
    assert sim.station.tx_profile.setpoint == -7000.0


async def test_v21_discharge_stops_when_v2g_forbidden_or_min_soc_reached(
    make_csms: CsmsFactory,
) -> None:
    """Without permission, or at the minimum SoC, the range has no negative part."""
    csms = await make_csms(ChargerConfig(charger_id="v2x"))
    sim = OcppSimulator("v2x", version="ocpp2.1")
    await sim.async_connect(csms.url)
    charger = csms.chargers["v2x"]
    await sim.async_plug_in(SimCar(soc=0.3, max_discharge_w=7000.0))
    await wait_for(lambda: charger.discharge_allowed)
    charger.set_v2g_allowed(False)
    assert charger.power_range.min_w == 0.0
    await charger.async_set_power(-5000.0)
    assert sim.station.tx_profile is not None
    assert sim.station.tx_profile.setpoint == 0.0
    charger.set_v2g_allowed(True)
    charger.set_departure(DepartureNeeds(departure=None, target_soc=0.8, min_soc=0.4))
    await wait_for(lambda: charger.soc is not None)
    assert not charger.discharge_allowed
    assert charger.departure.target_soc == 0.8


async def test_charger_side_limit_holds_offline_and_is_resent_after_reconnect(
    make_csms: CsmsFactory,
) -> None:
    """The station max profile outlives the CSMS; a new CSMS re-sends it and resumes."""
    clock = FakeClock()
    station = SimStation(bidirectional=True, clock=clock)
    config = ChargerConfig(charger_id="cp1", offline_setpoint_validity_s=60)
    csms = await make_csms(config)
    sim = OcppSimulator("cp1", version="ocpp2.1", station=station)
    await sim.async_connect(csms.url)
    charger = csms.chargers["cp1"]
    await wait_for(lambda: charger.state.applied_limit_w is not None)
    await sim.async_plug_in(SimCar(soc=0.5, max_discharge_w=7000.0))
    await wait_for(lambda: charger.discharge_allowed)
    await charger.async_set_station_limit(4600.0)
    await charger.async_set_power(11_000.0)  # boost, capped by the limit
    # 4600 W is sent as 6.6 A (rounded down, on the safe side) = 4554 W.
    assert await sim.async_step(1.0) == pytest.approx(4554.0)
    snapshot = charger.snapshot()

    await csms.async_stop()  # Stroomwijs goes away
    await sim.async_wait_closed()
    assert not sim.connected
    clock.now += 30.0
    assert await sim.async_step(1.0) == pytest.approx(4554.0)
    assert sim.station.tx_profile is not None
    clock.now += 60.0  # past maxOfflineDuration: the setpoint lapses
    assert await sim.async_step(1.0) == pytest.approx(4554.0)
    assert sim.station.tx_profile is None
    assert sim.station.station_max is not None
    assert sim.station.station_max.limit == pytest.approx(6.6)  # 4600 W in A

    # Stroomwijs restarts, restores what it persisted; the charger reconnects.
    csms2 = await make_csms(config)
    charger2 = csms2.chargers["cp1"]
    charger2.restore(snapshot)
    received = len(sim.station.profiles_received)
    await sim.async_connect(csms2.url, boot=False)
    await wait_for(lambda: charger2.state.transaction_id == sim.transaction_id)
    await wait_for(lambda: charger2.setpoint_w is not None, what="setpoint again")
    assert charger2.state.applied_limit_w == 4600.0
    purposes = [p.purpose for p in sim.station.profiles_received[received:]]
    assert purposes[0] == "ChargingStationMaxProfile"
    assert "TxProfile" in purposes
    assert charger2.state.connections == 1


async def test_unknown_charger_is_refused_control_until_accepted(
    make_csms: CsmsFactory,
) -> None:
    """An unknown id is Pending, reported once, refused everything but boot."""
    seen: list[PendingCharger] = []
    csms = await make_csms(seen=seen)
    sim = OcppSimulator("stranger", version="ocpp2.0.1")
    await sim.async_connect(csms.url)
    assert sim.boot_status == "Pending"
    assert [p.charger_id for p in seen] == ["stranger"]
    assert seen[0].protocol == "ocpp2.0.1"
    assert "stranger" not in csms.chargers
    assert "stranger" in csms.pending
    with pytest.raises(Exception, match=r"SecurityError|not accepted") as err:
        await sim.async_plug_in()
    assert getattr(err.value, "code", "") == "SecurityError"
    assert sim.station.profiles_received == []
    await sim.async_boot()  # booting again does not report it twice
    assert len(seen) == 1

    charger = csms.add_charger(ChargerConfig(charger_id="stranger"))
    await sim.async_wait_closed()
    await sim.async_connect(csms.url)
    assert sim.boot_status == "Accepted"
    await wait_for(lambda: charger.state.applied_limit_w is not None)
    assert sim.station.station_max is not None
    assert "stranger" not in csms.pending


async def test_basic_auth_is_enforced(make_csms: CsmsFactory) -> None:
    """Security profile 1: no, or wrong, credentials get HTTP 401."""
    seen: list[PendingCharger] = []
    csms = await make_csms(
        ChargerConfig(charger_id="secure", password="correct horse"),
        seen=seen,
        require_auth=True,
    )
    sim = OcppSimulator("secure", version="ocpp2.0.1")
    with pytest.raises(InvalidStatus) as err:
        await sim.async_connect(csms.url)
    assert err.value.response.status_code == 401
    with pytest.raises(InvalidStatus):
        await sim.async_connect(csms.url, password="wrong")
    await sim.async_connect(csms.url, password="correct horse")
    assert sim.boot_status == "Accepted"

    other = OcppSimulator("newcomer", version="ocpp1.6")
    with pytest.raises(InvalidStatus):
        await other.async_connect(csms.url, password="anything")
    assert [p.charger_id for p in seen] == ["newcomer"]


async def test_tls_security_profile_2_with_user_certificate(
    make_csms: CsmsFactory, tmp_path: Path
) -> None:
    """Security profile 2: wss with the user's certificate plus Basic auth."""
    cert_path, key_path = self_signed_certificate(tmp_path)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert_path, key_path)
    csms = await make_csms(
        ChargerConfig(charger_id="tls", password="s3cret"),
        ssl_context=server_ctx,
        require_auth=True,
    )
    assert csms.url.startswith("wss://127.0.0.1:")
    client_ctx = ssl.create_default_context(cafile=str(cert_path))
    sim = OcppSimulator("tls", version="ocpp2.1")
    await sim.async_connect(csms.url, password="s3cret", ssl_context=client_ctx)
    assert sim.boot_status == "Accepted"
    untrusting = ssl.create_default_context()
    other = OcppSimulator("tls", version="ocpp2.1")
    with pytest.raises(ssl.SSLCertVerificationError):
        await other.async_connect(csms.url, password="s3cret", ssl_context=untrusting)


@pytest.mark.parametrize(
    ("version", "units", "expected_unit", "expected_limit"),
    [
        ("ocpp2.0.1", ("A", "W"), "A", 10.1),
        ("ocpp2.0.1", ("W",), "W", 7000.0),
        ("ocpp1.6", ("A", "W"), "A", 10.1),
        ("ocpp1.6", ("W",), "W", 7000.0),
    ],
)
async def test_charge_only_smart_charging_detects_rate_unit(
    make_csms: CsmsFactory,
    version: str,
    units: tuple[str, ...],
    expected_unit: str,
    expected_limit: float,
) -> None:
    """2.0.1 and 1.6: station max plus transaction profile, in the charger's unit."""
    station = SimStation(rate_units=units, max_stack_level=2)
    csms, sim = await _connected(make_csms, version, station=station)
    charger = csms.chargers["cp1"]  # type: ignore[attr-defined]
    assert charger.state.rate_unit == expected_unit
    assert charger.state.max_stack_level == 2
    assert station.station_max is not None
    assert station.station_max.unit == expected_unit
    assert station.station_max.stack_level == 0
    await sim.async_plug_in(SimCar(soc=0.2))
    await wait_for(lambda: charger.state.transaction_id is not None)
    assert charger.power_range.min_w == 0.0  # charge only
    await charger.async_set_power(7000.0)
    assert station.tx_profile is not None
    assert station.tx_profile.purpose == "TxProfile"
    assert station.tx_profile.unit == expected_unit
    assert station.tx_profile.limit == pytest.approx(expected_limit)
    power = await sim.async_step(60.0)
    assert 6900.0 <= power <= 7000.0
    await wait_for(lambda: charger.power_w == power)
    # A discharge request is a pause on a charge-only charger.
    await charger.async_set_power(-3000.0)
    assert station.tx_profile.limit == 0.0
    assert await sim.async_step(60.0) == 0.0


async def test_car_floor_and_minimum_instead_of_pause(make_csms: CsmsFactory) -> None:
    """Below the configured 8 A floor the car pauses, or is held at the floor."""
    config = ChargerConfig(
        charger_id="cp1", min_current_a=8.0, minimum_instead_of_pause=True
    )
    csms, sim = await _connected(make_csms, "ocpp2.0.1", config=config)
    charger = csms.chargers["cp1"]  # type: ignore[attr-defined]
    await sim.async_plug_in(SimCar())
    await wait_for(lambda: charger.state.transaction_id is not None)
    await charger.async_set_power(2000.0)  # below 8 A x 3 x 230 V
    assert sim.station.tx_profile is not None
    assert sim.station.tx_profile.limit == 8.0
    await charger.async_pause()
    assert sim.station.tx_profile.limit == 8.0  # minimum instead of pause
    await charger.async_boost()
    assert sim.station.tx_profile.limit == 16.0
    await charger.async_set_manual(None)
    assert sim.station.tx_profile.limit == 8.0  # back to the plan's (clamped) 2 kW
    # A DSO limit below the floor pauses: the limit wins over the car's comfort.
    await charger.async_set_station_limit(3000.0)
    assert sim.station.tx_profile.limit == 0.0


async def test_setpoint_while_offline_raises_device_unavailable(
    make_csms: CsmsFactory,
) -> None:
    """A charger that is not connected reports a clear error, nothing is lost."""
    csms = await make_csms(ChargerConfig(charger_id="away"))
    charger = csms.chargers["away"]
    assert not charger.available
    with pytest.raises(DeviceUnavailableError, match="offline"):
        await charger.async_set_power(3000.0)
    with pytest.raises(DeviceUnavailableError):
        await charger.async_set_station_limit(5000.0)
    assert charger.station_limit_w == 5000.0  # kept for the next connection


async def test_malformed_messages_get_ocpp_errors(make_csms: CsmsFactory) -> None:
    """Garbage, bad payloads and unknown actions get CALLERRORs; the socket lives."""
    csms = await make_csms(ChargerConfig(charger_id="raw"))
    for proto in ("ocpp2.1", "ocpp2.0.1", "ocpp1.6"):
        async with connect(csms.url + "raw", subprotocols=[Subprotocol(proto)]) as ws:

            async def answer(frame: str, ws: object = ws) -> list[object]:
                await ws.send(frame)  # type: ignore[attr-defined]
                while True:
                    reply = json.loads(await ws.recv())  # type: ignore[attr-defined]
                    if reply[0] in (3, 4):
                        return reply  # type: ignore[no-any-return]

            reply = await answer("this is not json")
            assert reply[0] == 4
            assert reply[1] == "-1"
            assert reply[2] == "FormatViolation"
            reply = await answer('{"not": "a list"}')
            assert reply[:2] == [4, "-1"]
            reply = await answer('[2, "m1", "BootNotification", {"bogus": 1}]')
            assert reply[0] == 4
            assert reply[1] == "m1"
            reply = await answer('[2, "m2", "NoSuchAction", {}]')
            assert reply[:2] == [4, "m2"]
            assert reply[2] in {"NotImplemented", "NotSupported"}
            await ws.send('[3, "nobody-asked", {}]')  # unsolicited: dropped
            await ws.send('[4, "nor-this", "GenericError", "", {}]')
            reply = await answer('[2, "m3", "Heartbeat", {}]')
            assert reply[0] == 3
            assert reply[1] == "m3"
            assert "currentTime" in reply[2]  # type: ignore[operator]


async def test_connection_without_ocpp_subprotocol_is_refused(
    make_csms: CsmsFactory,
) -> None:
    """A websocket that offers no OCPP version is refused before upgrading."""
    csms = await make_csms(ChargerConfig(charger_id="cp1"))
    with pytest.raises(InvalidStatus) as err:
        async with connect(csms.url + "cp1", subprotocols=[Subprotocol("ocpp9.9")]):
            pass
    assert err.value.response.status_code == 400


async def test_reconnect_replaces_stale_connection(make_csms: CsmsFactory) -> None:
    """A second connection of the same id wins at once; no reconnect loop."""
    csms, first = await _connected(make_csms, "ocpp2.0.1")
    charger = csms.chargers["cp1"]  # type: ignore[attr-defined]
    second = OcppSimulator("cp1", version="ocpp2.0.1", station=first.station)
    await second.async_connect(csms.url, boot=False)
    await first.async_wait_closed()
    await wait_for(lambda: charger.state.connections == 2 and charger.available)
    assert second.connected
    await wait_for(lambda: len(first.station.profiles_received) >= 2)


def test_meter_values_in_any_unit_and_per_phase() -> None:
    """Values in kW and per phase fold into one reading; export counts negative."""
    reading = parse_meter_values(
        [
            {
                "sampled_value": [
                    {
                        "value": 1.2,
                        "measurand": "Power.Active.Import",
                        "phase": "L1",
                        "unit_of_measure": {"unit": "kW"},
                    },
                    {
                        "value": 1.3,
                        "measurand": "Power.Active.Import",
                        "phase": "L2",
                        "unit_of_measure": {"unit": "kW"},
                    },
                    {"value": "bad", "measurand": "SoC"},
                    {"value": 12, "unit_of_measure": {"unit": "kWh", "multiplier": 0}},
                ]
            }
        ]
    )
    assert reading.power_w == pytest.approx(2500.0)
    assert reading.energy_wh == pytest.approx(12_000.0)
    assert reading.soc_pct is None
    export = parse_meter_values(
        [
            {
                "sampled_value": [
                    {"value": "3000", "measurand": "Power.Active.Export", "unit": "W"}
                ]
            }
        ]
    )
    assert export.power_w == -3000.0


async def test_refused_profile_gives_a_clear_error(make_csms: CsmsFactory) -> None:
    """A charger that rejects a profile yields DeviceUnavailableError with why."""
    station = SimStation(bidirectional=False)  # a 2.1 charger without V2X hardware
    csms, sim = await _connected(make_csms, "ocpp2.1", station=station)
    charger = csms.chargers["cp1"]  # type: ignore[attr-defined]
    await sim.async_plug_in(SimCar(max_discharge_w=7000.0))
    await wait_for(lambda: charger.state.needs.can_discharge)
    with pytest.raises(DeviceUnavailableError, match="UnsupportedMode"):
        await charger.async_set_power(-3000.0)
    assert charger.state.last_error is not None
    assert charger.setpoint_w is None


async def test_simulator_runner_connects_charges_and_stops(
    make_csms: CsmsFactory,
) -> None:
    """The demo runner plugs in, reports power and stops cleanly on request."""
    csms = await make_csms(ChargerConfig(charger_id="demo"))
    sim = OcppSimulator("demo", version="ocpp2.0.1")
    stop = asyncio.Event()
    task = asyncio.create_task(async_run(sim, csms.url, stop=stop, tick_s=0.05))
    charger = csms.chargers["demo"]
    await wait_for(lambda: (charger.power_w or 0.0) > 0.0, what="charging power")
    stop.set()
    await task
    assert not sim.connected


@pytest.mark.parametrize("version", ["ocpp2.1", "ocpp2.0.1", "ocpp1.6"])
async def test_setpoint_profile_is_sent_once_when_a_charger_reconnects(
    make_csms: CsmsFactory, version: str
) -> None:
    """Start-up re-apply, new transaction and new EV needs send one profile, once."""
    config = ChargerConfig(charger_id="cp1")
    csms = await make_csms(config)
    csms.chargers["cp1"].restore({"desired_w": 5000.0})  # as after a restart
    sim = OcppSimulator("cp1", version=version)
    await sim.async_connect(csms.url)
    discharge = 7000.0 if version == "ocpp2.1" else 0.0
    await sim.async_plug_in(SimCar(max_discharge_w=discharge))
    charger = csms.chargers["cp1"]
    await wait_for(lambda: charger.setpoint_w is not None, what="setpoint")
    await asyncio.sleep(0.5)  # every re-apply has run by now
    sent = [
        (p.unit, p.limit, p.setpoint, p.operation_mode, p.transaction_id)
        for p in sim.station.profiles_received
        if p.purpose == "TxProfile"
    ]
    assert sent
    assert len(sent) == len(set(sent)), sent


@pytest.mark.parametrize(
    ("units", "unit", "setpoint", "discharge_limit", "limit", "applied"),
    [
        (("A",), "A", -7.2, -10.1, 15.9, -7.2 * 690.0),
        (("A", "W"), "W", -5000.0, -7000.0, 11000.0, -5000.0),
        (("W",), "W", -5000.0, -7000.0, 11000.0, -5000.0),
    ],
)
async def test_v21_central_setpoint_uses_the_unit_the_charger_takes(
    make_csms: CsmsFactory,
    *,
    units: tuple[str, ...],
    unit: str,
    setpoint: float,
    discharge_limit: float,
    limit: float,
    applied: float,
) -> None:
    """A 2.1 charger that takes only amperes gets its V2X TxProfile in A."""
    station = SimStation(rate_units=units, bidirectional=True)
    csms, sim = await _connected(make_csms, "ocpp2.1", station=station)
    charger = csms.chargers["cp1"]  # type: ignore[attr-defined]
    await sim.async_plug_in(SimCar(soc=0.5, max_discharge_w=7000.0))
    await wait_for(lambda: charger.discharge_allowed, what="V2X needs")
    await charger.async_set_power(-5000.0)
    profile = station.tx_profile
    assert profile is not None
    assert profile.operation_mode == "CentralSetpoint"
    assert profile.unit == unit
    assert profile.setpoint == pytest.approx(setpoint)
    assert profile.discharge_limit == pytest.approx(discharge_limit)
    assert profile.limit == pytest.approx(limit)
    assert await sim.async_step(60.0) == pytest.approx(applied)
