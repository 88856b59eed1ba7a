"""Webhooks in the console: created with the secret shown once, edited, tested, the secret
rotated, deleted, and their delivery log read and retried, against a real receiver on loopback."""

import json
import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import RecordedPage, User, axe_violations, sign_in
from tests.support.parley_server import ParleyServer


class Receiver:
    """An HTTP receiver on loopback that records what it is sent and answers `status`."""

    def __init__(self) -> None:
        self.status = 200
        self.received: list[dict[str, object]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.received.append(
                    {"headers": dict(self.headers), "body": json.loads(body or b"{}")}
                )
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.server.shutdown()
    running.server.server_close()  # the listening socket too, not only the loop


def create_webhook(page: Page, url: str) -> str:
    page.get_by_role("link", name="Webhooks").click()
    adding = page.get_by_text("Add a webhook")
    expect(adding).to_be_visible()  # the page is drawn: the form's state is settled
    if not page.get_by_label("URL").is_visible():
        adding.click()
    page.get_by_label("URL").fill(url)
    page.get_by_label("Description (optional)").fill("Orders to the warehouse")
    page.get_by_role("button", name="Create webhook").click()
    secret = page.locator("code.secret-value").inner_text().strip()
    page.get_by_role("link", name=url).click()
    expect(page.get_by_role("heading", name="Webhook", level=1)).to_be_visible()
    return secret


def test_a_webhook_is_created_with_its_secret_shown_once_and_tested(
    open_page: Callable[..., RecordedPage], user: User, receiver: Receiver
) -> None:
    page = sign_in(open_page(), user)
    secret = create_webhook(page, receiver.url)
    assert secret.startswith("whsec_")
    expect(page.locator("code.secret-value")).to_have_count(0)

    page.get_by_role("button", name="Send a test event").click()
    expect(page.get_by_role("status").first).to_contain_text("webhook.test")
    _refresh_until(page, "succeeded")
    assert any(
        isinstance(r["body"], dict) and r["body"].get("type") == "webhook.test"
        for r in receiver.received
    )
    assert axe_violations(page) == []


def _refresh_until(page: Page, text: str, attempts: int = 30) -> bool:
    """Press the log's Refresh until a row says `text` (deliveries run in the background)."""
    for _ in range(attempts):
        page.get_by_role("button", name="Refresh").click()
        page.wait_for_load_state("networkidle")
        if page.locator("tbody").get_by_text(text, exact=True).count():
            return True
        page.wait_for_timeout(500)
    raise AssertionError(f"no delivery became {text}")


def test_a_failed_delivery_is_retried_from_the_log(
    open_page: Callable[..., RecordedPage], user: User, receiver: Receiver
) -> None:
    receiver.status = 500
    page = sign_in(open_page(), user)
    create_webhook(page, receiver.url)
    page.get_by_role("button", name="Send a test event").click()
    _refresh_until(page, "retrying")
    tried = len(receiver.received)

    receiver.status = 200
    page.get_by_role("button", name="Retry delivery of webhook.test").first.click()

    _refresh_until(page, "succeeded")
    assert len(receiver.received) > tried


def test_a_webhook_is_edited_and_a_bad_url_is_refused_in_words(
    open_page: Callable[..., RecordedPage], user: User, receiver: Receiver
) -> None:
    page = sign_in(open_page(), user)
    create_webhook(page, receiver.url)
    page.get_by_text("Edit", exact=True).click()

    page.get_by_label("Every event").uncheck()
    page.get_by_label("message.created").check()
    page.get_by_role("button", name="Save webhook").click()
    expect(page.get_by_role("status").first).to_contain_text("Webhook saved")

    page.get_by_label("URL").fill("ftp://example.com/hook")
    page.get_by_role("button", name="Save webhook").click()
    expect(page.get_by_role("alert")).to_contain_text("url")


def test_rotating_the_secret_shows_the_new_one_once(
    open_page: Callable[..., RecordedPage], user: User, receiver: Receiver
) -> None:
    page = sign_in(open_page(), user)
    first = create_webhook(page, receiver.url)

    page.get_by_role("button", name="Rotate secret").click()

    shown = page.locator("code.secret-value")
    expect(shown).to_have_text(re.compile("^whsec_"))
    rotated = shown.inner_text().strip()
    assert rotated != first
    expect(page.get_by_text("New signing secret")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Webhook", level=1)).to_be_visible()
    expect(page.locator("code.secret-value")).to_have_count(0)
    assert rotated not in page.content()
    # The receiver is sent a signature by each secret while the old one overlaps the new.
    page.get_by_role("button", name="Send a test event").click()
    _refresh_until(page, "succeeded")
    sent = receiver.received[-1]["headers"]
    assert isinstance(sent, dict)
    signatures = next(v for k, v in sent.items() if k.lower() == "webhook-signature")
    assert len(signatures.split()) == 2, signatures


def test_a_webhook_is_deleted(
    open_page: Callable[..., RecordedPage], user: User, receiver: Receiver, server: ParleyServer
) -> None:
    page = sign_in(open_page(), user)
    create_webhook(page, receiver.url)
    hook = page.url.rsplit("/", 1)[1]

    page.get_by_role("button", name="Delete webhook").click()

    expect(page.get_by_role("heading", name="Webhooks", level=1)).to_be_visible()
    expect(page.get_by_role("link", name=receiver.url)).to_have_count(0)
    token = user.login(server.base)["access_token"]
    gone = httpx.get(
        f"{server.base}/api/v1/webhooks/{hook}", headers={"Authorization": f"Bearer {token}"}
    )
    assert gone.status_code == 404
