"""Feed the meter from a HomeWizard P1 meter over its local API.

The HomeWizard P1 dongle hands out the meter's latest raw telegram
(``/api/v1/telegram`` on API v1, ``/api/telegram`` on v2). Stroomwijs polls
that and decodes it exactly like a telegram from a cable, so every field
(1-0:1.4.0, 1-0:1.6.0, 0-0:98.1.0, the text message) is available and
nothing depends on how HomeWizard names things.

API v1 (discovered as ``_hwenergy._tcp``) needs no credentials; API v2
(``_homewizard._tcp``) needs a token, obtained with ``request_token`` while
the user presses the device's button.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import ClientSession
from homewizard_energy import HomeWizardEnergy, HomeWizardEnergyV1, HomeWizardEnergyV2
from homewizard_energy.errors import (
    DisabledError,
    HomeWizardEnergyException,
    UnauthorizedError,
)

from .core import Meter
from .decode import TelegramDecoder, TelegramError, detect_version, normalise_line_ends
from .versions import VERSIONS

API_V1 = "v1"
API_V2 = "v2"
TOKEN_NAME = "stroomwijs"  # noqa: S105  (the user name shown in the HomeWizard app)


class HomeWizardAuthError(Exception):
    """The device refused the token (v2) or has its local API disabled (v1)."""


def create_api(
    host: str, session: ClientSession, *, api_version: str, token: str | None = None
) -> HomeWizardEnergy:
    """Build a python-homewizard-energy client on the injected session."""
    if api_version == API_V2:
        return HomeWizardEnergyV2(host, token=token, clientsession=session)
    return HomeWizardEnergyV1(host, clientsession=session)


async def request_token(host: str, session: ClientSession) -> str | None:
    """Ask a v2 device for a token; None until the user pressed its button."""
    api = HomeWizardEnergyV2(host, clientsession=session)
    try:
        return await api.get_token(TOKEN_NAME)
    except DisabledError:
        return None


class HomeWizardPoller:
    """Poll a HomeWizard P1 meter's raw telegram and feed the meter."""

    def __init__(
        self,
        meter: Meter,
        api: HomeWizardEnergy,
        *,
        interval: float = 1.0,
        backoff_max: float = 60.0,
    ) -> None:
        """Prepare to poll ``api`` every ``interval`` seconds."""
        self.meter = meter
        self.api = api
        self.interval = interval
        self.backoff_max = backoff_max
        self.auth_failed = False
        """Whether the device refused us on the last attempt (token, API off)."""
        self._decoder: TelegramDecoder | None = None
        self._last_text: str | None = None
        self._task: asyncio.Task[None] | None = None

    async def poll_once(self) -> bool:
        """Fetch and feed one telegram; True if it was new and valid.

        Raises HomeWizardAuthError when the device refuses us, and
        HomeWizardEnergyException when it cannot be reached.
        """
        try:
            text = normalise_line_ends(await self.api.telegram())
        except (UnauthorizedError, DisabledError) as err:
            self.auth_failed = True
            raise HomeWizardAuthError(str(err) or type(err).__name__) from err
        self.auth_failed = False
        if text == self._last_text:
            return False  # the dongle has not seen a new telegram yet
        self._last_text = text
        if self._decoder is None:
            self._decoder = TelegramDecoder(VERSIONS[detect_version(text)])
        try:
            values = self._decoder.decode(text)
        except TelegramError as err:
            stats = self.meter.stats
            if err.kind == "crc":
                stats.crc_errors += 1
            else:
                stats.parse_errors += 1
            stats.last_error = str(err)
            return False
        self.meter.process(values)
        return True

    def start(self) -> None:
        """Start polling in a background task."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self.run(), name=f"stroomwijs homewizard {self.api.host}"
            )

    async def stop(self) -> None:
        """Stop polling."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.meter.close()

    async def run(self) -> None:
        """Poll forever; back off while the device is away."""
        delay = self.interval
        connected = False
        while True:
            try:
                await self.poll_once()
            except (HomeWizardEnergyException, HomeWizardAuthError, OSError) as err:
                connected = False
                self.meter.stats.connection_errors += 1
                self.meter.stats.last_error = str(err) or type(err).__name__
                self.meter.mark_unavailable(f"{self.api.host}: {err}")
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff_max)
                continue
            if not connected:
                connected = True
                self.meter.stats.connects += 1
            delay = self.interval
            await asyncio.sleep(self.interval)
