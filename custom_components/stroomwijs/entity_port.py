"""Home Assistant as the entity port of the household's driver devices.

Heat pumps on SG-Ready relays, thermostats, boilers on smart plugs and
appliances are driven through Home Assistant entities: the engine's drivers
read states, call services and follow state changes through this port.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.event import async_track_state_change_event

from .engine.drivers.entities import EntityCallError, EntityState, StateListener


class HassEntityPort:
    """States, services and state changes of Home Assistant's entities."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Use ``hass``'s state machine and services."""
        self.hass = hass

    def get_state(self, entity_id: str) -> EntityState | None:
        """Return the entity's state, or None if Home Assistant does not know it."""
        state = self.hass.states.get(entity_id)
        if state is None:
            return None
        return EntityState(
            entity_id=state.entity_id,
            state=state.state,
            attributes=dict(state.attributes),
        )

    async def async_call_service(
        self, domain: str, service: str, data: Mapping[str, object]
    ) -> None:
        """Call a service and wait for it; failures raise EntityCallError."""
        try:
            await self.hass.services.async_call(
                domain, service, dict(data), blocking=True
            )
        except HomeAssistantError as err:
            msg = f"{domain}.{service} failed: {err}"
            raise EntityCallError(msg) from err

    def subscribe(
        self, entity_ids: Sequence[str], listener: StateListener
    ) -> Callable[[], None]:
        """Call ``listener`` with every new state of ``entity_ids``."""

        @callback
        def _changed(event: Event[EventStateChangedData]) -> None:
            state = event.data["new_state"]
            if state is not None:
                listener(
                    EntityState(
                        entity_id=state.entity_id,
                        state=state.state,
                        attributes=dict(state.attributes),
                    )
                )

        return async_track_state_change_event(self.hass, list(entity_ids), _changed)
