"""OpenAPI: every operation documents each status it can answer, in the envelope.

Each operation's errors are derived from what it depends on, so they cannot drift from the
code: a dependency declares what it may answer (`@answers(401, 503)` on the bearer check), a
JSON body brings 400/413/415/422, parameters 422 (and 404 for a path id), every /api/v1 route
429 (the request budget), every route 500. A route adds only what its own use case raises:

    @router.patch("/me", responses=errors(409))
"""

import json
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from parley.core.schemas import ErrorEnvelope

API_PREFIX = "/api/v1"
ERROR_SCHEMA_REF = {"$ref": "#/components/schemas/ErrorEnvelope"}
OAUTH2_ERROR_SCHEMA_REF = {"$ref": "#/components/schemas/OAuth2Error"}
BEARER_SCHEME = "BearerToken"
# The OAuth2 form endpoint answers its own errors in the RFC 6749 shape (see its route).
OAUTH2_TOKEN_PATH = "/api/v1/auth/token"  # noqa: S105 - a path, not a secret
OAUTH2_ERROR_SCHEMA = {
    "type": "object",
    "title": "OAuth2Error",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "string",
            "enum": [
                "invalid_request",
                "invalid_client",
                "invalid_grant",
                "unsupported_grant_type",
                "insufficient_scope",
            ],
        },
        "error_description": {"type": "string"},
    },
}

_RETRY_AFTER = {
    "Retry-After": {"description": "Whole seconds to wait", "schema": {"type": "integer"}}
}
_WWW_AUTHENTICATE = {"WWW-Authenticate": {"schema": {"type": "string", "enum": ["Bearer"]}}}
_ERRORS: dict[int, tuple[str, dict[str, Any] | None]] = {
    400: ("Malformed request (bad JSON, tampered or foreign cursor)", None),
    401: ("Missing, invalid, expired or revoked credentials", _WWW_AUTHENTICATE),
    403: ("Not allowed (administrators only, not the owner, or account disabled)", None),
    404: ("Not found, or not yours", None),
    409: ("Conflicts with an existing resource", None),
    413: ("Request body too large", None),
    415: ("Unsupported media type", None),
    422: ("Validation failed; details name each field", None),
    429: ("Too many requests", _RETRY_AFTER),
    500: ("Internal error", None),
    503: ("Temporarily unavailable (database or a dependency is down)", _RETRY_AFTER),
}
_BODY_ERRORS = frozenset({400, 413, 415, 422})
# Every POST under /api/v1 except /auth/* takes an Idempotency-Key (parley.idempotency).
IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Makes a retry safe: the first answer (status below 500) is stored for "
        "IDEMPOTENCY_TTL and replayed, with `Idempotent-Replayed: true`, to a repeat with the "
        "same key, path and body. The same key with another path or body: 422 "
        "`idempotency_key_reused`; while the first is running: 409 `idempotency_in_progress`."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
}
_HTTP_METHODS = frozenset({"get", "post", "put", "patch", "delete"})

Dependency = TypeVar("Dependency", bound=Callable[..., Any])
_DEPENDENCY_ERRORS: dict[Callable[..., Any], frozenset[int]] = {}


def answers(*statuses: int) -> Callable[[Dependency], Dependency]:
    """Declare the error statuses a dependency can answer; every operation that depends on
    it, directly or not, documents them."""

    def register(dependency: Dependency) -> Dependency:
        _DEPENDENCY_ERRORS[dependency] = frozenset(statuses)
        return dependency

    return register


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Return a `responses` mapping documenting these error statuses with the envelope."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        description, headers = _ERRORS[status]
        responses[status] = {"model": ErrorEnvelope, "description": description}
        if headers:
            responses[status]["headers"] = headers
    return responses


def oauth2_errors(*statuses: int, or_envelope: tuple[int, ...] = ()) -> dict[int | str, Any]:
    """Return a `responses` mapping for errors answered in the RFC 6749 shape; those also
    answered by the middleware in the envelope (a 429) may be either."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in (*statuses, *or_envelope):
        description, headers = _ERRORS[status]
        schema: dict[str, Any] = OAUTH2_ERROR_SCHEMA_REF
        if status in or_envelope:
            schema = {"anyOf": [OAUTH2_ERROR_SCHEMA_REF, ERROR_SCHEMA_REF]}
        responses[status] = {
            "description": description,
            "content": {"application/json": {"schema": schema}},
            **({"headers": headers} if headers else {}),
        }
    return responses


def created_links(**links: tuple[str, str, dict[str, str]]) -> dict[int | str, dict[str, Any]]:
    """Document the 201 of a create with OpenAPI links to the operations that address what it
    created, as `Name=(method, path under /api/v1, {parameter: runtime expression})`."""
    return {
        201: {
            "links": {
                name: {
                    "operationRef": f"#/paths/{_json_pointer(API_PREFIX + path)}/{method}",
                    "parameters": parameters,
                }
                for name, (method, path, parameters) in links.items()
            }
        }
    }


def _json_pointer(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def install_openapi(app: FastAPI) -> None:
    """Complete the generated schema with each operation's errors and the bearer scheme."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            complete(generate(), derived_errors(app))
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def derived_errors(app: FastAPI) -> dict[tuple[str, str], set[int]]:
    """The error statuses each (path, method) can answer by what its route depends on."""
    derived: dict[tuple[str, str], set[int]] = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not context.path_format:
            continue
        statuses = {500}
        if context.path_format.startswith(API_PREFIX):
            statuses.add(429)  # the request budget (see parley.middleware.rate_limit)
        if route.body_field is not None:
            statuses |= _BODY_ERRORS
        # The route as included: with the dependencies its include_router added.
        for dependant in _dependants(context.dependant):
            if dependant.call is not None:
                statuses |= _DEPENDENCY_ERRORS.get(dependant.call, frozenset())
        for method in context.methods or ():
            derived[context.path_format, method.lower()] = statuses
    return derived


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def complete(schema: dict[str, Any], derived: dict[tuple[str, str], set[int]]) -> None:
    """Add the derived errors and the bearer scheme to a generated schema, in place."""
    components = schema.setdefault("components", {})
    _add_error_schemas(components.setdefault("schemas", {}))
    schemes = components.setdefault("securitySchemes", {})
    schemes[BEARER_SCHEME] = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if method in _HTTP_METHODS:
                if _idempotent(path, method):
                    _take_idempotency_key(operation)
                _complete_operation(operation, derived.get((path, method), {500}))
            if method == "get" and path.startswith(API_PREFIX):
                _document_conditional(operation)
    _drop_unused_validation_schemas(schema)


