"""The central system against hostile and broken peers over loopback.

Raw aiohttp websocket clients send what no well-behaved charger sends (deep
JSON, binary frames, floods of unknown ids, silence without a FIN); real
``ocpp`` charge points check that the session and the charger view stay
truthful around it.
"""

# Test-only passwords.
# ruff: noqa: S106

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
import json
import logging
import math
from pathlib import Path
import time
from typing import Any

import aiohttp
from hypothesis import given, settings, strategies as st
import pytest

from custom_components.stroomwijs.engine.capabilities import DeviceUnavailableError
from custom_components.stroomwijs.engine.drivers.ocpp import (
    ChargerConfig,
    CsmsConfig,
    PendingCharger,
    SessionOptions,
    common,
)

from .conftest import CsmsFactory, wait_for


@asynccontextmanager
async def raw_ws(
    url: str, protocol: str = "ocpp2.0.1", *, heartbeat: float | None = None
) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """Open a bare websocket to the central system, speaking no OCPP by itself."""
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url, protocols=(protocol,), heartbeat=heartbeat) as ws,
    ):
        yield ws


async def next_reply(ws: aiohttp.ClientWebSocketResponse) -> list[Any]:
    """Return the next CALLRESULT or CALLERROR (CALLs from the CSMS are skipped)."""
    async with asyncio.timeout(5):
        while True:
            msg = await ws.receive()
            assert msg.type is aiohttp.WSMsgType.TEXT, msg
            reply = json.loads(msg.data)
            if reply[0] in (3, 4):
                return reply  # type: ignore[no-any-return]


