"""The ingress status page: live values from a gateway process, proxy only.

The page's HTML and the JSON it polls, checked over HTTP; the page as a
browser shows it is tested in ``test_status_browser.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from html.parser import HTMLParser
import json
from typing import Any

import aiohttp

from custom_components.stroomwijs.engine.simulate.p1 import P1TelegramServer

from .conftest import GatewayProcess, api_client, free_port, household_document
from .test_gateway_process import charge_point


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.scripts: list[dict[str, str | None]] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(str(found["id"]))
        if tag == "script":
            self.scripts.append(found)
        if tag == "link" and found.get("href"):
            self.links.append(str(found["href"]))


async def _get(url: str) -> tuple[int, str, dict[str, str]]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text(), dict(response.headers)


async def test_the_page_shows_live_values(
    gateway_factory: Callable[..., GatewayProcess],
    p1_server: P1TelegramServer,
) -> None:
    """Limit and source, grid power, the charger, the plan, interventions."""
    ocpp_port = free_port()
    gateway = gateway_factory(
        household_document(p1_port=p1_server.port, ocpp_port=ocpp_port)
    )
    await gateway.start("--ingress-port", "0", "--ingress-allow", "127.0.0.1")
    base = f"http://127.0.0.1:{gateway.status_port}/"
    status, html, headers = await _get(base)
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert headers["Cache-Control"] == "no-store"
    page = _Ids()
    page.feed(html)
    assert {"limit", "source", "grid", "bar", "devices", "chart", "interventions"} <= (
        page.ids
    )
    assert all("src" not in script for script in page.scripts), "no external script"
    assert not page.links, "no external assets"
    assert '<meta name="viewport"' in html
    assert 'fetch("api/status"' in html, "relative, so it works under ingress"
    assert "innerHTML" not in html, "values are set as text, never as HTML"

    async with (
        charge_point(f"ws://127.0.0.1:{ocpp_port}/ocpp/"),
        api_client(gateway.url, gateway.token) as client,
    ):
        await client.request("subscribe")
        await client.snapshot_where(lambda s: s["gateway"]["state"] == "running")
        reply = await client.request(
            "set_manual_limit", import_w=5000, duration_min=30, label="window"
        )
        assert reply["type"] == "result", reply
        data: dict[str, Any] = {}
        async with asyncio.timeout(30):
            while True:
                status, text, _ = await _get(base + "api/status")
                assert status == 200
                data = json.loads(text)
                household = data["household"]
                if (
                    household is not None
                    and household["grid_w"] is not None
                    and household["devices"][0]["available"]
                    and household["devices"][0]["state"] is not None
                    and household["plan"]
                    and "car" in household["plan"][0]
                    and household["interventions"]
                ):
                    break
                await asyncio.sleep(0.5)
    household = data["household"]
    assert data["gateway"]["state"] == "running"
    assert household["limit_w"] == 5000.0
    assert household["limit_source"] == "manual:window"
    assert household["grid_w"] == 1500.0
    device = household["devices"][0]
    assert device["name"] == "Car"
    assert device["state"] in {"charging", "connected", "suspended_evse"}
    assert len(household["plan"]) == 32
    assert {"start", "grid_kw", "price", "car"} <= set(household["plan"][0])
    assert household["plan_devices"] == ["car"]
    assert household["interventions"][0]["kind"]
    assert await gateway.terminate() == 0


async def test_only_the_ingress_proxy_is_answered(
    gateway_factory: Callable[..., GatewayProcess],
) -> None:
    """By default only the Supervisor's proxy (172.30.32.2) gets the page."""
    gateway = gateway_factory(household_document(p1_port=None, ocpp_port=free_port()))
    await gateway.start("--ingress-port", "0")
    for path in ("", "api/status"):
        status, body, _ = await _get(f"http://127.0.0.1:{gateway.status_port}/{path}")
        assert status == 403
        assert body == "forbidden"
    assert "Status page request from 127.0.0.1 refused" in gateway.log_text()
    assert await gateway.terminate() == 0