def _idempotent(path: str, method: str) -> bool:
    return (
        method == "post"
        and path.startswith(API_PREFIX + "/")
        and not path.startswith(API_PREFIX + "/auth/")
    )


def _take_idempotency_key(operation: dict[str, Any]) -> None:
    """Document the header and its refusals: 422 (bad or reused key) and 409 (in progress)."""
    operation.setdefault("parameters", []).append(IDEMPOTENCY_PARAMETER)
    responses = operation.setdefault("responses", {})
    _ensure(responses, 409)
    responses["409"].setdefault("headers", dict(_RETRY_AFTER))
    _ensure(responses, 422)


def _complete_operation(operation: dict[str, Any], derived: set[int]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    parameters = operation.get("parameters", [])
    wanted = set(derived)
    if parameters:
        wanted.add(422)
    if any(p.get("in") == "path" for p in parameters):
        wanted.add(404)
    if "requestBody" in operation:
        wanted.add(413)
    # FastAPI documents a 422 it never sends in this shape; it is ours only when derived.
    if "422" in responses and 422 not in wanted and not _is_ours(responses["422"]):
        del responses["422"]
    security = operation.get("security")
    if security and not any(BEARER_SCHEME in requirement for requirement in security):
        security.append({BEARER_SCHEME: []})
    for status in sorted(wanted):
        _ensure(responses, status)


def _document_conditional(operation: dict[str, Any]) -> None:
    """A JSON read carries an `ETag` and answers a matching `If-None-Match` with 304 (see
    parley.middleware.conditional)."""
    ok = operation.get("responses", {}).get("200", {})
    if "application/json" not in ok.get("content", {}):
        return
    ok.setdefault("headers", {})["ETag"] = {
        "description": "A weak tag of this JSON body; send it back in `If-None-Match`",
        "schema": {"type": "string"},
    }
    operation.setdefault("parameters", []).append(
        {
            "name": "If-None-Match",
            "in": "header",
            "required": False,
            "description": "The `ETag` of a copy the client holds: 304 when it is still current",
            "schema": {"type": "string"},
        }
    )
    operation["responses"]["304"] = {
        "description": "Not modified: the copy named by `If-None-Match` is current",
        "headers": {"ETag": {"schema": {"type": "string"}}},
    }


def _is_ours(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return not schema.get("$ref", "").endswith("/HTTPValidationError")


def _ensure(responses: dict[str, Any], status: int) -> None:
    description, headers = _ERRORS[status]
    existing = responses.setdefault(str(status), {"description": description})
    if existing.get("description") in {None, "", "Successful Response"}:
        existing["description"] = description
    # A route's own error shape stands (the token endpoint speaks RFC 6749), except FastAPI's
    # default validation shape, which this service never sends.
    if not existing.get("content") or not _is_ours(existing):
        existing["content"] = {"application/json": {"schema": ERROR_SCHEMA_REF}}
    if headers:
        existing.setdefault("headers", headers)


def _add_error_schemas(schemas: dict[str, Any]) -> None:
    generated = ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in generated.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    schemas.setdefault("ErrorEnvelope", generated)
    schemas.setdefault("OAuth2Error", OAUTH2_ERROR_SCHEMA)


def _drop_unused_validation_schemas(schema: dict[str, Any]) -> None:
    """FastAPI's own 422 shapes are replaced by the envelope; keep them only if still used."""
    schemas = schema["components"]["schemas"]
    for name in ("HTTPValidationError", "ValidationError"):  # the first refers to the second
        if name in schemas:
            rest = {**schema, "components": {**schema["components"], "schemas": {**schemas}}}
            del rest["components"]["schemas"][name]
            if f'"#/components/schemas/{name}"' not in json.dumps(rest):
                del schemas[name]
