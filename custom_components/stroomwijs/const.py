"""Constants of the Stroomwijs integration."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "stroomwijs"
LOGGER = logging.getLogger(__package__)

DATA_DEMO_CLOCK: Final = "stroomwijs_demo_clock"
"""Demo only: where ``script/demo --speed`` puts its simulated clock.

The demo's companion integration (``demo/custom_components/stroomwijs_demo``,
never shipped) stores an ``engine.simulate.demo_clock.DemoClock`` (used here
through ``integration.AcceleratedClock``) under this
``hass.data`` key; a household set up while it is there runs on that clock
(plan, guard timings, quarter-hours, departures) and is ticked as much faster.
Nothing in Stroomwijs itself sets it, and no option or form reaches it.
"""

CONF_PHASES: Final = "phases"
CONF_FUSE_A: Final = "fuse_a"
REAUTH_SUBENTRY: Final = "subentry_id"
"""Key in a reauth's data naming the subentry whose credentials failed.

Start it with ``entry.async_start_reauth(hass, data={REAUTH_SUBENTRY: id})``:
an OpenADR limit source asks for new client credentials, a charger for the
password it now sends.
"""

SIGNAL_DEVICE_ADDED: Final = f"{DOMAIN}_device_added_{{}}"
"""Dispatcher signal (format it with the entry id): a device subentry's driver
was added to the running household; the platforms add its entities."""

DEFAULT_NAME: Final = "Stroomwijs"
DEFAULT_PHASES: Final = 3
DEFAULT_FUSE_A: Final = 25

# Tariff, forecasts and the optimiser (options).
CONF_PRICE_ENTITY: Final = "price_entity"
CONF_PV_ENTITY: Final = "pv_forecast_entity"
CONF_WEATHER_ENTITY: Final = "weather_entity"
CONF_MARKUP: Final = "markup_eur_per_kwh"
CONF_ENERGY_TAX: Final = "energy_tax_eur_per_kwh"
CONF_VAT_PCT: Final = "vat_pct"
CONF_EXPORT_BASIS: Final = "export_basis"
CONF_FEED_IN: Final = "feed_in_eur_per_kwh"
CONF_CAPACITY_PRICE: Final = "capacity_eur_per_kw_month"
CONF_OPTIMISER_MODE: Final = "optimiser_mode"
