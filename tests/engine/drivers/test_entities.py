"""Reading entity states the way a hostile host might send them."""

from __future__ import annotations

import math

from hypothesis import given, strategies as st
import pytest

from custom_components.stroomwijs.engine.drivers.entities import (
    EntityState,
    attribute_number,
    check_entity_id,
    number,
    on_off,
)
from custom_components.stroomwijs.engine.drivers.sg_ready import (
    power_entity_w,
    temperature_entity_c,
)

TEXTS = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["nan", "NaN", "inf", "-inf", "1e309", "unknown", "unavailable"]),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)
ATTRIBUTES = st.dictionaries(
    st.sampled_from(["unit_of_measurement", "temperature", "current_temperature"]),
    st.one_of(
        st.none(),
        st.booleans(),
        st.floats(),
        st.text(max_size=10),
        st.lists(st.integers()),
    ),
)


@given(TEXTS, ATTRIBUTES)
def test_states_never_raise_and_numbers_are_finite(
    text: str, attributes: dict[str, object]
) -> None:
    """Any text and attributes give None or a finite, plausible number."""
    state = EntityState(entity_id="sensor.x", state=text, attributes=attributes)
    for value in (
        number(state),
        attribute_number(state, "temperature"),
        power_entity_w(state),
        temperature_entity_c(state),
    ):
        assert value is None or math.isfinite(value)
    power = power_entity_w(state)
    assert power is None or abs(power) < 1e6
    temp = temperature_entity_c(state)
    assert temp is None or -50 <= temp <= 120
    assert on_off(state) in {None, True, False}


def test_units_are_respected() -> None:
    """KW is converted, an unknown unit is not trusted, degF is converted."""
    kw = EntityState(
        entity_id="sensor.p", state="1.5", attributes={"unit_of_measurement": "kW"}
    )
    va = EntityState(
        entity_id="sensor.p", state="1.5", attributes={"unit_of_measurement": "VA"}
    )
    f = EntityState(
        entity_id="sensor.t", state="68", attributes={"unit_of_measurement": "°F"}
    )
    assert power_entity_w(kw) == 1500.0
    assert power_entity_w(va) is None
    assert temperature_entity_c(f) == pytest.approx(20.0)
    assert number(EntityState(entity_id="sensor.x", state="unavailable")) is None


@pytest.mark.parametrize("bad", ["switch", "switch.", ".x", " switch.x", "switch x"])
def test_malformed_entity_ids_are_rejected(bad: str) -> None:
    """An entity id is domain.object_id, without spaces around it."""
    with pytest.raises(ValueError, match=r"entity id|domains"):
        check_entity_id(bad, "switch")
