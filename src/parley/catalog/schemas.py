"""Request and response bodies of the catalog domain: vendors and sellers."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import (
    AliasChoices,
    Field,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema

from parley.chats.schemas import VendorRead as VendorRead  # defined with the chat session
from parley.core.schemas import (
    InputModel,
    NoNul,
    NoNulText,
    NotBlankText,
    PhoneNumber,
    ReadModel,
    WebUrl,
    kept_when_omitted,
    trimmed,
)

VendorName = Annotated[str, trimmed(1, 200), NoNul, NoNulText, NotBlankText]
SellerName = Annotated[str, trimmed(1, 100), NoNul, NoNulText, NotBlankText]
Product = Annotated[str, trimmed(1, 200), NoNul, NoNulText, NotBlankText]
LongText = Annotated[str, trimmed(1, 4000), NoNul, NoNulText, NotBlankText]
ImageUrl = WebUrl

# The models call it chat_session_id; the contract calls it session_id.
SessionId = Annotated[UUID, Field(validation_alias=AliasChoices("chat_session_id", "session_id"))]


def _not_null(value: object) -> object:
    # Omitted fields are kept; a field that may not be empty cannot be cleared with null.
    if value is None:
        raise ValueError("cannot be null")
    return value


class VendorCreate(InputModel):
    name: VendorName
    phone_number: PhoneNumber


class VendorUpdate(InputModel):
    """Omitted fields are kept."""

    _check_not_null = field_validator("name", "phone_number")(_not_null)

    name: VendorName | SkipJsonSchema[None] = kept_when_omitted()
    phone_number: PhoneNumber | SkipJsonSchema[None] = kept_when_omitted()


class SellerRead(ReadModel):
    id: UUID
    session_id: SessionId
    name: str
    product: str
    description: str | None
    benefits: str | None
    image_url: str | None
    created_at: datetime
    updated_at: datetime


class SellerCreate(InputModel):
    name: SellerName
    product: Product
    description: LongText | None = None
    benefits: LongText | None = None
    image_url: ImageUrl | None = None


class SellerUpdate(InputModel):
    """Any create field; omitted fields are kept, `null` clears description, benefits, image_url."""

    _check_not_null = field_validator("name", "product")(_not_null)

    name: SellerName | SkipJsonSchema[None] = kept_when_omitted()
    product: Product | SkipJsonSchema[None] = kept_when_omitted()
    description: LongText | None = None
    benefits: LongText | None = None
    image_url: ImageUrl | None = None
