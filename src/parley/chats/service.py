"""Chat use cases: sessions and their messages, each in one transaction.

Write transactions begin by locking the session row: concurrent posts queue on that row, and
on SQLite the transaction holds the write lock before it reads anything.
"""

from datetime import datetime
from typing import Any, NoReturn
from uuid import UUID

import anyio
from pydantic import ValidationError

from parley.chats.errors import (
    ChatSessionNotFound,
    MessageNotFound,
    NotChatSessionOwner,
    invalid_body,
)
from parley.chats.page_cache import PageCache
from parley.chats.repository import ChatSessionRepository, MessageRepository
from parley.chats.schemas import (
    ChatSessionCreate,
    ChatSessionRead,
    ChatSessionUpdate,
    MediaMessageFields,
    MessageCreate,
    MessageRead,
)
from parley.core.clock import utcnow
from parley.core.cursors import CursorCodec, InvalidCursor, list_scope
from parley.db.uow import UnitOfWork
from parley.events import outbox
from parley.events.types import EventType
from parley.media.service import MediaService, StoredFile, Upload
from parley.models.chat import DEFAULT_TITLE, ChatSession, Media, Message, MessageKind
from parley.models.user import User

TITLE_FROM_MESSAGE_MAX = 60
_SESSION_CURSOR = frozenset({"activity_at", "id"})
_MESSAGE_CURSOR = frozenset({"seq"})


def title_from(content: str) -> str:
    """Name a session after the first words of a message: at most 60 characters, whole words."""
    words = " ".join(content.split())
    if len(words) <= TITLE_FROM_MESSAGE_MAX:
        return words
    head = words[: TITLE_FROM_MESSAGE_MAX + 1]
    if " " not in head:
        return words[:TITLE_FROM_MESSAGE_MAX]  # one long word: cut it
    return head.rsplit(" ", 1)[0]


def session_position(cursors: CursorCodec, cursor: str, scope: str) -> tuple[datetime, UUID]:
    """Where a page of sessions continues: after this (activity_at, id)."""
    position = cursors.decode(cursor, scope=scope, expect=_SESSION_CURSOR)
    try:
        activity_at = datetime.fromisoformat(position["activity_at"])
        last_id = UUID(position["id"])
    except (TypeError, ValueError) as exc:
        raise InvalidCursor from exc
    if activity_at.tzinfo is None:
        raise InvalidCursor
    return activity_at, last_id


def session_cursor(activity_at: datetime, last_id: UUID | str) -> dict[str, str]:
    """The position a page of sessions ends at."""
    return {"activity_at": activity_at.isoformat(), "id": str(last_id)}


