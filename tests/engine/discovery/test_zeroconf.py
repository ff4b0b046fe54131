"""Zeroconf service infos become typed candidates (no network: offline infos)."""

from __future__ import annotations

import json
import socket

from hypothesis import given, strategies as st
from zeroconf import ServiceInfo

from custom_components.stroomwijs.engine.discovery.zeroconf import (
    SERVICE_TYPES,
    DeviceKind,
    candidate_from_fields,
    candidate_from_service_info,
)


def _info(
    service_type: str,
    instance: str,
    properties: dict[bytes, bytes | None],
    address: str = "192.0.2.10",
    port: int = 80,
) -> ServiceInfo:
    return ServiceInfo(
        service_type,
        f"{instance}.{service_type}",
        addresses=[socket.inet_aton(address)],
        port=port,
        properties=properties,
        server=f"{instance}.local.",
    )


def test_the_service_types_of_the_issue_are_listed() -> None:
    """All eight service types, fully qualified."""
    assert {s.type for s in SERVICE_TYPES} == {
        "_hwenergy._tcp.local.",
        "_homewizard._tcp.local.",
        "_shelly._tcp.local.",
        "_dkapi._tcp.local.",
        "_homeconnect._tcp.local.",
        "_mieleathome._tcp.local.",
        "_openevse._tcp.local.",
        "_ship._tcp.local.",
    }


def test_homewizard_p1_and_plug_are_told_apart() -> None:
    """product_type decides: HWE-P1 is a P1 meter, HWE-SKT a plug."""
    p1 = candidate_from_service_info(
        _info(
            "_hwenergy._tcp.local.",
            "p1meter-ABCDEF",
            {
                b"api_enabled": b"1",
                b"path": b"/api/v1",
                b"serial": b"5c2fafabcdef",
                b"product_name": b"P1 meter",
                b"product_type": b"HWE-P1",
            },
        )
    )
    assert p1 is not None
    assert p1.kind is DeviceKind.P1_METER
    assert p1.unique_id == "5c2fafabcdef"
    assert p1.host == "192.0.2.10"
    plug = candidate_from_service_info(
        _info(
            "_hwenergy._tcp.local.",
            "energysocket-1",
            {b"api_enabled": b"0", b"product_type": b"HWE-SKT", b"serial": b"x1"},
        )
    )
    assert plug is not None
    assert plug.kind is DeviceKind.SMART_PLUG
    assert "enable the local API" in plug.note
    json.dumps(plug.to_dict())


def test_shelly_eebus_and_white_goods() -> None:
    """Shelly plug by its app, an EEBus heat pump, a Home Connect washer."""
    shelly = candidate_from_service_info(
        _info(
            "_shelly._tcp.local.",
            "shellyplugsg3-abc",
            {b"gen": b"3", b"app": b"PlugSG3"},
        )
    )
    assert shelly is not None
    assert shelly.kind is DeviceKind.SMART_PLUG
    ship = candidate_from_service_info(
        _info(
            "_ship._tcp.local.",
            "Vaillant-1",
            {
                b"ski": b"abcd",
                b"brand": b"Vaillant",
                b"type": b"HeatPump",
                b"model": b"aroTHERM",
            },
            port=4712,
        )
    )
    assert ship is not None
    assert ship.kind is DeviceKind.HEAT_PUMP
    assert ship.unique_id == "abcd"
    assert "later bridge" in ship.note
    washer = candidate_from_service_info(
        _info(
            "_homeconnect._tcp.local.",
            "BOSCH-WAV28",
            {b"haId": b"BOSCH-WAV28-68A40E", b"type": b"Washer", b"brand": b"BOSCH"},
        )
    )
    assert washer is not None
    assert washer.kind is DeviceKind.WHITE_GOODS
    assert washer.unique_id == "BOSCH-WAV28-68A40E"


def test_foreign_service_types_are_ignored() -> None:
    """A printer is not ours."""
    assert candidate_from_service_info(_info("_ipp._tcp.local.", "printer", {})) is None


@given(
    st.dictionaries(
        st.binary(max_size=40),
        st.one_of(st.none(), st.binary(max_size=600)),
        max_size=80,
    ),
    st.sampled_from([s.type for s in SERVICE_TYPES]),
)
def test_hostile_txt_records_never_raise(
    properties: dict[bytes, bytes | None], service_type: str
) -> None:
    """Invalid UTF-8, huge values and many keys give a bounded candidate."""
    candidate = candidate_from_service_info(_info(service_type, "x", properties))
    assert candidate is not None
    assert len(candidate.properties) <= 64
    assert all(len(v) <= 255 for v in candidate.properties.values())
    json.dumps(candidate.to_dict())


def test_home_assistants_decoded_fields_work_too() -> None:
    """HA's ZeroconfServiceInfo carries text properties and ip_addresses."""
    candidate = candidate_from_fields(
        service_type="_openevse._tcp.local.",
        name="openevse-1a2b._openevse._tcp.local.",
        addresses=["fe80::1", "192.0.2.44"],
        hostname="openevse-1a2b.local.",
        port=80,
        properties={"id": "1a2b", "type": "openevse"},
    )
    assert candidate is not None
    assert candidate.kind is DeviceKind.EV_CHARGER
    assert candidate.host == "192.0.2.44"  # link-local skipped
    assert candidate.unique_id == "1a2b"
    assert candidate.name == "openevse-1a2b"
