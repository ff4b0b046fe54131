"""Fixtures shared by every test.

pytest-homeassistant-custom-component puts Home Assistant's own test config
dir first on ``sys.path``, and that dir carries a ``custom_components``
package of its own. Importing ours here, before any ``hass`` fixture runs,
makes Home Assistant find Stroomwijs instead of reporting "Integration not
found".
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings
import pytest

import custom_components.stroomwijs  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")
)


@pytest.fixture
def repo_root() -> Path:
    """Return the checkout's root folder."""
    return REPO_ROOT
