"""The ``stroomwijs guard`` and ``stroomwijs simulate guard`` command lines."""

from __future__ import annotations

import json

import pytest

from custom_components.stroomwijs.engine.cli import main
from tests.conftest import SHARED_DATA


def test_simulate_holds_the_window_and_releases_afterwards(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A 5-minute window: curtailments, releases, nothing over the limit."""
    code = main(
        [
            "simulate",
            "guard",
            "--window",
            "16:00-16:05",
            "--limit",
            "4000",
            "--fuse",
            "3x35",
            "--minutes",
            "12",
            "--start",
            "2026-11-23T15:55:00+01:00",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "curtail          ev" in out
    assert "release" in out
    assert out.strip().endswith("0 telegrams over the limit in force")


def test_simulate_json_lines_with_a_real_load_profile(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With --json every line is an intervention object."""
    code = main(
        [
            "simulate",
            "guard",
            "--json",
            "--minutes",
            "8",
            "--start",
            "2026-11-23T15:57:00+01:00",
            "--profile",
            str(SHARED_DATA / "household_BE_fluvius_2023-10-22_2023-12-31_15min.csv"),
        ]
    )
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines
    assert {line["kind"] for line in lines} >= {"limit_changed", "curtail"}


def test_simulate_rejects_a_bad_window(capsys: pytest.CaptureFixture[str]) -> None:
    """Clear error and exit code 2 for a malformed window."""
    assert main(["simulate", "guard", "--window", "sixteen"]) == 2
    assert "HH:MM-HH:MM" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "expected", "code"),
    [
        ("LIMIT 4kW UNTIL 2026-11-23T21:00Z", "import limit 4000 W, until 2026", 0),
        ("LIMIT 3500W FOR 90m", "for 1:30:00", 0),
        ("LIMIT OFF", "ends", 0),
        ("Storing", "no limit", 0),
    ],
)
def test_message_explains_a_p1_limit_message(
    capsys: pytest.CaptureFixture[str], text: str, expected: str, code: int
) -> None:
    """Valid messages are explained on stdout."""
    assert main(["guard", "message", text]) == code
    assert expected in capsys.readouterr().out


def test_message_rejects_a_malformed_limit(capsys: pytest.CaptureFixture[str]) -> None:
    """A LIMIT message that breaks the format exits with 2."""
    assert main(["guard", "message", "LIMIT fast"]) == 2
    assert "not a valid LIMIT message" in capsys.readouterr().err


@pytest.mark.parametrize(
    "text",
    [
        "LIMIT 4kW FOR 99999999h",
        "LIMIT 4kW UNTIL 9999-12-31T23:59:59-14:00",
        "LIMIT 4kW UNTIL 9999-12-31T23:59:59+00:00",
    ],
)
def test_message_rejects_an_out_of_range_limit_without_a_traceback(
    capsys: pytest.CaptureFixture[str], text: str
) -> None:
    """Overflowing durations and far-future times: exit 2 with a reason."""
    assert main(["guard", "message", text]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "LIMIT" in err or "UNTIL" in err or "FOR" in err
