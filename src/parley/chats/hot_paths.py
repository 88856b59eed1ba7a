"""The conversation's hot paths on the lean path (db/fast.py): reading a chat session, a page
of sessions, a page of messages and posting a text message, answered as the response bytes.

Each is the same use case as in ChatService, with the same rules, cursors and envelope, in one
transaction of the unit of work; rows go straight to JSON, with no ORM objects and no second
validation of what the database already constrains.
"""

from functools import partial
from typing import Any
from uuid import UUID

import orjson

from parley.chats.errors import ChatSessionNotFound, NotChatSessionOwner
from parley.chats.page_cache import PageCache
from parley.chats.repository import (
    GROUPED_POSTS,
    ChatRows,
    ChatSessionRepository,
    PostedText,
    TextPost,
)
from parley.chats.schemas import MessageCreate
from parley.chats.service import (
    message_position,
    refuse_write,
    session_cursor,
    session_position,
    title_from,
)
from parley.core.clock import utcnow
from parley.core.cursors import CursorCodec, list_scope
from parley.core.ids import new_id
from parley.db.engine import Database
from parley.db.errors import is_database_unavailable
from parley.db.fast import Driver, Row, autocommit, envelope, reading, transaction
from parley.db.grouping import Group
from parley.events import outbox
from parley.media.schemas import MEDIA_PATH
from parley.models.user import Role, User

# Text posts queued in one worker while a group is in flight go in the next one (decision 195).
POST_GROUP_LIMIT = 64


class _NotPosted(Exception):
    """The post matched no session its author may write to: what the claim did is undone."""


async def _post_alone(database: Database, post: TextPost) -> PostedText:
    """One text post in a transaction of its own (SQLite, MariaDB)."""

    async def work(conn: Driver) -> PostedText:
        posted = await ChatRows(conn, conn.dialect).post_text(post, utcnow())
        if posted.data is None:
            raise _NotPosted  # rolls back what the claim did
        return posted

    try:
        return await transaction(database, work)
    except _NotPosted:
        return PostedText(data=None, owner_id=None)


def _text_posts(database: Database) -> Group[TextPost, PostedText]:
    """This process's groups of text posts to the database (PostgreSQL)."""
    group: Group[TextPost, PostedText] | None = database.groups.get("chats.text_posts")
    if group is None:
        group = Group(partial(_post_together, database), limit=POST_GROUP_LIMIT)
        database.groups["chats.text_posts"] = group
    return group


async def _post_together(
    database: Database, posts: list[TextPost]
) -> list[PostedText | BaseException]:
    """Posts that queued together, in one statement that is its own transaction."""
    try:
        async with autocommit(database) as conn:
            posted = await ChatRows(conn, conn.dialect).post_texts(posts, utcnow())
        return list[PostedText | BaseException](posted)
    except Exception as error:
        if len(posts) == 1 or is_database_unavailable(error):
            raise
    # A value one post carries failed the whole group: each alone, so only its own fails.
    results: list[PostedText | BaseException] = []
    for post in posts:
        try:
            results.extend(await _post_together(database, [post]))
        except Exception as error:
            results.append(error)
    return results


