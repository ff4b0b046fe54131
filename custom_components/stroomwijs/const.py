"""Constants of the Stroomwijs integration."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "stroomwijs"
LOGGER = logging.getLogger(__package__)

CONF_PHASES: Final = "phases"
CONF_FUSE_A: Final = "fuse_a"

DEFAULT_NAME: Final = "Stroomwijs"
DEFAULT_PHASES: Final = 3
DEFAULT_FUSE_A: Final = 25
