"""Build the heat-pump, boiler and appliance drivers from plain config data.

The Household reads its devices from YAML/JSON. :func:`config_from_dict`
turns one device's mapping into the driver's typed, validated config (the
``driver`` key chooses it; nested objects become the nested dataclasses;
durations are seconds or ``{"hours": .., "minutes": .., "seconds": ..}``),
with errors that name the path of the bad field. :func:`build_driver` makes
the driver, and :func:`guard_role` says how the guard should treat it.

Example::

    {"driver": "sg_ready", "device_id": "hp", "name": "Heat pump",
     "relay_1_entity": "switch.sg1", "relay_2_entity": "switch.sg2",
     "spec": {"rated_power_w": 2500},
     "comfort": {"min_c": 19.5, "max_c": 22},
     "rules": {"min_between_changes": {"minutes": 15}}}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields, is_dataclass
from datetime import timedelta
from enum import Enum
import math
import types
from typing import Any, Union, get_args, get_origin, get_type_hints

from custom_components.stroomwijs.engine.capabilities import CurtailPriority

from .appliance import (
    PlugAppliance,
    PlugApplianceConfig,
    RemoteStartAppliance,
    RemoteStartApplianceConfig,
)
from .boiler import Boiler, BoilerConfig
from .climate_setpoint import ClimateSetpointConfig, ClimateSetpointHeatPump
from .entities import EntityPort
from .homewizard_socket import (
    HomeWizardSocket,
    HomeWizardSocketConfig,
    socket_entity_ids,
)
from .hybrid_heat_pump import HybridConfig, HybridHeatPump
from .lambda_heat_pump import LambdaConfig, LambdaHeatPump
from .metered_plug import MeteredPlug, PlugEntityPort
from .sg_ready import Clock, SgReadyConfig, SgReadyHeatPump, utc_now
from .shelly import ShellyConfig, ShellyPlug, shelly_entity_ids

type HeatPumpConfig = SgReadyConfig | ClimateSetpointConfig | LambdaConfig


@dataclass(frozen=True, slots=True, kw_only=True)
class HybridSetup:
    """A hybrid: its gas switch and the driver of its heat pump."""

    hybrid: HybridConfig
    heat_pump: SgReadyConfig | ClimateSetpointConfig | LambdaConfig


@dataclass(frozen=True, slots=True, kw_only=True)
class SocketSetup:
    """A boiler element or an appliance on a HomeWizard Energy Socket.

    The device's switch and power entities are the socket's own (the
    factory fills them in); the rest of ``device`` is the boiler's or the
    appliance's usual config.
    """

    socket: HomeWizardSocketConfig
    device: BoilerConfig | PlugApplianceConfig


@dataclass(frozen=True, slots=True, kw_only=True)
class ShellySetup:
    """A boiler element or an appliance on a Shelly Gen2+ plug or relay.

    As with :class:`SocketSetup`, the device's switch and power entities are
    the relay channel's own (the factory fills them in).
    """

    socket: ShellyConfig
    device: BoilerConfig | PlugApplianceConfig


type PlugSetup = SocketSetup | ShellySetup
"""A device on a plug that Stroomwijs talks to over the network itself."""

type DriverConfig = (
    SgReadyConfig
    | ClimateSetpointConfig
    | LambdaConfig
    | HybridSetup
    | BoilerConfig
    | PlugApplianceConfig
    | RemoteStartApplianceConfig
    | SocketSetup
    | ShellySetup
)
type Driver = (
    SgReadyHeatPump
    | ClimateSetpointHeatPump
    | LambdaHeatPump
    | HybridHeatPump
    | Boiler
    | PlugAppliance
    | RemoteStartAppliance
)

DRIVERS: dict[str, type[Any]] = {
    "sg_ready": SgReadyConfig,
    "climate": ClimateSetpointConfig,
    "lambda": LambdaConfig,
    "hybrid": HybridSetup,
    "boiler": BoilerConfig,
    "plug_appliance": PlugApplianceConfig,
    "remote_start_appliance": RemoteStartApplianceConfig,
    "homewizard_socket": SocketSetup,
    "shelly": ShellySetup,
}
_NAMES = {cls: name for name, cls in DRIVERS.items()}
MAX_DEPTH = 6
THREE_PHASES = 3


class ConfigError(ValueError):
    """A device configuration that cannot be used; the message names the field."""


def config_from_dict(data: object, path: str = "device") -> DriverConfig:
    """Build a driver's config from plain data (``driver`` picks the kind)."""
    if not isinstance(data, Mapping):
        msg = f"{path}: must be an object"
        raise ConfigError(msg)
    kind = data.get("driver")
    cls = DRIVERS.get(str(kind))
    if cls is None:
        msg = f"{path}.driver: must be one of {', '.join(DRIVERS)}, not {kind!r}"
        raise ConfigError(msg)
    rest = {k: v for k, v in data.items() if k != "driver"}
    if cls is SocketSetup or cls is ShellySetup:
        rest = _socket_entities(rest, path)
    result: DriverConfig = _dataclass(cls, rest, path, 0)
    return result


