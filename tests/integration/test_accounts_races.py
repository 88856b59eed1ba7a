"""Single-use credentials under concurrency, on whichever database the suite runs on: one TOTP
code, one recovery code, one mfa_token and one verification link each win once, and racing key
creations never pass 20 live keys."""

import asyncio
from typing import Any

import httpx
from fastapi import FastAPI

from tests.conftest import Account, RecordingMailer, assert_error
from tests.e2e.accounts_helpers import API, enable_mfa, link_token, totp_code
from tests.support.mail import all_mail_delivered

RACERS = 6


async def _all_at_once(*requests: Any) -> list[httpx.Response]:
    return list(await asyncio.gather(*requests))


async def _mfa_tokens(http: httpx.AsyncClient, account: Account, count: int) -> list[str]:
    tokens = []
    for _ in range(count):
        login = await http.post(
            f"{API}/auth/login", json={"email": account.email, "password": account.password}
        )
        tokens.append(login.json()["data"]["mfa_token"])
    return tokens


async def test_one_totp_code_signs_in_once_however_many_race(
    client: httpx.AsyncClient, alice: Account
) -> None:
    secret, _codes, step = await enable_mfa(client, alice)
    tokens = await _mfa_tokens(client, alice, RACERS)
    code = totp_code(secret, step + 1)
    answers = await _all_at_once(
        *(
            client.post(f"{API}/auth/mfa/verify", json={"mfa_token": t, "code": code})
            for t in tokens
        )
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(200) == 1, [a.text for a in answers]
    assert set(statuses) <= {200, 401, 503}


async def test_one_recovery_code_and_one_mfa_token_each_win_once(
    client: httpx.AsyncClient, alice: Account
) -> None:
    _secret, codes, _step = await enable_mfa(client, alice)
    tokens = await _mfa_tokens(client, alice, RACERS)
    answers = await _all_at_once(
        *(
            client.post(f"{API}/auth/mfa/verify", json={"mfa_token": t, "code": codes[0]})
            for t in tokens
        )
    )
    assert [a.status_code for a in answers].count(200) == 1, [a.text for a in answers]
    (token,) = await _mfa_tokens(client, alice, 1)
    answers = await _all_at_once(
        *(
            client.post(f"{API}/auth/mfa/verify", json={"mfa_token": token, "code": code})
            for code in codes[1 : 1 + RACERS]
        )
    )
    assert [a.status_code for a in answers].count(200) == 1, [a.text for a in answers]


async def test_a_verification_link_verifies_once(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, mailer: RecordingMailer
) -> None:
    await all_mail_delivered(app)  # the link goes out as a job after the sign-up answered
    token = link_token(mailer.sent[0].body, "/verify-email")
    answers = await _all_at_once(
        *(client.post(f"{API}/auth/email/verify", json={"token": token}) for _ in range(RACERS))
    )
    assert sorted(a.status_code for a in answers)[0] == 200
    assert [a.status_code for a in answers].count(200) == 1, [a.text for a in answers]


async def test_racing_creations_never_pass_twenty_live_keys(
    client: httpx.AsyncClient, alice: Account
) -> None:
    for number in range(17):
        created = await client.post(
            f"{API}/api-keys", json={"name": f"k{number}", "scope": "read"}, headers=alice.headers
        )
        assert created.status_code == 201
    answers = await _all_at_once(
        *(
            client.post(
                f"{API}/api-keys", json={"name": f"r{n}", "scope": "read"}, headers=alice.headers
            )
            for n in range(RACERS)
        )
    )
    statuses = [a.status_code for a in answers]
    assert statuses.count(201) == 3, [a.text for a in answers]
    assert set(statuses) <= {201, 409}
    for refused in (a for a in answers if a.status_code == 409):
        assert_error(refused, 409, "conflict")
    listed = await client.get(f"{API}/api-keys", params={"limit": 100}, headers=alice.headers)
    assert len(listed.json()["data"]["items"]) == 20
