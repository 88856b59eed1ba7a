"""Errors of the events domain."""

from parley.core.errors import BadRequest, FieldError, Unauthorized, ValidationFailed


class MalformedEventCursor(BadRequest):
    message = "Malformed cursor: expected an event id"


class MalformedLastEventId(BadRequest):
    message = "Malformed Last-Event-ID: expected an event id"


class InvalidTicket(Unauthorized):
    message = "Invalid, expired or used ticket"


class UnknownEventTypes(ValidationFailed):
    message = "Unknown event type"

    def __init__(self, unknown: list[str]) -> None:
        # The names are ours to list, not the client's to echo.
        super().__init__(
            details=[FieldError("query.types", f"unknown type ({len(unknown)} given)")]
        )
