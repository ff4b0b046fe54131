"""Invariants of the version-independent OCPP charger view (no network)."""

from __future__ import annotations

from hypothesis import given, strategies as st
import pytest

from custom_components.stroomwijs.engine.drivers.ocpp import (
    ChargerConfig,
    EvNeeds,
    OcppCharger,
)


@st.composite
def chargers(draw: st.DrawFn) -> OcppCharger:
    """Draw a plugged-in charger in any state a car and a DSO limit allow."""
    config = ChargerConfig(
        charger_id="cp",
        phases=draw(st.sampled_from([1, 3])),
        min_current_a=draw(st.sampled_from([6.0, 8.0])),
        max_current_a=draw(st.floats(min_value=8.0, max_value=32.0)),
        minimum_instead_of_pause=draw(st.booleans()),
        v2g_allowed=draw(st.booleans()),
    )
    charger = OcppCharger(config)
    charger.state.plugged_in = True
    charger.state.protocol = draw(st.sampled_from(["ocpp2.1", "ocpp2.0.1", "ocpp1.6"]))
    charger.state.needs = EvNeeds(
        max_charge_w=draw(st.none() | st.floats(min_value=1000.0, max_value=22_000.0)),
        max_discharge_w=draw(st.none() | st.floats(min_value=0.0, max_value=11_000.0)),
    )
    charger.state.soc_pct = draw(st.none() | st.floats(min_value=0.0, max_value=100.0))
    charger.set_min_soc(draw(st.floats(min_value=0.0, max_value=0.5)))
    charger._station_limit_w = draw(
        st.none() | st.floats(min_value=0.0, max_value=30_000.0)
    )
    return charger


@given(charger=chargers(), wish=st.floats(min_value=-30_000.0, max_value=30_000.0))
def test_setpoint_never_breaks_limit_floor_or_discharge_permission(
    charger: OcppCharger, wish: float
) -> None:
    """Any wish stays within the limit, never stalls, never discharges unasked."""
    value = charger.clamp(wish)
    floor = charger.config.floor_w
    assert value <= charger.station_limit_w + 1e-6
    if value > 0:
        assert value >= floor - 1e-6
    if not charger.discharge_allowed:
        assert value >= 0.0
    else:
        assert value >= charger.power_range.min_w - 1e-6


def test_not_plugged_in_means_nothing_to_set() -> None:
    """Without a car the range is 0..0 and any wish becomes 0."""
    charger = OcppCharger(ChargerConfig(charger_id="cp"))
    assert charger.power_range.max_w == 0.0
    assert charger.clamp(5000.0) == 0.0


def test_snapshot_round_trip_and_bad_input_ignored() -> None:
    """A snapshot restores the transaction and wishes; junk fields are ignored."""
    charger = OcppCharger(ChargerConfig(charger_id="cp"))
    charger.state.transaction_id = "tx-1"
    charger._station_limit_w = 5000.0
    charger.set_min_soc(0.3)
    other = OcppCharger(ChargerConfig(charger_id="cp"))
    other.restore(charger.snapshot())
    assert other.state.transaction_id == "tx-1"
    assert other.station_limit_w == 5000.0
    assert other.departure.min_soc == 0.3
    other.restore({"station_limit_w": "lots", "min_soc": 7, "v2g_allowed": "yes"})
    assert other.station_limit_w == other.config.hardware_max_w
    assert other.departure.min_soc == 0.3


@pytest.mark.parametrize(
    "bad",
    [
        {"charger_id": ""},
        {"charger_id": "a/b"},
        {"charger_id": "cp", "phases": 2},
        {"charger_id": "cp", "min_current_a": 5.0},
        {"charger_id": "cp", "min_current_a": 8.0, "max_current_a": 6.0},
    ],
)
def test_config_rejects_impossible_chargers(bad: dict[str, object]) -> None:
    """Settings no charger can have raise ValueError with a message."""
    with pytest.raises(ValueError, match=r"\w"):
        ChargerConfig(**bad)  # type: ignore[arg-type]
