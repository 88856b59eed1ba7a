"""Auth as a client sees it: sign-up, login, tokens, login sessions, passwords."""

import asyncio
import time
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from fastapi import FastAPI

from parley.core.mail import Mail
from tests.conftest import (
    PASSWORD,
    TEST_SECRET,
    Account,
    RecordingMailer,
    assert_error,
    log_in,
    make_client,
    sign_up,
    unique_email,
)
from tests.support.mail import all_mail_delivered

API = "/api/v1"


async def test_register_returns_the_user_without_secrets(client: httpx.AsyncClient) -> None:
    email = unique_email()
    response = await client.post(
        f"{API}/auth/register",
        json={
            "email": email,
            "password": PASSWORD,
            "username": "shop_owner",
            "phone_number": "+14155552671",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "success"
    user = body["data"]
    assert set(user) == {
        "id",
        "email",
        "username",
        "phone_number",
        "role",
        "is_active",
        "email_verified",
        "mfa_enabled",
        "created_at",
        "updated_at",
    }
    assert (user["email"], user["username"], user["phone_number"]) == (
        email,
        "shop_owner",
        "+14155552671",
    )
    assert user["role"] == "user" and user["is_active"] is True
    assert user["email_verified"] is False and user["mfa_enabled"] is False
    assert PASSWORD not in response.text


@pytest.mark.parametrize("field", ["role", "is_active", "id", "user_id", "created_at"])
async def test_register_refuses_mass_assignment(client: httpx.AsyncClient, field: str) -> None:
    response = await client.post(
        f"{API}/auth/register", json={"email": unique_email(), "password": PASSWORD, field: "admin"}
    )
    body = assert_error(response, 422, "validation_error")
    assert any(d["field"] == f"body.{field}" for d in body["error"]["details"])


async def test_register_conflicts_on_email_in_any_case(client: httpx.AsyncClient) -> None:
    email = unique_email()
    await sign_up(client, email=email)
    response = await client.post(
        f"{API}/auth/register", json={"email": email.upper(), "password": PASSWORD}
    )
    assert_error(response, 409, "conflict")


async def test_register_conflicts_on_username_and_phone(client: httpx.AsyncClient) -> None:
    await sign_up(client, username="Corner_Shop", phone_number="+442071838750")
    taken_name = await client.post(
        f"{API}/auth/register",
        json={"email": unique_email(), "password": PASSWORD, "username": "corner_shop"},
    )
    assert_error(taken_name, 409, "conflict")
    taken_phone = await client.post(
        f"{API}/auth/register",
        json={"email": unique_email(), "password": PASSWORD, "phone_number": "+44 20 7183 8750"},
    )
    assert_error(taken_phone, 409, "conflict")


@pytest.mark.parametrize("phone_number", ["+14155552671*", "+1415555267x", "+1 415 555 2671;"])
async def test_phone_numbers_with_trailing_junk_are_refused(
    client: httpx.AsyncClient, phone_number: str
) -> None:
    response = await client.post(
        f"{API}/auth/register",
        json={"email": unique_email(), "password": PASSWORD, "phone_number": phone_number},
    )
    assert_error(response, 422, "validation_error")


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short", "too short"),
        ("x" * 129, "too long"),
        ("password123", "common"),
        ("Qwertyuiop", "common"),
    ],
)
async def test_register_refuses_weak_passwords(
    client: httpx.AsyncClient, password: str, reason: str
) -> None:
    response = await client.post(
        f"{API}/auth/register", json={"email": unique_email(), "password": password}
    )
    body = assert_error(response, 422, "validation_error")
    assert password not in response.text, reason
    assert body["error"]["details"]


async def test_validation_errors_never_echo_submitted_values(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{API}/auth/register",
        json={"email": "not-an-email-SECRETVALUE", "password": "SECRETVALUE"},
    )
    assert_error(response, 422, "validation_error")
    assert "SECRETVALUE" not in response.text


