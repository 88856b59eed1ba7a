"""Errors of the chats domain."""

from pydantic import ValidationError

from parley.core.errors import (
    FieldError,
    Forbidden,
    NotFound,
    UnsupportedMediaType,
    ValidationFailed,
)


class ChatSessionNotFound(NotFound):
    message = "Session not found"


class MessageNotFound(NotFound):
    message = "Message not found"


class NotChatSessionOwner(Forbidden):
    # Only administrators see sessions they do not own; reading does not make them its author.
    message = "Only the session's owner can change it"


class UnsupportedMessageBody(UnsupportedMediaType):
    message = "Send application/json for a text message or multipart/form-data for a file"


def invalid_body(exc: ValidationError) -> ValidationFailed:
    """Turn a body's validation errors into the contract's 422, naming fields, not values."""
    return ValidationFailed(
        details=[
            FieldError(".".join(["body", *(str(part) for part in error["loc"])]), error["msg"])
            for error in exc.errors()
        ]
    )
