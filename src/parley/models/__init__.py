"""SQLAlchemy models, one module per aggregate. Importing this package registers every table."""

from parley.models.catalog import Seller, Vendor
from parley.models.chat import ChatSession, Media, Message
from parley.models.event import Event, EventClock, EventTicket
from parley.models.user import LoginSession, PasswordResetToken, RefreshToken, User

__all__ = [
    "ChatSession",
    "Event",
    "EventClock",
    "EventTicket",
    "LoginSession",
    "Media",
    "Message",
    "PasswordResetToken",
    "RefreshToken",
    "Seller",
    "User",
    "Vendor",
]
