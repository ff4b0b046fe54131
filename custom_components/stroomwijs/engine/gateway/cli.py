"""``stroomwijs gateway``: run one household with its local API until stopped.

    stroomwijs gateway --config household.yaml --state-dir /data \
        [--api-host 127.0.0.1] [--api-port 8766] [--token-file F]

Exit codes: 0 after SIGTERM/SIGINT (the state is saved), 2 for a document,
state folder or token that cannot be used, 3 when the API port is taken.
Everything heavy is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
from pathlib import Path
import signal
import socket
import sys
from typing import Final

DEFAULT_API_PORT: Final = 8766
DEFAULT_API_HOST: Final = "127.0.0.1"

_LOGGER = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``gateway`` sub-command."""
    parser = subparsers.add_parser(
        "gateway",
        help="run one household with its local WebSocket API (the add-on)",
        description=(
            "Run the household a document describes: meter, grid limits, "
            "guard, chargers and planner, with its state kept in a folder so "
            "it survives a restart, and an authenticated WebSocket API on "
            "API-HOST:API-PORT. Stops cleanly on SIGTERM or SIGINT."
        ),
    )
    parser.add_argument(
        "--config",
        type=Path,
        required=True,
        help="the household document (YAML, or JSON for a .json file)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        required=True,
        help="folder for state.json and the API token (made if missing)",
    )
    parser.add_argument(
        "--api-host",
        default=DEFAULT_API_HOST,
        help=f"address the API listens on (default {DEFAULT_API_HOST})",
    )
    parser.add_argument(
        "--api-port",
        type=int,
        default=DEFAULT_API_PORT,
        help=f"API port (default {DEFAULT_API_PORT}; 0 picks a free one)",
    )
    parser.add_argument(
        "--token-file",
        type=Path,
        help="API token file (default STATE_DIR/api_token; made 0600 if missing)",
    )
    parser.add_argument(
        "--ingress-port",
        type=int,
        help="serve the status page on this port (the add-on: 8099; 0: a free one)",
    )
    parser.add_argument(
        "--ingress-host",
        default=DEFAULT_API_HOST,
        help=f"address the status page listens on (default {DEFAULT_API_HOST})",
    )
    parser.add_argument(
        "--ingress-allow",
        action="append",
        metavar="ADDRESS",
        help="a peer the status page answers (repeatable; default the "
        "Supervisor's ingress proxy, 172.30.32.2)",
    )
    host = parser.add_argument_group(
        "installation settings",
        "these replace the document's values (the add-on's options)",
    )
    host.add_argument("--ocpp-host", help="address the OCPP central system binds")
    host.add_argument("--ocpp-port", type=int, help="OCPP central system port")
    host.add_argument(
        "--ocpp-security-profile",
        type=int,
        choices=(0, 1, 2),
        help="0: no authentication, 1: HTTP Basic, 2: TLS with HTTP Basic",
    )
    host.add_argument("--ocpp-certfile", help="TLS certificate (profile 2)")
    host.add_argument("--ocpp-keyfile", help="TLS private key (profile 2)")
    host.add_argument("--serial-port", help="the P1 cable (for a serial meter)")
    supervisor = parser.add_argument_group(
        "add-on discovery",
        "with SUPERVISOR_TOKEN in the environment (an add-on), the gateway "
        "announces its API to the Supervisor for the Stroomwijs integration",
    )
    supervisor.add_argument(
        "--announce-host",
        help="host name Home Assistant reaches the API on (default: this "
        "host's name, the add-on's host name in its container)",
    )
    supervisor.add_argument(
        "--announce-port",
        type=int,
        help="API port to announce (default: the port the API listens on)",
    )
    supervisor.add_argument(
        "--supervisor-url",
        default="http://supervisor",
        help="the Supervisor's API (default http://supervisor)",
    )
    parser.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        help="log level (default: info; -v: debug)",
    )
    parser.set_defaults(handler=_run)


def _fail(message: str, code: int = 2) -> int:
    print(f"stroomwijs gateway: {message}", file=sys.stderr)  # noqa: T201
    return code


