"""Helpers of the accounts tests: an independent RFC 6238 implementation, MFA set-up through
the API, and apps that send their mail to a real SMTP server on loopback."""

import base64
import hashlib
import hmac
import struct
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
from fastapi import FastAPI

from parley.core.config import Settings
from parley.main import create_app
from tests.conftest import Account, _clear

API = "/api/v1"


def totp_code(secret: str, step: int) -> str:
    """RFC 6238 / RFC 4226 with SHA-1 and 6 digits, written from the RFCs (not the server's
    library)."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def current_step() -> int:
    return int(time.time() // 30)


async def enable_mfa(http: httpx.AsyncClient, account: Account) -> tuple[str, list[str], int]:
    """Set up and confirm TOTP; return the secret, the recovery codes and the step used."""
    setup = await http.post(
        f"{API}/auth/mfa/totp/setup", json={"password": account.password}, headers=account.headers
    )
    assert setup.status_code == 200, setup.text
    secret = setup.json()["data"]["secret"]
    step = current_step()
    confirmed = await http.post(
        f"{API}/auth/mfa/totp/confirm",
        json={"code": totp_code(secret, step)},
        headers=account.headers,
    )
    assert confirmed.status_code == 200, confirmed.text
    return secret, confirmed.json()["data"]["recovery_codes"], step


def link_token(body: str, path: str) -> str:
    """The `token` query parameter of the first link to `path` in a mail body."""
    for word in body.split():
        if path in word:
            return parse_qs(urlparse(word).query)["token"][0]
    raise AssertionError(f"no link to {path} in {body!r}")


@asynccontextmanager
async def smtp_app(
    settings_factory: Callable[..., Settings], smtp: dict[str, Any], **overrides: Any
) -> AsyncIterator[FastAPI]:
    """An app whose mailer is the real SMTP one, pointed at the test's server."""
    application = create_app(settings_factory(**smtp, **overrides), single_worker=True)
    async with application.router.lifespan_context(application):
        try:
            yield application
        finally:
            await _clear(application.state.resources.database)
