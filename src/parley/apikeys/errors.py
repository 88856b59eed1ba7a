"""Errors of the API keys domain."""

from parley.core.errors import Conflict, Forbidden, NotFound, Unauthorized


class InvalidApiKey(Unauthorized):
    message = "Invalid, revoked or expired API key"


class InsufficientScope(Forbidden):
    code, message = "insufficient_scope", "This API key may not do this"


class ApiKeyNotFound(NotFound):
    message = "API key not found"


class TooManyApiKeys(Conflict):
    message = "At most 20 live API keys per user; revoke one first"
