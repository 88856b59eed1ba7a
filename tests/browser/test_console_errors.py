"""Errors the console meets on its own account: a refresh, a reload, a sign-out or the list of
features that fails. Only a refresh answered 401 ends the sign-in, and says why; any other
failure keeps the page signed in and is shown in words, with a way to try again. A faulty
network or server is played by Playwright answering that one request in the server's place."""

import json
import re
import time
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import (
    WAIT_MS,
    RecordedPage,
    User,
    api,
    register,
    sign_in,
)
from tests.support.parley_server import ParleyServer

ENDED = "Your sign-in has ended (signed out or revoked). Please sign in again."
UNAVAILABLE = {
    "status": "error",
    "message": "Service temporarily unavailable",
    "error": {"code": "unavailable", "details": None},
}


def unavailable(route: Route) -> None:
    """The server's own 503 (a database it cannot reach), with its Retry-After."""
    route.fulfill(
        status=503,
        content_type="application/json",
        headers={"Retry-After": "7"},
        body=json.dumps(UNAVAILABLE),
    )


def unreachable(route: Route) -> None:
    route.abort("connectionrefused")


def stored_refresh_token(page: Page) -> str | None:
    token: str | None = page.evaluate("() => sessionStorage.getItem('parley.refresh')")
    return token


def revoke_elsewhere(server: ParleyServer, account: User) -> None:
    """Another client of the same user revokes the browser's login session."""
    other = account.login(server.base, user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0")
    with api(server.base, other["access_token"]) as client:
        devices = client.get("/auth/sessions").json()["data"]["items"]
        browser_device = next(d for d in devices if d["id"] != other["session_id"])
        assert client.delete(f"/auth/sessions/{browser_device['id']}").status_code == 200


def expect_signed_in(page: Page, account: User) -> None:
    expect(page.get_by_text(account.email)).to_be_visible()
    expect(page.get_by_role("button", name="Sign out", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Sign in to Parley")).to_have_count(0)


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        (unavailable, "Service temporarily unavailable (try again in 7 s)."),
        (unreachable, "The server could not be reached. Check the connection and try again."),
    ],
    ids=["503", "unreachable"],
)
def test_a_refresh_that_fails_keeps_the_page_signed_in_and_says_why(
    open_page: Callable[..., RecordedPage],
    short_lived_server: ParleyServer,
    fault: Callable[[Route], None],
    words: str,
) -> None:
    account = register(short_lived_server.base)
    recorded = open_page()
    recorded.base = short_lived_server.base
    page = sign_in(recorded, account)
    signed_in_at = time.monotonic()
    token = stored_refresh_token(page)
    failed: list[str] = []

    def fail(route: Route) -> None:
        failed.append(route.request.url)
        fault(route)

    page.route("**/api/v1/auth/refresh", fail)
    # The access token lives 8 s: past that, the page's next call needs a refresh.
    while time.monotonic() - signed_in_at < 9:
        page.wait_for_timeout(250)
    page.get_by_role("link", name="Devices").click()

    expect(page.get_by_role("heading", name="Devices", level=1)).to_be_visible()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(f"Your sign-in could not be renewed: {words}")
    expect(alert).to_contain_text("You are still signed in; try again.")
    expect_signed_in(page, account)
    assert failed
    assert stored_refresh_token(page) == token

    page.unroute("**/api/v1/auth/refresh")
    page.get_by_role("button", name="Try again").click()

    expect(page.get_by_role("button", name=re.compile(r"\(this device\)"))).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)
    assert recorded.errors == []


