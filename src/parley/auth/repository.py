"""All SQL of the auth domain."""

from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import String, Uuid, insert, literal, select, update

from parley.accounts.devices import DeviceSignature
from parley.core.ids import new_id
from parley.core.request_context import current_request
from parley.db.fast import Driver, Row, compiled_text
from parley.db.repository import Repository, rows_changed
from parley.db.types import UTCDateTime
from parley.models.accounts import DEVICE_PART_LENGTH
from parley.models.user import LoginSession, PasswordResetToken, RefreshToken, User


class RefreshTokenRepository(Repository[RefreshToken]):
    model = RefreshToken

    async def claim(self, token_hash: str, *, now: datetime) -> bool:
        """Mark an unused, unexpired token used; only one of several racing callers wins."""
        result = await self.session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.token_hash == token_hash,
                RefreshToken.used_at.is_(None),
                RefreshToken.expires_at > now,
            )
            .values(used_at=now)
        )
        return rows_changed(result) == 1

    async def find(self, token_hash: str) -> tuple[RefreshToken, LoginSession, User] | None:
        row = (
            await self.session.execute(
                select(RefreshToken, LoginSession, User)
                .join(LoginSession, LoginSession.id == RefreshToken.login_session_id)
                .join(User, User.id == LoginSession.user_id)
                .where(RefreshToken.token_hash == token_hash)
            )
        ).one_or_none()
        return (row[0], row[1], row[2]) if row else None


class ResetTokenRepository(Repository[PasswordResetToken]):
    model = PasswordResetToken

    async def issue(
        self, email_key: str, *, token_hash: str, now: datetime, expires_at: datetime
    ) -> str | None:
        """Store a reset token for the active account with this email; return its address.

        One INSERT ... SELECT: the transaction starts with its write whether or not the
        account exists, so the two cases cost the same and SQLite never upgrades a read.
        """
        chosen = select(
            literal(new_id(), Uuid()),
            User.id,
            literal(token_hash, String()),
            literal(now, UTCDateTime()),
            literal(expires_at, UTCDateTime()),
        ).where(User.email_key == email_key, User.is_active.is_(True))
        result = await self.session.execute(
            insert(PasswordResetToken).from_select(
                ["id", "user_id", "token_hash", "created_at", "expires_at"], chosen
            )
        )
        if rows_changed(result) != 1:
            return None
        return await self.session.scalar(select(User.email).where(User.email_key == email_key))

    async def claim(self, token_hash: str, *, now: datetime) -> UUID | None:
        """Use up a valid reset token; return its user id, or None when it is not valid."""
        result = await self.session.execute(
            update(PasswordResetToken)
            .where(
                PasswordResetToken.token_hash == token_hash,
                PasswordResetToken.used_at.is_(None),
                PasswordResetToken.expires_at > now,
            )
            .values(used_at=now)
        )
        if rows_changed(result) != 1:
            return None
        return await self.session.scalar(
            select(PasswordResetToken.user_id).where(PasswordResetToken.token_hash == token_hash)
        )

    async def use_up_all(self, user_id: UUID, *, now: datetime) -> None:
        await self.session.execute(
            update(PasswordResetToken)
            .where(PasswordResetToken.user_id == user_id, PasswordResetToken.used_at.is_(None))
            .values(used_at=now)
        )


# The lean path of a refresh (auth/hot_paths.py). Each statement reads the refresh token by its
# hash with what decides the answer, in this order: login session, when it was used, user,
# role, whether the session is unrevoked, and then whether it was claimed (PostgreSQL) or is
# claimable (elsewhere: the ORM claim's WHERE plus a live session and an active user).

