"""All SQL of the chats domain."""

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from parley.db.repository import Repository
from parley.models.chat import ChatSession
from parley.models.user import Role, User


class ChatSessionRepository(Repository[ChatSession]):
    model = ChatSession

    async def get_visible(
        self, chat_session_id: UUID, viewer: User, *, with_vendor: bool = False
    ) -> ChatSession | None:
        """Return the chat session when the viewer owns it or is an admin; else None (404)."""
        query = select(ChatSession).where(ChatSession.id == chat_session_id)
        if viewer.role != Role.ADMIN:
            query = query.where(ChatSession.user_id == viewer.id)
        if with_vendor:
            query = query.options(selectinload(ChatSession.vendor))
        return await self.session.scalar(query)

    async def get_owned(self, chat_session_id: UUID, owner_id: UUID) -> ChatSession | None:
        """Return the chat session only when `owner_id` owns it (writes never cross owners)."""
        return await self.session.scalar(
            select(ChatSession).where(
                ChatSession.id == chat_session_id, ChatSession.user_id == owner_id
            )
        )
