"""API keys: created once, used as Bearer or X-API-Key, scoped, revoked at once."""

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from parley.main import create_app
from parley.models.accounts import ApiKey
from tests.conftest import Account, _clear, assert_error, make_client, sign_up
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


async def test_requests_bringing_a_new_key_at_once_share_one_check(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    key = (await _create(client, alice))["key"]
    with statements_sent(app) as sent:
        answers = await asyncio.gather(
            *(client.get(f"{API}/users/me", headers=_bearer(key)) for _ in range(8))
        )
    assert [a.status_code for a in answers] == [200] * 8
    looked_up = [s for s in sent.orm + sent.lean if s.lstrip().upper().startswith("SELECT")]
    assert len([s for s in looked_up if "api_keys" in s]) == 1, looked_up


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


async def test_made_up_keys_spend_the_budget_of_their_client(
    app_factory: Callable[..., Any],
) -> None:
    application: FastAPI = await app_factory(rate_limit_max=5, rate_limit_window="1m")
    statuses = []
    async with make_client(application) as http:
        for number in range(12):
            fake = f"pk_{number:08d}_{'x' * 43}"  # a fresh prefix each time
            headers = _bearer(fake) if number % 2 else {"X-API-Key": fake}
            # On a route that needs a sign-in, and on one that needs none.
            path = "/sessions" if number % 3 else "/auth/password/forgot"
            response = await http.post(
                f"{API}{path}", json={"email": "x@example.com"}, headers=headers
            )
            statuses.append(response.status_code)
        anonymous = await http.get(f"{API}/sessions")
    assert statuses == [401] * 5 + [429] * 7
    assert_error(anonymous, 429, "rate_limited")  # the same client's budget, spent


async def test_a_key_records_its_use_at_most_once_a_minute(
    settings_factory: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # As each of several workers without Redis runs: no access cache, so every request
    # checks its key in the database, and only the minute rule limits the writes.
    application = create_app(settings_factory(), single_worker=False)
    start = datetime.now(UTC).replace(microsecond=0)
    now = [start]
    monkeypatch.setattr("parley.apikeys.service.utcnow", lambda: now[0])
    async with application.router.lifespan_context(application), make_client(application) as http:
        try:
            account = await sign_up(http)
            created = await _create(http, account)

            async def used_at(after: timedelta) -> datetime:
                now[0] = start + after
                me = await http.get(f"{API}/users/me", headers=_bearer(created["key"]))
                assert me.status_code == 200, me.text
                listed = await http.get(f"{API}/api-keys", headers=account.headers)
                (item,) = listed.json()["data"]["items"]
                return datetime.fromisoformat(item["last_used_at"])

            assert await used_at(timedelta(0)) == start
            assert await used_at(timedelta(seconds=59)) == start  # within the minute: kept
            assert await used_at(timedelta(seconds=61)) == start + timedelta(seconds=61)
        finally:
            await _clear(application.state.resources.database)


async def test_every_auth_route_refuses_a_key(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    keys = [(await _create(client, alice, scope=scope))["key"] for scope in ("read", "write")]
    operations = [
        (method.upper(), path.replace("{login_session_id}", alice.session_id))
        for path, item in app.openapi()["paths"].items()
        if path.startswith(f"{API}/auth/")
        for method in item
    ]
    public = ["login", "register", "refresh", "token", "password/forgot", "password/reset"]
    public += ["email/verify", "mfa/verify"]
    assert {("POST", f"{API}/auth/{path}") for path in public} <= set(operations)
    for key in keys:
        for headers in (_bearer(key), {"X-API-Key": key}):
            for method, path in operations:
                response = await client.request(method, path, json={}, headers=headers)
                if path == f"{API}/auth/token":  # the OAuth2 shape (RFC 6749)
                    assert response.status_code == 403, response.text
                    assert response.json()["error"] == "insufficient_scope"
                else:
                    assert_error(response, 403, "insufficient_scope")


async def test_an_unknown_key_on_an_auth_route_is_401(
    client: httpx.AsyncClient, alice: Account
) -> None:
    unknown = "pk_zzzzzzzz_" + "y" * 43
    for headers in (_bearer(unknown), {"X-API-Key": unknown}, {"X-API-Key": "not-a-key"}):
        login = await client.post(
            f"{API}/auth/login",
            json={"email": alice.email, "password": alice.password},
            headers=headers,
        )
        assert_error(login, 401, "unauthorized")
        assert login.headers["www-authenticate"] == "Bearer"
        token = await client.post(
            f"{API}/auth/token",
            data={"username": alice.email, "password": alice.password},
            headers=headers,
        )
        assert token.status_code == 401 and token.json()["error"] == "invalid_client"
        assert token.headers["www-authenticate"] == "Bearer"


async def test_access_tokens_on_auth_routes_are_unaffected(
    client: httpx.AsyncClient, alice: Account
) -> None:
    key = (await _create(client, alice))["key"]
    # An access token, current or not, never made these routes refuse; the Authorization
    # header is the credential even when an X-API-Key comes with it.
    for headers in (alice.headers, {**alice.headers, "X-API-Key": key}):
        login = await client.post(
            f"{API}/auth/login",
            json={"email": alice.email, "password": alice.password},
            headers=headers,
        )
        assert login.status_code == 200, login.text
        refreshed = await client.post(
            f"{API}/auth/refresh",
            json={"refresh_token": login.json()["data"]["refresh_token"]},
            headers=headers,
        )
        assert refreshed.status_code == 200, refreshed.text
    listed = await client.get(f"{API}/auth/sessions", headers={**alice.headers, "X-API-Key": key})
    assert listed.status_code == 200, listed.text


async def test_a_key_reads_events_but_gets_no_stream_ticket(
    client: httpx.AsyncClient, alice: Account
) -> None:
    read_key = (await _create(client, alice, scope="read"))["key"]
    write_key = (await _create(client, alice, scope="write"))["key"]
    posted = await client.post(f"{API}/sessions", json={"title": "x"}, headers=_bearer(write_key))
    assert posted.status_code == 201
    feed = await client.get(f"{API}/events", params={"limit": 5}, headers=_bearer(read_key))
    assert feed.status_code == 200, feed.text
    assert [e["type"] for e in feed.json()["data"]["items"]] == ["session.created"]
    head = await client.head(f"{API}/events/stream", headers={"X-API-Key": read_key})
    assert head.status_code == 200
    assert head.headers["content-type"].startswith("text/event-stream")
    # A ticket is a credential for browsers' EventSource; a key opens the stream itself.
    for key in (write_key, read_key):
        for headers in (_bearer(key), {"X-API-Key": key}):
            refused = await client.post(f"{API}/events/ticket", headers=headers)
            assert_error(refused, 403, "insufficient_scope")
    assert (await client.post(f"{API}/events/ticket", headers=alice.headers)).status_code == 201
