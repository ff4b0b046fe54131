"""The central system imports an OCPP version only when a charger speaks it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from custom_components.stroomwijs.engine.drivers.ocpp.csms import (
    SESSION_MODULES,
    async_session_class,
)


def test_the_household_starts_without_any_ocpp_version_loaded() -> None:
    """Importing the household loads no version of the ocpp library (1-4 MB each)."""
    code = (
        "import sys\n"
        "import custom_components.stroomwijs.engine.household\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[:2] in "
        "(['ocpp', 'v16'], ['ocpp', 'v201'], ['ocpp', 'v21']))\n"
        "print(loaded)\n"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("protocol", sorted(SESSION_MODULES))
async def test_each_subprotocol_gets_its_own_session(protocol: str) -> None:
    """Each subprotocol maps to the session class of its version."""
    session_class = await async_session_class(protocol)
    module, name = SESSION_MODULES[protocol]
    assert session_class.__name__ == name
    assert session_class.__module__.endswith(f".ocpp.{module}")
