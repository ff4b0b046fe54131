"""What every version's session does around the protocol messages.

A session is one websocket connection of one charger. It belongs to the
``OcppCharger`` (when the user accepted the charger id) or to nobody (a
pending, unknown charger that may only boot and beat). After the connection
opens it waits briefly for a BootNotification (chargers that merely
reconnect do not boot again), then configures the charger: detect the rate
unit and stack depth, (re-)send the charger-side limit, ask for the
transaction state and re-apply the setpoint.
"""

# The ocpp library is untyped and OCPP payloads are free-form JSON.

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import json
import logging
import time
from typing import Any, Protocol, cast

from ocpp.routing import after as _ocpp_after

from custom_components.stroomwijs.engine.capabilities import DeviceUnavailableError

from .charger import OcppCharger
from .common import (
    POWER_MEASURANDS,
    ConnectionClosedError,
    MeterReading,
    SessionBase,
)

_LOGGER = logging.getLogger(__name__)

STATION_PROFILE_ID = 1
"""Profile id of the station-wide maximum (the DSO limit)."""
TX_PROFILE_ID = 2
"""Profile id of the transaction profile (the plan's setpoint)."""
CLOCK_SKEW = timedelta(minutes=1)
"""Absolute schedules start this far in the past, for chargers whose clock lags."""
SOC_RANGE = (0.0, 100.0)
PLAUSIBLE_POWER_FACTOR = 2.0
"""A charger's power beyond this times its hardware maximum is implausible."""


def after[F: Callable[..., Any]](action: str) -> Callable[[F], F]:
    """Typed wrapper around ``ocpp.routing.after``."""
    return cast("Callable[[F], F]", _ocpp_after(action))


def schedule_start() -> str:
    """``startSchedule`` for an absolute schedule that is in force now."""
    start = datetime.now(UTC) - CLOCK_SKEW
    return start.isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingCharger:
    """A charger id the central system does not know (yet)."""

    charger_id: str
    protocol: str | None
    remote: str | None
    vendor: str | None = None
    model: str | None = None
    serial: str | None = None
    authenticated: bool = False
    seen: datetime = field(default_factory=lambda: datetime.now(UTC))