async def _run(args: argparse.Namespace) -> int:  # noqa: C901, PLR0911, PLR0912, PLR0915
    from custom_components.stroomwijs.engine.household import (  # noqa: PLC0415
        HouseholdConfigError,
    )

    from .api import GatewayApi  # noqa: PLC0415
    from .auth import TOKEN_FILE, TokenError, load_or_create_token  # noqa: PLC0415
    from .service import (  # noqa: PLC0415
        Gateway,
        GatewayOptions,
        HostSettings,
        read_config,
    )

    level = args.log_level or ("debug" if args.verbose else "info")
    logging.getLogger().setLevel(level.upper())
    if level != "debug":
        # The ocpp library logs every message at INFO: one line per meter value.
        for noisy in ("ocpp", "websockets"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    if not 0 <= args.api_port <= 65535:  # noqa: PLR2004
        return _fail(f"--api-port: {args.api_port} is not a port")
    host = HostSettings(
        ocpp_host=args.ocpp_host,
        ocpp_port=args.ocpp_port,
        ocpp_security_profile=args.ocpp_security_profile,
        ocpp_certfile=args.ocpp_certfile or None,
        ocpp_keyfile=args.ocpp_keyfile or None,
        serial_port=args.serial_port or None,
    )
    try:
        host.check()
    except ValueError as err:
        return _fail(str(err))
    config_path: Path = args.config
    try:
        config = await asyncio.to_thread(read_config, config_path)
    except HouseholdConfigError as err:
        return _fail(f"{config_path}: {err}")
    except OSError as err:
        return _fail(f"{config_path}: {err.strerror or err}")
    state_dir: Path = args.state_dir
    try:
        await asyncio.to_thread(
            state_dir.mkdir, mode=0o700, parents=True, exist_ok=True
        )
        token_path: Path = args.token_file or state_dir / TOKEN_FILE
        token = await asyncio.to_thread(load_or_create_token, token_path)
    except TokenError as err:
        return _fail(str(err))
    except OSError as err:
        return _fail(f"{state_dir}: {err.strerror or err}")

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    gateway = Gateway(
        GatewayOptions(config_path=config_path, state_dir=state_dir, host=host),
        config,
    )
    api = GatewayApi(gateway, token, host=args.api_host, port=args.api_port)
    try:
        await api.async_start()
    except OSError as err:
        return _fail(
            f"the API cannot listen on {args.api_host}:{args.api_port}: {err}", 3
        )
    page = None
    if args.ingress_port is not None:
        from .ingress import SUPERVISOR_INGRESS, StatusPage  # noqa: PLC0415

        try:
            page = StatusPage(
                gateway,
                host=args.ingress_host,
                port=args.ingress_port,
                allowed=args.ingress_allow or (SUPERVISOR_INGRESS,),
            )
            await page.async_start()
        except (OSError, ValueError) as err:
            await api.async_stop()
            return _fail(f"the status page cannot be served: {err}", 3)
    # Lines on stdout that scripts (and the tests) can wait for.
    print(f"stroomwijs gateway: API on {args.api_host}:{api.port}", flush=True)  # noqa: T201
    if page is not None:
        print(  # noqa: T201
            f"stroomwijs gateway: status page on {args.ingress_host}:{page.port}",
            flush=True,
        )
    announcing = _start_announcing(args, token, api.port)
    try:
        await gateway.async_run(stop)
    finally:
        if announcing is not None:
            announcing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await announcing
        if page is not None:
            await page.async_stop()
        await api.async_stop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    _LOGGER.info("Gateway stopped; state saved")
    return 0


def _start_announcing(
    args: argparse.Namespace, token: str, api_port: int
) -> asyncio.Task[str | None] | None:
    """Announce the API to the Supervisor in the background (add-ons only)."""
    from .discovery import (  # noqa: PLC0415
        TOKEN_ENV,
        Announcement,
        async_announce_until_accepted,
    )

    supervisor_token = os.environ.get(TOKEN_ENV)
    if not supervisor_token:
        return None
    announcement = Announcement(
        host=args.announce_host or socket.gethostname(),
        port=args.announce_port or api_port,
        token=token,
        supervisor_token=supervisor_token,
        supervisor_url=args.supervisor_url,
    )
    return asyncio.get_running_loop().create_task(
        async_announce_until_accepted(announcement), name="announce to Supervisor"
    )
