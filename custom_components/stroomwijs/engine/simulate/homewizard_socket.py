"""A HomeWizard Energy Socket's local API v1 on loopback, with a load behind it.

``HomeWizardSocketSim`` serves ``/api``, ``/api/v1/data`` and
``/api/v1/state`` (GET and PUT) like the plug does, on 127.0.0.1 and a
free port. What the plug feeds is a load: a boiler's tank
(:func:`tank_load`), a washing machine (:func:`washer_load`) or any pair
of "power now" and "supply switched" callables. Faults for tests: the
local API switched off (403), the switch lock, another serial, answers
that are late or not JSON.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
import json
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from .boiler import TankSim
    from .washer import WashingMachineSim

PRODUCT_TYPE = "HWE-SKT"


@dataclass(slots=True)
class Load:
    """What the plug supplies: its power now, and the supply switch."""

    power_w: Callable[[], float]
    set_supply: Callable[[bool], None]


def tank_load(tank: TankSim) -> Load:
    """Put a boiler element and its tank behind the plug."""

    def _supply(on: bool) -> None:  # noqa: FBT001
        tank.advance()
        tank.supply_on = on

    def _power() -> float:
        tank.advance()
        return tank.power_w

    return Load(power_w=_power, set_supply=_supply)


def washer_load(washer: WashingMachineSim) -> Load:
    """Put a washing machine behind the plug."""

    def _power() -> float:
        washer.advance()
        return washer.power_w

    return Load(power_w=_power, set_supply=lambda on: washer.set_powered(powered=on))


def fixed_load(watts: float) -> Load:
    """Put a resistive load of ``watts`` behind the plug."""
    state = {"on": False}

    def _supply(on: bool) -> None:  # noqa: FBT001
        state["on"] = on

    return Load(power_w=lambda: watts if state["on"] else 0.0, set_supply=_supply)


class HomeWizardSocketSim:
    """The plug's HTTP API on loopback."""

    def __init__(
        self,
        load: Load,
        *,
        serial: str = "5c2fafabc123",
        product_name: str = "Energy Socket",
        power_on: bool = False,
    ) -> None:
        """Serve a plug with ``serial`` in front of ``load``."""
        self.load = load
        self.serial = serial
        self.product_name = product_name
        self.power_on = power_on
        self.switch_lock = False
        self.api_enabled = True
        self.delay_s = 0.0
        self.garbage = False
        self.requests: list[tuple[str, str]] = []
        self.port = 0
        self._runner: web.AppRunner | None = None
        load.set_supply(power_on)

    def switch(self, *, on: bool) -> None:
        """Switch the relay (as the plug's own button does)."""
        self.power_on = on
        self.load.set_supply(on)

    async def _answer(self, request: web.Request, body: object) -> web.Response:
        self.requests.append((request.method, request.path))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if not self.api_enabled:
            return web.json_response(
                {"error": {"id": 202, "description": "API not enabled"}}, status=403
            )
        if self.garbage:
            return web.Response(text="<html>busy</html>", content_type="text/html")
        return web.json_response(body)

    async def _api(self, request: web.Request) -> web.Response:
        return await self._answer(
            request,
            {
                "product_type": PRODUCT_TYPE,
                "product_name": self.product_name,
                "serial": self.serial,
                "firmware_version": "4.19",
                "api_version": "v1",
            },
        )

    async def _data(self, request: web.Request) -> web.Response:
        power = self.load.power_w() if self.power_on else 0.0
        return await self._answer(
            request,
            {
                "wifi_ssid": "loopback",
                "wifi_strength": 100,
                "total_power_import_kwh": 12.5,
                "total_power_export_kwh": 0,
                "active_power_w": round(power, 3),
                "active_power_l1_w": round(power, 3),
            },
        )

    def _state_body(self) -> dict[str, object]:
        return {
            "power_on": self.power_on,
            "switch_lock": self.switch_lock,
            "brightness": 255,
        }

    async def _state(self, request: web.Request) -> web.Response:
        return await self._answer(request, self._state_body())

    async def _put_state(self, request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.text())
        except ValueError:
            return web.json_response(
                {"error": {"id": 2, "description": "bad"}}, status=400
            )
        answer: dict[str, object] = {}
        if isinstance(body, dict) and isinstance(body.get("power_on"), bool):
            wanted = bool(body["power_on"])
            if not (self.switch_lock and not wanted):
                self.switch(on=wanted)
            answer["power_on"] = self.power_on
        return await self._answer(request, answer)

    async def async_start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on ``host`` (loopback) and ``port`` (0: a free one)."""
        app = web.Application()
        app.router.add_get("/api", self._api)
        app.router.add_get("/api/v1/data", self._data)
        app.router.add_get("/api/v1/state", self._state)
        app.router.add_put("/api/v1/state", self._put_state)
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
