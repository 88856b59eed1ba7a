"""The app's error handlers: every error, ours and the framework's, into the contract's
envelope (rendered by parley.http.errors)."""

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from parley.api.methods import allowed_methods
from parley.core.errors import (
    BadRequest,
    FieldError,
    ParleyError,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from parley.http.errors import envelope, error_response

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
