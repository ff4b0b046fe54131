"""The tariff and forecast form, shared by the options and the set-up flow."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from homeassistant.helpers.selector import (
    EntitySelector,
    EntitySelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)
import probatio as vol

from .const import (
    CONF_CAPACITY_PRICE,
    CONF_ENERGY_TAX,
    CONF_EXPORT_BASIS,
    CONF_FEED_IN,
    CONF_MARKUP,
    CONF_OPTIMISER_MODE,
    CONF_PRICE_ENTITY,
    CONF_PV_ENTITY,
    CONF_VAT_PCT,
    CONF_WEATHER_ENTITY,
)
from .engine.household import OptimiserMode

TARIFF_KEYS: Final = (
    CONF_PRICE_ENTITY,
    CONF_PV_ENTITY,
    CONF_WEATHER_ENTITY,
    CONF_MARKUP,
    CONF_ENERGY_TAX,
    CONF_VAT_PCT,
    CONF_EXPORT_BASIS,
    CONF_FEED_IN,
    CONF_CAPACITY_PRICE,
    CONF_OPTIMISER_MODE,
)


def _euro(low: float, high: float, step: float = 0.001) -> NumberSelector:
    return NumberSelector(
        NumberSelectorConfig(
            min=low,
            max=high,
            step=step,
            mode=NumberSelectorMode.BOX,
            unit_of_measurement="EUR/kWh",
        )
    )


def tariff_schema(current: Mapping[str, Any]) -> vol.Schema:
    """Return the tariff and forecast form, filled with ``current``."""

    def _optional(key: str) -> vol.Optional:
        value = current.get(key)
        if value in (None, ""):
            return vol.Optional(key)
        return vol.Optional(key, description={"suggested_value": value})

    return vol.Schema(
        {
            _optional(CONF_PRICE_ENTITY): EntitySelector(
                EntitySelectorConfig(domain="sensor")
            ),
            _optional(CONF_PV_ENTITY): EntitySelector(
                EntitySelectorConfig(domain="sensor")
            ),
            _optional(CONF_WEATHER_ENTITY): EntitySelector(
                EntitySelectorConfig(domain="weather")
            ),
            vol.Required(CONF_MARKUP, default=current.get(CONF_MARKUP, 0.02)): _euro(
                -1.0, 5.0
            ),
            vol.Required(
                CONF_ENERGY_TAX, default=current.get(CONF_ENERGY_TAX, 0.1228)
            ): _euro(0.0, 5.0),
            vol.Required(
                CONF_VAT_PCT, default=current.get(CONF_VAT_PCT, 21)
            ): NumberSelector(
                NumberSelectorConfig(
                    min=0,
                    max=100,
                    step=1,
                    mode=NumberSelectorMode.BOX,
                    unit_of_measurement="%",
                )
            ),
            vol.Required(
                CONF_EXPORT_BASIS, default=current.get(CONF_EXPORT_BASIS, "fixed")
            ): SelectSelector(
                SelectSelectorConfig(
                    options=["fixed", "spot", "net_metering"],
                    translation_key=CONF_EXPORT_BASIS,
                    mode=SelectSelectorMode.DROPDOWN,
                )
            ),
            vol.Required(CONF_FEED_IN, default=current.get(CONF_FEED_IN, 0.0)): _euro(
                -5.0, 5.0
            ),
            _optional(CONF_CAPACITY_PRICE): NumberSelector(
                NumberSelectorConfig(
                    min=0,
                    max=1000,
                    step=0.01,
                    mode=NumberSelectorMode.BOX,
                    unit_of_measurement="EUR/kW/month",
                )
            ),
            vol.Required(
                CONF_OPTIMISER_MODE,
                default=current.get(CONF_OPTIMISER_MODE, OptimiserMode.AUTO.value),
            ): SelectSelector(
                SelectSelectorConfig(
                    options=[mode.value for mode in OptimiserMode],
                    translation_key=CONF_OPTIMISER_MODE,
                    mode=SelectSelectorMode.DROPDOWN,
                )
            ),
        }
    )
