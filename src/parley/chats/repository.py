"""All SQL of the chats domain."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from sqlalchemy import (
    CursorResult,
    Update,
    and_,
    case,
    delete,
    false,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from parley.db.repository import Repository, lock_row
from parley.db.search import dialect_name
from parley.models.chat import TITLE_SEARCH, ChatSession, Media, Message
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


@dataclass(frozen=True, slots=True)
class Claim:
    """A new message's place in its session and its time."""

    seq: int
    at: datetime


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
                TITLE_SEARCH.contains(ChatSession.title, q, dialect_name(self.session))
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

    async def _lock_owned(self, chat_session_id: UUID, owner_id: UUID, *columns: Any) -> Any:
        """Lock the session row and return `columns` of it; None unless `owner_id` owns it."""
        row = await lock_row(
            self.session, ChatSession, chat_session_id, ChatSession.user_id, *columns
        )
        return row if row is not None and row.user_id == owner_id else None

    async def claim_next_seq(
        self,
        chat_session_id: UUID,
        owner_id: UUID,
        *,
        clock: Callable[[], datetime],
        title: str | None,
    ) -> Claim | None:
        """Count a new message in and return its place and time; None unless owned.

        Concurrent posts queue on the session's row lock. The time is read under that lock and
        never goes back from the session's previous message, so `created_at` follows the order
        and `last_message_at` is the newest message's own time.
        """
        row = await self._lock_owned(
            chat_session_id, owner_id, ChatSession.last_message_seq, ChatSession.last_message_at
        )
        if row is None:
            return None
        now = clock()
        claim = Claim(
            seq=row.last_message_seq + 1,
            at=now if row.last_message_at is None else max(now, row.last_message_at),
        )
        values: list[tuple[Any, Any]] = [
            (ChatSession.last_message_seq, claim.seq),
            (ChatSession.message_count, ChatSession.message_count + 1),
            (ChatSession.last_message_at, claim.at),
            (ChatSession.activity_at, claim.at),
            (ChatSession.updated_at, claim.at),
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
        await self._update(chat_session_id, update(ChatSession).ordered_values(*values))
        return claim

    async def rename(
        self, chat_session_id: UUID, owner_id: UUID, *, title: str, now: datetime
    ) -> bool:
        """Set the title of an owned session; False when the owner has no such session."""
        if await self._lock_owned(chat_session_id, owner_id) is None:
            return False
        await self._update(
            chat_session_id,
            update(ChatSession).values(title=title, title_is_default=False, updated_at=now),
        )
        return True

    async def lock_owned(self, chat_session_id: UUID, owner_id: UUID) -> bool:
        """Write-lock an owned session (posts to it wait); False when not owned."""
        return await self._lock_owned(chat_session_id, owner_id) is not None

    async def uncount_message(
        self, chat_session_id: UUID, owner_id: UUID, *, now: datetime
    ) -> bool:
        """Count one message out of an owned session; False when not owned."""
        if await self._lock_owned(chat_session_id, owner_id) is None:
            return False
        await self._update(
            chat_session_id,
            update(ChatSession).values(message_count=ChatSession.message_count - 1, updated_at=now),
        )
        return True

    async def _update(self, chat_session_id: UUID, statement: Update) -> None:
        await self.session.execute(
            statement.where(ChatSession.id == chat_session_id).execution_options(
                synchronize_session=False
            )
        )

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
