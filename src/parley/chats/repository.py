"""All SQL of the chats domain."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    ClauseElement,
    Select,
    Update,
    and_,
    bindparam,
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

from parley.db.fast import Compiled, Driver, Row, compiled, compiled_text, page_limit
from parley.db.repository import Repository, lock_row, rows_changed
from parley.db.search import LIKE_ESCAPE, contains_pattern, dialect_name
from parley.events.repository import EVENT_LOCK_KEY, EventRows, NewEvent
from parley.events.types import EventType
from parley.models.catalog import Vendor
from parley.models.chat import TITLE_SEARCH, ChatSession, Media, Message
from parley.models.user import Role, User


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
                func.lower(Message.content).like(contains_pattern(q.lower()), escape=LIKE_ESCAPE)
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
        return rows_changed(result) == 1


# The lean path: the hot reads and the text post as statements compiled once per dialect and
# run on the driver connection (db/fast.py). Rows come back as tuples in the column orders below.

_cs = ChatSession.__table__
_v = Vendor.__table__
_m = Message.__table__
_md = Media.__table__

# id, title, user_id, created_at, updated_at, last_message_at, message_count, seller_count,
# activity_at, then the vendor: id, name, phone_number, created_at, updated_at (all None if none).
SESSION_COLUMNS = (
    _cs.c.id,
    _cs.c.title,
    _cs.c.user_id,
    _cs.c.created_at,
    _cs.c.updated_at,
    _cs.c.last_message_at,
    _cs.c.message_count,
    _cs.c.seller_count,
    _cs.c.activity_at,
    _v.c.id,
    _v.c.name,
    _v.c.phone_number,
    _v.c.created_at,
    _v.c.updated_at,
)
# id, sender, kind, content, phone_number, created_at, seq, then the media: id, content_type,
# size, filename (all None if none).
MESSAGE_COLUMNS = (
    _m.c.id,
    _m.c.sender,
    _m.c.kind,
    _m.c.content,
    _m.c.phone_number,
    _m.c.created_at,
    _m.c.seq,
    _md.c.id,
    _md.c.content_type,
    _md.c.size,
    _md.c.filename,
)


def _sessions_with_vendor() -> Select[Any]:
    return select(*SESSION_COLUMNS).select_from(_cs.outerjoin(_v, _v.c.chat_session_id == _cs.c.id))


def _visible(admin: bool) -> Select[Any]:
    """The chat session `:sid` if the viewer `:viewer` may read it (an admin reads any)."""
    query = select(_cs.c.id).where(_cs.c.id == bindparam("sid"))
    return query if admin else query.where(_cs.c.user_id == bindparam("viewer"))


def _session_read(admin: bool) -> ClauseElement:
    query = _sessions_with_vendor().where(_cs.c.id == bindparam("sid"))
    return query if admin else query.where(_cs.c.user_id == bindparam("viewer"))


def _session_page(
    after: bool, search: bool, indexed: bool, dialect: str, rows: int
) -> ClauseElement:
    query = _sessions_with_vendor().where(_cs.c.user_id == bindparam("owner"))
    if search:  # the same title search as list_page, its operand bound
        title = TITLE_SEARCH.bound_contains(
            _cs.c.title, dialect, indexed=indexed, param=bindparam("title_query")
        )
        query = query.where(title)
    if after:
        at = bindparam("after_at", type_=_cs.c.activity_at.type)
        last_id = bindparam("after_id", type_=_cs.c.id.type)
        query = query.where(
            or_(_cs.c.activity_at < at, and_(_cs.c.activity_at == at, _cs.c.id < last_id))
        )
    return query.order_by(_cs.c.activity_at.desc(), _cs.c.id.desc()).limit(page_limit(rows))


def _message_page(admin: bool, descending: bool, after: bool, q: bool, rows: int) -> ClauseElement:
    # The ownership test is an EXISTS on the session's own row: joining from chat_sessions
    # made PostgreSQL's planner sort the whole session before the LIMIT.
    query = (
        select(*MESSAGE_COLUMNS)
        .select_from(_m.outerjoin(_md, _md.c.message_id == _m.c.id))
        .where(_m.c.chat_session_id == bindparam("sid"), _visible(admin).exists())
    )
    if q:
        query = query.where(
            func.lower(_m.c.content).like(bindparam("content_pattern"), escape=LIKE_ESCAPE)
        )
    if after:
        after_seq = bindparam("after_seq", type_=BigInteger)
        query = query.where(_m.c.seq < after_seq if descending else _m.c.seq > after_seq)
    order = _m.c.seq.desc() if descending else _m.c.seq.asc()
    return query.order_by(order).limit(page_limit(rows))


# Where text posts go to the database in groups (ChatRows.post_texts).
GROUPED_POSTS = frozenset({"postgresql"})

# PostgreSQL: text posts that queued together (decision 195) in one statement, which is its own
# transaction. Per session, in the posts' order: claim the next sequence numbers and the time
# (never before the previous message's, decision 062) under the session's row lock (sessions
# locked in id order, so two groups cannot deadlock), count the messages in, insert them, and
# answer each post with its session's owner and its message (none: not owned, or no session).
_POST_POSTGRESQL = """
WITH input AS (
    SELECT * FROM unnest(
        CAST(:ids AS UUID[]), CAST(:sids AS UUID[]), CAST(:authors AS UUID[]),
        CAST(:senders AS VARCHAR[]), CAST(:contents AS TEXT[]), CAST(:phones AS VARCHAR[]),
        CAST(:titles AS VARCHAR[]), CAST(:heads AS TEXT[])
    ) WITH ORDINALITY AS posts (id, sid, author, sender, content, phone, title, head, n)
), locked AS (
    SELECT id, user_id, last_message_seq, last_message_at
    FROM chat_sessions WHERE id IN (SELECT sid FROM input) ORDER BY id FOR UPDATE
), claims AS (
    SELECT input.*,
           locked.last_message_seq
               + row_number() OVER (PARTITION BY input.sid ORDER BY input.n) AS seq,
           GREATEST(CAST(:now AS TIMESTAMPTZ), locked.last_message_at) AS at
    FROM input JOIN locked ON locked.id = input.sid AND locked.user_id = input.author
), counted AS (
    UPDATE chat_sessions AS s
    SET last_message_seq = c.seq, message_count = s.message_count + c.posts,
        last_message_at = c.at, activity_at = c.at, updated_at = c.at,
        title = CASE WHEN s.title_is_default THEN c.title ELSE s.title END,
        title_is_default = false
    FROM (
        SELECT sid, max(seq) AS seq, count(*) AS posts, max(at) AS at,
               (array_agg(title ORDER BY n))[1] AS title
        FROM claims GROUP BY sid
    ) AS c
    WHERE s.id = c.sid
), posted AS (
    INSERT INTO messages (id, chat_session_id, seq, sender, kind, content, phone_number, created_at)
    SELECT id, sid, seq, sender, 'text', content, phone, at FROM claims ORDER BY n
    RETURNING id, created_at
), rendered AS (
    -- Each message as the hot path rendered it, finished with the time only this statement
    -- knows (in _json_time's form: microseconds only when there are any).
    SELECT claims.n, claims.sid, claims.author,
           claims.head
           || to_char(posted.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
           || CASE WHEN to_char(posted.created_at, 'US') = '000000' THEN ''
                   ELSE '.' || to_char(posted.created_at, 'US') END
           || 'Z"}' AS data
    FROM posted JOIN claims ON claims.id = posted.id
), logged AS (
    -- The events, last and in the posts' order: the event writers' lock, then the rows
    -- (decision 111).
    INSERT INTO events (type, created_at, session_id, user_id, data)
    SELECT 'message.created', CAST(:now AS TIMESTAMPTZ), rendered.sid, rendered.author,
           rendered.data
    FROM rendered CROSS JOIN LATERAL (SELECT pg_advisory_xact_lock(:event_lock)) AS turn
    ORDER BY rendered.n
)
SELECT locked.user_id, rendered.data
FROM input
LEFT JOIN locked ON locked.id = input.sid
LEFT JOIN rendered ON rendered.n = input.n
ORDER BY input.n
"""
# SQLite: the whole transaction holds the write lock (BEGIN IMMEDIATE in the writer turn), and
# SET reads the row as it was, so each time is max(now, the previous message's).
_CLAIM_SQLITE = """
UPDATE chat_sessions
SET last_message_seq = last_message_seq + 1, message_count = message_count + 1,
    last_message_at = max(:now, coalesce(last_message_at, :now)),
    activity_at = max(:now, coalesce(last_message_at, :now)),
    updated_at = max(:now, coalesce(last_message_at, :now)),
    title = CASE WHEN title_is_default THEN :title ELSE title END,
    title_is_default = 0
WHERE id = :sid AND user_id = :author
RETURNING last_message_seq, last_message_at
"""
_INSERT_SQLITE = """
INSERT INTO messages (id, chat_session_id, seq, sender, kind, content, phone_number, created_at)
VALUES (:id, :sid, :seq, :sender, 'text', :content, :phone, :at)
"""
# MariaDB: the UPDATE locks the row by its primary key (decision 061); the INSERT reads the
# locked row through that key too and checks the owner (none inserted: refuse and roll back).
# Each assignment reads the same whichever way SET is evaluated (left to right by default).
_CLAIM_MYSQL = """
UPDATE chat_sessions
SET title = CASE WHEN title_is_default THEN :title ELSE title END,
    title_is_default = 0,
    last_message_seq = last_message_seq + 1, message_count = message_count + 1,
    last_message_at = GREATEST(:now, COALESCE(last_message_at, :now)),
    activity_at = GREATEST(:now, COALESCE(last_message_at, :now)),
    updated_at = GREATEST(:now, COALESCE(last_message_at, :now))
WHERE id = :sid
"""
_INSERT_MYSQL = """
INSERT INTO messages (id, chat_session_id, seq, sender, kind, content, phone_number, created_at)
SELECT :id, id, last_message_seq, :sender, 'text', :content, :phone, last_message_at
FROM chat_sessions FORCE INDEX (PRIMARY)
WHERE id = :sid AND user_id = :author
RETURNING created_at
"""


@dataclass(frozen=True, slots=True)
class TextPost:
    """A text message to post, rendered as JSON up to its time, which the database sets."""

    message_id: UUID
    chat_session_id: UUID
    author_id: UUID
    title: str  # the session's, if it has none yet
    sender: str
    content: str
    phone_number: str | None
    head: str  # the message's JSON up to its created_at's text

    def rendered(self, created_at: str) -> str:
        return f'{self.head}{created_at}"}}'


@dataclass(frozen=True, slots=True)
class PostedText:
    """A text message as rendered for its response and its event, or the session's owner
    when it was refused."""

    data: str | None  # the message's JSON; None when refused
    owner_id: Any  # PostgreSQL tells the owner it found; elsewhere None


class ChatRows:
    """The chats SQL of the lean path, on one driver connection."""

    def __init__(self, db: Driver, dialect: Any) -> None:
        self.db = db
        self.dialect = dialect

    def _statement(self, key: tuple[Any, ...], build: Any) -> Compiled:
        return compiled(key, self.dialect, build)

    async def session(self, chat_session_id: UUID, viewer: User) -> Row | None:
        admin = viewer.role == Role.ADMIN
        statement = self._statement(("chats.session", admin), lambda: _session_read(admin))
        params = {"sid": self.db.uuid(chat_session_id), "viewer": self.db.uuid(viewer.id)}
        rows = await self.db.fetch(statement, params)
        return rows[0] if rows else None

    async def session_page(
        self, owner_id: UUID, *, limit: int, after: tuple[datetime, UUID] | None, q: str | None
    ) -> list[Row]:
        """Up to limit + 1 of the owner's sessions, most recently active first."""
        dialect = self.dialect.name
        indexed = bool(q) and TITLE_SEARCH.uses_index(q or "", dialect)
        key = ("chats.sessions", after is not None, bool(q), indexed, limit + 1)
        statement = self._statement(
            key, lambda: _session_page(after is not None, bool(q), indexed, dialect, limit + 1)
        )
        params: dict[str, Any] = {"owner": self.db.uuid(owner_id)}
        if q:
            params["title_query"] = TITLE_SEARCH.bound_value(_cs.c.title, q, dialect)
        if after is not None:
            params["after_at"] = self.db.time(after[0])
            params["after_id"] = self.db.uuid(after[1])
        return await self.db.fetch(statement, params)

    async def message_page(
        self,
        chat_session_id: UUID,
        viewer: User,
        *,
        limit: int,
        after_seq: int | None,
        descending: bool,
        q: str | None,
    ) -> list[Row]:
        """Up to limit + 1 messages of a session the viewer may read, in sequence order."""
        admin, after, search = viewer.role == Role.ADMIN, after_seq is not None, bool(q)
        statement = self._statement(
            ("chats.messages", admin, descending, after, search, limit + 1),
            lambda: _message_page(admin, descending, after, search, limit + 1),
        )
        params: dict[str, Any] = {
            "sid": self.db.uuid(chat_session_id),
            "viewer": self.db.uuid(viewer.id),
            "after_seq": after_seq,
        }
        if q:
            params["content_pattern"] = contains_pattern(q.lower())
        return await self.db.fetch(statement, params)

    async def is_visible(self, chat_session_id: UUID, viewer: User) -> bool:
        admin = viewer.role == Role.ADMIN
        statement = self._statement(("chats.visible", admin), lambda: _visible(admin))
        params = {"sid": self.db.uuid(chat_session_id), "viewer": self.db.uuid(viewer.id)}
        return bool(await self.db.fetch(statement, params))

    async def post_texts(self, posts: list["TextPost"], now: datetime) -> list[PostedText]:
        """PostgreSQL: append text messages and their `message.created` events in one
        statement, its own transaction; one answer per post, in their order."""
        db = self.db
        params: dict[str, Any] = {
            "ids": [db.uuid(p.message_id) for p in posts],
            "sids": [db.uuid(p.chat_session_id) for p in posts],
            "authors": [db.uuid(p.author_id) for p in posts],
            "senders": [p.sender for p in posts],
            "contents": [p.content for p in posts],
            "phones": [p.phone_number for p in posts],
            "titles": [p.title for p in posts],
            "heads": [p.head for p in posts],
            "now": db.time(now),
            "event_lock": EVENT_LOCK_KEY,
        }
        rows = await db.fetch(self._text("chats.post", _POST_POSTGRESQL), params)
        return [PostedText(data=row[1], owner_id=row[0]) for row in rows]

    async def post_text(self, post: "TextPost", now: datetime) -> PostedText:
        """SQLite and MariaDB: append a text message and its `message.created` event, in the
        caller's transaction, in as few round trips as the database allows."""
        db = self.db
        params: dict[str, Any] = {
            "id": db.uuid(post.message_id),
            "sid": db.uuid(post.chat_session_id),
            "author": db.uuid(post.author_id),
            "now": db.time(now),
            "title": post.title,
            "sender": post.sender,
            "content": post.content,
            "phone": post.phone_number,
        }
        if self.dialect.name == "sqlite":
            claimed = await db.fetch(self._text("chats.claim", _CLAIM_SQLITE), params)
            if not claimed:
                return PostedText(data=None, owner_id=None)
            params["seq"], params["at"] = claimed[0]
            await db.fetch(self._text("chats.insert", _INSERT_SQLITE), params)
            created_at = params["at"]
        else:
            await db.fetch(self._text("chats.claim", _CLAIM_MYSQL), params)
            inserted = await db.fetch(self._text("chats.insert", _INSERT_MYSQL), params)
            if not inserted:
                return PostedText(data=None, owner_id=None)
            created_at = inserted[0][0]
        data = post.rendered(db.json_time(created_at))
        event = NewEvent(
            type=EventType.MESSAGE_CREATED.value,
            session_id=post.chat_session_id,
            user_id=post.author_id,
            data=data,
            created_at=now,
        )
        await EventRows(db, self.dialect).append(event)
        return PostedText(data=data, owner_id=None)

    def _text(self, key: str, sql: str) -> Compiled:
        return compiled_text(key, self.dialect, sql)
