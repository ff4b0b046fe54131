"""The status page, served through Home Assistant's ingress.

``GET /`` is one self-contained HTML page (no external assets, usable on a
phone) that polls ``api/status`` (a relative URL, so it works under the
ingress path) every two seconds and shows: the current limit and its
source, grid power against the limit, each device's state (chargers, heat
pumps, boilers, appliances), the plan for the coming hours as an SVG chart,
and the guard's recent interventions.

The page is read-only. Home Assistant authenticates the user before its
ingress proxy forwards a request, so the page only answers the proxy's
address (``allowed``; the Supervisor's is 172.30.32.2) and refuses every
other peer with 403.
"""

from __future__ import annotations

from collections.abc import Iterable
import ipaddress
import logging
from typing import Any, Final

from aiohttp import web

from custom_components.stroomwijs.engine.drivers.factory import Driver
from custom_components.stroomwijs.engine.household import Household

from .service import Gateway
from .snapshot import clean

_LOGGER = logging.getLogger(__name__)

SUPERVISOR_INGRESS: Final = "172.30.32.2"
PLAN_SLOTS: Final = 32
"""Eight hours of quarter-hours on the chart."""
INTERVENTIONS: Final = 15
RUNNING_W: Final = 20.0
"""A driver device drawing more than this shows as running."""


def status(gateway: Gateway) -> dict[str, Any]:
    """Return what the page shows, as JSON-ready data."""
    household = gateway.household
    data: dict[str, Any] = {"gateway": gateway.status(), "household": None}
    if household is None:
        return data
    limits = household.limits
    guard = household.guard.status()
    reading = household.meter.last_reading if household.meter is not None else None
    data["household"] = clean(
        {
            "name": household.config.name,
            "limit_w": limits.import_limit_w,
            "limit_source": limits.import_source,
            "fuse_w": limits.grid.max_power_w,
            "grid_w": None if reading is None else reading.net_power_w,
            "measured_at": None if reading is None else reading.timestamp,
            "data_lost": guard.data_lost,
            "limit_holdable": guard.limit_holdable,
            "plan_state": household.plan_status.state,
            "plan_reasons": household.plan_status.reasons,
            "mode": household.mode,
            "devices": [
                *(
                    {
                        "name": handle.title,
                        "state": handle.state_name,
                        "available": handle.device.available,
                        "power_w": handle.device.power_w,
                        "soc_pct": handle.soc_pct,
                        "temperature_c": None,
                        "limit_w": handle.limit_w,
                        "planned_w": household.planned_power_w(handle.device_id),
                    }
                    for handle in household.chargers.handles.values()
                ),
                *(
                    _driver(household, device_id, driver)
                    for device_id, driver in household.devices.drivers.items()
                ),
            ],
            "plan": household.plan_rows(PLAN_SLOTS),
            "plan_devices": [
                *household.chargers.handles,
                *household.devices.drivers,
            ],
            "interventions": [
                {
                    "at": item.timestamp,
                    "kind": item.kind,
                    "device": item.device_id,
                    "to_w": item.to_w,
                    "reason": item.reason,
                }
                for item in reversed(household.guard.log[-INTERVENTIONS:])
            ],
        }
    )
    return data


def _driver(household: Household, device_id: str, driver: Driver) -> dict[str, Any]:
    """Return a heat pump, boiler or appliance as a row of the device table."""
    power = driver.power_w
    switched: bool | None = getattr(driver, "is_on", None)
    if not driver.available:
        state = None
    elif switched is not None:
        state = "on" if switched else "off"
    elif power is not None:
        state = "running" if power > RUNNING_W else "idle"
    else:
        state = None
    temperature: float | None = getattr(driver, "temperature_c", None)
    return {
        "name": driver.name,
        "state": state,
        "available": driver.available,
        "power_w": power,
        "soc_pct": None,
        "temperature_c": temperature,
        "limit_w": None,
        "planned_w": household.planned_power_w(device_id),
    }


class StatusPage:
    """Serves the status page on the ingress port."""

    def __init__(
        self,
        gateway: Gateway,
        *,
        host: str,
        port: int,
        allowed: Iterable[str] = (SUPERVISOR_INGRESS,),
    ) -> None:
        """Serve ``gateway``'s status to the ``allowed`` peers only."""
        self.gateway = gateway
        self.host = host
        self.port = port
        self.allowed = {ipaddress.ip_address(a) for a in allowed}
        self._runner: web.AppRunner | None = None

    async def async_start(self) -> None:
        """Listen (raises OSError when the port is taken)."""
        app = web.Application(middlewares=[self._only_the_proxy])
        app.router.add_get("/", self._page)
        app.router.add_get("/api/status", self._status)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        server = site._server  # noqa: SLF001 - the bound port, for port 0
        if server is not None and getattr(server, "sockets", None):
            self.port = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]

    async def async_stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @web.middleware
    async def _only_the_proxy(
        self,
        request: web.Request,
        handler: Any,  # noqa: ANN401
    ) -> web.StreamResponse:
        try:
            peer = ipaddress.ip_address(request.remote or "")
        except ValueError:
            peer = None
        if peer not in self.allowed:
            _LOGGER.warning("Status page request from %s refused", request.remote)
            raise web.HTTPForbidden(text="forbidden")
        response: web.StreamResponse = await handler(request)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    async def _page(self, _request: web.Request) -> web.Response:
        from .status_html import PAGE  # noqa: PLC0415

        return web.Response(
            text=PAGE,
            content_type="text/html",
            headers={
                "Content-Security-Policy": (
                    "default-src 'none'; script-src 'unsafe-inline'; "
                    "style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'"
                )
            },
        )

    async def _status(self, _request: web.Request) -> web.Response:
        return web.json_response(status(self.gateway))
