"""Config subentries for the household's DSO limit sources.

Each limit source is a subentry of the household ("Add grid limit"): a static
time window, an OpenADR 3 VTN (Dutch GAC profile, with a live connection and
credentials check), the Belgian capacity-tariff target, or a §14a-style dim
input. Adding or removing one reloads the household (see ``guard_glue``).
"""

from __future__ import annotations

from datetime import time
from typing import Any, Final

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigSubentryFlow,
    SubentryFlowResult,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import selector
from homeassistant.helpers.aiohttp_client import async_get_clientsession
import probatio as vol

from .engine.limits import TimeWindow
from .engine.limits.base import DEFAULT_FAILSAFE_IMPORT_W
from .engine.limits.dim14a import DimMode
from .engine.limits.openadr import OpenAdrAuthError, OpenAdrClient, OpenAdrError

SUBENTRY_GRID_LIMIT: Final = "grid_limit"
CONF_LIMIT_KIND: Final = "kind"
KIND_WINDOW: Final = "window"
KIND_OPENADR: Final = "openadr"
KIND_CAPACITY: Final = "capacity"
KIND_DIM: Final = "dim"

CONF_LABEL: Final = "label"
CONF_START: Final = "start"
CONF_END: Final = "end"
CONF_IMPORT_W: Final = "import_w"
CONF_EXPORT_W: Final = "export_w"
CONF_WEEKDAYS: Final = "weekdays"
CONF_MONTHS: Final = "months"
CONF_URL: Final = "url"
CONF_CLIENT_ID: Final = "client_id"
CONF_CLIENT_SECRET: Final = "client_secret"  # noqa: S105 - a config key
CONF_EAN: Final = "ean"
CONF_PROGRAMS: Final = "programs"
CONF_FAILSAFE_W: Final = "failsafe_import_w"
CONF_TIMEOUT_MIN: Final = "signal_timeout_min"
CONF_BUDGET_W: Final = "budget_w"
CONF_ENTITY: Final = "entity_id"
CONF_DEVICES: Final = "devices"
CONF_MODE: Final = "mode"

WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
QUARTER_HOURS: Final = tuple(
    f"{hour:02d}:{minute:02d}" for hour in range(24) for minute in (0, 15, 30, 45)
)
"""Times offered for a window (any HH:MM can still be typed), without seconds."""


def _watts() -> selector.NumberSelector:
    return selector.NumberSelector(
        selector.NumberSelectorConfig(
            min=0,
            max=100_000,
            step=100,
            unit_of_measurement="W",
            mode=selector.NumberSelectorMode.BOX,
        )
    )


def window_from_data(data: dict[str, Any]) -> TimeWindow:
    """Build the engine's window from a subentry's data (ValueError if bad)."""
    return TimeWindow(
        start=time.fromisoformat(str(data[CONF_START])),
        end=time.fromisoformat(str(data[CONF_END])),
        import_w=data.get(CONF_IMPORT_W),
        export_w=data.get(CONF_EXPORT_W),
        weekdays=frozenset(int(day) for day in data.get(CONF_WEEKDAYS, range(7))),
        months=frozenset(int(month) for month in data.get(CONF_MONTHS, range(1, 13))),
        label=str(data.get(CONF_LABEL) or "window"),
    )


def _time() -> selector.SelectSelector:
    return selector.SelectSelector(
        selector.SelectSelectorConfig(
            options=list(QUARTER_HOURS),
            custom_value=True,
            mode=selector.SelectSelectorMode.DROPDOWN,
        )
    )


def _window_schema() -> vol.Schema:
    return vol.Schema(
        {
            vol.Optional(CONF_LABEL): selector.TextSelector(),
            vol.Required(CONF_START): _time(),
            vol.Required(CONF_END): _time(),
            vol.Optional(CONF_IMPORT_W): _watts(),
            vol.Optional(CONF_EXPORT_W): _watts(),
            vol.Optional(CONF_WEEKDAYS): selector.SelectSelector(
                selector.SelectSelectorConfig(
                    options=list(WEEKDAYS),
                    multiple=True,
                    translation_key="weekday",
                )
            ),
            vol.Optional(CONF_MONTHS): selector.SelectSelector(
                selector.SelectSelectorConfig(
                    options=[str(month) for month in range(1, 13)],
                    multiple=True,
                    translation_key="month",
                )
            ),
        }
    )