@pytest.mark.parametrize("charger_id", ["known", "stranger"])
async def test_deeply_nested_frame_gets_a_callerror_and_the_session_lives(
    make_csms: CsmsFactory, charger_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    """131,000 nested arrays (262 KB) get FormatViolation; the socket stays up."""
    csms = await make_csms(ChargerConfig(charger_id="known"))
    async with raw_ws(csms.url + charger_id) as ws:
        await ws.send_str("[" * 131_000 + "]" * 131_000)
        reply = await next_reply(ws)
        assert reply[0] == 4
        assert reply[2] == "FormatViolation"
        # A deep payload inside a well-formed CALL keeps its message id.
        deep = '[2,"d1","Heartbeat",' + "{}" + "[" * 5000 + "]" * 5000 + "]"
        await ws.send_str(deep)
        reply = await next_reply(ws)
        assert reply[:3] == [4, "d1", "FormatViolation"]
        await ws.send_str('[2,"h1","Heartbeat",{}]')
        reply = await next_reply(ws)
        assert reply[:2] == [3, "h1"]
    assert "nested deeper than" in caplog.text


def test_depth_check_counts_only_structure_outside_strings() -> None:
    """Brackets in strings do not count; the limit itself is allowed."""
    json_too_deep, MAX_JSON_DEPTH = common.json_too_deep, common.MAX_JSON_DEPTH  # noqa: N806
    assert not json_too_deep("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)
    assert json_too_deep("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1))
    text = json.dumps(["[" * 1000, {"k": "{" * 1000}])
    assert not json_too_deep(text)
    assert not json_too_deep('[2,"a\\"' + "[" * 40 + '","x",{}]')


async def test_a_failing_frame_handler_answers_internal_error_and_logs(
    make_csms: CsmsFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Any exception while routing one frame: CALLERROR plus a log line, no hang-up."""
    calls = 0
    original = common.unpack

    def exploding_unpack(raw: str) -> object:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("boom")
        return original(raw)

    monkeypatch.setattr(common, "unpack", exploding_unpack)
    csms = await make_csms(ChargerConfig(charger_id="cp1"))
    with caplog.at_level(logging.ERROR):
        async with raw_ws(csms.url + "cp1") as ws:
            await ws.send_str('[2,"x1","Heartbeat",{}]')
            reply = await next_reply(ws)
            assert reply[:3] == [4, "x1", "InternalError"]
            await ws.send_str('[2,"x2","Heartbeat",{}]')
            assert (await next_reply(ws))[:2] == [3, "x2"]
    assert "failed to handle frame" in caplog.text


async def test_binary_frames_get_format_violation_and_are_not_routed(
    make_csms: CsmsFactory,
) -> None:
    """A valid CALL sent as a binary frame is refused, not answered as text."""
    csms = await make_csms(ChargerConfig(charger_id="cp1"))
    async with raw_ws(csms.url + "cp1") as ws:
        await ws.send_bytes(b'[2,"b1","Heartbeat",{}]')
        reply = await next_reply(ws)
        assert reply[:3] == [4, "b1", "FormatViolation"]
        await ws.send_bytes(b"\xff\xfe garbage")
        reply = await next_reply(ws)
        assert reply[:3] == [4, "-1", "FormatViolation"]
        await ws.send_str('[2,"t1","Heartbeat",{}]')
        assert (await next_reply(ws))[:2] == [3, "t1"]


async def test_flood_of_unknown_ids_is_capped_rate_limited_and_reported_once(
    make_csms: CsmsFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """300 new ids at once: a burst gets in, the rest get 503, one log line."""
    seen: list[PendingCharger] = []
    csms = await make_csms(seen=seen)
    statuses: list[int] = []

    async def knock(session: aiohttp.ClientSession, charger_id: str) -> None:
        try:
            async with session.ws_connect(
                csms.url + charger_id, protocols=("ocpp2.0.1",)
            ) as ws:
                statuses.append(101)
                await ws.close()
        except aiohttp.WSServerHandshakeError as err:
            statuses.append(err.status)

    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        async with aiohttp.ClientSession() as session:
            for start in range(0, 300, 50):
                await asyncio.gather(
                    *(knock(session, f"flood-{i}") for i in range(start, start + 50))
                )
            # Ids already waiting may come back; they are not reported again.
            for _ in range(3):
                await knock(session, "flood-0")
    # The burst is new_ids_per_minute (6); a slow machine may earn one more
    # token per 10 s the flood takes.
    admitted = 6 + int((time.monotonic() - started) / 10.0)
    await wait_for(lambda: len(seen) >= 6, what="reports after the boot wait")
    await asyncio.sleep(0.5)  # a late report would show up now
    assert 6 <= len(seen) <= admitted
    assert len({p.charger_id for p in seen}) == len(seen)
    assert len(csms.pending) == len(seen)
    assert statuses.count(101) == len(seen) + 3
    assert statuses.count(503) == 300 - len(seen)
    refusals = [r for r in caplog.records if "Refused" in r.getMessage()]
    assert len(refusals) == 1


async def test_pending_ids_are_capped_and_a_dismissed_id_frees_its_place(
    make_csms: CsmsFactory,
) -> None:
    """Beyond max_pending no new id is taken, however slow they come."""
    seen: list[PendingCharger] = []
    csms = await make_csms(seen=seen, max_pending=3, new_ids_per_minute=1000.0)
    for i in range(3):
        async with session_ws(csms.url + f"slow-{i}"):
            pass
    for i in (3, 4):
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            async with session_ws(csms.url + f"slow-{i}"):
                pass
        assert err.value.status == 503
    assert sorted(csms.pending) == ["slow-0", "slow-1", "slow-2"]
    csms.forget_pending("slow-1")
    async with session_ws(csms.url + "slow-4"):
        pass
    assert "slow-4" in csms.pending


@asynccontextmanager
async def session_ws(url: str) -> AsyncIterator[None]:
    """Open and close one websocket."""
    async with raw_ws(url, "ocpp1.6"):
        yield


async def test_unknown_charger_is_reported_once_with_its_boot_details(
    make_csms: CsmsFactory,
) -> None:
    """The discovery callback names the vendor and model the charger booted with."""
    from custom_components.stroomwijs.engine.simulate.ocpp_chargepoint import (  # noqa: PLC0415
        OcppSimulator,
    )

    seen: list[PendingCharger] = []
    csms = await make_csms(seen=seen)
    sim = OcppSimulator("newbie", version="ocpp2.1")
    await sim.async_connect(csms.url)
    await asyncio.sleep(0.5)  # past the boot wait
    assert [(p.charger_id, p.vendor, p.model) for p in seen] == [
        ("newbie", "Stroomwijs", "Sim2")
    ]
    await sim.async_disconnect()
    await sim.async_connect(csms.url)
    await asyncio.sleep(0.4)
    assert len(seen) == 1


def test_websocket_pings_are_on_by_default() -> None:
    """Pings catch a link that died without a FIN; they used to be off."""
    heartbeat = CsmsConfig().websocket_heartbeat_s
    assert heartbeat is not None
    assert 0 < heartbeat <= 60


def _availability_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.getMessage().startswith("Charger ") and r.levelno == logging.INFO
    ]


async def test_silent_charger_is_marked_unavailable_once_and_back_once(
    make_csms: CsmsFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A hung charger (open TCP, nothing sent) goes unavailable, power unknown."""
    from custom_components.stroomwijs.engine.simulate.ocpp_chargepoint import (  # noqa: PLC0415
        OcppSimulator,
        SimCar,
    )

    options = SessionOptions(
        response_timeout_s=1.5, boot_wait_s=0.3, heartbeat_interval_s=1
    )
    csms = await make_csms(ChargerConfig(charger_id="cp1"), session=options)
    sim = OcppSimulator("cp1", version="ocpp2.0.1")
    caplog.set_level(logging.INFO)
    await sim.async_connect(csms.url)
    charger = csms.chargers["cp1"]
    await wait_for(lambda: charger.available, what="available")
    await sim.async_plug_in(SimCar())
    await sim.async_step(60.0)
    await wait_for(lambda: (charger.power_w or 0.0) > 0.0, what="power")
    await asyncio.sleep(2.5)  # heartbeats every second keep it available
    assert charger.available
    assert _availability_lines(caplog) == []

    sim.freeze()
    await wait_for(lambda: not charger.available, timeout_s=5.0, what="silence")
    assert charger.state.connected  # no FIN: the socket is still open
    assert charger.power_w is None
    assert "silent" in (charger.state.unavailable_reason or "")
    with pytest.raises(DeviceUnavailableError, match="not responding"):
        await charger.async_set_power(3000.0)
    await asyncio.sleep(2.0)  # still silent: no second log line
    assert len(_availability_lines(caplog)) == 1

    sim.thaw()
    await wait_for(lambda: charger.available, timeout_s=5.0, what="back")
    await wait_for(lambda: charger.power_w is not None, what="power again")
    lines = _availability_lines(caplog)
    assert len(lines) == 2
    assert "unavailable" in lines[0]
    assert "available again" in lines[1]


async def test_charger_that_stops_answering_calls_is_unavailable_at_once(
    make_csms: CsmsFactory,
) -> None:
    """Boot, then no answer and no FIN: unavailable after one response timeout."""
    options = SessionOptions(response_timeout_s=0.5, boot_wait_s=0.1)
    csms = await make_csms(
        ChargerConfig(charger_id="mute"), session=options, websocket_heartbeat_s=None
    )
    charger = csms.chargers["mute"]
    async with raw_ws(csms.url + "mute") as ws:
        boot = {
            "chargingStation": {"vendorName": "X", "model": "Y"},
            "reason": "PowerUp",
        }
        await ws.send_str(json.dumps([2, "b", "BootNotification", boot]))
        assert (await next_reply(ws))[:2] == [3, "b"]
        await wait_for(lambda: charger.state.accepted_boot, what="configured")
        # It never answers the GetVariables the CSMS sends now.
        await wait_for(lambda: not charger.available, timeout_s=2.0, what="mute")
        assert charger.state.connected
        assert charger.power_w is None


async def test_dead_link_without_fin_is_closed_by_websocket_pings(
    make_csms: CsmsFactory,
) -> None:
    """A peer that stops answering pings is dropped; the charger goes offline."""
    csms = await make_csms(
        ChargerConfig(charger_id="gone"),
        session=SessionOptions(response_timeout_s=30.0, boot_wait_s=0.1),
        websocket_heartbeat_s=0.4,
    )
    charger = csms.chargers["gone"]
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            csms.url + "gone", protocols=("ocpp1.6",), autoping=False
        ) as ws,
    ):
        boot = {"chargePointVendor": "X", "chargePointModel": "Y"}
        await ws.send_str(json.dumps([2, "b", "BootNotification", boot]))
        await wait_for(lambda: charger.state.accepted_boot, what="booted")
        # From here on nothing is read and no pong goes back.
        await wait_for(lambda: not charger.state.connected, timeout_s=3.0)
    assert not charger.available
    assert charger.power_w is None


async def test_refusals_a_peer_can_repeat_do_not_flood_the_log(
    make_csms: CsmsFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Garbage frames, wrong passwords and foreign subprotocols: one warning each."""
    csms = await make_csms(ChargerConfig(charger_id="cp1", password="right"))
    caplog.set_level(logging.WARNING)
    async with aiohttp.ClientSession() as session:
        for _ in range(20):
            with pytest.raises(aiohttp.WSServerHandshakeError):
                async with session.ws_connect(
                    csms.url + "cp1",
                    protocols=("ocpp1.6",),
                    headers={
                        "Authorization": aiohttp.encode_basic_auth("cp1", "wrong")
                    },
                ):
                    pass
            with pytest.raises(aiohttp.WSServerHandshakeError):
                async with session.ws_connect(csms.url + "cp1", protocols=("mqtt",)):
                    pass
        async with session.ws_connect(
            csms.url + "cp1",
            protocols=("ocpp1.6",),
            headers={"Authorization": aiohttp.encode_basic_auth("cp1", "right")},
        ) as ws:
            for index in range(50):
                await ws.send_str(f"garbage {index}")
                assert (await next_reply(ws))[2] == "FormatViolation"
                await ws.send_bytes(b"\x00")
                assert (await next_reply(ws))[2] == "FormatViolation"
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len([m for m in messages if "credentials" in m]) == 1
    assert len([m for m in messages if "subprotocol" in m]) == 1
    assert len([m for m in messages if "malformed frame" in m]) == 1
    assert len([m for m in messages if "binary frame" in m]) == 1


async def test_a_crashing_configuration_step_still_sends_the_station_limit(
    make_csms: CsmsFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug while reading the configuration is logged; the limit still goes out."""
    from custom_components.stroomwijs.engine.drivers.ocpp.ocpp2 import (  # noqa: PLC0415
        Ocpp2Handlers,
    )
    from custom_components.stroomwijs.engine.simulate.ocpp_chargepoint import (  # noqa: PLC0415
        OcppSimulator,
    )

    async def unreadable(self: Ocpp2Handlers) -> None:
        del self
        raise KeyError("attribute_value")

    monkeypatch.setattr(Ocpp2Handlers, "async_detect", unreadable)
    csms = await make_csms(ChargerConfig(charger_id="cp1"))
    sim = OcppSimulator("cp1", version="ocpp2.0.1")
    await sim.async_connect(csms.url)
    charger = csms.chargers["cp1"]
    await wait_for(lambda: charger.state.applied_limit_w is not None, what="limit")
    assert sim.station.station_max is not None
    assert "crashed" in caplog.text
    assert "attribute_value" in (charger.state.last_error or "")


async def test_idle_unknown_ids_give_up_their_place_but_are_not_reported_again(
    make_csms: CsmsFactory,
) -> None:
    """Ids that came and went cannot block discovery for good."""
    seen: list[PendingCharger] = []
    csms = await make_csms(
        seen=seen, max_pending=2, new_ids_per_minute=1000.0, pending_idle_s=0.3
    )
    for charger_id in ("gone-1", "gone-2"):
        async with session_ws(csms.url + charger_id):
            pass
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        async with session_ws(csms.url + "newcomer"):
            pass
    assert err.value.status == 503  # both places taken, not idle long enough
    await asyncio.sleep(0.4)
    async with session_ws(csms.url + "newcomer"):
        pass
    assert "newcomer" in csms.pending
    assert len(csms.pending) == 2
    await asyncio.sleep(0.4)
    async with session_ws(csms.url + "gone-1"):  # back after being forgotten
        pass
    await wait_for(lambda: "gone-1" in csms.pending, what="gone-1 back")
    await asyncio.sleep(0.1)
    assert [p.charger_id for p in seen].count("gone-1") == 1
    assert sorted(p.charger_id for p in seen) == ["gone-1", "gone-2", "newcomer"]


async def _booted_raw(ws: aiohttp.ClientWebSocketResponse, version: str) -> None:
    if version == "ocpp1.6":
        boot: dict[str, Any] = {"chargePointVendor": "X", "chargePointModel": "Y"}
    else:
        boot = {
            "chargingStation": {"vendorName": "X", "model": "Y"},
            "reason": "PowerUp",
        }
    await ws.send_str(json.dumps([2, "boot", "BootNotification", boot]))
    assert (await next_reply(ws))[:2] == [3, "boot"]


def _meter_values(version: str, value: object, unique_id: str) -> str:
    sample: dict[str, Any] = {"measurand": "Power.Active.Import"}
    stamp = "2026-11-28T08:00:00Z"
    if version == "ocpp1.6":
        sample |= {"value": str(value), "unit": "W"}
        payload: dict[str, Any] = {
            "connectorId": 1,
            "meterValue": [{"timestamp": stamp, "sampledValue": [sample]}],
        }
    else:
        sample |= {"value": value}
        payload = {
            "evseId": 1,
            "meterValue": [{"timestamp": stamp, "sampledValue": [sample]}],
        }
    # json.dumps writes NaN and Infinity as the bare literals a peer can send.
    return json.dumps([2, unique_id, "MeterValues", payload])


@pytest.mark.parametrize("version", ["ocpp2.0.1", "ocpp1.6"])
async def test_non_finite_or_absurd_charger_power_reads_as_unknown(
    make_csms: CsmsFactory, version: str
) -> None:
    """NaN, Infinity and 10^12 W never reach the guard as a number."""
    csms = await make_csms(
        ChargerConfig(charger_id="cp1"),
        session=SessionOptions(response_timeout_s=0.2, boot_wait_s=0.1),
    )
    charger = csms.chargers["cp1"]
    async with raw_ws(csms.url + "cp1", version) as ws:
        await _booted_raw(ws, version)
        await wait_for(lambda: charger.state.accepted_boot, what="configured")
        for index, value in enumerate(
            [2500.0, float("nan"), 3000.0, float("inf"), 4000.0, 1e12, -1e12]
        ):
            await ws.send_str(_meter_values(version, value, f"m{index}"))
            reply = await next_reply(ws)
            assert reply[:2] == [3, f"m{index}"], reply
            power = charger.state.power_w
            assert power is None or math.isfinite(power)
            if value in (2500.0, 3000.0, 4000.0):
                assert power == value
            else:
                assert power is None
    assert charger.state.rejected_readings == 4


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "value",
                    "measurand",
                    "phase",
                    "unit",
                    "unit_of_measure",
                    "multiplier",
                    "sampled_value",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)


@given(_JSON)
@settings(max_examples=300, deadline=None)
def test_meter_value_parsing_is_total_and_finite(meter_values: object) -> None:
    """Any payload shape: no exception, and every number that comes out is finite."""
    batch = meter_values if isinstance(meter_values, list) else [meter_values]
    reading = common.parse_meter_values(
        [item for item in batch if isinstance(item, dict)]
    )
    for value in (
        reading.power_w,
        reading.energy_wh,
        reading.soc_pct,
        reading.current_a,
    ):
        assert value is None or math.isfinite(value)


@given(st.text(max_size=400))
@settings(max_examples=300, deadline=None)
def test_frame_helpers_never_raise(raw: str) -> None:
    """The helpers that read broken frames are total."""
    assert isinstance(common.json_too_deep(raw), bool)
    assert isinstance(common.guess_unique_id(raw), str)


async def test_charger_that_beats_but_never_answers_stays_unavailable_once(
    make_csms: CsmsFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Heartbeats alone do not make a charger that ignores CALLs available.

    It stays unavailable (one log line, no flapping) until it answers again.
    """
    caplog.set_level(logging.INFO)
    options = SessionOptions(response_timeout_s=0.3, boot_wait_s=0.1)
    csms = await make_csms(
        ChargerConfig(charger_id="deaf"), session=options, websocket_heartbeat_s=None
    )
    charger = csms.chargers["deaf"]
    async with raw_ws(csms.url + "deaf") as ws:
        await _booted_raw(ws, "ocpp2.0.1")
        await wait_for(lambda: not charger.available, timeout_s=3.0, what="deaf")
        for index in range(5):  # it beats, but still ignores every CALL
            await ws.send_str(json.dumps([2, f"hb{index}", "Heartbeat", {}]))
            assert (await next_reply(ws))[:2] == [3, f"hb{index}"]
            await asyncio.sleep(0.4)  # a probe goes out and times out
            assert not charger.available
        # Now it answers: the probe's answer brings it back.
        await ws.send_str(json.dumps([2, "hb-last", "Heartbeat", {}]))
        async with asyncio.timeout(3):
            while not charger.available:
                msg = await ws.receive()
                frame = json.loads(msg.data)
                if frame[0] == 2:
                    status = {"status": "Accepted"}
                    await ws.send_str(json.dumps([3, frame[1], status]))
        lines = _availability_lines(caplog)
    assert len(lines) == 2, lines
    assert "unavailable" in lines[0]
    assert "available again" in lines[1]


@pytest.mark.parametrize("path", ["evil%0Aline", "tab%09id", "a%2Fb", "x" * 49])
async def test_charger_ids_with_control_characters_or_slashes_are_refused(
    make_csms: CsmsFactory, path: str
) -> None:
    """An id that could forge log lines or never match a charger gets 404."""
    seen: list[PendingCharger] = []
    csms = await make_csms(seen=seen)
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        async with raw_ws(csms.url + path):
            pass
    assert err.value.status == 404
    assert seen == []
    assert dict(csms.pending) == {}


FUZZ_FRAMES = [
    json.loads(line)
    for line in (Path(__file__).parent / "fuzz" / "ocpp_frames.jsonl")
    .read_text(encoding="utf-8")
    .splitlines()
    if line
] + [
    # Too big to keep in the file: the frames that used to end a session.
    "[" * 131_000 + "]" * 131_000,
    '{"a":' * 20_000 + "1" + "}" * 20_000,
    '[2,"deep","Heartbeat",' + "[" * 60_000 + "]" * 60_000 + "]",
]


@pytest.mark.parametrize("protocol", ["ocpp2.1", "ocpp2.0.1", "ocpp1.6"])
@pytest.mark.parametrize("charger_id", ["known", "stranger"])
async def test_fuzz_corpus_never_ends_a_session(
    make_csms: CsmsFactory, protocol: str, charger_id: str
) -> None:
    """Every frame of the corpus is answered or dropped; the session lives on."""
    csms = await make_csms(
        ChargerConfig(charger_id="known"),
        session=SessionOptions(response_timeout_s=5.0, boot_wait_s=5.0),
    )
    async with raw_ws(csms.url + charger_id, protocol) as ws:
        for index, frame in enumerate(FUZZ_FRAMES):
            await ws.send_str(frame)
            probe = f"probe-{index}"
            await ws.send_str(json.dumps([2, probe, "Heartbeat", {}]))
            async with asyncio.timeout(5):
                while True:
                    msg = await ws.receive()
                    assert msg.type is aiohttp.WSMsgType.TEXT, (frame[:80], msg)
                    reply = json.loads(msg.data)
                    if reply[:2] == [3, probe]:
                        break
                    assert reply[0] in (2, 3, 4), reply
