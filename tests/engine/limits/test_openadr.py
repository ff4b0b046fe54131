"""OpenADR 3 VEN (GAC profile) against a loopback VTN with OAuth2."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from copy import deepcopy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import json
import logging
import secrets
from typing import Any, Literal

import aiohttp
from aiohttp import web
from openadr3_client.oadr301.models.event.event import ExistingEvent as Event301
from openadr3_client.oadr301.models.program.program import (
    ExistingProgram as Program301,
)
from openadr3_client.oadr301.models.ven.ven import ExistingVen as Ven301
from openadr3_client.oadr310.models.event.event import ExistingEvent as Event310
from openadr3_client.oadr310.models.program.program import (
    ExistingProgram as Program310,
)
from openadr3_client.oadr310.models.ven.ven import ExistingVen as Ven310
from openadr3_client_gac_compliance.gac20.plugin import Gac20ValidatorPlugin
from openadr3_client_gac_compliance.gac21.plugin import Gac21ValidatorPlugin
from openadr3_client_gac_compliance.gac22.plugin import Gac22ValidatorPlugin
import pytest

from custom_components.stroomwijs.engine.limits import LimitStack
from custom_components.stroomwijs.engine.limits.base import DEFAULT_FAILSAFE_IMPORT_W
from custom_components.stroomwijs.engine.limits.openadr import (
    GAC_PROGRAM_TYPES,
    Event,
    OpenAdrAuthError,
    OpenAdrClient,
    OpenAdrError,
    OpenAdrFormatError,
    OpenAdrVen,
    Program,
    VenWebhook,
    event_gac_violations,
    gac_version_of,
    parse_duration,
    program_gac_violations,
)
from custom_components.stroomwijs.engine.simulate.vtn import (
    SIM_VEN_NAMES,
    Json,
    SimVtn,
    format_duration,
    gac_event,
    gac_program,
    gac_safe_mode_event,
    gac_ven,
)

EAN = "871685900012345678"
OTHER_EAN = "871685900099999999"
T0 = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    """A clock the test moves by hand."""

    now: datetime = T0

    def __call__(self) -> datetime:
        """Return the current fake time."""
        return self.now


@dataclass
class Setup:
    """A running VTN, a session and a VEN with a fake clock."""

    vtn: SimVtn
    session: aiohttp.ClientSession
    client: OpenAdrClient
    ven: OpenAdrVen
    clock: FakeClock


@pytest.fixture
async def setup() -> AsyncIterator[Setup]:
    """Start a VTN with one GAC program and its safe-mode event."""
    async with SimVtn() as vtn, aiohttp.ClientSession() as session:
        vtn.add_program(gac_program("program-1"))
        await vtn.put_event(
            gac_safe_mode_event("safe-1", program_id="program-1", ean=EAN, value_kw=3.5)
        )
        client = OpenAdrClient(
            session,
            vtn.base_url,
            client_id=vtn.client_id,
            client_secret=vtn.client_secret,
        )
        clock = FakeClock()
        ven = OpenAdrVen(client, ean=EAN, clock=clock, timeout=timedelta(minutes=15))
        yield Setup(vtn, session, client, ven, clock)


async def test_event_arrives_by_polling_and_limits_each_interval(setup: Setup) -> None:
    """Three 15-minute intervals at 8, 6 and 7 kW become three limits."""
    await setup.vtn.put_event(
        gac_event(
            "event-1",
            program_id="program-1",
            ean=EAN,
            start=T0 + timedelta(hours=1),
            values_kw=[8.0, 6.0, 7.0],
        )
    )
    assert await setup.ven.async_poll()
    stack = LimitStack([setup.ven])
    assert stack.effective(T0).import_w is None
    at = T0 + timedelta(hours=1, minutes=20)
    effective = stack.effective(at)
    assert effective.import_w == 6_000
    assert effective.import_source == "openadr:capacity-limit"
    assert effective.until == T0 + timedelta(hours=1, minutes=30)
    assert stack.effective(T0 + timedelta(hours=1, minutes=45)).import_w is None
    upcoming = stack.upcoming(T0, timedelta(hours=2))
    assert [limit.import_w for limit in upcoming] == [8_000, 6_000, 7_000]
    # The safe-mode event is known but not applied while the VTN answers.
    assert setup.ven.failsafe_import_w == 3_500
    assert setup.ven.problem(T0) is None


async def test_event_for_another_ean_is_ignored(setup: Setup) -> None:
    """Events that target another connection do not limit this one."""
    await setup.vtn.put_event(
        gac_event(
            "event-x",
            program_id="program-1",
            ean=OTHER_EAN,
            start=T0,
            values_kw=[1.0],
        )
    )
    assert await setup.ven.async_poll()
    assert "event-x" not in setup.ven.status.events
    assert LimitStack([setup.ven]).effective(T0).import_w is None


async def test_modified_event_reaches_the_ven_through_its_subscription(
    setup: Setup,
) -> None:
    """A subscription delivers the change at once, before the next poll."""
    webhook = VenWebhook(setup.ven)
    await webhook.async_start()
    try:
        assert await setup.ven.async_poll()
        assert await setup.ven.async_subscribe(webhook.url)
        assert setup.vtn.subscriptions
        event = gac_event(
            "event-1",
            program_id="program-1",
            ean=EAN,
            start=T0,
            values_kw=[8.0, 8.0],
        )
        await setup.vtn.put_event(event)
        stack = LimitStack([setup.ven])
        assert stack.effective(T0 + timedelta(minutes=1)).import_w == 8_000
        modified = gac_event(
            "event-1",
            program_id="program-1",
            ean=EAN,
            start=T0,
            values_kw=[5.0, 4.0],
        )
        await setup.vtn.put_event(modified)
        assert stack.effective(T0 + timedelta(minutes=1)).import_w == 5_000
        assert stack.effective(T0 + timedelta(minutes=16)).import_w == 4_000
        await setup.vtn.delete_event("event-1")
        assert stack.effective(T0 + timedelta(minutes=1)).import_w is None
        assert setup.vtn.notifications_sent >= 3
    finally:
        await webhook.async_stop()


async def test_webhook_rejects_notifications_without_the_token(setup: Setup) -> None:
    """Only the VTN, holding the bearer token, can push changes."""
    webhook = VenWebhook(setup.ven)
    await webhook.async_start()
    try:
        async with setup.session.post(webhook.url, json={}) as response:
            assert response.status == 401
    finally:
        await webhook.async_stop()


async def test_vtn_without_subscriptions_falls_back_to_polling(setup: Setup) -> None:
    """A 404 on /subscriptions means polling only, without an error."""
    setup.vtn.subscriptions_enabled = False
    assert await setup.ven.async_poll()
    assert not await setup.ven.async_subscribe("http://127.0.0.1:9/notifications")
    await setup.vtn.put_event(
        gac_event("e", program_id="program-1", ean=EAN, start=T0, values_kw=[6.0])
    )
    assert await setup.ven.async_poll()
    assert LimitStack([setup.ven]).effective(T0).import_w == 6_000


async def test_vtn_down_applies_the_safe_mode_limit_after_the_timeout(
    setup: Setup,
) -> None:
    """VTN silent: nothing changes before the timeout, safe mode after it."""
    assert await setup.ven.async_poll()
    stack = LimitStack([setup.ven])
    assert stack.effective(T0).import_w is None
    setup.vtn.down = True
    setup.clock.now = T0 + timedelta(minutes=10)
    assert not await setup.ven.async_poll()
    assert "503" in (setup.ven.status.last_error or "")
    assert stack.effective(setup.clock.now).import_w is None
    setup.clock.now = T0 + timedelta(minutes=16)
    assert not await setup.ven.async_poll()
    effective = stack.effective(setup.clock.now)
    assert effective.import_w == 3_500  # the program's safe-mode value
    assert effective.import_source == "openadr:failsafe"
    assert effective.failsafe
    assert effective.repairs_needed
    assert "VTN" in effective.problems[0]
    # The VTN comes back: the failsafe is held for 2 h from its start.
    setup.vtn.down = False
    setup.clock.now = T0 + timedelta(minutes=30)
    assert await setup.ven.async_poll()
    held = stack.effective(setup.clock.now)
    assert held.import_w == 3_500
    assert not held.repairs_needed
    for minutes in range(40, 150, 10):
        setup.clock.now = T0 + timedelta(minutes=minutes)
        assert await setup.ven.async_poll()
    assert stack.effective(setup.clock.now).import_w is None


async def test_vtn_unreachable_uses_the_configured_failsafe_without_safe_mode(
    setup: Setup,
) -> None:
    """A VEN that never reached its VTN applies its own failsafe limit."""
    await setup.vtn.stop()
    ven = OpenAdrVen(
        setup.client,
        ean=EAN,
        clock=setup.clock,
        timeout=timedelta(minutes=5),
        failsafe_import_w=4_000,
    )
    assert not await ven.async_poll()
    setup.clock.now = T0 + timedelta(minutes=6)
    effective = LimitStack([ven]).effective(setup.clock.now)
    assert effective.import_w == 4_000
    assert effective.problems


async def test_wrong_client_secret_is_an_auth_error(setup: Setup) -> None:
    """OAuth2 client credentials are checked by the token endpoint."""
    client = OpenAdrClient(
        setup.session,
        setup.vtn.base_url,
        client_id=setup.vtn.client_id,
        client_secret="wrong",  # noqa: S106 - a deliberately wrong secret
    )
    with pytest.raises(OpenAdrAuthError):
        await client.async_get_programs()


async def test_expired_token_is_renewed_transparently(setup: Setup) -> None:
    """A 401 with a cached token fetches a new one and retries once."""
    programs = await setup.client.async_get_programs()
    assert [p.program_name for p in programs] == ["gac-congestion-area-1"]
    setup.vtn.revoke_tokens()
    assert await setup.client.async_get_programs()
    assert setup.vtn.requests.count("POST /openadr3/auth/token") == 2


async def test_program_filter_follows_only_named_programs(setup: Setup) -> None:
    """A VEN configured for one program ignores another program's events."""
    setup.vtn.add_program(gac_program("program-2", name="other-area"))
    await setup.vtn.put_event(
        gac_event("e2", program_id="program-2", ean=EAN, start=T0, values_kw=[2.0])
    )
    ven = OpenAdrVen(
        setup.client, ean=EAN, clock=setup.clock, programs=["gac-congestion-area-1"]
    )
    assert await ven.async_poll()
    assert "e2" not in ven.status.events


