"""Finish Home Assistant's onboarding for the demo over its HTTP API.

Creates the demo owner account. script/demo marks the other onboarding steps
(core configuration, analytics, integrations) done before Home Assistant first
starts: the core configuration step would otherwise add the met.no weather,
radio browser and shopping list integrations, which reach out to the
internet, and the demo must only talk to loopback. Uses only the standard
library so the host's Python can run it. Prints the login. Safe to run again:
an onboarded instance is left alone.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request

USERNAME = "demo"
PASSWORD = "stroomwijs-demo"  # noqa: S105 - a published demo login on loopback


def _request(url: str, data: dict[str, object] | None = None) -> object:
    """GET (or POST ``data`` as JSON) and return the decoded JSON answer."""
    body = None if data is None else json.dumps(data).encode()
    headers = {} if data is None else {"Content-Type": "application/json"}
    req = urllib.request.Request(url, data=body, headers=headers)  # noqa: S310
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310
        text = resp.read().decode()
    return json.loads(text) if text else None


def wait_until_up(base: str, timeout_s: float) -> None:
    """Wait until Home Assistant answers on its HTTP port."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            _request(f"{base}/api/onboarding")
        except urllib.error.HTTPError:
            return  # it answers; onboarding may already be done
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
        else:
            return


def onboard(base: str) -> None:
    """Run the onboarding steps that are still open."""
    client_id = f"{base}/"
    try:
        steps = _request(f"{base}/api/onboarding")
    except urllib.error.HTTPError:
        return  # onboarding finished: the view is gone
    done = {step["step"] for step in steps if step["done"]}  # type: ignore[union-attr]
    if "user" in done:
        return
    result = _request(
        f"{base}/api/onboarding/users",
        {
            "client_id": client_id,
            "name": "Stroomwijs demo",
            "username": USERNAME,
            "password": PASSWORD,
            "language": "nl",
        },
    )
    if not isinstance(result, dict) or "auth_code" not in result:
        msg = f"unexpected onboarding answer: {result!r}"
        raise RuntimeError(msg)


def main() -> int:
    """Wait for HA, onboard it and print the login."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8123")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    wait_until_up(args.url, args.timeout)
    onboard(args.url)
    print(
        f"\nStroomwijs demo is up: {args.url}  (login: {USERNAME} / {PASSWORD})\n"
        "Settings > Devices & services > Add integration > Stroomwijs\n",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
