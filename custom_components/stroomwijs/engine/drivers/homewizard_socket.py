"""HomeWizard Energy Socket (HWE-SKT) over its local HTTP API (v1).

The Energy Socket is a smart plug with power metering that announces itself
over zeroconf (``_hwenergy._tcp``, ``product_type=HWE-SKT`` in its TXT
record). Its local API v1 (it must be switched on in the HomeWizard Energy
app) answers plain JSON over HTTP:

* ``GET /api``: ``product_type``, ``product_name``, ``serial`` (the plug's
  MAC address), ``firmware_version``, ``api_version``;
* ``GET /api/v1/data``: ``active_power_w`` among other measurements;
* ``GET /api/v1/state``: ``power_on``, ``switch_lock``, ``brightness``;
* ``PUT /api/v1/state`` with ``{"power_on": true|false}``: switches the relay
  and answers with the fields it changed. With ``switch_lock`` on, the plug
  stays on and refuses to switch off.

This module does not drive a boiler or an appliance itself. The plug is a
switch and a power sensor, which is exactly what the :class:`Boiler`
(``control: switch`` with a ``power_entity``) and the :class:`PlugAppliance`
(``plug_entity`` and ``power_entity``) drivers use through their
``EntityPort``. :class:`SocketEntityPort` is that port: it shows the plug
as ``switch.homewizard_socket_<serial>`` and
``sensor.homewizard_socket_<serial>_power`` and hands every other entity id
(a tank temperature sensor, say) to the host's own port. The tank model,
the legionella run, the armed/running/finished cycle and the profile
learning are those drivers' own; the household builds them on this port.

Fail safe: every request is bounded by ``timeout_s``; a plug that does not
answer, answers with something that is not its JSON, answers with another
serial (its address was handed to another device) or has its API switched
off is unavailable, and its switch and power read ``unavailable``, so the
drivers and the guard treat its power as unknown. After a failure it is
asked again at most every ``reconnect_s``. Right after a switch command the
power reads ``unknown`` until a reading taken ``settle_s`` later, so a stale
0 W is never mistaken for a plug that did not follow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
import math
import re
from typing import Any, Final

import aiohttp

from .metered_plug import (
    UNAVAILABLE,
    UNKNOWN,
    MeteredPlug,
    PlugEntityPort,
    PlugError,
    PlugReading,
    PlugRefusedError,
    base_url,
    bounded_request,
    finite,
    json_object,
)
from .sg_ready import Clock, utc_now

PRODUCT_TYPE: Final = "HWE-SKT"
MAX_SOCKET_W: Final = 4000.0
"""3680 W is the plug's rating (16 A at 230 V); more is not a reading."""
_SERIAL = re.compile(r"^[0-9a-fA-F]{12}$")
_HOST = re.compile(r"^[A-Za-z0-9.\-:\[\]]{1,253}$")

SocketError = PlugError
"""The plug did not answer as its API says it does."""
SocketEntityPort = PlugEntityPort
"""The socket's switch and power in front of the host's entities."""


def socket_entity_ids(serial: str) -> tuple[str, str]:
    """Return the switch and power entity ids the port shows for a plug."""
    key = serial.lower()
    return f"switch.homewizard_socket_{key}", f"sensor.homewizard_socket_{key}_power"


def check_host(host: str, port: int) -> None:
    """ValueError unless ``host`` is an address or host name and ``port`` a port."""
    if not _HOST.fullmatch(host):
        msg = f"host {host!r} is not an address or host name"
        raise ValueError(msg)
    if not 1 <= port <= 65535:  # noqa: PLR2004
        raise ValueError("port must be 1..65535")


def check_timing(timeout_s: float, reconnect_s: float, settle_s: float) -> None:
    """ValueError unless the plug's time settings are positive and sane."""
    for name, value, high in (
        ("timeout_s", timeout_s, 60.0),
        ("reconnect_s", reconnect_s, 3600.0),
        ("settle_s", settle_s, 60.0),
    ):
        if not math.isfinite(value) or not 0 < value <= high:
            msg = f"{name} must be more than 0 and at most {high:g}"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True, kw_only=True)
class HomeWizardSocketConfig:
    """Where the plug is and how patiently to talk to it."""

    host: str
    """IP address or host name (no scheme, no path)."""
    serial: str
    """The plug's serial (12 hex digits, its MAC): a different one is refused."""
    port: int = 80
    timeout_s: float = 5.0
    reconnect_s: float = 10.0
    """After a failure, ask again at most this often."""
    settle_s: float = 1.0
    """After a switch command, power readings count from this much later."""

    def __post_init__(self) -> None:
        """Reject settings that cannot work."""
        check_host(self.host, 1)
        if not _SERIAL.fullmatch(self.serial):
            msg = f"serial {self.serial!r} is not 12 hexadecimal digits"
            raise ValueError(msg)
        check_host(self.host, self.port)
        check_timing(self.timeout_s, self.reconnect_s, self.settle_s)

    @property
    def base_url(self) -> str:
        """``http://host:port`` (IPv6 addresses in brackets)."""
        return base_url(self.host, self.port)