def test_program_parses_gac_fields_from_3_0_and_3_1_shapes() -> None:
    """Program fields as 3.0.1 keys and as 3.1 attributes."""
    program = Program.from_json(gac_program("p", gac_version="2.0"))
    assert program.binding_events
    assert program.program_type == "DSO_CPO_INTERFACE-2.0.0"
    assert program.openadr_version == "3.0.1"
    v22 = Program.from_json(gac_program("p"))
    assert v22.openadr_version == "3.1"
    assert v22.program_type == "DSO_CPO_INTERFACE-2.2.0"
    assert v22.retailer_name == "Stedin"
    assert v22.binding_events
    v31 = Program.from_json(
        {
            "id": "p",
            "programName": "n",
            "attributes": [
                {"type": "RETAILER_NAME", "values": ["Liander"]},
                {"type": "BINDING_EVENTS", "values": [True]},
            ],
        }
    )
    assert v31.retailer_name == "Liander"
    assert v31.binding_events


def test_event_with_3_1_string_targets_and_separated_intervals() -> None:
    """Per-interval periods and plain EAN strings as targets."""
    event = Event.from_json(
        {
            "id": "e",
            "programID": "p",
            "targets": [EAN],
            "payloadDescriptors": [
                {"payloadType": "IMPORT_CAPACITY_LIMIT", "units": "KW"}
            ],
            "intervals": [
                {
                    "id": 0,
                    "intervalPeriod": {
                        "start": "2026-11-23T16:00:00Z",
                        "duration": "PT1H",
                    },
                    "payloads": [{"type": "IMPORT_CAPACITY_LIMIT", "values": [5]}],
                },
                {
                    "id": 1,
                    "intervalPeriod": {
                        "start": "2026-11-23T18:00:00Z",
                        "duration": "PT30M",
                    },
                    "payloads": [{"type": "IMPORT_CAPACITY_LIMIT", "values": [3.5]}],
                },
            ],
        }
    )
    assert event.targets_ean(EAN)
    assert not event.targets_ean(OTHER_EAN)
    intervals = event.capacity_intervals()
    assert [(i.start.hour, i.import_w) for i in intervals] == [(16, 5000), (18, 3500)]


