"""Heat pumps, boilers and appliances through the gateway's commands and snapshots.

The household is the engine test household (an SG-Ready heat pump, a boiler
on a plug and a washer on a metered plug, simulated behind an in-memory
entity port, which the add-on does not have): the gateway's command handler
and snapshot are exercised on it with validated protocol messages.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from custom_components.stroomwijs.engine.drivers.sg_ready import SgReadyMode
from custom_components.stroomwijs.engine.gateway.protocol import (
    PROTOCOL_VERSION,
    ProtocolError,
    validate,
)
from custom_components.stroomwijs.engine.gateway.service import (
    Gateway,
    GatewayOptions,
    GatewayState,
    write_config,
)
from custom_components.stroomwijs.engine.household import (
    DeviceConfig,
    Household,
    HouseholdConfig,
)
from tests.engine.household.test_household_devices import _home


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[tuple[Gateway, Household]]:
    """Return a gateway whose running household is the simulated one."""
    _house, household, _unit, _tank, _machine = await _home()
    gateway = Gateway(
        GatewayOptions(
            config_path=tmp_path / "household.yaml",
            state_dir=tmp_path,
            clock=household.ports.clock,
        ),
        household.config,
    )
    gateway.household = household
    yield gateway, household
    await household.async_stop()


async def _command(gateway: Gateway, kind: str, **fields: Any) -> Any:  # noqa: ANN401
    return await gateway.async_command(
        validate({"v": PROTOCOL_VERSION, "id": 1, "type": kind, **fields})
    )


def _devices(gateway: Gateway) -> dict[str, Mapping[str, Any]]:
    household = gateway.snapshot()["household"]
    return {device["device_id"]: device for device in household["devices"]}


async def test_the_snapshot_holds_each_device_and_what_its_kind_has(
    gateway: tuple[Gateway, Household],
) -> None:
    """Heat pump, boiler and washer, each with its values; others null."""
    gw, household = gateway
    await household.async_plan_now()
    devices = _devices(gw)
    assert set(devices) == {"heat_pump", "boiler", "washer"}
    pump, boiler, washer = devices["heat_pump"], devices["boiler"], devices["washer"]
    assert pump["title"] == "Heat pump"
    assert pump["available"] is True
    assert pump["planned"] is True
    assert pump["sg_mode"] in {mode.name.lower() for mode in SgReadyMode}
    assert pump["blocks_left_today"] in {0, 1, 2, 3}
    assert 0 <= pump["blocked_minutes_left_today"] <= 120
    assert pump["temperature_c"] == pytest.approx(20.6, abs=0.5)
    assert pump["cycle_state"] is None
    assert pump["heating"] is None
    assert pump["planned_w"] == household.planned_power_w("heat_pump")
    assert boiler["temperature_c"] == pytest.approx(50.0, abs=1.0)
    assert boiler["tank_estimated"] is False
    assert isinstance(boiler["heating"], bool)
    assert boiler["legionella_due"] is not None
    assert boiler["sg_mode"] is None
    assert washer["cycle_state"] == "idle"
    assert washer["deadline"] is None
    assert washer["latest_start"] is None
    assert washer["temperature_c"] is None


async def test_device_commands_act_and_refuse_what_cannot_be(
    gateway: tuple[Gateway, Household],
) -> None:
    """Plan switch, arm, deadline and disarm; wrong devices and times refused."""
    gw, household = gateway
    now = household.ports.clock()
    result = await _command(gw, "set_device_planned", device_id="boiler", planned=False)
    assert result["planned"] is False
    assert "boiler" in household.devices.unplanned
    await _command(gw, "set_device_planned", device_id="boiler", planned=True)
    assert _devices(gw)["boiler"]["planned"] is True

    result = await _command(gw, "arm_appliance", device_id="washer")
    assert result["cycle_state"] == "armed"
    assert result["latest_start"] is not None
    finish_by = (now + timedelta(hours=5)).isoformat()
    result = await _command(gw, "run_before", device_id="washer", finish_by=finish_by)
    assert result["deadline"] == finish_by
    assert household.devices.drivers["washer"].deadline == now + timedelta(hours=5)  # type: ignore[union-attr]
    result = await _command(gw, "disarm_appliance", device_id="washer")
    assert result["cycle_state"] == "idle"

    refusals = [
        ("run_before", {"device_id": "washer", "finish_by": now.isoformat()}),
        ("arm_appliance", {"device_id": "heat_pump"}),
        ("arm_appliance", {"device_id": "nobody"}),
        ("set_device_planned", {"device_id": "nobody", "planned": True}),
    ]
    codes = []
    for kind, fields in refusals:
        with pytest.raises(ProtocolError) as err:
            await _command(gw, kind, **fields)
        codes.append(err.value.code)
    assert codes == [
        "invalid_value",
        "unknown_device",
        "unknown_device",
        "unknown_device",
    ]
    assert household.devices.drivers["washer"].state.value == "idle"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "message",
    [
        {"type": "run_before", "device_id": "washer"},
        {"type": "run_before", "device_id": "washer", "finish_by": "2026-01-01T10:00"},
        {"type": "arm_appliance"},
        {"type": "set_device_planned", "device_id": "boiler", "planned": "yes"},
        {"type": "disarm_appliance", "device_id": "washer", "extra": 1},
    ],
)
def test_device_commands_are_validated(message: dict[str, Any]) -> None:
    """A missing field, a time without a zone or a wrong type: refused."""
    with pytest.raises(ProtocolError) as err:
        validate({"v": PROTOCOL_VERSION, **message})
    assert err.value.code == "invalid_message"


async def test_a_device_on_home_assistant_entities_waits_for_home_assistant(
    tmp_path: Path,
) -> None:
    """An SG-Ready pump on HA's relays: the household runs, the pump unavailable.

    (Before the entity relay the gateway could not build it and retried.)
    Until Home Assistant sends the relays' states, the pump does not answer
    and the gateway's status says Home Assistant is not connected.
    """
    config = HouseholdConfig(
        name="Relays",
        devices=(
            DeviceConfig(
                id="hp",
                kind="driver",
                name="Heat pump",
                driver={
                    "driver": "sg_ready",
                    "relay_1_entity": "switch.sg1",
                    "relay_2_entity": "switch.sg2",
                    "spec": {"rated_power_w": 2500},
                },
            ),
        ),
    )
    path = tmp_path / "household.yaml"
    write_config(path, config)
    gateway = Gateway(
        GatewayOptions(config_path=path, state_dir=tmp_path, retry_first_s=0.1),
        config,
    )
    events: list[Mapping[str, Any]] = []
    gateway.add_listener(
        lambda kind, data: events.append(data) if kind == "event" else None
    )
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(gateway.async_run(stop))
    async with asyncio.timeout(10):
        while gateway.state != GatewayState.RUNNING:  # noqa: ASYNC110 - the run loop's state
            await asyncio.sleep(0.02)
    assert gateway.error is None
    assert not any(event["event"] == "household_error" for event in events)
    household = gateway.snapshot()["household"]
    assert household is not None
    assert household["devices"][0]["available"] is False
    entities = gateway.status()["entities"]
    assert entities["host_connected"] is False
    assert entities["used"] == 2
    with pytest.raises(ProtocolError) as err:
        await _command(
            gateway,
            "set_device_override",
            device_id="hp",
            mode="block",
            duration_min=30,
        )
    assert err.value.code == "override_refused"
    assert err.value.details == {"reason": "unavailable", "device": "Heat pump"}
    stop.set()
    async with asyncio.timeout(10):
        await task


async def test_boost_and_block_through_the_gateway_and_their_refusals(
    gateway: tuple[Gateway, Household],
) -> None:
    """set_device_override: in the snapshot; a refusal carries its reason."""
    gw, household = gateway
    result = await _command(
        gw, "set_device_override", device_id="boiler", mode="boost", duration_min=45
    )
    assert result["override"]["mode"] == "boost"
    assert result["override"]["setpoint_w"] == 2000.0
    assert _devices(gw)["boiler"]["override"] == result["override"]
    assert "boiler" in household.guard.status().overrides
    await _command(gw, "set_device_override", device_id="boiler", mode="auto")
    assert _devices(gw)["boiler"]["override"] is None
    with pytest.raises(ProtocolError) as err:
        await _command(gw, "set_device_override", device_id="boiler", mode="block")
    assert (err.value.code, err.value.message) == (
        "invalid_message",
        "duration_min: required",
    )
    with pytest.raises(ProtocolError) as err:
        await _command(
            gw, "set_device_override", device_id="washer", mode="boost", duration_min=30
        )
    assert err.value.code == "override_refused"
    assert err.value.details == {"reason": "not_heating", "device": "Washing machine"}
    with pytest.raises(ProtocolError) as err:
        await _command(
            gw,
            "set_device_override",
            device_id="heat_pump",
            mode="block",
            duration_min=180,
        )
    assert err.value.code == "override_refused"
    assert err.value.details is not None
    assert err.value.details["reason"] == "block_time"
    assert err.value.details["minutes"] == "120"