_SOCKET_FIELDS: dict[str, tuple[str, ...]] = {
    "boiler": ("entity_id", "power_entity"),
    "plug_appliance": ("plug_entity", "power_entity"),
}


def _socket_entities(data: Mapping[str, Any], path: str) -> dict[str, Any]:
    """Fill in the socket's switch and power entities for its device."""
    socket, device = data.get("socket"), data.get("device")
    if not isinstance(socket, Mapping) or not isinstance(device, Mapping):
        return dict(data)  # the reader names what is missing or wrong
    kind = str(device.get("driver"))
    names = _SOCKET_FIELDS.get(kind)
    serial, mac = socket.get("serial"), socket.get("mac")
    channel = socket.get("channel", 0)
    if names is None:
        return dict(data)
    if isinstance(serial, str):
        switch, power = socket_entity_ids(serial)
    elif isinstance(mac, str) and isinstance(channel, int):
        switch, power = shelly_entity_ids(mac, channel)
    else:
        return dict(data)  # the reader names what is missing or wrong
    for name in (*names, "control"):
        if name in device:
            msg = f"{path}.device.{name}: set by the socket"
            raise ConfigError(msg)
    filled = {**device, names[0]: switch, names[1]: power}
    if kind == "boiler":
        filled["control"] = "switch"
    return {**data, "device": filled}


def _dataclass(cls: type[Any], data: object, path: str, depth: int) -> Any:  # noqa: ANN401
    if depth > MAX_DEPTH:
        msg = f"{path}: nested too deeply"
        raise ConfigError(msg)
    if not isinstance(data, Mapping):
        msg = f"{path}: must be an object"
        raise ConfigError(msg)
    hints = get_type_hints(cls)
    known = {f.name: f for f in fields(cls) if f.init}
    unknown = sorted(str(k) for k in data if k not in known)
    if unknown:
        msg = f"{path}: unknown field(s) {', '.join(unknown)}"
        raise ConfigError(msg)
    values: dict[str, Any] = {}
    for name, spec in known.items():
        if name in data:
            values[name] = _value(hints[name], data[name], f"{path}.{name}", depth)
        elif spec.default is MISSING and spec.default_factory is MISSING:
            msg = f"{path}.{name}: required"
            raise ConfigError(msg)
    try:
        return cls(**values)
    except (ValueError, KeyError) as err:
        msg = f"{path}: {err}"
        raise ConfigError(msg) from err