def _profile_key(target: int, profile: Mapping[str, Any]) -> str:
    """Return the profile's content without its start times, as a key."""

    def strip(value: object) -> object:
        if isinstance(value, Mapping):
            return {k: strip(v) for k, v in value.items() if k != "start_schedule"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return json.dumps([target, strip(profile)], sort_keys=True, default=str)


class SessionHost(Protocol):
    """The central system as a session sees it."""

    def report_pending(self, pending: PendingCharger) -> None:
        """Note that an unknown charger identified itself."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionOptions:
    """Timing of a session."""

    response_timeout_s: float = 30.0
    boot_wait_s: float = 5.0
    heartbeat_interval_s: int = 300
    """The Heartbeat interval the boot answer sets."""
    pending_retry_s: int = 60
    silence_timeout_s: float | None = None
    """A charger that sends nothing for this long is not responding; None:
    one heartbeat interval plus one response timeout."""

    @property
    def silence_s(self) -> float:
        """How long an accepted charger may stay silent."""
        if self.silence_timeout_s is not None:
            return self.silence_timeout_s
        return self.heartbeat_interval_s + self.response_timeout_s


class BaseSession(SessionBase):
    """Connection lifecycle shared by the 2.1, 2.0.1 and 1.6 sessions."""

    version: str = ""

    charger: OcppCharger | None
    host: SessionHost
    options: SessionOptions
    remote: str | None

    def setup(
        self,
        *,
        charger: OcppCharger | None,
        host: SessionHost,
        options: SessionOptions,
        remote: str | None,
        authenticated: bool,
    ) -> None:
        """Bind the session (called right after construction)."""
        self.charger = charger
        self.host = host
        self.options = options
        self.remote = remote
        self.authenticated = authenticated
        self.accepted = charger is not None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._booted = asyncio.Event()
        self._configured_once = False
        self._closing = False
        self._last_frame = time.monotonic()
        self._heard = asyncio.Event()
        self._profile_lock = asyncio.Lock()
        self._unanswered = False
        self._probing = False
        self._sent_profiles: dict[int, str] = {}

    # -- helpers -----------------------------------------------------------------
    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` in a task owned by this session; log it if it crashes."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None and not isinstance(error, ConnectionClosedError):
            _LOGGER.error("%s: background task failed", self.id, exc_info=error)

    async def async_run(self) -> None:
        """Serve the connection until it closes."""
        if self.charger is not None:
            self.charger.attach(self)
            self.spawn(self._async_startup())
            self.spawn(self._async_watch_silence())
        else:
            self.spawn(self._async_report_pending())
        try:
            await cast("Any", self).start()
        finally:
            if self.charger is None and not self._booted.is_set():
                self._report_pending_now()  # it left before booting
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self.charger is not None:
                self.charger.detach(self)

    # -- liveness ----------------------------------------------------------------
    def frame_received(self) -> None:
        """Note a frame from the charger: it is alive (again).

        A charger that was silent is back with any frame. One that missed an
        answer must answer again: a frame from it only starts a probe (one
        CALL at a time), and the answer to that brings it back.
        """
        self._last_frame = time.monotonic()
        self._heard.set()
        charger = self.charger
        if charger is None or charger.state.responsive:
            return
        if not self._unanswered:
            self._back()
        elif not self._probing:
            self._probing = True
            self.spawn(self._async_probe())

    def answer_received(self) -> None:
        """Note an answer to one of our CALLs: the charger executes them again."""
        self._unanswered = False
        charger = self.charger
        if charger is not None and not charger.state.responsive:
            self._back()

    def _back(self) -> None:
        charger = self.charger
        if charger is None or charger.session is not self:
            return
        charger.set_responsive(responsive=True)
        self._resend_after_silence()

    async def _async_probe(self) -> None:
        try:
            await self.async_probe()
        except DeviceUnavailableError as err:
            _LOGGER.debug("%s: probe: %s", self.id, err)
        finally:
            self._probing = False

    def call_timed_out(self, what: str) -> None:
        """Mark the charger not responding: it missed the answer to a CALL."""
        charger = self.charger
        if charger is not None and charger.session is self:
            self._unanswered = True
            charger.set_responsive(
                responsive=False, reason=f"no answer to {what} in time"
            )

    def _resend_after_silence(self) -> None:
        """Send the limit and setpoint that may have changed while silent."""

        async def _run() -> None:
            for step in (self.async_apply_limits, self.async_reapply):
                try:
                    await step()
                except DeviceUnavailableError as err:
                    _LOGGER.warning("%s: %s failed: %s", self.id, step.__name__, err)

        if self.charger is not None and self.charger.state.accepted_boot:
            self.spawn(_run())

    async def _async_watch_silence(self) -> None:
        """Mark the charger not responding once it stays silent too long."""
        limit = self.options.silence_s
        while True:
            self._heard.clear()
            remaining = self._last_frame + limit - time.monotonic()
            if remaining > 0:
                with suppress(TimeoutError):
                    async with asyncio.timeout(remaining):
                        await self._heard.wait()
                continue
            charger = self.charger
            if charger is not None and charger.session is self:
                charger.set_responsive(
                    responsive=False, reason=f"silent for {limit:g} s"
                )
            await self._heard.wait()

    async def _async_report_pending(self) -> None:
        """Report an unknown id after ``boot_wait_s`` if it did not boot.

        A boot reports it at once, with vendor and model.
        """
        with suppress(TimeoutError):
            async with asyncio.timeout(self.options.boot_wait_s):
                await self._booted.wait()
        if not self._booted.is_set():  # else the boot reported it, with details
            self._report_pending_now()

    def _report_pending_now(self) -> None:
        self.host.report_pending(
            PendingCharger(
                charger_id=self.id,
                protocol=self.version,
                remote=self.remote,
                authenticated=self.authenticated,
            )
        )

    async def async_close(self) -> None:
        """Close the websocket (a newer connection replaced this one)."""
        self._closing = True
        close = getattr(self._connection, "close", None)
        if close is not None:
            await close()

    def boot_status(
        self,
        *,
        vendor: str | None,
        model: str | None,
        serial: str | None,
        fw: str | None,
    ) -> str:
        """Answer a BootNotification: Accepted for known ids, else Pending."""
        charger = self.charger
        if charger is None:
            self.host.report_pending(
                PendingCharger(
                    charger_id=self.id,
                    protocol=self.version,
                    remote=self.remote,
                    vendor=vendor,
                    model=model,
                    serial=serial,
                    authenticated=self.authenticated,
                )
            )
            return "Pending"
        state = charger.state
        state.vendor, state.model, state.serial, state.firmware = (
            vendor,
            model,
            serial,
            fw,
        )
        charger.notify()
        return "Accepted"

    @property
    def boot_interval(self) -> int:
        """Heartbeat interval (accepted) or retry interval (pending)."""
        if self.charger is None:
            return self.options.pending_retry_s
        return self.options.heartbeat_interval_s

    def booted(self) -> None:
        """Configure (again) once the boot answer went out."""
        if self.charger is None:
            self._booted.set()
            return
        self._sent_profiles.clear()  # a rebooted charger may have lost them
        if self._booted.is_set() or self._configured_once:
            self.spawn(self._async_configure())
        self._booted.set()

    async def _async_startup(self) -> None:
        with suppress(TimeoutError):
            async with asyncio.timeout(self.options.boot_wait_s):
                await self._booted.wait()
        await self._async_configure()

    async def _async_configure(self) -> None:
        charger = self.charger
        if charger is None:
            return
        self._configured_once = True
        charger.state.accepted_boot = True
        charger.notify()
        # Each step on its own: a charger that cannot report its configuration
        # or refuses TriggerMessage must still get its limit.
        for step in (
            self.async_detect,
            self.async_apply_limits,
            self.async_request_state,
            self.async_reapply,
        ):
            try:
                await step()
            except DeviceUnavailableError as err:
                _LOGGER.warning("%s: %s failed: %s", self.id, step.__name__, err)
                charger.state.last_error = str(err)
                charger.notify()
            except Exception as err:
                # A bug in one step (say, an answer we cannot read) must not
                # keep the station limit from going out in the next one.
                _LOGGER.exception("%s: %s crashed", self.id, step.__name__)
                charger.state.last_error = f"{step.__name__}: {err!r}"
                charger.notify()

    async def async_reapply(self) -> None:
        """Send the wanted setpoint again (after connect, tx start or new needs)."""
        charger = self.charger
        if charger is None or not charger.plugged_in:
            return
        desired = charger.desired_setpoint_w
        if desired is None:
            return
        await self.async_apply_setpoint(charger.clamp(desired))

    def reapply_soon(self) -> None:
        """Re-apply in the background, logging (not raising) failures."""

        async def _run() -> None:
            try:
                await self.async_reapply()
            except DeviceUnavailableError as err:
                _LOGGER.warning("%s: re-applying setpoint failed: %s", self.id, err)

        if self.charger is not None and self.charger.state.accepted_boot:
            self.spawn(_run())

    def apply_reading(self, reading: MeterReading) -> None:
        """Store a meter reading, dropping implausible values.

        A power the charger sent as NaN, Infinity or text, or beyond twice
        what the charger can carry, is counted and makes the power unknown
        (None): it is never passed on as a number.
        """
        charger = self.charger
        if charger is None:
            return
        state = charger.state
        limit = PLAUSIBLE_POWER_FACTOR * charger.config.hardware_max_w
        power = reading.power_w
        bad_power = power is None and bool(reading.unreadable & POWER_MEASURANDS)
        if power is not None and abs(power) > limit:
            bad_power = True
        if bad_power:
            state.rejected_readings += 1
            state.power_w = None
            self.log_throttle.refusal(
                "power",
                "%s: implausible or unreadable power %s ignored (more than %.0f W)",
                self.id,
                power,
                limit,
            )
        elif power is not None:
            state.power_w = power
        if reading.current_a is not None:
            state.current_a = reading.current_a
        if reading.energy_wh is not None:
            state.energy_wh = reading.energy_wh
            if (
                state.transaction_id is not None
                and state.session_start_energy_wh is None
            ):
                state.session_start_energy_wh = reading.energy_wh
        low, high = SOC_RANGE
        if reading.soc_pct is not None and low <= reading.soc_pct <= high:
            state.soc_pct = reading.soc_pct
        state.last_seen = datetime.now(UTC)
        charger.notify()

    async def send_profile_once(
        self,
        target: int,
        profile: Mapping[str, Any],
        send: Callable[[], Coroutine[Any, Any, None]],
    ) -> None:
        """Run ``send`` unless this connection already set this very profile.

        Re-applies come from several places at once (the start-up, a new
        transaction, new EV needs); one lock and the content of the last
        accepted profile per id (its start time aside) make sure the charger
        gets each profile once.
        """
        profile_id = int(
            profile.get("id", profile.get("charging_profile_id", -1))  # 2.x / 1.6
        )
        key = _profile_key(target, profile)
        async with self._profile_lock:
            if self._sent_profiles.get(profile_id) == key:
                _LOGGER.debug("%s: profile %s unchanged; not sent", self.id, profile_id)
                return
            self._sent_profiles.pop(profile_id, None)
            await send()
            self._sent_profiles[profile_id] = key

    def require_charger(self) -> OcppCharger:
        """Return the charger; DeviceUnavailableError for pending sessions."""
        if self.charger is None:
            msg = f"charger {self.id} is not accepted"
            raise DeviceUnavailableError(msg)
        return self.charger

    def limit_in_unit(self, watts: float, unit: str) -> float:
        """Convert a power to the schedule's unit (A rounded down to 0.1 A)."""
        charger = self.require_charger()
        if unit == "W":
            return float(round(watts))
        amps = watts / charger.config.watts_per_amp
        return max(0.0, int(amps * 10.0 + 1e-9) / 10.0)

    def record_setpoint(self, setpoint_w: float) -> None:
        """Record that the charger accepted ``setpoint_w``."""
        charger = self.require_charger()
        charger.state.applied_setpoint_w = setpoint_w
        charger.state.last_error = None
        charger.notify()

    def record_limit(self, limit_w: float) -> None:
        """Record that the charger accepted the station-wide limit."""
        charger = self.require_charger()
        charger.state.applied_limit_w = limit_w
        charger.notify()

    # -- per version --------------------------------------------------------------
    async def async_detect(self) -> None:
        """Read rate unit and stack depth from the charger's configuration."""
        raise NotImplementedError

    async def async_apply_limits(self) -> None:
        """Send the station-wide maximum profile."""
        raise NotImplementedError

    async def async_apply_setpoint(self, setpoint_w: float) -> None:
        """Send the transaction profile."""
        raise NotImplementedError

    async def async_request_state(self) -> None:
        """Ask the charger to report its transaction and connector state."""
        raise NotImplementedError

    async def async_probe(self) -> None:
        """Send one harmless CALL (TriggerMessage Heartbeat) to see it answer."""
        raise NotImplementedError
