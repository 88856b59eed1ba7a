"""OpenAPI: error responses in the envelope for routers to declare, app-wide defaults for the
errors any route can answer, and the bearer scheme.

    @router.get("/sessions/{chat_session_id}", responses=errors(404))
"""

import json
from typing import Any

from fastapi import FastAPI

from parley.core.schemas import ErrorEnvelope

API_PREFIX = "/api/v1"
ERROR_SCHEMA_REF = {"$ref": "#/components/schemas/ErrorEnvelope"}
BEARER_SCHEME = "BearerToken"
_METHODS = frozenset({"get", "post", "put", "patch", "delete"})
# The OAuth2 form endpoint answers its own errors in the RFC 6749 shape; errors raised before
# it runs (rate limit, body limit, validation) are still envelopes.
OAUTH2_TOKEN_PATH = "/api/v1/auth/token"  # noqa: S105 - a path, not a secret
OAUTH2_ERROR_SCHEMA = {
    "type": "object",
    "title": "OAuth2Error",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
}

_RETRY_AFTER = {
    "Retry-After": {"description": "Whole seconds to wait", "schema": {"type": "integer"}}
}
_WWW_AUTHENTICATE = {"WWW-Authenticate": {"schema": {"type": "string", "enum": ["Bearer"]}}}
_ERRORS: dict[int, tuple[str, dict[str, Any] | None]] = {
    400: ("Malformed request (bad JSON, tampered cursor)", None),
    401: ("Missing, invalid, expired or revoked access token", _WWW_AUTHENTICATE),
    403: ("Not allowed (administrators only, or account disabled)", None),
    404: ("Not found, or not yours", None),
    405: ("Method not allowed", None),
    409: ("Conflicts with an existing resource", None),
    413: ("Request body too large", None),
    415: ("Unsupported media type", None),
    422: ("Validation failed; details name each field", None),
    429: ("Too many requests", _RETRY_AFTER),
    500: ("Internal error", None),
    503: ("Temporarily unavailable (database or a dependency is down)", _RETRY_AFTER),
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Return a `responses` mapping documenting these error statuses with the envelope."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        description, headers = _ERRORS[status]
        responses[status] = {"model": ErrorEnvelope, "description": description}
        if headers:
            responses[status]["headers"] = headers
    return responses


def install_openapi(app: FastAPI) -> None:
    """Complete the generated schema with the app-wide error responses and the bearer scheme."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            complete(generate())
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def complete(schema: dict[str, Any]) -> None:
    """Add the defaults to a generated schema, in place."""
    components = schema.setdefault("components", {})
    _add_error_schemas(components.setdefault("schemas", {}))
    schemes = components.setdefault("securitySchemes", {})
    schemes[BEARER_SCHEME] = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if method in _METHODS:
                _complete_operation(path, operation)
    _drop_unused_validation_schemas(schema)


def _complete_operation(path: str, operation: dict[str, Any]) -> None:
    if path == OAUTH2_TOKEN_PATH:
        _document_oauth2_errors(operation.setdefault("responses", {}))
    responses: dict[str, Any] = operation.setdefault("responses", {})
    parameters = operation.get("parameters", [])
    wanted = {500}
    if path.startswith(API_PREFIX):
        wanted |= {429, 503}
    if "requestBody" in operation:
        wanted |= {400, 413, 415, 422}
    if parameters:
        wanted.add(422)
    if any(p.get("in") == "path" for p in parameters):
        wanted.add(404)
    if any(p.get("name") == "cursor" for p in parameters):
        wanted.add(400)
    security = operation.get("security")
    if security:
        wanted.add(401)
        if not any(BEARER_SCHEME in requirement for requirement in security):
            security.append({BEARER_SCHEME: []})
    for status in sorted(wanted):
        _ensure(responses, status)


def _ensure(responses: dict[str, Any], status: int) -> None:
    description, headers = _ERRORS[status]
    existing = responses.setdefault(str(status), {"description": description})
    content = existing.get("content", {}).get("application/json", {})
    # A route's own error shape stands (the token endpoint speaks RFC 6749), except FastAPI's
    # default validation shape, which this service never sends.
    if not content or content.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
        existing["content"] = {"application/json": {"schema": ERROR_SCHEMA_REF}}
    if headers:
        existing.setdefault("headers", headers)


def _document_oauth2_errors(responses: dict[str, Any]) -> None:
    either = {"anyOf": [OAUTH2_ERROR_SCHEMA, ERROR_SCHEMA_REF]}
    for status in (400, 401, 403, 429):
        description, headers = _ERRORS[status]
        responses[str(status)] = {
            "description": description,
            "content": {"application/json": {"schema": either}},
            **({"headers": headers} if headers else {}),
        }


def _add_error_schemas(schemas: dict[str, Any]) -> None:
    generated = ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in generated.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    schemas.setdefault("ErrorEnvelope", generated)


def _drop_unused_validation_schemas(schema: dict[str, Any]) -> None:
    """FastAPI's own 422 shapes are replaced by the envelope; keep them only if still used."""
    schemas = schema["components"]["schemas"]
    for name in ("HTTPValidationError", "ValidationError"):  # the first refers to the second
        if name in schemas:
            rest = {**schema, "components": {**schema["components"], "schemas": {**schemas}}}
            del rest["components"]["schemas"][name]
            if f'"#/components/schemas/{name}"' not in json.dumps(rest):
                del schemas[name]
