"""Shelly Gen2+ plugs and relays with power metering, over their local RPC API.

Shelly's second and later generations (Plus Plug S, Plug S Gen3, Plus 1PM,
Pro 1PM, 1PM Gen3/Gen4, one channel of a 2PM or Pro 4PM) answer JSON-RPC
over plain HTTP GET on port 80:

* ``GET /shelly``: ``id`` (``shellyplusplugs-<mac>``), ``mac`` (12 hex
  digits), ``model``, ``gen`` (2, 3, 4; absent on Gen1, which speaks another
  API), ``app``, ``ver``, ``auth_en``. It never needs a password.
* ``GET /rpc/Switch.GetStatus?id=N``: ``output`` (the relay), ``apower``
  (active power in W; absent on relays without metering), ``voltage``,
  ``aenergy`` and more;
* ``GET /rpc/Switch.Set?id=N&on=true|false``: switches, and answers
  ``{"was_on": ...}``.

With ``auth_en`` every RPC call needs HTTP digest authentication
(RFC 7616, SHA-256, user ``admin``, realm the device id); the plug then
needs its ``password`` (aiohttp's ``DigestAuthMiddleware`` answers the
challenge). Errors come back as HTTP 4xx/5xx with ``{"code", "message"}``.

Like the HomeWizard Energy Socket, the relay is no driver of its own: it is
the switch and power sensor that a :class:`Boiler` or a
:class:`PlugAppliance` drives through :class:`PlugEntityPort`, as
``switch.shelly_<mac>_<channel>`` and ``sensor.shelly_<mac>_<channel>_power``.
The fail-safe rules are :class:`MeteredPlug`'s: every request bounded in
time and size, the identity (its MAC and a generation of 2 or more) checked
once per connection, a power reading only when it is a finite number within
4000 W, unavailable on silence and asked again at most every
``reconnect_s``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
import re
from typing import Any, Final

import aiohttp

from .homewizard_socket import check_host, check_timing
from .metered_plug import (
    MeteredPlug,
    PlugError,
    PlugReading,
    base_url,
    bounded_request,
    finite,
    json_object,
)
from .sg_ready import Clock, utc_now

MAX_SHELLY_W: Final = 4000.0
"""The largest single channel is 16 A (3680 W at 230 V); more is not a reading."""
MAX_CHANNEL: Final = 7
USER: Final = "admin"
"""The only user of a Shelly Gen2+ device's digest authentication."""
_MAC = re.compile(r"^[0-9a-fA-F]{12}$")
_HTTP_OK: Final = 200
_HTTP_UNAUTHORIZED: Final = 401


def shelly_entity_ids(mac: str, channel: int = 0) -> tuple[str, str]:
    """Return the switch and power entity ids the port shows for a channel."""
    key = f"{mac.lower()}_{channel}"
    return f"switch.shelly_{key}", f"sensor.shelly_{key}_power"


@dataclass(frozen=True, slots=True, kw_only=True)
class ShellyConfig:
    """Where the relay is, which channel, and how patiently to talk to it."""

    host: str
    """IP address or host name (no scheme, no path)."""
    mac: str
    """The device's MAC (12 hex digits): another device at the address is refused."""
    channel: int = 0
    """The switch component (``id``): 0 on plugs and single relays."""
    port: int = 80
    password: str | None = field(default=None, repr=False)
    """Needed when the device has authentication on (``auth_en``); not in repr."""
    model: str | None = None
    """What the device said it is (``app``, e.g. ``PlusPlugS``); shown only."""
    timeout_s: float = 5.0
    reconnect_s: float = 10.0
    """After a failure, ask again at most this often."""
    settle_s: float = 1.0
    """After a switch command, power readings count from this much later."""

    def __post_init__(self) -> None:
        """Reject settings that cannot work."""
        check_host(self.host, 1)
        if not _MAC.fullmatch(self.mac):
            msg = f"mac {self.mac!r} is not 12 hexadecimal digits"
            raise ValueError(msg)
        check_host(self.host, self.port)
        if not 0 <= self.channel <= MAX_CHANNEL:
            msg = f"channel must be 0..{MAX_CHANNEL}"
            raise ValueError(msg)
        if self.password is not None and (
            not 0 < len(self.password) <= 64  # noqa: PLR2004 - no longer in the app
            or not self.password.isprintable()
        ):
            msg = "password must be 1..64 printable characters"
            raise ValueError(msg)
        if self.model is not None and not 0 < len(self.model) <= 64:  # noqa: PLR2004
            raise ValueError("model must be 1..64 characters")
        check_timing(self.timeout_s, self.reconnect_s, self.settle_s)

    @property
    def base_url(self) -> str:
        """``http://host:port`` (IPv6 addresses in brackets)."""
        return base_url(self.host, self.port)


