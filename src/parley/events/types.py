"""The kinds of events and how an event id is written."""

from enum import StrEnum


class EventType(StrEnum):
    SESSION_CREATED = "session.created"
    SESSION_UPDATED = "session.updated"
    SESSION_DELETED = "session.deleted"
    MESSAGE_CREATED = "message.created"
    MESSAGE_DELETED = "message.deleted"
    VENDOR_CREATED = "vendor.created"
    VENDOR_UPDATED = "vendor.updated"
    VENDOR_DELETED = "vendor.deleted"
    SELLER_CREATED = "seller.created"
    SELLER_UPDATED = "seller.updated"
    SELLER_DELETED = "seller.deleted"
    # Sent only to the webhook being tested; never in the log.
    WEBHOOK_TEST = "webhook.test"


EVENT_TYPES = frozenset(t.value for t in EventType)

# Ids are written as 20 decimal digits, zero-padded, so they compare as strings as they do as
# numbers (decision 112); any positive 64-bit id fits.
ID_DIGITS = 20
MAX_ID = 2**63 - 1


def format_id(event_id: int) -> str:
    return f"{event_id:0{ID_DIGITS}d}"


def parse_id(text: str) -> int | None:
    """The event id a client sent back (a cursor or Last-Event-ID); None when malformed."""
    if not text or len(text) > ID_DIGITS or not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if value <= MAX_ID else None
