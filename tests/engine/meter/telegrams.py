"""Telegrams for the P1 tests: real ones from shared data, and crafted ones.

Each case names the dsmr-parser version, the telegram bytes as they travel
on the line, and the values a correct decoder must find in them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from custom_components.stroomwijs.engine.simulate.p1 import (
    TelegramValuesIn,
    build_telegram,
    encrypt_frame,
    finish_telegram,
)
from tests.conftest import SHARED_DATA

DSMR = SHARED_DATA / "dsmr"
SMARTY_KEY = "0123456789ABCDEF0123456789ABCDEF"


async def until(predicate: Callable[[], bool], limit: float = 3.0) -> None:
    """Wait until ``predicate()`` holds; fail after ``limit`` seconds.

    It polls: the states it watches belong to other tasks (the reader, the
    server), which offer no event to wait on.
    """
    async with asyncio.timeout(limit):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


def real(name: str) -> bytes:
    """Return a real telegram from shared data, byte for byte."""
    return (DSMR / name).read_bytes()


def crafted_5s() -> bytes:
    """Return a Swedish (5S) telegram with a valid CRC, in the layout of that spec."""
    lines = [
        "0-0:1.0.0(260115120000W)",
        "1-0:1.8.0(00012345.678*kWh)",
        "1-0:2.8.0(00000321.123*kWh)",
        "1-0:3.8.0(00000001.000*kvarh)",
        "1-0:4.8.0(00000002.000*kvarh)",
        "1-0:1.7.0(0003.210*kW)",
        "1-0:2.7.0(0000.000*kW)",
        "1-0:3.7.0(0000.100*kvar)",
        "1-0:4.7.0(0000.000*kvar)",
        "1-0:21.7.0(0001.100*kW)",
        "1-0:41.7.0(0001.000*kW)",
        "1-0:61.7.0(0001.110*kW)",
        "1-0:22.7.0(0000.000*kW)",
        "1-0:42.7.0(0000.000*kW)",
        "1-0:62.7.0(0000.000*kW)",
        "1-0:32.7.0(231.5*V)",
        "1-0:52.7.0(230.5*V)",
        "1-0:72.7.0(229.5*V)",
        "1-0:31.7.0(004.8*A)",
        "1-0:51.7.0(004.3*A)",
        "1-0:71.7.0(004.9*A)",
    ]
    return finish_telegram(lines, "ELL5\\253833635_A")


def crafted_5l() -> bytes:
    """Return a plain Luxembourg Smarty (5L) telegram with totals 1.8.0 and 2.8.0."""
    lines = [
        "0-0:1.0.0(260115120000W)",
        "0-0:42.0.0(53414731303330303030303030303030)",
        "1-0:1.8.0(000123.456*kWh)",
        "1-0:2.8.0(000012.345*kWh)",
        "1-0:1.7.0(01.500*kW)",
        "1-0:2.7.0(00.000*kW)",
        "1-0:32.7.0(230.0*V)",
        "1-0:31.7.0(007*A)",
        "1-0:21.7.0(01.500*kW)",
        "1-0:22.7.0(00.000*kW)",
        "0-0:96.13.0(4C75787465737420)",
    ]
    return finish_telegram(lines, "Lux5\\253833635_A")


def crafted_5_exporting() -> bytes:
    """Return a DSMR 5 telegram of a house exporting solar power, with a text."""
    return build_telegram(
        TelegramValuesIn(
            timestamp=datetime(2026, 6, 21, 11, 0, tzinfo=UTC),
            import_w=0,
            export_w=4200,
            phase_import_w=(0, 0, 0),
            phase_export_w=(1400, 1400, 1400),
            phase_currents_a=(6, 6, 6),
            phase_voltages_v=(236.1, 235.9, 236.4),
            import_t1_kwh=1234.5,
            import_t2_kwh=2345.25,
            export_t1_kwh=345.125,
            export_t2_kwh=456.0,
            tariff=2,
            text_message="Storing gemeld",
        )
    )


@dataclass(frozen=True)
class Case:
    """A telegram of one version and what it must decode to."""

    id: str
    version: str
    raw: bytes
    expected: dict[str, Any] = field(default_factory=dict)
    key: str = ""


CASES: tuple[Case, ...] = (
    Case(
        "v2.2",
        "2.2",
        real("telegram_v2_2.txt"),
        {"import_w": 1010.0, "export_w": 0.0, "import_total_kwh": 2.002, "tariff": 1},
    ),
    Case(
        "v4.2",
        "4",
        real("telegram_v4_2.txt"),
        {
            "import_w": 2027.0,
            "phase_currents_a": (0.0, 6.0, 2.0),
            "phase_import_w": (170.0, 1247.0, 209.0),
            "import_t1_kwh": 1581.123,
            "import_t2_kwh": 1435.706,
            "tariff": 2,
        },
    ),
    Case(
        "v5",
        "5",
        real("telegram_v5.txt"),
        {
            "import_w": 244.0,
            "export_w": 0.0,
            "phase_currents_a": (0.48, 0.44, 0.86),
            "phase_voltages_v": (230.0, 230.0, 229.0),
            "import_t1_kwh": 4.426,
            "export_t1_kwh": 2.444,
            "equipment_id": "K8EG004046395507",
        },
    ),
    Case(
        "v5-exporting",
        "5",
        crafted_5_exporting(),
        {
            "import_w": 0.0,
            "export_w": 4200.0,
            "phase_export_w": (1400.0, 1400.0, 1400.0),
            "phase_voltages_v": (236.1, 235.9, 236.4),
            "export_t1_kwh": 345.125,
            "text_message": "Storing gemeld",
            "tariff": 2,
        },
    ),
    Case(
        "5B-fluvius",
        "5B",
        real("telegram_fluvius_v171_alt.txt"),
        {
            "import_w": 338.0,
            "phase_currents_a": (0.27, 0.88, 0.52),
            "quarter_average_w": 52.0,
            "quarter_average_source": "meter",
            "month_peak_w": 3064.0,
            "month_peak_at": datetime(2023, 11, 2, 10, 45, tzinfo=UTC),
            "peak_average_w": (0 + 1862 + 4229 + 4927 + 3064) / 5,
            "import_t1_kwh": 301.548,
        },
    ),
    Case(
        "5L",
        "5L",
        crafted_5l(),
        {
            "import_w": 1500.0,
            "import_total_kwh": 123.456,
            "export_total_kwh": 12.345,
            "phase_currents_a": (7.0,),
            "text_message": "Luxtest",
        },
    ),
    Case(
        "5L-encrypted",
        "5L",
        encrypt_frame(crafted_5l(), SMARTY_KEY, invocation_counter=7),
        {"import_w": 1500.0, "import_total_kwh": 123.456},
        key=SMARTY_KEY,
    ),
    Case(
        "5S",
        "5S",
        crafted_5s(),
        {
            "import_w": 3210.0,
            "import_total_kwh": 12345.678,
            "export_total_kwh": 321.123,
            "phase_currents_a": (4.8, 4.3, 4.9),
            "phase_import_w": (1100.0, 1000.0, 1110.0),
        },
    ),
    Case(
        "5EONHU",
        "5EONHU",
        real("telegram_v5_eon_hu.txt"),
        {
            "import_w": 0.0,
            "export_w": 2601.0,
            "phase_currents_a": (3.0, 4.0, 3.0),
            "phase_voltages_v": (240.4, 239.1, 241.2),
            "import_t1_kwh": 47.719,
            "import_total_kwh": 173.64,
            "export_total_kwh": 627.177,
        },
    ),
    Case(
        "ISKRA_IE",
        "ISKRA_IE",
        real("telegram_iskra_ie.txt"),
        {
            "import_w": 170.0,
            "export_w": 270.0,
            "phase_import_w": (217.0, 417.0, 617.0),
            "phase_export_w": (227.0, 427.0, 627.0),
            "export_t2_kwh": 10.282,
        },
    ),
    Case(
        "Q3D",
        "Q3D",
        real("telegram_esy5q3db1024_v304.txt"),
        {
            "import_w": 2124.86,
            "phase_import_w": (747.85, 737.28, 639.73),
            "import_total_kwh": 52185.7825309,
            "export_total_kwh": 19949.3221493,
        },
    ),
)
