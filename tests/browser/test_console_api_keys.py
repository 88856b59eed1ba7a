"""API keys in the console: created with the key shown once, listed, revoked."""

from collections.abc import Callable

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import (
    RecordedPage,
    User,
    api,
    axe_violations,
    sign_in,
)
from tests.support.parley_server import ParleyServer


def test_a_key_is_shown_once_works_and_stops_when_revoked(
    open_page: Callable[..., RecordedPage], user: User, server: ParleyServer
) -> None:
    page = sign_in(open_page(), user)
    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Name").fill("Order bot")
    page.get_by_label("Scope").select_option("read")
    page.get_by_role("button", name="Create key").click()

    key = page.locator("code.secret-value").inner_text().strip()
    assert key.startswith("pk_")
    prefix = key.split("_")[1]
    expect(page.get_by_role("row", name=f"Order bot {prefix}", exact=False)).to_be_visible()
    assert axe_violations(page) == []
    me = httpx.get(f"{server.base}/api/v1/users/me", headers={"X-API-Key": key})
    assert me.status_code == 200

    page.reload()
    expect(page.get_by_role("row", name="Order bot", exact=False)).to_be_visible()
    expect(page.locator("code.secret-value")).to_have_count(0)
    assert key not in page.content()

    page.get_by_role("button", name="Revoke Order bot").click()
    expect(page.get_by_role("row", name="Order bot", exact=False)).to_have_count(0)
    refused = httpx.get(f"{server.base}/api/v1/users/me", headers={"X-API-Key": key})
    assert refused.status_code == 401


def test_a_refused_key_is_explained_in_words(
    open_page: Callable[..., RecordedPage], user: User, server: ParleyServer
) -> None:
    token = user.login(server.base)["access_token"]
    with api(server.base, token) as client:
        for n in range(20):
            made = client.post("/api-keys", json={"name": f"bot {n}", "scope": "read"})
            assert made.status_code == 201, made.text
    page = sign_in(open_page(), user)
    page.get_by_role("link", name="API keys").click()

    page.get_by_label("Name").fill("One too many")
    page.get_by_role("button", name="Create key").click()

    expect(page.get_by_role("alert")).to_have_text(
        "At most 20 live API keys per user; revoke one first"
    )
    expect(page.get_by_role("row", name="One too many", exact=False)).to_have_count(0)
    expect(page.locator("code.secret-value")).to_have_count(0)
