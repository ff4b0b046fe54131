"""The simulator's telegrams decode to what they were built from.

The P1 tests trust ``build_telegram``: a Belgian e-MUCS telegram with its
quarter-hour average, month peak and peak history must decode (through the
project's decoder, with a valid CRC) to the values it was built from; an
unknown flavour is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from custom_components.stroomwijs.engine.meter.decode import TelegramDecoder
from custom_components.stroomwijs.engine.meter.versions import resolve_version
from custom_components.stroomwijs.engine.simulate.p1 import (
    TelegramValuesIn,
    build_telegram,
)

AT = datetime(2026, 1, 15, 18, 7, 30, tzinfo=UTC)


def test_a_belgian_telegram_carries_its_capacity_tariff_figures() -> None:
    """Quarter average, month peak and a two-month history round-trip."""
    values = TelegramValuesIn(
        timestamp=AT,
        import_w=4321.0,
        phase_currents_a=(6.5, 7.25, 5.0),
        import_t1_kwh=1234.567,
        tariff=2,
        quarter_average_w=3210.0,
        month_peak_w=5432.0,
        month_peak_at=datetime(2026, 1, 7, 19, 15, tzinfo=UTC),
        peak_history=(
            (
                datetime(2025, 11, 30, 23, tzinfo=UTC),
                datetime(2025, 11, 20, 18, 30, tzinfo=UTC),
                4100.0,
            ),
            (
                datetime(2025, 12, 31, 23, tzinfo=UTC),
                datetime(2025, 12, 24, 17, 45, tzinfo=UTC),
                6200.0,
            ),
        ),
    )
    telegram = build_telegram(values, flavour="5B").decode("ascii")
    reading = TelegramDecoder(resolve_version("5B")).decode(telegram)
    assert reading.meter_time == AT
    assert reading.import_w == pytest.approx(4321.0)
    assert reading.import_t1_kwh == pytest.approx(1234.567)
    assert reading.tariff == 2
    assert reading.phase_currents_a == pytest.approx((6.5, 7.25, 5.0))
    assert reading.meter_quarter_average_w == pytest.approx(3210.0)
    assert reading.meter_month_peak_w == pytest.approx(5432.0)
    assert reading.meter_month_peak_at == datetime(2026, 1, 7, 19, 15, tzinfo=UTC)
    assert [p.power_w for p in reading.peak_history] == [4100.0, 6200.0]
    assert reading.peak_history[1].at == datetime(2025, 12, 24, 17, 45, tzinfo=UTC)


def test_an_unknown_flavour_is_refused() -> None:
    """Only Dutch DSMR 5 and Belgian e-MUCS telegrams are built."""
    with pytest.raises(ValueError, match="unknown flavour"):
        build_telegram(TelegramValuesIn(timestamp=AT), flavour="4")
