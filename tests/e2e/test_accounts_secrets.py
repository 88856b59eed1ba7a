"""No secret of the accounts flows (passwords, tokens, TOTP secrets and codes, recovery codes,
API keys, verification links) ever reaches the logs."""

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI

from tests.conftest import PASSWORD, RecordingMailer, make_client, sign_up
from tests.e2e.accounts_helpers import API, current_step, link_token, totp_code


async def test_a_full_accounts_flow_logs_none_of_its_secrets(
    app_factory: Callable[..., Any],
    mailer: RecordingMailer,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    application: FastAPI = await app_factory(log_format="json", log_level="DEBUG")
    secrets: list[str] = [PASSWORD]
    async with make_client(application) as http:
        account = await sign_up(http)
        secrets += [account.access_token, account.refresh_token]
        verification = link_token(
            (await mailer.wait_for(to=account.email, containing="/verify-email"))[0].body,
            "/verify-email",
        )
        secrets.append(verification)
        await http.post(f"{API}/auth/email/verify", json={"token": verification})
        await http.post(f"{API}/auth/email/verify", json={"token": verification})  # refused

        setup = await http.post(
            f"{API}/auth/mfa/totp/setup", json={"password": PASSWORD}, headers=account.headers
        )
        secret = setup.json()["data"]["secret"]
        secrets += [secret, setup.json()["data"]["otpauth_uri"]]
        step = current_step()
        confirm_code = totp_code(secret, step)
        confirmed = await http.post(
            f"{API}/auth/mfa/totp/confirm", json={"code": confirm_code}, headers=account.headers
        )
        recovery = confirmed.json()["data"]["recovery_codes"]
        secrets += recovery

        login = await http.post(
            f"{API}/auth/login", json={"email": account.email, "password": PASSWORD}
        )
        mfa_token = login.json()["data"]["mfa_token"]
        secrets.append(mfa_token)
        await http.post(
            f"{API}/auth/mfa/verify", json={"mfa_token": mfa_token, "code": confirm_code}
        )  # a replay, refused
        verified = await http.post(
            f"{API}/auth/mfa/verify",
            json={"mfa_token": mfa_token, "code": totp_code(secret, step + 1)},
        )
        pair = verified.json()["data"]
        secrets += [pair["access_token"], pair["refresh_token"]]
        second = await http.post(
            f"{API}/auth/login", json={"email": account.email, "password": PASSWORD}
        )
        secrets.append(second.json()["data"]["mfa_token"])
        await http.post(
            f"{API}/auth/mfa/verify",
            json={"mfa_token": second.json()["data"]["mfa_token"], "code": recovery[0]},
        )

        created = await http.post(
            f"{API}/api-keys", json={"name": "bot", "scope": "read"}, headers=account.headers
        )
        key = created.json()["data"]["key"]
        secrets.append(key)
        await http.get(f"{API}/users/me", headers={"X-API-Key": key})
        await http.post(f"{API}/sessions", json={"title": "x"}, headers={"X-API-Key": key})
        await http.get(f"{API}/users/me", headers={"Authorization": f"Bearer {key}x"})
        await http.delete(f"{API}/api-keys/{created.json()['data']['id']}", headers=account.headers)
        await http.get(f"{API}/users/me", headers={"X-API-Key": key})

    captured = capsys.readouterr()
    logged = captured.out + captured.err + caplog.text
    assert "auth.mfa" in logged or "/auth/mfa/verify" in logged  # the flow was logged at all
    leaked = [s for s in secrets if s and s in logged]
    assert leaked == []