def test_bad_units_and_negative_values_are_rejected() -> None:
    """Clear errors for payloads we cannot interpret safely."""
    base = gac_event("e", program_id="p", ean=EAN, start=T0, values_kw=[5.0])
    base["payloadDescriptors"][0]["units"] = "A"
    with pytest.raises(OpenAdrFormatError, match="units"):
        Event.from_json(base).capacity_intervals()
    negative = gac_event("e", program_id="p", ean=EAN, start=T0, values_kw=[-1.0])
    with pytest.raises(OpenAdrFormatError, match="negative"):
        Event.from_json(negative).capacity_intervals()
    with pytest.raises(OpenAdrFormatError):
        Event.from_json({"id": 3})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT15M", timedelta(minutes=15)),
        ("PT1H30M", timedelta(hours=1, minutes=30)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("P1W", timedelta(weeks=1)),
        ("PT0S", timedelta(0)),
        ("P9999Y", None),
    ],
)
def test_iso_durations(text: str, expected: timedelta | None) -> None:
    """ISO 8601 durations as OpenADR uses them, P9999Y being open-ended."""
    assert parse_duration(text) == expected
    if expected is not None and expected:
        assert parse_duration(format_duration(expected)) == expected


def test_ven_rejects_a_malformed_ean() -> None:
    """An EAN has 18 digits."""
    with pytest.raises(ValueError, match="18 digits"):
        OpenAdrVen(object(), ean="1234")  # type: ignore[arg-type]


def test_openadr_error_hierarchy() -> None:
    """Auth and format errors are OpenADR errors."""
    assert issubclass(OpenAdrAuthError, OpenAdrError)
    assert issubclass(OpenAdrFormatError, ValueError)


def test_vtn_fixtures_follow_the_gac_profile() -> None:
    """The loopback VTN's programs and events pass the GAC profile checks."""
    assert program_gac_violations(Program.from_json(gac_program("p"))) == []
    event = gac_event("e", program_id="p", ean=EAN, start=T0, values_kw=[8.0, 6.0])
    assert event_gac_violations(Event.from_json(event)) == []
    safe = gac_safe_mode_event("s", program_id="p", ean=EAN, value_kw=3.0)
    assert event_gac_violations(Event.from_json(safe)) == []


def test_gac_checks_name_what_is_wrong() -> None:
    """Priority, units, two values, duplicate ids and a short EAN are named."""
    event = gac_event(
        "e", program_id="p", ean=EAN, start=T0, values_kw=[8.0, 6.0], gac_version="2.0"
    )
    event["priority"] = 1
    event["payloadDescriptors"][0]["units"] = "W"
    event["intervals"][1]["id"] = 0
    event["intervals"][0]["payloads"][0]["values"] = [8.0, 7.0]
    event["targets"][0]["values"] = ["1234"]
    problems = event_gac_violations(Event.from_json(event))
    assert problems == [
        "The event must not have a priority set for GAC 2.0 compliance",
        "The event interval must have an id value that is strictly increasing.",
        "The event interval payload must have exactly one value per payload.",
        "The POWER_SERVICE_LOCATION target value must be a list of 'EAN18' values.",
        "The payload descriptor must have a units of 'KW' (case sensitive).",
    ]
    program = Program.from_json(
        {**gac_program("p", gac_version="2.0"), "bindingEvents": False}
    )
    assert program_gac_violations(program) == [
        "The program must have bindingEvents set to true."
    ]


async def test_ven_records_gac_departures_but_still_applies_the_limit(
    setup: Setup,
) -> None:
    """An off-profile event (units W) is noted, and its limit still holds."""
    event = gac_event("w", program_id="program-1", ean=EAN, start=T0, values_kw=[5000])
    event["payloadDescriptors"][0]["units"] = "W"
    await setup.vtn.put_event(event)
    assert await setup.ven.async_poll()
    assert setup.ven.status.gac_warnings["w"] == [
        "The payload descriptor must have a units of 'KW' (case sensitive)."
    ]
    assert LimitStack([setup.ven]).effective(T0).import_w == 5_000


# -- ElaadNL's GAC compliance plugin as the reference ---------------------------------

GacVersion = Literal["2.0", "2.1", "2.2"]
_ELAAD_PLUGINS = {
    "2.0": Gac20ValidatorPlugin,
    "2.1": Gac21ValidatorPlugin,
    "2.2": Gac22ValidatorPlugin,
}
_ELAAD_MODELS: dict[tuple[str, str], type[Any]] = {
    ("2.0", "program"): Program301,
    ("2.0", "event"): Event301,
    ("2.0", "ven"): Ven301,
    ("3.1", "program"): Program310,
    ("3.1", "event"): Event310,
    ("3.1", "ven"): Ven310,
}


def elaad_problems(kind: str, data: Json, version: GacVersion) -> list[str]:
    """Run ElaadNL's validators of ``version`` over one object (synchronous)."""
    family = "2.0" if version == "2.0" else "3.1"
    model = _ELAAD_MODELS[family, kind].model_validate(data)
    plugin = _ELAAD_PLUGINS[version].setup()
    return [
        str(error["type"].message_template)
        for info in plugin.get_model_validators(type(model))
        for error in info.validate(model) or []
    ]


def our_problems(kind: str, data: Json, version: GacVersion) -> list[str]:
    """Run our GAC checks of ``version`` over the same object."""
    if kind == "program":
        return program_gac_violations(Program.from_json(data), version)
    return event_gac_violations(Event.from_json(data), version)


def _event(version: GacVersion, values: tuple[float, ...] = (8.0, 6.0)) -> Json:
    return gac_event(
        "e", program_id="p", ean=EAN, start=T0, values_kw=values, gac_version=version
    )


def _with(data: Json, change: Callable[[Json], object]) -> Json:
    copy = deepcopy(data)
    change(copy)
    return copy


def _set(path: tuple[Any, ...], value: object) -> Callable[[Json], object]:
    """Return a change that sets ``path`` to ``value``."""

    def change(data: Json) -> None:
        target: Any = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def _set_attribute(kind: str, value: object) -> Callable[[Json], object]:
    def change(data: Json) -> None:
        for attribute in data["attributes"]:
            if attribute["type"] == kind:
                attribute["values"] = [value]

    return change


