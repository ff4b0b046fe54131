"""Fixtures for the fuzz tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow the event loop's self-pipe; nothing here opens a real connection."""