def test_a_reload_after_the_login_session_ended_returns_to_sign_in_with_the_reason(
    open_page: Callable[..., RecordedPage], user: User, server: ParleyServer
) -> None:
    recorded = open_page()
    page = sign_in(recorded, user)
    token = stored_refresh_token(page)
    revoke_elsewhere(server, user)

    page.reload()

    expect(page.get_by_role("heading", name="Sign in to Parley")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text(ENDED)
    assert stored_refresh_token(page) is None
    refused = httpx.post(f"{server.base}/api/v1/auth/refresh", json={"refresh_token": token})
    assert refused.status_code == 401


def test_a_reload_that_cannot_reach_the_server_keeps_the_sign_in_and_recovers(
    open_page: Callable[..., RecordedPage], user: User
) -> None:
    recorded = open_page()
    page = sign_in(recorded, user)
    token = stored_refresh_token(page)
    page.route("**/api/v1/auth/refresh", unreachable)

    page.reload()

    expect(page.get_by_role("alert")).to_have_text(
        "Your sign-in could not be resumed: The server could not be reached. "
        "Check the connection and try again."
    )
    expect(page.get_by_text("Your sign-in is kept in this tab")).to_be_visible()
    expect(page.get_by_role("heading", name="Sign in to Parley")).to_have_count(0)
    assert stored_refresh_token(page) == token

    page.unroute("**/api/v1/auth/refresh")
    page.get_by_role("button", name="Try again").click()

    expect(page.get_by_role("heading", name="Chat sessions", level=1)).to_be_visible()
    expect_signed_in(page, user)
    assert recorded.errors == []


def test_a_sign_out_the_server_does_not_confirm_is_said_and_can_be_tried_again(
    open_page: Callable[..., RecordedPage], user: User, server: ParleyServer
) -> None:
    recorded = open_page()
    page = sign_in(recorded, user)
    token = stored_refresh_token(page)
    page.route("**/api/v1/auth/logout", unavailable)

    page.get_by_role("button", name="Sign out", exact=True).click()

    expect(page.get_by_role("alert")).to_have_text(
        "Could not sign out: Service temporarily unavailable (try again in 7 s). "
        "You are still signed in on the server; try again."
    )
    expect_signed_in(page, user)
    assert stored_refresh_token(page) == token

    page.unroute("**/api/v1/auth/logout")
    page.get_by_role("button", name="Sign out", exact=True).click()

    expect(page.get_by_role("heading", name="Sign in to Parley")).to_be_visible()
    refused = httpx.post(f"{server.base}/api/v1/auth/refresh", json={"refresh_token": token})
    assert refused.status_code == 401
    assert recorded.errors == []


def test_a_list_of_features_that_fails_to_load_is_said_and_loaded_again(
    open_page: Callable[..., RecordedPage], user: User
) -> None:
    recorded = open_page()
    page = recorded.page
    page.route(
        "**/openapi.json",
        lambda route: route.fulfill(status=502, headers={"Retry-After": "30"}, body=""),
    )
    sign_in(recorded, user)

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(
        "The menu could not learn which features the server offers: The server is "
        "unavailable just now (502). Try again in 30 s."
    )
    expect(alert).to_contain_text(
        "Security, API keys, Webhooks and the Audit log stay hidden until it does."
    )
    menu = page.get_by_role("navigation", name="Main")
    expect(menu.get_by_role("link", name="API keys")).to_have_count(0)

    page.unroute("**/openapi.json")
    page.get_by_role("button", name="Try again").click()

    expect(menu.get_by_role("link", name="API keys")).to_be_visible()
    expect(menu.get_by_role("link", name="Audit log")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)
    assert recorded.errors == []


def test_a_list_of_features_that_failed_is_asked_for_again_on_the_next_page(
    open_page: Callable[..., RecordedPage], user: User
) -> None:
    recorded = open_page()
    page = recorded.page
    page.route("**/openapi.json", unreachable)
    sign_in(recorded, user)
    expect(page.get_by_role("alert")).to_contain_text(
        "The menu could not learn which features the server offers: The server could not "
        "be reached."
    )

    page.unroute("**/openapi.json")
    page.get_by_role("link", name="Devices").click()

    expect(page.get_by_role("link", name="Webhooks")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)


def test_an_idle_conversation_whose_device_is_revoked_returns_to_sign_in_by_itself(
    open_page: Callable[..., RecordedPage], user: User, server: ParleyServer
) -> None:
    recorded = open_page()
    page = sign_in(recorded, user)
    page.get_by_label("Title of a new session (optional)").fill("Left open")
    page.get_by_role("button", name="Create session").click()
    expect(page.get_by_role("heading", level=1, name="Left open")).to_be_visible()
    expect(page.get_by_text("Live: new messages appear")).to_be_visible()

    revoke_elsewhere(server, user)

    # No click: the stream the server closes is what brings the page back to sign-in.
    expect(page.get_by_role("heading", name="Sign in to Parley")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_role("status")).to_have_text(ENDED)
    assert stored_refresh_token(page) is None
    assert recorded.errors == []