def _drop_attribute(kind: str) -> Callable[[Json], object]:
    def change(data: Json) -> None:
        data["attributes"] = [a for a in data["attributes"] if a["type"] != kind]

    return change


E20 = _event("2.0")
E22 = _event("2.2")
P20 = gac_program("p", gac_version="2.0")
P21 = gac_program("p", gac_version="2.1")
P22 = gac_program("p", gac_version="2.2")
LONG_VEN_NAME = "V" * 129

CORPUS: list[tuple[str, str, GacVersion, Json]] = [
    # GAC 2.0 events (OpenADR 3.0.1: typed targets).
    ("valid 2.0 event", "event", "2.0", E20),
    (
        "2.0 safe mode",
        "event",
        "2.0",
        gac_safe_mode_event(
            "s", program_id="p", ean=EAN, value_kw=3.0, gac_version="2.0"
        ),
    ),
    (
        "no VEN_NAME target",
        "event",
        "2.0",
        _with(E20, _set(("targets",), E20["targets"][:1])),
    ),
    (
        "EAN instead of POWER_SERVICE_LOCATION",
        "event",
        "2.0",
        _with(E20, _set(("targets", 0, "type"), "EAN")),
    ),
    (
        "two location targets",
        "event",
        "2.0",
        _with(E20, _set(("targets",), [E20["targets"][0], *E20["targets"]])),
    ),
    (
        "over-long VEN name",
        "event",
        "2.0",
        _with(E20, _set(("targets", 1, "values"), [LONG_VEN_NAME])),
    ),
    ("short EAN", "event", "2.0", _with(E20, _set(("targets", 0, "values"), ["1234"]))),
    ("empty location", "event", "2.0", _with(E20, _set(("targets", 0, "values"), []))),
    ("priority", "event", "2.0", _with(E20, _set(("priority",), 1))),
    (
        "units W",
        "event",
        "2.0",
        _with(E20, _set(("payloadDescriptors", 0, "units"), "W")),
    ),
    (
        "export descriptor",
        "event",
        "2.0",
        _with(
            E20, _set(("payloadDescriptors", 0, "payloadType"), "EXPORT_CAPACITY_LIMIT")
        ),
    ),
    (
        "two descriptors",
        "event",
        "2.0",
        _with(E20, _set(("payloadDescriptors",), E20["payloadDescriptors"] * 2)),
    ),
    ("ids out of order", "event", "2.0", _with(E20, _set(("intervals", 0, "id"), 5))),
    ("duplicate ids", "event", "2.0", _with(E20, _set(("intervals", 1, "id"), 0))),
    (
        "two values in the last interval",
        "event",
        "2.0",
        _with(E20, _set(("intervals", 1, "payloads", 0, "values"), [6.0, 5.0])),
    ),
    (
        "two payloads in the last interval",
        "event",
        "2.0",
        _with(
            E20, _set(("intervals", 1, "payloads"), E20["intervals"][1]["payloads"] * 2)
        ),
    ),
    (
        "periods on the event and an interval",
        "event",
        "2.0",
        _with(E20, _set(("intervals", 0, "intervalPeriod"), E20["intervalPeriod"])),
    ),
    ("no period at all", "event", "2.0", _with(E20, _set(("intervalPeriod",), None))),
    # GAC 2.1 and 2.2 events (OpenADR 3.1: plain EAN18 strings).
    ("valid 2.2 event", "event", "2.2", E22),
    ("valid 2.1 event", "event", "2.1", _event("2.1")),
    (
        "2.2 safe mode",
        "event",
        "2.2",
        gac_safe_mode_event("s", program_id="p", ean=EAN, value_kw=3.0),
    ),
    ("2.2 short EAN", "event", "2.2", _with(E22, _set(("targets",), ["1234"]))),
    ("2.2 no targets", "event", "2.2", _with(E22, _set(("targets",), None))),
    ("2.2 two EANs", "event", "2.2", _with(E22, _set(("targets",), [EAN, OTHER_EAN]))),
    ("2.2 priority", "event", "2.2", _with(E22, _set(("priority",), 0))),
    (
        "2.2 units kW",
        "event",
        "2.2",
        _with(E22, _set(("payloadDescriptors", 0, "units"), "kW")),
    ),
    # Programs.
    ("valid 2.0 program", "program", "2.0", P20),
    (
        "2.0 leading zero in program type",
        "program",
        "2.0",
        _with(P20, _set(("programType",), "DSO_CPO_INTERFACE-01.0.0")),
    ),
    (
        "2.0 program type 1.0.0",
        "program",
        "2.0",
        _with(P20, _set(("programType",), "DSO_CPO_INTERFACE-1.0.0")),
    ),
    ("2.0 no program type", "program", "2.0", _with(P20, _set(("programType",), None))),
    (
        "2.0 one-letter retailer",
        "program",
        "2.0",
        _with(P20, _set(("retailerName",), "S")),
    ),
    (
        "2.0 not binding",
        "program",
        "2.0",
        _with(P20, _set(("bindingEvents",), value=False)),
    ),
    (
        "2.0 binding unstated",
        "program",
        "2.0",
        _with(P20, _set(("bindingEvents",), None)),
    ),
    ("valid 2.1 program", "program", "2.1", P21),
    ("valid 2.2 program", "program", "2.2", P22),
    ("2.2 type under 2.1", "program", "2.1", P22),
    ("2.1 type under 2.2", "program", "2.2", P21),
    (
        "2.1 semver that is not 2.1.1",
        "program",
        "2.1",
        _with(P21, _set_attribute("PROGRAM_TYPE", "DSO_CPO_INTERFACE-2.1.0")),
    ),
    (
        "2.2 without BINDING_EVENTS",
        "program",
        "2.2",
        _with(P22, _drop_attribute("BINDING_EVENTS")),
    ),
    (
        "2.2 without RETAILER_NAME",
        "program",
        "2.2",
        _with(P22, _drop_attribute("RETAILER_NAME")),
    ),
    (
        "2.2 without PROGRAM_TYPE",
        "program",
        "2.2",
        _with(P22, _drop_attribute("PROGRAM_TYPE")),
    ),
]

# Where ElaadNL's 3.2.4 message text differs from ours on purpose: its 2.2
# program-type message names 2.1.1 (a copy of the 2.1 text), ours names 2.2.0.
_MESSAGE_FIXES = {
    "The PROGRAM_TYPE attribute must equal DSO_CPO_INTERFACE-2.1.1.": {
        "2.2": "The PROGRAM_TYPE attribute must equal DSO_CPO_INTERFACE-2.2.0."
    }
}


