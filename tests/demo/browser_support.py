"""Headless Chromium (Debian's package) for the demo's browser test.

Selenium drives ``/usr/bin/chromium`` through Debian's ``chromedriver``;
nothing is downloaded. Chromium is told to resolve no name but loopback and
to do none of its background networking, so the test sends nothing beyond
127.0.0.1. Home Assistant's frontend is made of web components: the helpers
search through shadow roots.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
import shutil
import socket
import time
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webelement import WebElement

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",  # root in a chroot: no user namespace for the sandbox
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--window-size=1500,3000",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--no-pings",
    "--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--lang=en-GB",
)

# Returns every element matching a CSS selector, in the document and in every
# shadow root under it.
DEEP_QUERY = """
const selector = arguments[0];
const within = arguments[1];
const found = [];
const walk = (root) => {
  root.querySelectorAll(selector).forEach((el) => found.push(el));
  root.querySelectorAll('*').forEach((el) => {
    if (el.shadowRoot) walk(el.shadowRoot);
  });
};
if (within) {
  if (within.shadowRoot) walk(within.shadowRoot);
  walk(within);
} else {
  walk(document);
}
return found;
"""

# The visible text of the document, shadow roots included.
DEEP_TEXT = """
const parts = [];
const walk = (node) => {
  if (node.nodeType === Node.TEXT_NODE) {
    const text = node.textContent.trim();
    if (text) parts.push(text);
    return;
  }
  if (node.shadowRoot) walk(node.shadowRoot);
  node.childNodes.forEach(walk);
};
walk(arguments[0] || document.body);
return parts.join(' | ');
"""


def browser_available() -> str | None:
    """Return why the browser test cannot run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            return f"{path} is missing (script/setup installs it)"
    if shutil.which("chromedriver") is None:
        return "chromedriver is not on PATH"
    return None


class LoopbackService(Service):
    """chromedriver on 127.0.0.1 (Selenium's "localhost" tries ::1 first)."""

    @property
    def service_url(self) -> str:
        """The driver's URL on 127.0.0.1."""
        return f"http://127.0.0.1:{self.port}"

    def is_connectable(self) -> bool:
        """Whether chromedriver accepts connections on 127.0.0.1."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False


def start_browser() -> webdriver.Chrome:
    """Start headless Chromium under chromedriver."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    service = LoopbackService(
        executable_path=str(CHROMEDRIVER), service_args=["--allowed-ips=127.0.0.1"]
    )
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(180)
    driver.set_script_timeout(60)
    return driver


def deep_query(
    driver: webdriver.Chrome, selector: str, within: WebElement | None = None
) -> list[WebElement]:
    """Return the elements matching ``selector``, shadow roots included.

    ``within``: only under that element (and its shadow root).
    """
    found: list[WebElement] = driver.execute_script(DEEP_QUERY, selector, within)
    return found


def deep_text(driver: webdriver.Chrome, element: WebElement | None = None) -> str:
    """Return the text under ``element`` (the page by default), shadow roots too."""
    text: str = driver.execute_script(DEEP_TEXT, element)
    return text


def wait_for[T](
    what: str, probe: Callable[[], T | None], timeout_s: float, every_s: float = 1.0
) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what``."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except Exception as err:  # noqa: BLE001 - the page is still loading
            last = err
        else:
            if last:
                return last
        time.sleep(every_s)
    msg = f"timed out after {timeout_s:.0f} s waiting for {what} (last: {last!r})"
    raise AssertionError(msg)


def log_in(driver: webdriver.Chrome, base: str, username: str, password: str) -> None:
    """Log in through Home Assistant's login page, as a person would."""
    driver.get(f"{base}/")

    def _fields() -> list[WebElement] | None:
        inputs = [
            el
            for el in deep_query(driver, "input")
            if el.get_attribute("type") in {"text", "password", "email", None}
            and el.is_displayed()
        ]
        names = {el.get_attribute("name") or el.get_attribute("type") for el in inputs}
        return inputs if "password" in names else None

    inputs = wait_for("the login form", _fields, 180)
    for element in inputs:
        kind = element.get_attribute("name") or element.get_attribute("type")
        element.clear()
        element.send_keys(password if kind == "password" else username)
    password_field = next(
        el
        for el in inputs
        if (el.get_attribute("name") or el.get_attribute("type")) == "password"
    )
    password_field.send_keys("\n")
    wait_for(
        "the login to finish",
        lambda: (
            "auth_callback" not in driver.current_url
            and "/auth/authorize" not in driver.current_url
            and driver.execute_script(
                "return !!window.localStorage.getItem('hassTokens')"
            )
        ),
        120,
    )