def _window_data(user_input: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {
        CONF_LIMIT_KIND: KIND_WINDOW,
        CONF_LABEL: str(user_input.get(CONF_LABEL) or "window").strip(),
        CONF_START: str(user_input[CONF_START]).strip()[:5],
        CONF_END: str(user_input[CONF_END]).strip()[:5],
        CONF_WEEKDAYS: sorted(
            WEEKDAYS.index(day) for day in user_input.get(CONF_WEEKDAYS) or WEEKDAYS
        ),
        CONF_MONTHS: sorted(
            int(month) for month in user_input.get(CONF_MONTHS) or range(1, 13)
        ),
    }
    for key in (CONF_IMPORT_W, CONF_EXPORT_W):
        if user_input.get(key) is not None:
            data[key] = float(user_input[key])
    return data


def _window_form(data: dict[str, Any]) -> dict[str, Any]:
    """Turn stored window data back into form values."""
    form = {
        key: data[key]
        for key in (CONF_LABEL, CONF_START, CONF_END, CONF_IMPORT_W, CONF_EXPORT_W)
        if data.get(key) is not None
    }
    if data.get(CONF_WEEKDAYS):
        form[CONF_WEEKDAYS] = [WEEKDAYS[day] for day in data[CONF_WEEKDAYS]]
    if data.get(CONF_MONTHS):
        form[CONF_MONTHS] = [str(month) for month in data[CONF_MONTHS]]
    return form


def _openadr_schema() -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_URL): selector.TextSelector(
                selector.TextSelectorConfig(type=selector.TextSelectorType.URL)
            ),
            vol.Required(CONF_CLIENT_ID): selector.TextSelector(),
            vol.Required(CONF_CLIENT_SECRET): _secret(),
            vol.Required(CONF_EAN): selector.TextSelector(),
            vol.Optional(CONF_PROGRAMS): selector.TextSelector(),
            vol.Required(CONF_FAILSAFE_W, default=DEFAULT_FAILSAFE_IMPORT_W): _watts(),
            vol.Required(CONF_TIMEOUT_MIN, default=15): selector.NumberSelector(
                selector.NumberSelectorConfig(
                    min=1,
                    max=240,
                    unit_of_measurement="min",
                    mode=selector.NumberSelectorMode.BOX,
                )
            ),
        }
    )


def _secret() -> selector.TextSelector:
    return selector.TextSelector(
        selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD)
    )


async def async_check_openadr(
    hass: HomeAssistant, url: str, client_id: str, client_secret: str
) -> tuple[list[str] | None, str | None]:
    """Log in to a VTN and list its programs; return them or an error key."""
    client = OpenAdrClient(
        async_get_clientsession(hass),
        url,
        client_id=client_id,
        client_secret=client_secret,
    )
    try:
        programs = await client.async_get_programs()
    except OpenAdrAuthError:
        return None, "invalid_auth"
    except OpenAdrError:
        return None, "cannot_connect"
    return [program.program_name for program in programs], None


def _dim_schema() -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_ENTITY): selector.EntitySelector(
                selector.EntitySelectorConfig(
                    domain=["binary_sensor", "switch", "input_boolean"]
                )
            ),
            vol.Required(CONF_DEVICES, default=1): selector.NumberSelector(
                selector.NumberSelectorConfig(
                    min=1, max=20, step=1, mode=selector.NumberSelectorMode.BOX
                )
            ),
            vol.Required(
                CONF_MODE, default=DimMode.CONNECTION.value
            ): selector.SelectSelector(
                selector.SelectSelectorConfig(
                    options=[mode.value for mode in DimMode],
                    translation_key="dim_mode",
                )
            ),
        }
    )


