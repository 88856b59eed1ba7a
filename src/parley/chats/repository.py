"""All SQL of the chats domain."""

from datetime import datetime
from typing import Any, cast
from uuid import UUID

from sqlalchemy import CursorResult, and_, case, delete, false, func, or_, select, true, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from parley.db.repository import Repository
from parley.models.chat import ChatSession, Media, Message
from parley.models.user import Role, User

# The LIKE escape character: "/" reads the same in every SQL dialect, unlike a backslash.
_LIKE_ESCAPE = "/"


def contains_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its own wildcards taken literally."""
    escaped = (
        text.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2)
        .replace("%", f"{_LIKE_ESCAPE}%")
        .replace("_", f"{_LIKE_ESCAPE}_")
    )
    return f"%{escaped}%"


def _rowcount(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount


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
            query = query.options(joinedload(ChatSession.vendor))
        return await self.session.scalar(query)

    async def get_owned(self, chat_session_id: UUID, owner_id: UUID) -> ChatSession | None:
        """Return the chat session only when `owner_id` owns it (writes never cross owners)."""
        return await self.session.scalar(
            select(ChatSession).where(
                ChatSession.id == chat_session_id, ChatSession.user_id == owner_id
            )
        )

    def add_new(self, chat_session: ChatSession) -> ChatSession:
        """Add a new chat session; it has no vendor yet, so none needs loading."""
        set_committed_value(chat_session, "vendor", None)
        return self.add(chat_session)

    async def get_for_read(self, chat_session_id: UUID) -> ChatSession | None:
        """Load the chat session afresh, with its vendor, after a write through SQL."""
        return await self.session.scalar(
            select(ChatSession)
            .where(ChatSession.id == chat_session_id)
            .options(joinedload(ChatSession.vendor))
            .execution_options(populate_existing=True)
        )

    async def list_page(
        self,
        owner_id: UUID,
        *,
        limit: int,
        after: tuple[datetime, UUID] | None,
        q: str | None,
    ) -> list[ChatSession]:
        """Return up to limit + 1 of the owner's sessions, most recently active first."""
        query = select(ChatSession).where(ChatSession.user_id == owner_id)
        if q:
            query = query.where(
                func.lower(ChatSession.title).like(contains_pattern(q.lower()), escape=_LIKE_ESCAPE)
            )
        if after is not None:
            activity_at, last_id = after
            query = query.where(
                or_(
                    ChatSession.activity_at < activity_at,
                    and_(ChatSession.activity_at == activity_at, ChatSession.id < last_id),
                )
            )
        query = (
            query.order_by(ChatSession.activity_at.desc(), ChatSession.id.desc())
            .limit(limit + 1)
            .options(joinedload(ChatSession.vendor))
        )
        return list(await self.session.scalars(query))

    async def claim_next_seq(
        self, chat_session_id: UUID, owner_id: UUID, *, now: datetime, title: str | None
    ) -> int | None:
        """Count a new message in and return its sequence number; None unless owned.

        One UPDATE computed by the database, so concurrent posts queue on the row lock and
        each reads back its own number; it is the transaction's first write, so SQLite takes
        its write lock before reading anything.
        """
        values: list[tuple[Any, Any]] = [
            (ChatSession.last_message_seq, ChatSession.last_message_seq + 1),
            (ChatSession.message_count, ChatSession.message_count + 1),
            (ChatSession.last_message_at, now),
            (ChatSession.activity_at, now),
            (ChatSession.updated_at, now),
        ]
        if title is not None:
            # Ordered: MariaDB evaluates SET left to right, so the title reads the old flag.
            values += [
                (
                    ChatSession.title,
                    case((ChatSession.title_is_default == true(), title), else_=ChatSession.title),
                ),
                (ChatSession.title_is_default, false()),
            ]
        result = await self.session.execute(
            update(ChatSession)
            .where(ChatSession.id == chat_session_id, ChatSession.user_id == owner_id)
            .ordered_values(*values)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(result) != 1:
            return None
        seq = await self.session.scalar(
            select(ChatSession.last_message_seq).where(ChatSession.id == chat_session_id)
        )
        return int(seq) if seq is not None else None

    async def rename(
        self, chat_session_id: UUID, owner_id: UUID, *, title: str, now: datetime
    ) -> bool:
        """Set the title of an owned session; False when the owner has no such session."""
        result = await self.session.execute(
            update(ChatSession)
            .where(ChatSession.id == chat_session_id, ChatSession.user_id == owner_id)
            .values(title=title, title_is_default=False, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) == 1

    async def lock_owned(self, chat_session_id: UUID, owner_id: UUID, *, now: datetime) -> bool:
        """Write-lock an owned session (posts to it wait); False when not owned."""
        result = await self.session.execute(
            update(ChatSession)
            .where(ChatSession.id == chat_session_id, ChatSession.user_id == owner_id)
            .values(updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) == 1

    async def uncount_message(
        self, chat_session_id: UUID, owner_id: UUID, *, now: datetime
    ) -> bool:
        """Count one message out of an owned session (its first write); False when not owned."""
        result = await self.session.execute(
            update(ChatSession)
            .where(ChatSession.id == chat_session_id, ChatSession.user_id == owner_id)
            .values(message_count=ChatSession.message_count - 1, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) == 1

    async def refresh_last_message_at(self, chat_session_id: UUID, *, now: datetime) -> None:
        """Set last_message_at to the time of the latest remaining message, or null."""
        latest = (
            select(Message.created_at)
            .where(Message.chat_session_id == chat_session_id)
            .order_by(Message.seq.desc())
            .limit(1)
            .scalar_subquery()
        )
        await self.session.execute(
            update(ChatSession)
            .where(ChatSession.id == chat_session_id)
            .values(last_message_at=latest, updated_at=now)
            .execution_options(synchronize_session=False)
        )

    async def media_keys(self, chat_session_id: UUID) -> list[str]:
        """Return the storage keys of every file in the session's messages."""
        rows = await self.session.scalars(
            select(Media.storage_key)
            .join(Message, Media.message_id == Message.id)
            .where(Message.chat_session_id == chat_session_id)
        )
        return list(rows)

    async def delete_by_id(self, chat_session_id: UUID) -> None:
        """Delete the session; foreign keys cascade to messages, media, vendor and sellers."""
        await self.session.execute(
            delete(ChatSession)
            .where(ChatSession.id == chat_session_id)
            .execution_options(synchronize_session=False)
        )


class MessageRepository(Repository[Message]):
    model = Message

    async def get_visible(self, message_id: UUID, viewer: User) -> tuple[Message, UUID] | None:
        """Return the message (media loaded) and its owner's id when the viewer may read it."""
        query = (
            select(Message, ChatSession.user_id)
            .join(ChatSession, ChatSession.id == Message.chat_session_id)
            .where(Message.id == message_id)
            .options(joinedload(Message.media))
        )
        if viewer.role != Role.ADMIN:
            query = query.where(ChatSession.user_id == viewer.id)
        row = (await self.session.execute(query)).first()
        return None if row is None else (row[0], row[1])

    async def list_page(
        self,
        chat_session_id: UUID,
        *,
        limit: int,
        after_seq: int | None,
        descending: bool,
        q: str | None,
    ) -> list[Message]:
        """Return up to limit + 1 messages in sequence order: a range scan of (session, seq)."""
        query = select(Message).where(Message.chat_session_id == chat_session_id)
        if q:
            query = query.where(
                func.lower(Message.content).like(contains_pattern(q.lower()), escape=_LIKE_ESCAPE)
            )
        if after_seq is not None:
            query = query.where(Message.seq < after_seq if descending else Message.seq > after_seq)
        order = Message.seq.desc() if descending else Message.seq.asc()
        query = query.order_by(order).limit(limit + 1).options(joinedload(Message.media))
        return list(await self.session.scalars(query))

    async def delete_by_id(self, message_id: UUID) -> bool:
        """Delete the message (its media row cascades); False when it was already gone."""
        result = await self.session.execute(
            delete(Message)
            .where(Message.id == message_id)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) == 1
