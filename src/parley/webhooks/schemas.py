"""Request and response bodies of the webhooks domain."""

from datetime import datetime
from typing import Annotated, Literal, get_args
from uuid import UUID

from pydantic import AfterValidator, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from parley.core.schemas import (
    InputModel,
    NoNul,
    NoNulText,
    ReadModel,
    WebUrl,
    kept_when_omitted,
    trimmed,
)
from parley.events.types import EVENT_TYPES, EventType

ALL_EVENTS = "*"
TEST_EVENT = EventType.WEBHOOK_TEST.value


def _event_list(value: list[str]) -> list[str]:
    """Keep each type once, in order; `*` stands for every type and stands alone."""
    unique = list(dict.fromkeys(value))
    if ALL_EVENTS in unique and len(unique) > 1:
        raise ValueError('"*" subscribes to every event type and cannot be combined with others')
    return unique


WebhookUrl = WebUrl
# Spelled out for the OpenAPI's enum; the event log's types are the one list it must match.
SubscribedType = Literal[
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
assert set(get_args(SubscribedType)) == {ALL_EVENTS, *EVENT_TYPES}, "event types drifted"
EventTypes = Annotated[
    list[SubscribedType],
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
