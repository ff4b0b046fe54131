"""A Shelly Gen2+ plug or relay's local RPC API on loopback, with a load behind it.

``ShellySim`` serves ``/shelly``, ``/rpc/Shelly.GetDeviceInfo``,
``/rpc/Switch.GetStatus`` and ``/rpc/Switch.Set`` (HTTP GET with query
parameters) like a Plus Plug S does, on 127.0.0.1 and a free port, in front
of a load of :mod:`.homewizard_socket` (a tank, a washer, a fixed load).
With a ``password`` the RPC calls need HTTP digest authentication (SHA-256,
user ``admin``, realm the device id), checked here from the RFC 7616
formula. Faults for tests: a first-generation device (``/shelly`` without
``gen``, no RPC), a relay without metering, another MAC, late or non-JSON
answers, an over-temperature error.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets

from aiohttp import web

from .homewizard_socket import Load

_PAIR = re.compile(r'(\w+)=(?:"([^"]*)"|([^\s,]+))')


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class ShellySim:
    """One Shelly Gen2+ device with one switch channel, on loopback."""

    def __init__(
        self,
        load: Load,
        *,
        mac: str = "A8032ABE54DC",
        app: str = "PlusPlugS",
        model: str = "SNPL-00112EU",
        gen: int = 2,
        power_on: bool = False,
        password: str | None = None,
        metered: bool = True,
    ) -> None:
        """Serve a device with ``mac`` in front of ``load``."""
        self.load = load
        self.mac = mac
        self.app = app
        self.model = model
        self.gen = gen
        self.power_on = power_on
        self.password = password
        self.metered = metered
        self.delay_s = 0.0
        self.garbage = False
        self.overtemp = False
        self.nonce = secrets.token_hex(16)
        self.requests: list[tuple[str, str]] = []
        self.unauthorized = 0
        self.port = 0
        self._runner: web.AppRunner | None = None
        load.set_supply(power_on)

    @property
    def device_id(self) -> str:
        """``shelly<app>-<mac>``, as the device names itself."""
        return f"shelly{self.app.lower()}-{self.mac.lower()}"

    def switch(self, *, on: bool) -> None:
        """Switch the relay (as the device's own button does)."""
        self.power_on = on
        self.load.set_supply(on)

    def _authorized(self, request: web.Request) -> bool:
        if self.password is None:
            return True
        header = request.headers.get("Authorization", "")
        if not header.startswith("Digest "):
            return False
        parts = {k: a or b for k, a, b in _PAIR.findall(header[7:])}
        if parts.get("username") != "admin" or parts.get("nonce") != self.nonce:
            return False
        if parts.get("realm") != self.device_id or parts.get("qop") != "auth":
            return False
        ha1 = _sha256(f"admin:{self.device_id}:{self.password}")
        ha2 = _sha256(f"{request.method}:{parts.get('uri', '')}")
        expected = _sha256(
            f"{ha1}:{self.nonce}:{parts.get('nc', '')}:{parts.get('cnonce', '')}"
            f":auth:{ha2}"
        )
        return secrets.compare_digest(expected, parts.get("response", ""))

    async def _answer(
        self, request: web.Request, body: object, *, rpc: bool = True, status: int = 200
    ) -> web.Response:
        self.requests.append((request.method, request.path_qs))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if rpc and self.gen < 2:  # noqa: PLR2004 - Gen1 has no RPC
            return web.Response(status=404, text="Not Found")
        if rpc and not self._authorized(request):
            self.unauthorized += 1
            return web.json_response(
                {"code": 401, "message": "unauthorized"},
                status=401,
                headers={
                    "WWW-Authenticate": (
                        f'Digest qop="auth", realm="{self.device_id}", '
                        f'nonce="{self.nonce}", algorithm=SHA-256'
                    )
                },
            )
        if self.garbage:
            return web.Response(text="<html>busy</html>", content_type="text/html")
        return web.json_response(body, status=status)

    def _info(self) -> dict[str, object]:
        if self.gen < 2:  # noqa: PLR2004
            return {
                "type": "SHPLG-S",
                "mac": self.mac,
                "auth": self.password is not None,
                "fw": "20230913-114244/v1.14.0-gcb84623",
            }
        return {
            "name": None,
            "id": self.device_id,
            "mac": self.mac,
            "slot": 0,
            "model": self.model,
            "gen": self.gen,
            "fw_id": "20241011-114455/1.4.4-g6d2a586",
            "ver": "1.4.4",
            "app": self.app,
            "auth_en": self.password is not None,
            "auth_domain": self.device_id if self.password else None,
        }

    async def _shelly(self, request: web.Request) -> web.Response:
        return await self._answer(request, self._info(), rpc=False)

    async def _device_info(self, request: web.Request) -> web.Response:
        return await self._answer(request, self._info())

    async def _channel_error(self, request: web.Request) -> web.Response | None:
        channel = request.query.get("id", "0")
        if channel != "0":
            return await self._answer(
                request,
                {"code": -105, "message": f"Argument 'id', value {channel} not found!"},
                status=500,
            )
        return None

    async def _status(self, request: web.Request) -> web.Response:
        error = await self._channel_error(request)
        if error is not None:
            return error
        power = self.load.power_w() if self.power_on else 0.0
        body: dict[str, object] = {
            "id": 0,
            "source": "http",
            "output": self.power_on,
            "temperature": {"tC": 41.2, "tF": 106.2},
        }
        if self.metered:
            body.update(
                {
                    "apower": round(power, 1),
                    "voltage": 231.4,
                    "freq": 50.0,
                    "current": round(power / 231.4, 3),
                    "aenergy": {"total": 1234.5, "by_minute": [0.0, 0.0, 0.0]},
                }
            )
        if self.overtemp:
            body["errors"] = ["overtemp"]
        return await self._answer(request, body)

    async def _set(self, request: web.Request) -> web.Response:
        error = await self._channel_error(request)
        if error is not None:
            return error
        wanted = request.query.get("on")
        if wanted not in {"true", "false"}:
            return await self._answer(
                request,
                {"code": -103, "message": "Missing required argument 'on'!"},
                status=500,
            )
        if self.overtemp and wanted == "true":
            return await self._answer(
                request,
                {"code": -103, "message": "Overtemperature protection active"},
                status=500,
            )
        answer = await self._answer(request, {"was_on": self.power_on})
        if answer.status == 200:  # noqa: PLR2004
            self.switch(on=wanted == "true")
        return answer

    async def async_start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on ``host`` (loopback) and ``port`` (0: a free one)."""
        app = web.Application()
        app.router.add_get("/shelly", self._shelly)
        app.router.add_get("/rpc/Shelly.GetDeviceInfo", self._device_info)
        app.router.add_get("/rpc/Switch.GetStatus", self._status)
        app.router.add_get("/rpc/Switch.Set", self._set)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server  # noqa: SLF001 - aiohttp exposes the bound port only here
        assert server is not None  # noqa: S101
        self.port = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
        return self.port

    async def async_stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