@dataclass(frozen=True, slots=True)
class ShellyIdentity:
    """What ``/shelly`` says about a device."""

    device_id: str
    mac: str
    model: str
    generation: int
    """1 for the first generation (``gen`` absent), else the number given."""
    app: str
    auth: bool
    """Whether the RPC calls need the password."""

    @property
    def supported(self) -> bool:
        """Gen2 and later speak the RPC API the driver uses."""
        return self.generation >= 2  # noqa: PLR2004


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return value[:64] if isinstance(value, str) else ""


def identity_from(data: dict[str, Any]) -> ShellyIdentity:
    """Read ``/shelly``'s answer (Gen1: ``type`` and ``auth``; Gen2+: ``gen``)."""
    gen = data.get("gen")
    generation = gen if isinstance(gen, int) and not isinstance(gen, bool) else 1
    auth = data.get("auth_en") if generation >= 2 else data.get("auth")  # noqa: PLR2004
    return ShellyIdentity(
        device_id=_text(data, "id"),
        mac=_text(data, "mac").lower(),
        model=_text(data, "model") or _text(data, "type"),
        generation=generation,
        app=_text(data, "app"),
        auth=auth is True,
    )


class ShellyPlug(MeteredPlug):
    """One channel of a Shelly Gen2+ plug or relay with power metering."""

    def __init__(
        self,
        config: ShellyConfig,
        session: aiohttp.ClientSession | None,
        *,
        name: str,
        clock: Clock = utc_now,
    ) -> None:
        """Talk to the channel of ``config`` over ``session`` (the host's)."""
        switch, power = shelly_entity_ids(config.mac, config.channel)
        super().__init__(
            name=name,
            kind="Shelly",
            switch_entity=switch,
            power_entity=power,
            clock=clock,
        )
        self.config = config
        self._session = session
        self.identity: ShellyIdentity | None = None
        self._auth: tuple[Any, ...] = ()
        self._new_auth()

    def _new_auth(self) -> None:
        password = self.config.password
        self._auth = (
            () if password is None else (aiohttp.DigestAuthMiddleware(USER, password),)
        )

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
        self._new_auth()  # a new realm and nonce there

    # ------------------------------------------------------------ HTTP

    async def _get(self, path: str) -> dict[str, Any]:
        status, raw = await bounded_request(
            self._session,
            "GET",
            f"{self.config.base_url}{path}",
            name=self.name,
            timeout_s=self.config.timeout_s,
            middlewares=self._auth,
        )
        if status == _HTTP_UNAUTHORIZED:
            why = "a wrong password" if self.config.password else "no password"
            msg = f"{self.name}: the device has authentication on and {why} was given"
            raise PlugError(msg)
        if status != _HTTP_OK:
            detail = ""
            try:
                message = json_object(self.name, path, raw).get("message")
            except PlugError:
                message = None
            if isinstance(message, str):
                detail = f": {message[:120]}"
            method = path.split("?", maxsplit=1)[0]
            msg = f"{self.name}: HTTP {status} on {method}{detail}"
            raise PlugError(msg)
        return json_object(self.name, path, raw)

    async def async_identify(self) -> ShellyIdentity:
        """Ask ``/shelly`` who the device is (no password needed)."""
        return identity_from(await self._get("/shelly"))

    async def async_status(self) -> dict[str, Any]:
        """Return the channel's ``Switch.GetStatus`` answer as it came."""
        data = await self._get(f"/rpc/Switch.GetStatus?id={self.config.channel}")
        if not isinstance(data.get("output"), bool):
            msg = f"{self.name}: switch {self.config.channel} has no output"
            raise PlugError(msg)
        return data

    async def _async_verify(self) -> None:
        identity = await self.async_identify()
        if identity.mac != self.config.mac.lower():
            msg = (
                f"{self.name}: another device answers at {self.config.host} "
                f"(MAC {identity.mac or 'none'})"
            )
            raise PlugError(msg)
        if not identity.supported:
            msg = f"{self.name}: a first-generation Shelly is not supported"
            raise PlugError(msg)
        self.identity = identity

    async def _async_read(self) -> PlugReading:
        data = await self.async_status()
        return PlugReading(
            power_on=bool(data["output"]),
            power_w=finite(data.get("apower"), -MAX_SHELLY_W, MAX_SHELLY_W),
        )

    async def _async_write(self, *, on: bool) -> None:
        await self._get(
            f"/rpc/Switch.Set?id={self.config.channel}&on={'true' if on else 'false'}"
        )


__all__ = [
    "ShellyConfig",
    "ShellyIdentity",
    "ShellyPlug",
    "identity_from",
    "shelly_entity_ids",
]