def message_position(cursors: CursorCodec, cursor: str, scope: str) -> int:
    """Where a page of messages continues: after this sequence number."""
    seq = cursors.decode(cursor, scope=scope, expect=_MESSAGE_CURSOR)["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise InvalidCursor
    return seq


class ChatService:
    def __init__(
        self, uow: UnitOfWork, *, cursors: CursorCodec, media: MediaService, pages: PageCache
    ) -> None:
        self.uow = uow
        self.cursors = cursors
        self.media = media
        self.pages = pages
        self.sessions = ChatSessionRepository(uow.session)
        self.messages = MessageRepository(uow.session)

    # Chat sessions

    async def create_session(self, *, owner: User, data: ChatSessionCreate) -> ChatSession:
        """Open a chat session for the owner, titled "New session" unless a title is given."""
        now = utcnow()
        async with self.uow:
            chat_session = self.sessions.add_new(
                ChatSession(
                    user_id=owner.id,
                    title=data.title or DEFAULT_TITLE,
                    title_is_default=data.title is None,
                    created_at=now,
                    updated_at=now,
                    activity_at=now,
                    last_message_at=None,
                    message_count=0,
                    seller_count=0,
                    last_message_seq=0,
                )
            )
            await self.sessions.flush()
            outbox.record(
                self.uow,
                EventType.SESSION_CREATED,
                session_id=chat_session.id,
                user_id=owner.id,
                data=ChatSessionRead.model_validate(chat_session).model_dump_json(),
            )
            await self.uow.commit()
        return chat_session

    async def get_session(self, chat_session_id: UUID, *, viewer: User) -> ChatSession:
        """Return a session its owner or an admin may read; 404 otherwise."""
        async with self.uow:
            chat_session = await self.sessions.get_visible(
                chat_session_id, viewer, with_vendor=True
            )
        if chat_session is None:
            raise ChatSessionNotFound
        return chat_session

    async def list_sessions(
        self, *, owner: User, limit: int, cursor: str | None, q: str | None
    ) -> tuple[list[ChatSession], str | None]:
        """Return a page of the owner's sessions, most recently active first."""
        scope = list_scope("sessions", owner.id)
        after = session_position(self.cursors, cursor, scope) if cursor else None
        async with self.uow:
            rows = await self.sessions.list_page(owner.id, limit=limit, after=after, q=q)
        page, more = rows[:limit], len(rows) > limit
        if not more:
            return page, None
        last = page[-1]
        return page, self.cursors.encode(session_cursor(last.activity_at, last.id), scope=scope)

    async def rename_session(
        self, chat_session_id: UUID, *, actor: User, data: ChatSessionUpdate
    ) -> ChatSession:
        """Give an owned session a new title."""
        async with self.uow:
            if not await self.sessions.rename(
                chat_session_id, actor.id, title=data.title, now=utcnow()
            ):
                await self._refuse_write(chat_session_id, actor)
            chat_session = await self.sessions.get_for_read(chat_session_id)
            if chat_session is not None:
                outbox.record(
                    self.uow,
                    EventType.SESSION_UPDATED,
                    session_id=chat_session_id,
                    user_id=actor.id,
                    data=ChatSessionRead.model_validate(chat_session).model_dump_json(),
                )
            await self.uow.commit()
        if chat_session is None:
            raise ChatSessionNotFound
        return chat_session

    async def delete_session(self, chat_session_id: UUID, *, actor: User) -> None:
        """Delete an owned session with its messages, vendor and sellers; files go after commit."""
        async with self.uow:
            if not await self.sessions.lock_owned(chat_session_id, actor.id):
                await self._refuse_write(chat_session_id, actor)
            # Read under the row lock: no message can be posted between this and the delete.
            keys = await self.sessions.media_keys(chat_session_id)
            await self.sessions.delete_by_id(chat_session_id)
            self.media.delete_after_commit(keys)
            # One event: its messages, vendor and sellers go with it (decision 113).
            outbox.record(
                self.uow,
                EventType.SESSION_DELETED,
                session_id=chat_session_id,
                user_id=actor.id,
                data=outbox.deleted(chat_session_id, chat_session_id),
            )
            self._pages_change_after_commit(chat_session_id)
            await self.uow.commit()

    def _pages_change_after_commit(self, chat_session_id: UUID) -> None:
        """Kept pages of the session's messages go once the change is committed."""
        self.uow.after_commit(lambda: self.pages.changed(chat_session_id))

    async def _refuse_write(self, chat_session_id: UUID, actor: User) -> NoReturn:
        await refuse_write(self.sessions, chat_session_id, actor)

    # Messages

    async def post_text_message(
        self, chat_session_id: UUID, *, author: User, data: MessageCreate
    ) -> Message:
        """Append a text message; the session's first one names an untitled session."""
        return await self._append(chat_session_id, author=author, fields=data, stored=None)

    async def post_media_message(
        self, chat_session_id: UUID, *, author: User, upload: Upload
    ) -> Message:
        """Store the uploaded file and append a message carrying it; nothing stays on failure."""
        async with self.uow:
            # Refuse before reading a byte of the upload.
            if await self.sessions.get_owned(chat_session_id, author.id) is None:
                await self._refuse_write(chat_session_id, author)
        stored = await self.media.receive(upload)
        try:
            fields = _media_fields(upload.fields)
            return await self._append(chat_session_id, author=author, fields=fields, stored=stored)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.media.discard(stored)
            raise

    async def _append(
        self,
        chat_session_id: UUID,
        *,
        author: User,
        fields: MessageCreate | MediaMessageFields,
        stored: StoredFile | None,
    ) -> Message:
        """Take the session's next sequence number and add the message (with its media)."""
        async with self.uow:
            title = title_from(fields.content) if stored is None and fields.content else None
            claim = await self.sessions.claim_next_seq(
                chat_session_id, author.id, clock=utcnow, title=title
            )
            if claim is None:
                await self._refuse_write(chat_session_id, author)
            message = self.messages.add(
                Message(
                    chat_session_id=chat_session_id,
                    seq=claim.seq,
                    sender=fields.sender.value,
                    kind=MessageKind.TEXT.value if stored is None else stored.kind.value,
                    content=fields.content,
                    phone_number=fields.phone_number,
                    created_at=claim.at,
                    media=None if stored is None else _media_row(stored, author, claim.at),
                )
            )
            await self.messages.flush()
            outbox.record(
                self.uow,
                EventType.MESSAGE_CREATED,
                session_id=chat_session_id,
                user_id=author.id,
                data=MessageRead.model_validate(message).model_dump_json(),
            )
            self._pages_change_after_commit(chat_session_id)
            await self.uow.commit()
        return message

    async def list_messages(
        self,
        chat_session_id: UUID,
        *,
        viewer: User,
        limit: int,
        cursor: str | None,
        descending: bool,
        q: str | None,
    ) -> tuple[list[Message], str | None]:
        """Return a page of a readable session's messages in sequence order."""
        # A cursor continues the session and the order it was made for; another would skip.
        scope = list_scope("messages", chat_session_id, "desc" if descending else "asc")
        after_seq = message_position(self.cursors, cursor, scope) if cursor else None
        async with self.uow:
            if await self.sessions.get_visible(chat_session_id, viewer) is None:
                raise ChatSessionNotFound
            rows = await self.messages.list_page(
                chat_session_id, limit=limit, after_seq=after_seq, descending=descending, q=q
            )
        page, more = rows[:limit], len(rows) > limit
        if not more:
            return page, None
        return page, self.cursors.encode({"seq": page[-1].seq}, scope=scope)

    async def get_message(self, message_id: UUID, *, viewer: User) -> Message:
        """Return a message its session's owner or an admin may read; 404 otherwise."""
        async with self.uow:
            found = await self.messages.get_visible(message_id, viewer)
        if found is None:
            raise MessageNotFound
        return found[0]

    async def delete_message(self, message_id: UUID, *, actor: User) -> None:
        """Delete an owned message and, after commit, its file; the sequence never goes back."""
        async with self.uow:
            found = await self.messages.get_visible(message_id, actor)
            if found is None:
                raise MessageNotFound
            message, owner_id = found
            if owner_id != actor.id:
                raise NotChatSessionOwner
            chat_session_id = message.chat_session_id
            keys = [message.media.storage_key] if message.media is not None else []
        async with self.uow:
            now = utcnow()
            if not await self.sessions.uncount_message(chat_session_id, actor.id, now=now):
                raise MessageNotFound
            if not await self.messages.delete_by_id(message_id):
                raise MessageNotFound  # deleted meanwhile; the rollback restores the count
            await self.sessions.refresh_last_message_at(chat_session_id, now=now)
            self.media.delete_after_commit(keys)
            outbox.record(
                self.uow,
                EventType.MESSAGE_DELETED,
                session_id=chat_session_id,
                user_id=actor.id,
                data=outbox.deleted(message_id, chat_session_id),
            )
            self._pages_change_after_commit(chat_session_id)
            await self.uow.commit()


async def refuse_write(
    sessions: ChatSessionRepository, chat_session_id: UUID, actor: User
) -> NoReturn:
    """Explain why a write matched nothing: 404 when unseen, 403 for an admin's reading."""
    if await sessions.get_visible(chat_session_id, actor) is None:
        raise ChatSessionNotFound
    raise NotChatSessionOwner


def _media_fields(fields: Any) -> MediaMessageFields:
    try:
        return MediaMessageFields.model_validate(dict(fields))
    except ValidationError as exc:
        raise invalid_body(exc) from None


def _media_row(stored: StoredFile, owner: User, now: datetime) -> Media:
    return Media(
        user_id=owner.id,
        content_type=stored.content_type,
        size=stored.size,
        filename=stored.filename,
        storage_key=stored.key,
        created_at=now,
    )
