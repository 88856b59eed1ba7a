"""All SQL on stored idempotent answers."""

from datetime import datetime

from sqlalchemy import CursorResult, delete
from sqlalchemy.ext.asyncio import AsyncSession

from parley.db.session import begin_write
from parley.models.jobs import IdempotencyRecord


class IdempotencyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def purge(self, *, now: datetime) -> int:
        """Delete the records whose time to live has passed."""
        await begin_write(self.session)
        result = await self.session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.expires_at < now)
        )
        assert isinstance(result, CursorResult)
        return int(result.rowcount)