async def test_concurrent_registration_of_one_email_gives_one_201(
    client: httpx.AsyncClient,
) -> None:
    email = unique_email()
    responses = await asyncio.gather(
        *[
            client.post(f"{API}/auth/register", json={"email": email, "password": PASSWORD})
            for _ in range(8)
        ]
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * 7


async def test_unicode_passwords_count_every_character(client: httpx.AsyncClient) -> None:
    email = unique_email()
    password = "пароль-" + "ü" * 100 + "-end1"
    await sign_up(client, email=email, password=password)
    wrong_tail = await client.post(
        f"{API}/auth/login", json={"email": email, "password": password[:-1] + "2"}
    )
    assert_error(wrong_tail, 401, "unauthorized")


async def test_login_returns_a_token_pair(client: httpx.AsyncClient, alice: Account) -> None:
    data = await log_in(client, email=alice.email)
    assert set(data) == {"access_token", "refresh_token", "token_type", "expires_in", "session_id"}
    assert data["token_type"] == "bearer" and data["expires_in"] == 900
    claims = jwt.decode(data["access_token"], TEST_SECRET, algorithms=["HS256"])
    assert claims["typ"] == "access" and claims["sid"] == data["session_id"]
    assert claims["sub"] == alice.id and claims["role"] == "user"
    assert {"iat", "exp", "jti"} <= set(claims)


async def test_token_responses_are_not_cached(client: httpx.AsyncClient, alice: Account) -> None:
    response = await client.post(
        f"{API}/auth/login", json={"email": alice.email, "password": PASSWORD}
    )
    assert response.headers.get("cache-control") == "no-store"


async def test_wrong_password_and_unknown_email_look_the_same(
    client: httpx.AsyncClient, alice: Account
) -> None:
    wrong = await client.post(
        f"{API}/auth/login", json={"email": alice.email, "password": "wrong password!"}
    )
    unknown = await client.post(
        f"{API}/auth/login", json={"email": unique_email(), "password": "wrong password!"}
    )
    assert_error(wrong, 401, "unauthorized")
    assert_error(unknown, 401, "unauthorized")
    assert wrong.json()["message"] == unknown.json()["message"]


async def test_oauth2_form_endpoint_answers_in_rfc6749_shape(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.post(
        f"{API}/auth/token",
        data={"grant_type": "password", "username": alice.email, "password": PASSWORD},
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    me = await client.get(
        f"{API}/users/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 200
    bad = await client.post(
        f"{API}/auth/token",
        data={"grant_type": "password", "username": alice.email, "password": "nope-nope"},
    )
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_grant"


async def test_failed_logins_are_limited_per_account(app_factory: object) -> None:
    app: FastAPI = await app_factory(login_rate_limit="3/15m")  # type: ignore[operator]
    async with make_client(app) as http:
        account = await sign_up(http)
        for _ in range(3):
            wrong = await http.post(
                f"{API}/auth/login", json={"email": account.email, "password": "wrong-password"}
            )
            assert wrong.status_code == 401
        blocked = await http.post(
            f"{API}/auth/login", json={"email": account.email, "password": PASSWORD}
        )
        assert_error(blocked, 429, "rate_limited")
        assert 0 < int(blocked.headers["retry-after"]) <= 900


async def test_failed_logins_are_limited_per_ip(app_factory: object) -> None:
    app: FastAPI = await app_factory(login_rate_limit="3/15m")  # type: ignore[operator]
    async with make_client(app) as http:
        account = await sign_up(http)
        for _ in range(3):
            await http.post(
                f"{API}/auth/login", json={"email": unique_email(), "password": "wrong-password"}
            )
        blocked = await http.post(
            f"{API}/auth/login", json={"email": account.email, "password": PASSWORD}
        )
        assert_error(blocked, 429, "rate_limited")
    async with make_client(app, peer=("198.51.100.9", 4000)) as other_ip:
        assert (
            await other_ip.post(
                f"{API}/auth/login", json={"email": account.email, "password": PASSWORD}
            )
        ).status_code == 200


async def test_disabled_account_gets_403_only_after_the_right_password(
    client: httpx.AsyncClient, alice: Account, admin: Account
) -> None:
    await client.patch(f"{API}/users/{alice.id}", json={"is_active": False}, headers=admin.headers)
    wrong = await client.post(
        f"{API}/auth/login", json={"email": alice.email, "password": "wrong-password"}
    )
    assert_error(wrong, 401, "unauthorized")
    right = await client.post(
        f"{API}/auth/login", json={"email": alice.email, "password": PASSWORD}
    )
    assert_error(right, 403, "account_disabled")


def _forge(
    claims_update: dict[str, object],
    *,
    key: str = TEST_SECRET,
    algorithm: str = "HS256",
    base: Account,
) -> str:
    claims = jwt.decode(base.access_token, TEST_SECRET, algorithms=["HS256"])
    claims.update(claims_update)
    return jwt.encode(claims, key, algorithm=algorithm)


def _alg_none(base: Account) -> str:
    _header, payload, _signature = base.access_token.split(".")
    import base64
    import json

    none_header = (
        base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        .rstrip(b"=")
        .decode()
    )
    return f"{none_header}.{payload}."


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda a: "not-a-jwt", id="garbage"),
        pytest.param(lambda a: _forge({}, key="another-secret-" + "y" * 40, base=a), id="forged"),
        pytest.param(lambda a: _forge({"exp": int(time.time()) - 10}, base=a), id="expired"),
        pytest.param(_alg_none, id="alg-none"),
        pytest.param(lambda a: _forge({}, algorithm="HS512", base=a), id="wrong-algorithm"),
        pytest.param(lambda a: _forge({"typ": "refresh"}, base=a), id="wrong-type"),
        pytest.param(
            lambda a: _forge({"sub": "00000000-0000-7000-8000-000000000000"}, base=a),
            id="other-sub",
        ),
        pytest.param(lambda a: a.refresh_token, id="refresh-token-as-access"),
    ],
)
async def test_bad_access_tokens_get_401_with_www_authenticate(
    client: httpx.AsyncClient, alice: Account, make_token: object
) -> None:
    token = make_token(alice)  # type: ignore[operator]
    response = await client.get(f"{API}/users/me", headers={"Authorization": f"Bearer {token}"})
    assert_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_missing_token_gets_401(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/users/me")
    assert_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_refresh_rotates_and_the_old_token_stops_working(
    client: httpx.AsyncClient, alice: Account
) -> None:
    first = await client.post(f"{API}/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert first.status_code == 200
    pair = first.json()["data"]
    assert pair["refresh_token"] != alice.refresh_token and pair["session_id"] == alice.session_id
    again = await client.post(f"{API}/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert_error(again, 401, "unauthorized")
    second = await client.post(f"{API}/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert second.status_code == 200


async def test_reusing_a_rotated_refresh_token_revokes_the_login_session(
    client: httpx.AsyncClient, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    rotated = (
        await client.post(f"{API}/auth/refresh", json={"refresh_token": alice.refresh_token})
    ).json()["data"]
    later = datetime.now(UTC) + timedelta(seconds=30)
    monkeypatch.setattr("parley.auth.service.utcnow", lambda: later)
    reuse = await client.post(f"{API}/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert_error(reuse, 401, "unauthorized")
    monkeypatch.undo()
    # The thief's reuse ended the session for everyone holding its tokens.
    child = await client.post(
        f"{API}/auth/refresh", json={"refresh_token": rotated["refresh_token"]}
    )
    assert_error(child, 401, "unauthorized")
    me = await client.get(
        f"{API}/users/me", headers={"Authorization": f"Bearer {rotated['access_token']}"}
    )
    assert_error(me, 401, "unauthorized")


async def test_concurrent_refresh_of_one_token_leaves_one_live_child(
    client: httpx.AsyncClient, alice: Account
) -> None:
    responses = await asyncio.gather(
        *[
            client.post(f"{API}/auth/refresh", json={"refresh_token": alice.refresh_token})
            for _ in range(6)
        ]
    )
    codes = [r.status_code for r in responses]
    assert codes.count(200) == 1 and set(codes) <= {200, 401}, codes
    child = next(r for r in responses if r.status_code == 200).json()["data"]["refresh_token"]
    assert (
        await client.post(f"{API}/auth/refresh", json={"refresh_token": child})
    ).status_code == 200


@pytest.mark.parametrize("token", ["", "x" * 600, "unknown-token"])
async def test_bad_refresh_tokens_are_refused(client: httpx.AsyncClient, token: str) -> None:
    response = await client.post(f"{API}/auth/refresh", json={"refresh_token": token})
    assert response.status_code in {401, 422}
    assert response.json()["status"] == "error"


async def test_access_token_is_not_a_refresh_token(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.post(f"{API}/auth/refresh", json={"refresh_token": alice.access_token})
    assert_error(response, 401, "unauthorized")


async def test_logout_ends_the_session_at_once(client: httpx.AsyncClient, alice: Account) -> None:
    assert (await client.post(f"{API}/auth/logout", headers=alice.headers)).status_code == 200
    assert_error(await client.get(f"{API}/users/me", headers=alice.headers), 401, "unauthorized")
    refresh = await client.post(f"{API}/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert_error(refresh, 401, "unauthorized")


async def test_logout_all_ends_every_session(client: httpx.AsyncClient, alice: Account) -> None:
    other = await log_in(client, email=alice.email)
    assert (await client.post(f"{API}/auth/logout-all", headers=alice.headers)).status_code == 200
    for token in (alice.access_token, other["access_token"]):
        response = await client.get(f"{API}/users/me", headers={"Authorization": f"Bearer {token}"})
        assert_error(response, 401, "unauthorized")


async def test_login_sessions_list_devices_and_marks_the_current_one(
    client: httpx.AsyncClient, alice: Account
) -> None:
    firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
    await log_in(client, email=alice.email, headers={"User-Agent": firefox})
    response = await client.get(f"{API}/auth/sessions", headers=alice.headers)
    assert response.status_code == 200
    items = response.json()["data"]["items"]
    assert len(items) == 2
    assert {
        "id",
        "user_agent",
        "ip_address",
        "device",
        "created_at",
        "last_used_at",
        "expires_at",
        "current",
    } == set(items[0])
    current = [s for s in items if s["current"]]
    assert [s["id"] for s in current] == [alice.session_id]
    assert any(s["device"] == "Firefox on Linux" for s in items)
    assert all(s["ip_address"] == "203.0.113.7" for s in items)


async def test_login_sessions_paginate_with_a_cursor(
    client: httpx.AsyncClient, alice: Account
) -> None:
    for _ in range(2):
        await log_in(client, email=alice.email)
    first = (await client.get(f"{API}/auth/sessions?limit=2", headers=alice.headers)).json()["data"]
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = (
        await client.get(
            f"{API}/auth/sessions",
            params={"limit": 2, "cursor": first["next_cursor"]},
            headers=alice.headers,
        )
    ).json()["data"]
    assert len(second["items"]) == 1 and second["next_cursor"] is None
    # A signature's first character: all six of its bits count (its last one's need not).
    payload, signature = first["next_cursor"].split(".")
    forged = f"{payload}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"
    tampered = await client.get(
        f"{API}/auth/sessions", params={"cursor": forged}, headers=alice.headers
    )
    assert tampered.status_code in {400, 422} and tampered.json()["status"] == "error"


async def test_revoking_one_login_session(client: httpx.AsyncClient, alice: Account) -> None:
    other = await log_in(client, email=alice.email)
    response = await client.delete(
        f"{API}/auth/sessions/{other['session_id']}", headers=alice.headers
    )
    assert response.status_code == 200
    me = await client.get(
        f"{API}/users/me", headers={"Authorization": f"Bearer {other['access_token']}"}
    )
    assert_error(me, 401, "unauthorized")
    assert (await client.get(f"{API}/users/me", headers=alice.headers)).status_code == 200


async def test_another_users_login_session_is_404_and_stays_live(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    response = await client.delete(f"{API}/auth/sessions/{bob.session_id}", headers=alice.headers)
    assert_error(response, 404, "not_found")
    assert (await client.get(f"{API}/users/me", headers=bob.headers)).status_code == 200


async def test_password_change_keeps_this_session_and_ends_the_others(
    client: httpx.AsyncClient, alice: Account
) -> None:
    other = await log_in(client, email=alice.email)
    new_password = "a brand new passphrase"
    response = await client.post(
        f"{API}/auth/password/change",
        json={"current_password": PASSWORD, "new_password": new_password},
        headers=alice.headers,
    )
    assert response.status_code == 200
    assert (await client.get(f"{API}/users/me", headers=alice.headers)).status_code == 200
    stale = await client.get(
        f"{API}/users/me", headers={"Authorization": f"Bearer {other['access_token']}"}
    )
    assert_error(stale, 401, "unauthorized")
    await log_in(client, email=alice.email, password=new_password)


async def test_password_change_needs_the_current_password(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.post(
        f"{API}/auth/password/change",
        json={"current_password": "not my password", "new_password": "a brand new passphrase"},
        headers=alice.headers,
    )
    assert_error(response, 422, "validation_error")
    await log_in(client, email=alice.email)


async def _reset_mail(mailer: RecordingMailer) -> Mail:
    return (await mailer.wait_for(containing="/reset-password?token="))[-1]


async def test_forgot_and_reset_password(
    client: httpx.AsyncClient, alice: Account, mailer: RecordingMailer
) -> None:
    response = await client.post(f"{API}/auth/password/forgot", json={"email": alice.email})
    assert response.status_code == 202
    mail = await _reset_mail(mailer)
    assert mail.to == alice.email
    link = next(line for line in mail.body.splitlines() if "reset-password?token=" in line)
    assert link.startswith("http://localhost:8000/reset-password?token=")
    token = link.split("token=", 1)[1]
    new_password = "recovered passphrase 42"
    reset = await client.post(
        f"{API}/auth/password/reset", json={"token": token, "new_password": new_password}
    )
    assert reset.status_code == 200
    assert_error(await client.get(f"{API}/users/me", headers=alice.headers), 401, "unauthorized")
    await log_in(client, email=alice.email, password=new_password)
    again = await client.post(
        f"{API}/auth/password/reset",
        json={"token": token, "new_password": "yet another passphrase"},
    )
    assert_error(again, 400, "bad_request")


async def test_forgot_password_does_not_reveal_accounts(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, mailer: RecordingMailer
) -> None:
    stranger = unique_email()
    unknown = await client.post(f"{API}/auth/password/forgot", json={"email": stranger})
    known = await client.post(f"{API}/auth/password/forgot", json={"email": alice.email})
    assert unknown.status_code == known.status_code == 202
    assert unknown.json() == known.json()
    await mailer.wait_for(to=alice.email, containing="/reset-password")
    await all_mail_delivered(app)  # jobs run in no fixed order: a mail to the stranger is out too
    assert mailer.matching(to=stranger) == []


async def test_reset_link_uses_only_the_public_base_url(
    app_factory: object, mailer: RecordingMailer
) -> None:
    app: FastAPI = await app_factory(public_base_url="https://shop.example.org/")  # type: ignore[operator]
    async with make_client(app, headers={"Host": "evil.example.com"}) as http:
        account = await sign_up(http)
        await http.post(
            f"{API}/auth/password/forgot",
            json={"email": account.email},
            headers={"X-Forwarded-Host": "evil.example.com"},
        )
        mail = await _reset_mail(mailer)
    assert "https://shop.example.org/reset-password?token=" in mail.body
    assert "evil" not in mail.body


async def test_expired_reset_token_is_refused(
    client: httpx.AsyncClient,
    alice: Account,
    mailer: RecordingMailer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await client.post(f"{API}/auth/password/forgot", json={"email": alice.email})
    token = (await _reset_mail(mailer)).body.split("token=", 1)[1].split()[0]
    later = datetime.now(UTC) + timedelta(hours=2)
    monkeypatch.setattr("parley.auth.service.utcnow", lambda: later)
    response = await client.post(
        f"{API}/auth/password/reset", json={"token": token, "new_password": "too late passphrase"}
    )
    assert_error(response, 400, "bad_request")


@pytest.mark.parametrize(
    "body",
    [
        {"email": "a\u0000@example.com", "password": PASSWORD},
        {"email": "x" * 400, "password": PASSWORD},
        {"email": "a@example.com", "password": "p" * 129},
        {"email": 42, "password": PASSWORD},
        {"email": "a@example.com"},
    ],
)
async def test_login_refuses_malformed_bodies_with_422(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    response = await client.post(f"{API}/auth/login", json=body)
    assert_error(response, 422, "validation_error")
