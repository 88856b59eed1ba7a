"""Render every error, ours and the framework's, into the contract's envelope."""

from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from parley.api.methods import allowed_methods
from parley.core.config import get_settings
from parley.core.errors import (
    BadRequest,
    FieldError,
    ParleyError,
    PayloadTooLarge,
    Unavailable,
    UnsupportedMediaType,
    ValidationFailed,
)
from parley.db.errors import is_database_unavailable

log = structlog.get_logger("parley.errors")

DATABASE_RETRY_AFTER_S = 5

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "unavailable",
}


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


def _field_errors(errors: Any) -> list[FieldError]:
    return [
        FieldError(field=".".join(str(part) for part in e["loc"]), message=e["msg"]) for e in errors
    ]


def _validation_error(request: Request, exc: RequestValidationError) -> ParleyError:
    errors = list(exc.errors())
    if any(e["type"] == "json_invalid" for e in errors):
        return BadRequest("Malformed JSON body")
    body_errors = [e for e in errors if tuple(e["loc"][:1]) == ("body",)]
    if body_errors and not _is_json(request) and request.method in {"POST", "PUT", "PATCH"}:
        return UnsupportedMediaType("Request body must be application/json")
    if any(
        tuple(e["loc"]) == ("body",) and e["type"] in {"model_attributes_type", "dict_type"}
        for e in errors
    ):
        return ValidationFailed("Request body must be a JSON object", details=_field_errors(errors))
    return ValidationFailed(details=_field_errors(errors))


def _is_json(request: Request) -> bool:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return content_type == "application/json" or content_type.endswith("+json")


async def _on_parley_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ParleyError)
    return error_response(exc)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(_validation_error(request, exc))


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    code = _CODES.get(status, "bad_request" if status < 500 else "internal_error")
    message = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    if status == 413:
        return error_response(PayloadTooLarge())
    response = JSONResponse(envelope(status, code, message), status_code=status)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    if status == 405:
        # The framework lists only the first route matching the path; a path has several.
        response.headers["Allow"] = ", ".join(allowed_methods(request.app, request.scope))
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ParleyError, _on_parley_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
