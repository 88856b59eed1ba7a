"""Idempotent POSTs as a use case: claim a key before the request runs, store its answer,
replay it to a repeat. Knows no HTTP: the edge (parley.idempotency.edge) speaks ASGI."""

from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

import orjson

from parley.core.clock import utcnow
from parley.db.engine import Database
from parley.db.uow import UnitOfWork
from parley.idempotency.errors import (
    IN_PROGRESS_RETRY_AFTER_S,
    IdempotencyInProgress,
    IdempotencyKeyReused,
)
from parley.idempotency.repository import RUNNING, IdempotencyRepository

# How long a claim holds before a repeat may take it over (its request must have died).
CLAIM_LOCK = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True, slots=True)
class Claim:
    record_id: UUID


class IdempotencyService:
    def __init__(self, database: Database, *, ttl_seconds: int) -> None:
        self.database = database
        self.ttl = timedelta(seconds=ttl_seconds)

    async def begin(self, user_id: UUID, key: str, *, fingerprint: str) -> Claim | StoredAnswer:
        """Claim the key for this request, or return the answer stored for it.

        Raises IdempotencyKeyReused (another request used the key) or IdempotencyInProgress.
        """
        for _ in range(3):  # a claim released between our insert and our read: try again
            now = utcnow()
            async with self.database.sessions() as session, UnitOfWork(session) as uow:
                record_id = await IdempotencyRepository(session).claim(
                    user_id,
                    key,
                    fingerprint=fingerprint,
                    now=now,
                    locked_until=now + CLAIM_LOCK,
                    expires_at=now + self.ttl,
                )
                if record_id is not None:
                    await uow.commit()
                    return Claim(record_id)
                await uow.rollback()  # the failed insert spoilt the transaction
            async with self.database.sessions() as session:
                records = IdempotencyRepository(session)
                async with UnitOfWork(session) as uow:
                    record = await records.find(user_id, key)
                    if record is None:
                        continue
                    if record.expires_at <= now or (
                        record.state == RUNNING and record.locked_until <= now
                    ):
                        if await records.take_over(
                            record.id,
                            now=now,
                            locked_until=now + CLAIM_LOCK,
                            fingerprint=fingerprint,
                        ):
                            await uow.commit()
                            return Claim(record.id)
                        continue
            if record.fingerprint != fingerprint:
                raise IdempotencyKeyReused
            if record.state == RUNNING or record.status_code is None:
                raise IdempotencyInProgress(retry_after=IN_PROGRESS_RETRY_AFTER_S)
            headers = [(name, value) for name, value in orjson.loads(record.headers or "[]")]
            return StoredAnswer(record.status_code, headers, record.body or b"")
        raise IdempotencyInProgress(retry_after=IN_PROGRESS_RETRY_AFTER_S)

    async def complete(self, claim: Claim, answer: StoredAnswer) -> None:
        """Store the first answer for replay until the key's time to live ends."""
        async with self.database.sessions() as session, UnitOfWork(session) as uow:
            await IdempotencyRepository(session).complete(
                claim.record_id,
                status=answer.status,
                headers=orjson.dumps(answer.headers).decode(),
                body=answer.body,
                expires_at=utcnow() + self.ttl,
            )
            await uow.commit()

    async def release(self, claim: Claim) -> None:
        """Forget the claim (the request failed with a 5xx): a repeat runs afresh."""
        async with self.database.sessions() as session, UnitOfWork(session) as uow:
            await IdempotencyRepository(session).release(claim.record_id)
            await uow.commit()
