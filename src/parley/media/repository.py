"""All SQL of the media domain."""

from uuid import UUID

from sqlalchemy import select

from parley.db.repository import Repository
from parley.models.chat import Media
from parley.models.user import Role, User


class MediaRepository(Repository[Media]):
    model = Media

    async def get_visible(self, media_id: UUID, viewer: User) -> Media | None:
        """Return the media when the viewer owns it or is an admin; else None (404)."""
        query = select(Media).where(Media.id == media_id)
        if viewer.role != Role.ADMIN:
            query = query.where(Media.user_id == viewer.id)
        return await self.session.scalar(query)
