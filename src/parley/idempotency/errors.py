"""The refusals of an Idempotency-Key."""

from parley.core.errors import Conflict, ValidationFailed

# A repeat that arrives while the first request runs may try again this soon.
IN_PROGRESS_RETRY_AFTER_S = 1


class InvalidIdempotencyKey(ValidationFailed):
    message = "Idempotency-Key must be 1-255 printable ASCII characters"


class IdempotencyKeyReused(ValidationFailed):
    code = "idempotency_key_reused"
    message = "This Idempotency-Key was used with another request (path or body)"


class IdempotencyInProgress(Conflict):
    code = "idempotency_in_progress"
    message = "A request with this Idempotency-Key is still running"
