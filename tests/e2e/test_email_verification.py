"""Email verification over HTTP, with the mail read from a real SMTP server on loopback."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from parley.core.config import Settings
from tests.conftest import (
    PASSWORD,
    RecordingMailer,
    assert_error,
    make_client,
    sign_up,
    unique_email,
)
from tests.e2e.accounts_helpers import API, link_token, smtp_app
from tests.support.mail import all_mail_delivered
from tests.support.smtp import SmtpServer, smtp_server_fixture  # noqa: F401 - the fixture

VERIFY = "/verify-email"


async def _me(http: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, object]:
    response = await http.get(f"{API}/users/me", headers=headers)
    assert response.status_code == 200, response.text
    data: dict[str, object] = response.json()["data"]
    return data


async def test_registering_mails_a_link_that_verifies_the_address_once(
    settings_factory: Callable[..., Settings], smtp_server: SmtpServer
) -> None:
    async with (
        smtp_app(
            settings_factory, smtp_server.settings, public_base_url="https://shop.example"
        ) as app,
        make_client(app) as http,
    ):
        account = await sign_up(http)
        assert (await _me(http, account.headers))["email_verified"] is False
        (mail,) = await smtp_server.inbox.wait_for(account.email)
        assert f"https://shop.example{VERIFY}?token=" in mail.body
        token = link_token(mail.body, VERIFY)

        verified = await http.post(f"{API}/auth/email/verify", json={"token": token})
        assert verified.status_code == 200, verified.text
        assert token not in verified.text
        assert (await _me(http, account.headers))["email_verified"] is True
        again = await http.post(f"{API}/auth/email/verify", json={"token": token})
        assert_error(again, 400, "bad_request")
        tampered = await http.post(f"{API}/auth/email/verify", json={"token": token[:-2] + "xx"})
        assert_error(tampered, 400, "bad_request")


async def test_a_requested_link_arrives_and_an_expired_one_is_refused(
    settings_factory: Callable[..., Settings],
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with smtp_app(settings_factory, smtp_server.settings) as app, make_client(app) as http:
        account = await sign_up(http)
        await smtp_server.inbox.wait_for(account.email)
        requested = await http.post(f"{API}/auth/email/verify/request", headers=account.headers)
        assert requested.status_code == 202
        mails = await smtp_server.inbox.wait_for(account.email, count=2)
        token = link_token(mails[-1].body, VERIFY)
        later = datetime.now(UTC) + timedelta(hours=24, seconds=1)
        monkeypatch.setattr("parley.accounts.service.utcnow", lambda: later)
        expired = await http.post(f"{API}/auth/email/verify", json={"token": token})
        assert_error(expired, 400, "bad_request")
        monkeypatch.undo()
        # The older link still works: every link lives its own 24 hours.
        first = link_token(mails[0].body, VERIFY)
        assert (
            await http.post(f"{API}/auth/email/verify", json={"token": first})
        ).status_code == 200
        # Verified: a request mails nothing more.
        again = await http.post(f"{API}/auth/email/verify/request", headers=account.headers)
        assert again.status_code == 202
        await all_mail_delivered(app)
        assert len(smtp_server.inbox.to(account.email)) == 2


async def test_changing_the_email_unverifies_mails_the_new_address_and_warns_the_old(
    settings_factory: Callable[..., Settings], smtp_server: SmtpServer
) -> None:
    async with smtp_app(settings_factory, smtp_server.settings) as app, make_client(app) as http:
        account = await sign_up(http)
        (first,) = await smtp_server.inbox.wait_for(account.email)
        old_link = link_token(first.body, VERIFY)
        await http.post(f"{API}/auth/email/verify", json={"token": old_link})
        new_email = unique_email("moved")
        changed = await http.patch(
            f"{API}/users/me", json={"email": new_email}, headers=account.headers
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["data"]["email_verified"] is False
        (link_mail,) = await smtp_server.inbox.wait_for(new_email)
        notices = await smtp_server.inbox.wait_for(account.email, count=2)
        assert new_email in notices[-1].body and VERIFY not in notices[-1].body
        verified = await http.post(
            f"{API}/auth/email/verify", json={"token": link_token(link_mail.body, VERIFY)}
        )
        assert verified.status_code == 200
        me = await _me(http, account.headers)
        assert me["email"] == new_email and me["email_verified"] is True


async def test_a_link_to_a_former_address_does_not_verify_the_new_one(
    client: httpx.AsyncClient, mailer: RecordingMailer
) -> None:
    account = await sign_up(client)
    sent = await mailer.wait_for(to=account.email, containing=VERIFY)
    old_token = link_token(sent[0].body, VERIFY)
    await client.patch(
        f"{API}/users/me", json={"email": unique_email("new")}, headers=account.headers
    )
    refused = await client.post(f"{API}/auth/email/verify", json={"token": old_token})
    assert_error(refused, 400, "bad_request")
    assert (await _me(client, account.headers))["email_verified"] is False


async def test_required_verification_refuses_only_a_correct_login_and_mails_a_fresh_link(
    app_factory: Callable[..., FastAPI], mailer: RecordingMailer
) -> None:
    app = await app_factory(require_email_verification=True)
    async with make_client(app) as http:
        email = unique_email()
        registered = await http.post(
            f"{API}/auth/register", json={"email": email, "password": PASSWORD}
        )
        assert registered.status_code == 201
        wrong = await http.post(f"{API}/auth/login", json={"email": email, "password": "nope" * 3})
        assert_error(wrong, 401, "unauthorized")
        refused = await http.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD})
        assert_error(refused, 403, "email_not_verified")
        form = await http.post(f"{API}/auth/token", data={"username": email, "password": PASSWORD})
        assert form.status_code == 403
        assert form.json()["error"] == "invalid_grant"
        sent = await mailer.wait_for(to=email, containing=VERIFY, count=3)
        assert len(sent) == 3  # at registration, then one per refused correct sign-in
        token = link_token(sent[-1].body, VERIFY)
        assert (
            await http.post(f"{API}/auth/email/verify", json={"token": token})
        ).status_code == 200
        allowed = await http.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD})
        assert allowed.status_code == 200, allowed.text


async def test_verification_routes_refuse_bad_input_and_anonymous_requests(
    client: httpx.AsyncClient,
) -> None:
    assert_error(await client.post(f"{API}/auth/email/verify/request"), 401, "unauthorized")
    assert_error(await client.post(f"{API}/auth/email/verify", json={}), 422, "validation_error")
    assert_error(
        await client.post(f"{API}/auth/email/verify", json={"token": ""}), 422, "validation_error"
    )
    assert_error(
        await client.post(f"{API}/auth/email/verify", json={"token": "x", "extra": 1}),
        422,
        "validation_error",
    )
