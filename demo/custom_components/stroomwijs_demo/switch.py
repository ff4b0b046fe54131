"""The washer's smart plug."""

from __future__ import annotations

from collections.abc import Mapping

from homeassistant.components.switch import SwitchDeviceClass, SwitchEntity
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.helpers.typing import ConfigType, DiscoveryInfoType
from homeassistant.helpers.update_coordinator import CoordinatorEntity, UpdateFailed

from . import DOMAIN, DemoWorldCoordinator


async def async_setup_platform(
    hass: HomeAssistant,
    config: ConfigType,
    async_add_entities: AddEntitiesCallback,
    discovery_info: DiscoveryInfoType | None = None,
) -> None:
    """Add the plug."""
    del config, discovery_info
    async_add_entities([WasherPlug(hass.data[DOMAIN])])


class WasherPlug(CoordinatorEntity[DemoWorldCoordinator], SwitchEntity):
    """The washing machine's metered smart plug."""

    _attr_name = "Demo washer plug"
    _attr_unique_id = f"{DOMAIN}_washer_plug"
    _attr_device_class = SwitchDeviceClass.OUTLET

    @property
    def is_on(self) -> bool | None:
        """Whether the plug's relay is closed."""
        washer = self.coordinator.data.state.get("washer")
        return bool(washer.get("plug_on")) if isinstance(washer, Mapping) else None

    async def async_turn_on(self, **kwargs: object) -> None:
        """Close the relay."""
        del kwargs
        await self._switch(on=True)

    async def async_turn_off(self, **kwargs: object) -> None:
        """Open the relay."""
        del kwargs
        await self._switch(on=False)

    async def _switch(self, *, on: bool) -> None:
        try:
            await self.coordinator.async_washer_plug(on=on)
        except UpdateFailed as err:
            raise HomeAssistantError(str(err)) from err
