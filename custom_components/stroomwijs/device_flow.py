"""Add a heat pump, boiler or appliance to the household (a ``device`` subentry).

*Add device* offers a form per kind: an SG-Ready heat pump on two switches,
a heat pump behind a thermostat (``climate`` or ``water_heater``), a Lambda
heat pump over Modbus TCP (read once before it is added), an electric boiler
on a switch or water heater, an appliance on a metered smart plug, or one its
own integration can start remotely. Anything else (a hybrid, a boiler on a
Modbus relay, the tuning of the rules and models) is a driver profile in
YAML: the mapping the engine's drivers read (docs/devices.md). Every form
builds such a mapping and checks it with the drivers' own reader, so an
error names the bad field; *Reconfigure* opens the same form with what is
stored, and keeps what the form does not show.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import fields
from typing import Any, Final

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigSubentryFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_HOST, CONF_NAME, CONF_PORT
from homeassistant.helpers import selector
import probatio as vol
import yaml  # type: ignore[import-untyped]

from .engine.capabilities import DeviceUnavailableError
from .engine.discovery.modbus_scan import (
    ModbusFinding,
    ScanConfig,
    ScanResult,
    hosts_of,
    scan,
)
from .engine.drivers.factory import build_driver, config_from_dict
from .engine.drivers.lambda_heat_pump import LambdaConfig, LambdaHeatPump
from .engine.household import HouseholdConfig, HouseholdConfigError
from .engine.household.devices import with_identity

SUBENTRY_DEVICE: Final = "device"
CONF_DRIVER: Final = "driver"
CONF_PROFILE: Final = "profile"

KIND_SG_READY: Final = "sg_ready"
KIND_CLIMATE: Final = "climate"
KIND_LAMBDA: Final = "lambda"
KIND_BOILER: Final = "boiler"
KIND_PLUG: Final = "plug_appliance"
KIND_REMOTE: Final = "remote_start_appliance"
KIND_PROFILE: Final = "profile"
STEP_SCAN: Final = "scan"
STEP_SCAN_PICK: Final = "scan_pick"
KINDS: Final = (
    KIND_SG_READY,
    KIND_CLIMATE,
    KIND_LAMBDA,
    KIND_BOILER,
    KIND_PLUG,
    KIND_REMOTE,
    KIND_PROFILE,
)

CONF_RELAY_1: Final = "relay_1_entity"
CONF_RELAY_2: Final = "relay_2_entity"
CONF_RATED_POWER: Final = "rated_power_w"
CONF_BOOST_POWER: Final = "boost_power_w"
CONF_ROOM_TEMPERATURE: Final = "room_temperature_entity"
CONF_POWER_ENTITY: Final = "power_entity"
CONF_COMFORT_MIN: Final = "comfort_min_c"
CONF_COMFORT_MAX: Final = "comfort_max_c"
CONF_ENTITY_ID: Final = "entity_id"
CONF_UNIT_ID: Final = "unit_id"
CONF_VOLUME: Final = "volume_l"
CONF_ELEMENT_POWER: Final = "power_w"
CONF_TEMPERATURE_ENTITY: Final = "temperature_entity"
CONF_THERMOSTAT: Final = "thermostat_c"
CONF_APPLIANCE: Final = "appliance"
CONF_PLUG: Final = "plug_entity"
CONF_REMOTE_START: Final = "remote_start_entity"
CONF_OPERATION_STATE: Final = "operation_state_entity"
CONF_START: Final = "start_entity"
CONF_DEADLINE_HOURS: Final = "deadline_hours"
CONF_TARGET: Final = "target"
CONF_FOUND: Final = "found"

APPLIANCES: Final = ["washing_machine", "dishwasher", "dryer"]
PROBE_TIMEOUT_S: Final = 10.0
SCAN_TIME_S: Final = 30.0
"""A scan the user asked for ends after this (a /24 at 10 per second: 26 s)."""
DEFAULT_COMFORT: Final = (19.5, 22.0)


def parse_profile(name: str, text: str) -> dict[str, Any]:
    """Read and check a driver profile; ValueError says what is wrong."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        msg = f"not valid YAML: {getattr(err, 'problem', err)}"
        raise ValueError(msg) from None
    if not isinstance(data, dict):
        msg = "expected a mapping with a driver key"
        raise ValueError(msg)  # noqa: TRY004 - the user's text, shown as an error
    return check_driver(name, data)


