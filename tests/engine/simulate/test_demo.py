"""The demo household closes the loop: CSMS setpoint -> station -> P1 telegram."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from custom_components.stroomwijs.engine.drivers.ocpp import (
    CentralSystem,
    ChargerConfig,
    CsmsConfig,
    SessionOptions,
)
from custom_components.stroomwijs.engine.grid import GridConnection
from custom_components.stroomwijs.engine.meter.core import Meter
from custom_components.stroomwijs.engine.meter.models import MeterReading
from custom_components.stroomwijs.engine.meter.stream import P1StreamReader
from custom_components.stroomwijs.engine.meter.versions import resolve_version
from custom_components.stroomwijs.engine.simulate.demo import (
    DemoRunner,
    ProfileMissingError,
    csms_base_url,
    demo_car,
    find_profile,
    load_profile,
)
from custom_components.stroomwijs.engine.simulate.household import BaseLoadProfile
from custom_components.stroomwijs.engine.simulate.p1 import crc16_arc
from tests.conftest import SHARED_DATA

TICK_S = 0.05
BASE_W = 1_000.0
FAST = SessionOptions(response_timeout_s=5.0, boot_wait_s=0.3, pending_retry_s=5)


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets; pytest-socket still limits connections to 127.0.0.1."""


async def until(predicate: Callable[[], bool], limit: float = 3.0) -> None:
    """Poll ``predicate`` (the peers run in this loop) until it holds."""
    async with asyncio.timeout(limit):
        while not predicate():  # noqa: ASYNC110 - the peers share this loop
            await asyncio.sleep(0.01)


@pytest.fixture
async def csms() -> AsyncIterator[CentralSystem]:
    """Start a real central system on 127.0.0.1 that knows the demo charger."""
    central = CentralSystem(
        CsmsConfig(host="127.0.0.1", port=0, session=FAST),
        chargers=[ChargerConfig(charger_id="demo-ev", capacity_kwh=60.0)],
    )
    await central.async_start()
    yield central
    await central.async_stop()


async def test_demo_household_follows_a_discharge_setpoint_in_its_telegrams(
    csms: CentralSystem,
) -> None:
    """Valid telegrams flow, the car connects, and V2X discharge lowers import."""
    runner = DemoRunner(
        BaseLoadProfile.constant(BASE_W),
        csms.url,
        p1_port=0,
        car=demo_car(datetime.now(UTC), soc=0.4),
        tick_s=TICK_S,
        backoff_max_s=0.2,
    )
    await runner.start()
    meter = Meter(grid=GridConnection(phases=3, fuse_a=25), stale_after=2.0)
    readings: list[MeterReading] = []
    meter.subscribe(readings.append)
    reader = P1StreamReader(
        meter, runner.server.url, resolve_version("5"), idle_timeout=2.0
    )
    reader.start()
    charger = csms.chargers["demo-ev"]
    try:
        await until(lambda: len(readings) >= 3)
        assert meter.stats.crc_errors == 0
        assert readings[-1].equipment_id is not None
        # A plain TCP client sees whole telegrams with a matching CRC-16/ARC.
        raw_reader, raw_writer = await asyncio.open_connection(
            "127.0.0.1", runner.p1_port
        )
        async with asyncio.timeout(2.0):
            await raw_reader.readuntil(b"!")  # skip to a telegram boundary
            await raw_reader.readuntil(b"\r\n")
            telegram = await raw_reader.readuntil(b"!")
            crc = await raw_reader.readuntil(b"\r\n")
        raw_writer.close()
        assert telegram.startswith(b"/")
        assert int(crc[:4], 16) == crc16_arc(telegram)

        await until(lambda: charger.state.transaction_id is not None)
        assert charger.plugged_in
        # No profile yet: the car charges at the station's full 11 kW.
        await until(lambda: readings[-1].import_w > BASE_W + 10_000.0)
        soc_before = runner.car.soc
        register_before = readings[-1].import_total_kwh
        assert register_before is not None
        # The import register counts the charging (in whole Wh, as telegrams
        # carry three decimals of kWh).
        await until(lambda: (readings[-1].import_total_kwh or 0.0) > register_before)

        await charger.async_set_power(-5_000.0)
        assert runner.sim.station.tx_profile is not None
        assert runner.sim.station.tx_profile.operation_mode == "CentralSetpoint"
        await until(lambda: readings[-1].export_w > 0)
        last = readings[-1]
        assert last.net_power_w == pytest.approx(BASE_W - 5_000.0, abs=10.0)
        assert last.phase_export_w[1] == pytest.approx(5_000.0 / 3 - 250.0, abs=5.0)
        assert runner.car.soc < soc_before + 0.001
        await until(lambda: charger.power_w is not None and charger.power_w < 0)
        assert charger.soc == pytest.approx(runner.car.soc, abs=0.002)
    finally:
        await reader.stop()
        await runner.stop()
    assert runner.server.client_count == 0
    assert not runner.sim.connected


