"""Driver configs from plain data, drivers from configs, and their guard roles."""

from __future__ import annotations

from datetime import timedelta
import json

import pytest

from custom_components.stroomwijs.engine.capabilities import CurtailPriority
from custom_components.stroomwijs.engine.drivers.appliance import PlugAppliance
from custom_components.stroomwijs.engine.drivers.boiler import Boiler, ControlKind
from custom_components.stroomwijs.engine.drivers.factory import (
    ConfigError,
    HybridSetup,
    SocketSetup,
    build_driver,
    config_from_dict,
    guard_role,
)
from custom_components.stroomwijs.engine.drivers.hybrid_heat_pump import (
    HybridHeatPump,
)
from custom_components.stroomwijs.engine.drivers.lambda_heat_pump import (
    LambdaHeatPump,
)
from custom_components.stroomwijs.engine.drivers.sg_ready import (
    SgReadyConfig,
    SgReadyHeatPump,
)
from custom_components.stroomwijs.engine.simulate.entities import InMemoryEntityPort

SG_READY = {
    "driver": "sg_ready",
    "device_id": "hp",
    "name": "Heat pump",
    "relay_1_entity": "switch.sg1",
    "relay_2_entity": "switch.sg2",
    "spec": {"rated_power_w": 2500, "min_on": {"minutes": 20}},
    "comfort": {"min_c": 19.5, "max_c": 22},
    "rules": {"min_between_changes": 900, "timezone": "Europe/Brussels"},
}


