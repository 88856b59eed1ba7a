"""Request and response bodies of API keys."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, StringConstraints

from parley.core.schemas import InputModel, NoNul, NoNulText, ReadModel

Scope = Literal["read", "write"]


class ApiKeyCreate(InputModel):
    name: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
        NoNul,
        NoNulText,
    ]
    scope: Scope = Field(description="`read`: GET and HEAD only; `write`: every method")
    expires_in_days: Annotated[int, Field(ge=1, le=3650)] | None = Field(
        default=None, description="Days until the key stops working; none: it never expires"
    )


class ApiKeyRead(ReadModel):
    id: UUID
    name: str
    prefix: str
    scope: Scope
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The key itself, shown only in this answer")
