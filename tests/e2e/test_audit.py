"""The audit log: what is recorded, with which request, and how it is read and purged."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from parley.audit.service import purge_expired_audit_entries
from parley.core.ids import new_id
from parley.models.accounts import AuditEntry
from tests.conftest import (
    PASSWORD,
    Account,
    RecordingMailer,
    assert_error,
    log_in,
    make_client,
    sign_up,
    unique_email,
)
from tests.e2e.accounts_helpers import enable_mfa, link_token, totp_code

API = "/api/v1"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


async def _mine(http: httpx.AsyncClient, account: Account, **params: Any) -> list[dict[str, Any]]:
    response = await http.get(f"{API}/users/me/audit", params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["data"]["items"]
    return items


async def test_sign_in_history_carries_the_request_that_caused_it(
    client: httpx.AsyncClient,
) -> None:
    email = unique_email()
    registered = await client.post(
        f"{API}/auth/register",
        json={"email": email, "password": PASSWORD},
        headers={"X-Request-ID": "register-1", "User-Agent": BROWSER},
    )
    user_id = registered.json()["data"]["id"]
    wrong = await client.post(
        f"{API}/auth/login",
        json={"email": email, "password": "wrong password"},
        headers={"X-Request-ID": "wrong-1"},
    )
    assert wrong.status_code == 401
    tokens = await log_in(client, email=email, headers={"X-Request-ID": "login-1"})
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    account = Account(user_id, email, PASSWORD, tokens["access_token"], "", tokens["session_id"])

    entries = await _mine(client, account)
    assert [e["action"] for e in entries] == ["auth.login", "auth.login_failed", "auth.register"]
    login, failed, register = entries
    assert (login["request_id"], login["actor_id"]) == ("login-1", user_id)
    assert login["target_type"] == "login_session" and login["target_id"] == tokens["session_id"]
    assert login["ip_address"] == "203.0.113.7"
    assert (failed["request_id"], failed["actor_id"], failed["target_id"]) == (
        "wrong-1",
        None,
        user_id,
    )
    assert failed["details"] == {"reason": "invalid_credentials"}
    assert register["user_agent"] == BROWSER and register["request_id"] == "register-1"
    assert set(login) == {
        "id",
        "created_at",
        "action",
        "actor_id",
        "target_type",
        "target_id",
        "ip_address",
        "user_agent",
        "request_id",
        "details",
    }

    await client.post(
        f"{API}/auth/password/change",
        json={"current_password": PASSWORD, "new_password": "another long passphrase"},
        headers=headers,
    )
    await client.post(f"{API}/auth/logout", headers=headers)
    account.password = "another long passphrase"
    fresh = await log_in(client, email=email, password=account.password)
    account.access_token = fresh["access_token"]
    actions = [e["action"] for e in await _mine(client, account)]
    assert actions[:3] == ["auth.login", "auth.logout", "auth.password_changed"]
    body = (await client.get(f"{API}/users/me/audit", headers=account.headers)).text
    for secret in (PASSWORD, account.password, tokens["access_token"], tokens["refresh_token"]):
        assert secret not in body


async def test_session_revocation_and_refresh_reuse_are_recorded(
    client: httpx.AsyncClient, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = await log_in(client, email=alice.email)
    revoked = await client.delete(
        f"{API}/auth/sessions/{other['session_id']}", headers=alice.headers
    )
    assert revoked.status_code == 200
    await client.post(f"{API}/auth/refresh", json={"refresh_token": alice.refresh_token})
    later = datetime.now(UTC) + timedelta(seconds=30)
    monkeypatch.setattr("parley.auth.service.utcnow", lambda: later)
    reuse = await client.post(
        f"{API}/auth/refresh",
        json={"refresh_token": alice.refresh_token},
        headers={"X-Request-ID": "reuse-1"},
    )
    monkeypatch.undo()
    assert reuse.status_code == 401
    fresh = await log_in(client, email=alice.email)
    alice.access_token = fresh["access_token"]
    entries = await _mine(client, alice)
    actions = [e["action"] for e in entries]
    assert "auth.session_revoked" in actions
    (revocation,) = [e for e in entries if e["action"] == "auth.session_revoked"]
    assert revocation["target_id"] == other["session_id"]
    (reused,) = [e for e in entries if e["action"] == "auth.refresh_reused"]
    assert reused["request_id"] == "reuse-1" and reused["target_id"] == alice.id
    assert reused["details"] == {"login_session_id": alice.session_id}


async def test_admins_read_everyones_log_with_filters_and_pages(
    client: httpx.AsyncClient, alice: Account, bob: Account, admin: Account
) -> None:
    reuse_entries = await client.get(
        f"{API}/audit", params={"action": "auth.register"}, headers=admin.headers
    )
    assert reuse_entries.status_code == 200
    registered = {e["actor_id"] for e in reuse_entries.json()["data"]["items"]}
    assert {alice.id, bob.id} <= registered

    disabled = await client.patch(
        f"{API}/users/{bob.id}", json={"is_active": False, "role": "user"}, headers=admin.headers
    )
    assert disabled.status_code == 200
    updates = (
        await client.get(f"{API}/audit", params={"action": "user.updated"}, headers=admin.headers)
    ).json()["data"]["items"]
    (update,) = updates
    assert update["target_id"] == bob.id
    assert update["details"]["is_active"] is False and update["details"]["role"] == "user"
    deleted = await client.delete(f"{API}/users/{bob.id}", headers=admin.headers)
    assert deleted.status_code == 200
    by_alice = (
        await client.get(f"{API}/audit", params={"actor_id": alice.id}, headers=admin.headers)
    ).json()["data"]["items"]
    assert by_alice and all(e["actor_id"] == alice.id for e in by_alice)
    kinds = {
        e["action"]
        for e in (await client.get(f"{API}/audit", headers=admin.headers)).json()["data"]["items"]
    }
    assert "user.deleted" in kinds

    now = datetime.now(UTC)
    window = {
        "since": (now - timedelta(hours=1)).isoformat(),
        "until": (now + timedelta(hours=1)).isoformat(),
    }
    first = await client.get(f"{API}/audit", params={**window, "limit": 2}, headers=admin.headers)
    page = first.json()["data"]
    assert len(page["items"]) == 2 and page["next_cursor"]
    second = await client.get(
        f"{API}/audit",
        params={**window, "limit": 2, "cursor": page["next_cursor"]},
        headers=admin.headers,
    )
    later_items = second.json()["data"]["items"]
    assert later_items and later_items[0]["id"] < page["items"][-1]["id"]
    future = await client.get(
        f"{API}/audit",
        params={"since": (now + timedelta(hours=1)).isoformat()},
        headers=admin.headers,
    )
    assert future.json()["data"]["items"] == []
    foreign = await client.get(
        f"{API}/audit", params={"limit": 2, "cursor": page["next_cursor"]}, headers=admin.headers
    )
    assert_error(foreign, 400, "bad_request")
    mine = await client.get(
        f"{API}/users/me/audit", params={"cursor": page["next_cursor"]}, headers=admin.headers
    )
    assert_error(mine, 400, "bad_request")


@pytest.mark.parametrize(
    "params",
    [
        {"actor_id": "not-a-uuid"},
        {"since": "yesterday"},
        {"until": "2026-13-01T00:00:00Z"},
        {"since": "2026-01-01T00:00:00"},
        {"action": ""},
    ],
)
async def test_unparseable_filters_are_422(
    client: httpx.AsyncClient, admin: Account, params: dict[str, str]
) -> None:
    response = await client.get(f"{API}/audit", params=params, headers=admin.headers)
    assert_error(response, 422, "validation_error")


async def test_only_admins_read_everyones_log(client: httpx.AsyncClient, alice: Account) -> None:
    assert_error(await client.get(f"{API}/audit", headers=alice.headers), 403, "forbidden")
    assert_error(await client.get(f"{API}/audit"), 401, "unauthorized")
    assert_error(await client.get(f"{API}/users/me/audit"), 401, "unauthorized")


async def test_the_purge_removes_only_entries_past_retention(
    app_factory: Callable[..., Any],
) -> None:
    application: FastAPI = await app_factory(audit_retention="30d")
    resources = application.state.resources
    now = datetime.now(UTC)
    old, recent = new_id(), new_id()
    async with resources.database.sessions() as db:
        db.add(AuditEntry(id=old, created_at=now - timedelta(days=31), action="auth.login"))
        db.add(AuditEntry(id=recent, created_at=now - timedelta(days=29), action="auth.login"))
        await db.commit()
    assert await purge_expired_audit_entries(resources.database, resources.settings) == 1
    async with resources.database.sessions() as db:
        assert await db.get(AuditEntry, old) is None
        assert await db.get(AuditEntry, recent) is not None


async def test_verification_mfa_and_password_reset_are_recorded(
    client: httpx.AsyncClient, alice: Account, mailer: RecordingMailer
) -> None:
    verification = link_token(
        (await mailer.wait_for(to=alice.email, containing="/verify-email"))[0].body, "/verify-email"
    )
    await client.post(f"{API}/auth/email/verify", json={"token": verification})
    secret, _codes, step = await enable_mfa(client, alice)
    off = await client.request(
        "DELETE",
        f"{API}/auth/mfa",
        json={"password": alice.password, "code": totp_code(secret, step + 1)},
        headers=alice.headers,
    )
    assert off.status_code == 200
    await client.post(f"{API}/auth/password/forgot", json={"email": alice.email})
    reset = await _wait_for_reset_mail(mailer, alice.email)
    await client.post(
        f"{API}/auth/password/reset",
        json={"token": link_token(reset, "/reset-password"), "new_password": "a fresh passphrase"},
    )
    tokens = await log_in(client, email=alice.email, password="a fresh passphrase")
    alice.access_token = tokens["access_token"]
    actions = [e["action"] for e in await _mine(client, alice)]
    assert actions[:5] == [
        "auth.login",
        "auth.password_reset",
        "auth.mfa_disabled",
        "auth.mfa_enabled",
        "auth.email_verified",
    ]


async def _wait_for_reset_mail(mailer: RecordingMailer, address: str) -> str:
    return (await mailer.wait_for(to=address, containing="reset-password"))[-1].body


async def test_a_change_that_fails_leaves_no_entry(
    client: httpx.AsyncClient, alice: Account, bob: Account, admin: Account
) -> None:
    await client.patch(f"{API}/users/me", json={"username": "taken_name"}, headers=bob.headers)
    clash = await client.patch(
        f"{API}/users/{alice.id}",
        json={"username": "taken_name", "is_active": False},
        headers=admin.headers,
    )
    assert_error(clash, 409, "conflict")
    again = await client.post(
        f"{API}/auth/register", json={"email": alice.email, "password": PASSWORD}
    )
    assert_error(again, 409, "conflict")
    entries = (await client.get(f"{API}/audit", headers=admin.headers)).json()["data"]["items"]
    assert [e for e in entries if e["action"] == "user.updated"] == []
    registered = [e for e in entries if e["action"] == "auth.register"]
    assert len(registered) == 3  # alice, bob and the administrator; not the second alice
    assert (await client.get(f"{API}/users/me", headers=alice.headers)).status_code == 200


async def test_creating_and_deleting_a_webhook_are_recorded_without_its_url(
    app_factory: Callable[..., Any],
) -> None:
    app = await app_factory(webhook_allow_private=True)
    async with make_client(app) as http:
        account = await sign_up(http)
        url = "http://127.0.0.1:9/hooks?token=receiver-secret"
        created = await http.post(
            f"{API}/webhooks",
            json={"url": url, "events": ["message.created"]},
            headers=account.headers,
        )
        assert created.status_code == 201, created.text
        webhook_id = created.json()["data"]["id"]
        deleted = await http.delete(f"{API}/webhooks/{webhook_id}", headers=account.headers)
        assert deleted.status_code == 200
        entries = [e for e in await _mine(http, account) if e["action"].startswith("webhook.")]
    assert [(e["action"], e["target_id"]) for e in entries] == [  # newest first
        ("webhook.deleted", webhook_id),
        ("webhook.created", webhook_id),
    ]
    assert entries[1]["details"] == {"events": ["message.created"]}
    assert "receiver-secret" not in str(entries)


async def test_creating_and_revoking_an_api_key_are_recorded_without_the_key(
    client: httpx.AsyncClient, alice: Account
) -> None:
    created = await client.post(
        f"{API}/api-keys",
        json={"name": "Order bot", "scope": "read"},
        headers={**alice.headers, "X-Request-ID": "key-made"},
    )
    assert created.status_code == 201, created.text
    key = created.json()["data"]
    revoked = await client.delete(
        f"{API}/api-keys/{key['id']}", headers={**alice.headers, "X-Request-ID": "key-gone"}
    )
    assert revoked.status_code == 200
    entries = [e for e in await _mine(client, alice) if e["action"].startswith("api_key.")]
    assert [(e["action"], e["target_type"], e["target_id"], e["request_id"]) for e in entries] == [
        ("api_key.revoked", "api_key", key["id"], "key-gone"),  # newest first
        ("api_key.created", "api_key", key["id"], "key-made"),
    ]
    assert all(e["actor_id"] == alice.id for e in entries)
    assert entries[1]["details"] == {"name": "Order bot", "scope": "read", "prefix": key["prefix"]}
    secret = key["key"].split("_", 2)[2]
    assert secret not in str(entries)
