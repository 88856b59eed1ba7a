"""Request and response bodies of the webhooks domain."""

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import AfterValidator, Field, HttpUrl, TypeAdapter, ValidationError, field_validator
from pydantic.json_schema import SkipJsonSchema

from parley.core.schemas import (
    InputModel,
    NoNul,
    NoNulText,
    ReadModel,
    documented,
    kept_when_omitted,
    trimmed,
)

MAX_URL_LENGTH = 2048
ALL_EVENTS = "*"
TEST_EVENT = "webhook.test"
EVENT_TYPES = (
    "session.created",
    "session.updated",
    "session.deleted",
    "message.created",
    "message.deleted",
    "vendor.created",
    "vendor.updated",
    "vendor.deleted",
    "seller.created",
    "seller.updated",
    "seller.deleted",
    TEST_EVENT,
)
_http_url: TypeAdapter[HttpUrl] = TypeAdapter(HttpUrl)


def _webhook_url(value: str) -> str:
    """Accept an absolute http(s) URL with a host and no credentials; keep it as sent."""
    if any(ch.isspace() or ord(ch) < 0x20 or ch == "\x7f" or ch == "\\" for ch in value):
        raise ValueError("must be a URL without spaces, control characters or backslashes")
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"} or not value.lower().startswith(f"{scheme}://"):
        raise ValueError("must be an http or https URL")
    if "@" in parts.netloc:
        raise ValueError("must not carry user information")
    try:
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
        _http_url.validate_python(value)
    except (ValueError, ValidationError):
        raise ValueError("must be a valid http or https URL") from None
    if not host:
        raise ValueError("must name a host")
    return value


def _event_list(value: list[str]) -> list[str]:
    """Keep each type once, in order; `*` stands for every type and stands alone."""
    unique = list(dict.fromkeys(value))
    if ALL_EVENTS in unique and len(unique) > 1:
        raise ValueError('"*" subscribes to every event type and cannot be combined with others')
    return unique


WebhookUrl = Annotated[
    str,
    trimmed(1, MAX_URL_LENGTH),
    NoNul,
    AfterValidator(_webhook_url),
    documented(format="uri", pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s\\@]+$"),
]
EventType = Literal[
    "*",
    "session.created",
    "session.updated",
    "session.deleted",
    "message.created",
    "message.deleted",
    "vendor.created",
    "vendor.updated",
    "vendor.deleted",
    "seller.created",
    "seller.updated",
    "seller.deleted",
    "webhook.test",
]
EventTypes = Annotated[
    list[EventType],
    Field(
        min_length=1,
        max_length=len(EVENT_TYPES),
        description='Event types to deliver, or ["*"] for every type',
    ),
    AfterValidator(_event_list),
]
Description = Annotated[str, trimmed(0, 500), NoNul, NoNulText]


def _not_null(value: object) -> object:
    if value is None:
        raise ValueError("cannot be null")
    return value


class WebhookRead(ReadModel):
    id: UUID
    url: str
    events: list[str]
    description: str | None
    is_active: bool
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookRead):
    secret: str = Field(description="The signing secret, shown only in this response")


class WebhookSecret(ReadModel):
    secret: str


class WebhookCreate(InputModel):
    url: WebhookUrl
    events: EventTypes
    description: Description | None = None


class WebhookUpdate(InputModel):
    """Omitted fields are kept; `null` clears the description; re-enabling clears the reason."""

    _check_not_null = field_validator("url", "events", "is_active")(_not_null)

    url: WebhookUrl | SkipJsonSchema[None] = kept_when_omitted()
    events: EventTypes | SkipJsonSchema[None] = kept_when_omitted()
    description: Description | None = None
    is_active: bool | SkipJsonSchema[None] = kept_when_omitted()


DeliveryStatusName = Literal["pending", "retrying", "succeeded", "failed"]


class DeliveryRead(ReadModel):
    id: UUID
    event_id: str
    event_type: str
    status: DeliveryStatusName
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