def _value(hint: Any, raw: object, path: str, depth: int) -> Any:  # noqa: ANN401, C901, PLR0911, PLR0912
    origin = get_origin(hint)
    if origin in {Union, types.UnionType}:
        options = [a for a in get_args(hint) if a is not type(None)]
        if raw is None and len(options) < len(get_args(hint)):
            return None
        if len(options) == 1:
            return _value(options[0], raw, path, depth)
        return _union(options, raw, path, depth)
    if hint is str:
        if not isinstance(raw, str):
            msg = f"{path}: must be text"
            raise ConfigError(msg)
        return raw
    if hint is bool:
        if not isinstance(raw, bool):
            msg = f"{path}: must be true or false"
            raise ConfigError(msg)
        return raw
    if hint is int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            msg = f"{path}: must be a whole number"
            raise ConfigError(msg)
        return raw
    if hint is float:
        return _number(raw, path)
    if hint is timedelta:
        return _duration(raw, path)
    if isinstance(hint, type) and issubclass(hint, Enum):
        try:
            return hint(raw)
        except ValueError:
            choices = ", ".join(str(m.value) for m in hint)
            msg = f"{path}: must be one of {choices}"
            raise ConfigError(msg) from None
    if origin is frozenset:
        if not isinstance(raw, list | tuple) or not all(
            isinstance(v, str) for v in raw
        ):
            msg = f"{path}: must be a list of text"
            raise ConfigError(msg)
        return frozenset(raw)
    if isinstance(hint, type) and is_dataclass(hint):
        return _dataclass(hint, raw, path, depth + 1)
    msg = f"{path}: unsupported field type {hint!r}"
    raise ConfigError(msg)


def _union(options: list[Any], raw: object, path: str, depth: int) -> Any:  # noqa: ANN401
    """Pick one of several driver configs by the nested ``driver`` key."""
    if not isinstance(raw, Mapping):
        msg = f"{path}: must be an object"
        raise ConfigError(msg)
    kind = raw.get("driver")
    for option in options:
        if _NAMES.get(option) == kind:
            rest = {k: v for k, v in raw.items() if k != "driver"}
            return _dataclass(option, rest, path, depth + 1)
    names = ", ".join(n for o in options if (n := _NAMES.get(o)))
    msg = f"{path}.driver: must be one of {names}"
    raise ConfigError(msg)


