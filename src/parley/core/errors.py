"""The domain error tree. Each error carries its HTTP status and contract code; one handler
renders them all into the envelope.

    ParleyError (500 internal_error)
    ├── BadRequest (400 bad_request)
    ├── Unauthorized (401 unauthorized)
    ├── Forbidden (403 forbidden)
    │   └── AccountDisabled (403 account_disabled)
    ├── NotFound (404 not_found)
    ├── Conflict (409 conflict)
    ├── PayloadTooLarge (413 payload_too_large)
    ├── UnsupportedMediaType (415 unsupported_media_type)
    ├── ValidationFailed (422 validation_error)
    ├── RateLimited (429 rate_limited, Retry-After)
    └── Unavailable (503 unavailable, Retry-After)
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str


class ParleyError(Exception):
    status: int = 500
    code: str = "internal_error"
    message: str = "Internal server error"

    def __init__(
        self,
        message: str | None = None,
        *,
        details: list[FieldError] | None = None,
        retry_after: int | None = None,
    ) -> None:
        self.message = message or type(self).message
        self.details = details
        self.retry_after = retry_after
        super().__init__(self.message)


class BadRequest(ParleyError):
    status, code, message = 400, "bad_request", "Bad request"


class Unauthorized(ParleyError):
    status, code, message = 401, "unauthorized", "Not authenticated"


class Forbidden(ParleyError):
    status, code, message = 403, "forbidden", "Not allowed"


class AccountDisabled(Forbidden):
    code, message = "account_disabled", "This account is disabled"


class NotFound(ParleyError):
    status, code, message = 404, "not_found", "Not found"


class Conflict(ParleyError):
    status, code, message = 409, "conflict", "Conflict"


class PayloadTooLarge(ParleyError):
    status, code, message = 413, "payload_too_large", "Request body is too large"


class UnsupportedMediaType(ParleyError):
    status, code, message = 415, "unsupported_media_type", "Unsupported media type"


class ValidationFailed(ParleyError):
    status, code, message = 422, "validation_error", "Validation failed"


class RateLimited(ParleyError):
    status, code, message = 429, "rate_limited", "Too many requests"


class Unavailable(ParleyError):
    status, code, message = 503, "unavailable", "Service temporarily unavailable"
