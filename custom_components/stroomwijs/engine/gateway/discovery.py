"""Announce the gateway to the Home Assistant Supervisor (add-on discovery).

Inside an add-on the Supervisor gives the container ``SUPERVISOR_TOKEN``.
With it the gateway posts one discovery message to the Supervisor's
``/discovery`` endpoint (what ``bashio::discovery`` does), for the service
``stroomwijs`` that ``config.yaml`` declares under ``discovery``::

    POST http://supervisor/discovery
    Authorization: Bearer $SUPERVISOR_TOKEN
    {"service": "stroomwijs",
     "config": {"host": "<the add-on's host name>", "port": 8766, "token": "..."}}

The Supervisor passes the message on to Home Assistant, which starts the
integration's ``async_step_hassio``. The Supervisor may not answer yet when
the gateway starts (both start at boot), so a failed announcement is tried
again after 5 s, then 10, 20, up to 60 s, until it is accepted. Nothing is
sent without the token; the message holds the API token, so it only ever
goes to the Supervisor.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import logging
from typing import Any, Final

import aiohttp

_LOGGER = logging.getLogger(__name__)

SERVICE: Final = "stroomwijs"
SUPERVISOR_URL: Final = "http://supervisor"
TOKEN_ENV: Final = "SUPERVISOR_TOKEN"  # noqa: S105 - the variable's name
RETRY_FIRST_S: Final = 5.0
RETRY_MAX_S: Final = 60.0
REQUEST_TIMEOUT_S: Final = 10.0


class DiscoveryError(Exception):
    """The Supervisor did not accept the announcement."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Announcement:
    """What the gateway tells the Supervisor, and where."""

    host: str
    """The host name Home Assistant reaches the API on (the add-on's)."""
    port: int
    token: str
    supervisor_token: str
    supervisor_url: str = SUPERVISOR_URL

    def message(self) -> dict[str, Any]:
        """Return the discovery message's body."""
        return {
            "service": SERVICE,
            "config": {"host": self.host, "port": self.port, "token": self.token},
        }


async def async_announce(
    session: aiohttp.ClientSession, announcement: Announcement
) -> str | None:
    """Post the announcement once; return the discovery message's uuid.

    Raises ``DiscoveryError`` when the Supervisor refuses it or cannot be
    reached.
    """
    url = f"{announcement.supervisor_url.rstrip('/')}/discovery"
    try:
        async with session.post(
            url,
            json=announcement.message(),
            headers={"Authorization": f"Bearer {announcement.supervisor_token}"},
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
        ) as response:
            if response.status != 200:  # noqa: PLR2004
                text = (await response.text())[:200]
                msg = f"the Supervisor answered {response.status}: {text}"
                raise DiscoveryError(msg)
            body = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as err:
        msg = f"the Supervisor cannot be reached: {type(err).__name__}: {err}"
        raise DiscoveryError(msg) from err
    data = body.get("data") if isinstance(body, dict) else None
    uuid = data.get("uuid") if isinstance(data, dict) else None
    return uuid if isinstance(uuid, str) else None


async def async_announce_until_accepted(
    announcement: Announcement,
    *,
    retry_first_s: float = RETRY_FIRST_S,
    retry_max_s: float = RETRY_MAX_S,
) -> str | None:
    """Announce, trying again with a growing pause until the Supervisor accepts.

    Returns the message's uuid. Cancel the task to give up.
    """
    delay = retry_first_s
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                uuid = await async_announce(session, announcement)
            except DiscoveryError as err:
                _LOGGER.warning(
                    "Announcing the gateway to the Supervisor failed (%s); "
                    "trying again in %.0f s",
                    err,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, retry_max_s)
                continue
            _LOGGER.info(
                "Announced the gateway to the Supervisor as %s:%d (discovery %s)",
                announcement.host,
                announcement.port,
                uuid,
            )
            return uuid