class HomeWizardSocket(MeteredPlug):
    """One Energy Socket: its identity, relay and power, read over HTTP."""

    def __init__(
        self,
        config: HomeWizardSocketConfig,
        session: aiohttp.ClientSession | None,
        *,
        name: str,
        clock: Clock = utc_now,
    ) -> None:
        """Talk to the plug of ``config`` over ``session`` (the host's)."""
        switch, power = socket_entity_ids(config.serial)
        super().__init__(
            name=name,
            kind="HomeWizard socket",
            switch_entity=switch,
            power_entity=power,
            clock=clock,
        )
        self.config = config
        self._session = session
        self.identity: dict[str, str] = {}

    @property
    def reconnect_s(self) -> float:
        """After a failure, ask again at most this often."""
        return self.config.reconnect_s

    @property
    def settle_s(self) -> float:
        """After a switch command, power readings count from this much later."""
        return self.config.settle_s

    def _readdress(self, host: str, port: int) -> None:
        self.config = replace(self.config, host=host, port=port)

    def _locked_message(self) -> str:
        return f"{self.name}: the switch lock is on (HomeWizard app)"

    # ------------------------------------------------------------ HTTP

    async def _request(
        self, method: str, path: str, body: Mapping[str, object] | None = None
    ) -> dict[str, Any]:
        status, raw = await bounded_request(
            self._session,
            method,
            f"{self.config.base_url}{path}",
            name=self.name,
            timeout_s=self.config.timeout_s,
            body=body,
        )
        return self._parse(path, status, raw)

    def _parse(self, path: str, status: int, raw: bytes) -> dict[str, Any]:
        """Check an answer; SocketError unless it is a JSON object with 200."""
        if status == 403:  # noqa: PLR2004 - HTTP Forbidden
            msg = f"{self.name}: the local API is switched off (HomeWizard app)"
            raise SocketError(msg)
        if status != 200:  # noqa: PLR2004 - HTTP OK
            msg = f"{self.name}: HTTP {status} on {path}"
            raise SocketError(msg)
        return json_object(self.name, path, raw)

    async def async_identify(self) -> dict[str, str]:
        """Read ``/api``; SocketError unless it is an Energy Socket."""
        data = await self._request("GET", "/api")
        identity = {
            key: str(data[key])[:64]
            for key in ("product_type", "product_name", "serial", "firmware_version")
            if isinstance(data.get(key), str | int | float)
        }
        if identity.get("product_type") != PRODUCT_TYPE:
            msg = f"{self.name}: not an Energy Socket ({identity.get('product_type')})"
            raise SocketError(msg)
        return identity

    async def _async_verify(self) -> None:
        identity = await self.async_identify()
        if identity.get("serial", "").lower() != self.config.serial.lower():
            msg = (
                f"{self.name}: another device answers at {self.config.host} "
                f"(serial {identity.get('serial')})"
            )
            raise SocketError(msg)
        self.identity = identity

    async def _async_read(self) -> PlugReading:
        state = await self._request("GET", "/api/v1/state")
        power_on = state.get("power_on")
        if not isinstance(power_on, bool):
            msg = f"{self.name}: the state has no power_on"
            raise SocketError(msg)
        lock = state.get("switch_lock")
        data = await self._request("GET", "/api/v1/data")
        return PlugReading(
            power_on=power_on,
            power_w=finite(data.get("active_power_w"), -MAX_SOCKET_W, MAX_SOCKET_W),
            switch_lock=lock if isinstance(lock, bool) else None,
        )

    async def _async_write(self, *, on: bool) -> None:
        answer = await self._request("PUT", "/api/v1/state", {"power_on": on})
        if answer.get("power_on", on) is not on:
            # It answers, but did not follow (its switch lock, set in the app
            # since the last read).
            self.switch_lock = True if not on else self.switch_lock
            msg = f"{self.name}: the plug stayed {'off' if on else 'on'}"
            raise PlugRefusedError(msg)


__all__ = [
    "PRODUCT_TYPE",
    "UNAVAILABLE",
    "UNKNOWN",
    "HomeWizardSocket",
    "HomeWizardSocketConfig",
    "SocketEntityPort",
    "SocketError",
    "socket_entity_ids",
]
