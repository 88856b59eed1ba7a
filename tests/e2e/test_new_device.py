"""New-device notices, read from a real SMTP server on loopback."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from parley.core.config import Settings
from tests.conftest import Account, log_in, make_client, sign_up
from tests.e2e.accounts_helpers import API, smtp_app
from tests.support.mail import all_mail_delivered
from tests.support.polling import eventually
from tests.support.smtp import SmtpServer, smtp_server_fixture  # noqa: F401 - the fixture

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
NOTICE = "New sign-in to your Parley account"


def _notices(smtp: SmtpServer, address: str) -> list[str]:
    return [m.body for m in smtp.inbox.to(address) if m.subject == NOTICE]


async def test_a_sign_in_from_a_new_browser_or_network_mails_a_notice(
    settings_factory: Callable[..., Settings], smtp_server: SmtpServer
) -> None:
    base = "https://parley.example"
    async with smtp_app(settings_factory, smtp_server.settings, public_base_url=base) as app:
        firefox = {"User-Agent": FIREFOX}
        async with make_client(app, peer=("203.0.113.7", 4000), headers=firefox) as http:
            account = await sign_up(http)  # the first sign-in: no notice
            await log_in(http, email=account.email)  # the same device
        async with make_client(app, peer=("203.0.113.99", 4000), headers=firefox) as http:
            await log_in(http, email=account.email)  # the same /24 network
        await all_mail_delivered(app)
        assert len(smtp_server.inbox.to(account.email)) == 1  # the verification link alone

        chrome = {"User-Agent": CHROME_WINDOWS}
        async with make_client(app, peer=("203.0.113.7", 4000), headers=chrome) as http:
            await log_in(http, email=account.email)
        await smtp_server.inbox.wait_for(account.email, count=2)
        (notice,) = _notices(smtp_server, account.email)
        assert "Chrome on Windows" in notice and "203.0.113.7" in notice
        assert f"{base}/login-sessions" in notice

        async with make_client(app, peer=("198.51.100.20", 4000), headers=firefox) as http:
            await log_in(http, email=account.email)
        await smtp_server.inbox.wait_for(account.email, count=3)
        assert "198.51.100.20" in _notices(smtp_server, account.email)[-1]


async def test_a_device_is_known_for_ninety_days_after_it_was_last_seen(
    settings_factory: Callable[..., Settings],
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    start = datetime.now(UTC)

    def on_day(day: int) -> None:
        monkeypatch.setattr("parley.auth.service.utcnow", lambda: start + timedelta(days=day))

    async with (
        smtp_app(settings_factory, smtp_server.settings) as app,
        make_client(app, headers={"User-Agent": FIREFOX}) as http,
    ):
        account = await sign_up(http)
        on_day(89)
        await log_in(http, email=account.email)
        on_day(170)  # 170 days after the first sign-in, 81 after the last
        await log_in(http, email=account.email)
        await all_mail_delivered(app)
        assert _notices(smtp_server, account.email) == []

        on_day(261)  # 91 days after the last
        await log_in(http, email=account.email)
        await smtp_server.inbox.wait_for(account.email, count=2)
        await all_mail_delivered(app)
        assert len(_notices(smtp_server, account.email)) == 1


async def test_devices_are_remembered_apart_from_the_audit_log(
    settings_factory: Callable[..., Settings], smtp_server: SmtpServer
) -> None:
    """Purged sign-in entries neither make an account new again nor forget its devices."""
    async with (
        smtp_app(
            settings_factory, smtp_server.settings, audit_retention=1, purge_interval=1
        ) as app,
        make_client(app, headers={"User-Agent": FIREFOX}) as http,
    ):
        account = await sign_up(http)
        await eventually(
            lambda: _has_no_sign_ins(http, account), what="the audit purge of the sign-in"
        )
        async with make_client(app, headers={"User-Agent": CHROME_WINDOWS}) as chrome:
            await log_in(chrome, email=account.email)
        await smtp_server.inbox.wait_for(account.email, count=2)
        (notice,) = _notices(smtp_server, account.email)
        assert "Chrome on Windows" in notice

        await log_in(http, email=account.email)  # Firefox, seen at sign-up
        await all_mail_delivered(app)
        assert len(_notices(smtp_server, account.email)) == 1


async def _has_no_sign_ins(http: httpx.AsyncClient, account: Account) -> bool:
    page = await http.get(f"{API}/users/me/audit", headers=account.headers)
    assert page.status_code == 200, page.text
    return all(entry["action"] != "auth.login" for entry in page.json()["data"]["items"])