async def test_demo_charger_retries_until_the_central_system_is_up() -> None:
    """Started before the CSMS, the charge point keeps trying and then connects."""
    probe = CentralSystem(CsmsConfig(host="127.0.0.1", port=0, session=FAST))
    await probe.async_start()
    port = probe.port
    await probe.async_stop()  # the port is free again: nothing listens there
    runner = DemoRunner(
        BaseLoadProfile.constant(BASE_W),
        f"ws://127.0.0.1:{port}",
        tick_s=TICK_S,
        backoff_max_s=0.1,
    )
    await runner.start()
    try:
        await asyncio.sleep(0.3)
        assert not runner.sim.connected
        central = CentralSystem(
            CsmsConfig(host="127.0.0.1", port=port, session=FAST),
            chargers=[ChargerConfig(charger_id="demo-ev")],
        )
        await central.async_start()
        charger = central.chargers["demo-ev"]
        try:
            await until(lambda: charger.state.transaction_id is not None)
            assert runner.connects == 1
        finally:
            await runner.stop()
            await central.async_stop()
    finally:
        await runner.stop()  # idempotent


def test_demo_base_load_is_the_real_household_profile() -> None:
    """The shared profile loads, replayed at today's time of day."""
    path = find_profile()
    assert path.parent == SHARED_DATA.resolve()
    profile = load_profile(path, datetime.now(UTC))
    assert 0.0 <= profile.at(datetime.now(UTC)) < 20_000.0


def test_without_shared_data_the_reference_household_load_is_replayed(
    tmp_path: Path,
) -> None:
    """A plain clone has no shared/data: the example household's load is used."""
    path = find_profile(shared_dirs=(tmp_path,))
    assert path.name == "reference_household.json"
    now = datetime.now(UTC)
    profile = load_profile(path, now)
    week = [profile.at(now + timedelta(hours=h)) for h in range(0, 7 * 24, 5)]
    assert all(0.0 <= watts < 10_000.0 for watts in week)
    assert max(week) > 300.0


def test_missing_profile_fails_with_a_clear_message(tmp_path: Path) -> None:
    """Without the shared data the demo says what is missing and where to get it."""
    with pytest.raises(ProfileMissingError, match="shared/data"):
        find_profile(tmp_path / "absent.csv")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ws://127.0.0.1:9000", "ws://127.0.0.1:9000/ocpp/"),
        ("ws://127.0.0.1:9000/", "ws://127.0.0.1:9000/ocpp/"),
        ("ws://127.0.0.1:9000/ocpp", "ws://127.0.0.1:9000/ocpp/"),
    ],
)
def test_csms_url_gets_the_ocpp_path(url: str, expected: str) -> None:
    """A bare central system URL gets the /ocpp/ path chargers connect under."""
    assert csms_base_url(url) == expected


@pytest.mark.parametrize("url", ["ws://192.0.2.1:9000", "ws://localhost:9000", "x"])
def test_csms_url_off_loopback_is_refused(url: str) -> None:
    """The demo never talks to anything but a loopback address."""
    with pytest.raises(ValueError, match=r"loopback|ws://"):
        csms_base_url(url)