@pytest.mark.parametrize(
    ("kind", "version", "data"),
    [
        pytest.param(kind, version, data, id=name)
        for name, kind, version, data in CORPUS
    ],
)
def test_our_gac_checks_agree_with_elaadnl(
    kind: str, version: GacVersion, data: Json
) -> None:
    """Same verdict and the same messages as ElaadNL's plugin, object by object."""
    theirs = [
        _MESSAGE_FIXES.get(message, {}).get(version, message)
        for message in elaad_problems(kind, data, version)
    ]
    assert sorted(set(our_problems(kind, data, version))) == sorted(set(theirs))


def test_we_check_every_interval_where_elaadnl_checks_the_last() -> None:
    """Two values in the first interval: we report it; ElaadNL 2.1/2.2 does not."""
    event = _with(E22, _set(("intervals", 0, "payloads", 0, "values"), [8.0, 7.0]))
    assert elaad_problems("event", event, "2.2") == []
    assert our_problems("event", event, "2.2") == [
        "The event interval payload must have exactly one value per payload."
    ]


@pytest.mark.parametrize("version", ["2.0", "2.1", "2.2"])
def test_simulator_objects_pass_elaadnl_for_every_gac_version(
    version: GacVersion,
) -> None:
    """The simulator's program, events and VEN pass ElaadNL's plugin."""
    assert (
        elaad_problems("program", gac_program("p", gac_version=version), version) == []
    )
    assert elaad_problems("event", _event(version), version) == []
    safe = gac_safe_mode_event(
        "s", program_id="p", ean=EAN, value_kw=3.0, gac_version=version
    )
    assert elaad_problems("event", safe, version) == []
    ven = gac_ven(ean=EAN, gac_version=version)
    assert ven["venName"] == SIM_VEN_NAMES[version]
    assert elaad_problems("ven", ven, version) == []
    # The name it used to have fails every version's VEN-name rule.
    old = {**ven, "venName": "stroomwijs"}
    assert elaad_problems("ven", old, version) != []


def test_simulator_program_type_is_exact_for_2_1_and_2_2() -> None:
    """2.1 and 2.2 take one exact program type; the old 1.0.0 matched neither."""
    for version in ("2.1", "2.2"):
        program = Program.from_json(gac_program("p", gac_version=version))
        assert program.program_type == GAC_PROGRAM_TYPES[version]
        assert gac_version_of(program) == version
    old = _with(P22, _set_attribute("PROGRAM_TYPE", "DSO_CPO_INTERFACE-1.0.0"))
    assert elaad_problems("program", old, "2.1") != []
    assert elaad_problems("program", old, "2.2") != []
    expected = (
        "The PROGRAM_TYPE attribute must equal DSO_CPO_INTERFACE-2.1.1 or "
        "DSO_CPO_INTERFACE-2.2.0."
    )
    assert program_gac_violations(Program.from_json(old)) == [expected]


async def test_lost_vtn_is_logged_once_at_info_and_once_when_back(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    """log-when-unavailable: no warning per failed poll, one line each way."""
    caplog.set_level(logging.DEBUG, logger="custom_components.stroomwijs")
    assert await setup.ven.async_poll()
    setup.vtn.down = True
    for _ in range(5):
        assert not await setup.ven.async_poll()
    setup.vtn.down = False
    for _ in range(3):
        assert await setup.ven.async_poll()
    lines = [
        (record.levelno, record.getMessage())
        for record in caplog.records
        if record.levelno >= logging.INFO and "VTN" in record.getMessage()
    ]
    assert [level for level, _ in lines] == [logging.INFO, logging.INFO]
    assert "unavailable" in lines[0][1]
    assert "503" in lines[0][1]
    assert "available again" in lines[1][1]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "six"])
async def test_unreadable_event_value_holds_the_safe_mode_limit(
    setup: Setup, value: object
) -> None:
    """NaN, Infinity or text as a limit: the safe-mode limit, never nothing."""
    event = gac_event(
        "bad", program_id="program-1", ean=EAN, start=T0, values_kw=[6.0, 5.0]
    )
    event["intervals"][0]["payloads"][0]["values"] = [value]
    await setup.vtn.put_event(event)  # the VTN serves NaN as a bare literal
    assert await setup.ven.async_poll()
    stack = LimitStack([setup.ven])
    effective = stack.effective(T0)
    assert effective.import_w == 3_500  # the program's safe-mode value
    assert "bad" in (setup.ven.status.last_error or "")
    # Outside the event's span nothing is held.
    assert stack.effective(T0 + timedelta(hours=1)).import_w is None


async def test_infinite_safe_mode_value_is_not_a_failsafe(setup: Setup) -> None:
    """A safe-mode event of Infinity cannot lift the failsafe to 'unlimited'."""
    safe = gac_safe_mode_event("safe-1", program_id="program-1", ean=EAN, value_kw=3.5)
    safe["intervals"][0]["payloads"][0]["values"] = [float("inf")]
    await setup.vtn.put_event(safe)
    assert await setup.ven.async_poll()
    assert setup.ven.failsafe_import_w == 4_200  # the configured default


