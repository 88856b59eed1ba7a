"""Schema building blocks shared by every domain: strict inputs, the envelope, pages, and the
field types the contract names (trimmed text, E.164 phone numbers, http(s) URLs)."""

import re
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Literal, TypeVar
from urllib.parse import urlsplit

import phonenumbers
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    HttpUrl,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

T = TypeVar("T")


class InputModel(BaseModel):
    """A request body: unknown fields are refused, so nothing is mass-assigned."""

    model_config = ConfigDict(extra="forbid")


class ReadModel(BaseModel):
    """A response body, read from model attributes."""

    model_config = ConfigDict(from_attributes=True)


class Envelope(BaseModel, Generic[T]):
    status: Literal["success"] = "success"
    message: str
    data: T


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


class ErrorDetail(BaseModel):
    field: str
    message: str


class ErrorInfo(BaseModel):
    code: str
    details: list[ErrorDetail] | None = None


class ErrorEnvelope(BaseModel):
    status: Literal["error"] = "error"
    message: str
    error: ErrorInfo


@dataclass(frozen=True, slots=True)
class Documented:
    """Publishes in a field's JSON schema a rule its validator enforces (pattern, format)."""

    extra: tuple[tuple[str, str], ...]

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        for key, value in self.extra:
            json_schema.setdefault(key, value)  # a stricter pattern of the field's own stands
        return json_schema


def documented(**extra: str) -> Documented:
    return Documented(tuple(extra.items()))


def _no_nul(value: str) -> str:
    # PostgreSQL cannot store NUL in text, and no client means to send one.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


NO_NUL_PATTERN = r"^[^\u0000]*$"
NoNul = AfterValidator(_no_nul)
NoNulText = documented(pattern=NO_NUL_PATTERN)


@dataclass(frozen=True, slots=True)
class _NotBlank:
    """Text is trimmed before its length is counted, so text that must not be empty must not
    be blank either; published with `not`, as the field's `pattern` already says "no NUL"."""

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["not"] = {"pattern": r"^\s*$"}
        return json_schema


NotBlankText = _NotBlank()


MAX_URL_LENGTH = 2048
_URL_SCHEMES = frozenset({"http", "https"})
_http_url: TypeAdapter[HttpUrl] = TypeAdapter(HttpUrl)


def web_url(value: str) -> str:
    """Accept an absolute http(s) URL with a host and no user information; keep it exactly as
    sent (an image URL is never fetched; a webhook URL is checked again where it resolves)."""
    if any(ch.isspace() or ord(ch) < 0x20 or ch == "\x7f" or ch == "\\" for ch in value):
        raise ValueError("must be a URL without spaces, control characters or backslashes")
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme not in _URL_SCHEMES or not value.lower().startswith(f"{scheme}://"):
        raise ValueError("must be an http or https URL")
    if "@" in parts.netloc:
        raise ValueError("must not carry user information or credentials")
    try:
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
        _http_url.validate_python(value)
    except (ValueError, ValidationError):
        raise ValueError("must be a valid http or https URL") from None
    if not host:
        raise ValueError("must name a host")
    return value


def trimmed(min_length: int, max_length: int) -> StringConstraints:
    """Trim surrounding whitespace, then count the length in characters.

    Use as `Annotated[str, trimmed(1, 200), NoNul]`.
    """
    return StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length)


SearchQuery = Annotated[str, trimmed(0, 200), NoNul, NoNulText]


_PHONE_TEXT = re.compile(r"\+[0-9][0-9 ().-]*")


def _e164(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    text = value.strip()
    # Digits and the usual separators only: libphonenumber would drop trailing junk ("+1…*").
    if not _PHONE_TEXT.fullmatch(text) or len(text) > 32:
        raise ValueError("must be an E.164 phone number such as +14155552671")
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise ValueError("must be an E.164 phone number such as +14155552671") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


E164_PATTERN = r"^\+[1-9][0-9]{1,14}$"
# A pattern cannot say which numbers a numbering plan assigns; the format names that rule, as
# `email` does for addresses (decision 078).
PHONE_FORMAT = "e164"
PhoneNumber = Annotated[
    str,
    BeforeValidator(_e164),
    documented(
        format=PHONE_FORMAT,
        pattern=E164_PATTERN,
        description=(
            "An E.164 phone number valid in its country's numbering plan, e.g. +14155552671"
        ),
    ),
]


def _without_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def kept_when_omitted() -> Any:
    """The default of a PATCH field that is kept when omitted and cannot be cleared: type it
    `T | SkipJsonSchema[None]` and refuse null in a validator; the published schema then
    offers neither null nor a null default (decision 078)."""
    return Field(default=None, json_schema_extra=_without_default)


# An http(s) URL of at most 2048 characters, kept as sent (see web_url).
WebUrl = Annotated[
    str,
    trimmed(1, MAX_URL_LENGTH),
    NoNul,
    AfterValidator(web_url),
    documented(format="uri", pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s\\]+$"),
]
