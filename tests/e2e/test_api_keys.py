"""API keys: created once, used as Bearer or X-API-Key, scoped, revoked at once."""

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from parley.models.accounts import ApiKey
from tests.conftest import Account, assert_error, make_client, sign_up
from tests.support.statements import statements_sent

API = "/api/v1"
KEY_SHAPE = re.compile(r"^pk_([a-z0-9]{8})_[A-Za-z0-9_-]{20,}$")


async def _create(http: httpx.AsyncClient, account: Account, **body: Any) -> dict[str, Any]:
    response = await http.post(
        f"{API}/api-keys", json={"name": "bot", "scope": "write", **body}, headers=account.headers
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_a_key_is_shown_once_and_stored_only_as_a_hash(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    created = await _create(client, alice, name="Shop bot", scope="read", expires_in_days=30)
    match = KEY_SHAPE.match(created["key"])
    assert match and match.group(1) == created["prefix"]
    assert created["scope"] == "read" and created["name"] == "Shop bot"
    assert created["last_used_at"] is None and created["expires_at"] is not None
    listed = await client.get(f"{API}/api-keys", headers=alice.headers)
    assert listed.status_code == 200
    (item,) = listed.json()["data"]["items"]
    assert "key" not in item and item["id"] == created["id"]
    assert created["key"] not in listed.text
    async with app.state.resources.database.sessions() as db:
        stored = (await db.scalars(select(ApiKey))).one()
    assert stored.key_hash != created["key"] and created["key"] not in stored.key_hash


async def test_a_key_authenticates_as_bearer_or_x_api_key_and_records_its_use(
    client: httpx.AsyncClient, alice: Account
) -> None:
    key = (await _create(client, alice))["key"]
    for headers in (_bearer(key), {"X-API-Key": key}):
        me = await client.get(f"{API}/users/me", headers=headers)
        assert me.status_code == 200, me.text
        assert me.json()["data"]["email"] == alice.email
    (item,) = (await client.get(f"{API}/api-keys", headers=alice.headers)).json()["data"]["items"]
    assert item["last_used_at"] is not None
    posted = await client.post(f"{API}/sessions", json={"title": "via key"}, headers=_bearer(key))
    assert posted.status_code == 201, posted.text


async def test_a_read_key_may_only_get(client: httpx.AsyncClient, alice: Account) -> None:
    key = (await _create(client, alice, scope="read"))["key"]
    assert (await client.get(f"{API}/sessions", headers=_bearer(key))).status_code == 200
    assert (await client.head(f"{API}/sessions", headers=_bearer(key))).status_code == 200
    refused = await client.post(f"{API}/sessions", json={"title": "x"}, headers=_bearer(key))
    assert_error(refused, 403, "insufficient_scope")


async def test_no_key_may_manage_credentials_or_administer(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, admin: Account
) -> None:
    key = (await _create(client, alice))["key"]
    headers = _bearer(key)
    for method, path, body in [
        ("POST", "/auth/logout", None),
        ("GET", "/auth/sessions", None),
        ("POST", "/auth/email/verify/request", None),
        ("GET", "/api-keys", None),
        ("POST", "/api-keys", {"name": "more", "scope": "write"}),
        ("PATCH", "/users/me", {"username": "renamed"}),
        ("DELETE", "/users/me", {"password": alice.password}),
    ]:
        response = await client.request(method, f"{API}{path}", json=body, headers=headers)
        assert_error(response, 403, "insufficient_scope")
    admin_key = (await _create(client, admin))["key"]
    assert_error(
        await client.get(f"{API}/users", headers=_bearer(admin_key)), 403, "insufficient_scope"
    )
    assert_error(
        await client.get(f"{API}/audit", headers=_bearer(admin_key)), 403, "insufficient_scope"
    )


async def test_a_revoked_key_stops_at_once(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    created = await _create(client, alice)
    assert (await client.get(f"{API}/users/me", headers=_bearer(created["key"]))).status_code == 200
    not_yours = await client.delete(f"{API}/api-keys/{created['id']}", headers=bob.headers)
    assert_error(not_yours, 404, "not_found")
    revoked = await client.delete(f"{API}/api-keys/{created['id']}", headers=alice.headers)
    assert revoked.status_code == 200
    refused = await client.get(f"{API}/users/me", headers=_bearer(created["key"]))
    assert_error(refused, 401, "unauthorized")
    assert refused.headers["www-authenticate"] == "Bearer"
    assert (await client.get(f"{API}/api-keys", headers=alice.headers)).json()["data"][
        "items"
    ] == []
    again = await client.delete(f"{API}/api-keys/{created['id']}", headers=alice.headers)
    assert_error(again, 404, "not_found")


async def test_malformed_unknown_and_wrong_keys_are_401(
    client: httpx.AsyncClient, alice: Account
) -> None:
    key = (await _create(client, alice))["key"]
    prefix = key[:12]
    for bad in ("pk_", "pk_short", f"{prefix}wrong-secret-{'x' * 30}", "pk_zzzzzzzz_" + "y" * 43):
        for headers in (_bearer(bad), {"X-API-Key": bad}):
            response = await client.get(f"{API}/users/me", headers=headers)
            assert_error(response, 401, "unauthorized")
            assert response.headers["www-authenticate"] == "Bearer"


async def test_keys_die_at_expiry_and_with_their_user(
    client: httpx.AsyncClient, alice: Account, admin: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    expiring = (await _create(client, alice, expires_in_days=1))["key"]
    lasting = (await _create(client, alice))["key"]
    later = datetime.now(UTC) + timedelta(days=1, seconds=5)
    monkeypatch.setattr("parley.apikeys.service.utcnow", lambda: later)
    assert_error(
        await client.get(f"{API}/users/me", headers=_bearer(expiring)), 401, "unauthorized"
    )
    monkeypatch.undo()
    assert (await client.get(f"{API}/users/me", headers=_bearer(lasting))).status_code == 200
    disabled = await client.patch(
        f"{API}/users/{alice.id}", json={"is_active": False}, headers=admin.headers
    )
    assert disabled.status_code == 200
    assert_error(await client.get(f"{API}/users/me", headers=_bearer(lasting)), 401, "unauthorized")


async def test_a_twenty_first_live_key_is_409(client: httpx.AsyncClient, alice: Account) -> None:
    first = None
    for number in range(20):
        created = await _create(client, alice, name=f"key {number}")
        first = first or created
    response = await client.post(
        f"{API}/api-keys", json={"name": "one too many", "scope": "read"}, headers=alice.headers
    )
    assert_error(response, 409, "conflict")
    assert first is not None
    await client.delete(f"{API}/api-keys/{first['id']}", headers=alice.headers)
    assert (await _create(client, alice, name="room again"))["name"] == "room again"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "scope": "admin"},
        {"name": "x"},
        {"name": "", "scope": "read"},
        {"name": "x", "scope": "read", "expires_in_days": 0},
        {"name": "x", "scope": "read", "key": "pk_mine"},
    ],
)
async def test_bad_key_requests_are_422(
    client: httpx.AsyncClient, alice: Account, body: dict[str, Any]
) -> None:
    response = await client.post(f"{API}/api-keys", json=body, headers=alice.headers)
    assert_error(response, 422, "validation_error")


async def test_requests_with_a_key_spend_the_budget_of_its_user(
    app_factory: Callable[..., Any],
) -> None:
    application: FastAPI = await app_factory(rate_limit_max=6)
    async with make_client(application) as http:
        account = await sign_up(http)
        key = (await _create(http, account))["key"]
        await http.get(f"{API}/users/me", headers=_bearer(key))  # verified and remembered
        remaining = []
        for headers in (_bearer(key), {"X-API-Key": key}, account.headers):
            response = await http.get(f"{API}/users/me", headers=headers)
            remaining.append(int(response.headers["ratelimit-remaining"]))
        # One budget, the user's: each request spends one from the same count.
        assert remaining[0] - remaining[1] == 1 and remaining[1] - remaining[2] == 1


async def test_browsers_may_send_a_key_cross_origin(app_factory: Callable[..., Any]) -> None:
    application: FastAPI = await app_factory(cors_origins="https://shop.example")
    async with make_client(application) as http:
        response = await http.options(
            f"{API}/sessions",
            headers={
                "Origin": "https://shop.example",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "x-api-key",
            },
        )
    assert response.status_code == 200
    assert "x-api-key" in response.headers["access-control-allow-headers"].lower()


async def test_an_unknown_prefix_and_a_wrong_secret_do_the_same_work(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    key = (await _create(client, alice))["key"]
    wrong_secret = key[:12] + ("A" if key[12] != "A" else "B") + key[13:]
    unknown_prefix = "pk_zzzzzzzz" + key[11:]
    sent_per_key = []
    for candidate in (wrong_secret, unknown_prefix):
        with statements_sent(app) as sent:
            response = await client.get(f"{API}/users/me", headers=_bearer(candidate))
        assert_error(response, 401, "unauthorized")
        sent_per_key.append(sent.orm)
    # One look-up by prefix each, then a hash comparison (against a dummy when none matched).
    assert len(sent_per_key[0]) == len(sent_per_key[1]) == 1
    assert sent_per_key[0] == sent_per_key[1]


async def test_keys_die_with_their_deleted_user(
    client: httpx.AsyncClient, alice: Account, admin: Account
) -> None:
    key = (await _create(client, alice))["key"]
    assert (await client.get(f"{API}/users/me", headers=_bearer(key))).status_code == 200
    deleted = await client.delete(f"{API}/users/{alice.id}", headers=admin.headers)
    assert deleted.status_code == 200
    assert_error(await client.get(f"{API}/users/me", headers=_bearer(key)), 401, "unauthorized")
