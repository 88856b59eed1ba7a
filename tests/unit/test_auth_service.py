"""Auth use cases against in-memory repositories: the rules, without a database."""

from datetime import UTC, datetime, timedelta

import pytest

from parley.auth.errors import (
    InvalidCredentials,
    InvalidRefreshToken,
    InvalidResetToken,
    RefreshTokenReused,
)
from parley.auth.service import Principal
from parley.core.errors import AccountDisabled, RateLimited, ValidationFailed
from parley.core.tokens import hash_opaque_token
from tests.unit.conftest import CLIENT, PASSWORD, World


async def test_login_opens_a_login_session_named_after_the_device(world: World) -> None:
    user = await world.register()
    issued = await world.auth().login("SHOP@example.com", PASSWORD, client=CLIENT)
    login_session = world.login_sessions.rows[issued.session_id]
    assert login_session.user_id == user.id and login_session.device == "Firefox on Linux"
    assert hash_opaque_token(issued.refresh_token) in world.refresh_tokens.rows


async def test_unknown_email_and_wrong_password_both_count_as_failures(world: World) -> None:
    await world.register()
    auth = world.auth(failures=2)
    for email in ("nobody@example.com", "shop@example.com"):
        with pytest.raises(InvalidCredentials):
            await auth.login(email, "wrong password", client=CLIENT)
    with pytest.raises(RateLimited) as throttled:
        await auth.login("shop@example.com", PASSWORD, client=CLIENT)
    assert throttled.value.retry_after and throttled.value.retry_after > 0


async def test_disabled_accounts_learn_it_only_with_the_right_password(world: World) -> None:
    user = await world.register()
    user.is_active = False
    with pytest.raises(InvalidCredentials):
        await world.auth().login("shop@example.com", "wrong password", client=CLIENT)
    with pytest.raises(AccountDisabled):
        await world.auth().login("shop@example.com", PASSWORD, client=CLIENT)


async def test_refresh_rotates_the_token(world: World) -> None:
    await world.register()
    auth = world.auth()
    first = await auth.login("shop@example.com", PASSWORD, client=CLIENT)
    second = await auth.refresh(first.refresh_token)
    assert second.session_id == first.session_id and second.refresh_token != first.refresh_token
    assert world.refresh_tokens.rows[hash_opaque_token(first.refresh_token)].used_at is not None


async def test_a_second_refresh_within_the_grace_window_is_refused_without_revoking(
    world: World,
) -> None:
    await world.register()
    auth = world.auth()
    first = await auth.login("shop@example.com", PASSWORD, client=CLIENT)
    await auth.refresh(first.refresh_token)
    with pytest.raises(InvalidRefreshToken):
        await auth.refresh(first.refresh_token)
    assert world.login_sessions.rows[first.session_id].revoked_at is None


async def test_reuse_after_the_grace_window_revokes_and_commits_before_refusing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await world.register()
    auth = world.auth()
    first = await auth.login("shop@example.com", PASSWORD, client=CLIENT)
    await auth.refresh(first.refresh_token)
    commits = world.uow.commits
    later = datetime.now(UTC) + timedelta(minutes=5)
    monkeypatch.setattr("parley.auth.service.utcnow", lambda: later)
    with pytest.raises(RefreshTokenReused):
        await auth.refresh(first.refresh_token)
    assert world.login_sessions.rows[first.session_id].revoked_at == later
    assert world.uow.commits == commits + 1
    assert world.cache.invalidated, "cached access must be dropped with the session"


async def test_password_change_keeps_only_the_current_session(world: World) -> None:
    user = await world.register()
    auth = world.auth()
    here = await auth.login("shop@example.com", PASSWORD, client=CLIENT)
    elsewhere = await auth.login("shop@example.com", PASSWORD, client=CLIENT)
    await auth.change_password(
        Principal(user, here.session_id),
        current_password=PASSWORD,
        new_password="a fresh passphrase",
    )
    assert world.login_sessions.rows[here.session_id].revoked_at is None
    assert world.login_sessions.rows[elsewhere.session_id].revoked_at is not None
    assert world.cache.invalidated == [user.id]


async def test_password_change_refuses_a_wrong_current_password(world: World) -> None:
    user = await world.register()
    here = await world.auth().login("shop@example.com", PASSWORD, client=CLIENT)
    with pytest.raises(ValidationFailed):
        await world.auth().change_password(
            Principal(user, here.session_id),
            current_password="nope",
            new_password="a fresh passphrase",
        )


async def test_forgot_password_mails_only_existing_accounts_and_only_after_commit(
    world: World,
) -> None:
    import asyncio

    await world.register()
    auth = world.auth()
    await auth.forgot_password("nobody@example.com")
    await auth.forgot_password("shop@example.com")
    await asyncio.sleep(0)
    assert [m.to for m in world.outbox.sent] == ["shop@example.com"]
    assert "/reset-password?token=" in world.outbox.sent[0].body


async def test_reset_tokens_are_single_use_and_end_every_session(world: World) -> None:
    import asyncio

    await world.register()
    auth = world.auth()
    issued = await auth.login("shop@example.com", PASSWORD, client=CLIENT)
    await auth.forgot_password("shop@example.com")
    await asyncio.sleep(0)
    token = world.outbox.sent[0].body.split("token=", 1)[1].split()[0]
    await auth.reset_password(token, "a recovered passphrase")
    assert world.login_sessions.rows[issued.session_id].revoked_at is not None
    with pytest.raises(InvalidResetToken):
        await auth.reset_password(token, "another passphrase here")
