"""All SQL of the auth domain."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import String, Uuid, insert, literal, select, update
from sqlalchemy.engine import CursorResult

from parley.core.ids import new_id
from parley.db.repository import Repository
from parley.db.types import UTCDateTime
from parley.models.user import LoginSession, PasswordResetToken, RefreshToken, User


class LoginSessionRepository(Repository[LoginSession]):
    model = LoginSession

    async def get_live_with_user(
        self, login_session_id: UUID, *, user_id: UUID, now: datetime
    ) -> tuple[LoginSession, User] | None:
        """Return the login session and its user when the session is live and the user active."""
        row = (
            await self.session.execute(
                select(LoginSession, User)
                .join(User, User.id == LoginSession.user_id)
                .where(
                    LoginSession.id == login_session_id,
                    LoginSession.user_id == user_id,
                    LoginSession.revoked_at.is_(None),
                    LoginSession.expires_at > now,
                    User.is_active.is_(True),
                )
            )
        ).one_or_none()
        return (row[0], row[1]) if row else None

    async def list_live(
        self, user_id: UUID, *, now: datetime, limit: int, before: UUID | None
    ) -> list[LoginSession]:
        """Return the user's live login sessions, newest first, after a keyset position."""
        query = (
            select(LoginSession)
            .where(
                LoginSession.user_id == user_id,
                LoginSession.revoked_at.is_(None),
                LoginSession.expires_at > now,
            )
            .order_by(LoginSession.id.desc())
            .limit(limit)
        )
        if before is not None:
            query = query.where(LoginSession.id < before)
        return list(await self.session.scalars(query))

    async def revoke(self, login_session_id: UUID, *, user_id: UUID, now: datetime) -> bool:
        """Revoke one live login session of the user; tell whether there was one."""
        result = await self.session.execute(
            update(LoginSession)
            .where(
                LoginSession.id == login_session_id,
                LoginSession.user_id == user_id,
                LoginSession.revoked_at.is_(None),
                LoginSession.expires_at > now,
            )
            .values(revoked_at=now)
        )
        return _rowcount(result) == 1

    async def revoke_all(
        self, user_id: UUID, *, now: datetime, keep: UUID | None = None
    ) -> list[UUID]:
        """Revoke every live login session of the user (but `keep`); return the ids revoked."""
        query = select(LoginSession.id).where(
            LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None)
        )
        if keep is not None:
            query = query.where(LoginSession.id != keep)
        ids = list(await self.session.scalars(query))
        if ids:
            await self.session.execute(
                update(LoginSession).where(LoginSession.id.in_(ids)).values(revoked_at=now)
            )
        return ids

    async def touch(self, login_session_id: UUID, *, now: datetime, expires_at: datetime) -> None:
        await self.session.execute(
            update(LoginSession)
            .where(LoginSession.id == login_session_id)
            .values(last_used_at=now, expires_at=expires_at)
        )


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
        return _rowcount(result) == 1

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
        if _rowcount(result) != 1:
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
        if _rowcount(result) != 1:
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


def _rowcount(result: object) -> int:
    return result.rowcount if isinstance(result, CursorResult) else 0
