"""Request and response bodies of the chats domain."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import AliasChoices, Field, field_validator

from parley.core.schemas import (
    InputModel,
    NoNul,
    NoNulText,
    NotBlankText,
    PhoneNumber,
    ReadModel,
    trimmed,
)
from parley.media.schemas import MediaRead
from parley.models.chat import MessageKind, Sender

Title = Annotated[str, trimmed(1, 200), NoNul, NoNulText, NotBlankText]
Content = Annotated[str, trimmed(1, 4096), NoNul, NoNulText, NotBlankText]
Caption = Annotated[str, trimmed(0, 4096), NoNul, NoNulText]

# The models call it chat_session_id; the contract calls it session_id.
SessionId = Annotated[UUID, Field(validation_alias=AliasChoices("chat_session_id", "session_id"))]


# A chat session's vendor: here, beside the chat session that embeds it, so that the catalog
# (which builds on chat sessions) is the only one of the two importing the other.
class VendorRead(ReadModel):
    id: UUID
    session_id: SessionId
    name: str
    phone_number: str
    created_at: datetime
    updated_at: datetime


class ChatSessionCreate(InputModel):
    """Without a title the session is "New session" until its first text message names it."""

    title: Title | None = None


class ChatSessionUpdate(InputModel):
    title: Title


class ChatSessionRead(ReadModel):
    id: UUID
    title: str
    user_id: UUID
    created_at: datetime
    updated_at: datetime
    last_message_at: datetime | None
    message_count: int
    vendor: VendorRead | None
    seller_count: int


class MessageCreate(InputModel):
    """A text message (application/json)."""

    content: Content
    sender: Sender = Sender.AGENT
    phone_number: PhoneNumber | None = None


class MediaMessageFields(InputModel):
    """The text fields of a media message (multipart/form-data, next to `file`)."""

    content: Caption | None = None
    sender: Sender = Sender.AGENT
    phone_number: PhoneNumber | None = None

    @field_validator("content")
    @classmethod
    def _empty_caption_is_none(cls, value: str | None) -> str | None:
        # Forms send empty fields; an empty caption is no caption.
        return value or None


class MessageRead(ReadModel):
    id: UUID
    session_id: SessionId
    sender: Sender
    kind: MessageKind
    content: str | None
    phone_number: str | None
    media: MediaRead | None
    created_at: datetime
