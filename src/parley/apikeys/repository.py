"""All SQL of API keys."""

from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import ColumnElement, func, or_, select, update

from parley.db.repository import Repository, rows_changed
from parley.models.accounts import ApiKey
from parley.models.user import User

# `last_used_at` is written at most this often per key.
TOUCH_INTERVAL = timedelta(minutes=1)


def _live(now: datetime) -> list[ColumnElement[bool]]:
    return [ApiKey.revoked_at.is_(None), or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now)]


class ApiKeyRepository(Repository[ApiKey]):
    model = ApiKey

    async def count_live(self, user_id: UUID, *, now: datetime) -> int:
        query = select(func.count()).select_from(ApiKey).where(ApiKey.user_id == user_id)
        return int(await self.session.scalar(query.where(*_live(now))) or 0)

    async def list_live(
        self, user_id: UUID, *, now: datetime, limit: int, before: UUID | None
    ) -> list[ApiKey]:
        query = (
            select(ApiKey)
            .where(ApiKey.user_id == user_id, *_live(now))
            .order_by(ApiKey.id.desc())
            .limit(limit)
        )
        if before is not None:
            query = query.where(ApiKey.id < before)
        return list(await self.session.scalars(query))

    async def revoke(self, api_key_id: UUID, *, user_id: UUID, now: datetime) -> bool:
        result = await self.session.execute(
            update(ApiKey)
            .where(ApiKey.id == api_key_id, ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return rows_changed(result) == 1

    async def find_live_with_user(
        self, prefix: str, *, now: datetime
    ) -> tuple[ApiKey, User] | None:
        """The live key with this prefix and its active user."""
        row = (
            await self.session.execute(
                select(ApiKey, User)
                .join(User, User.id == ApiKey.user_id)
                .where(ApiKey.prefix == prefix, *_live(now), User.is_active.is_(True))
            )
        ).one_or_none()
        return (row[0], row[1]) if row else None

    async def find_live_by_id(
        self, api_key_id: UUID, *, user_id: UUID, now: datetime
    ) -> User | None:
        """The active user of this live key of theirs, or None."""
        found: User | None = await self.session.scalar(
            select(User)
            .join(ApiKey, ApiKey.user_id == User.id)
            .where(
                ApiKey.id == api_key_id,
                ApiKey.user_id == user_id,
                *_live(now),
                User.is_active.is_(True),
            )
        )
        return found

    async def touch(self, api_key_id: UUID, *, now: datetime) -> None:
        """Record a use, unless one was recorded within the last minute."""
        await self.session.execute(
            update(ApiKey)
            .where(
                ApiKey.id == api_key_id,
                or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= now - TOUCH_INTERVAL),
            )
            .values(last_used_at=now)
        )
