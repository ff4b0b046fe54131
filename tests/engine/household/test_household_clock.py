"""One clock for the whole household: the host's ``ports.clock``.

A simulator or test that runs the household on simulated time gives it a
clock; the meter's readings (which the guard acts on), the limit sources and
the drivers must all read that clock, also when it is replaced after the
household was built (the HA tests put the household at 18:00 that way).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from custom_components.stroomwijs.engine.household import (
    DeviceConfig,
    GridConfig,
    Household,
    HouseholdConfig,
    HouseholdPorts,
    LimitConfig,
)
from custom_components.stroomwijs.engine.household.config import MeterConfig
from custom_components.stroomwijs.engine.simulate.entities import InMemoryEntityPort
from custom_components.stroomwijs.engine.simulate.p1 import (
    P1TelegramServer,
    TelegramValuesIn,
    build_telegram,
)
from custom_components.stroomwijs.engine.simulate.washer import (
    PlugWasherSim,
    WashingMachineSim,
)
from tests.ha.p1_support import until

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
SIM_START = datetime(2025, 12, 16, 17, 0, tzinfo=AMSTERDAM)


def _telegram(_index: int) -> bytes:
    return build_telegram(
        TelegramValuesIn(
            timestamp=SIM_START,
            import_w=5000,
            phase_import_w=(2000, 2000, 1000),
            phase_currents_a=(9, 9, 5),
        )
    )


async def test_meter_limits_and_drivers_read_the_hosts_clock() -> None:
    """Readings are stamped by ports.clock, also after it is replaced."""
    clock = [SIM_START]
    port = InMemoryEntityPort()
    machine = WashingMachineSim(clock=lambda: clock[0])
    PlugWasherSim(port, machine)
    server = P1TelegramServer(_telegram, interval=0.05)
    await server.start()
    config = HouseholdConfig(
        name="Clock",
        time_zone="Europe/Amsterdam",
        grid=GridConfig(phases=3, fuse_a=25.0),
        meter=MeterConfig(source="network", host="127.0.0.1", tcp_port=server.port),
        limits=(
            LimitConfig(
                id="evening",
                kind="window",
                label="evening",
                start=time(16),
                end=time(21),
                import_w=4000.0,
            ),
        ),
        devices=(
            DeviceConfig(
                id="washer",
                kind="driver",
                name="Washer",
                driver={
                    "driver": "plug_appliance",
                    "plug_entity": "switch.washer_plug",
                    "power_entity": "sensor.washer_power",
                },
            ),
        ),
    )
    household = Household(
        config,
        HouseholdPorts(clock=lambda: clock[0], entity_port=port, realtime=True),
    )
    try:
        await household.async_start()
        meter = household.meter
        assert meter is not None
        reading = meter.last_reading
        assert reading is not None
        # The guard acts on readings stamped in the household's time, in the
        # window (16-21 h) the limit sources see at that same time.
        assert reading.timestamp == SIM_START
        assert household.limits.import_limit_w == 4000.0

        # A host replaces the clock after the household was built.
        later = SIM_START + timedelta(days=1, hours=3)
        household.ports.clock = lambda: later
        await until(
            lambda: (
                meter.last_reading is not None and meter.last_reading.timestamp == later
            )
        )
        await household.async_arm_appliance("washer")
        washer = household.devices.appliance("washer")
        assert washer.armed_at == later
    finally:
        await household.async_stop()
        await server.stop()
