"""All SQL on stored idempotent answers."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from parley.core.ids import new_id
from parley.db.repository import rows_changed
from parley.db.session import begin_write
from parley.models.jobs import IdempotencyRecord

RUNNING, DONE = "running", "done"


class IdempotencyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim(
        self,
        user_id: UUID,
        key: str,
        *,
        fingerprint: str,
        now: datetime,
        locked_until: datetime,
        expires_at: datetime,
    ) -> UUID | None:
        """Insert the running record; None when the key has one already (the transaction is
        then spoilt: roll it back)."""
        record_id = new_id()
        await begin_write(self.session)
        try:
            self.session.add(
                IdempotencyRecord(
                    id=record_id,
                    user_id=user_id,
                    key=key,
                    fingerprint=fingerprint,
                    state=RUNNING,
                    locked_until=locked_until,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
            await self.session.flush()
        except IntegrityError:
            return None
        return record_id

    async def find(self, user_id: UUID, key: str) -> IdempotencyRecord | None:
        return await self.session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key
            )
        )

    async def take_over(
        self, record_id: UUID, *, now: datetime, locked_until: datetime, fingerprint: str
    ) -> bool:
        """Take a claim whose holder died (its lock ran out) or whose answer expired."""
        result = await self.session.execute(
            update(IdempotencyRecord)
            .where(
                IdempotencyRecord.id == record_id,
                (IdempotencyRecord.expires_at <= now)
                | ((IdempotencyRecord.state == RUNNING) & (IdempotencyRecord.locked_until <= now)),
            )
            .values(
                state=RUNNING,
                fingerprint=fingerprint,
                locked_until=locked_until,
                status_code=None,
                headers=None,
                body=None,
                created_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        return rows_changed(result) == 1

    async def complete(
        self, record_id: UUID, *, status: int, headers: str, body: bytes, expires_at: datetime
    ) -> None:
        await self.session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.id == record_id)
            .values(
                state=DONE, status_code=status, headers=headers, body=body, expires_at=expires_at
            )
            .execution_options(synchronize_session=False)
        )

    async def release(self, record_id: UUID) -> None:
        await self.session.execute(
            delete(IdempotencyRecord)
            .where(IdempotencyRecord.id == record_id, IdempotencyRecord.state == RUNNING)
            .execution_options(synchronize_session=False)
        )

    async def purge(self, *, now: datetime) -> int:
        """Delete the records whose time to live has passed."""
        await begin_write(self.session)
        result = await self.session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.expires_at < now)
        )
        return rows_changed(result)