def _number(raw: object, path: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        msg = f"{path}: must be a number"
        raise ConfigError(msg)
    value = float(raw)
    if not math.isfinite(value):
        msg = f"{path}: must be finite"
        raise ConfigError(msg)
    return value


def _duration(raw: object, path: str) -> timedelta:
    if isinstance(raw, Mapping):
        unknown = set(raw) - {"days", "hours", "minutes", "seconds"}
        if unknown:
            msg = f"{path}: a duration has days, hours, minutes, seconds"
            raise ConfigError(msg)
        parts = {k: _number(v, f"{path}.{k}") for k, v in raw.items()}
        seconds = (
            parts.get("days", 0.0) * 86400
            + parts.get("hours", 0.0) * 3600
            + parts.get("minutes", 0.0) * 60
            + parts.get("seconds", 0.0)
        )
    else:
        seconds = _number(raw, path)
    if not 0 <= seconds <= 30 * 86400:
        msg = f"{path}: must be within 0 s..30 days"
        raise ConfigError(msg)
    return timedelta(seconds=seconds)


def build_driver(  # noqa: PLR0911 - one return per driver kind
    config: DriverConfig, *, port: EntityPort | None = None, clock: Clock = utc_now
) -> Driver:
    """Make the driver of ``config``; entity-backed drivers need ``port``."""
    if isinstance(config, SocketSetup | ShellySetup):
        msg = "a device on a networked plug is built by build_socket_driver"
        raise ConfigError(msg)
    if isinstance(config, LambdaConfig):
        return LambdaHeatPump(config, clock=clock)
    if isinstance(config, BoilerConfig):
        return Boiler(config, port, clock=clock)
    if port is None:
        msg = f"{type(config).__name__} needs an entity port"
        raise ConfigError(msg)
    if isinstance(config, SgReadyConfig):
        return SgReadyHeatPump(config, port, clock=clock)
    if isinstance(config, ClimateSetpointConfig):
        return ClimateSetpointHeatPump(config, port, clock=clock)
    if isinstance(config, HybridSetup):
        inner = build_driver(config.heat_pump, port=port, clock=clock)
        assert isinstance(  # noqa: S101 - the setup's type guarantees it
            inner, SgReadyHeatPump | ClimateSetpointHeatPump | LambdaHeatPump
        )
        return HybridHeatPump(config.hybrid, inner, port, clock=clock)
    if isinstance(config, PlugApplianceConfig):
        return PlugAppliance(config, port, clock=clock)
    return RemoteStartAppliance(config, port, clock=clock)


def build_socket_driver(
    setup: PlugSetup,
    *,
    session: Any,  # noqa: ANN401 - an aiohttp.ClientSession (or None)
    port: EntityPort | None = None,
    clock: Clock = utc_now,
) -> tuple[Boiler | PlugAppliance, MeteredPlug]:
    """Make the boiler or appliance on the plug, and the plug to refresh.

    The driver switches and meters through the plug (a HomeWizard Energy
    Socket or a Shelly relay channel); any other entity it reads (a tank
    temperature sensor) comes from ``port``, the host's.
    """
    socket: MeteredPlug
    if isinstance(setup, ShellySetup):
        socket = ShellyPlug(setup.socket, session, name=setup.device.name, clock=clock)
    else:
        socket = HomeWizardSocket(
            setup.socket, session, name=setup.device.name, clock=clock
        )
    driver = build_driver(setup.device, port=PlugEntityPort(socket, port), clock=clock)
    assert isinstance(driver, Boiler | PlugAppliance)  # noqa: S101 - the setup's type
    return driver, socket


def driver_entity_ids(config: DriverConfig) -> frozenset[str]:
    """Return the host's entity ids a driver of ``config`` reads or calls.

    Every ``entity_id`` and ``*_entity`` field of the config and of its
    nested parts (a hybrid's heat pump); a device on a HomeWizard socket
    leaves out the socket's own switch and power, which the socket serves.
    """
    found: set[str] = set()

    def _walk(value: object, depth: int) -> None:
        if depth > MAX_DEPTH or not is_dataclass(value) or isinstance(value, type):
            return
        for item in fields(value):
            part = getattr(value, item.name)
            named = item.name == "entity_id" or item.name.endswith("_entity")
            if named and isinstance(part, str) and part:
                found.add(part)
            elif is_dataclass(part):
                _walk(part, depth + 1)

    _walk(config, 0)
    if isinstance(config, SocketSetup):
        found -= set(socket_entity_ids(config.socket.serial))
    return frozenset(found)


@dataclass(frozen=True, slots=True, kw_only=True)
class GuardRole:
    """What a ``GuardedDevice`` for a driver should say."""

    priority: CurtailPriority
    phases: tuple[int, ...]
    """0-based phases the device draws from."""
    reaction_delay: timedelta
    """How long the device takes to follow a command (an upper bound)."""


def guard_role(driver: Driver) -> GuardRole:
    """Return the guard priority, phases and reaction delay of a driver's device.

    Reaction delays are upper bounds for the device class: a relay or plug
    switches within a second or two (the host's round trip included); a
    compressor stops within about half a minute of its SG-Ready or Modbus
    block; a thermostat setpoint takes effect only when the controller next
    decides, so two minutes.
    """
    if isinstance(driver, Boiler):
        cfg = driver.config
        phases = (0, 1, 2) if cfg.phases == THREE_PHASES else (cfg.phase - 1,)
        return GuardRole(
            priority=CurtailPriority.BOILER,
            phases=phases,
            reaction_delay=timedelta(seconds=2),
        )
    if isinstance(driver, PlugAppliance | RemoteStartAppliance):
        return GuardRole(
            priority=CurtailPriority.WHITE_GOODS,
            phases=(driver.config.phase - 1,),
            reaction_delay=timedelta(seconds=2),
        )
    inner = driver.heat_pump if isinstance(driver, HybridHeatPump) else driver
    three = (0, 1, 2)
    phases = three
    delay = timedelta(seconds=30)
    if isinstance(inner, SgReadyHeatPump | ClimateSetpointHeatPump | LambdaHeatPump):
        phases = three if inner.config.spec.phases == THREE_PHASES else (0,)
    if isinstance(inner, ClimateSetpointHeatPump):
        delay = timedelta(minutes=2)
    return GuardRole(
        priority=CurtailPriority.HEAT_PUMP, phases=phases, reaction_delay=delay
    )
