"""Webhooks: where a user's events are POSTed, and the log of each delivery."""

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column

from parley.core.clock import utcnow
from parley.db.base import Base, IdMixin, TimestampMixin

# A delivery's body is an event as JSON: a message's text can outgrow MariaDB's 64 KiB TEXT.
PAYLOAD_TYPE = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Webhook(IdMixin, TimestampMixin, Base):
    __tablename__ = "webhooks"
    __table_args__ = (Index("ix_webhooks_user_id_id", "user_id", "id"),)

    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[list[str]] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(String(500))
    is_active: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    # Signing secrets, encrypted (parley.webhooks.secrets); the previous one signs beside the
    # current one until previous_secret_expires_at.
    secret: Mapped[str] = mapped_column(String(255))
    previous_secret: Mapped[str | None] = mapped_column(String(255))
    previous_secret_expires_at: Mapped[datetime | None]
    # When its attempts began to fail without a success since: five days of it disable it.
    failing_since: Mapped[datetime | None]


class WebhookDelivery(IdMixin, Base):
    """One event for one webhook, attempted until a 2xx or the retry schedule runs out."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # At most one delivery of an event to a webhook, however often the dispatcher runs.
        UniqueConstraint("webhook_id", "event_id"),
        # A webhook's deliveries newest first, all of them or those of one status.
        Index("ix_webhook_deliveries_webhook_id_id", "webhook_id", "id"),
        Index("ix_webhook_deliveries_webhook_id_status_id", "webhook_id", "status", "id"),
    )

    webhook_id: Mapped[UUID] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    # The exact body every attempt sends: the event as JSON, kept beyond the event's retention.
    payload: Mapped[str] = mapped_column(PAYLOAD_TYPE)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    next_attempt_at: Mapped[datetime | None]
    # Set while an attempt is in flight: a job run again after a crash may take over after it.
    in_flight_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    delivered_at: Mapped[datetime | None]


class WebhookDispatchPosition(Base):
    """How far the dispatcher has turned the event log into deliveries: one row, id 1."""

    __tablename__ = "webhook_dispatch_position"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # The last event id dispatched: every event up to it has its deliveries.
    last_event_id: Mapped[int] = mapped_column(BigInteger, default=0)
