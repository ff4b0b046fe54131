"""The set-up flow's installer path (a mixin of the config flow).

After the meter is connected and the grid connection described, the flow
walks an installer through the rest of a household, in this order:

1. the P1 source (``config_flow.py``), or first an installer profile;
2. the grid connection (``config_flow.py``);
3. the grid operator's limits: a congestion window, the Belgian capacity
   tariff, a dim input (OpenADR needs credentials tested on the server: it
   is added from the household's card);
4. the tariff: a price entity, markup, energy tax, VAT and feed-in;
5. the PV forecast;
6. the devices: an OCPP charger by its charge point id.

Every step after the grid can be left empty and done later from the
household's card. A profile exported by ``stroomwijs.export_profile`` is
validated (errors name the field's path), its missing secrets are asked for
one by one, and the household is created with its options and subentries
once this house's meter is connected.
"""

from __future__ import annotations

from typing import Any, Final

from homeassistant.config_entries import (
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryData,
)
from homeassistant.const import CONF_NAME
from homeassistant.helpers.selector import (
    BooleanSelector,
    EntitySelector,
    EntitySelectorConfig,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import probatio as vol

from .charger import CONF_CHARGER_ID, CONF_KIND, KIND_OCPP, SUBENTRY_CHARGER
from .charger_flow import csms_url
from .const import CONF_FUSE_A, CONF_PHASES, CONF_PV_ENTITY, CONF_WEATHER_ENTITY
from .coordinator import (
    CONF_API_VERSION,
    CONF_DSMR_VERSION,
    CONF_HOST,
    CONF_SERIAL_PORT,
    CONF_TCP_PORT,
)
from .engine.household import HouseholdConfig, HouseholdConfigError
from .limits_flow import (
    CONF_END,
    CONF_ENTITY,
    CONF_IMPORT_W,
    CONF_LABEL,
    CONF_LIMIT_KIND,
    CONF_START,
    KIND_CAPACITY,
    KIND_DIM,
    KIND_WINDOW,
    SUBENTRY_GRID_LIMIT,
    window_from_data,
)
from .profile import parse_profile, profile_settings, secret_owner
from .tariff_form import TARIFF_KEYS, tariff_schema

CONF_PROFILE: Final = "profile"
CONF_SECRET: Final = "secret"  # noqa: S105 - a form key
CONF_CAPACITY_TARIFF: Final = "capacity_tariff"
CONF_DIM_ENTITY: Final = "dim_entity"
CONF_WINDOW_START: Final = "window_start"
CONF_WINDOW_END: Final = "window_end"
CONF_WINDOW_IMPORT_W: Final = "window_import_w"
_WINDOW_KEYS: Final = (CONF_WINDOW_START, CONF_WINDOW_END, CONF_WINDOW_IMPORT_W)


class InstallerFlow(ConfigFlow):
    """The installer's steps after the grid connection, and profile import."""

    _profile: HouseholdConfig | None = None
    _missing_secrets: list[str]
    _title: str
    _entry_data: dict[str, Any]
    _options: dict[str, Any]
    _subentries: list[ConfigSubentryData]

    # ---------------------------------------------------------------- profile

    async def async_step_import_profile(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Take an installer profile (YAML or JSON) and check it."""
        errors: dict[str, str] = {}
        placeholders = {"path": "", "message": ""}
        if user_input is not None:
            try:
                config = parse_profile(str(user_input[CONF_PROFILE]))
            except HouseholdConfigError as err:
                errors["base"] = "invalid_profile"
                placeholders = {
                    "path": err.path or "-",
                    "message": str(err).removeprefix(f"{err.path}: "),
                }
            else:
                self._profile = config
                self._missing_secrets = [
                    key
                    for key in config.missing_secrets()
                    if not key.startswith("meter.")  # the meter is this house's
                ]
                return await self.async_step_profile_secret()
        return self.async_show_form(
            step_id="import_profile",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_PROFILE): TextSelector(
                        TextSelectorConfig(multiline=True)
                    )
                }
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_profile_secret(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the secrets the profile left out, one at a time."""
        profile = self._profile
        assert profile is not None  # noqa: S101 - set by import_profile
        if user_input is not None:
            key = self._missing_secrets.pop(0)
            self._profile = profile = profile.with_secrets(
                {key: str(user_input[CONF_SECRET])}
            )
        if not self._missing_secrets:
            return await self.async_step_user()  # now connect this house's meter
        key = self._missing_secrets[0]
        return self.async_show_form(
            step_id="profile_secret",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_SECRET): TextSelector(
                        TextSelectorConfig(type=TextSelectorType.PASSWORD)
                    )
                }
            ),
            description_placeholders={
                "name": secret_owner(profile, key),
                "key": key,
            },
        )

    def profile_meter_defaults(self, source: str) -> dict[str, Any]:
        """Suggest the profile's meter settings for a meter of the same kind."""
        profile = self._profile
        if profile is None or profile.meter.source != source:
            return {}
        meter = profile.meter
        values = {
            CONF_SERIAL_PORT: meter.serial_port,
            CONF_HOST: meter.host,
            CONF_TCP_PORT: meter.tcp_port,
            CONF_DSMR_VERSION: meter.dsmr_version,
            CONF_API_VERSION: meter.api_version,
            **dict(meter.entities),
        }
        return {key: value for key, value in values.items() if value is not None}

    def profile_grid_defaults(self) -> dict[str, Any]:
        """Suggest the profile's name and grid connection."""
        profile = self._profile
        if profile is None:
            return {}
        return {
            CONF_NAME: profile.name,
            CONF_PHASES: profile.grid.phases,
            CONF_FUSE_A: profile.grid.fuse_a,
        }

    # ------------------------------------------------------- after the grid

    async def async_after_grid(
        self, title: str, data: dict[str, Any]
    ) -> ConfigFlowResult:
        """Go on from the grid connection: create (profile) or ask the rest."""
        self._title = title
        self._entry_data = data
        self._options = {}
        self._subentries = []
        if self._profile is not None:
            settings = profile_settings(self._profile)
            self._options = settings.options
            self._subentries = settings.subentries
            return self._create()
        return await self.async_step_limits()

    def _create(self) -> ConfigFlowResult:
        return self.async_create_entry(
            title=self._title,
            data=self._entry_data,
            options=self._options,
            subentries=self._subentries,
        )

    async def async_step_limits(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the grid operator's limits (all optional)."""
        errors: dict[str, str] = {}
        if user_input is not None:
            window = [user_input.get(key) for key in _WINDOW_KEYS]
            subentries: list[ConfigSubentryData] = []
            if any(value not in (None, "") for value in window):
                data: dict[str, Any] = {
                    CONF_LIMIT_KIND: KIND_WINDOW,
                    CONF_LABEL: "congestion",
                    CONF_START: str(window[0] or "").strip()[:5],
                    CONF_END: str(window[1] or "").strip()[:5],
                }
                if window[2] not in (None, ""):
                    data[CONF_IMPORT_W] = float(window[2])
                try:
                    parsed = window_from_data(data)  # refuses one without a limit
                except ValueError:
                    errors["base"] = "invalid_window"
                else:
                    subentries.append(
                        ConfigSubentryData(
                            data=data,
                            subentry_type=SUBENTRY_GRID_LIMIT,
                            title=f"congestion {parsed.start:%H:%M}-{parsed.end:%H:%M}",
                            unique_id=None,
                        )
                    )
            if user_input.get(CONF_CAPACITY_TARIFF):
                subentries.append(
                    ConfigSubentryData(
                        data={CONF_LIMIT_KIND: KIND_CAPACITY},
                        subentry_type=SUBENTRY_GRID_LIMIT,
                        title="Capacity tariff",
                        unique_id=KIND_CAPACITY,
                    )
                )
            if user_input.get(CONF_DIM_ENTITY):
                subentries.append(
                    ConfigSubentryData(
                        data={
                            CONF_LIMIT_KIND: KIND_DIM,
                            CONF_ENTITY: str(user_input[CONF_DIM_ENTITY]),
                        },
                        subentry_type=SUBENTRY_GRID_LIMIT,
                        title="Dim input",
                        unique_id=KIND_DIM,
                    )
                )
            if not errors:
                self._subentries.extend(subentries)
                return await self.async_step_tariff()
        schema = vol.Schema(
            {
                vol.Optional(CONF_WINDOW_START): TextSelector(),
                vol.Optional(CONF_WINDOW_END): TextSelector(),
                vol.Optional(CONF_WINDOW_IMPORT_W): TextSelector(
                    TextSelectorConfig(type=TextSelectorType.NUMBER, suffix="W")
                ),
                vol.Required(CONF_CAPACITY_TARIFF, default=False): BooleanSelector(),
                vol.Optional(CONF_DIM_ENTITY): EntitySelector(
                    EntitySelectorConfig(
                        domain=["binary_sensor", "switch", "input_boolean"]
                    )
                ),
            }
        )
        return self.async_show_form(
            step_id="limits",
            data_schema=self.add_suggested_values_to_schema(schema, user_input or {}),
            errors=errors,
        )

    async def async_step_tariff(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the price entity and what is added to it (defaults: NL)."""
        if user_input is not None:
            self._options.update(
                {
                    key: user_input[key]
                    for key in TARIFF_KEYS
                    if user_input.get(key) not in (None, "")
                }
            )
            return await self.async_step_pv()
        full = tariff_schema({})
        schema = vol.Schema(
            {
                key: value
                for key, value in full.schema.items()
                # The PV forecast has a step of its own; the weather entity
                # (outdoor forecast) is set later from Configure.
                if str(key) not in (CONF_PV_ENTITY, CONF_WEATHER_ENTITY)
            }
        )
        return self.async_show_form(step_id="tariff", data_schema=schema)

    async def async_step_pv(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the PV forecast entity (optional)."""
        if user_input is not None:
            if user_input.get(CONF_PV_ENTITY):
                self._options[CONF_PV_ENTITY] = user_input[CONF_PV_ENTITY]
            return await self.async_step_devices()
        return self.async_show_form(
            step_id="pv",
            data_schema=vol.Schema(
                {
                    vol.Optional(CONF_PV_ENTITY): EntitySelector(
                        EntitySelectorConfig(domain="sensor")
                    )
                }
            ),
        )

    async def async_step_devices(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for an OCPP charger by its charge point id (optional), then create."""
        if user_input is not None:
            charger_id = str(user_input.get(CONF_CHARGER_ID) or "").strip()
            if charger_id:
                self._subentries.append(
                    ConfigSubentryData(
                        data={CONF_KIND: KIND_OCPP, CONF_CHARGER_ID: charger_id},
                        subentry_type=SUBENTRY_CHARGER,
                        title=charger_id,
                        unique_id=charger_id,
                    )
                )
            return self._create()
        return self.async_show_form(
            step_id="devices",
            data_schema=vol.Schema({vol.Optional(CONF_CHARGER_ID): TextSelector()}),
            description_placeholders={"url": csms_url(self.hass, self._options)},
        )