# PostgreSQL: one statement, its own transaction. A concurrent claim of the same token waits on
# its row lock, then finds `used_at` set and claims nothing; a rotated token presented after
# the grace window revokes the login session in the same statement (decision 004).
_REFRESH_POSTGRESQL = """
WITH found AS (
    SELECT t.id, t.login_session_id, t.used_at, s.user_id, u.role,
           s.revoked_at IS NULL AS unrevoked,
           t.used_at IS NULL AND t.expires_at > CAST(:now AS TIMESTAMPTZ)
           AND s.revoked_at IS NULL AND s.expires_at > CAST(:now AS TIMESTAMPTZ)
           AND u.is_active AS claimable
    FROM refresh_tokens AS t
    JOIN login_sessions AS s ON s.id = t.login_session_id
    JOIN users AS u ON u.id = s.user_id
    WHERE t.token_hash = CAST(:hash AS VARCHAR)
), claimed AS (
    UPDATE refresh_tokens AS t SET used_at = CAST(:now AS TIMESTAMPTZ)
    FROM found WHERE t.id = found.id AND found.claimable AND t.used_at IS NULL
    RETURNING t.login_session_id
), issued AS (
    INSERT INTO refresh_tokens (id, login_session_id, token_hash, created_at, expires_at)
    SELECT CAST(:new_id AS UUID), login_session_id, CAST(:new_hash AS VARCHAR),
           CAST(:now AS TIMESTAMPTZ), CAST(:expires AS TIMESTAMPTZ)
    FROM claimed
), touched AS (
    UPDATE login_sessions AS s
    SET last_used_at = CAST(:now AS TIMESTAMPTZ), expires_at = CAST(:expires AS TIMESTAMPTZ)
    FROM claimed WHERE s.id = claimed.login_session_id
), revoked AS (
    UPDATE login_sessions AS s SET revoked_at = CAST(:now AS TIMESTAMPTZ)
    FROM found
    WHERE s.id = found.login_session_id AND found.used_at < CAST(:reuse_before AS TIMESTAMPTZ)
      AND s.revoked_at IS NULL AND s.expires_at > CAST(:now AS TIMESTAMPTZ)
)
SELECT found.login_session_id, found.used_at, found.user_id, found.role, found.unrevoked,
       EXISTS (SELECT FROM claimed)
FROM found
"""
# SQLite runs it inside the writer turn, so what it reads stays true until COMMIT; MariaDB
# then locks the token's row by its primary key (decision 061) and decides on what it locked.
_FIND_REFRESH = """
SELECT t.login_session_id, t.used_at, s.user_id, u.role, s.revoked_at IS NULL,
       t.used_at IS NULL AND t.expires_at > :now AND s.revoked_at IS NULL
       AND s.expires_at > :now AND u.is_active, t.id
FROM refresh_tokens AS t
JOIN login_sessions AS s ON s.id = t.login_session_id
JOIN users AS u ON u.id = s.user_id
WHERE t.token_hash = :hash
"""
_LOCK_REFRESH_MYSQL = "SELECT used_at FROM refresh_tokens WHERE id = :token_id FOR UPDATE"
_CLAIM_REFRESH = "UPDATE refresh_tokens SET used_at = :now WHERE id = :token_id"
_ISSUE_REFRESH = """
INSERT INTO refresh_tokens (id, login_session_id, token_hash, created_at, expires_at)
VALUES (:new_id, :sid, :new_hash, :now, :expires)
"""
_TOUCH_LOGIN_SESSION = """
UPDATE login_sessions SET last_used_at = :now, expires_at = :expires WHERE id = :sid
"""
_REVOKE_LOGIN_SESSION = """
UPDATE login_sessions SET revoked_at = :now
WHERE id = :sid AND revoked_at IS NULL AND expires_at > :now
"""


# An audit entry written in a lean transaction, stamped with the request that caused it
# (as AuditRepository.record does).
_RECORD_AUDIT = """
INSERT INTO audit_log (id, created_at, action, actor_id, target_type, target_id, ip_address,
                       user_agent, request_id, details)
VALUES (:id, :now, :action, :actor_id, :target_type, :target_id, :ip, :ua, :rid, :details)
"""


@dataclass(frozen=True, slots=True)
class RefreshOutcome:
    """What a refresh found, as the driver reads it; `claimed` tells whether it rotated."""

    login_session_id: Any
    used_at: Any
    user_id: Any
    role: str
    unrevoked: bool
    claimed: bool


