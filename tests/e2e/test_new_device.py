"""New-device notices, read from a real SMTP server on loopback."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from parley.core.config import Settings
from tests.conftest import log_in, make_client, sign_up
from tests.e2e.accounts_helpers import smtp_app
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
        await smtp_server.inbox.wait_for(account.email)  # the verification link
        assert _notices(smtp_server, account.email) == []

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


async def test_a_device_unseen_for_ninety_days_is_new_again(
    settings_factory: Callable[..., Settings],
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with (
        smtp_app(settings_factory, smtp_server.settings) as app,
        make_client(app, headers={"User-Agent": FIREFOX}) as http,
    ):
        account = await sign_up(http)
        later = datetime.now(UTC) + timedelta(days=91)
        monkeypatch.setattr("parley.auth.service.utcnow", lambda: later)
        await log_in(http, email=account.email)
        monkeypatch.undo()
        await smtp_server.inbox.wait_for(account.email, count=2)
        assert len(_notices(smtp_server, account.email)) == 1