def check_driver(name: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """Check a driver mapping with the drivers' reader; ValueError if bad.

    A device's password (a Shelly's ``socket.password``) stays in the
    subentry's mapping; the household config keeps it apart as a secret
    (``household_glue.driver_device_config``), so it is checked that way.
    """
    driver = dict(data)
    socket = driver.get("socket")
    password = socket.get("password") if isinstance(socket, Mapping) else None
    device: dict[str, Any] = {"id": "device", "kind": "driver", "name": name}
    document: dict[str, Any] = {"devices": [device]}
    if isinstance(socket, Mapping) and "password" in socket:
        driver["socket"] = {k: v for k, v in socket.items() if k != "password"}
        device["password_required"] = True
        document["secrets"] = {"devices.device.password": password}
    device["driver"] = driver
    try:
        config = HouseholdConfig.from_dict(document)
        if "secrets" in document:  # the password's own rules
            config_from_dict(with_identity(data, "device", name), "driver")
    except (HouseholdConfigError, ValueError) as err:
        raise ValueError(str(err).replace("devices[0].", "")) from None
    checked = dict(config.devices[0].driver)
    if "secrets" in document:
        checked["socket"] = {**checked["socket"], "password": password}
    return checked


def kind_of(driver: Mapping[str, Any]) -> str:
    """Return the form that edits a stored driver mapping (else the profile)."""
    kind = driver.get("driver")
    if kind == KIND_BOILER:
        return KIND_BOILER if driver.get("control") != "modbus" else KIND_PROFILE
    if kind in KINDS:
        return str(kind)
    return KIND_PROFILE


async def async_probe_lambda(name: str, driver: Mapping[str, Any]) -> str | None:
    """Read a Lambda heat pump once over Modbus TCP; return an error key or None."""
    host = str(driver["host"])
    if not host or any(char.isspace() or char in "/:" for char in host):
        return "invalid_host"
    pump = build_driver(
        config_from_dict(with_identity(driver, "probe", name)), port=None
    )
    assert isinstance(pump, LambdaHeatPump)  # noqa: S101 - a lambda mapping
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            await pump.async_update()
    except DeviceUnavailableError, TimeoutError, OSError:
        return "cannot_connect"
    finally:
        pump.close()
    return None


# ------------------------------------------------------------------ selectors


def _entity(*domains: str, device_class: str | None = None) -> selector.EntitySelector:
    config = selector.EntitySelectorConfig(domain=list(domains))
    if device_class is not None:
        config["device_class"] = device_class
    return selector.EntitySelector(config)


def _number(
    low: float, high: float, step: float, unit: str | None = None
) -> selector.NumberSelector:
    config = selector.NumberSelectorConfig(
        min=low, max=high, step=step, mode=selector.NumberSelectorMode.BOX
    )
    if unit is not None:
        config["unit_of_measurement"] = unit
    return selector.NumberSelector(config)


def _required(key: str, values: Mapping[str, Any], default: Any = None) -> vol.Required:  # noqa: ANN401
    value = values.get(key, default)
    return vol.Required(key, default=vol.UNDEFINED if value is None else value)


def _optional(key: str, values: Mapping[str, Any]) -> vol.Optional:
    return vol.Optional(key, description={"suggested_value": values.get(key)})


def _power_sensor() -> selector.EntitySelector:
    return _entity("sensor", device_class="power")


def _comfort_fields(values: Mapping[str, Any]) -> dict[Any, Any]:
    return {
        _required(CONF_COMFORT_MIN, values, DEFAULT_COMFORT[0]): _number(
            5, 30, 0.5, "°C"
        ),
        _required(CONF_COMFORT_MAX, values, DEFAULT_COMFORT[1]): _number(
            5, 30, 0.5, "°C"
        ),
    }


def _schema(kind: str, values: Mapping[str, Any]) -> vol.Schema:  # noqa: PLR0911
    """Return the form of ``kind``, filled with ``values``."""
    name = {_required(CONF_NAME, values): selector.TextSelector()}
    rated = {
        _required(CONF_RATED_POWER, values): _number(100, 30_000, 50, "W"),
        _optional(CONF_BOOST_POWER, values): _number(100, 30_000, 50, "W"),
    }
    deadline = {
        _required(CONF_DEADLINE_HOURS, values, 12): _number(1, 48, 0.5, "h"),
    }
    appliance = {
        _required(CONF_APPLIANCE, values, APPLIANCES[0]): selector.SelectSelector(
            selector.SelectSelectorConfig(
                options=APPLIANCES, translation_key="appliance"
            )
        )
    }
    if kind == KIND_SG_READY:
        return vol.Schema(
            {
                **name,
                _required(CONF_RELAY_1, values): _entity("switch", "input_boolean"),
                _required(CONF_RELAY_2, values): _entity("switch", "input_boolean"),
                **rated,
                **_comfort_fields(values),
                _optional(CONF_ROOM_TEMPERATURE, values): _entity("sensor", "climate"),
                _optional(CONF_POWER_ENTITY, values): _power_sensor(),
            }
        )
    if kind == KIND_CLIMATE:
        return vol.Schema(
            {
                **name,
                _required(CONF_ENTITY_ID, values): _entity("climate", "water_heater"),
                **rated,
                **_comfort_fields(values),
                _optional(CONF_ROOM_TEMPERATURE, values): _entity(
                    "sensor", device_class="temperature"
                ),
                _optional(CONF_POWER_ENTITY, values): _power_sensor(),
            }
        )
    if kind == KIND_LAMBDA:
        return vol.Schema(
            {
                **name,
                _required(CONF_HOST, values): selector.TextSelector(),
                _required(CONF_PORT, values, 502): _number(1, 65535, 1),
                _required(CONF_UNIT_ID, values, 1): _number(1, 247, 1),
                **rated,
                **_comfort_fields(values),
            }
        )
    if kind == KIND_BOILER:
        return vol.Schema(
            {
                **name,
                _required(CONF_ENTITY_ID, values): _entity(
                    "switch", "input_boolean", "water_heater"
                ),
                _required(CONF_VOLUME, values, 120): _number(10, 1000, 5, "L"),
                _required(CONF_ELEMENT_POWER, values, 2000): _number(
                    100, 12_000, 50, "W"
                ),
                _required(CONF_THERMOSTAT, values, 65): _number(45, 85, 1, "°C"),
                _optional(CONF_TEMPERATURE_ENTITY, values): _entity(
                    "sensor", device_class="temperature"
                ),
                _optional(CONF_POWER_ENTITY, values): _power_sensor(),
            }
        )
    if kind == KIND_PLUG:
        return vol.Schema(
            {
                **name,
                **appliance,
                _required(CONF_PLUG, values): _entity("switch"),
                _required(CONF_POWER_ENTITY, values): _power_sensor(),
                **deadline,
            }
        )
    if kind == KIND_REMOTE:
        return vol.Schema(
            {
                **name,
                **appliance,
                _required(CONF_REMOTE_START, values): _entity(
                    "binary_sensor", "switch"
                ),
                _required(CONF_OPERATION_STATE, values): _entity("sensor", "select"),
                _required(CONF_START, values): _entity("button", "switch"),
                _optional(CONF_POWER_ENTITY, values): _power_sensor(),
                **deadline,
            }
        )
    return vol.Schema(
        {
            **name,
            _required(CONF_PROFILE, values): selector.TextSelector(
                selector.TextSelectorConfig(
                    type=selector.TextSelectorType.TEXT, multiline=True
                )
            ),
        }
    )


# ------------------------------------------------------ form <-> driver mapping

OPTIONAL_ENTITIES: Final = {
    KIND_SG_READY: (CONF_ROOM_TEMPERATURE, CONF_POWER_ENTITY),
    KIND_CLIMATE: (CONF_ROOM_TEMPERATURE, CONF_POWER_ENTITY),
    KIND_BOILER: (CONF_TEMPERATURE_ENTITY, CONF_POWER_ENTITY),
    KIND_REMOTE: (CONF_POWER_ENTITY,),
}


def _heat_pump_part(
    driver: dict[str, Any], form: Mapping[str, Any], old: Mapping[str, Any]
) -> None:
    """Put a heat-pump form's power and comfort band into ``driver``."""
    spec = {
        **dict(old.get("spec") or {}),
        CONF_RATED_POWER: float(form[CONF_RATED_POWER]),
    }
    if form.get(CONF_BOOST_POWER):
        spec[CONF_BOOST_POWER] = float(form[CONF_BOOST_POWER])
    else:
        spec.pop(CONF_BOOST_POWER, None)
    driver["spec"] = spec
    driver["comfort"] = {
        "min_c": float(form[CONF_COMFORT_MIN]),
        "max_c": float(form[CONF_COMFORT_MAX]),
    }


def _driver_from_form(
    kind: str, form: Mapping[str, Any], old: Mapping[str, Any]
) -> dict[str, Any]:
    """Build the driver mapping of a form, over what ``old`` had (reconfigure)."""
    driver: dict[str, Any] = {**old, "driver": kind}
    for key in OPTIONAL_ENTITIES.get(kind, ()):
        if form.get(key):
            driver[key] = str(form[key])
        else:
            driver.pop(key, None)
    if kind in {KIND_SG_READY, KIND_CLIMATE, KIND_LAMBDA}:
        _heat_pump_part(driver, form, old)
    if kind == KIND_SG_READY:
        driver[CONF_RELAY_1] = str(form[CONF_RELAY_1])
        driver[CONF_RELAY_2] = str(form[CONF_RELAY_2])
    elif kind == KIND_CLIMATE:
        driver[CONF_ENTITY_ID] = str(form[CONF_ENTITY_ID])
    elif kind == KIND_LAMBDA:
        driver["host"] = str(form[CONF_HOST]).strip()
        driver["port"] = int(form[CONF_PORT])
        driver[CONF_UNIT_ID] = int(form[CONF_UNIT_ID])
    elif kind == KIND_BOILER:
        entity = str(form[CONF_ENTITY_ID])
        driver[CONF_ENTITY_ID] = entity
        driver["control"] = (
            "water_heater" if entity.startswith("water_heater.") else "switch"
        )
        driver[CONF_VOLUME] = float(form[CONF_VOLUME])
        driver[CONF_ELEMENT_POWER] = float(form[CONF_ELEMENT_POWER])
        driver[CONF_THERMOSTAT] = float(form[CONF_THERMOSTAT])
    else:
        driver["kind"] = str(form[CONF_APPLIANCE])
        driver["default_deadline"] = {"hours": float(form[CONF_DEADLINE_HOURS])}
        if kind == KIND_PLUG:
            driver[CONF_PLUG] = str(form[CONF_PLUG])
            driver[CONF_POWER_ENTITY] = str(form[CONF_POWER_ENTITY])
        else:
            for key in (CONF_REMOTE_START, CONF_OPERATION_STATE, CONF_START):
                driver[key] = str(form[key])
    return driver


def _hours(value: object) -> float | None:
    if isinstance(value, Mapping):
        return (
            float(value.get("hours", 0))
            + float(value.get("minutes", 0)) / 60
            + float(value.get("seconds", 0)) / 3600
        )
    if isinstance(value, int | float):
        return float(value) / 3600
    return None


def _form_from_driver(
    kind: str, title: str, driver: Mapping[str, Any]
) -> dict[str, Any]:
    """Return the form values of a stored driver mapping (reconfigure)."""
    values: dict[str, Any] = {CONF_NAME: title}
    if kind == KIND_PROFILE:
        values[CONF_PROFILE] = yaml.safe_dump(dict(driver), sort_keys=False)
        return values
    values.update({k: v for k, v in driver.items() if not isinstance(v, Mapping)})
    spec = driver.get("spec") or {}
    values[CONF_RATED_POWER] = spec.get(CONF_RATED_POWER)
    values[CONF_BOOST_POWER] = spec.get(CONF_BOOST_POWER)
    comfort = driver.get("comfort") or {}
    values[CONF_COMFORT_MIN] = comfort.get("min_c", DEFAULT_COMFORT[0])
    values[CONF_COMFORT_MAX] = comfort.get("max_c", DEFAULT_COMFORT[1])
    values[CONF_APPLIANCE] = driver.get("kind", APPLIANCES[0])
    values[CONF_DEADLINE_HOURS] = _hours(driver.get("default_deadline")) or 12
    return values


def _unique_id(kind: str, driver: Mapping[str, Any]) -> str | None:
    """Return what makes two devices the same: their entity or address."""
    socket = driver.get("socket")
    if driver.get("driver") == "homewizard_socket" and isinstance(socket, Mapping):
        # The socket's serial (zeroconf discovery finds it by that, too).
        return f"homewizard_socket_{str(socket['serial']).lower()}"
    if driver.get("driver") == "shelly" and isinstance(socket, Mapping):
        # The device's MAC (zeroconf discovery finds it by that, too, on
        # channel 0); another channel of a 2PM or Pro 4PM is its own device.
        channel = socket.get("channel") or 0
        suffix = f"_{channel}" if channel else ""
        return f"shelly_{str(socket['mac']).lower()}{suffix}"
    key = {
        KIND_SG_READY: CONF_RELAY_1,
        KIND_CLIMATE: CONF_ENTITY_ID,
        KIND_BOILER: CONF_ENTITY_ID,
        KIND_PLUG: CONF_PLUG,
        KIND_REMOTE: CONF_START,
    }.get(kind)
    if key is not None:
        return f"{kind}_{driver[key]}"
    if kind == KIND_LAMBDA:
        # A profile may leave the port and unit to the driver's defaults.
        defaults = {f.name: f.default for f in fields(LambdaConfig)}
        port = driver.get(CONF_PORT, defaults[CONF_PORT])
        unit_id = driver.get(CONF_UNIT_ID, defaults[CONF_UNIT_ID])
        return f"lambda_{driver['host']}:{port}:{unit_id}"
    return None


def _form_errors(kind: str, form: Mapping[str, Any]) -> dict[str, str]:
    """Errors a form can show on its own field, before the drivers' check."""
    errors: dict[str, str] = {}
    if CONF_COMFORT_MIN in form and float(form[CONF_COMFORT_MIN]) >= float(
        form[CONF_COMFORT_MAX]
    ):
        errors[CONF_COMFORT_MAX] = "comfort_band"
    if kind == KIND_SG_READY and form[CONF_RELAY_1] == form[CONF_RELAY_2]:
        errors[CONF_RELAY_2] = "same_relay"
    return errors


def _describe(finding: ModbusFinding) -> str:
    """Say what a scan found, in the words of its register map."""
    where = f"{finding.host}:{finding.port}"
    if finding.map == "lambda":
        outdoor = finding.details.get("outdoor_c")
        extra = "" if outdoor is None else f", {outdoor} °C outside"
        return f"Lambda heat pump at {where} (unit {finding.unit_id}{extra})"
    if finding.map == "quasar":
        return f"Wallbox Quasar at {where}: add it with Add charger"
    brand = " ".join(
        str(finding.details.get(key) or "") for key in ("manufacturer", "model")
    ).strip()
    return f"SunSpec device {brand or ''} at {where}: not a device Stroomwijs drives"


class DeviceSubentryFlow(ConfigSubentryFlow):
    """Add or change a heat pump, boiler or appliance."""

    _found: list[ModbusFinding]
    _scan_task: asyncio.Task[ScanResult] | None = None
    _scan_input: dict[str, Any] = {}  # noqa: RUF012 - replaced, never mutated
    _scan_result: str = ""

    async def async_step_user(
        self,
        user_input: dict[str, Any] | None = None,  # noqa: ARG002 - a menu
    ) -> SubentryFlowResult:
        """Ask what kind of device to add."""
        return self.async_show_menu(
            step_id="user", menu_options=[*KINDS[:-1], STEP_SCAN, KIND_PROFILE]
        )

    async def async_step_scan(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Scan an address or a small subnet for heat pumps over Modbus TCP.

        The scan runs as a progress task (up to ``SCAN_TIME_S``); what it
        found is picked next, or the form comes back saying what answered.
        """
        errors: dict[str, str] = {}
        if user_input is not None:
            target = str(user_input[CONF_TARGET]).strip()
            self._scan_input = dict(user_input)
            try:
                hosts_of(target)
            except ValueError:
                errors[CONF_TARGET] = "invalid_target"
            else:
                self._scan_task = self.hass.async_create_task(
                    scan(
                        [target],
                        ScanConfig(
                            ports=(int(user_input[CONF_PORT]),),
                            total_timeout_s=SCAN_TIME_S,
                        ),
                    ),
                    "stroomwijs modbus scan",
                )
        task = self._scan_task
        if task is not None:
            if not task.done():
                return self.async_show_progress(
                    step_id=STEP_SCAN,
                    progress_action="scan",
                    description_placeholders={
                        "target": str(self._scan_input[CONF_TARGET])
                    },
                    progress_task=task,
                )
            self._scan_task = None
            result = task.result()
            self._found = [f for f in result.findings if f.map == "lambda"]
            if self._found:
                return self.async_show_progress_done(next_step_id=STEP_SCAN_PICK)
            seen = "; ".join(_describe(f) for f in result.findings)
            self._scan_result = (
                f"{result.hosts_scanned} addresses scanned"
                + ("" if result.complete else " (stopped at the time limit)")
                + (f"; found: {seen}" if seen else "")
                + "."
            )
            return self.async_show_progress_done(next_step_id=STEP_SCAN)
        if self._scan_result and user_input is None:
            errors["base"] = "nothing_found"
        placeholders = {"result": self._scan_result if errors.get("base") else ""}
        self._scan_result = ""
        values = self._scan_input
        schema = vol.Schema(
            {
                _required(CONF_TARGET, values): selector.TextSelector(),
                _required(CONF_PORT, values, 502): _number(1, 65535, 1),
            }
        )
        return self.async_show_form(
            step_id=STEP_SCAN,
            data_schema=schema,
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_scan_pick(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Pick one of the heat pumps found; its form comes filled in."""
        options = {f"{f.host}|{f.port}|{f.unit_id}": _describe(f) for f in self._found}
        if user_input is not None:
            host, port, unit = str(user_input[CONF_FOUND]).split("|")
            return await self._async_form(
                KIND_LAMBDA,
                None,
                {
                    CONF_NAME: "Lambda heat pump",
                    CONF_HOST: host,
                    CONF_PORT: int(port),
                    CONF_UNIT_ID: int(unit),
                },
            )
        schema = vol.Schema(
            {
                vol.Required(CONF_FOUND, default=next(iter(options))): (
                    selector.SelectSelector(
                        selector.SelectSelectorConfig(
                            options=[
                                selector.SelectOptionDict(value=k, label=v)
                                for k, v in options.items()
                            ]
                        )
                    )
                )
            }
        )
        return self.async_show_form(step_id=STEP_SCAN_PICK, data_schema=schema)

    async def async_step_reconfigure(
        self,
        user_input: dict[str, Any] | None = None,  # noqa: ARG002 - opens a form
    ) -> SubentryFlowResult:
        """Open the device's form with what is stored."""
        subentry = self._get_reconfigure_subentry()
        driver = dict(subentry.data[CONF_DRIVER])
        kind = kind_of(driver)
        return await self._async_form(
            kind, None, _form_from_driver(kind, subentry.title, driver)
        )

    async def async_step_sg_ready(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Ask for an SG-Ready heat pump on two switches."""
        return await self._async_form(KIND_SG_READY, user_input)

    async def async_step_climate(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Ask for a heat pump behind a thermostat entity."""
        return await self._async_form(KIND_CLIMATE, user_input)

    async def async_step_lambda(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Ask for a Lambda heat pump over Modbus TCP."""
        return await self._async_form(KIND_LAMBDA, user_input)

    async def async_step_boiler(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Ask for an electric boiler on a switch or water heater."""
        return await self._async_form(KIND_BOILER, user_input)

    async def async_step_plug_appliance(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Ask for an appliance on a metered smart plug."""
        return await self._async_form(KIND_PLUG, user_input)

    async def async_step_remote_start_appliance(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Ask for an appliance its own integration starts."""
        return await self._async_form(KIND_REMOTE, user_input)

    async def async_step_profile(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Ask for any driver, described by its profile in YAML."""
        return await self._async_form(KIND_PROFILE, user_input)

    def _stored(self) -> dict[str, Any]:
        if self.source != SOURCE_RECONFIGURE:
            return {}
        return dict(self._get_reconfigure_subentry().data[CONF_DRIVER])

    def _taken(self, unique_id: str) -> bool:
        own = (
            self._get_reconfigure_subentry().subentry_id
            if self.source == SOURCE_RECONFIGURE
            else None
        )
        return any(
            sub.unique_id == unique_id and sid != own
            for sid, sub in self._get_entry().subentries.items()
        )

    async def _async_form(
        self,
        kind: str,
        user_input: dict[str, Any] | None,
        values: dict[str, Any] | None = None,
    ) -> SubentryFlowResult:
        """Show the form of ``kind``; check and store what was entered."""
        errors: dict[str, str] = {}
        placeholders = {"error": ""}
        if user_input is not None:
            name = str(user_input[CONF_NAME]).strip() or "Device"
            errors = _form_errors(kind, user_input)
            driver: dict[str, Any] = {}
            if not errors:
                try:
                    if kind == KIND_PROFILE:
                        driver = parse_profile(name, str(user_input[CONF_PROFILE]))
                    else:
                        driver = check_driver(
                            name, _driver_from_form(kind, user_input, self._stored())
                        )
                except ValueError as err:
                    errors["base"] = "invalid_device"
                    placeholders["error"] = str(err)
            if not errors:
                result = await self._async_store(name, driver)
                if isinstance(result, str):
                    errors["base"] = result
                else:
                    return result
        return self.async_show_form(
            step_id=kind,
            data_schema=_schema(kind, {**(values or {}), **(user_input or {})}),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def _async_store(
        self, name: str, driver: dict[str, Any]
    ) -> SubentryFlowResult | str:
        """Create or update the subentry; an error key if the device cannot be."""
        unique_id = _unique_id(kind_of(driver), driver)
        if unique_id is not None and self._taken(unique_id):
            return self.async_abort(reason="already_configured")
        if driver["driver"] == KIND_LAMBDA:
            error = await async_probe_lambda(name, driver)
            if error is not None:
                return error
        data = {CONF_DRIVER: driver}
        if self.source == SOURCE_RECONFIGURE:
            return self.async_update_reload_and_abort(
                self._get_entry(),
                self._get_reconfigure_subentry(),
                title=name,
                data=data,
                unique_id=unique_id,
            )
        return self.async_create_entry(title=name, data=data, unique_id=unique_id)