class _LeanRows:
    """Statements of the auth domain's lean paths, on one driver connection: each compiled
    once per dialect under its key."""

    def __init__(self, db: Driver, dialect: Any) -> None:
        self.db = db
        self.dialect = dialect

    def _run(self, key: str, sql: str, params: dict[str, Any]) -> Awaitable[list[Row]]:
        return self.db.fetch(compiled_text("auth." + key, self.dialect, sql), params)

    async def _record(
        self,
        action: str,
        *,
        now: datetime,
        actor_id: UUID | None,
        target_type: str,
        target_id: UUID,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Write an audit entry in the connection's transaction."""
        request = current_request()
        db = self.db
        sql = _RECORD_AUDIT
        if self.dialect.name == "postgresql":
            sql = sql.replace(":details", "CAST(:details AS JSON)")
        await self._run(
            "record_audit",
            sql,
            {
                "id": db.uuid(new_id()),
                "now": db.time(now),
                "action": action,
                "actor_id": db.uuid(actor_id) if actor_id is not None else None,
                "target_type": target_type,
                "target_id": db.uuid(target_id),
                "ip": request.ip_address,
                "ua": request.user_agent,
                "rid": request.request_id,
                "details": orjson.dumps(details).decode() if details is not None else None,
            },
        )


class RefreshRows(_LeanRows):
    """The SQL of a refresh on the lean path."""

    async def refresh(
        self,
        token_hash: str,
        *,
        now: datetime,
        reuse_before: datetime,
        new_id: UUID,
        new_hash: str,
        expires_at: datetime,
    ) -> RefreshOutcome | None:
        """Rotate the token when it is claimable; revoke its login session when it was rotated
        before `reuse_before`. None when no token has this hash. Then the caller commits."""
        db = self.db
        params: dict[str, Any] = {
            "hash": token_hash,
            "now": db.time(now),
            "reuse_before": db.time(reuse_before),
            "new_id": db.uuid(new_id),
            "new_hash": new_hash,
            "expires": db.time(expires_at),
        }
        if self.dialect.name == "postgresql":
            rows = await self._run("refresh", _REFRESH_POSTGRESQL, params)
            return RefreshOutcome(*rows[0]) if rows else None
        rows = await self._run("find_refresh", _FIND_REFRESH, params)
        if not rows:
            return None
        sid, used_at, user_id, role, unrevoked, claimable, token_id = rows[0]
        params["sid"], params["token_id"] = sid, token_id
        if claimable and self.dialect.name != "sqlite":
            locked = await self._run("lock_refresh", _LOCK_REFRESH_MYSQL, params)
            used_at = locked[0][0]  # a concurrent refresh may have claimed it meanwhile
            claimable = used_at is None
        if claimable:
            await self._run("claim_refresh", _CLAIM_REFRESH, params)
            await self._run("issue_refresh", _ISSUE_REFRESH, params)
            await self._run("touch_login_session", _TOUCH_LOGIN_SESSION, params)
        elif used_at is not None and db.time_value(used_at) < reuse_before and unrevoked:
            await self._run("revoke_login_session", _REVOKE_LOGIN_SESSION, params)
        return RefreshOutcome(sid, used_at, user_id, role, bool(unrevoked), bool(claimable))

    async def record_reuse(self, *, login_session_id: UUID, user_id: UUID, now: datetime) -> None:
        """Write the `auth.refresh_reused` audit entry of a revocation by reuse."""
        await self._record(
            "auth.refresh_reused",
            now=now,
            actor_id=None,
            target_type="user",
            target_id=user_id,
            details={"login_session_id": str(login_session_id)},
        )


# The columns of an account a sign-in reads (decision 198).
_SIGN_IN_ACCOUNT = """
SELECT id, email, email_key, password_hash, role, is_active, email_verified, mfa_enabled,
       has_signed_in
FROM users WHERE email_key = :email_key
"""
# A sign-in from a device the account used lately (decision 198): the device's row, then the
# login session, its first refresh token (_ISSUE_REFRESH) and the audit entry, with no ORM in
# between.
_DEVICE_LAST_SEEN = """
SELECT last_seen_at FROM known_devices
WHERE user_id = :user_id AND browser = :browser AND system = :system AND network = :network
"""
_DEVICE_SEEN_NOW = """
UPDATE known_devices SET last_seen_at = :now
WHERE user_id = :user_id AND browser = :browser AND system = :system AND network = :network
"""
_OPEN_LOGIN_SESSION = """
INSERT INTO login_sessions (id, user_id, user_agent, ip_address, device, created_at,
                            last_used_at, expires_at)
VALUES (:sid, :user_id, :user_agent, :ip, :device, :now, :now, :expires)
"""


class LoginRows(_LeanRows):
    """The SQL of an everyday sign-in on the lean path."""

    async def account(self, email_key: str) -> User | None:
        """The account with this email key, as a detached `User` holding only the columns a
        sign-in reads (its id, addresses, password hash, role and flags)."""
        rows = await self._run("sign_in_account", _SIGN_IN_ACCOUNT, {"email_key": email_key})
        if not rows:
            return None
        user_id, email, key, password_hash, role, active, verified, mfa, signed_in = rows[0]
        return User(
            id=UUID(self.db.uuid_text(user_id)),
            email=email,
            email_key=key,
            password_hash=password_hash,
            role=role,
            is_active=bool(active),
            email_verified=bool(verified),
            mfa_enabled=bool(mfa),
            has_signed_in=bool(signed_in),
        )

    async def open_on_known_device(
        self,
        user_id: UUID,
        device: DeviceSignature,
        *,
        seen_since: datetime,
        session_id: UUID,
        user_agent: str | None,
        ip_address: str | None,
        device_name: str,
        now: datetime,
        expires_at: datetime,
        token_hash: str,
    ) -> bool:
        """When the account signed in from `device` since `seen_since`, mark it seen and open
        login session `session_id` with its first refresh token, recorded; else write nothing
        and say False. The caller's transaction commits."""
        db = self.db
        browser, system, network = (part[:DEVICE_PART_LENGTH] for part in device)
        params: dict[str, Any] = {
            "user_id": db.uuid(user_id),
            "browser": browser,
            "system": system,
            "network": network,
        }
        seen = await self._run("device_last_seen", _DEVICE_LAST_SEEN, params)
        if not seen or db.time_value(seen[0][0]) < seen_since:
            return False
        params |= {
            "now": db.time(now),
            "sid": db.uuid(session_id),
            "user_agent": user_agent,
            "ip": ip_address,
            "device": device_name,
            "expires": db.time(expires_at),
            "new_id": db.uuid(new_id()),
            "new_hash": token_hash,
        }
        await self._run("device_seen_now", _DEVICE_SEEN_NOW, params)
        await self._run("open_login_session", _OPEN_LOGIN_SESSION, params)
        await self._run("issue_refresh", _ISSUE_REFRESH, params)
        await self._record(
            "auth.login",
            now=now,
            actor_id=user_id,
            target_type="login_session",
            target_id=session_id,
        )
        return True