class ChatHotPaths:
    def __init__(self, database: Database, cursors: CursorCodec, pages: PageCache) -> None:
        self.database = database
        self.cursors = cursors
        self.pages = pages

    async def get_session(self, chat_session_id: UUID, *, viewer: User) -> bytes:
        """A session its owner or an admin may read; 404 otherwise."""
        async with reading(self.database) as conn:
            row = await ChatRows(conn, conn.dialect).session(chat_session_id, viewer)
        if row is None:
            raise ChatSessionNotFound
        return envelope("Session", _session(conn, row))

    async def list_sessions(
        self, *, owner: User, limit: int, cursor: str | None, q: str | None
    ) -> bytes:
        """A page of the owner's sessions, most recently active first."""
        scope = list_scope("sessions", owner.id)
        after = session_position(self.cursors, cursor, scope) if cursor else None
        async with reading(self.database) as conn:
            rows = await ChatRows(conn, conn.dialect).session_page(
                owner.id, limit=limit, after=after, q=q
            )
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            position = session_cursor(conn.time_value(last[8]), conn.uuid_text(last[0]))
            next_cursor = self.cursors.encode(position, scope=scope)
        items = [_session(conn, row) for row in rows]
        return envelope("Sessions", {"items": items, "next_cursor": next_cursor})

    async def list_messages(
        self,
        chat_session_id: UUID,
        *,
        viewer: User,
        limit: int,
        cursor: str | None,
        descending: bool,
        q: str | None,
        fresh: bool = False,
    ) -> bytes:
        """A page of a readable session's messages in sequence order: kept in this worker
        until the session changes (chats.page_cache), unless `fresh` asks the database."""
        # Who reads is part of the key: the role decides what an admin may read.
        key = (chat_session_id, viewer.id, viewer.role, limit, cursor, descending, q)
        version = None if fresh else self.pages.version(chat_session_id)
        if version is not None and (page := self.pages.get(key, version)) is not None:
            return page
        scope = list_scope("messages", chat_session_id, "desc" if descending else "asc")
        after_seq = message_position(self.cursors, cursor, scope) if cursor else None
        async with reading(self.database) as conn:
            chats = ChatRows(conn, conn.dialect)
            rows = await chats.message_page(
                chat_session_id,
                viewer,
                limit=limit,
                after_seq=after_seq,
                descending=descending,
                q=q,
            )
            # The ownership test is in the page's statement: only an empty page needs asking.
            if not rows and not await chats.is_visible(chat_session_id, viewer):
                raise ChatSessionNotFound
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = self.cursors.encode({"seq": rows[-1][6]}, scope=scope)
        session_id = str(chat_session_id)
        items = [_message(conn, session_id, row) for row in rows]
        page = envelope("Messages", {"items": items, "next_cursor": next_cursor})
        if version is not None:
            self.pages.put(key, version, page)
        return page

    async def post_text_message(
        self, chat_session_id: UUID, *, author: User, data: MessageCreate
    ) -> bytes:
        """Append a text message; the session's first one names an untitled session."""
        message_id = new_id()
        sender = data.sender.value
        # The message up to its time: one rendering for the response and the event's data.
        head = (
            orjson.dumps(
                {
                    "id": str(message_id),
                    "session_id": str(chat_session_id),
                    "sender": sender,
                    "kind": "text",
                    "content": data.content,
                    "phone_number": data.phone_number,
                    "media": None,
                }
            )[:-1].decode()
            + ',"created_at":"'
        )
        post = TextPost(
            message_id=message_id,
            chat_session_id=chat_session_id,
            author_id=author.id,
            title=title_from(data.content),
            sender=sender,
            content=data.content,
            phone_number=data.phone_number,
            head=head,
        )
        if self.database.dialect in GROUPED_POSTS:
            posted = await _text_posts(self.database).submit(post)
        else:
            posted = await _post_alone(self.database, post)
        if posted.data is None:
            if posted.owner_id is None:
                async with self.database.sessions() as db:
                    await refuse_write(ChatSessionRepository(db), chat_session_id, author)
            refusal = NotChatSessionOwner if author.role == Role.ADMIN else ChatSessionNotFound
            raise refusal
        outbox.ring_engine(self.database.engine)
        await self.pages.changed(chat_session_id)
        return envelope("Message posted", orjson.Fragment(posted.data))


def _session(conn: Driver, row: Row) -> dict[str, Any]:
    session_id = conn.uuid_text(row[0])
    vendor = None
    if row[9] is not None:
        vendor = {
            "id": conn.uuid_text(row[9]),
            "session_id": session_id,
            "name": row[10],
            "phone_number": row[11],
            "created_at": conn.json_time(row[12]),
            "updated_at": conn.json_time(row[13]),
        }
    return {
        "id": session_id,
        "title": row[1],
        "user_id": conn.uuid_text(row[2]),
        "created_at": conn.json_time(row[3]),
        "updated_at": conn.json_time(row[4]),
        "last_message_at": None if row[5] is None else conn.json_time(row[5]),
        "message_count": row[6],
        "vendor": vendor,
        "seller_count": row[7],
    }


def _message(conn: Driver, session_id: str, row: Row) -> dict[str, Any]:
    media = None
    if row[7] is not None:
        media_id = conn.uuid_text(row[7])
        media = {
            "id": media_id,
            "content_type": row[8],
            "size": row[9],
            "filename": row[10],
            "url": f"{MEDIA_PATH}/{media_id}",
        }
    return {
        "id": conn.uuid_text(row[0]),
        "session_id": session_id,
        "sender": row[1],
        "kind": row[2],
        "content": row[3],
        "phone_number": row[4],
        "media": media,
        "created_at": conn.json_time(row[5]),
    }