@pytest.mark.parametrize(
    "body",
    ["this is not json", "[" * 100_000 + "]" * 100_000, '{"truncated": '],
)
async def test_broken_vtn_answers_are_a_failed_poll_not_a_crash(
    setup: Setup, body: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Garbage or absurdly deep JSON: a failed poll, logged once at info."""
    caplog.set_level(logging.INFO, logger="custom_components.stroomwijs")
    setup.vtn.raw_body = body
    for _ in range(3):
        assert not await setup.ven.async_poll()
    assert "unreadable JSON" in (setup.ven.status.last_error or "")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 1


async def test_vtn_that_pages_forever_is_a_failed_poll(setup: Setup) -> None:
    """A VTN whose pages never end is refused after MAX_OBJECTS objects."""
    setup.vtn.endless_pages = True
    async with asyncio.timeout(30):
        assert not await setup.ven.async_poll()
    assert "more than" in (setup.ven.status.last_error or "")


async def test_a_restart_while_the_vtn_is_away_keeps_its_limits(setup: Setup) -> None:
    """The limits a VTN set survive a restart until it answers, each to its end."""
    await setup.vtn.put_event(
        gac_event(
            "event-1",
            program_id="program-1",
            ean=EAN,
            start=T0 - timedelta(minutes=15),
            values_kw=[2.0] * 8,  # 14:45-16:45
        )
    )
    assert await setup.ven.async_poll()
    saved = json.loads(json.dumps(setup.ven.export_state()))
    assert saved["failsafe_import_w"] == 3_500
    # The household restarts five minutes later; the VTN does not answer.
    setup.vtn.down = True
    setup.clock.now = T0 + timedelta(minutes=5)
    ven = OpenAdrVen(
        setup.client, ean=EAN, clock=setup.clock, timeout=timedelta(minutes=15)
    )
    stack = LimitStack([ven])
    # Without its saved state the VEN would know no limit for 15 minutes.
    assert stack.effective(setup.clock.now).import_w is None
    assert ven.restore_state(saved, setup.clock.now) == 7  # 14:45-15:00 has ended
    assert not await ven.async_poll()
    effective = stack.effective(setup.clock.now)
    assert effective.import_w == 2_000
    assert effective.import_source == "openadr:capacity-limit"
    setup.clock.now = T0 + timedelta(minutes=30)
    assert not await ven.async_poll()
    assert stack.effective(setup.clock.now).import_w == 2_000  # below the failsafe
    # After the event's end the VTN is still away: its own safe-mode value.
    setup.clock.now = T0 + timedelta(minutes=110)
    effective = stack.effective(setup.clock.now)
    assert effective.import_w == 3_500
    assert effective.import_source == "openadr:failsafe"
    # What the restarted VEN holds is saved again for a next restart.
    again = ven.export_state()
    assert again["failsafe_import_w"] == 3_500


async def test_the_vtn_s_first_answer_after_a_restart_replaces_what_was_kept(
    setup: Setup,
) -> None:
    """An event the VTN cancelled while the household was away ends at once."""
    await setup.vtn.put_event(
        gac_event(
            "event-1",
            program_id="program-1",
            ean=EAN,
            start=T0,
            values_kw=[2.0] * 4,
        )
    )
    assert await setup.ven.async_poll()
    saved = setup.ven.export_state()
    await setup.vtn.delete_event("event-1")
    ven = OpenAdrVen(
        setup.client, ean=EAN, clock=setup.clock, timeout=timedelta(minutes=15)
    )
    assert ven.restore_state(saved, setup.clock.now) == 4
    stack = LimitStack([ven])
    assert stack.effective(setup.clock.now).import_w == 2_000
    assert await ven.async_poll()
    assert stack.effective(setup.clock.now).import_w is None
    assert ven.export_state()["limits"] == []


@pytest.mark.parametrize(
    "saved",
    [
        None,
        [],
        {"version": 2, "limits": []},
        {"version": 1, "limits": "x"},
        {
            "version": 1,
            "failsafe_import_w": float("nan"),
            "limits": [
                {"source": "openadr:a", "import_w": -1, "start": None, "end": None},
                {"source": "openadr:a", "import_w": True, "start": None, "end": None},
                {"source": "openadr:a", "import_w": 1e400, "start": None, "end": None},
                {"source": "openadr:a", "import_w": 2000, "end": "2026-11-23T16:00:00"},
                {"source": "openadr:a", "import_w": 2000, "end": "tomorrow"},
                {
                    "source": "openadr:a",
                    "import_w": 2000,
                    "end": "2026-11-23T14:00:00Z",
                },
                {"source": "manual", "import_w": 2000},
                {"source": "openadr:a"},
                "limit",
            ],
        },
        # Integers beyond a float's range (json reads them exactly).
        {
            "version": 1,
            "failsafe_import_w": 10**400,
            "limits": [
                {"source": "openadr:a", "import_w": 10**400, "start": None, "end": None}
            ],
        },
    ],
)
async def test_saved_openadr_state_that_is_malformed_or_ended_is_skipped(
    setup: Setup, saved: object
) -> None:
    """Only well-formed limits that have not ended come back."""
    if isinstance(saved, dict) and saved.get("version") == 1:
        # Saved by this VEN: each entry is judged on its own.
        saved = {**saved, "vtn": setup.client.base_url, "ean": EAN}
    assert setup.ven.restore_state(saved, T0) == 0
    assert setup.ven.failsafe_import_w == DEFAULT_FAILSAFE_IMPORT_W  # not NaN
    assert LimitStack([setup.ven]).effective(T0).import_w is None


@pytest.mark.parametrize("other", ["ean", "vtn", "neither said"])
async def test_limits_saved_for_another_vtn_or_connection_are_not_taken(
    setup: Setup, other: str
) -> None:
    """A limit source removed or changed hands nothing to the one in its place.

    Saved state is kept by the VEN's place in the household ("openadr",
    "openadr2"); the VTN's 12 kW safe-mode limit and its 2 kW limit must not
    become another VTN's or connection's (where a 12 kW failsafe would raise
    the import the silent VTN's own 4.2 kW default allows).
    """
    await setup.vtn.put_event(
        gac_event(
            "event-1", program_id="program-1", ean=EAN, start=T0, values_kw=[2.0] * 8
        )
    )
    await setup.vtn.put_event(
        gac_safe_mode_event("safe-1", program_id="program-1", ean=EAN, value_kw=12.0)
    )
    assert await setup.ven.async_poll()
    saved = json.loads(json.dumps(setup.ven.export_state()))
    assert saved["failsafe_import_w"] == 12_000
    if other == "neither said":
        del saved["vtn"], saved["ean"]
    ean = "871685900000000099" if other == "ean" else EAN
    url = "http://127.0.0.1:1/other" if other == "vtn" else setup.client.base_url
    client = OpenAdrClient(
        setup.session,
        url,
        client_id=setup.vtn.client_id,
        client_secret=setup.vtn.client_secret,
    )
    ven = OpenAdrVen(client, ean=ean, clock=setup.clock)
    assert ven.restore_state(saved, T0) == 0
    assert ven.failsafe_import_w == DEFAULT_FAILSAFE_IMPORT_W
    assert LimitStack([ven]).effective(T0).import_w is None
    if other != "neither said":
        # The same VTN and connection take them back.
        same = OpenAdrVen(setup.client, ean=EAN, clock=setup.clock)
        assert same.restore_state(saved, T0) > 0
        assert same.failsafe_import_w == 12_000
        assert LimitStack([same]).effective(T0).import_w == 2_000


@pytest.mark.parametrize("where", ["event", "safe-mode"])
async def test_limit_beyond_a_float_is_unreadable_not_a_crash(
    setup: Setup, where: str
) -> None:
    """An integer limit too big for a float (json reads it exactly): no crash.

    As an event value it holds the safe-mode limit over the event's span; as
    the safe-mode value it is no safe-mode value (the configured failsafe).
    """
    huge = 10**400
    if where == "event":
        event = gac_event(
            "huge", program_id="program-1", ean=EAN, start=T0, values_kw=[6.0]
        )
        event["intervals"][0]["payloads"][0]["values"] = [huge]
        await setup.vtn.put_event(event)
    else:
        safe = gac_safe_mode_event(
            "safe-1", program_id="program-1", ean=EAN, value_kw=3.5
        )
        safe["intervals"][0]["payloads"][0]["values"] = [huge]
        await setup.vtn.put_event(safe)
    assert await setup.ven.async_poll()
    effective = LimitStack([setup.ven]).effective(T0)
    if where == "event":
        assert effective.import_w == 3_500
        assert "huge" in (setup.ven.status.last_error or "")
    else:
        assert setup.ven.failsafe_import_w == 4_200
        assert effective.import_w is None


async def test_event_that_ends_after_year_9999_holds_the_safe_mode_limit(
    setup: Setup,
) -> None:
    """An interval whose end is past datetime's range is unreadable, held safe."""
    start = datetime(9999, 12, 31, 23, 0, tzinfo=UTC)
    event = gac_event(
        "late",
        program_id="program-1",
        ean=EAN,
        start=start,
        values_kw=[6.0],
        interval=timedelta(hours=2),
    )
    await setup.vtn.put_event(event)
    assert await setup.ven.async_poll()
    effective = LimitStack([setup.ven]).effective(start + timedelta(minutes=5))
    assert effective.import_w == 3_500
    assert "late" in (setup.ven.status.last_error or "")


@pytest.mark.parametrize("text", ["P9999999999W", "PT99999999999999999999H"])
def test_duration_beyond_timedelta_is_a_format_error(text: str) -> None:
    """A duration past timedelta's range is malformed, not an OverflowError."""
    with pytest.raises(OpenAdrFormatError):
        parse_duration(text)


async def test_event_with_an_absurd_duration_fails_the_poll_safely(
    setup: Setup,
) -> None:
    """One event with an unreadable duration: a failed poll, not a crash."""
    event = gac_event(
        "long", program_id="program-1", ean=EAN, start=T0, values_kw=[6.0]
    )
    event["intervalPeriod"]["duration"] = "P9999999999W"
    await setup.vtn.put_event(event)
    assert not await setup.ven.async_poll()
    assert "duration" in (setup.ven.status.last_error or "")


def _event_with(change: Callable[[Json], object]) -> Json:
    event = gac_event("e", program_id="p", ean=EAN, start=T0, values_kw=[5.0, 4.0])
    change(event)
    return event


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (_set(("intervalPeriod", "duration"), "fifteen minutes"), "ISO 8601 duration"),
        (_set(("intervalPeriod", "duration"), "P1M"), "years or months"),
        (_set(("intervalPeriod", "duration"), "PT"), "ISO 8601 duration"),
        (_set(("intervalPeriod", "start"), 1700000000), "ISO 8601 string"),
        (_set(("intervalPeriod", "start"), "yesterday"), "ISO 8601 time"),
        (_set(("intervalPeriod", "start"), "2026-11-23T15:00:00"), "time zone"),
        (_set(("intervalPeriod",), "PT15M"), "JSON object"),
        (_set(("intervals",), {"id": 0}), "JSON array"),
        (_set(("intervals", 0, "id"), "0"), "integer id"),
        (_set(("intervals", 0, "payloads", 0), {"values": [1]}), "malformed event"),
        (_set(("targets",), [7]), "JSON object"),
        (_set(("programID",), None), "programID"),
    ],
)
def test_malformed_events_are_format_errors(
    change: Callable[[Json], object], match: str
) -> None:
    """Every wrong shape is an OpenAdrFormatError naming it, never a crash."""
    with pytest.raises(OpenAdrFormatError, match=match):
        Event.from_json(_event_with(change))