class GridLimitSubentryFlow(ConfigSubentryFlow):
    """Add one DSO limit source to the household, or change one."""

    async def async_step_user(
        self,
        user_input: dict[str, Any] | None = None,  # noqa: ARG002
    ) -> SubentryFlowResult:
        """Choose the kind of limit source."""
        return self.async_show_menu(
            step_id="user",
            menu_options=[KIND_WINDOW, KIND_OPENADR, KIND_CAPACITY, KIND_DIM],
        )

    def _taken(self, unique_id: str) -> bool:
        entry = self._get_entry()
        return any(
            sub.unique_id == unique_id
            for sub in entry.subentries.values()
            if self.source != SOURCE_RECONFIGURE
            or sub.subentry_id != self._reconfigure_subentry_id
        )

    def _finish(
        self, title: str, data: dict[str, Any], unique_id: str | None = None
    ) -> SubentryFlowResult:
        """Create the subentry, or store the changed one and reload."""
        if self.source == SOURCE_RECONFIGURE:
            return self.async_update_reload_and_abort(
                self._get_entry(),
                self._get_reconfigure_subentry(),
                title=title,
                data=data,
                unique_id=unique_id,
            )
        return self.async_create_entry(title=title, data=data, unique_id=unique_id)

    def _current(self) -> dict[str, Any]:
        """Return the stored data while reconfiguring; nothing for a new source."""
        if self.source != SOURCE_RECONFIGURE:
            return {}
        return dict(self._get_reconfigure_subentry().data)

    async def async_step_reconfigure(
        self,
        user_input: dict[str, Any] | None = None,  # noqa: ARG002
    ) -> SubentryFlowResult:
        """Change a limit source: open the form of its kind, filled in."""
        kind = str(self._get_reconfigure_subentry().data.get(CONF_LIMIT_KIND))
        steps = {
            KIND_WINDOW: self.async_step_window,
            KIND_OPENADR: self.async_step_openadr,
            KIND_CAPACITY: self.async_step_capacity,
            KIND_DIM: self.async_step_dim,
        }
        if kind not in steps:
            return self.async_abort(reason="unknown_limit_kind")
        return await steps[kind]()

    async def async_step_window(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Ask for a recurring window in local time, e.g. 16:00-21:00 at 4 kW."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _window_data(user_input)
            try:
                window = window_from_data(data)
            except ValueError:
                errors["base"] = "invalid_window"
            else:
                title = f"{window.label} {window.start:%H:%M}-{window.end:%H:%M}"
                return self._finish(title, data)
        values = user_input if user_input is not None else _window_form(self._current())
        return self.async_show_form(
            step_id="window",
            data_schema=self.add_suggested_values_to_schema(_window_schema(), values),
            errors=errors,
        )

    async def async_step_openadr(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Ask for an OpenADR 3 VTN; check the credentials and list programs."""
        errors: dict[str, str] = {}
        if user_input is not None:
            ean = str(user_input[CONF_EAN]).strip()
            url = str(user_input[CONF_URL]).strip().rstrip("/")
            if len(ean) != 18 or not ean.isdigit():  # noqa: PLR2004
                errors[CONF_EAN] = "invalid_ean"
            else:
                programs, error = await async_check_openadr(
                    self.hass,
                    url,
                    str(user_input[CONF_CLIENT_ID]),
                    str(user_input[CONF_CLIENT_SECRET]),
                )
                if error is not None:
                    errors["base"] = error
                else:
                    unique_id = f"openadr_{ean}_{url}"
                    if self._taken(unique_id):
                        return self.async_abort(reason="already_configured")
                    wanted = [
                        name.strip()
                        for name in str(user_input.get(CONF_PROGRAMS) or "").split(",")
                        if name.strip()
                    ]
                    data = {
                        CONF_LIMIT_KIND: KIND_OPENADR,
                        CONF_URL: url,
                        CONF_CLIENT_ID: str(user_input[CONF_CLIENT_ID]),
                        CONF_CLIENT_SECRET: str(user_input[CONF_CLIENT_SECRET]),
                        CONF_EAN: ean,
                        CONF_PROGRAMS: wanted,
                        CONF_FAILSAFE_W: float(user_input[CONF_FAILSAFE_W]),
                        CONF_TIMEOUT_MIN: float(user_input[CONF_TIMEOUT_MIN]),
                    }
                    names = ", ".join(programs or []) or "-"
                    return self._finish(f"OpenADR {ean} ({names})", data, unique_id)
        values = dict(user_input) if user_input is not None else self._current()
        if isinstance(values.get(CONF_PROGRAMS), list):
            values[CONF_PROGRAMS] = ", ".join(values[CONF_PROGRAMS])
        values.pop(CONF_CLIENT_SECRET, None)  # never shown again
        return self.async_show_form(
            step_id="openadr",
            data_schema=self.add_suggested_values_to_schema(_openadr_schema(), values),
            errors=errors,
        )

    async def async_step_capacity(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Ask for the capacity budget (empty: follow this month's peak)."""
        if self._taken(KIND_CAPACITY):
            return self.async_abort(reason="already_configured")
        if user_input is not None:
            budget = user_input.get(CONF_BUDGET_W)
            data: dict[str, Any] = {CONF_LIMIT_KIND: KIND_CAPACITY}
            if budget:
                data[CONF_BUDGET_W] = float(budget)
            return self._finish("Capacity tariff", data, KIND_CAPACITY)
        schema = vol.Schema({vol.Optional(CONF_BUDGET_W): _watts()})
        return self.async_show_form(
            step_id="capacity",
            data_schema=self.add_suggested_values_to_schema(schema, self._current()),
        )

    async def async_step_dim(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Ask for the dim input (relay or binary sensor) and how to apply it."""
        if self._taken(KIND_DIM):
            return self.async_abort(reason="already_configured")
        if user_input is not None:
            data = {
                CONF_LIMIT_KIND: KIND_DIM,
                CONF_ENTITY: str(user_input[CONF_ENTITY]),
                CONF_DEVICES: int(user_input[CONF_DEVICES]),
                CONF_MODE: str(user_input[CONF_MODE]),
            }
            return self._finish("Dim input", data, KIND_DIM)
        return self.async_show_form(
            step_id="dim",
            data_schema=self.add_suggested_values_to_schema(
                _dim_schema(), self._current()
            ),
        )
