"""Stroomwijs: home energy manager for grid congestion and dynamic tariffs.

The engine subpackage runs without Home Assistant (the add-on gateway and the
``stroomwijs`` command line import it directly). Home Assistant's entry points
live in ``integration.py`` and are only imported where Home Assistant is
installed, so importing ``custom_components.stroomwijs.engine`` never pulls in
``homeassistant``.
"""

from __future__ import annotations

from importlib.util import find_spec

if find_spec("homeassistant") is not None:
    from .integration import (
        CONFIG_SCHEMA,
        async_migrate_entry,
        async_setup,
        async_setup_entry,
        async_unload_entry,
    )

    __all__ = [
        "CONFIG_SCHEMA",
        "async_migrate_entry",
        "async_setup",
        "async_setup_entry",
        "async_unload_entry",
    ]
