"""Constants of the Stroomwijs integration."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "stroomwijs"
LOGGER = logging.getLogger(__package__)

CONF_PHASES: Final = "phases"
CONF_FUSE_A: Final = "fuse_a"
REAUTH_SUBENTRY: Final = "subentry_id"
"""Key in a reauth's data naming the subentry whose credentials failed.

Start it with ``entry.async_start_reauth(hass, data={REAUTH_SUBENTRY: id})``:
an OpenADR limit source asks for new client credentials, a charger for the
password it now sends.
"""

DEFAULT_NAME: Final = "Stroomwijs"
DEFAULT_PHASES: Final = 3
DEFAULT_FUSE_A: Final = 25
