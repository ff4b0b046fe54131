"""Numbers read from JSON or YAML documents, messages and saved state."""

from __future__ import annotations

import math


def parse_number(value: object) -> float | None:
    """Return a finite number; None for anything else.

    JSON as Python reads it may hold ``NaN`` and ``Infinity``, and an
    integer of any size (one beyond a float's range, 1e400 written out,
    raises OverflowError in ``float``); they, booleans and non-numbers all
    become None (unknown), never a value.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None
