"""All SQL of login sessions: the devices a user is signed in on."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import select, update

from parley.db.repository import Repository, rows_changed
from parley.db.session import begin_write
from parley.models.user import LoginSession, User


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
        return rows_changed(result) == 1

    async def revoke_all(
        self, user_id: UUID, *, now: datetime, keep: UUID | None = None
    ) -> list[UUID]:
        """Revoke every live login session of the user (but `keep`); return the ids revoked.
        The ids are read inside the write transaction (decision 009)."""
        await begin_write(self.session)
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
