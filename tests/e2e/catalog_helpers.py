"""Shared steps of the vendor and seller tests: chat sessions, vendors and sellers as a client
makes them."""

from typing import Any

import httpx

from tests.conftest import Account

API = "/api/v1"
PHONE = "+14155552671"
OTHER_PHONE = "+442071838750"


async def new_chat_session(http: httpx.AsyncClient, owner: Account, title: str = "Shop") -> str:
    """Open a chat session for `owner` and return its id."""
    response = await http.post(f"{API}/sessions", json={"title": title}, headers=owner.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


async def seller_count(http: httpx.AsyncClient, owner: Account, sid: str) -> int:
    """Return the chat session's seller_count as its owner reads it."""
    response = await http.get(f"{API}/sessions/{sid}", headers=owner.headers)
    assert response.status_code == 200, response.text
    return int(response.json()["data"]["seller_count"])


async def create_vendor(
    http: httpx.AsyncClient, owner: Account, sid: str, **fields: Any
) -> dict[str, Any]:
    body = {"name": "Acme Traders", "phone_number": PHONE, **fields}
    response = await http.post(f"{API}/sessions/{sid}/vendor", json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def create_seller(
    http: httpx.AsyncClient, owner: Account, sid: str, name: str, **fields: Any
) -> dict[str, Any]:
    body = {"name": name, "product": "Coffee beans", **fields}
    response = await http.post(f"{API}/sessions/{sid}/sellers", json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def collect_pages(
    http: httpx.AsyncClient, url: str, account: Account, **params: Any
) -> list[dict[str, Any]]:
    """Follow next_cursor to the end and return every item in order."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(100):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await http.get(url, params=query, headers=account.headers)
        assert response.status_code == 200, response.text
        page = response.json()["data"]
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination did not end")
