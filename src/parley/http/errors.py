"""Render a `ParleyError`, or an exception nobody caught, as the contract's error envelope.

The edge (parley.middleware, parley.idempotency.edge) refuses with these before the app runs;
the app's handlers (parley.api.errors) answer with them after it raised.
"""

from typing import Any

import structlog
from fastapi.responses import JSONResponse

from parley.core.config import get_settings
from parley.core.errors import ParleyError, Unavailable
from parley.db.errors import is_database_unavailable

log = structlog.get_logger("parley.errors")

DATABASE_RETRY_AFTER_S = 5


def envelope(status: int, code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"status": "error", "message": message, "error": {"code": code, "details": details}}


def error_response(error: ParleyError) -> JSONResponse:
    details = (
        [{"field": d.field, "message": d.message} for d in error.details]
        if error.details is not None
        else None
    )
    headers: dict[str, str] = {}
    if error.retry_after is not None:
        headers["Retry-After"] = str(max(1, int(error.retry_after)))
    if error.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(
        envelope(error.status, error.code, error.message, details),
        status_code=error.status,
        headers=headers,
    )


def internal_error_response(exc: BaseException, *, development: bool | None = None) -> JSONResponse:
    """A 500 (or 503 when the database is away) that shows internals only in development."""
    if is_database_unavailable(exc):
        log.warning("database_unavailable", error=type(exc).__name__)
        return error_response(Unavailable(retry_after=DATABASE_RETRY_AFTER_S))
    log.error("unhandled_error", exc_info=exc)
    message = "Internal server error"
    if get_settings().is_development if development is None else development:
        message = f"{message}: {type(exc).__name__}: {exc}"
    return JSONResponse(envelope(500, "internal_error", message), status_code=500)
