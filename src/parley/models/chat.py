"""A business's conversations: chat sessions, their messages and the media they carry."""

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, cast
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from parley.core.clock import utcnow
from parley.db.base import Base, IdMixin, TimestampMixin
from parley.db.search import TrigramIndex

if TYPE_CHECKING:
    from parley.models.catalog import Vendor

DEFAULT_TITLE = "New session"


class Sender(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    BOT = "bot"
    SYSTEM = "system"


class MessageKind(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    DOCUMENT = "document"


class ChatSession(IdMixin, TimestampMixin, Base):
    __tablename__ = "chat_sessions"
    __table_args__ = (
        # Serves "the caller's sessions, most recently active first" as a keyset scan.
        Index("ix_chat_sessions_user_id_activity_at_id", "user_id", "activity_at", "id"),
    )

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200), default=DEFAULT_TITLE)
    # True until a client names the session or its first text message does.
    title_is_default: Mapped[bool] = mapped_column(default=True)
    last_message_at: Mapped[datetime | None]
    # When the session last saw activity: its creation, then each message posted.
    activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    seller_count: Mapped[int] = mapped_column(Integer, default=0)
    # The last sequence number handed to a message; never goes down, so order stays total.
    last_message_seq: Mapped[int] = mapped_column(BigInteger, default=0)

    vendor: Mapped["Vendor | None"] = relationship(lazy="raise", uselist=False, viewonly=True)


TITLE_SEARCH = TrigramIndex("chat_sessions", ("title",))
TITLE_SEARCH.attach(cast(Table, ChatSession.__table__))


class Message(IdMixin, Base):
    __tablename__ = "messages"
    __table_args__ = (
        # The chronological order and its keyset: unique, so ties cannot reorder.
        UniqueConstraint("chat_session_id", "seq"),
    )

    chat_session_id: Mapped[UUID] = mapped_column(
        ForeignKey("chat_sessions.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(BigInteger)
    sender: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    content: Mapped[str | None] = mapped_column(Text)
    phone_number: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    media: Mapped["Media | None"] = relationship(
        lazy="raise", uselist=False, passive_deletes=True, back_populates="message"
    )


class Media(IdMixin, Base):
    """A stored file; its bytes live in the media storage under `storage_key`."""

    __tablename__ = "media"

    message_id: Mapped[UUID] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), unique=True
    )
    # The owner, kept here so a download is authorised without walking to the chat session.
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    filename: Mapped[str] = mapped_column(String(255))
    storage_key: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    message: Mapped[Message] = relationship(lazy="raise", back_populates="media")
