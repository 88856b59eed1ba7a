"""The SQL of the auth purges: login sessions and tokens past their use."""

from datetime import datetime

from sqlalchemy import delete, or_
from sqlalchemy.ext.asyncio import AsyncSession

from parley.db.repository import rows_changed
from parley.db.session import begin_write
from parley.models.user import LoginSession, PasswordResetToken, RefreshToken


class ExpiredAuthRows:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def purge(self, *, before: datetime) -> dict[str, int]:
        """Delete what expired, was used or was revoked before `before`; return the counts."""
        await begin_write(self.session)
        sessions = await self.session.execute(
            delete(LoginSession).where(
                or_(LoginSession.expires_at < before, LoginSession.revoked_at < before)
            )
        )
        refresh = await self.session.execute(
            delete(RefreshToken).where(RefreshToken.expires_at < before)
        )
        reset = await self.session.execute(
            delete(PasswordResetToken).where(
                or_(PasswordResetToken.expires_at < before, PasswordResetToken.used_at < before)
            )
        )
        return {
            "login_sessions": rows_changed(sessions),
            "refresh_tokens": rows_changed(refresh),
            "reset_tokens": rows_changed(reset),
        }
