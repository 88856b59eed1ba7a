"""All SQL of the auth domain."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import select, update

from parley.db.repository import Repository
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
