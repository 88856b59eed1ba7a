"""API docs served offline, and an OpenAPI that documents the envelope and the bearer scheme."""

import base64
import hashlib
import re
from typing import Any

import httpx
import pytest

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    schema: dict[str, Any] = response.json()
    return schema


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_load_every_asset_from_the_service_itself(
    client: httpx.AsyncClient, page: str
) -> None:
    response = await client.get(page)

    assert response.status_code == 200
    html = response.text
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", html), "no CDN or external URL"
    assets = re.findall(r"(?:src|href)=\"(/[^\"]+)\"", html)
    assert any(a.endswith(".js") for a in assets)
    for asset in assets:
        fetched = await client.get(asset)
        assert fetched.status_code == 200, asset
        assert len(fetched.content) > 0


@pytest.mark.parametrize("page", ["/docs", "/redoc", "/docs/oauth2-redirect"])
async def test_docs_pages_allow_only_their_own_scripts(
    client: httpx.AsyncClient, page: str
) -> None:
    response = await client.get(page)

    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy.split("script-src", 1)[1].split(";", 1)[0]
    for script in re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL):
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    assert response.headers["x-frame-options"] == "DENY"


async def test_every_api_operation_documents_its_errors_in_the_envelope(
    openapi: dict[str, Any],
) -> None:
    api = [(p, m, op) for p, m, op in operations(openapi) if p.startswith("/api/v1/")]
    assert len(api) > 20
    for path, method, op in api:
        for status in ("429", "500", "503"):
            assert status in op["responses"], (method, path, status)
        # The token form answers a malformed body with RFC 6749's 400 invalid_request.
        if "requestBody" in op and path != "/api/v1/auth/token":
            for status in ("413", "415", "422"):
                assert status in op["responses"], (method, path, status)
        for status, response in op["responses"].items():
            if status.startswith(("4", "5")) and path != "/api/v1/auth/token":
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}, (path, status)
    too_many = openapi["paths"]["/api/v1/sessions"]["get"]["responses"]["429"]
    assert "Retry-After" in too_many["headers"]
    assert "HTTPValidationError" not in openapi["components"]["schemas"]


async def test_protected_operations_document_401_and_the_bearer_scheme(
    openapi: dict[str, Any],
) -> None:
    schemes = openapi["components"]["securitySchemes"]
    assert schemes["BearerToken"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    me = openapi["paths"]["/api/v1/users/me"]["get"]
    assert {"BearerToken": []} in me["security"]
    assert "401" in me["responses"]
    register = openapi["paths"]["/api/v1/auth/register"]["post"]
    assert "security" not in register


async def test_operations_endpoints_are_outside_the_api_prefix(openapi: dict[str, Any]) -> None:
    assert {"/health/live", "/health/ready", "/metrics"} <= set(openapi["paths"])
    assert "503" in openapi["paths"]["/health/ready"]["get"]["responses"]