def test_program_needs_an_id_and_a_name() -> None:
    """A program without a string id or name is malformed."""
    with pytest.raises(OpenAdrFormatError, match="programName"):
        Program.from_json({"id": "p", "programName": 5})
    with pytest.raises(OpenAdrFormatError, match="JSON object"):
        Program.from_json({"id": "p", "programName": "x", "attributes": [3]})


def test_interval_without_any_start_is_a_format_error() -> None:
    """No start on the event or its first interval: unreadable, not 'now'."""
    event = _event_with(_set(("intervalPeriod",), None))
    event["intervals"][0]["intervalPeriod"] = {"duration": "PT15M"}
    with pytest.raises(OpenAdrFormatError, match="has no start"):
        Event.from_json(event).capacity_intervals()


def test_intervals_without_their_own_start_follow_the_previous_end() -> None:
    """An interval with a period but no start begins where the last one ended."""
    event = _event_with(_set(("intervalPeriod",), None))
    event["intervals"][0]["intervalPeriod"] = {
        "start": T0.isoformat(),
        "duration": "PT15M",
    }
    event["intervals"][1]["intervalPeriod"] = {"duration": "PT30M"}
    intervals = Event.from_json(event).capacity_intervals()
    assert [(i.start, i.end, i.import_w) for i in intervals] == [
        (T0, T0 + timedelta(minutes=15), 5_000),
        (T0 + timedelta(minutes=15), T0 + timedelta(minutes=45), 4_000),
    ]


