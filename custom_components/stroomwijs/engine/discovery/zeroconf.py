"""Zeroconf (mDNS) service types of energy devices, and their candidates.

The engine never browses the network itself inside Home Assistant: HA's
shared zeroconf instance browses :data:`SERVICE_TYPES` (the integration's
manifest lists them) and hands each found service to
:func:`candidate_from_service_info`, which turns it into a typed
:class:`DiscoveryCandidate` for the confirm step. The function reads only
the attributes every ``zeroconf.ServiceInfo`` (and HA's
``ZeroconfServiceInfo``) has, through :class:`ServiceInfoLike`, and treats
TXT records as untrusted: bytes that are not UTF-8, oversized values and
missing fields never raise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
import ipaddress
from typing import Any, Protocol

MAX_TXT_VALUE = 255
MAX_TXT_KEYS = 64
MAX_PORT = 65535


class DeviceKind(StrEnum):
    """What a candidate is, as far as discovery can tell."""

    P1_METER = "p1_meter"
    SMART_PLUG = "smart_plug"
    KWH_METER = "kwh_meter"
    RELAY = "relay"
    HEAT_PUMP = "heat_pump"
    WHITE_GOODS = "white_goods"
    EV_CHARGER = "ev_charger"
    EEBUS = "eebus"
    BATTERY = "battery"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class ServiceType:
    """One zeroconf service type Stroomwijs listens for."""

    type: str
    brand: str
    kind: DeviceKind
    note: str


SERVICE_TYPES: tuple[ServiceType, ...] = (
    ServiceType(
        "_hwenergy._tcp.local.",
        "HomeWizard",
        DeviceKind.P1_METER,
        "HomeWizard Energy local API v1 (P1 meter, plugs, kWh meters)",
    ),
    ServiceType(
        "_homewizard._tcp.local.",
        "HomeWizard",
        DeviceKind.P1_METER,
        "HomeWizard Energy local API v2",
    ),
    ServiceType(
        "_shelly._tcp.local.",
        "Shelly",
        DeviceKind.RELAY,
        "Shelly Gen2+ (plugs, relays, energy meters)",
    ),
    ServiceType(
        "_dkapi._tcp.local.",
        "Daikin",
        DeviceKind.HEAT_PUMP,
        "Daikin local API (air-to-air and Altherma adapters)",
    ),
    ServiceType(
        "_homeconnect._tcp.local.",
        "Home Connect",
        DeviceKind.WHITE_GOODS,
        "Home Connect appliances (Bosch, Siemens, Neff, Gaggenau)",
    ),
    ServiceType(
        "_mieleathome._tcp.local.",
        "Miele",
        DeviceKind.WHITE_GOODS,
        "Miele@home appliances",
    ),
    ServiceType(
        "_openevse._tcp.local.",
        "OpenEVSE",
        DeviceKind.EV_CHARGER,
        "OpenEVSE / EmonEVSE chargers",
    ),
    ServiceType(
        "_ship._tcp.local.",
        "EEBus",
        DeviceKind.EEBUS,
        "EEBus SHIP node (heat pumps, wallboxes); recorded for a later bridge",
    ),
)
_BY_TYPE = {s.type: s for s in SERVICE_TYPES}

HOMEWIZARD_KINDS: dict[str, DeviceKind] = {
    "HWE-P1": DeviceKind.P1_METER,
    "HWE-SKT": DeviceKind.SMART_PLUG,
    "HWE-KWH1": DeviceKind.KWH_METER,
    "HWE-KWH3": DeviceKind.KWH_METER,
    "SDM230-WIFI": DeviceKind.KWH_METER,
    "SDM630-WIFI": DeviceKind.KWH_METER,
    "HWE-BAT": DeviceKind.BATTERY,
}


class ServiceInfoLike(Protocol):
    """The attributes of ``zeroconf.ServiceInfo`` that discovery reads."""

    @property
    def type(self) -> str:
        """Service type, e.g. ``_shelly._tcp.local.``."""
        ...

    @property
    def name(self) -> str:
        """Full service name."""
        ...

    @property
    def port(self) -> int | None:
        """Port of the service."""
        ...

    @property
    def server(self) -> str | None:
        """Host name."""
        ...

    @property
    def properties(self) -> Mapping[bytes, bytes | None]:
        """Raw TXT records."""
        ...

    def parsed_addresses(self) -> list[str]:
        """Addresses as text."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscoveryCandidate:
    """A device found on the network, waiting for the user's confirmation."""

    source: str
    service_type: str
    kind: DeviceKind
    brand: str
    name: str
    host: str
    port: int | None
    unique_id: str | None
    model: str | None = None
    properties: Mapping[str, str] = field(default_factory=dict)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for the CLI and logs)."""
        return {
            "source": self.source,
            "service_type": self.service_type,
            "kind": self.kind.value,
            "brand": self.brand,
            "name": self.name,
            "host": self.host,
            "port": self.port,
            "unique_id": self.unique_id,
            "model": self.model,
            "properties": dict(self.properties),
            "note": self.note,
        }


def decode_properties(raw: Mapping[Any, Any]) -> dict[str, str]:
    """TXT records as text: undecodable bytes replaced, sizes bounded."""
    out: dict[str, str] = {}
    for key, value in list(raw.items())[:MAX_TXT_KEYS]:
        if not isinstance(key, bytes | str):
            continue
        name = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
        name = name.strip().lower()[:64]
        if not name:
            continue
        if value is None:
            text = ""
        elif isinstance(value, bytes):
            text = value.decode("utf-8", "replace")
        else:
            text = str(value)
        out[name] = text[:MAX_TXT_VALUE]
    return out


def _instance(name: str, service_type: str) -> str:
    suffix = "." + service_type
    label = name.removesuffix(suffix)
    return label.replace("\\032", " ").strip()[:128] or "unnamed"


def _host(addresses: Sequence[str], server: str | None) -> str | None:
    usable = []
    for text in addresses:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            continue
        if address.is_multicast or address.is_unspecified or address.is_link_local:
            continue
        usable.append(address)
    if usable:
        usable.sort(key=lambda a: a.version)  # IPv4 first, like HA
        return str(usable[0])
    return server.rstrip(".") if server else None


@dataclass(slots=True)
class _Details:
    kind: DeviceKind
    model: str | None
    unique: str | None
    note: str


def _homewizard(service: ServiceType, props: dict[str, str], name: str) -> _Details:
    del name
    product = props.get("product_type", "")
    note = service.note
    if service.type.startswith("_hwenergy") and props.get("api_enabled") == "0":
        note += "; enable the local API in the HomeWizard app"
    return _Details(
        kind=HOMEWIZARD_KINDS.get(product.upper(), DeviceKind.UNKNOWN),
        model=props.get("product_name") or product or None,
        unique=props.get("serial") or props.get("id") or None,
        note=note,
    )


def _shelly(service: ServiceType, props: dict[str, str], name: str) -> _Details:
    model = props.get("app") or None
    app = (model or "").lower()
    kind = service.kind
    if "plug" in app:
        kind = DeviceKind.SMART_PLUG
    elif "em" in app:
        kind = DeviceKind.KWH_METER
    return _Details(kind=kind, model=model, unique=name.lower(), note=service.note)


def _eebus(service: ServiceType, props: dict[str, str], name: str) -> _Details:
    del name
    brand = props.get("brand")
    device_type = props.get("type", "").lower()
    kind = service.kind
    if "heatpump" in device_type:
        kind = DeviceKind.HEAT_PUMP
    elif "charg" in device_type or "evse" in device_type:
        kind = DeviceKind.EV_CHARGER
    by = f" by {brand}" if brand else ""
    return _Details(
        kind=kind,
        model=props.get("model") or None,
        unique=props.get("ski") or props.get("id") or None,
        note=f"EEBus node{by}: recorded for a later bridge",
    )


def _home_connect(service: ServiceType, props: dict[str, str], name: str) -> _Details:
    del name
    return _Details(
        kind=service.kind,
        model=props.get("type") or props.get("vib") or None,
        unique=props.get("haid") or None,
        note=service.note,
    )


def _generic(service: ServiceType, props: dict[str, str], name: str) -> _Details:
    del name
    return _Details(
        kind=service.kind,
        model=props.get("model") or props.get("type") or None,
        unique=props.get("id") or props.get("mac") or props.get("serial") or None,
        note=service.note,
    )


_PARSERS = {
    "HomeWizard": _homewizard,
    "Shelly": _shelly,
    "EEBus": _eebus,
    "Home Connect": _home_connect,
}


def candidate_from_service_info(info: ServiceInfoLike) -> DiscoveryCandidate | None:
    """Turn one resolved ``zeroconf.ServiceInfo`` into a candidate (None: not ours)."""
    return candidate_from_fields(
        service_type=info.type,
        name=info.name,
        addresses=info.parsed_addresses(),
        hostname=info.server,
        port=info.port,
        properties=info.properties or {},
    )


def candidate_from_fields(
    *,
    service_type: str,
    name: str,
    addresses: Sequence[str],
    hostname: str | None,
    port: int | None,
    properties: Mapping[Any, Any],
) -> DiscoveryCandidate | None:
    """Build a candidate from a service's fields (None: not a type of ours).

    Home Assistant hands integrations a ``ZeroconfServiceInfo``; pass its
    ``type``, ``name``, ``ip_addresses`` (as text), ``hostname``, ``port``
    and ``properties`` (already decoded to text there; bytes work too).
    """
    service = _BY_TYPE.get(service_type)
    if service is None:
        return None
    host = _host(addresses, hostname)
    if host is None:
        return None
    props = decode_properties(properties)
    label = _instance(name, service_type)
    details = _PARSERS.get(service.brand, _generic)(service, props, label)
    return DiscoveryCandidate(
        source="zeroconf",
        service_type=service.type,
        kind=details.kind,
        brand=service.brand,
        name=label,
        host=host,
        port=port if isinstance(port, int) and 0 < port <= MAX_PORT else None,
        unique_id=details.unique,
        model=details.model,
        properties=props,
        note=details.note,
    )
