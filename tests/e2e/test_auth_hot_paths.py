"""`GET /users/me` on the lean path: no statement beyond the one that authenticates, and the
bytes the ORM path renders, before and after every kind of change of the account."""

from uuid import UUID

import httpx
from fastapi import FastAPI

from parley.core.schemas import Envelope
from parley.models.user import User
from parley.users.schemas import UserRead
from tests.conftest import PASSWORD, Account, assert_error
from tests.e2e.test_chats_hot_paths import statements_sent

API = "/api/v1"


async def _orm_bytes(app: FastAPI, account: Account) -> bytes:
    """`/users/me` as the ORM path renders it, from the row as it is now."""
    async with app.state.resources.database.sessions() as db:
        user = await db.get(User, UUID(account.id))
    assert user is not None
    body = Envelope[UserRead](message="Current user", data=UserRead.model_validate(user))
    return body.model_dump_json().encode()


async def _me(client: httpx.AsyncClient, account: Account) -> httpx.Response:
    response = await client.get(f"{API}/users/me", headers=account.headers)
    assert response.status_code == 200, response.text
    return response


async def test_a_remembered_caller_reads_me_with_no_statement(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    await _me(client, alice)  # the caller's login session is now in the access cache
    with statements_sent(app) as sent:
        response = await _me(client, alice)
    assert (sent.lean, sent.orm, sent.transaction) == ([], [], [])
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"


async def test_a_caller_not_remembered_costs_only_the_authenticating_look_up(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    patched = await client.patch(
        f"{API}/users/me", json={"username": "alice.lean"}, headers=alice.headers
    )
    assert patched.status_code == 200  # the commit dropped the cached session
    with statements_sent(app) as sent:
        response = await _me(client, alice)
    assert sent.lean == [] and len(sent.orm) == 1, sent
    assert response.json()["data"]["username"] == "alice.lean"


async def test_me_is_the_bytes_the_orm_path_renders_through_every_change(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, admin: Account
) -> None:
    assert (await _me(client, alice)).content == await _orm_bytes(app, alice)
    changes = [
        {"username": "ünïcode.shop", "phone_number": "+14155552671"},
        {"email": "Alice.Renamed@Example.com"},
        {"username": None, "phone_number": None},
    ]
    for change in changes:
        patched = await client.patch(f"{API}/users/me", json=change, headers=alice.headers)
        assert patched.status_code == 200, patched.text
        assert (await _me(client, alice)).content == await _orm_bytes(app, alice)
        assert (await _me(client, alice)).content == await _orm_bytes(app, alice)  # remembered
    changed = await client.post(
        f"{API}/auth/password/change",
        json={"current_password": PASSWORD, "new_password": "An0ther long passphrase"},
        headers=alice.headers,
    )
    assert changed.status_code == 200, changed.text  # updated_at moves with the password
    assert (await _me(client, alice)).content == await _orm_bytes(app, alice)
    promoted = await client.patch(
        f"{API}/users/{alice.id}", json={"role": "admin"}, headers=admin.headers
    )
    assert promoted.status_code == 200, promoted.text
    me = await _me(client, alice)
    assert me.json()["data"]["role"] == "admin"
    assert me.content == await _orm_bytes(app, alice)
    disabled = await client.patch(
        f"{API}/users/{alice.id}", json={"is_active": False}, headers=admin.headers
    )
    assert disabled.status_code == 200, disabled.text
    refused = await client.get(f"{API}/users/me", headers=alice.headers)
    assert_error(refused, 401, "unauthorized")
    assert refused.headers["www-authenticate"] == "Bearer"
