"""Response bodies of the events domain (they document what the routes write as bytes)."""

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from parley.events.types import EventType


class EventRead(BaseModel):
    id: str = Field(
        description="Grows with commit order; 20 decimal digits, so it compares as a string",
        pattern=r"^[0-9]{20}$",
    )
    type: EventType
    created_at: datetime
    session_id: UUID
    data: dict[str, Any] = Field(
        description="The resource as its GET route returns it; {id, session_id} for *.deleted"
    )


class TicketRead(BaseModel):
    ticket: str = Field(description="Single use, for GET /events/stream?ticket=")
    expires_in: int = Field(description="Seconds the ticket stays valid")
