"""Stream tickets: single-use, 60-second credentials for `GET /events/stream?ticket=`.

A ticket is kept where every worker finds it: in Redis when REDIS_URL is set, otherwise in the
database (decision 115). Only the ticket's SHA-256 is stored; redeeming removes it atomically.
"""

import hashlib
import secrets
from datetime import timedelta
from typing import Protocol
from uuid import UUID

from redis.asyncio import Redis
from redis.exceptions import RedisError

from parley.core.clock import utcnow
from parley.core.errors import Unavailable
from parley.db.engine import Database
from parley.db.uow import UnitOfWork
from parley.events.repository import TicketRepository

TICKET_TTL_S = 60
REDIS_TIMEOUT_S = 0.5
_KEY_PREFIX = "parley:event-ticket:"


def new_ticket() -> tuple[str, str]:
    """A fresh ticket and the digest it is stored under."""
    ticket = secrets.token_urlsafe(32)
    return ticket, digest_of(ticket)


def digest_of(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


class TicketStore(Protocol):
    async def issue(self, *, user_id: UUID, login_session_id: UUID) -> str: ...

    async def redeem(self, ticket: str) -> tuple[UUID, UUID] | None:
        """The (user id, login session id) of a live, unused ticket, now used up; else None."""
        ...

    async def aclose(self) -> None: ...


class DatabaseTickets:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def issue(self, *, user_id: UUID, login_session_id: UUID) -> str:
        ticket, digest = new_ticket()
        now = utcnow()
        async with self.database.sessions() as db, UnitOfWork(db) as uow:
            tickets = TicketRepository(db)
            await tickets.add(
                digest,
                user_id=user_id,
                login_session_id=login_session_id,
                expires_at=now + timedelta(seconds=TICKET_TTL_S),
            )
            await tickets.purge_before(now)  # the expired ones go as new ones come
            await uow.commit()
        return ticket

    async def redeem(self, ticket: str) -> tuple[UUID, UUID] | None:
        async with self.database.sessions() as db, UnitOfWork(db) as uow:
            found = await TicketRepository(db).take(digest_of(ticket), now=utcnow())
            await uow.commit()
        return found

    async def aclose(self) -> None:
        return None


class RedisTickets:
    def __init__(self, redis_url: str) -> None:
        self.redis = Redis.from_url(
            redis_url,
            socket_timeout=REDIS_TIMEOUT_S,
            socket_connect_timeout=REDIS_TIMEOUT_S,
        )

    async def issue(self, *, user_id: UUID, login_session_id: UUID) -> str:
        ticket, digest = new_ticket()
        try:
            await self.redis.set(
                _KEY_PREFIX + digest, f"{user_id}:{login_session_id}", ex=TICKET_TTL_S
            )
        except (RedisError, OSError) as exc:
            raise Unavailable("The ticket store is unavailable", retry_after=1) from exc
        return ticket

    async def redeem(self, ticket: str) -> tuple[UUID, UUID] | None:
        try:
            value = await self.redis.getdel(_KEY_PREFIX + digest_of(ticket))
        except (RedisError, OSError) as exc:
            raise Unavailable("The ticket store is unavailable", retry_after=1) from exc
        if value is None:
            return None
        text = value.decode() if isinstance(value, bytes) else str(value)
        user_id, login_session_id = text.split(":")
        return UUID(user_id), UUID(login_session_id)

    async def aclose(self) -> None:
        await self.redis.aclose()


def ticket_store(database: Database, redis_url: str | None) -> TicketStore:
    return RedisTickets(redis_url) if redis_url else DatabaseTickets(database)
