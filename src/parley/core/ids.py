"""Time-ordered ids: new rows sort after old ones, which keeps indexes compact."""

from uuid import UUID

import uuid_utils


def new_id() -> UUID:
    """Return a new UUIDv7."""
    return UUID(bytes=uuid_utils.uuid7().bytes)
