"""`GET /users/me` and `POST /auth/refresh` on the lean path: the fewest statements each
database allows, and the bytes and answers of the ORM path."""

from datetime import UTC, datetime, timedelta
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI

from parley.auth.schemas import TokenPair
from parley.core.schemas import Envelope
from parley.models.user import User
from parley.users.schemas import UserRead
from tests.conftest import PASSWORD, Account, assert_error
from tests.support.statements import statements_sent

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


# POST /auth/login

# The account, the device's row, then (in one transaction) the device seen now, the login
# session, its refresh token and the audit entry.
_SIGN_IN = 6
BROWSER = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)


async def _log_in(client: httpx.AsyncClient, account: Account, **headers: str) -> httpx.Response:
    body = {"email": account.email.upper(), "password": PASSWORD}
    return await client.post(f"{API}/auth/login", json=body, headers=headers)


async def test_a_sign_in_from_a_known_device_is_lean_and_opens_the_same_session(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, admin: Account
) -> None:
    with statements_sent(app) as sent:
        response = await _log_in(client, alice)  # sign_up signed in from this device
    assert response.status_code == 200, response.text
    assert sent.orm == [] and len(sent.lean) == _SIGN_IN, sent
    pair = response.json()["data"]
    assert pair["token_type"] == "bearer" and pair["session_id"] != alice.session_id
    caller = {"Authorization": f"Bearer {pair['access_token']}"}
    listed = await client.get(f"{API}/auth/sessions", headers=caller)
    sessions = {s["id"]: s for s in listed.json()["data"]["items"]}
    assert set(sessions) == {alice.session_id, pair["session_id"]}
    assert sessions[pair["session_id"]]["current"] is True
    refreshed = await client.post(
        f"{API}/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    audit = await client.get(f"{API}/audit", params={"action": "auth.login"}, headers=admin.headers)
    entry = next(e for e in audit.json()["data"]["items"] if e["target_id"] == pair["session_id"])
    assert (entry["actor_id"], entry["target_type"]) == (alice.id, "login_session")
    assert entry["ip_address"] == "203.0.113.7" and entry["request_id"]


async def test_a_sign_in_from_another_device_takes_the_full_path(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    with statements_sent(app) as sent:
        response = await _log_in(client, alice, **{"User-Agent": BROWSER})
    assert response.status_code == 200, response.text
    assert len(sent.lean) == 2 and sent.orm, sent  # the account and the device, then the ORM
    with statements_sent(app) as sent:
        again = await _log_in(client, alice, **{"User-Agent": BROWSER})
    assert again.status_code == 200 and sent.orm == [] and len(sent.lean) == _SIGN_IN, sent


# POST /auth/refresh

# Statements on the driver connection: PostgreSQL one, its own transaction; SQLite (inside
# BEGIN IMMEDIATE) the read and three writes; MariaDB the read, the lock by primary key and
# three writes.
_ROTATION = {"postgresql": 1, "sqlite": 4, "mysql": 5}
# The revocation, then its audit entry (auth.refresh_reused) in the same transaction.
_REVOCATION = {"postgresql": 2, "sqlite": 3, "mysql": 3}


async def _refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(f"{API}/auth/refresh", json={"refresh_token": token})


def _as_the_model_renders(response: httpx.Response) -> bytes:
    data = TokenPair.model_validate(response.json()["data"])
    return Envelope[TokenPair](message="Tokens refreshed", data=data).model_dump_json().encode()


async def test_a_refresh_is_the_fewest_statements_and_the_bytes_the_model_renders(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, dialect: str
) -> None:
    with statements_sent(app) as sent:
        response = await _refresh(client, alice.refresh_token)
    assert response.status_code == 200, response.text
    assert sent.orm == [] and len(sent.lean) == _ROTATION[dialect], sent
    if dialect == "postgresql":
        assert sent.transaction == []
    assert response.content == _as_the_model_renders(response)
    assert response.headers["cache-control"] == "no-store"
    pair = response.json()["data"]
    assert pair["session_id"] == alice.session_id and pair["token_type"] == "bearer"
    me = await client.get(
        f"{API}/users/me", headers={"Authorization": f"Bearer {pair['access_token']}"}
    )
    assert me.status_code == 200 and me.json()["data"]["id"] == alice.id


async def test_a_refresh_slides_the_login_session_and_marks_it_used(
    app: FastAPI,
    client: httpx.AsyncClient,
    alice: Account,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    later = datetime.now(UTC).replace(microsecond=123456) + timedelta(hours=1)
    monkeypatch.setattr("parley.auth.service.utcnow", lambda: later)
    assert (await _refresh(client, alice.refresh_token)).status_code == 200
    monkeypatch.undo()
    sessions = (await client.get(f"{API}/auth/sessions", headers=alice.headers)).json()
    (current,) = [s for s in sessions["data"]["items"] if s["current"]]
    lifetime = timedelta(seconds=app.state.resources.settings.refresh_token_expires_in)
    assert current["last_used_at"] == later.strftime("%Y-%m-%dT%H:%M:%S.123456Z")
    assert current["expires_at"] == (later + lifetime).strftime("%Y-%m-%dT%H:%M:%S.123456Z")


async def test_a_reuse_past_the_grace_window_revokes_in_one_committed_write(
    app: FastAPI,
    client: httpx.AsyncClient,
    alice: Account,
    dialect: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rotated = (await _refresh(client, alice.refresh_token)).json()["data"]
    child_headers = {"Authorization": f"Bearer {rotated['access_token']}"}
    assert (await client.get(f"{API}/users/me", headers=child_headers)).status_code == 200
    within_grace = await _refresh(client, alice.refresh_token)
    assert_error(within_grace, 401, "unauthorized")
    assert within_grace.json()["message"] == "Invalid or expired refresh token"
    later = datetime.now(UTC) + timedelta(seconds=30)
    monkeypatch.setattr("parley.auth.service.utcnow", lambda: later)
    with statements_sent(app) as sent:
        reuse = await _refresh(client, alice.refresh_token)
    monkeypatch.undo()
    body = assert_error(reuse, 401, "unauthorized")
    assert body["message"] == "Refresh token was already used; the login session has been revoked"
    assert reuse.headers["www-authenticate"] == "Bearer"
    assert sent.orm == [] and len(sent.lean) == _REVOCATION[dialect], sent
    # Committed before the 401, and the remembered access token forgotten at once.
    assert_error(await client.get(f"{API}/users/me", headers=child_headers), 401, "unauthorized")
    assert_error(await _refresh(client, rotated["refresh_token"]), 401, "unauthorized")


async def test_refusals_keep_their_answers_and_change_nothing(
    client: httpx.AsyncClient, alice: Account, admin: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    unknown = await _refresh(client, "not-a-token-we-issued")
    assert assert_error(unknown, 401, "unauthorized")["message"] == (
        "Invalid or expired refresh token"
    )
    assert unknown.headers["www-authenticate"] == "Bearer"
    # Past the login session's expiry: refused, and the token stays unused.
    far = datetime.now(UTC) + timedelta(days=400)
    monkeypatch.setattr("parley.auth.service.utcnow", lambda: far)
    assert_error(await _refresh(client, alice.refresh_token), 401, "unauthorized")
    monkeypatch.undo()
    fresh = await _refresh(client, alice.refresh_token)
    assert fresh.status_code == 200, fresh.text
    token = fresh.json()["data"]["refresh_token"]
    disabled = await client.patch(
        f"{API}/users/{alice.id}", json={"is_active": False}, headers=admin.headers
    )
    assert disabled.status_code == 200
    assert_error(await _refresh(client, token), 401, "unauthorized")
    enabled = await client.patch(
        f"{API}/users/{alice.id}", json={"is_active": True}, headers=admin.headers
    )
    assert enabled.status_code == 200
    # Disabling revoked the login sessions: the token, never claimed, still opens nothing.
    assert_error(await _refresh(client, token), 401, "unauthorized")
