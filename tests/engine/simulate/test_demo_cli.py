"""The demo simulator's command line and meter registers, given bad input.

Off-loopback central systems, a missing profile and a clock that is not a
clock end the demo with exit code 2 and one line saying why, never a
traceback; the meter's registers count import and export per tariff.
"""

from __future__ import annotations

import json

import pytest

from custom_components.stroomwijs.engine.simulate.demo import (
    EnergyRegisters,
    main,
)
from custom_components.stroomwijs.engine.simulate.demo_clock import (
    DemoClock,
    DemoClockError,
)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--csms-url", "ws://192.0.2.1:9000"], "loopback"),
        (["--csms-url", "http://127.0.0.1:9000"], "ws://"),
        (["--profile", "/nonexistent/profile.csv"], "profile is missing"),
        (["--clock", "yesterday"], "not a demo clock"),
        (["--clock", '{"speed": 1e999, "start": "x", "anchor": 0}'], "demo clock"),
        (["--speed", "0.5"], "speed must be from 1"),
        (["--speed", "nan"], "speed must be from 1"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each bad argument: exit code 2 and the reason on stderr, nothing started."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("demo simulator: ")
    assert message in err
    assert "Traceback" not in err


def test_a_clock_with_numbers_beyond_a_float_is_not_a_clock() -> None:
    """An integer speed or anchor beyond a float (json reads it exactly) is refused.

    It raised OverflowError, which the command line does not catch.
    """
    for field in ("speed", "anchor"):
        data: dict[str, object] = {
            "speed": 60,
            "start": "2026-11-23T15:00:00+00:00",
            "anchor": 1_700_000_000,
        }
        data[field] = 10**400
        with pytest.raises(DemoClockError, match="not a demo clock"):
            DemoClock.from_json(json.dumps(data))


def test_the_registers_count_per_direction_and_tariff() -> None:
    """Import and export each go to the register of the tariff in force."""
    registers = EnergyRegisters(
        import_t1_kwh=0.0, import_t2_kwh=0.0, export_t1_kwh=0.0, export_t2_kwh=0.0
    )
    registers.add(3600.0, 3600.0, tariff=1)
    registers.add(1800.0, 3600.0, tariff=2)
    registers.add(-900.0, 3600.0, tariff=1)
    registers.add(-450.0, 3600.0, tariff=2)
    assert registers.import_t1_kwh == pytest.approx(3.6)
    assert registers.import_t2_kwh == pytest.approx(1.8)
    assert registers.export_t1_kwh == pytest.approx(0.9)
    assert registers.export_t2_kwh == pytest.approx(0.45)
