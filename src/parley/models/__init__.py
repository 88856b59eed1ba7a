"""SQLAlchemy models, one module per aggregate. Importing this package registers every table."""

from parley.models.accounts import (
    ApiKey,
    AuditEntry,
    EmailVerificationToken,
    MfaChallenge,
    RecoveryCode,
    TotpCredential,
)
from parley.models.catalog import CatalogVersion, Seller, Vendor
from parley.models.chat import ChatSession, Media, Message
from parley.models.event import Event, EventClock, EventTicket
from parley.models.jobs import IdempotencyRecord, Job, JobSchedule
from parley.models.user import LoginSession, PasswordResetToken, RefreshToken, User
from parley.models.webhook import Webhook, WebhookDelivery, WebhookDispatchPosition

__all__ = [
    "ApiKey",
    "AuditEntry",
    "CatalogVersion",
    "ChatSession",
    "EmailVerificationToken",
    "Event",
    "EventClock",
    "EventTicket",
    "IdempotencyRecord",
    "Job",
    "JobSchedule",
    "LoginSession",
    "Media",
    "Message",
    "MfaChallenge",
    "PasswordResetToken",
    "RecoveryCode",
    "RefreshToken",
    "Seller",
    "TotpCredential",
    "User",
    "Vendor",
    "Webhook",
    "WebhookDelivery",
    "WebhookDispatchPosition",
]
