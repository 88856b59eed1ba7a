"""SQLAlchemy models, one module per aggregate. Importing this package registers every table."""

from parley.models.catalog import Seller, Vendor
from parley.models.chat import ChatSession, Media, Message
from parley.models.event import Event, EventClock
from parley.models.jobs import IdempotencyRecord, Job, JobSchedule
from parley.models.user import LoginSession, PasswordResetToken, RefreshToken, User
from parley.models.webhook import Webhook, WebhookDelivery, WebhookDispatchPosition

__all__ = [
    "ChatSession",
    "Event",
    "EventClock",
    "IdempotencyRecord",
    "Job",
    "JobSchedule",
    "LoginSession",
    "Media",
    "Message",
    "PasswordResetToken",
    "RefreshToken",
    "Seller",
    "User",
    "Vendor",
    "Webhook",
    "WebhookDelivery",
    "WebhookDispatchPosition",
]
