"""The HomeWizard P1 poller against a real HTTP server on loopback (API v1)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import ClientSession, web
import pytest

from custom_components.stroomwijs.engine.meter.core import Meter
from custom_components.stroomwijs.engine.meter.homewizard import (
    API_V1,
    HomeWizardAuthError,
    HomeWizardPoller,
    create_api,
)
from custom_components.stroomwijs.engine.simulate.p1 import corrupt_crc

from .telegrams import real, until


class FakeDongle:
    """A HomeWizard P1 API v1 as served by the dongle, on 127.0.0.1."""

    def __init__(self) -> None:
        """Serve the real Fluvius telegram."""
        self.telegram = real("telegram_fluvius_v171_alt.txt").decode("ascii")
        self.status = 200
        self.requests = 0

    async def telegram_view(self, _request: web.Request) -> web.Response:
        """Return the raw telegram as the dongle does."""
        self.requests += 1
        if self.status != 200:
            return web.Response(status=self.status)
        return web.Response(text=self.telegram)


@pytest.fixture
async def dongle() -> AsyncIterator[tuple[FakeDongle, str]]:
    """Run the fake dongle; yield it and its host:port."""
    fake = FakeDongle()
    app = web.Application()
    app.router.add_get("/api/v1/telegram", fake.telegram_view)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield fake, f"127.0.0.1:{port}"
    await runner.cleanup()


async def test_poller_decodes_the_dongles_raw_telegram(
    dongle: tuple[FakeDongle, str],
) -> None:
    """The raw telegram gives the full reading, Belgian fields included."""
    fake, host = dongle
    async with ClientSession() as session:
        meter = Meter()
        poller = HomeWizardPoller(meter, create_api(host, session, api_version=API_V1))
        assert await poller.poll_once()
        assert not await poller.poll_once()  # same telegram: nothing new
    meter.close()
    reading = meter.last_reading
    assert reading is not None
    assert reading.dsmr_version == "5B"
    assert reading.import_w == 338.0
    assert reading.month_peak_w == 3064.0
    assert fake.requests == 2


async def test_poller_counts_bad_crc_and_survives_a_dongle_outage(
    dongle: tuple[FakeDongle, str],
) -> None:
    """Bad CRC is counted; HTTP errors make it unavailable until it answers."""
    fake, host = dongle
    async with ClientSession() as session:
        meter = Meter(stale_after=5)
        poller = HomeWizardPoller(
            meter,
            create_api(host, session, api_version=API_V1),
            interval=0.02,
            backoff_max=0.05,
        )
        good = fake.telegram
        fake.telegram = corrupt_crc(good.encode()).decode()
        assert not await poller.poll_once()
        assert meter.stats.crc_errors == 1
        fake.status = 500
        poller.start()
        try:
            # python-homewizard-energy retries a failing request with backoff.
            await until(lambda: meter.stats.connection_errors >= 1, limit=10)
            assert not meter.available
            fake.status = 200
            fake.telegram = good
            await until(lambda: meter.available, limit=10)
        finally:
            await poller.stop()


async def test_disabled_local_api_is_an_auth_error(
    dongle: tuple[FakeDongle, str],
) -> None:
    """A 403 (local API switched off in the app) is reported as such."""
    fake, host = dongle
    fake.status = 403
    async with ClientSession() as session:
        poller = HomeWizardPoller(
            Meter(), create_api(host, session, api_version=API_V1)
        )
        with pytest.raises(HomeWizardAuthError):
            await poller.poll_once()