def test_every_driver_kind_builds_from_json() -> None:
    """SG-Ready, hybrid, Lambda, boiler and plug appliance from one JSON list."""
    devices = json.loads(
        json.dumps(
            [
                SG_READY,
                {
                    "driver": "hybrid",
                    "hybrid": {
                        "device_id": "hybrid",
                        "name": "Hybrid",
                        "gas_switch_entity": "switch.gas",
                        "gas": {"max_kw": 20, "eur_per_m3": 1.3},
                    },
                    "heat_pump": {**SG_READY, "device_id": "hybrid_hp"},
                },
                {
                    "driver": "lambda",
                    "device_id": "lambda",
                    "host": "127.0.0.1",
                    "spec": {"rated_power_w": 2000, "phases": 1},
                },
                {
                    "driver": "boiler",
                    "device_id": "boiler",
                    "name": "Boiler",
                    "control": "switch",
                    "entity_id": "switch.boiler",
                    "volume_l": 120,
                    "power_w": 2000,
                    "phase": 2,
                },
                {
                    "driver": "plug_appliance",
                    "device_id": "washer",
                    "name": "Washer",
                    "plug_entity": "switch.washer",
                    "power_entity": "sensor.washer_power",
                    "phase": 3,
                },
            ]
        )
    )
    port = InMemoryEntityPort()
    built = [build_driver(config_from_dict(d), port=port) for d in devices]
    assert isinstance(built[0], SgReadyHeatPump)
    assert built[0].config.spec.min_on == timedelta(minutes=20)
    assert built[0].config.rules.min_between_changes == timedelta(minutes=15)
    assert isinstance(built[1], HybridHeatPump)
    assert isinstance(built[2], LambdaHeatPump)
    assert isinstance(built[3], Boiler)
    assert built[3].config.control is ControlKind.SWITCH
    assert isinstance(built[4], PlugAppliance)
    roles = [(r.priority, r.phases) for r in map(guard_role, built)]
    assert roles == [
        (CurtailPriority.HEAT_PUMP, (0, 1, 2)),
        (CurtailPriority.HEAT_PUMP, (0, 1, 2)),
        (CurtailPriority.HEAT_PUMP, (0,)),
        (CurtailPriority.BOILER, (1,)),
        (CurtailPriority.WHITE_GOODS, (2,)),
    ]
    assert guard_role(built[0]).reaction_delay == timedelta(seconds=30)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"driver": "toaster"}, "device.driver: must be one of"),
        ({"colour": "red"}, "unknown field(s) colour"),
        ({"spec": {}}, "device.spec.rated_power_w: required"),
        ({"spec": {"rated_power_w": "lots"}}, "spec.rated_power_w: must be a number"),
        ({"spec": {"rated_power_w": float("inf")}}, "must be finite"),
        ({"spec": {"rated_power_w": -5}}, "rated_power_w must be within"),
        ({"relay_2_entity": "switch.sg1"}, "different entities"),
        ({"rules": {"min_between_changes": -1}}, "must be within 0 s..30 days"),
        ({"rules": {"min_between_changes": {"weeks": 1}}}, "a duration has"),
        ({"rules": {"timezone": "Nowhere/Else"}}, "device.rules:"),
        ({"allow_forced": "yes"}, "allow_forced: must be true or false"),
    ],
)
def test_errors_name_the_field(change: dict[str, object], message: str) -> None:
    """Each bad value is reported with the path of its field."""
    with pytest.raises(
        ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        config_from_dict({**SG_READY, **change})


def test_a_hybrid_needs_a_heat_pump_driver_inside() -> None:
    """The nested heat pump says which driver it is."""
    with pytest.raises(ConfigError, match=r"heat_pump.driver: must be one of"):
        config_from_dict(
            {
                "driver": "hybrid",
                "hybrid": {
                    "device_id": "h",
                    "name": "h",
                    "gas_switch_entity": "switch.gas",
                    "gas": {"max_kw": 20, "eur_per_m3": 1.3},
                },
                "heat_pump": {**SG_READY, "driver": "boiler"},
            }
        )
    setup = config_from_dict(
        {
            "driver": "hybrid",
            "hybrid": {
                "device_id": "h",
                "name": "h",
                "gas_switch_entity": "switch.gas",
                "gas": {"max_kw": 20, "eur_per_m3": 1.3},
            },
            "heat_pump": SG_READY,
        }
    )
    assert isinstance(setup, HybridSetup)
    assert isinstance(setup.heat_pump, SgReadyConfig)


def test_entity_drivers_need_a_port() -> None:
    """Without the host's entity port an SG-Ready driver cannot be built."""
    with pytest.raises(ConfigError, match="needs an entity port"):
        build_driver(config_from_dict(SG_READY))


BOILER = {
    "driver": "boiler",
    "device_id": "boiler",
    "name": "Boiler",
    "control": "switch",
    "entity_id": "switch.boiler",
    "volume_l": 120,
    "power_w": 2000,
}
HYBRID = {
    "driver": "hybrid",
    "hybrid": {
        "device_id": "hybrid",
        "name": "Hybrid",
        "gas_switch_entity": "switch.gas",
        "gas": {"max_kw": 20, "eur_per_m3": 1.3},
    },
    "heat_pump": {**SG_READY, "device_id": "hybrid_hp"},
}
SOCKET = {
    "driver": "homewizard_socket",
    "socket": {"host": "127.0.0.1", "serial": "5c2faf000001"},
    "device": {
        "driver": "boiler",
        "device_id": "b",
        "name": "B",
        "volume_l": 120,
        "power_w": 2000,
    },
}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (5, "device: must be an object"),
        ({**BOILER, "name": 5}, "device.name: must be text"),
        ({**BOILER, "phase": "x"}, "device.phase: must be a whole number"),
        ({**BOILER, "phase": True}, "device.phase: must be a whole number"),
        ({**BOILER, "control": "magic"}, "device.control: must be one of switch,"),
        ({**HYBRID, "heat_pump": 5}, "device.heat_pump: must be an object"),
        (
            {**HYBRID, "heat_pump": {"driver": "toaster"}},
            "device.heat_pump.driver: must be one of sg_ready, climate, lambda",
        ),
        (
            {**SOCKET, "device": {**SOCKET["device"], "entity_id": "switch.x"}},
            "device.device.entity_id: set by the socket",
        ),
        ({**SOCKET, "socket": {"host": "127.0.0.1"}}, "device.socket.serial: required"),
        ({**SOCKET, "socket": 5}, "device.socket: must be an object"),
    ],
)
def test_errors_name_the_field_of_every_kind(data: object, message: str) -> None:
    """Wrong types in boilers, hybrids and sockets name their field."""
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        config_from_dict(data)


def test_a_socket_fills_in_its_own_entities() -> None:
    """A boiler on an Energy Socket switches the socket's relay, reads its power."""
    config = config_from_dict(SOCKET)
    assert isinstance(config, SocketSetup)
    assert config.device.entity_id.startswith("switch.")
    assert config.device.power_entity is not None
    assert config.device.power_entity.startswith("sensor.")
    assert config.device.control is ControlKind.SWITCH
