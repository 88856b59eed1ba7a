"""Request and response bodies of the users domain."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import EmailStr, Field, StringConstraints
from pydantic.json_schema import SkipJsonSchema

from parley.core.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from parley.core.schemas import (
    InputModel,
    NoNul,
    NoNulText,
    PhoneNumber,
    ReadModel,
    kept_when_omitted,
)

Password = Annotated[str, Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)]
# Letters (any script), digits, dot, underscore and hyphen: safe to show and to put in a URL.
Username = Annotated[str, StringConstraints(pattern=r"^[\w.-]{3,50}$"), NoNul, NoNulText]
Email = Annotated[EmailStr, Field(max_length=320)]


class UserRead(ReadModel):
    id: UUID
    email: str
    username: str | None
    phone_number: str | None
    role: Literal["user", "admin"]
    is_active: bool
    email_verified: bool
    mfa_enabled: bool
    created_at: datetime
    updated_at: datetime


class UserCreate(InputModel):
    email: Email
    password: Password
    username: Username | None = None
    phone_number: PhoneNumber | None = None


class UserUpdateMe(InputModel):
    """Fields set to null are cleared (username, phone_number); omitted fields are kept."""

    email: Email | SkipJsonSchema[None] = kept_when_omitted()  # null is refused
    username: Username | None = None
    phone_number: PhoneNumber | None = None


class UserUpdateAdmin(InputModel):
    role: Literal["user", "admin"] | None = None
    is_active: bool | None = None
    username: Username | None = None
    phone_number: PhoneNumber | None = None


class PasswordConfirmation(InputModel):
    password: Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)]
