"""A loopback OpenADR 3 VTN serving Grid Aware Charging programs and events.

It speaks the REST shape a DSO's VTN speaks: OAuth2 client credentials at
``/auth/token``, bearer tokens on ``/programs``, ``/events`` (filtered by
program and by ``POWER_SERVICE_LOCATION`` target) and ``/subscriptions``,
and it POSTs notifications to subscribers' callback URLs when an event is
created, modified or deleted. The builders produce GAC-shaped objects:
``IMPORT_CAPACITY_LIMIT`` in ``KW``, one value per interval, EAN targets, and
a safe-mode event per program, in the shape of GAC 2.2 (OpenADR 3.1) unless
a builder is asked for 2.0 (3.0.1) or 2.1. They pass ElaadNL's GAC
compliance plugin (the tests check that). Tests can take the VTN down (every request
fails) and bring it back. It binds to 127.0.0.1 only.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
import itertools
import logging
import secrets
from typing import Any, Self

import aiohttp
from aiohttp import web

from custom_components.stroomwijs.engine.limits.openadr import GacVersion

_LOGGER = logging.getLogger(__name__)
_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)

type Json = dict[str, Any]
type Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SIM_GAC_VERSION: GacVersion = "2.2"
"""The GAC version the builders follow unless told otherwise (ElaadNL's latest)."""
PROGRAM_TYPES: dict[GacVersion, str] = {
    "2.0": "DSO_CPO_INTERFACE-2.0.0",
    "2.1": "DSO_CPO_INTERFACE-2.1.1",
    "2.2": "DSO_CPO_INTERFACE-2.2.0",
}
"""2.1 and 2.2 require exactly these; 2.0 takes any semantic version."""
GAC_PROGRAM_TYPE = PROGRAM_TYPES[SIM_GAC_VERSION]


def ean13(first_twelve: str) -> str:
    """Complete a 12-digit market-party code with its EAN-13 check digit."""
    if len(first_twelve) != 12 or not first_twelve.isdigit():  # noqa: PLR2004
        raise ValueError("an EAN-13 body has 12 digits")
    weighted = sum(
        int(digit) * (3 if index % 2 == 0 else 1)
        for index, digit in enumerate(reversed(first_twelve))
    )
    return first_twelve + str((10 - weighted % 10) % 10)


SIM_VEN_NAMES: dict[GacVersion, str] = {
    "2.0": "NL-SWZ",  # 2.0 and 2.1: an eMI3 party id, country + 3 characters
    "2.1": "NL-SWZ",
    "2.2": ean13("871234500001"),  # 2.2: the market party's EAN-13
}
"""The simulated VEN's name, valid under each GAC version's VEN-name rule."""


def format_duration(value: timedelta) -> str:
    """Render a duration as ISO 8601 (``PT15M``, ``P1DT2H``)."""
    seconds = int(value.total_seconds())
    days, seconds = divmod(seconds, 86_400)
    hours, seconds = divmod(seconds, 3_600)
    minutes, seconds = divmod(seconds, 60)
    text = "P" + (f"{days}D" if days else "")
    clock = (
        (f"{hours}H" if hours else "")
        + (f"{minutes}M" if minutes else "")
        + (f"{seconds}S" if seconds else "")
    )
    if clock or not days:
        text += "T" + (clock or "0S")
    return text


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _descriptor() -> Json:
    return {
        "objectType": "EVENT_PAYLOAD_DESCRIPTOR",
        "payloadType": "IMPORT_CAPACITY_LIMIT",
        "units": "KW",
        "currency": None,
    }


def gac_program(
    program_id: str = "program-1",
    *,
    name: str = "gac-congestion-area-1",
    retailer: str = "Stedin",
    now: datetime | None = None,
    gac_version: GacVersion = SIM_GAC_VERSION,
) -> Json:
    """Build a GAC program object.

    GAC 2.0 is OpenADR 3.0.1 (program fields); 2.1 and 2.2 are OpenADR 3.1,
    where retailer, program type and binding events are ``attributes``.
    """
    stamp = _iso(now or datetime.now(UTC))
    program: Json = {
        "id": program_id,
        "createdDateTime": stamp,
        "modificationDateTime": stamp,
        "objectType": "PROGRAM",
        "programName": name,
        "intervalPeriod": None,
        "programDescriptions": None,
        "payloadDescriptors": [_descriptor()],
        "targets": None,
    }
    fields: Json = {
        "programLongName": f"Grid aware charging, {name}",
        "retailerName": retailer,
        "retailerLongName": f"{retailer} Netbeheer",
        "programType": PROGRAM_TYPES[gac_version],
        "country": "NL",
        "principalSubdivision": "UT",
        "bindingEvents": True,
    }
    if gac_version == "2.0":
        return {**program, **fields, "localPrice": False}
    attribute_types = {
        "programLongName": "PROGRAM_LONG_NAME",
        "retailerName": "RETAILER_NAME",
        "retailerLongName": "RETAILER_LONG_NAME",
        "programType": "PROGRAM_TYPE",
        "country": "COUNTRY",
        "principalSubdivision": "PRINCIPAL_SUBDIVISION",
        "bindingEvents": "BINDING_EVENTS",
    }
    program["attributes"] = [
        {"type": attribute_types[key], "values": [value]}
        for key, value in fields.items()
    ]
    return program


def gac_event(
    event_id: str,
    *,
    program_id: str,
    ean: str,
    start: datetime,
    values_kw: Sequence[float],
    interval: timedelta = timedelta(minutes=15),
    name: str = "capacity-limit",
    ven_name: str | None = None,
    now: datetime | None = None,
    gac_version: GacVersion = SIM_GAC_VERSION,
) -> Json:
    """Build a GAC capacity event: one IMPORT_CAPACITY_LIMIT value per interval.

    GAC 2.0 targets the connection with one ``POWER_SERVICE_LOCATION`` and
    one ``VEN_NAME`` target; 2.1 and 2.2 (OpenADR 3.1) with plain EAN18 strings.
    """
    stamp = _iso(now or datetime.now(UTC))
    targets: list[Any]
    if gac_version == "2.0":
        targets = [
            {"type": "POWER_SERVICE_LOCATION", "values": [ean]},
            {"type": "VEN_NAME", "values": [ven_name or SIM_VEN_NAMES["2.0"]]},
        ]
    else:
        targets = [ean]
    return {
        "id": event_id,
        "createdDateTime": stamp,
        "modificationDateTime": stamp,
        "objectType": "EVENT",
        "programID": program_id,
        "eventName": name,
        "priority": None,
        "targets": targets,
        "reportDescriptors": None,
        "payloadDescriptors": [_descriptor()],
        "intervalPeriod": {
            "start": _iso(start),
            "duration": format_duration(interval),
            "randomizeStart": "PT0S",
        },
        "intervals": [
            {
                "id": index,
                "payloads": [{"type": "IMPORT_CAPACITY_LIMIT", "values": [v]}],
            }
            for index, v in enumerate(values_kw)
        ],
    }


def gac_safe_mode_event(
    event_id: str,
    *,
    program_id: str,
    ean: str,
    value_kw: float,
    gac_version: GacVersion = SIM_GAC_VERSION,
) -> Json:
    """Build the program's safe-mode event: the limit for a lost connection."""
    event = gac_event(
        event_id,
        program_id=program_id,
        ean=ean,
        start=_EPOCH,
        values_kw=[value_kw],
        name="safe-mode",
        gac_version=gac_version,
    )
    event["intervalPeriod"]["duration"] = "P9999Y"
    return event


def gac_ven(
    ven_id: str = "ven-1",
    *,
    ean: str | None = None,
    ven_name: str | None = None,
    client_id: str = "stroomwijs-ven",
    now: datetime | None = None,
    gac_version: GacVersion = SIM_GAC_VERSION,
) -> Json:
    """Build the VEN object a GAC VTN keeps for Stroomwijs."""
    stamp = _iso(now or datetime.now(UTC))
    ven: Json = {
        "id": ven_id,
        "createdDateTime": stamp,
        "modificationDateTime": stamp,
        "objectType": "VEN",
        "venName": ven_name or SIM_VEN_NAMES[gac_version],
        "attributes": None,
    }
    if gac_version != "2.0":
        ven["clientID"] = client_id  # OpenADR 3.1 ties the VEN to its client
        if ean is not None:
            ven["targets"] = [ean]
    return ven


class SimVtn:
    """OpenADR 3 VTN on 127.0.0.1 for tests, the demo and the benchmark."""

    def __init__(
        self,
        *,
        client_id: str = "stroomwijs-ven",
        client_secret: str | None = None,
        subscriptions: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """Accept one client; ``subscriptions`` False answers 404 to them."""
        self.client_id = client_id
        self.client_secret = client_secret or secrets.token_urlsafe(16)
        self.subscriptions_enabled = subscriptions
        self.programs: dict[str, Json] = {}
        self.events: dict[str, Json] = {}
        self.subscriptions: dict[str, Json] = {}
        self.down = False
        self.raw_body: str | None = None
        """Test control: answer every API request with this body (broken VTN)."""
        self.endless_pages = False
        """Test control: every page of programs is full, for ever."""
        self.requests: list[str] = []
        self.notifications_sent = 0
        self._tokens: set[str] = set()
        self._ids = itertools.count(1)
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def base_url(self) -> str:
        """Base URL of the API."""
        if self._runner is None or not self._runner.addresses:
            raise RuntimeError("the VTN is not started")
        return f"http://{self._host}:{self._runner.addresses[0][1]}/openadr3"

    async def start(self) -> None:
        """Listen on the loopback interface."""
        app = web.Application(middlewares=[self._middleware])
        prefix = "/openadr3"
        app.router.add_post(f"{prefix}/auth/token", self._token)
        app.router.add_get(f"{prefix}/programs", self._list_programs)
        app.router.add_get(f"{prefix}/events", self._list_events)
        app.router.add_post(f"{prefix}/subscriptions", self._subscribe)
        app.router.add_delete(f"{prefix}/subscriptions/{{sub_id}}", self._unsubscribe)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()
        self._session = aiohttp.ClientSession()

    async def stop(self) -> None:
        """Stop serving."""
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        """Start on entering a context."""
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        """Stop on leaving a context."""
        await self.stop()

    # ---------------------------------------------------------------- HTTP

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        self.requests.append(f"{request.method} {request.path}")
        if self.down:
            return web.json_response({"title": "VTN down"}, status=503)
        if not request.path.endswith("/auth/token"):
            auth = request.headers.get("Authorization", "")
            if not auth.startswith("Bearer ") or auth[7:] not in self._tokens:
                return web.json_response({"title": "Unauthorized"}, status=401)
            if self.raw_body is not None:
                return web.Response(text=self.raw_body, content_type="application/json")
        result: web.StreamResponse = await handler(request)
        return result

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        client_id = form.get("client_id")
        client_secret = form.get("client_secret")
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            decoded = base64.b64decode(auth[6:]).decode()
            client_id, _, client_secret = decoded.partition(":")
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        if client_id != self.client_id or client_secret != self.client_secret:
            return web.json_response({"error": "invalid_client"}, status=401)
        token = secrets.token_urlsafe(24)
        self._tokens.add(token)
        return web.json_response(
            {"access_token": token, "token_type": "Bearer", "expires_in": 3600}
        )

    def revoke_tokens(self) -> None:
        """Forget every issued token (clients must fetch a new one)."""
        self._tokens.clear()

    @staticmethod
    def _page(request: web.Request, items: list[Json]) -> list[Json]:
        skip = int(request.query.get("skip", "0"))
        limit = int(request.query.get("limit", "50"))
        return items[skip : skip + limit]

    async def _list_programs(self, request: web.Request) -> web.Response:
        if self.endless_pages:
            limit = int(request.query.get("limit", "50"))
            skip = int(request.query.get("skip", "0"))
            return web.json_response(
                [gac_program(f"p{skip + i}") for i in range(limit)]
            )
        return web.json_response(self._page(request, list(self.programs.values())))

    async def _list_events(self, request: web.Request) -> web.Response:
        program_id = request.query.get("programID")
        target_type = request.query.get("targetType")
        target_values = set(request.query.get("targetValues", "").split(",")) - {""}
        found: list[Json] = []
        for event in self.events.values():
            if program_id and event["programID"] != program_id:
                continue
            if target_type and target_values:
                targets = event.get("targets") or []
                values = {
                    value
                    for target in targets
                    if isinstance(target, dict) and target.get("type") == target_type
                    for value in target.get("values", [])
                }
                if target_type == "POWER_SERVICE_LOCATION":
                    # OpenADR 3.1 (GAC 2.1, 2.2): plain EAN18 strings.
                    values |= {t for t in targets if isinstance(t, str)}
                if not values & target_values:
                    continue
            found.append(event)
        return web.json_response(self._page(request, found))

    async def _subscribe(self, request: web.Request) -> web.Response:
        if not self.subscriptions_enabled:
            return web.json_response({"title": "Not Found"}, status=404)
        body = await request.json()
        sub_id = f"subscription-{next(self._ids)}"
        self.subscriptions[sub_id] = {
            **body,
            "id": sub_id,
            "objectType": "SUBSCRIPTION",
        }
        return web.json_response(self.subscriptions[sub_id], status=201)

    async def _unsubscribe(self, request: web.Request) -> web.Response:
        sub = self.subscriptions.pop(request.match_info["sub_id"], None)
        if sub is None:
            return web.json_response({"title": "Not Found"}, status=404)
        return web.json_response(sub)

    # ------------------------------------------------------ test controls

    def add_program(self, program: Json) -> None:
        """Publish a program."""
        self.programs[program["id"]] = program

    async def put_event(self, event: Json) -> None:
        """Create or modify an event and notify subscribers."""
        operation = "PUT" if event["id"] in self.events else "POST"
        event = {**event, "modificationDateTime": _iso(datetime.now(UTC))}
        self.events[event["id"]] = event
        await self._notify("EVENT", operation, event)

    async def delete_event(self, event_id: str) -> None:
        """Withdraw an event and notify subscribers."""
        event = self.events.pop(event_id)
        await self._notify("EVENT", "DELETE", event)

    async def _notify(self, object_type: str, operation: str, obj: Json) -> None:
        if self._session is None or self.down:
            return
        for sub in list(self.subscriptions.values()):
            if sub.get("programID") not in {None, obj.get("programID")}:
                continue
            for op in sub.get("objectOperations", []):
                if object_type not in op.get("objects", []):
                    continue
                if operation not in op.get("operations", []):
                    continue
                headers = {"Authorization": f"Bearer {op.get('bearerToken', '')}"}
                payload = {
                    "objectType": object_type,
                    "operation": operation,
                    "object": obj,
                }
                try:
                    async with self._session.post(
                        op["callbackUrl"], json=payload, headers=headers
                    ) as response:
                        if response.status < 300:  # noqa: PLR2004
                            self.notifications_sent += 1
                except aiohttp.ClientError as err:
                    _LOGGER.warning(
                        "notification to %s failed: %s", op["callbackUrl"], err
                    )
