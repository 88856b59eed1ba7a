"""SQLAlchemy models, one module per aggregate. Importing this package registers every table."""

from parley.models.catalog import Seller, Vendor
from parley.models.chat import ChatSession, Media, Message
from parley.models.jobs import IdempotencyRecord, Job, JobSchedule
from parley.models.user import LoginSession, PasswordResetToken, RefreshToken, User

__all__ = [
    "ChatSession",
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
]
