"""Fixtures for the discovery tests: loopback sockets only."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets; every target in these tests is in 127.0.0.0/8."""
