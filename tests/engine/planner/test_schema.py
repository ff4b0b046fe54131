"""Reading planner problems: every bad value is a ProblemError naming its path.

A hand-written problem file may hold anything JSON can: Infinity and NaN
(Python's json reads them), integers beyond a float, fractions where whole
numbers belong, strings, lists and objects in the wrong places.
"""

from __future__ import annotations

import math

import pytest

from custom_components.stroomwijs.engine.planner.schema import (
    ProblemError,
    Reader,
    parse_time,
)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (math.nan, "finite number"),
        (math.inf, "finite number"),
        (10**400, "finite number"),
        (-(10**400), "finite number"),
        (True, "expected a number, got a boolean"),
        ("7", "expected a number, got the string '7'"),
        ([7], "expected a number, got a list"),
        ({"kw": 7}, "expected a number, got an object"),
        (-1, "must be at least 0"),
        (101, "must be at most 100"),
    ],
)
def test_a_bad_number_names_its_path(value: object, message: str) -> None:
    """NaN, Infinity, 1e400 as an integer, text, lists, out of bounds."""
    reader = Reader({"devices": [{"capacity_kwh": value}]})
    device = Reader(reader.lists("devices")[0], "problem.devices[0]")
    with pytest.raises(ProblemError, match=message) as caught:
        device.number("capacity_kwh", low=0, high=100)
    assert str(caught.value).startswith("problem.devices[0].capacity_kwh: ")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (math.nan, "whole number, got nan"),
        (math.inf, "whole number, got inf"),
        (-math.inf, "whole number, got -inf"),
        (2.5, "whole number, got 2.5"),
        ("15", "whole number, got the string"),
        (False, "whole number, got a boolean"),
        (10**400, "must be within 1..60"),
        (0, "must be within 1..60"),
    ],
)
def test_a_bad_whole_number_names_its_path(value: object, message: str) -> None:
    """Infinity used to raise OverflowError and NaN a bare ValueError."""
    reader = Reader({"slot_minutes": value})
    with pytest.raises(ProblemError, match=message) as caught:
        reader.integer("slot_minutes", low=1, high=60)
    assert str(caught.value).startswith("problem.slot_minutes: ")


def test_whole_numbers_written_as_floats_are_taken() -> None:
    """15.0 is 15; an absent value takes the default or is required."""
    reader = Reader({"slot_minutes": 15.0})
    assert reader.integer("slot_minutes", low=1, high=60) == 15
    assert reader.integer("horizon", 24, low=1, high=48) == 24
    with pytest.raises(ProblemError, match=r"problem\.horizon: is required"):
        reader.integer("horizon", low=1, high=48)


def test_other_fields_name_their_path() -> None:
    """Flags, texts, lists, objects and times of the wrong kind."""
    reader = Reader(
        {
            "flag": "yes",
            "mode": "fast",
            "name": 5,
            "ids": ["a", 1],
            "things": {"a": 1},
            "map": [1],
            "start": "2025-10-14T22:00:00",
            "typo": 1,
        }
    )
    with pytest.raises(ProblemError, match=r"problem\.flag: expected true or false"):
        reader.boolean("flag", default=False)
    with pytest.raises(ProblemError, match="must be one of cheap, green"):
        reader.text("mode", choices=("cheap", "green"))
    with pytest.raises(ProblemError, match=r"problem\.name: expected a string"):
        reader.text("name")
    with pytest.raises(ProblemError, match="expected a list of strings"):
        reader.texts("ids")
    with pytest.raises(ProblemError, match="expected a list, got an object"):
        reader.lists("things")
    with pytest.raises(ProblemError, match="expected an object, got a list"):
        reader.mapping("map")
    with pytest.raises(ProblemError, match="needs a time zone"):
        reader.time("start")
    with pytest.raises(ProblemError, match=r"unknown field\(s\) typo"):
        reader.reject_unknown()
    with pytest.raises(ProblemError, match="expected an ISO 8601 time"):
        parse_time("tomorrow", "problem.start")
    with pytest.raises(ProblemError, match="problem: expected an object, got null"):
        Reader(None)