def test_ven_rejects_a_negative_failsafe_or_a_zero_poll_interval() -> None:
    """A negative failsafe or a poll interval of zero is a configuration error."""
    with pytest.raises(ValueError, match="negative"):
        OpenAdrVen(object(), ean=EAN, failsafe_import_w=-1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        OpenAdrVen(
            object(),  # type: ignore[arg-type]
            ean=EAN,
            poll_interval=timedelta(0),
        )


async def test_deleted_program_takes_its_events_along(setup: Setup) -> None:
    """A PROGRAM DELETE notification drops the program and all its events."""
    await setup.vtn.put_event(
        gac_event("e1", program_id="program-1", ean=EAN, start=T0, values_kw=[6.0])
    )
    assert await setup.ven.async_poll()
    calls: list[None] = []
    unsubscribe = setup.ven.subscribe(lambda: calls.append(None))
    assert LimitStack([setup.ven]).effective(T0).import_w == 6_000
    program = gac_program("program-1")
    assert setup.ven.handle_notification(
        {"objectType": "PROGRAM", "operation": "DELETE", "object": program}
    )
    assert not setup.ven.status.events
    assert LimitStack([setup.ven]).effective(T0).import_w is None
    # Deleting it again changes nothing and tells no one.
    assert not setup.ven.handle_notification(
        {"objectType": "PROGRAM", "operation": "DELETE", "object": program}
    )
    assert len(calls) == 1
    unsubscribe()
    assert setup.ven.handle_notification(
        {"objectType": "PROGRAM", "operation": "PUT", "object": program}
    )
    assert len(calls) == 1


async def test_webhook_answers_400_to_a_malformed_notification(setup: Setup) -> None:
    """Bad JSON or an unreadable event from the VTN: 400, and nothing applied."""
    webhook = VenWebhook(setup.ven)
    with pytest.raises(RuntimeError, match="not started"):
        _ = webhook.url
    await webhook.async_start()
    headers = {"Authorization": f"Bearer {setup.ven.webhook_token}"}
    bad_event = _event_with(_set(("intervalPeriod", "duration"), "P9999999999W"))
    try:
        async with setup.session.post(
            webhook.url, data="{not json", headers=headers
        ) as response:
            assert response.status == 400
        async with setup.session.post(
            webhook.url,
            json={"objectType": "EVENT", "operation": "PUT", "object": bad_event},
            headers=headers,
        ) as response:
            assert response.status == 400
            assert "out of range" in await response.text()
    finally:
        await webhook.async_stop()
    assert "e" not in setup.ven.status.events


async def test_poll_loop_survives_a_crash_and_stops_when_told(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug in one poll is logged; the loop polls again and ends on stop."""
    polls = 0
    stop = asyncio.Event()

    async def crashing_poll() -> bool:
        nonlocal polls
        polls += 1
        if polls == 1:
            msg = "bug"
            raise RuntimeError(msg)
        stop.set()
        return True

    ven = OpenAdrVen(setup.client, ean=EAN, poll_interval=timedelta(milliseconds=10))
    ven.async_poll = crashing_poll  # type: ignore[method-assign]
    async with asyncio.timeout(5):
        await ven.async_run(stop)
    assert polls == 2
    assert "OpenADR poll crashed" in caplog.text


SECRET = secrets.token_urlsafe(8)


@dataclass
class BrokenVtn:
    """A VTN on loopback whose token endpoint and API answer what a test says."""

    token_status: int = 200
    token_body: Json | None = None
    api_status: int = 200
    seen_scopes: list[str | None] | None = None


@pytest.fixture
async def broken_vtn() -> AsyncIterator[tuple[BrokenVtn, str, aiohttp.ClientSession]]:
    """Serve a VTN whose answers the test sets, on 127.0.0.1."""
    state = BrokenVtn(seen_scopes=[])

    async def token(request: web.Request) -> web.Response:
        form = await request.post()
        assert state.seen_scopes is not None
        scope = form.get("scope")
        state.seen_scopes.append(None if scope is None else str(scope))
        body = (
            state.token_body
            if state.token_body is not None
            else {"access_token": "t", "expires_in": 3600}
        )
        return web.json_response(body, status=state.token_status)

    async def api(_request: web.Request) -> web.Response:
        if state.api_status != 200:
            return web.json_response({}, status=state.api_status)
        return web.json_response([])

    app = web.Application()
    app.router.add_post("/openadr3/auth/token", token)
    app.router.add_route("*", "/openadr3/{tail:.*}", api)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    async with aiohttp.ClientSession() as session:
        yield state, f"http://127.0.0.1:{port}/openadr3/", session
    await runner.cleanup()


async def test_token_endpoint_answers_that_are_not_a_token(
    broken_vtn: tuple[BrokenVtn, str, aiohttp.ClientSession],
) -> None:
    """No access_token, or 403: an auth error; the scope is asked for."""
    state, url, session = broken_vtn
    client = OpenAdrClient(
        session, url, client_id="ven", client_secret=SECRET, scope="read_all"
    )
    assert client.base_url == url.rstrip("/")
    state.token_body = {"token_type": "Bearer"}
    with pytest.raises(OpenAdrAuthError, match="no access_token"):
        await client.async_token()
    state.token_body = None
    state.token_status = 403
    with pytest.raises(OpenAdrAuthError, match="refused the credentials"):
        await client.async_token()
    assert state.seen_scopes == ["read_all", "read_all"]
    state.token_status = 500
    with pytest.raises(OpenAdrError, match="cannot reach the token endpoint"):
        await client.async_token()


async def test_vtn_that_rejects_every_fresh_token_is_an_auth_error(
    broken_vtn: tuple[BrokenVtn, str, aiohttp.ClientSession],
) -> None:
    """401 even with a fresh token: an auth error, after one retry, no loop."""
    state, url, session = broken_vtn
    client = OpenAdrClient(session, url, client_id="ven", client_secret=SECRET)
    state.api_status = 401
    with pytest.raises(OpenAdrAuthError, match="rejected our access token"):
        await client.async_get_programs()
    assert state.seen_scopes == [None, None]  # the first token, and one renewal
    ven = OpenAdrVen(client, ean=EAN)
    assert ven.ean == EAN
    assert not await ven.async_poll()
    assert ven.status.auth_failed


async def test_vtn_without_the_events_endpoint_is_a_failed_poll(
    broken_vtn: tuple[BrokenVtn, str, aiohttp.ClientSession],
) -> None:
    """A 404 on /programs or /events: an error (not 'no events'), poll failed."""
    state, url, session = broken_vtn
    client = OpenAdrClient(session, url, client_id="ven", client_secret=SECRET)
    state.api_status = 404
    with pytest.raises(OpenAdrError, match="not offered by the VTN"):
        await client.async_get_events(program_id="p", ean=EAN)
    # Deleting a subscription the VTN no longer knows is no error.
    await client.async_delete_subscription("gone")
