"""Buttons: re-plan now; boost, pause, resume per charger; arm, disarm appliances."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN
from .driver_entities import async_add_driver_entities
from .engine.capabilities import DeviceUnavailableError
from .entity import ChargerEntity, async_add_charger_entities
from .household_view import ChargerView
from .models import StroomwijsConfigEntry
from .plan_entities import PLAN_NOW_BUTTON, PlanNowButton

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class ChargerButtonDescription(ButtonEntityDescription):
    """A manual command for a charger: the setpoint it sets (None: the plan)."""

    setpoint_fn: Callable[[ChargerView], float | None]


CHARGER_BUTTONS: tuple[ChargerButtonDescription, ...] = (
    ChargerButtonDescription(
        key="boost", translation_key="boost", setpoint_fn=lambda h: h.boost_w
    ),
    ChargerButtonDescription(
        key="pause", translation_key="pause", setpoint_fn=lambda _h: 0.0
    ),
    ChargerButtonDescription(
        key="resume", translation_key="resume", setpoint_fn=lambda _h: None
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: StroomwijsConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the plan-now button, and boost, pause and resume per charger."""
    async_add_entities([PlanNowButton(entry, PLAN_NOW_BUTTON)])
    async_add_driver_entities(Platform.BUTTON, hass, entry, async_add_entities)
    async_add_charger_entities(
        entry.runtime_data.chargers,
        async_add_entities,
        lambda charger: [
            ChargerButton(entry, charger, description)
            for description in CHARGER_BUTTONS
        ],
    )


class ChargerButton(ChargerEntity, ButtonEntity):
    """Boost, pause or resume a charger (the DSO limit still holds)."""

    entity_description: ChargerButtonDescription

    async def async_press(self) -> None:
        """Send the command through the household (and its guard)."""
        try:
            await self.charger.async_set_override(
                self.entity_description.setpoint_fn(self.charger)
            )
        except DeviceUnavailableError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="charger_refused",
                translation_placeholders={
                    "charger": self.charger.title,
                    "error": str(err),
                },
            ) from err
