"""Fixtures for the guard tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets for the loopback P1 stream; connections stay on 127.0.0.1."""
