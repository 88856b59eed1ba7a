"""Two-factor sign-in with TOTP, driven by an independent RFC 6238 implementation."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from parley.accounts.service import purge_spent_account_tokens
from parley.models.accounts import (
    EmailVerificationToken,
    MfaChallenge,
    RecoveryCode,
    TotpCredential,
)
from tests.conftest import Account, assert_error, make_client, sign_up
from tests.e2e.accounts_helpers import API, current_step, enable_mfa, totp_code


async def _login(http: httpx.AsyncClient, account: Account) -> httpx.Response:
    return await http.post(
        f"{API}/auth/login", json={"email": account.email, "password": account.password}
    )


async def _verify(http: httpx.AsyncClient, mfa_token: str, code: str) -> httpx.Response:
    return await http.post(f"{API}/auth/mfa/verify", json={"mfa_token": mfa_token, "code": code})


async def test_setup_gives_a_secret_that_is_inactive_until_a_code_confirms_it(
    client: httpx.AsyncClient, alice: Account
) -> None:
    setup = await client.post(
        f"{API}/auth/mfa/totp/setup", json={"password": alice.password}, headers=alice.headers
    )
    assert setup.status_code == 200, setup.text
    data = setup.json()["data"]
    assert set(data) == {"secret", "otpauth_uri"}
    assert data["otpauth_uri"].startswith("otpauth://totp/Parley:")
    assert f"secret={data['secret']}" in data["otpauth_uri"]
    assert "issuer=Parley" in data["otpauth_uri"]
    # Not active yet: a login still answers tokens.
    assert "access_token" in (await _login(client, alice)).json()["data"]
    me = (await client.get(f"{API}/users/me", headers=alice.headers)).json()["data"]
    assert me["mfa_enabled"] is False


async def test_with_mfa_on_login_asks_for_a_code_and_verify_signs_in_once(
    client: httpx.AsyncClient, alice: Account
) -> None:
    secret, codes, step = await enable_mfa(client, alice)
    assert len(codes) == 10 and len(set(codes)) == 10
    me = (await client.get(f"{API}/users/me", headers=alice.headers)).json()["data"]
    assert me["mfa_enabled"] is True

    login = await _login(client, alice)
    assert login.status_code == 200
    challenge = login.json()["data"]
    assert challenge["mfa_required"] is True and challenge["expires_in"] == 300
    assert "access_token" not in challenge
    # The confirming code was used: the same code again is a replay.
    replay = await _verify(client, challenge["mfa_token"], totp_code(secret, step))
    assert_error(replay, 401, "unauthorized")
    signed_in = await _verify(client, challenge["mfa_token"], totp_code(secret, step + 1))
    assert signed_in.status_code == 200, signed_in.text
    pair = signed_in.json()["data"]
    assert pair["token_type"] == "bearer" and pair["access_token"] and pair["refresh_token"]
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    assert (await client.get(f"{API}/users/me", headers=headers)).status_code == 200
    # The mfa_token is single-use.
    again = await _verify(client, challenge["mfa_token"], codes[0])
    assert_error(again, 401, "unauthorized")


async def test_recovery_codes_sign_in_once_each(client: httpx.AsyncClient, alice: Account) -> None:
    _secret, codes, _step = await enable_mfa(client, alice)
    first = (await _login(client, alice)).json()["data"]["mfa_token"]
    assert (await _verify(client, first, codes[0].upper())).status_code == 200
    second = (await _login(client, alice)).json()["data"]["mfa_token"]
    assert_error(await _verify(client, second, codes[0]), 401, "unauthorized")
    assert (await _verify(client, second, codes[1])).status_code == 200


async def test_an_mfa_token_lives_five_minutes(
    client: httpx.AsyncClient, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Recovery codes do not depend on the time, so only the token's age decides.
    _secret, codes, _step = await enable_mfa(client, alice)
    fresh = (await _login(client, alice)).json()["data"]["mfa_token"]
    stale = (await _login(client, alice)).json()["data"]["mfa_token"]
    issued = datetime.now(UTC)
    monkeypatch.setattr("parley.auth.service.utcnow", lambda: issued + timedelta(minutes=4.9))
    assert (await _verify(client, fresh, codes[0])).status_code == 200
    monkeypatch.setattr("parley.auth.service.utcnow", lambda: issued + timedelta(minutes=5.1))
    expired = await _verify(client, stale, codes[1])
    assert_error(expired, 401, "unauthorized")
    assert expired.headers["www-authenticate"] == "Bearer"
    monkeypatch.undo()
    # The refused code was not spent: it signs in with a token within its five minutes.
    again = (await _login(client, alice)).json()["data"]["mfa_token"]
    assert (await _verify(client, again, codes[1])).status_code == 200


async def test_a_code_outside_the_window_is_refused(
    client: httpx.AsyncClient, alice: Account
) -> None:
    secret, _codes, _step = await enable_mfa(client, alice)
    token = (await _login(client, alice)).json()["data"]["mfa_token"]
    for stale in (current_step() - 3, current_step() + 3):
        assert_error(await _verify(client, token, totp_code(secret, stale)), 401, "unauthorized")
    assert_error(await _verify(client, "not-a-token", "123456"), 401, "unauthorized")


async def test_the_token_endpoint_refuses_mfa_accounts_with_invalid_grant(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await enable_mfa(client, alice)
    response = await client.post(
        f"{API}/auth/token", data={"username": alice.email, "password": alice.password}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_wrong_codes_count_against_the_login_limit(
    app_factory: Callable[..., FastAPI],
) -> None:
    app = await app_factory(login_rate_limit="3/15m")
    async with make_client(app) as http:
        account = await sign_up(http)
        secret, _codes, step = await enable_mfa(http, account)
        token = (await _login(http, account)).json()["data"]["mfa_token"]
        wrong = totp_code(secret, step - 10)
        for _ in range(3):
            assert_error(await _verify(http, token, wrong), 401, "unauthorized")
        limited = await _verify(http, token, totp_code(secret, step + 1))
        assert_error(limited, 429, "rate_limited")
        assert int(limited.headers["retry-after"]) > 0


async def test_new_recovery_codes_replace_the_old_set(
    client: httpx.AsyncClient, alice: Account
) -> None:
    secret, old, step = await enable_mfa(client, alice)
    renewed = await client.post(
        f"{API}/auth/mfa/recovery-codes",
        json={"password": alice.password, "code": old[0]},
        headers=alice.headers,
    )
    assert renewed.status_code == 200, renewed.text
    new = renewed.json()["data"]["recovery_codes"]
    assert len(new) == 10 and not set(new) & set(old)
    token = (await _login(client, alice)).json()["data"]["mfa_token"]
    assert_error(await _verify(client, token, old[1]), 401, "unauthorized")
    assert (await _verify(client, token, new[0])).status_code == 200
    wrong_password = await client.post(
        f"{API}/auth/mfa/recovery-codes",
        json={"password": "not the password", "code": totp_code(secret, step + 1)},
        headers=alice.headers,
    )
    assert_error(wrong_password, 422, "validation_error")


async def test_disabling_needs_password_and_code_and_turns_mfa_off(
    client: httpx.AsyncClient, alice: Account
) -> None:
    secret, codes, step = await enable_mfa(client, alice)
    wrong_code = await client.request(
        "DELETE",
        f"{API}/auth/mfa",
        json={"password": alice.password, "code": totp_code(secret, step - 10)},
        headers=alice.headers,
    )
    assert_error(wrong_code, 401, "unauthorized")
    off = await client.request(
        "DELETE",
        f"{API}/auth/mfa",
        json={"password": alice.password, "code": totp_code(secret, step + 1)},
        headers=alice.headers,
    )
    assert off.status_code == 200, off.text
    assert "access_token" in (await _login(client, alice)).json()["data"]
    again = await client.request(
        "DELETE",
        f"{API}/auth/mfa",
        json={"password": alice.password, "code": codes[0]},
        headers=alice.headers,
    )
    assert_error(again, 409, "conflict")


async def test_setup_refusals(client: httpx.AsyncClient, alice: Account) -> None:
    wrong = await client.post(
        f"{API}/auth/mfa/totp/setup", json={"password": "wrong password"}, headers=alice.headers
    )
    assert_error(wrong, 422, "validation_error")
    not_started = await client.post(
        f"{API}/auth/mfa/totp/confirm", json={"code": "123456"}, headers=alice.headers
    )
    assert_error(not_started, 409, "conflict")
    malformed = await client.post(
        f"{API}/auth/mfa/totp/confirm", json={"code": "12345a"}, headers=alice.headers
    )
    assert_error(malformed, 422, "validation_error")
    await enable_mfa(client, alice)
    again = await client.post(
        f"{API}/auth/mfa/totp/setup", json={"password": alice.password}, headers=alice.headers
    )
    assert_error(again, 409, "conflict")
    assert_error(
        await client.post(f"{API}/auth/mfa/totp/setup", json={"password": "x"}), 401, "unauthorized"
    )


async def test_the_secret_and_recovery_codes_are_not_stored_in_the_clear(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    secret, codes, _step = await enable_mfa(client, alice)
    async with app.state.resources.database.sessions() as db:
        stored = (await db.scalars(select(TotpCredential.secret_encrypted))).all()
        hashes = (await db.scalars(select(RecoveryCode.code_hash))).all()
    assert len(stored) == 1 and secret not in stored[0]
    assert len(hashes) == 10
    assert not any(code.replace("-", "") in h or code in h for code in codes for h in hashes)


async def test_spent_mfa_tokens_and_links_are_purged_after_a_day(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    await enable_mfa(client, alice)
    await _login(client, alice)
    await _login(client, alice)
    database = app.state.resources.database
    assert await purge_spent_account_tokens(database) == 0
    later = datetime.now(UTC) + timedelta(days=2)
    monkeypatch.setattr("parley.accounts.service.utcnow", lambda: later)
    # Two challenges expired, and alice's unused verification link too.
    assert await purge_spent_account_tokens(database) == 3
    async with database.sessions() as db:
        assert (await db.scalars(select(MfaChallenge))).all() == []
        assert (await db.scalars(select(EmailVerificationToken))).all() == []
