"""The console in a real browser: Debian's Chromium driven by Playwright against a real
`parley serve`. Skipped, with the reason, where /usr/bin/chromium is absent."""

import base64
import hashlib
import hmac
import os
import re
import struct
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright

from tests.support.parley_server import ParleyServer, running_parley

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ADMIN_EMAIL = "console-admin@example.com"
PASSWORD = "correct horse battery staple"
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
# Generous: the machine is shared, and a poll of the page is not a timing assertion.
WAIT_MS = 15_000


def _skip_reason() -> str | None:
    if not CHROMIUM.exists():
        return (
            "the console's browser tests need Debian's Chromium at /usr/bin/chromium "
            "(apt-get install chromium)"
        )
    if os.environ.get("PARLEY_TEST_DATABASE_URL"):
        return (
            "the console's browser tests drive their own `parley serve` on SQLite; they run in "
            "the SQLite pass"
        )
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Marked before any fixture runs, so no server or browser is started for a skipped test.
    reason = _skip_reason()
    if reason is None:
        return
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.skip(reason=reason))


@dataclass
class User:
    email: str
    password: str
    id: str

    def login(self, base: str, user_agent: str = "python-httpx") -> dict[str, Any]:
        response = httpx.post(
            f"{base}/api/v1/auth/login",
            json={"email": self.email, "password": self.password},
            headers={"User-Agent": user_agent},
        )
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        return data


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParleyServer]:
    env = {
        "FIRST_ADMIN_EMAIL": ADMIN_EMAIL,
        "FIRST_ADMIN_PASSWORD": PASSWORD,
        # One browser makes many requests; the request budget is not under test here.
        "RATE_LIMIT_MAX": "100000",
        "LOGIN_RATE_LIMIT": "1000/15m",
        # The webhook tests deliver to a receiver on loopback.
        "WEBHOOK_ALLOW_PRIVATE": "true",
    }
    with running_parley(tmp_path_factory.mktemp("console"), env=env) as running:
        yield running


@pytest.fixture(scope="session")
def short_lived_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParleyServer]:
    """A server whose access tokens live 8 seconds, to see the page refresh them."""
    env = {"JWT_EXPIRES_IN": "8", "RATE_LIMIT_MAX": "100000"}
    with running_parley(tmp_path_factory.mktemp("console-short"), env=env) as running:
        yield running


# Module-scoped, not session-scoped: while Playwright's sync driver is open its event loop
# counts as running in this thread, and the async tests of other modules need their own.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield launched
    launched.close()


# Reports every Content-Security-Policy violation of each document the page loads.
REPORT_CSP_VIOLATIONS = """document.addEventListener("securitypolicyviolation", (event) => {
  window.parleyCspViolation(`${event.effectiveDirective} blocked ${event.blockedURI || "inline"}`);
}, true);"""


class RecordedPage:
    """A page whose every request is recorded, with script errors and CSP violations."""

    def __init__(self, page: Page, base: str) -> None:
        self.page = page
        self.base = base
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.csp_violations: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", self._console)
        page.on("dialog", lambda dialog: dialog.accept())
        page.expose_function("parleyCspViolation", self._violation)
        page.add_init_script(REPORT_CSP_VIOLATIONS)
        page.set_default_timeout(WAIT_MS)

    def _violation(self, text: str) -> None:
        self.csp_violations.append(text)

    def _console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.csp_violations.append(message.text)

    def foreign_requests(self) -> list[str]:
        return [
            url
            for url in self.requests
            if not url.startswith(self.base + "/") and not url.startswith(("blob:", "data:"))
        ]


@pytest.fixture
def open_page(browser: Browser, server: ParleyServer) -> Iterator[Callable[..., RecordedPage]]:
    """Open pages; when the test ends, every one of them must have requested nothing from
    another origin and hit no Content-Security-Policy violation."""
    contexts = []
    opened: list[RecordedPage] = []

    def make(width: int = 1280, height: int = 900, javascript: bool = True) -> RecordedPage:
        context = browser.new_context(
            viewport={"width": width, "height": height}, java_script_enabled=javascript
        )
        contexts.append(context)
        opened.append(RecordedPage(context.new_page(), server.base))
        return opened[-1]

    yield make
    for context in contexts:
        context.close()
    assert [url for page in opened for url in page.foreign_requests()] == []
    assert [text for page in opened for text in page.csp_violations] == []


def register(base: str, prefix: str = "console") -> User:
    email = f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"
    response = httpx.post(
        f"{base}/api/v1/auth/register", json={"email": email, "password": PASSWORD}
    )
    assert response.status_code == 201, response.text
    return User(email=email, password=PASSWORD, id=response.json()["data"]["id"])


@pytest.fixture
def user(server: ParleyServer) -> User:
    return register(server.base)


@pytest.fixture
def admin_user(server: ParleyServer) -> User:
    account = User(email=ADMIN_EMAIL, password=PASSWORD, id="")
    me = httpx.get(
        f"{server.base}/api/v1/users/me",
        headers={"Authorization": f"Bearer {account.login(server.base)['access_token']}"},
    )
    account.id = me.json()["data"]["id"]
    return account


def sign_in(recorded: RecordedPage, account: User) -> Page:
    page = recorded.page
    page.goto(f"{recorded.base}/console/")
    page.get_by_label("Email").fill(account.email)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Chat sessions", level=1).wait_for()
    return page


def api(base: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {token}"})


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations of the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Added as a script element by Playwright itself, which the page's CSP allows for
        # injected evaluation only; axe is never shipped with the console.
        page.evaluate(AXE.read_text())
    result: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in result["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


def wait_for_text(page: Page, pattern: str) -> None:
    page.get_by_text(re.compile(pattern)).first.wait_for()


def totp(secret: str, step_offset: int = 0) -> str:
    """The RFC 6238 code of a base32 secret (SHA-1, 6 digits, 30 s), `step_offset` steps on."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = int(time.time() // 30) + step_offset
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 1_000_000:06d}"


# Notes when a message with the text first shows on the page, in epoch milliseconds.
WATCH_FOR_MESSAGE = """text => {
  const seen = () => [...document.querySelectorAll('.message .content')]
    .some(node => node.textContent === text);
  new MutationObserver((_, observer) => {
    if (seen()) {
      window.parleyArrived = performance.timeOrigin + performance.now();
      observer.disconnect();
    }
  }).observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


def arrival_ms(page: Page, text: str, post: Callable[[], None]) -> float:
    """Milliseconds from just before `post()` until a message reading `text` is on the page.

    A measurement to print, never to assert: it depends on the machine."""
    page.evaluate(WATCH_FOR_MESSAGE, text)
    posted_at = time.time() * 1000
    post()
    arrived: float = page.wait_for_function("() => window.parleyArrived").json_value()
    return arrived - posted_at
